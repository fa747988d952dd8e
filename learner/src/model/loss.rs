//! What training minimises: the action's cross-entropy, and the delta's
//! bytes weighed so that the decisions in it count.

use tch::{Kind, Tensor};

use super::{Batch, ModelError, Output, WorldModel};

impl WorldModel {
    /// The losses of both heads on a batch.
    pub fn losses(&self, batch: &Batch, out: &Output) -> Result<Losses, ModelError> {
        let targets = &batch.targets;
        let action =
            out.event_logits.f_cross_entropy_loss::<Tensor>(&targets.event, None, tch::Reduction::None, -100, 0.0)?
                + out.line_logits.f_cross_entropy_loss::<Tensor>(
                    &targets.line,
                    None,
                    tch::Reduction::None,
                    -100,
                    0.0,
                )?;
        let (logits, owner, labels) = self.target_logits(out, &targets.labels)?;
        let per_token = logits.f_cross_entropy_loss::<Tensor>(&labels, None, tch::Reduction::None, -100, 0.0)?;
        let (n, s) = targets.labels.size2()?;
        let zeros = || Tensor::zeros([n], (Kind::Float, logits.device()));
        let sums = zeros().f_index_add(0, &owner, &per_token)?;
        let counted =
            targets.labels.ne(-100).to_kind(Kind::Float).sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0);
        // The delta's decisions, as collation labels them: what comes next,
        // where a value starts and where a line ends.
        let labelled = targets.labels.view([n * s]).ne(-100).nonzero().squeeze_dim(1);
        let opens = targets.decisions.view([n * s]).f_index_select(0, &labelled)?;
        let at = labelled.remainder(s);
        let worked = at.lt_tensor(&batch.examples.delta_start.f_index_select(0, &owner)?);
        let openings = zeros().f_index_add(0, &owner, &(&per_token * opens.to_kind(Kind::Float)))?;
        // Every byte of the working, which the action then reads.
        let working = zeros().f_index_add(0, &owner, &(&per_token * worked.to_kind(Kind::Float)))?;
        Ok(Losses {
            action,
            delta: &sums / counted,
            delta_sum: sums,
            delta_per_byte: per_token.mean(Kind::Float),
            openings,
            working,
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
    /// (N,) each example's cross-entropy summed over the bytes it writes:
    /// minus the log-probability of its working and delta, nats.
    pub delta_sum: Tensor,
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
