//! The tensors of one batch, as collation prepares them.

use tch::{Kind, Tensor};

/// One batch of N examples of B programs. Each program is held once, as
/// its chunks ([`crate::Window`]): rows of `programs.tokens`, K in all,
/// listed per program in `programs.chunks`. Each example's own tokens (its
/// state, then its target) are a row of `examples.tokens` that attends to
/// every chunk of its program and causally to itself. Examples of one
/// program cost a fraction of what they would each with a copy of it.
///
/// A program's chunks side by side, `programs.chunks` wide, make its
/// *row*: (B, P) with P = `programs.chunks` columns times the chunk's
/// length. `programs.lines` points into it.
#[derive(Debug)]
pub struct Batch {
    /// The programs, each once, as chunks.
    pub programs: Programs,
    /// The examples' own rows.
    pub examples: Examples,
    /// What the heads are trained to write.
    pub targets: Targets,
}

/// A batch's programs, each once, as chunks ([`Batch`]).
#[derive(Debug)]
pub struct Programs {
    /// (K, T) the programs' chunks of tokens: BOS, the source with LINE
    /// markers; the last row is padding when a program has fewer chunks
    /// than another.
    pub tokens: Tensor,
    /// (K, T) their source lines.
    pub line: Tensor,
    /// (K, T) true at real (not padding) program tokens.
    pub mask: Tensor,
    /// (K, T) their bracket depths ([`crate::nesting`]).
    pub depth: Tensor,
    /// (B, W) each program's chunks, rows of `tokens` in order; padded
    /// with a chunk of padding.
    pub chunks: Tensor,
    /// (B, L) positions of each program's LINE markers in its row (0 where
    /// padded).
    pub lines: Tensor,
    /// (B, L) true where `lines` holds a real line.
    pub line_mask: Tensor,
}

/// A batch's examples: each one's own row, and what it reads of its
/// program ([`Batch`]).
#[derive(Debug)]
pub struct Examples {
    /// (N, S) each example's own tokens: SEP, k, the state, SEP, the target.
    pub tokens: Tensor,
    /// (N, S) their position ids (after the chunk's, [`crate::Window::own_offset`]).
    pub positions: Tensor,
    /// (N, S) their line ids (the current line).
    pub line_id: Tensor,
    /// (N, S) their bracket depths ([`crate::nesting`]).
    pub depth: Tensor,
    /// (N,) each example's program (row of `programs.chunks`).
    pub row: Tensor,
    /// (N,) position in `tokens` of each example's action query (the last
    /// SEP of its context, or the end of the working written after it).
    pub query: Tensor,
    /// (N,) position in `tokens` of the token that predicts each example's
    /// first delta byte: the end of the action given after the query (the
    /// query itself when none is given).
    pub delta_start: Tensor,
    /// (N, L) each line's offset from the example's current line.
    pub line_rel: Tensor,
    /// (N, L) where control can go from the current line (flow flags).
    pub line_flow: Tensor,
    /// (N,) every flag of `line_flow` at once (a call, a handler, leaving
    /// the function): what the event head reads beside the query.
    pub flow: Tensor,
}

/// What a batch's heads are trained to write ([`Batch`]).
#[derive(Debug)]
pub struct Targets {
    /// (N, S) next-token labels: the working's bytes, then the delta's;
    /// -100 elsewhere.
    pub labels: Tensor,
    /// (N, S) true where a label is one of the delta's decisions
    /// ([`crate::encode::decides`]): the loss weighs these again.
    pub decisions: Tensor,
    /// (N,) event class targets.
    pub event: Tensor,
    /// (N,) line targets (0-based line index).
    pub line: Tensor,
}

impl Batch {
    /// Tokens the batch holds, padding included: each program once, and
    /// each example's own.
    pub fn padded_tokens(&self) -> i64 {
        (self.programs.tokens.numel() + self.examples.tokens.numel()) as i64
    }

    /// `targets.labels` of the deltas alone (the working's are -100).
    pub fn delta_labels(&self) -> Tensor {
        let labels = &self.targets.labels;
        let s = labels.size()[1];
        let at = Tensor::arange(s, (Kind::Int64, labels.device())).unsqueeze(0);
        labels.masked_fill(&at.lt_tensor(&self.examples.delta_start.unsqueeze(1)), -100)
    }
}
