//! The world model, built up from small pieces like nanoGPT: attention ->
//! MLP -> block -> model, plus two heads on top: the action head (event
//! class and a pointer into the program's lines) and the state-delta head
//! (next-byte log-probabilities over the target region: a byte from the
//! vocabulary or one copied from earlier in the example).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn};
use thiserror::Error;

use crate::encode::{DEPTHS, EVENTS, LINE_IDS, LINE_REL_VOCAB, VOCAB};
use crate::flow::FLOW_VOCAB;

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
    /// Longest sequence (context + target), tokens. Default: 1024.
    pub block_size: i64,
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
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig { vocab: VOCAB, n_embd: 96, n_head: 2, n_layer: 4, block_size: 1024, dropout: 0.1, working: true }
    }
}

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: String, reason: String },
    #[error("invalid model config: {0}")]
    Config(String),
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] tch::TchError),
}

#[derive(Debug)]
struct CausalSelfAttention {
    c_attn: nn::Linear,
    c_proj: nn::Linear,
    n_head: i64,
    dropout: f64,
}

impl CausalSelfAttention {
    fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let c = cfg.n_embd;
        CausalSelfAttention {
            c_attn: nn::linear(&p / "c_attn", c, 3 * c, Default::default()),
            c_proj: nn::linear(&p / "c_proj", c, c, Default::default()),
            n_head: cfg.n_head,
            dropout: cfg.dropout,
        }
    }

    /// Both streams: the programs (B, P, C) attend to all of their own
    /// real tokens (a program is read whole, so a line's marker knows the
    /// line and its block); the examples (N, S, C) to their row's program
    /// (real tokens) and causally to their own tokens. Queries and keys are
    /// rotated by their positions (rotary embeddings), so "the byte before"
    /// or "the same offset in the line above" is one relation wherever a
    /// sequence sits.
    fn forward(&self, (programs, own): (&Tensor, &Tensor), ctx: &Layout, train: bool) -> (Tensor, Tensor) {
        let split = |x: &Tensor| {
            let (b, t, c) = x.size3().expect("attention input is (B, T, C)");
            // (B, T, C) -> 3 x (B, nh, T, hs)
            let heads = |z: &Tensor| z.view([b, t, self.n_head, c / self.n_head]).transpose(1, 2);
            let qkv = x.apply(&self.c_attn).split(c, 2);
            (heads(&qkv[0]), heads(&qkv[1]), heads(&qkv[2]))
        };
        let merge = |y: Tensor, x: &Tensor| {
            // (B, nh, T, hs) -> (B, T, C)
            y.transpose(1, 2).contiguous().view(x.size().as_slice()).apply(&self.c_proj).dropout(self.dropout, train)
        };
        let (q, k, v) = split(programs);
        let (q, k) = (rotate(&q, &ctx.rotary_programs), rotate(&k, &ctx.rotary_programs));
        // No dropout on the attention weights: with it, libtorch's CPU
        // attention falls back to its unfused path, 2-3 times slower.
        let y_programs =
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(&ctx.program_mask), 0.0, false, None, false);
        let (qs, ks, vs) = split(own);
        let (qs, ks) = (rotate(&qs, &ctx.rotary_own), rotate(&ks, &ctx.rotary_own));
        let keys = Tensor::cat(&[k.index_select(0, &ctx.rows), ks], 2);
        let values = Tensor::cat(&[v.index_select(0, &ctx.rows), vs], 2);
        let y_own = Tensor::scaled_dot_product_attention(&qs, &keys, &values, Some(&ctx.mask), 0.0, false, None, false);
        (merge(y_programs, programs), merge(y_own, own))
    }
}

/// What every attention layer of one batch shares: which program each
/// example reads, the masks, and the rotary tables.
struct Layout {
    /// (N,) each example's program row.
    rows: Tensor,
    /// (B, 1, 1, P) real program tokens.
    program_mask: Tensor,
    /// (N, 1, S, P + S) the program's real tokens, then causal over the example's own.
    mask: Tensor,
    /// (cos, sin), (P, hs / 2): the program's positions.
    rotary_programs: (Tensor, Tensor),
    /// (cos, sin), (N, 1, S, hs / 2): the examples' positions.
    rotary_own: (Tensor, Tensor),
}

/// Rotary tables for positions `pos` (any shape): (cos, sin), each of
/// shape `pos` + [hs / 2], frequencies from 1 down to 1 / 10 000.
fn rotary(pos: &Tensor, hs: i64) -> (Tensor, Tensor) {
    let half = hs / 2;
    let scale = -2.0 * 10_000f64.ln() / hs as f64;
    let inv = (Tensor::arange(half, (Kind::Float, pos.device())) * scale).exp();
    let angles = pos.to_kind(Kind::Float).unsqueeze(-1) * inv;
    (angles.cos(), angles.sin())
}

/// `x` (.., T, hs) with each pair (i, i + hs / 2) rotated by its angle.
fn rotate(x: &Tensor, (cos, sin): &(Tensor, Tensor)) -> Tensor {
    let half = x.size().last().copied().expect("heads have a size") / 2;
    let (x1, x2) = (x.narrow(-1, 0, half), x.narrow(-1, half, half));
    Tensor::cat(&[&x1 * cos - &x2 * sin, &x1 * sin + &x2 * cos], -1)
}

#[derive(Debug)]
struct Mlp {
    c_fc: nn::Linear,
    c_proj: nn::Linear,
    dropout: f64,
}

impl Mlp {
    fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let c = cfg.n_embd;
        Mlp {
            c_fc: nn::linear(&p / "c_fc", c, 4 * c, Default::default()),
            c_proj: nn::linear(&p / "c_proj", 4 * c, c, Default::default()),
            dropout: cfg.dropout,
        }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        x.apply(&self.c_fc).gelu("none").apply(&self.c_proj).dropout(self.dropout, train)
    }
}

#[derive(Debug)]
struct Block {
    ln_1: nn::LayerNorm,
    attn: CausalSelfAttention,
    ln_2: nn::LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        Block {
            ln_1: nn::layer_norm(&p / "ln_1", vec![cfg.n_embd], Default::default()),
            attn: CausalSelfAttention::new(&p / "attn", cfg),
            ln_2: nn::layer_norm(&p / "ln_2", vec![cfg.n_embd], Default::default()),
            mlp: Mlp::new(&p / "mlp", cfg),
        }
    }

    fn forward(&self, (programs, own): (Tensor, Tensor), ctx: &Layout, train: bool) -> (Tensor, Tensor) {
        let (a_programs, a_own) = self.attn.forward((&programs.apply(&self.ln_1), &own.apply(&self.ln_1)), ctx, train);
        let (programs, own) = (programs + a_programs, own + a_own);
        let mlp = |x: Tensor| &x + self.mlp.forward(&x.apply(&self.ln_2), train);
        (mlp(programs), mlp(own))
    }
}

/// One batch of N examples of B programs. Each program is held once, in
/// its row of `program`; each example's own tokens (its state, then its
/// target) are a row of `tokens` that attends to its program and to itself,
/// with positions that go on from the program's end, as if the two were one
/// sequence. Examples of one program cost a fraction of what they would
/// each with a copy of it.
#[derive(Debug)]
pub struct Batch {
    /// (B, P) each program's tokens: BOS, the source with LINE markers.
    pub program: Tensor,
    /// (B, P) their source lines.
    pub program_line: Tensor,
    /// (B, P) true at real (not padding) program tokens.
    pub program_mask: Tensor,
    /// (B, P) their bracket depths ([`crate::nesting`]).
    pub program_depth: Tensor,
    /// (N, S) each example's own tokens: SEP, k, the state, SEP, the target.
    pub tokens: Tensor,
    /// (N, S) their position ids.
    pub positions: Tensor,
    /// (N, S) their line ids (the current line).
    pub line_id: Tensor,
    /// (N, S) their bracket depths ([`crate::nesting`]).
    pub depth: Tensor,
    /// (N, S) next-token labels: the working's bytes, then the delta's;
    /// -100 elsewhere.
    pub labels: Tensor,
    /// (N,) each example's program (row of `program`).
    pub row: Tensor,
    /// (N,) position in `tokens` of each example's action query (the last
    /// SEP of its context, or the end of the working written after it).
    pub query: Tensor,
    /// (N,) position in `tokens` of the token that predicts each example's
    /// first delta byte: the end of the action given after the query (the
    /// query itself when none is given).
    pub delta_start: Tensor,
    /// (B, L) positions of each program's LINE markers (0 where padded).
    pub lines: Tensor,
    /// (B, L) true where `lines` holds a real line.
    pub line_mask: Tensor,
    /// (N, L) each line's offset from the example's current line.
    pub line_rel: Tensor,
    /// (N, L) where control can go from the current line (flow flags).
    pub line_flow: Tensor,
    /// (N,) every flag of `line_flow` at once (a call, a handler, leaving
    /// the function): what the event head reads beside the query.
    pub flow: Tensor,
    /// (N,) event class targets.
    pub event: Tensor,
    /// (N,) line targets (0-based line index).
    pub line: Tensor,
}

impl Batch {
    /// Tokens the batch holds, padding included: each program once, and
    /// each example's own.
    pub fn padded_tokens(&self) -> i64 {
        (self.program.numel() + self.tokens.numel()) as i64
    }

    /// `labels` of the deltas alone (the working's are -100).
    pub fn delta_labels(&self) -> Tensor {
        let s = self.labels.size()[1];
        let at = Tensor::arange(s, (Kind::Int64, self.labels.device())).unsqueeze(0);
        self.labels.masked_fill(&at.lt_tensor(&self.delta_start.unsqueeze(1)), -100)
    }
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
    pub config: ModelConfig,
}

impl WorldModel {
    pub fn new(p: &nn::Path, config: ModelConfig) -> Result<Self, ModelError> {
        if config.n_embd % config.n_head != 0
            || (config.n_embd / config.n_head.max(1)) % 2 != 0
            || config.n_layer < 1
            || config.vocab < VOCAB
            || !(0.0..1.0).contains(&config.dropout)
        {
            return Err(ModelError::Config(format!(
                "n_embd ({}) must divide by n_head ({}) into an even head size, n_layer >= 1, vocab >= {VOCAB}, dropout in [0, 1) ({})",
                config.n_embd, config.n_head, config.dropout
            )));
        }
        let c = config.n_embd;
        let h = &(p / "transformer");
        let linear = |name: &str, out: i64| nn::linear(p / name, c, out, Default::default());
        Ok(WorldModel {
            wte: nn::embedding(h / "wte", config.vocab, c, Default::default()),
            wpe: nn::embedding(h / "wpe", config.block_size, c, Default::default()),
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
            copy_gate: linear("copy_gate", 5),
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

    /// Final hidden states of the programs (B, P, C) and of the examples'
    /// own tokens (N, S, C).
    fn hidden(&self, batch: &Batch, train: bool) -> Result<(Tensor, Tensor), ModelError> {
        let (_, p) = batch.program.size2()?;
        let (_, s) = batch.tokens.size2()?;
        let longest = batch.positions.max().int64_value(&[]) + 1;
        if longest.max(p) > self.config.block_size {
            return Err(ModelError::Config(format!(
                "sequence of {} tokens; block_size is {}",
                longest.max(p),
                self.config.block_size
            )));
        }
        let device = batch.tokens.device();
        let pos = Tensor::arange(p, (Kind::Int64, device));
        let programs = batch.program.apply(&self.wte)
            + pos.apply(&self.wpe)
            + batch.program_line.apply(&self.wle)
            + batch.program_depth.apply(&self.wde);
        let own = batch.tokens.apply(&self.wte)
            + batch.positions.apply(&self.wpe)
            + batch.line_id.apply(&self.wle)
            + batch.depth.apply(&self.wde);
        let n = batch.row.size()[0];
        let to_program = batch.program_mask.index_select(0, &batch.row).view([n, 1, 1, p]).expand([n, 1, s, p], false);
        let causal = Tensor::ones([s, s], (Kind::Bool, device)).tril(0).expand([n, 1, s, s], false);
        let (b, _) = batch.program.size2()?;
        let hs = self.config.n_embd / self.config.n_head;
        let (cos, sin) = rotary(&batch.positions, hs);
        let ctx = Layout {
            rows: batch.row.shallow_clone(),
            program_mask: batch.program_mask.view([b, 1, 1, p]),
            mask: Tensor::cat(&[to_program, causal], 3),
            rotary_programs: rotary(&pos, hs),
            rotary_own: (cos.unsqueeze(1), sin.unsqueeze(1)),
        };
        let mut x = (programs.dropout(self.config.dropout, train), own.dropout(self.config.dropout, train));
        for block in &self.blocks {
            x = block.forward(x, &ctx, train);
        }
        Ok((x.0.apply(&self.ln_f), x.1.apply(&self.ln_f)))
    }

    /// All three heads. `train` turns dropout on (training, MC-dropout).
    pub fn forward(&self, batch: &Batch, train: bool) -> Result<Output, ModelError> {
        let (programs, own) = self.hidden(batch, train)?;
        let (b, _, c) = programs.size3()?;
        let query = at_positions(&own, &batch.query)?;
        let l = batch.lines.size()[1];
        // (B, L) -> (B, L, C): the hidden state at each LINE marker, then
        // each example's copy (N, L, C) with its relative lines added.
        let l_idx = batch.lines.unsqueeze(-1).expand([b, l, c], false);
        let keys = programs.f_gather(1, &l_idx, false)?.f_index_select(0, &batch.row)?.apply(&self.ptr_key)
            + batch.line_rel.apply(&self.wre)
            + batch.line_flow.apply(&self.wfe);
        // (N, 1, C) x (N, C, L) -> (N, L)
        let scores = query.apply(&self.ptr_query).unsqueeze(1).matmul(&keys.transpose(1, 2)).squeeze_dim(1);
        let valid = batch.line_mask.f_index_select(0, &batch.row)?;
        let line_logits = (scores / (c as f64).sqrt()).masked_fill(&valid.logical_not(), f64::NEG_INFINITY);
        let event_logits = (query + batch.flow.apply(&self.wfs)).apply(&self.event_head);
        Ok(Output { event_logits, line_logits, hidden: own, tokens: batch.tokens.shallow_clone() })
    }

    /// Next-byte log-probabilities at flat positions `at` (M,) of the
    /// examples' own tokens (index n * S + t, t >= 1, ascending, so each
    /// example's positions sit together). A gate mixes five sources: the
    /// vocabulary; `copy_at`, which repeats an earlier token it points at;
    /// `copy_after`, which repeats the token after the one it points at; a
    /// continuation, which repeats the token after wherever the byte at
    /// t - 1 was most likely copied from (given the byte it wrote), so a
    /// literal or value is copied to its end once its first byte was; and
    /// `derive`, which spells a byte from one it points at. Names, literals
    /// and the values the line reads are copied from the state rather than
    /// spelled from memory, and a value computed from one read is spelled
    /// from the byte read.
    fn next_byte(&self, out: &Output, at: &Tensor) -> Result<Tensor, ModelError> {
        let (_, s, _) = out.hidden.size3()?;
        let m = at.size()[0];
        let (owner, t) = (at.floor_divide_scalar(s), at.remainder(s));
        let tokens = out.tokens.f_index_select(0, &owner)?;
        let successors = Tensor::cat(&[tokens.narrow(1, 1, s - 1), tokens.narrow(1, 0, 1)], 1);
        // The sources at each position and at the one before it: a delta's
        // bytes are consecutive, so the two sets are mostly the same
        // positions, each scored once (in ascending order, examples together).
        let (both, inverse, _) = Tensor::cat(&[at - 1, at.shallow_clone()], 0).internal_unique2(true, true, false);
        let both_owner = both.floor_divide_scalar(s);
        let packing = self.packing(out, &both_owner)?;
        let sources = self.sources(out, &both, &packing, &out.tokens.f_index_select(0, &both_owner)?)?;
        let here = sources.select(&inverse.narrow(0, m, m))?;
        // Where the byte written at t - 1 (the token at t) came from: each
        // position's share of its probability under the step before's own
        // pointers and what it spelled (vocabulary or derived), of the
        // positions that hold it.
        let before = sources.select(&inverse.narrow(0, 0, m))?;
        let written = tokens.f_gather(1, &t.unsqueeze(1), false)?;
        let holds = tokens.eq_tensor(&written).to_kind(Kind::Float);
        let gate = |g: &Tensor, i: i64| g.narrow(1, i, 1);
        let after_source =
            Tensor::cat(&[before.after.zeros_like().narrow(1, 0, 1), before.after.narrow(1, 0, s - 1)], 1);
        let copied = (&before.at * gate(&before.gate, 1) + after_source * gate(&before.gate, 2)) * holds;
        let spelled = (before.vocab * gate(&before.gate, 0) + before.derived * gate(&before.gate, 4))
            .f_gather(1, &written, false)?;
        let total = (&spelled + copied.sum_dim_intlist(1, true, Kind::Float)).clamp_min(1e-9);
        // The continuation repeats the token after each source; what was
        // spelled (from the vocabulary or derived) continues from the vocabulary.
        let (going_on, spelled) = (copied / &total, spelled / total);
        let g = &here.gate;
        let vocab = here.vocab * (gate(g, 0) + gate(g, 3) * spelled) + here.derived * gate(g, 4);
        let after = here.after * gate(g, 2) + going_on * gate(g, 3);
        let zeros = || Tensor::zeros([m, self.config.vocab], (Kind::Float, at.device()));
        let mixed = vocab
            + zeros().f_scatter_add(1, &tokens, &(here.at * gate(g, 1)))?
            + zeros().f_scatter_add(1, &successors, &after)?;
        Ok(mixed.clamp_min(1e-9).log())
    }

    /// The pointers' keys over every example's own tokens, and the slot of
    /// each position to score among its example's (0, 1, ..; `owner` (M,)
    /// ascending): queries pack into (N, W, C), W the most positions of one
    /// example, so scoring them against their own example's keys costs
    /// N * W * S, not N * S * S.
    fn packing(&self, out: &Output, owner: &Tensor) -> Result<Packing, ModelError> {
        let n = out.hidden.size()[0];
        let counts = owner.f_bincount::<Tensor>(None, n)?;
        let starts = counts.cumsum(0, Kind::Int64) - &counts;
        let slot = Tensor::arange(owner.size()[0], (Kind::Int64, owner.device())) - starts.f_index_select(0, owner)?;
        Ok(Packing {
            keys_at: out.hidden.apply(&self.copy_at.1).transpose(1, 2),
            keys_after: out.hidden.apply(&self.copy_after.1).transpose(1, 2),
            keys_derive: out.hidden.apply(&self.derive.1).transpose(1, 2),
            slots: [Some(owner.shallow_clone()), Some(slot)],
            width: counts.max().int64_value(&[]).max(1),
        })
    }

    /// At flat positions `at` (see [`WorldModel::next_byte`]), packed by
    /// `packing`, with `tokens` (M, S) their examples' tokens: the two
    /// pointers' distributions over the example's positions, the gate, the
    /// vocabulary distribution and the derived byte's.
    fn sources(&self, out: &Output, at: &Tensor, packing: &Packing, tokens: &Tensor) -> Result<Sources, ModelError> {
        let (n, s, c) = out.hidden.size3()?;
        let h = out.hidden.contiguous().view([n * s, c]).f_index_select(0, at)?;
        let t = at.remainder(s);
        let device = at.device();
        let j = Tensor::arange(s, (Kind::Int64, device)).unsqueeze(0);
        let Packing { keys_at, keys_after, keys_derive, slots, width } = packing;
        // (N, W, C) x (N, C, S) -> (N, W, S) -> (M, S): each position's
        // scores against its own example's keys, -inf where `hidden`.
        let pointer = |query: &nn::Linear, keys: &Tensor, hidden: &Tensor| -> Result<Tensor, ModelError> {
            let queries =
                Tensor::zeros([n, *width, c], (Kind::Float, device)).f_index_put(slots, &h.apply(query), false)?;
            let scores = queries.matmul(keys).f_index(slots)? / (c as f64).sqrt();
            Ok(scores.masked_fill(hidden, f64::NEG_INFINITY).softmax(-1, Kind::Float))
        };
        let visible = j.gt_tensor(&t.unsqueeze(1));
        // The pointed byte as a distribution over the vocabulary (M, V),
        // then the MLP that derives a byte from it and the context.
        let pointed = pointer(&self.derive.0, keys_derive, &visible)?;
        let byte = Tensor::zeros([at.size()[0], self.config.vocab], (Kind::Float, device))
            .f_scatter_add(1, tokens, &pointed)?;
        let derived = (h.apply(&self.derive_hidden) + byte.apply(&self.derive_byte))
            .gelu("none")
            .apply(&self.derive_out)
            .softmax(-1, Kind::Float);
        Ok(Sources {
            derived,
            at: pointer(&self.copy_at.0, keys_at, &visible)?,
            after: pointer(&self.copy_after.0, keys_after, &j.ge_tensor(&t.clamp_min(1).unsqueeze(1)))?,
            gate: h.apply(&self.copy_gate).softmax(-1, Kind::Float),
            vocab: h.apply(&self.lm_head).softmax(-1, Kind::Float),
        })
    }

    /// Next-byte log-probabilities at every labelled position: (M, V), with
    /// the example (M,) and the label (M,) of each.
    pub fn target_logits(&self, out: &Output, labels: &Tensor) -> Result<(Tensor, Tensor, Tensor), ModelError> {
        let (n, s) = labels.size2()?;
        let flat = labels.view([n * s]);
        let idx = flat.ne(-100).nonzero().squeeze_dim(1);
        Ok((self.next_byte(out, &idx)?, idx.floor_divide_scalar(s), flat.f_index_select(0, &idx)?))
    }

    /// Next-byte log-probabilities (N, V) at one position (N,) of each
    /// example's own tokens.
    pub fn logits_at(&self, out: &Output, positions: &Tensor) -> Result<Tensor, ModelError> {
        let (n, s) = out.tokens.size2()?;
        let at = Tensor::arange(n, (Kind::Int64, positions.device())) * s + positions;
        self.next_byte(out, &at)
    }

    /// The losses of both heads on a batch.
    pub fn losses(&self, batch: &Batch, out: &Output) -> Result<Losses, ModelError> {
        let action =
            out.event_logits.f_cross_entropy_loss::<Tensor>(&batch.event, None, tch::Reduction::None, -100, 0.0)?
                + out.line_logits.f_cross_entropy_loss::<Tensor>(&batch.line, None, tch::Reduction::None, -100, 0.0)?;
        let (logits, owner, labels) = self.target_logits(out, &batch.labels)?;
        let per_token = logits.f_cross_entropy_loss::<Tensor>(&labels, None, tch::Reduction::None, -100, 0.0)?;
        let (n, s) = batch.labels.size2()?;
        let zeros = || Tensor::zeros([n], (Kind::Float, logits.device()));
        let sums = zeros().f_index_add(0, &owner, &per_token)?;
        let counted = batch.labels.ne(-100).to_kind(Kind::Float).sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0);
        // The bytes that open a delta line or end the delta, at the delta's
        // start and after each newline of the target: what comes next (a
        // value set, a frame, a removal, output, or nothing more); the
        // first byte of each value (after a `=`), where copying, deriving
        // and computing part ways; and the newline that ends each line,
        // where a number or a copy stops (`17` cut to `1`, `0` run on to `0=`).
        let labelled = batch.labels.view([n * s]).ne(-100).nonzero().squeeze_dim(1);
        let input = batch.tokens.view([n * s]).f_index_select(0, &labelled)?;
        let (at, start) = (labelled.remainder(s), batch.delta_start.f_index_select(0, &owner)?);
        let worked = at.lt_tensor(&start);
        let opens = at
            .eq_tensor(&start)
            .logical_or(&input.eq(10))
            .logical_or(&input.eq(i64::from(b'=')))
            .logical_or(&labels.eq(10))
            .logical_and(&worked.logical_not());
        let openings = zeros().f_index_add(0, &owner, &(&per_token * opens.to_kind(Kind::Float)))?;
        // Every byte of the working, which the action then reads.
        let working = zeros().f_index_add(0, &owner, &(&per_token * worked.to_kind(Kind::Float)))?;
        Ok(Losses { action, delta: sums / counted, delta_per_byte: per_token.mean(Kind::Float), openings, working })
    }
}

/// What [`WorldModel::packing`] returns: the keys, and the example and slot
/// of each position to score.
struct Packing {
    /// (N, C, S) `copy_at`'s keys, transposed for the scores.
    keys_at: Tensor,
    /// (N, C, S) `copy_after`'s.
    keys_after: Tensor,
    /// (N, C, S) `derive`'s.
    keys_derive: Tensor,
    /// (example, slot) of each position scored, to index (N, W, ..).
    slots: [Option<Tensor>; 2],
    /// W: the most positions of one example.
    width: i64,
}

/// What [`WorldModel::sources`] returns, (M, ..) each.
struct Sources {
    /// (M, S) `copy_at`'s distribution over the example's positions.
    at: Tensor,
    /// (M, S) `copy_after`'s.
    after: Tensor,
    /// (M, 5) vocabulary, `copy_at`, `copy_after`, continuation, derived.
    gate: Tensor,
    /// (M, V) the vocabulary's distribution.
    vocab: Tensor,
    /// (M, V) the derived byte's distribution.
    derived: Tensor,
}

impl Sources {
    /// The rows `idx` (M',) of each.
    fn select(&self, idx: &Tensor) -> Result<Sources, ModelError> {
        let rows = |x: &Tensor| x.f_index_select(0, idx);
        Ok(Sources {
            at: rows(&self.at)?,
            after: rows(&self.after)?,
            gate: rows(&self.gate)?,
            vocab: rows(&self.vocab)?,
            derived: rows(&self.derived)?,
        })
    }
}

/// What [`WorldModel::losses`] returns.
#[derive(Debug)]
pub struct Losses {
    /// (N,) each example's event plus line cross-entropy.
    pub action: Tensor,
    /// (N,) each example's mean cross-entropy per byte it writes (its
    /// working's and its delta's).
    pub delta: Tensor,
    /// () the mean cross-entropy over every such byte of the batch.
    pub delta_per_byte: Tensor,
    /// (N,) each example's cross-entropy summed over the bytes that open a
    /// line of its delta or end it: whether and how the state changes.
    pub openings: Tensor,
    /// (N,) each example's cross-entropy summed over its working's bytes
    /// (zero where it has none).
    pub working: Tensor,
}

impl Losses {
    /// The training objective: per example, the action, the working's
    /// bytes and the delta's decisions (the bytes that open its lines or
    /// end it, and the first byte of each value); then every
    /// delta byte of the batch weighing the same. A mean per example alone
    /// would let the single byte of a "nothing changed" delta outweigh each
    /// byte of a ten-byte change ten to one, and the model would learn that
    /// nothing ever changes; bytes alone would make the decision whether
    /// anything (more) changes one byte among many. The action's part is
    /// multiplied by `action_weight` ([`crate::TrainConfig::action_weight`]),
    /// the working's by `working_weight`
    /// ([`crate::TrainConfig::working_weight`]).
    pub fn objective(&self, action_weight: f64, working_weight: f64) -> Tensor {
        self.action.mean(Kind::Float) * action_weight
            + self.openings.mean(Kind::Float)
            + self.working.mean(Kind::Float) * working_weight
            + &self.delta_per_byte
    }
}

/// Each row's hidden state at one position: (B, T, C) and (B,) -> (B, C).
fn at_positions(hidden: &Tensor, positions: &Tensor) -> Result<Tensor, ModelError> {
    let (b, _, c) = hidden.size3()?;
    // (B,) -> (B, 1, C)
    let idx = positions.view([b, 1, 1]).expand([b, 1, c], false);
    Ok(hidden.f_gather(1, &idx, false)?.squeeze_dim(1))
}

/// A model with its variables, on a device.
#[derive(Debug)]
pub struct Learner {
    pub vs: nn::VarStore,
    pub model: WorldModel,
    /// Optimizer steps taken so far (saved with checkpoints).
    pub train_step: i64,
}

#[derive(Serialize, Deserialize)]
struct CheckpointMeta {
    config: ModelConfig,
    train_step: i64,
}

impl Learner {
    pub fn new(config: ModelConfig, device: Device) -> Result<Self, ModelError> {
        let vs = nn::VarStore::new(device);
        let model = WorldModel::new(&vs.root(), config)?;
        Ok(Learner { vs, model, train_step: 0 })
    }

    /// Writes `path` (safetensors weights) and `path.json` (config, step).
    /// Both are written beside and renamed into place, so a crash mid-save
    /// leaves the previous checkpoint whole.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let err = |reason: String| ModelError::Checkpoint { path: path.display().to_string(), reason };
        let tmp = path.with_extension("partial.safetensors");
        self.vs.save(&tmp).map_err(|e| err(e.to_string()))?;
        let meta = CheckpointMeta { config: self.model.config.clone(), train_step: self.train_step };
        std::fs::write(meta_path(&tmp), serde_json::to_vec_pretty(&meta).expect("config serializes"))
            .map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
        std::fs::rename(meta_path(&tmp), meta_path(path)).map_err(|e| err(e.to_string()))
    }

    /// Loads a checkpoint; with `expected`, refuses one of another shape.
    pub fn load(path: &Path, device: Device, expected: Option<&ModelConfig>) -> Result<Self, ModelError> {
        let err = |reason: String| ModelError::Checkpoint { path: path.display().to_string(), reason };
        let meta = std::fs::read(meta_path(path)).map_err(|e| err(format!("reading its config: {e}")))?;
        let meta: CheckpointMeta = serde_json::from_slice(&meta).map_err(|e| err(format!("its config: {e}")))?;
        if let Some(want) = expected.filter(|want| **want != meta.config) {
            return Err(err(format!("model shape {:?} differs from the expected {want:?}", meta.config)));
        }
        let mut learner = Learner::new(meta.config, device)?;
        learner.vs.load(path).map_err(|e| err(format!("weights do not fit the saved config: {e}")))?;
        learner.train_step = meta.train_step;
        Ok(learner)
    }
}

fn meta_path(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".json");
    p.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Example, collate, examples, pack};

    fn tiny() -> ModelConfig {
        ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size: 256, ..ModelConfig::default() }
    }

    fn batch() -> Batch {
        collate(&items(), Device::Cpu)
    }

    /// Five examples of one program (k = 1 and 2), the second with a
    /// working written before its action.
    fn items() -> Vec<Example> {
        let step = crate::data::module_step;
        let steps = vec![step(0, 1, "0"), step(1, 2, "1"), step(2, 3, "'é'"), step(3, 1, "[2]")];
        let mut ex = examples("x = 0\nx = 1\nx = 'é'\n", "", &steps, &[1, 2]);
        assert_eq!(ex.len(), 5);
        ex[1].working = b"x = 1\n".to_vec();
        ex[1].context.working = ex[1].working.clone();
        ex
    }

    #[test]
    fn examples_sharing_a_program_get_what_they_would_get_alone() {
        let learner = Learner::new(tiny(), Device::Cpu).unwrap();
        let ex = items();
        let (apart, shared) = (pack(&ex, 1, Device::Cpu), collate(&ex, Device::Cpu));
        assert_eq!((apart.program.size()[0], shared.program.size()[0]), (5, 1), "one copy of the program");
        let (a, p) = (learner.model.forward(&apart, false).unwrap(), learner.model.forward(&shared, false).unwrap());
        let close = |x: &Tensor, y: &Tensor| x.allclose(y, 1e-5, 1e-5, false);
        assert!(close(&a.event_logits, &p.event_logits) && close(&a.line_logits, &p.line_logits));
        let (la, lp) = (learner.model.losses(&apart, &a).unwrap(), learner.model.losses(&shared, &p).unwrap());
        assert!(close(&la.action, &lp.action) && close(&la.delta, &lp.delta), "{:?} vs {:?}", la.delta, lp.delta);
        assert!(close(&la.delta_per_byte, &lp.delta_per_byte));
        // Sharing by twos: three copies, the same answers.
        let twos = pack(&ex, 2, Device::Cpu);
        assert_eq!(twos.program.size()[0], 3);
        let t = learner.model.forward(&twos, false).unwrap();
        assert!(close(&learner.model.losses(&twos, &t).unwrap().delta, &la.delta));
    }

    #[test]
    fn heads_have_the_documented_shapes() {
        let learner = Learner::new(tiny(), Device::Cpu).unwrap();
        let b = batch();
        let out = learner.model.forward(&b, false).unwrap();
        let (rows, t) = b.tokens.size2().unwrap();
        assert_eq!(b.program.size()[0], 1, "five examples of one program");
        assert_eq!(out.hidden.size(), [rows, t, 32]);
        let (logits, row_of, _) = learner.model.target_logits(&out, &b.labels).unwrap();
        let labelled = b.labels.ne(-100).sum(Kind::Int64).int64_value(&[]);
        assert_eq!((logits.size(), row_of.size()), (vec![labelled, VOCAB], vec![labelled]));
        // Vocabulary and copy pointer mix into one distribution per byte.
        let total = logits.exp().sum_dim_intlist(-1, false, Kind::Float);
        assert!(total.allclose(&Tensor::ones([labelled], (Kind::Float, Device::Cpu)), 1e-4, 1e-4, false), "{total}");
        assert_eq!(out.event_logits.size(), [rows, 4]);
        assert_eq!(out.line_logits.size(), [rows, 3]);
        let losses = learner.model.losses(&b, &out).unwrap();
        let Losses { action, delta, delta_per_byte, openings, working } = &losses;
        // The objective's delta part is the mean over bytes: per-example
        // means weighted by their byte counts.
        let bytes = b.labels.ne(-100).sum_dim_intlist(1, false, Kind::Float);
        let weighted = (delta * &bytes).sum(Kind::Float) / bytes.sum(Kind::Float);
        assert!(delta_per_byte.allclose(&weighted, 1e-5, 1e-6, false), "{delta_per_byte} vs {weighted}");
        assert_eq!((action.size(), delta.size()), (vec![rows], vec![rows]));
        assert!(action.isfinite().all().int64_value(&[]) == 1 && delta.isfinite().all().int64_value(&[]) == 1);
        // The openings are the cross-entropies at the delta's start (the end
        // of the given action, after the query), after each newline and
        // `=` of the target and before each newline, each position scored
        // alone here.
        let ex = items();
        let (mut want, mut want_working) = (vec![0f64; ex.len()], vec![0f64; ex.len()]);
        let (q, d) = (Vec::<i64>::try_from(&b.query).unwrap(), Vec::<i64>::try_from(&b.delta_start).unwrap());
        let minus_logp = |x: usize, t: i64| {
            let at = b.query.copy();
            let _ = at.get(x as i64).fill_(t);
            let label = b.labels.get(x as i64).get(t);
            -learner.model.logits_at(&out, &at).unwrap().get(x as i64).get(label.int64_value(&[])).double_value(&[])
        };
        for (x, e) in ex.iter().enumerate() {
            // The working's bytes are scored from the context's last SEP
            // up to the query, apart from the openings.
            let start = q[x] - e.working.len() as i64;
            want_working[x] = (start..q[x]).map(|t| minus_logp(x, t)).sum();
            assert_eq!(d[x], q[x] + e.action.len() as i64, "the action sits between the query and the delta");
            assert_eq!(b.labels.get(x as i64).get(d[x] - 1).int64_value(&[]), -100, "the action is given, not scored");
            let after =
                e.target.iter().enumerate().filter(|(_, y)| b"\n=".contains(*y)).map(|(i, _)| d[x] + 1 + i as i64);
            // A line's end whose byte before is a `=` or a newline is
            // already counted: each position once.
            let ends = e
                .target
                .iter()
                .enumerate()
                .filter(|&(i, &y)| y == b'\n' && (i == 0 || !b"\n=".contains(&e.target[i - 1])))
                .map(|(i, _)| d[x] + i as i64);
            want[x] = std::iter::once(d[x]).chain(after).chain(ends).map(|t| minus_logp(x, t)).sum();
        }
        let want = Tensor::from_slice(&want).to_kind(Kind::Float);
        assert!(openings.allclose(&want, 1e-4, 1e-5, false), "{openings} vs {want}");
        let want_working = Tensor::from_slice(&want_working).to_kind(Kind::Float);
        assert!(working.allclose(&want_working, 1e-4, 1e-5, false), "{working} vs {want_working}");
        assert!(want_working.double_value(&[1]) > 0.0 && want_working.double_value(&[0]) == 0.0);
        // The objective weighs the working apart: its weight moves the
        // loss by the batch's mean working cross-entropy.
        let gap = losses.objective(1.0, 3.0) - losses.objective(1.0, 1.0);
        assert!(gap.allclose(&(working.mean(Kind::Float) * 2.0), 1e-5, 1e-6, false));
        assert!(ex.iter().any(|e| e.target.contains(&b'\n')), "some delta has a line to open after");
    }

    #[test]
    fn checkpoint_round_trips_exactly_and_refuses_another_shape() {
        let dir = std::env::temp_dir().join(format!("curio-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        let mut learner = Learner::new(tiny(), Device::Cpu).unwrap();
        learner.train_step = 42;
        learner.save(&path).unwrap();
        let back = Learner::load(&path, Device::Cpu, Some(&tiny())).unwrap();
        assert_eq!(back.train_step, 42);
        let b = batch();
        let (a, z) = (learner.model.forward(&b, false).unwrap(), back.model.forward(&b, false).unwrap());
        assert!(a.hidden.equal(&z.hidden) && a.line_logits.equal(&z.line_logits));

        let wider = ModelConfig { n_embd: 64, ..tiny() };
        let err = Learner::load(&path, Device::Cpu, Some(&wider)).unwrap_err().to_string();
        assert!(err.contains("differs"), "{err}");
        // A config that lies about the weights is caught when they load.
        let meta = serde_json::json!({"config": wider, "train_step": 1});
        std::fs::write(dir.join("m.safetensors.json"), meta.to_string()).unwrap();
        let err = Learner::load(&path, Device::Cpu, None).unwrap_err().to_string();
        assert!(err.contains("do not fit"), "{err}");
        // A checkpoint saved before the working existed is read as one
        // without it, and asked as it was trained.
        let mut old = serde_json::to_value(ModelConfig { working: true, ..tiny() }).unwrap();
        old.as_object_mut().unwrap().remove("working");
        let meta = serde_json::json!({"config": old, "train_step": 1});
        std::fs::write(dir.join("m.safetensors.json"), meta.to_string()).unwrap();
        let loaded = Learner::load(&path, Device::Cpu, None).unwrap();
        assert!(!loaded.model.config.working);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_config_is_refused() {
        let bad = ModelConfig { n_embd: 30, n_head: 4, ..tiny() };
        assert!(Learner::new(bad, Device::Cpu).is_err());
    }
}
