//! The world model, built up from small pieces like nanoGPT: attention ->
//! MLP -> block -> model, plus two heads on top: the action head (event
//! class and a pointer into the program's lines) and the state-delta head
//! (next-byte log-probabilities over the target region: a byte from the
//! vocabulary or one copied from earlier in the example).
//!
//! - `core`: attention, MLP and block, as nanoGPT has them;
//! - `action`: the action head;
//! - `copy`: the state-delta head and the sources it mixes;
//! - `loss`: what training minimises;
//! - `batch`: the tensors collation prepares;
//! - `cache`: incremental decoding (keys and values kept per layer);
//! - `checkpoint`: a model with its variables, saved and loaded.

mod action;
mod batch;
mod cache;
mod checkpoint;
mod copy;
mod core;
mod loss;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn};
use thiserror::Error;

pub use batch::{Batch, Examples, Programs, Targets};
pub use cache::Cache;
pub use checkpoint::Learner;
pub use loss::Losses;

use crate::encode::{DEPTHS, EVENTS, LINE_IDS, LINE_REL_VOCAB, VOCAB};
use crate::flow::FLOW_VOCAB;
use crate::window::Window;
use core::{Block, Layout, rotary};

/// The model's shape; saved with every checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Token vocabulary: 256 bytes plus specials. Default: `VOCAB`.
    pub vocab: i64,
    /// Width of the residual stream. Default: 96.
    pub n_embd: i64,
    /// Attention heads per block. Default: 2 (heads of 48: libtorch's CPU
    /// attention is a third faster than with 4 heads of 24).
    pub n_head: i64,
    /// Transformer blocks. Default: 4.
    pub n_layer: i64,
    /// Longest example of the model's own tokens (state, working, action,
    /// delta), tokens. Default: 1024. With `chunk` 0, the program's tokens
    /// count too.
    pub block_size: i64,
    /// Program tokens per chunk ([`crate::Window`]). Default: 512;
    /// checkpoints saved before chunks read 0 (one chunk, as trained).
    #[serde(default)]
    pub chunk: i64,
    /// The most chunks of one program. Default: 24 (12 288 tokens: 8 KB of
    /// source with its line markers, whole lines to a chunk).
    #[serde(default)]
    pub chunks: i64,
    /// Dropout probability on the embeddings and every residual branch (not
    /// the attention weights), also used at inference for MC-dropout.
    /// Default: 0.1.
    pub dropout: f64,
    /// Whether the model works out a comparison or a counting loop's next
    /// value before its action ([`crate::work`]). Default: true;
    /// checkpoints saved before it existed read false, and are asked as
    /// they were trained.
    #[serde(default)]
    pub working: bool,
    /// Whether the line pointer's keys and the event head read where
    /// control can go from the current line ([`crate::flow`]). Default:
    /// true, as checkpoints saved before the switch were trained.
    #[serde(default = "yes")]
    pub flow: bool,
    /// Whether the flow hints reach Lua and JavaScript programs too, from
    /// their own parsers' facts. Checkpoints saved before it read false:
    /// they were trained with those programs' flags all zero.
    #[serde(default)]
    pub flow_lua_js: bool,
    /// Whether, at a `return` event, the flow hints are those of the
    /// caller's line the call returns into, rather than of the line that
    /// returned ([`crate::Encoded::return_flow`]). Checkpoints saved before
    /// it read false: they were trained with the returning line's.
    #[serde(default)]
    pub flow_returns: bool,
    /// Whether every token's embedding carries how many brackets are open
    /// at it ([`crate::nesting`]). Default: true, as checkpoints saved
    /// before the switch were trained.
    #[serde(default = "yes")]
    pub depth: bool,
}

fn yes() -> bool {
    true
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            vocab: VOCAB,
            n_embd: 96,
            n_head: 2,
            n_layer: 4,
            block_size: 1024,
            chunk: 512,
            chunks: 24,
            dropout: 0.1,
            working: true,
            flow: true,
            flow_lua_js: true,
            flow_returns: true,
            depth: true,
        }
    }
}

impl ModelConfig {
    /// What the model reads ([`Window`]).
    pub fn window(&self) -> Window {
        Window {
            chunk: self.chunk.max(0) as usize,
            chunks: self.chunks.max(1) as usize,
            block: self.block_size as usize,
            flow_lua_js: self.flow_lua_js,
            flow_returns: self.flow_returns,
        }
    }
}

/// Why the model could not be built, run, saved or loaded.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A checkpoint could not be written or read, or does not fit.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint's path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A config the model cannot have, or a batch longer than its block.
    #[error("invalid model config: {0}")]
    Config(String),
    /// A libtorch operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] tch::TchError),
}

/// What the heads produce for a batch.
#[derive(Debug)]
pub struct Output {
    /// (N, S, C) final hidden states of the examples' own tokens; the delta
    /// head reads them where it is needed ([`WorldModel::target_logits`],
    /// [`WorldModel::logits_at`]), not at every position.
    pub hidden: Tensor,
    /// (N, S) the examples' own tokens: what the delta head can copy.
    pub tokens: Tensor,
    /// (N, 4) event logits.
    pub event_logits: Tensor,
    /// (N, L) line-pointer logits (-inf where padded).
    pub line_logits: Tensor,
}

/// The byte-level world model.
#[derive(Debug)]
pub struct WorldModel {
    wte: nn::Embedding,
    wpe: nn::Embedding,
    wle: nn::Embedding,
    /// Bracket-depth embeddings ([`crate::nesting`]).
    wde: nn::Embedding,
    /// Relative-line embeddings added to the pointer's keys.
    wre: nn::Embedding,
    wfe: nn::Embedding,
    wfs: nn::Embedding,
    blocks: Vec<Block>,
    ln_f: nn::LayerNorm,
    lm_head: nn::Linear,
    /// The copy pointers, (query, key) each: `copy_at` points at an earlier
    /// byte of the example and repeats it (where a name or literal starts),
    /// `copy_after` at an earlier byte and repeats the one after it (the
    /// rest of it, as an induction head does); the gate weighs the
    /// vocabulary, the two pointers, a third that goes on copying where the
    /// byte before was copied from, and `derive` (see
    /// [`WorldModel::next_byte`]).
    copy_at: (nn::Linear, nn::Linear),
    copy_after: (nn::Linear, nn::Linear),
    copy_gate: nn::Linear,
    /// The derived byte: a pointer (query, key) at an earlier byte, whose
    /// token (`derive_byte`, from the vocabulary to the width) meets the
    /// position's own hidden state (`derive_hidden`) in a small MLP that
    /// spells a byte (`derive_out`): the digit after the loop counter's,
    /// the other truth value, a letter's other case. Spelling from memory
    /// alone must carry the pointed byte through every layer; copying can
    /// only repeat it.
    derive: (nn::Linear, nn::Linear),
    derive_byte: nn::Linear,
    derive_hidden: nn::Linear,
    derive_out: nn::Linear,
    event_head: nn::Linear,
    ptr_query: nn::Linear,
    ptr_key: nn::Linear,
    /// The shape it was built with.
    pub config: ModelConfig,
}

impl WorldModel {
    /// A freshly initialised model under `p`; refuses a config it cannot
    /// have (see [`ModelConfig`]).
    pub fn new(p: &nn::Path, config: ModelConfig) -> Result<Self, ModelError> {
        if config.n_embd % config.n_head != 0
            || (config.n_embd / config.n_head.max(1)) % 2 != 0
            || config.n_layer < 1
            || config.vocab < VOCAB
            || !(0.0..1.0).contains(&config.dropout)
            || config.chunk < 0
            || config.block_size < 1
            || (config.chunk > 0 && config.chunks < 1)
        {
            return Err(ModelError::Config(format!(
                "n_embd ({}) must divide by n_head ({}) into an even head size, n_layer >= 1, vocab >= {VOCAB}, dropout in [0, 1) ({}), block_size >= 1, chunk >= 0 and chunks >= 1 ({}, {})",
                config.n_embd, config.n_head, config.dropout, config.chunk, config.chunks
            )));
        }
        let c = config.n_embd;
        let h = &(p / "transformer");
        let linear = |name: &str, out: i64| nn::linear(p / name, c, out, Default::default());
        Ok(WorldModel {
            wte: nn::embedding(h / "wte", config.vocab, c, Default::default()),
            wpe: nn::embedding(h / "wpe", config.window().positions() as i64, c, Default::default()),
            wle: nn::embedding(h / "wle", LINE_IDS, c, Default::default()),
            wde: nn::embedding(h / "wde", DEPTHS, c, Default::default()),
            wre: nn::embedding(p / "wre", LINE_REL_VOCAB, c, Default::default()),
            wfe: nn::embedding(p / "wfe", FLOW_VOCAB, c, Default::default()),
            wfs: nn::embedding(p / "wfs", FLOW_VOCAB, c, Default::default()),
            blocks: (0..config.n_layer).map(|i| Block::new(h / "h" / i, &config)).collect(),
            ln_f: nn::layer_norm(h / "ln_f", vec![c], Default::default()),
            lm_head: linear("lm_head", config.vocab),
            copy_at: (linear("copy_at_query", c), linear("copy_at_key", c)),
            copy_after: (linear("copy_after_query", c), linear("copy_after_key", c)),
            copy_gate: linear("copy_gate", copy::SOURCES),
            derive: (linear("derive_query", c), linear("derive_key", c)),
            derive_byte: nn::linear(
                p / "derive_byte",
                config.vocab,
                c,
                nn::LinearConfig { bias: false, ..Default::default() },
            ),
            derive_hidden: linear("derive_hidden", c),
            derive_out: linear("derive_out", config.vocab),
            event_head: linear("event_head", EVENTS.len() as i64),
            ptr_query: linear("ptr_query", c),
            ptr_key: linear("ptr_key", c),
            config,
        })
    }

    /// Final hidden states of the programs' rows (B, P, C) and of the
    /// examples' own tokens (N, S, C).
    fn hidden(&self, batch: &Batch, train: bool) -> Result<(Tensor, Tensor), ModelError> {
        let ctx = self.layout(batch)?;
        let examples = &batch.examples;
        let own = self.own_embeddings(&examples.tokens, &examples.positions, &examples.line_id, &examples.depth);
        let mut x = (
            self.program_embeddings(batch)?.dropout(self.config.dropout, train),
            own.dropout(self.config.dropout, train),
        );
        for block in &self.blocks {
            x = block.forward(x, &ctx, train);
        }
        Ok((ctx.rows_of(&x.0.apply(&self.ln_f))?, x.1.apply(&self.ln_f)))
    }

    /// The chunks' embeddings (K, T, C): token, position in the chunk,
    /// line and bracket depth.
    fn program_embeddings(&self, batch: &Batch) -> Result<Tensor, ModelError> {
        let programs = &batch.programs;
        let (_, t) = programs.tokens.size2()?;
        let window = self.config.window();
        if t as usize > window.chunk.max(window.block) {
            return Err(ModelError::Config(format!("a chunk of {t} tokens; the model reads {}", window.chunk)));
        }
        let pos = Tensor::arange(t, (Kind::Int64, programs.tokens.device()));
        let x = programs.tokens.apply(&self.wte) + pos.apply(&self.wpe) + programs.line.apply(&self.wle);
        Ok(self.with_depth(x, &programs.depth))
    }

    /// Own tokens' embeddings (N, S, C) at `positions`.
    fn own_embeddings(&self, tokens: &Tensor, positions: &Tensor, line_id: &Tensor, depth: &Tensor) -> Tensor {
        self.with_depth(tokens.apply(&self.wte) + positions.apply(&self.wpe) + line_id.apply(&self.wle), depth)
    }

    /// `x` plus the bracket depths' embeddings, when the model reads them
    /// ([`ModelConfig::depth`]).
    fn with_depth(&self, x: Tensor, depth: &Tensor) -> Tensor {
        if self.config.depth { x + depth.apply(&self.wde) } else { x }
    }

    /// What every layer of `batch` shares: masks, rotary tables and which
    /// chunks each example reads; refuses positions past the model's.
    fn layout(&self, batch: &Batch) -> Result<Layout, ModelError> {
        let (programs, examples) = (&batch.programs, &batch.examples);
        let (k, t) = programs.tokens.size2()?;
        let (n, s) = examples.tokens.size2()?;
        let longest = examples.positions.max().int64_value(&[]) + 1;
        let rows = self.config.window().positions() as i64;
        if longest > rows {
            return Err(ModelError::Config(format!("an example reaches position {longest}; the model has {rows}")));
        }
        let device = examples.tokens.device();
        let hs = self.config.n_embd / self.config.n_head;
        // Every chunk query sees its first token, so a chunk of padding
        // attends to something rather than to nothing (NaN).
        let first = Tensor::from_slice(&[0i64]).to(device);
        let chunk_mask = programs.mask.index_fill(1, &first, 1).view([k, 1, 1, t]);
        let reads = programs.chunks.f_index_select(0, &examples.row)?.view([-1]);
        let w = programs.chunks.size()[1];
        let to_program =
            programs.mask.f_index_select(0, &reads)?.view([n, 1, 1, w * t]).expand([n, 1, s, w * t], false);
        let causal = Tensor::ones([s, s], (Kind::Bool, device)).tril(0).expand([n, 1, s, s], false);
        let (cos, sin) = rotary(&examples.positions, hs);
        Ok(Layout {
            reads,
            chunks: programs.chunks.shallow_clone(),
            chunk_mask,
            mask: Tensor::cat(&[to_program, causal], 3),
            rotary_programs: rotary(&Tensor::arange(t, (Kind::Int64, device)), hs),
            rotary_own: (cos.unsqueeze(1), sin.unsqueeze(1)),
        })
    }

    /// Each example's final hidden state where it is asked its action, (N,
    /// C): how the model reads the program and state there.
    pub fn reading(&self, batch: &Batch) -> Result<Tensor, ModelError> {
        let (_, own) = self.hidden(batch, false)?;
        action::at_positions(&own, &batch.examples.query)
    }

    /// All three heads. `train` turns dropout on (training, MC-dropout).
    pub fn forward(&self, batch: &Batch, train: bool) -> Result<Output, ModelError> {
        let (programs, own) = self.hidden(batch, train)?;
        let query = action::at_positions(&own, &batch.examples.query)?;
        let (event_logits, line_logits) = self.action(batch, &programs, &query)?;
        Ok(Output { event_logits, line_logits, hidden: own, tokens: batch.examples.tokens.shallow_clone() })
    }
}
