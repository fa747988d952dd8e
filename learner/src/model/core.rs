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
pub(super) struct Layout {
    /// (N,) each example's program row.
    pub(super) rows: Tensor,
    /// (B, 1, 1, P) real program tokens.
    pub(super) program_mask: Tensor,
    /// (N, 1, S, P + S) the program's real tokens, then causal over the example's own.
    pub(super) mask: Tensor,
    /// (cos, sin), (P, hs / 2): the program's positions.
    pub(super) rotary_programs: (Tensor, Tensor),
    /// (cos, sin), (N, 1, S, hs / 2): the examples' positions.
    pub(super) rotary_own: (Tensor, Tensor),
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
        let (programs, own) = (programs + a_programs, own + a_own);
        let mlp = |x: Tensor| &x + self.mlp.forward(&x.apply(&self.ln_2), train);
        (mlp(programs), mlp(own))
    }
}
