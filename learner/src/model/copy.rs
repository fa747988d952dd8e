//! The state-delta head: next-byte log-probabilities as a gated mixture
//! of the vocabulary, two copy pointers, a continuation of the last copy,
//! and a byte derived from one pointed at.

use tch::{Kind, Tensor, nn};

use super::{ModelError, Output, WorldModel};

/// What the copy gate weighs, in the order of its outputs.
#[derive(Clone, Copy)]
enum Source {
    /// A byte spelled from the vocabulary.
    Vocab,
    /// `copy_at`: the token pointed at.
    CopyAt,
    /// `copy_after`: the token after the one pointed at.
    CopyAfter,
    /// The token after wherever the byte before was copied from.
    Continue,
    /// A byte derived from one pointed at.
    Derived,
}

/// How many sources the gate weighs.
pub(super) const SOURCES: i64 = 5;

/// The gate's weight (M, 1) of one source.
fn weight(gate: &Tensor, source: Source) -> Tensor {
    gate.narrow(1, source as i64, 1)
}

impl WorldModel {
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
        let after_source =
            Tensor::cat(&[before.after.zeros_like().narrow(1, 0, 1), before.after.narrow(1, 0, s - 1)], 1);
        let copied = (&before.at * weight(&before.gate, Source::CopyAt)
            + after_source * weight(&before.gate, Source::CopyAfter))
            * holds;
        let spelled = (before.vocab * weight(&before.gate, Source::Vocab)
            + before.derived * weight(&before.gate, Source::Derived))
        .f_gather(1, &written, false)?;
        let total = (&spelled + copied.sum_dim_intlist(1, true, Kind::Float)).clamp_min(1e-9);
        // The continuation repeats the token after each source; what was
        // spelled (from the vocabulary or derived) continues from the vocabulary.
        let (going_on, spelled) = (copied / &total, spelled / total);
        let g = &here.gate;
        let vocab = here.vocab * (weight(g, Source::Vocab) + weight(g, Source::Continue) * spelled)
            + here.derived * weight(g, Source::Derived);
        let after = here.after * weight(g, Source::CopyAfter) + going_on * weight(g, Source::Continue);
        let zeros = || Tensor::zeros([m, self.config.vocab], (Kind::Float, at.device()));
        let mixed = vocab
            + zeros().f_scatter_add(1, &tokens, &(here.at * weight(g, Source::CopyAt)))?
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
