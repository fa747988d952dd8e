//! Scores for choosing what to run: the predictive entropy of a program's
//! next step, the disagreement of dropout masks over its next line, and
//! the uncertainty summed along the run the model foresees; and each
//! example's loss under a model, which `rho` subtracts.

use tch::{Device, Kind, Tensor};

use super::{Decoding, Reader, Start, entropy, rollout_until, work, work_reading};
use crate::data::{Example, collate};
use crate::model::{ModelError, WorldModel};

/// Predictive entropy per row, in nats: the action's (event plus line)
/// plus, given the most likely action, the first delta byte's, which says
/// whether and how the state changes. Two forward passes, no decoding:
/// cheap enough to rank many candidates. A row whose context fits the
/// block but not with its action after it scores its action alone.
pub fn uncertainty(model: &WorldModel, examples: &[Example], device: Device) -> Result<Vec<f64>, ModelError> {
    let window = model.config.window();
    tch::no_grad(|| {
        let mut reader = Reader::new(model, device, Decoding::Cached);
        let asked: Vec<Example> = examples.iter().map(|e| Example::query(e.context.clone())).collect();
        let asked = work_reading(&mut reader, &asked)?;
        let (event_logits, line_logits) = reader.action(&asked)?;
        let event = Vec::<i64>::try_from(&event_logits.argmax(-1, false).to(Device::Cpu))?;
        let line = Vec::<i64>::try_from(&line_logits.argmax(-1, false).to(Device::Cpu))?;
        let action = entropy(&event_logits) + entropy(&line_logits);
        let mut total = Vec::<f64>::try_from(&action.to_kind(Kind::Double).to(Device::Cpu))?;
        let given: Vec<Example> =
            asked.iter().enumerate().map(|(r, e)| e.given(event[r] as usize, line[r] as usize)).collect();
        let fitting: Vec<usize> = (0..given.len()).filter(|&r| window.fits(&given[r])).collect();
        if !fitting.is_empty() {
            let first = reader.next_bytes(&given, &fitting, false)?;
            let first = Vec::<f64>::try_from(&entropy(&first).to_kind(Kind::Double).to(Device::Cpu))?;
            for (&r, h) in fitting.iter().zip(first) {
                total[r] += h;
            }
        }
        Ok(total)
    })
}

/// BALD-style disagreement of the line pointer across `samples` dropout
/// masks: H(mean p) - mean H(p), per row, in nats.
pub fn disagreement(
    model: &WorldModel,
    examples: &[Example],
    samples: usize,
    device: Device,
) -> Result<Vec<f64>, ModelError> {
    tch::no_grad(|| {
        let batch = collate(&work(model, examples, device)?, model.config.window(), device);
        let mut probs = vec![];
        let mut entropies = vec![];
        for _ in 0..samples.max(2) {
            let out = model.forward(&batch, true)?;
            probs.push(out.line_logits.softmax(-1, Kind::Float));
            entropies.push(entropy(&out.line_logits));
        }
        let mean = Tensor::stack(&probs, 0).mean_dim(0, false, Kind::Float);
        let h_mean = (mean.log().nan_to_num(0.0, 0.0, 0.0) * &mean).sum_dim_intlist(-1, false, Kind::Float).neg();
        let mean_h = Tensor::stack(&entropies, 0).mean_dim(0, false, Kind::Float);
        Ok(Vec::<f64>::try_from(&(h_mean - mean_h).to_kind(Kind::Double))?)
    })
}

/// What a step the model cannot read on is taken to cost, in nats: a byte
/// drawn uniformly.
const UNREADABLE_STEP: f64 = 5.545_177_444_479_562; // ln 256

/// Uncertainty over the run the model foresees, per start, in nats: a
/// greedy rollout of up to `horizon` steps, or to the end it predicts,
/// summing each step's action entropy and mean delta-byte entropy. The
/// whole run counts, not only its first step: a program whose first line
/// is plain but whose loop is not scores its loop. A rollout cut short (a
/// delta that does not parse, a state too long to read) counts its mean
/// step so far, or [`UNREADABLE_STEP`] with none, for each step left: what
/// it cannot foresee is no less uncertain.
pub fn trajectory_uncertainty(
    model: &WorldModel,
    starts: &[impl Start],
    horizon: usize,
    device: Device,
) -> Result<Vec<f64>, ModelError> {
    let ends = |_: usize, _: usize, s: &crate::State| crate::foresee::ends_run(s);
    let rollouts = tch::no_grad(|| rollout_until(model, starts, horizon, device, ends))?;
    Ok(rollouts
        .iter()
        .map(|r| {
            let steps: Vec<f64> =
                r.iter().map_while(|s| s.as_ref()).map(|(_, p)| p.action_entropy + p.delta_entropy).collect();
            let sum: f64 = steps.iter().sum();
            let cut_short = r.is_empty() || r.last().is_some_and(|s| s.is_none());
            if !cut_short {
                return sum;
            }
            let per_step = if steps.is_empty() { UNREADABLE_STEP } else { sum / steps.len() as f64 };
            sum + per_step * horizon.saturating_sub(steps.len()) as f64
        })
        .collect())
}

/// Where the model places each row, for spreading a batch: its reading at
/// the action query ([`WorldModel::reading`], no dropout, no working),
/// scaled to unit length, so that 1 - a · b is how differently it reads two
/// candidates.
pub fn embeddings(model: &WorldModel, examples: &[Example], device: Device) -> Result<Vec<Vec<f32>>, ModelError> {
    if examples.is_empty() {
        return Ok(vec![]);
    }
    tch::no_grad(|| {
        let batch = collate(examples, model.config.window(), device);
        let read = model.reading(&batch)?;
        let norm = read.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-6);
        Ok(Vec::<Vec<f32>>::try_from(&(read / norm).to_kind(Kind::Float).to(Device::Cpu))?)
    })
}

/// Each example's loss under `model` as a training step counts it for the
/// example's priority (action plus delta, [`crate::Losses`]), without
/// dropout or gradients; `None` for one the model cannot read. What the
/// loop's `rho` strategy subtracts from the trained model's loss.
pub fn example_losses(
    model: &WorldModel,
    examples: &[Example],
    device: Device,
) -> Result<Vec<Option<f32>>, ModelError> {
    let window = model.config.window();
    let readable: Vec<usize> = (0..examples.len()).filter(|&i| window.fits(&examples[i])).collect();
    let mut out = vec![None; examples.len()];
    tch::no_grad(|| -> Result<(), ModelError> {
        for chunk in readable.chunks(32) {
            let rows: Vec<Example> = chunk
                .iter()
                .map(|&i| match model.config.working {
                    true => examples[i].clone(),
                    false => examples[i].clone().unworked(),
                })
                .collect();
            let batch = collate(&rows, window, device);
            let losses = model.losses(&batch, &model.forward(&batch, false)?)?;
            let per = Vec::<f32>::try_from(&(&losses.action + &losses.delta).to_kind(Kind::Float).to(Device::Cpu))?;
            for (&i, v) in chunk.iter().zip(per) {
                out[i] = Some(v);
            }
        }
        Ok(())
    })?;
    Ok(out)
}
