//! The world model, built up from small pieces like nanoGPT: attention ->
//! MLP -> block -> model, plus two heads on top: the action head (event
//! class and a pointer into the program's lines) and the state-delta head
//! (next-byte logits over the target region).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn};
use thiserror::Error;

use crate::encode::{EVENTS, LINE_REL_VOCAB, VOCAB};

/// The model's shape; saved with every checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Token vocabulary: 256 bytes plus specials. Default: `VOCAB`.
    pub vocab: i64,
    /// Width of the residual stream. Default: 128.
    pub n_embd: i64,
    /// Attention heads per block. Default: 4.
    pub n_head: i64,
    /// Transformer blocks. Default: 2.
    pub n_layer: i64,
    /// Longest sequence (context + target), tokens. Default: 1024.
    pub block_size: i64,
    /// Dropout probability, also used at inference for MC-dropout. Default: 0.1.
    pub dropout: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig { vocab: VOCAB, n_embd: 128, n_head: 4, n_layer: 2, block_size: 1024, dropout: 0.1 }
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

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let (b, t, c) = x.size3().expect("attention input is (B, T, C)");
        let hs = c / self.n_head;
        let qkv = x.apply(&self.c_attn).split(c, 2);
        // (B, T, C) -> (B, nh, T, hs)
        let heads = |z: &Tensor| z.view([b, t, self.n_head, hs]).transpose(1, 2);
        let (q, k, v) = (heads(&qkv[0]), heads(&qkv[1]), heads(&qkv[2]));
        let p = if train { self.dropout } else { 0.0 };
        let y = Tensor::scaled_dot_product_attention(&q, &k, &v, None::<Tensor>, p, true, None, false);
        // (B, nh, T, hs) -> (B, T, C)
        let y = y.transpose(1, 2).contiguous().view([b, t, c]);
        y.apply(&self.c_proj).dropout(self.dropout, train)
    }
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

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let x = x + self.attn.forward(&x.apply(&self.ln_1), train);
        &x + self.mlp.forward(&x.apply(&self.ln_2), train)
    }
}

/// One batch, padded: inputs, delta labels, and where the action is read.
#[derive(Debug)]
pub struct Batch {
    /// (B, T) token ids.
    pub tokens: Tensor,
    /// (B, T) next-token labels; -100 outside each row's target region.
    pub labels: Tensor,
    /// (B, T) each token's source line relative to the current line.
    pub line_rel: Tensor,
    /// (B,) position of each row's action query (the context's last SEP).
    pub query: Tensor,
    /// (B, L) positions of each row's LINE markers (0 where padded).
    pub lines: Tensor,
    /// (B, L) true where `lines` holds a real line.
    pub line_mask: Tensor,
    /// (B,) event class targets.
    pub event: Tensor,
    /// (B,) line targets (0-based line index).
    pub line: Tensor,
}

/// What the heads produce for a batch.
#[derive(Debug)]
pub struct Output {
    /// (B, T, C) final hidden states; the delta head reads them where it
    /// is needed ([`WorldModel::target_logits`], [`WorldModel::logits_at`]),
    /// not at every position.
    pub hidden: Tensor,
    /// (B, 4) event logits.
    pub event_logits: Tensor,
    /// (B, L) line-pointer logits (-inf where padded).
    pub line_logits: Tensor,
}

/// The byte-level world model.
#[derive(Debug)]
pub struct WorldModel {
    wte: nn::Embedding,
    wpe: nn::Embedding,
    wle: nn::Embedding,
    blocks: Vec<Block>,
    ln_f: nn::LayerNorm,
    lm_head: nn::Linear,
    event_head: nn::Linear,
    ptr_query: nn::Linear,
    ptr_key: nn::Linear,
    pub config: ModelConfig,
}

impl WorldModel {
    pub fn new(p: &nn::Path, config: ModelConfig) -> Result<Self, ModelError> {
        if config.n_embd % config.n_head != 0 || config.n_layer < 1 || config.vocab < VOCAB {
            return Err(ModelError::Config(format!(
                "n_embd ({}) must divide by n_head ({}), n_layer >= 1, vocab >= {VOCAB}",
                config.n_embd, config.n_head
            )));
        }
        let c = config.n_embd;
        let h = &(p / "transformer");
        let linear = |name: &str, out: i64| nn::linear(p / name, c, out, Default::default());
        Ok(WorldModel {
            wte: nn::embedding(h / "wte", config.vocab, c, Default::default()),
            wpe: nn::embedding(h / "wpe", config.block_size, c, Default::default()),
            wle: nn::embedding(h / "wle", LINE_REL_VOCAB, c, Default::default()),
            blocks: (0..config.n_layer).map(|i| Block::new(h / "h" / i, &config)).collect(),
            ln_f: nn::layer_norm(h / "ln_f", vec![c], Default::default()),
            lm_head: linear("lm_head", config.vocab),
            event_head: linear("event_head", EVENTS.len() as i64),
            ptr_query: linear("ptr_query", c),
            ptr_key: linear("ptr_key", c),
            config,
        })
    }

    /// Hidden states (B, T, C) of a token batch.
    fn hidden(&self, tokens: &Tensor, line_rel: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        let (_, t) = tokens.size2()?;
        if t > self.config.block_size {
            return Err(ModelError::Config(format!(
                "sequence of {t} tokens; block_size is {}",
                self.config.block_size
            )));
        }
        let pos = Tensor::arange(t, (Kind::Int64, tokens.device()));
        let x = tokens.apply(&self.wte) + pos.apply(&self.wpe) + line_rel.apply(&self.wle);
        let mut x = x.dropout(self.config.dropout, train);
        for block in &self.blocks {
            x = block.forward(&x, train);
        }
        Ok(x.apply(&self.ln_f))
    }

    /// All three heads. `train` turns dropout on (training, MC-dropout).
    pub fn forward(&self, batch: &Batch, train: bool) -> Result<Output, ModelError> {
        let h = self.hidden(&batch.tokens, &batch.line_rel, train)?;
        let (b, _, c) = h.size3()?;
        let query = at_positions(&h, &batch.query)?;
        let l = batch.lines.size()[1];
        // (B, L) -> (B, L, C): the hidden state at each LINE marker.
        let l_idx = batch.lines.unsqueeze(-1).expand([b, l, c], false);
        let keys = h.f_gather(1, &l_idx, false)?.apply(&self.ptr_key);
        // (B, C) x (B, C, L) -> (B, L)
        let scores = query.apply(&self.ptr_query).unsqueeze(1).matmul(&keys.transpose(1, 2)).squeeze_dim(1);
        let line_logits = (scores / (c as f64).sqrt()).masked_fill(&batch.line_mask.logical_not(), f64::NEG_INFINITY);
        Ok(Output { event_logits: query.apply(&self.event_head), line_logits, hidden: h })
    }

    /// Next-byte logits at every labelled position: (N, V), with each
    /// position's row (N,) and label (N,).
    pub fn target_logits(&self, hidden: &Tensor, labels: &Tensor) -> Result<(Tensor, Tensor, Tensor), ModelError> {
        let (b, t, c) = hidden.size3()?;
        let flat = labels.view([b * t]);
        let idx = flat.ne(-100).nonzero().squeeze_dim(1);
        // (B, T, C) -> (B*T, C) -> (N, C)
        let h = hidden.contiguous().view([b * t, c]).f_index_select(0, &idx)?;
        Ok((h.apply(&self.lm_head), idx.floor_divide_scalar(t), flat.f_index_select(0, &idx)?))
    }

    /// Next-byte logits (B, V) at one position (B,) per row.
    pub fn logits_at(&self, hidden: &Tensor, positions: &Tensor) -> Result<Tensor, ModelError> {
        Ok(at_positions(hidden, positions)?.apply(&self.lm_head))
    }

    /// Per-row losses (B,) of each head: (event + line, delta bytes).
    pub fn losses(&self, batch: &Batch, out: &Output) -> Result<(Tensor, Tensor), ModelError> {
        let action =
            out.event_logits.f_cross_entropy_loss::<Tensor>(&batch.event, None, tch::Reduction::None, -100, 0.0)?
                + out.line_logits.f_cross_entropy_loss::<Tensor>(&batch.line, None, tch::Reduction::None, -100, 0.0)?;
        let (logits, rows, labels) = self.target_logits(&out.hidden, &batch.labels)?;
        let per_token = logits.f_cross_entropy_loss::<Tensor>(&labels, None, tch::Reduction::None, -100, 0.0)?;
        let b = batch.labels.size()[0];
        let sums = Tensor::zeros([b], (Kind::Float, logits.device())).f_index_add(0, &rows, &per_token)?;
        let counted = batch.labels.ne(-100).to_kind(Kind::Float).sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0);
        let delta = sums / counted;
        Ok((action, delta))
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
    use crate::data::{collate, examples};
    use curio_interpreter_pool::{Event, Step};

    fn tiny() -> ModelConfig {
        ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size: 256, ..ModelConfig::default() }
    }

    fn batch() -> Batch {
        let step = |i: u32, line: u32, x: &str| Step {
            step: i,
            event: Event::Line,
            line,
            function: "<module>".into(),
            depth: 1,
            locals: vec![("x".into(), x.into())],
            stdout: String::new(),
            value: None,
        };
        let steps = vec![step(0, 1, "0"), step(1, 2, "1"), step(2, 3, "'é'"), step(3, 1, "[2]")];
        let ex = examples("x = 0\nx = 1\nx = 'é'\n", &steps, &[1, 2]);
        assert_eq!(ex.len(), 5);
        collate(&ex, Device::Cpu)
    }

    #[test]
    fn heads_have_the_documented_shapes() {
        let learner = Learner::new(tiny(), Device::Cpu).unwrap();
        let b = batch();
        let out = learner.model.forward(&b, false).unwrap();
        let (rows, t) = b.tokens.size2().unwrap();
        assert_eq!(out.hidden.size(), [rows, t, 32]);
        let (logits, row_of, _) = learner.model.target_logits(&out.hidden, &b.labels).unwrap();
        let labelled = b.labels.ne(-100).sum(Kind::Int64).int64_value(&[]);
        assert_eq!((logits.size(), row_of.size()), (vec![labelled, VOCAB], vec![labelled]));
        assert_eq!(out.event_logits.size(), [rows, 4]);
        assert_eq!(out.line_logits.size(), [rows, 3]);
        let (action, delta) = learner.model.losses(&b, &out).unwrap();
        assert_eq!((action.size(), delta.size()), (vec![rows], vec![rows]));
        assert!(action.isfinite().all().int64_value(&[]) == 1 && delta.isfinite().all().int64_value(&[]) == 1);
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
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_config_is_refused() {
        let bad = ModelConfig { n_embd: 30, n_head: 4, ..tiny() };
        assert!(Learner::new(bad, Device::Cpu).is_err());
    }
}
