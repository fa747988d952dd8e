//! Asking the model: actions with their confidence, delta decoding
//! (batched, cut at the most likely stop), MC-dropout disagreement, and
//! rollouts that feed predictions back in.

use tch::{Device, Kind, Tensor};

use crate::data::{Example, collate};
use crate::encode::{EOS, EVENTS, State, apply, encode_context, parse_delta};
use crate::model::{ModelError, WorldModel};

/// Longest delta the decoder writes, bytes.
const MAX_DELTA: usize = 512;
/// Longest working the model writes before its action, bytes.
const MAX_WORKING: usize = 160;

/// The most bytes of working the model may write for `e`'s line: its code
/// or the same line with the values it reads in
/// ([`Example::current_code`]), whichever is longer, a verdict and a byte
/// to spare. The true working is never longer (arithmetic done shortens a
/// line; a loop's is shorter than its head), so the cap only stops a model
/// that does not stop: an untrained one would otherwise take
/// [`MAX_WORKING`] forward passes per line.
fn working_room(e: &Example) -> usize {
    let (code, read) = e.current_code();
    (code.len().max(read.len()) + 1 + b" False\n".len()).min(MAX_WORKING)
}

/// One predicted step.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The event, an index into [`crate::EVENTS`].
    pub event: usize,
    /// 0-based line index.
    pub line: usize,
    /// p(event) × p(line) of the chosen action.
    pub confidence: f64,
    /// Entropy of the event plus the line distribution, nats.
    pub action_entropy: f64,
    /// Delta bytes (EOS not included): the greedy bytes up to their most
    /// likely stop ([`Decoded::best`]).
    pub delta: Vec<u8>,
    /// Mean per-byte entropy of the decoded delta, nats.
    pub delta_entropy: f64,
    /// The line as the model worked it out before its action
    /// ([`crate::work`]), newline included; empty where it calls for none.
    pub working: Vec<u8>,
}

fn entropy(logits: &Tensor) -> Tensor {
    let logp = logits.log_softmax(-1, Kind::Float);
    // 0 * -inf is NaN where a padded line has probability 0.
    (logp.exp() * logp.nan_to_num(0.0, 0.0, 0.0))
        .nan_to_num(0.0, 0.0, 0.0)
        .sum_dim_intlist(-1, false, Kind::Float)
        .neg()
}

/// Predictions for a batch of contexts (actions and targets in `examples`
/// are ignored): the most likely action first, then, given it, every row's
/// delta decoded in parallel ([`decode`]) and cut at its most likely stop.
/// A context whose action outgrows the model's block predicts no change.
pub fn predict(model: &WorldModel, examples: &[Example], device: Device) -> Result<Vec<Prediction>, ModelError> {
    tch::no_grad(|| {
        let asked: Vec<Example> = examples.iter().map(|e| Example::query(e.context.clone())).collect();
        let asked = work(model, &asked, device)?;
        let first = model.forward(&collate(&asked, device), false)?;
        let (event_p, line_p) =
            (first.event_logits.softmax(-1, Kind::Float), first.line_logits.softmax(-1, Kind::Float));
        let action_entropy = entropy(&first.event_logits) + entropy(&first.line_logits);
        let (event, line) = (event_p.argmax(-1, false), line_p.argmax(-1, false));
        let chosen = |r: usize| (event.int64_value(&[r as i64]) as usize, line.int64_value(&[r as i64]) as usize);
        let rows: Vec<Example> = asked
            .iter()
            .enumerate()
            .map(|(r, e)| {
                let (ev, li) = chosen(r);
                e.given(ev, li)
            })
            .collect();
        Ok(decode(model, &rows, device)?
            .into_iter()
            .enumerate()
            .map(|(r, d)| {
                let (e, l) = chosen(r);
                Prediction {
                    event: e,
                    line: l,
                    confidence: event_p.double_value(&[r as i64, e as i64])
                        * line_p.double_value(&[r as i64, l as i64]),
                    action_entropy: action_entropy.double_value(&[r as i64]),
                    delta_entropy: d.entropy.0 / d.entropy.1.max(1) as f64,
                    delta: d.bytes[..d.best().0].to_vec(),
                    working: rows[r].working.clone(),
                }
            })
            .collect())
    })
}

/// A delta decoded greedily, and where it is best stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The greedy bytes written after what the row already held.
    pub bytes: Vec<u8>,
    /// Where the delta may end, as (bytes kept of `bytes`, log-probability
    /// of those bytes and of EOS after them): where decoding started and
    /// after every newline (a delta is whole lines), and where greedy
    /// decoding chose EOS.
    pub stops: Vec<(usize, f64)>,
    /// Summed entropy of the next-byte distributions read, nats, and how
    /// many were read.
    pub entropy: (f64, usize),
}

impl Decoded {
    /// The most likely of the stops: greedy decoding picks each byte on its
    /// own, so it writes a change whenever a change is a little more likely
    /// than none, though *that* change may be much less likely than no
    /// change at all. `(bytes kept, log-probability)`; all of `bytes` when
    /// there is no stop (a row with no room to decode).
    pub fn best(&self) -> (usize, f64) {
        self.stops.iter().copied().fold((self.bytes.len(), f64::NEG_INFINITY), |b, s| if s.1 > b.1 { s } else { b })
    }
}

/// Whether a delta whose bytes so far are `written` may end here: a delta
/// is whole lines, so before anything or after a newline.
pub(crate) fn may_end_after(written: &[u8]) -> bool {
    written.last().is_none_or(|&b| b == b'\n')
}

/// Greedy decoding of every row's delta in parallel, continuing from what
/// each row's target already holds, with the log-probability of every
/// place it could stop ([`Decoded::stops`]). A row ends at EOS, at
/// [`MAX_DELTA`] bytes, where it would outgrow the model's block, or where
/// no stop further on could be likelier than one it passed: every byte
/// written makes the path less likely, so once the path is less likely
/// than that stop, [`Decoded::best`] is settled. An untrained model, which
/// rarely writes EOS, is done within a few bytes instead of
/// [`MAX_DELTA`] forward passes. A row already too long for the block
/// decodes nothing.
pub fn decode(model: &WorldModel, rows: &[Example], device: Device) -> Result<Vec<Decoded>, ModelError> {
    decode_until(model, rows, device, true)
}

/// [`decode`], with `settled` false decoding on past the point where the
/// best stop is settled (to check that cutting there changes nothing).
fn decode_until(
    model: &WorldModel,
    rows: &[Example],
    device: Device,
    settled: bool,
) -> Result<Vec<Decoded>, ModelError> {
    tch::no_grad(|| {
        let block = model.config.block_size as usize;
        let mut rows = rows.to_vec();
        let starts: Vec<usize> = rows.iter().map(|r| r.target.len()).collect();
        let mut done: Vec<Decoded> =
            rows.iter().map(|_| Decoded { bytes: vec![], stops: vec![], entropy: (0.0, 0) }).collect();
        let mut cum = vec![0.0f64; rows.len()];
        let mut live: Vec<usize> = (0..rows.len()).filter(|&r| rows[r].len() <= block).collect();
        while !live.is_empty() {
            let decoding: Vec<Example> = live.iter().map(|&r| rows[r].clone()).collect();
            let out = model.forward(&collate(&decoding, device), false)?;
            // The log-probabilities of each row's next byte sit at its last filled position.
            let at: Vec<i64> = live.iter().map(|&r| (rows[r].delta_start() + rows[r].target.len()) as i64).collect();
            let logp = model.logits_at(&out, &Tensor::from_slice(&at).to(device))?;
            let (best, next) = logp.max_dim(-1, false);
            let next = Vec::<i64>::try_from(&next.to(Device::Cpu))?;
            let best = Vec::<f64>::try_from(&best.to_kind(Kind::Double).to(Device::Cpu))?;
            let eos = Vec::<f64>::try_from(&logp.select(1, EOS).to_kind(Kind::Double).to(Device::Cpu))?;
            let ent = Vec::<f64>::try_from(&entropy(&logp).to_kind(Kind::Double).to(Device::Cpu))?;
            let mut still = vec![];
            for (j, &r) in live.iter().enumerate() {
                let d = &mut done[r];
                d.entropy = (d.entropy.0 + ent[j], d.entropy.1 + 1);
                let written = &rows[r].target[starts[r]..];
                if may_end_after(written) || next[j] == EOS {
                    d.stops.push((written.len(), cum[r] + eos[j]));
                }
                let beaten = settled && cum[r] + best[j] < d.best().1;
                if next[j] != EOS && next[j] < 256 && written.len() < MAX_DELTA && rows[r].len() < block && !beaten {
                    rows[r].target.push(next[j] as u8);
                    cum[r] += best[j];
                    still.push(r);
                }
            }
            live = still;
        }
        for (d, (row, start)) in done.iter_mut().zip(rows.iter().zip(starts)) {
            d.bytes = row.target[start..].to_vec();
        }
        Ok(done)
    })
}

/// `examples` with the working their lines call for written by the model
/// ([`crate::work`]): greedy bytes from the context's end up to a newline
/// (one is added where it writes none within [`MAX_WORKING`] bytes or the
/// block), all rows in parallel. Rows that need none, or whose working is
/// written, are returned as they are; a model that writes none
/// ([`crate::ModelConfig::working`] off) gets every row without.
pub fn work(model: &WorldModel, examples: &[Example], device: Device) -> Result<Vec<Example>, ModelError> {
    if !model.config.working {
        return Ok(examples.iter().cloned().map(Example::unworked).collect());
    }
    tch::no_grad(|| {
        let block = model.config.block_size as usize;
        let mut rows = examples.to_vec();
        let room: Vec<usize> = rows.iter().map(working_room).collect();
        let mut live: Vec<usize> = (0..rows.len()).filter(|&r| rows[r].needs_work()).collect();
        while !live.is_empty() {
            let writing: Vec<Example> = live.iter().map(|&r| rows[r].clone()).collect();
            let out = model.forward(&collate(&writing, device), false)?;
            let at: Vec<i64> = writing.iter().map(|e| e.query_position() as i64).collect();
            let next = model.logits_at(&out, &Tensor::from_slice(&at).to(device))?.argmax(-1, false);
            let next = Vec::<i64>::try_from(&next.to(Device::Cpu))?;
            let mut still = vec![];
            for (&r, byte) in live.iter().zip(next) {
                let row = &mut rows[r];
                let full = row.working.len() + 1 >= room[r] || row.len() + 1 >= block;
                row.working.push(if (0..256).contains(&byte) && !full { byte as u8 } else { b'\n' });
                if row.needs_work() {
                    still.push(r);
                }
            }
            live = still;
        }
        Ok(rows)
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
        let asked = work(model, &asked, device)?;
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
        let batch = collate(&work(model, examples, device)?, device);
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
mod tests;
