//! The transformer core, shaped like nanoGPT's: causal self-attention,
//! the MLP and the block, over two streams (the programs, and the
//! examples that read them).

use tch::{Kind, Tensor, nn};

use super::ModelConfig;

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

    /// `x` (B, T, C) as rotated queries, rotated keys and values, (B, nh, T, hs) each.
    fn qkv(&self, x: &Tensor, rot: &(Tensor, Tensor)) -> (Tensor, Tensor, Tensor) {
        let (b, t, c) = x.size3().expect("attention input is (B, T, C)");
        // (B, T, C) -> 3 x (B, nh, T, hs)
        let heads = |z: &Tensor| z.view([b, t, self.n_head, c / self.n_head]).transpose(1, 2);
        let qkv = x.apply(&self.c_attn).split(c, 2);
        (rotate(&heads(&qkv[0]), rot), rotate(&heads(&qkv[1]), rot), heads(&qkv[2]))
    }

    /// The heads' outputs (B, nh, T, hs) back to the stream (B, T, C).
    fn merge(&self, y: Tensor, train: bool) -> Tensor {
        let (b, nh, t, hs) = y.size4().expect("attention output is (B, nh, T, hs)");
        // (B, nh, T, hs) -> (B, T, C)
        y.transpose(1, 2).contiguous().view([b, t, nh * hs]).apply(&self.c_proj).dropout(self.dropout, train)
    }

    /// The chunks (K, T, C) attend to all of their own real tokens (a
    /// chunk is read whole, so a line's marker knows the line and the
    /// lines around it). Returns the output and the chunks' keys and
    /// values, which the examples read.
    fn programs(&self, x: &Tensor, ctx: &Layout, train: bool) -> (Tensor, Tensor, Tensor) {
        let (q, k, v) = self.qkv(x, &ctx.rotary_programs);
        // No dropout on the attention weights: with it, libtorch's CPU
        // attention falls back to its unfused path, 2-3 times slower.
        let y = Tensor::scaled_dot_product_attention(&q, &k, &v, Some(&ctx.chunk_mask), 0.0, false, None, false);
        (self.merge(y, train), k, v)
    }

    /// Examples' tokens `x` (N, S, C) at rotary `rot` attend, under `mask`
    /// (N, 1, S, ..), to the keys and values `put` returns once given
    /// their own (the program's, then their own so far).
    fn own(
        &self,
        x: &Tensor,
        rot: &(Tensor, Tensor),
        mask: &Tensor,
        put: impl FnOnce(Tensor, Tensor) -> (Tensor, Tensor),
        train: bool,
    ) -> Tensor {
        let (q, k, v) = self.qkv(x, rot);
        let (keys, values) = put(k, v);
        let y = Tensor::scaled_dot_product_attention(&q, &keys, &values, Some(mask), 0.0, false, None, false);
        self.merge(y, train)
    }

    /// Both streams: the chunks as [`Self::programs`]; the examples (N, S,
    /// C) to their program's chunks (real tokens) and causally to their own
    /// tokens. Queries and keys are rotated by their positions (rotary
    /// embeddings), so "the byte before" or "the same offset in the line
    /// above" is one relation wherever a sequence sits.
    fn forward(&self, (programs, own): (&Tensor, &Tensor), ctx: &Layout, train: bool) -> (Tensor, Tensor) {
        let (y_programs, k, v) = self.programs(programs, ctx, train);
        let (kp, vp) = (ctx.per_example(&k), ctx.per_example(&v));
        let put = |ks: Tensor, vs: Tensor| (Tensor::cat(&[kp, ks], 2), Tensor::cat(&[vp, vs], 2));
        (y_programs, self.own(own, &ctx.rotary_own, &ctx.mask, put, train))
    }
}

/// What every attention layer of one batch shares: which chunks each
/// example reads, the masks, and the rotary tables.
pub(super) struct Layout {
    /// (N * W,) the chunks each example reads, in order.
    pub(super) reads: Tensor,
    /// (B, W) each program's chunks.
    pub(super) chunks: Tensor,
    /// (K, 1, 1, T) real chunk tokens.
    pub(super) chunk_mask: Tensor,
    /// (N, 1, S, W * T + S) the program's real tokens, then causal over the example's own.
    pub(super) mask: Tensor,
    /// (cos, sin), (T, hs / 2): positions in a chunk.
    pub(super) rotary_programs: (Tensor, Tensor),
    /// (cos, sin), (N, 1, S, hs / 2): the examples' positions.
    pub(super) rotary_own: (Tensor, Tensor),
}

impl Layout {
    /// Chunk-level `x` (K, nh, T, hs) as each example reads it: its
    /// program's chunks side by side, (N, nh, W * T, hs).
    pub(super) fn per_example(&self, x: &Tensor) -> Tensor {
        let (_, nh, t, hs) = x.size4().expect("keys are (K, nh, T, hs)");
        let n = self.mask.size()[0];
        let w = self.reads.size()[0] / n.max(1);
        // (N * W, nh, T, hs) -> (N, W, nh, T, hs) -> (N, nh, W, T, hs) -> (N, nh, W * T, hs)
        x.index_select(0, &self.reads).view([n, w, nh, t, hs]).permute([0, 2, 1, 3, 4]).reshape([n, nh, w * t, hs])
    }

    /// Chunk-level hidden states (K, T, C) as program rows (B, W * T, C).
    pub(super) fn rows_of(&self, x: &Tensor) -> Result<Tensor, tch::TchError> {
        let (_, t, c) = x.size3()?;
        let (b, w) = self.chunks.size2()?;
        Ok(x.f_index_select(0, &self.chunks.view([-1]))?.view([b, w * t, c]))
    }
}

/// Rotary tables for positions `pos` (any shape): (cos, sin), each of
/// shape `pos` + [hs / 2], frequencies from 1 down to 1 / 10 000.
pub(super) fn rotary(pos: &Tensor, hs: i64) -> (Tensor, Tensor) {
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
pub(super) struct Block {
    ln_1: nn::LayerNorm,
    attn: CausalSelfAttention,
    ln_2: nn::LayerNorm,
    mlp: Mlp,
}

impl Block {
    pub(super) fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        Block {
            ln_1: nn::layer_norm(&p / "ln_1", vec![cfg.n_embd], Default::default()),
            attn: CausalSelfAttention::new(&p / "attn", cfg),
            ln_2: nn::layer_norm(&p / "ln_2", vec![cfg.n_embd], Default::default()),
            mlp: Mlp::new(&p / "mlp", cfg),
        }
    }

    pub(super) fn forward(&self, (programs, own): (Tensor, Tensor), ctx: &Layout, train: bool) -> (Tensor, Tensor) {
        let (a_programs, a_own) = self.attn.forward((&programs.apply(&self.ln_1), &own.apply(&self.ln_1)), ctx, train);
        (self.mlp_after(programs + a_programs, train), self.mlp_after(own + a_own, train))
    }

    fn mlp_after(&self, x: Tensor, train: bool) -> Tensor {
        &x + self.mlp.forward(&x.apply(&self.ln_2), train)
    }

    /// The chunks alone (K, T, C), at inference: the output and the
    /// layer's chunk keys and values, which the examples read.
    pub(super) fn programs(&self, x: Tensor, ctx: &Layout) -> (Tensor, Tensor, Tensor) {
        let (a, k, v) = self.attn.programs(&x.apply(&self.ln_1), ctx, false);
        (self.mlp_after(x + a, false), k, v)
    }

    /// New own tokens `x` (N, m, C) at rotary `rot`, at inference: they
    /// attend under `mask` to what `put` returns once given their keys and
    /// values (see [`CausalSelfAttention::own`]).
    pub(super) fn own(
        &self,
        x: Tensor,
        rot: &(Tensor, Tensor),
        mask: &Tensor,
        put: impl FnOnce(Tensor, Tensor) -> (Tensor, Tensor),
    ) -> Tensor {
        let a = self.attn.own(&x.apply(&self.ln_1), rot, mask, put, false);
        self.mlp_after(x + a, false)
    }
}
