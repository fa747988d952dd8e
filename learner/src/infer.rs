//! Asking the model: actions with their confidence, greedy delta decoding
//! (batched), MC-dropout disagreement, and rollouts that feed predictions
//! back in.

use tch::{Device, Kind, Tensor};

use crate::data::{Example, collate};
use crate::encode::{EOS, EVENTS, State, apply, encode_context, parse_delta};
use crate::model::{ModelError, WorldModel};

/// Longest delta the decoder writes, bytes.
const MAX_DELTA: usize = 512;

/// One predicted step.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub event: usize,
    /// 0-based line index.
    pub line: usize,
    /// p(event) × p(line) of the chosen action.
    pub confidence: f64,
    /// Entropy of the event plus the line distribution, nats.
    pub action_entropy: f64,
    /// Greedy delta bytes (EOS not included).
    pub delta: Vec<u8>,
    /// Mean per-byte entropy of the decoded delta, nats.
    pub delta_entropy: f64,
}

fn entropy(logits: &Tensor) -> Tensor {
    let logp = logits.log_softmax(-1, Kind::Float);
    // 0 * -inf is NaN where a padded line has probability 0.
    (logp.exp() * logp.nan_to_num(0.0, 0.0, 0.0))
        .nan_to_num(0.0, 0.0, 0.0)
        .sum_dim_intlist(-1, false, Kind::Float)
        .neg()
}

/// Greedy predictions for a batch of contexts (actions and targets in
/// `examples` are ignored): the action first, then, given it, every row's
/// delta decoded in parallel. A delta ends at EOS, at [`MAX_DELTA`] bytes,
/// or where its row would outgrow the model's block (it then usually fails
/// to parse: a wrong prediction, not an error).
pub fn predict(model: &WorldModel, examples: &[Example], device: Device) -> Result<Vec<Prediction>, ModelError> {
    let block = model.config.block_size as usize;
    tch::no_grad(|| {
        let asked: Vec<Example> = examples.iter().map(|e| Example::query(e.context.clone())).collect();
        let first = model.forward(&collate(&asked, device), false)?;
        let (event_p, line_p) =
            (first.event_logits.softmax(-1, Kind::Float), first.line_logits.softmax(-1, Kind::Float));
        let action_entropy = entropy(&first.event_logits) + entropy(&first.line_logits);
        let (event, line) = (event_p.argmax(-1, false), line_p.argmax(-1, false));
        let chosen = |r: usize| (event.int64_value(&[r as i64]) as usize, line.int64_value(&[r as i64]) as usize);
        let mut rows: Vec<Example> = asked
            .iter()
            .enumerate()
            .map(|(r, e)| {
                let (ev, li) = chosen(r);
                e.given(ev, li)
            })
            .collect();
        let mut byte_entropy = vec![0.0; rows.len()];
        // Rows still decoding (a context whose action outgrows the block
        // gets none: it then predicts no change).
        let mut live: Vec<usize> = (0..rows.len()).filter(|&r| rows[r].len() <= block).collect();
        while !live.is_empty() {
            let decoding: Vec<Example> = live.iter().map(|&r| rows[r].clone()).collect();
            let out = model.forward(&collate(&decoding, device), false)?;
            // The logits that predict each row's next byte sit at its last filled position.
            let at: Vec<i64> = live.iter().map(|&r| (rows[r].delta_start() + rows[r].target.len()) as i64).collect();
            let logits = model.logits_at(&out, &Tensor::from_slice(&at).to(device))?;
            let next = Vec::<i64>::try_from(&logits.argmax(-1, false).to(Device::Cpu))?;
            let ent = Vec::<f64>::try_from(&entropy(&logits).to_kind(Kind::Double).to(Device::Cpu))?;
            let mut still = vec![];
            for (j, &r) in live.iter().enumerate() {
                byte_entropy[r] += ent[j];
                if next[j] != EOS && next[j] < 256 && rows[r].target.len() < MAX_DELTA && rows[r].len() < block {
                    rows[r].target.push(next[j] as u8);
                    still.push(r);
                }
            }
            live = still;
        }
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(r, row)| {
                let (e, l) = chosen(r);
                Prediction {
                    event: e,
                    line: l,
                    confidence: event_p.double_value(&[r as i64, e as i64])
                        * line_p.double_value(&[r as i64, l as i64]),
                    action_entropy: action_entropy.double_value(&[r as i64]),
                    delta_entropy: byte_entropy[r] / (row.target.len() + 1) as f64,
                    delta: row.target,
                }
            })
            .collect())
    })
}

/// Predictive entropy per row, in nats: the action's (event plus line)
/// plus, given the most likely action, the first delta byte's, which says
/// whether and how the state changes. Two forward passes, no decoding:
/// cheap enough to rank many candidates. A row whose context fits the
/// block but not with its action after it scores its action alone.
pub fn uncertainty(model: &WorldModel, examples: &[Example], device: Device) -> Result<Vec<f64>, ModelError> {
    let block = model.config.block_size as usize;
    tch::no_grad(|| {
        let asked: Vec<Example> = examples.iter().map(|e| Example::query(e.context.clone())).collect();
        let out = model.forward(&collate(&asked, device), false)?;
        let event = Vec::<i64>::try_from(&out.event_logits.argmax(-1, false).to(Device::Cpu))?;
        let line = Vec::<i64>::try_from(&out.line_logits.argmax(-1, false).to(Device::Cpu))?;
        let action = entropy(&out.event_logits) + entropy(&out.line_logits);
        let mut total = Vec::<f64>::try_from(&action.to_kind(Kind::Double))?;
        let given: Vec<(usize, Example)> = asked
            .iter()
            .enumerate()
            .map(|(r, e)| (r, e.given(event[r] as usize, line[r] as usize)))
            .filter(|(_, e)| e.len() <= block)
            .collect();
        if !given.is_empty() {
            let rows: Vec<Example> = given.iter().map(|(_, e)| e.clone()).collect();
            let batch = collate(&rows, device);
            let first = model.logits_at(&model.forward(&batch, false)?, &batch.delta_start)?;
            let first = Vec::<f64>::try_from(&entropy(&first).to_kind(Kind::Double))?;
            for ((r, _), h) in given.iter().zip(first) {
                total[*r] += h;
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
        let batch = collate(examples, device);
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

/// One rollout: the predicted state and prediction per step; `None` where a
/// prediction did not parse (the rollout ends there).
pub type Rollout = Vec<Option<(State, Prediction)>>;

/// Rolls each (source, start state) forward `horizon` steps, feeding every
/// predicted state back in. A prediction that does not parse ends that
/// rollout (its later states are `None`).
pub fn rollout(
    model: &WorldModel,
    starts: &[(String, State)],
    horizon: usize,
    device: Device,
) -> Result<Vec<Rollout>, ModelError> {
    rollout_until(model, starts, horizon, device, |_, _, _| false)
}

/// [`rollout`], where `stop(i, h, state)` ends rollout `i` after its
/// predicted state at step `h` (1-based) is recorded: an evaluation stops
/// a rollout at its first divergence instead of decoding what no figure uses.
pub fn rollout_until(
    model: &WorldModel,
    starts: &[(String, State)],
    horizon: usize,
    device: Device,
    mut stop: impl FnMut(usize, usize, &State) -> bool,
) -> Result<Vec<Rollout>, ModelError> {
    let mut current: Vec<Option<State>> = starts.iter().map(|(_, s)| Some(s.clone())).collect();
    let mut paths: Vec<Rollout> = vec![vec![]; starts.len()];
    let block = model.config.block_size as usize;
    for _ in 0..horizon {
        let mut live = vec![];
        let mut examples = vec![];
        for i in 0..starts.len() {
            let Some(state) = &current[i] else { continue };
            let e = Example::query(encode_context(&starts[i].0, state, 1));
            // A predicted state too long for the model to read on ends the
            // rollout, as a prediction that does not parse does.
            if e.len() >= block {
                paths[i].push(None);
                current[i] = None;
                continue;
            }
            live.push(i);
            examples.push(e);
        }
        if live.is_empty() {
            break;
        }
        let predictions = predict(model, &examples, device)?;
        for (&i, p) in live.iter().zip(predictions) {
            let state = current[i].take().expect("live");
            let next = parse_delta(&p.delta).ok().map(|d| apply(&state, EVENTS[p.event], p.line as u32 + 1, &d));
            paths[i].push(next.clone().map(|s| (s, p)));
            current[i] = next.filter(|s| !stop(i, paths[i].len(), s));
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{examples, module_step};
    use crate::encode::states;
    use crate::model::{Learner, ModelConfig};

    #[test]
    fn decoding_stops_at_the_block_and_rollouts_end_where_states_outgrow_it() {
        let source = "x = 0\nx = x + 1\n";
        let steps = [module_step(0, 1, "0"), module_step(1, 2, "0"), module_step(2, 2, "1")];
        let ex = examples(source, "", &steps, &[1]);
        // The longest context with the longest action it can be given
        // ("#exception 2:x = x + 1\n").
        let longest = ex.iter().map(|e| e.context.context.len()).max().unwrap() as i64 + 23;
        for seed in 0..4 {
            tch::manual_seed(seed);
            // Room for a few bytes of delta beyond it: an untrained model
            // rarely writes EOS that soon.
            let config =
                ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size: longest + 4, ..ModelConfig::default() };
            let learner = Learner::new(config, Device::Cpu).unwrap();
            for (p, e) in predict(&learner.model, &ex, Device::Cpu).unwrap().iter().zip(&ex) {
                let given = e.given(p.event, p.line);
                assert!(given.action.len() <= 23, "{:?}", given.action);
                assert!(given.len() + p.delta.len() <= (longest + 4) as usize, "{} bytes", p.delta.len());
            }
            // A start whose state holds a value too long for the block: the
            // rollout ends at once instead of failing.
            let mut long = states(&steps)[0].clone();
            long.stack[0].locals = vec![("x".into(), "9".repeat(64))];
            let paths = rollout(&learner.model, &[(source.to_string(), long)], 3, Device::Cpu).unwrap();
            assert_eq!(paths, vec![vec![None]]);
        }
    }

    #[test]
    fn uncertainty_scores_a_context_that_fits_only_without_its_action() {
        let source = "x = 0\nx = x + 1\n";
        let steps = [module_step(0, 1, "0"), module_step(1, 2, "0"), module_step(2, 2, "1")];
        let ex = examples(source, "", &steps, &[1]);
        // One model's weights, read with two limits on the sequence.
        let longest = ex.iter().map(|e| e.context.context.len()).max().unwrap() as i64;
        let config =
            ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size: longest + 32, ..ModelConfig::default() };
        let mut learner = Learner::new(config, Device::Cpu).unwrap();
        for e in &ex {
            let mut score = |block_size: usize| {
                learner.model.config.block_size = block_size as i64;
                let scores = uncertainty(&learner.model, std::slice::from_ref(e), Device::Cpu).unwrap();
                assert_eq!(scores.len(), 1);
                scores[0]
            };
            // Room for the context only: it scores its action's entropy
            // alone, which is less than with the first delta byte's added.
            let (tight, roomy) = (score(e.context.context.len()), score(e.context.context.len() + 32));
            assert!(tight.is_finite() && tight > 0.0 && tight < roomy, "{tight} vs {roomy}");
        }
    }
}
