//! Asking the model: actions with their confidence, delta decoding
//! (batched, cut at the most likely stop), MC-dropout disagreement, and
//! rollouts that feed predictions back in, greedy or drawn ([`Choice`]).

use tch::{Device, Kind, Tensor};

use crate::data::{Example, collate};
use crate::encode::{EOS, EVENTS, State, apply, encode_context_in, parse_delta};
use crate::model::{Cache, ModelError, WorldModel};
use curio_trace::Language;

mod sample;
mod score;
pub use sample::{Choice, distribution, foresee_sampled, outputs};
pub use score::{disagreement, embeddings, example_losses, trajectory_uncertainty, uncertainty};

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

/// How the model is asked for the bytes it writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decoding {
    /// Each byte after one pass over only the tokens it adds, the rest
    /// kept from before ([`crate::Cache`]).
    #[default]
    Cached,
    /// Each byte after a whole forward pass over the program and every
    /// token before it: the reference the cache is checked and timed
    /// against.
    Full,
}

/// Asks the model about rows that grow a few bytes at a time, by
/// [`Decoding`].
struct Reader<'m> {
    model: &'m WorldModel,
    device: Device,
    how: Decoding,
    /// The cache, and the row of `rows` each of its rows holds.
    cache: Option<(Cache, Vec<usize>)>,
    /// How each byte, event and line is chosen.
    choice: Choice,
}

impl<'m> Reader<'m> {
    fn new(model: &'m WorldModel, device: Device, how: Decoding) -> Self {
        Reader { model, device, how, cache: None, choice: Choice::Greedy }
    }

    /// Next-byte log-probabilities (live, V) after each live row's last
    /// own token. With `compact`, the cache drops the rows no longer live
    /// once they are half of it.
    fn next_bytes(&mut self, rows: &[Example], live: &[usize], compact: bool) -> Result<Tensor, ModelError> {
        if self.how == Decoding::Full {
            let asked: Vec<Example> = live.iter().map(|&r| rows[r].clone()).collect();
            let out = self.model.forward(&collate(&asked, self.model.config.window(), self.device), false)?;
            let at: Vec<i64> = asked.iter().map(|e| e.own_len() as i64 - 1).collect();
            return self.model.logits_at(&out, &Tensor::from_slice(&at).to(self.device));
        }
        let held = self.sync(rows, live, compact)?;
        let logp = self.model.next_bytes(&self.cache.as_ref().expect("synced").0)?;
        let pick: Vec<i64> =
            live.iter().map(|r| held.iter().position(|h| h == r).expect("live rows are held") as i64).collect();
        Ok(logp.f_index_select(0, &Tensor::from_slice(&pick).to(self.device))?)
    }

    /// Event (N, 4) and line (N, L) logits at every row's query: `rows`
    /// are all the rows, in order, with nothing after their working.
    fn action(&mut self, rows: &[Example]) -> Result<(Tensor, Tensor), ModelError> {
        if self.how == Decoding::Full {
            let out = self.model.forward(&collate(rows, self.model.config.window(), self.device), false)?;
            return Ok((out.event_logits, out.line_logits));
        }
        let all: Vec<usize> = (0..rows.len()).collect();
        if self.sync(rows, &all, false)?.len() < rows.len() {
            return Err(ModelError::Config("a context outgrows the model's window".into()));
        }
        self.model.action_next(&self.cache.as_ref().expect("synced").0)
    }

    /// Brings the cache up to date with `rows` (filled, the first time,
    /// with every row the model can read); returns the rows it holds.
    fn sync(&mut self, rows: &[Example], live: &[usize], compact: bool) -> Result<Vec<usize>, ModelError> {
        let Some((cache, held)) = &mut self.cache else {
            let window = self.model.config.window();
            let held: Vec<usize> = (0..rows.len()).filter(|&r| window.holds(&rows[r])).collect();
            let first: Vec<Example> = held.iter().map(|&r| rows[r].clone()).collect();
            let batch = collate(&first, window, self.device);
            self.cache = Some((self.model.prefill(batch)?, held.clone()));
            return Ok(held);
        };
        if compact && live.len() * 2 <= held.len() {
            let keep: Vec<usize> = (0..held.len()).filter(|&i| live.contains(&held[i])).collect();
            cache.keep(&keep)?;
            *held = keep.iter().map(|&i| held[i]).collect();
        }
        let new: Vec<Vec<i64>> =
            held.iter().enumerate().map(|(i, &r)| rows[r].own_tokens()[cache.len(i)..].to_vec()).collect();
        self.model.extend(cache, &new)?;
        Ok(held.clone())
    }
}

/// Predictions for a batch of contexts (actions and targets in `examples`
/// are ignored): the most likely action first, then, given it, every row's
/// delta decoded in parallel ([`decode`]) and cut at its most likely stop.
/// A context whose action outgrows the model's block predicts no change.
pub fn predict(model: &WorldModel, examples: &[Example], device: Device) -> Result<Vec<Prediction>, ModelError> {
    predict_with(model, examples, device, Decoding::Cached)
}

/// [`predict`], decoding as `how` says.
pub fn predict_with(
    model: &WorldModel,
    examples: &[Example],
    device: Device,
    how: Decoding,
) -> Result<Vec<Prediction>, ModelError> {
    predict_choosing(model, examples, (device, how), &mut Choice::Greedy)
}

/// [`predict_with`], each action and byte chosen as `choice` says (drawn
/// ones leave `choice`'s generator where they stopped).
fn predict_choosing(
    model: &WorldModel,
    examples: &[Example],
    (device, how): (Device, Decoding),
    choice: &mut Choice,
) -> Result<Vec<Prediction>, ModelError> {
    tch::no_grad(|| {
        let mut reader = Reader::new(model, device, how);
        reader.choice = std::mem::replace(choice, Choice::Greedy);
        let predicted = predict_reading(&mut reader, examples);
        *choice = reader.choice;
        predicted
    })
}

/// [`predict_choosing`] through `reader`.
fn predict_reading(reader: &mut Reader, examples: &[Example]) -> Result<Vec<Prediction>, ModelError> {
    let asked: Vec<Example> = examples.iter().map(|e| Example::query(e.context.clone())).collect();
    let asked = work_reading(reader, &asked)?;
    let (event_logits, line_logits) = reader.action(&asked)?;
    let (event_p, line_p) = (event_logits.softmax(-1, Kind::Float), line_logits.softmax(-1, Kind::Float));
    let action_entropy = entropy(&event_logits) + entropy(&line_logits);
    let (event, line) = (reader.choice.choose(&event_logits)?, reader.choice.choose(&line_logits)?);
    let chosen = |r: usize| (event[r] as usize, line[r] as usize);
    let rows: Vec<Example> = asked
        .iter()
        .enumerate()
        .map(|(r, e)| {
            let (ev, li) = chosen(r);
            e.given(ev, li)
        })
        .collect();
    Ok(decode_reading(reader, &rows, true)?
        .into_iter()
        .enumerate()
        .map(|(r, d)| {
            let (e, l) = chosen(r);
            Prediction {
                event: e,
                line: l,
                confidence: event_p.double_value(&[r as i64, e as i64]) * line_p.double_value(&[r as i64, l as i64]),
                action_entropy: action_entropy.double_value(&[r as i64]),
                delta_entropy: d.entropy.0 / d.entropy.1.max(1) as f64,
                delta: d.bytes[..d.best().0].to_vec(),
                working: rows[r].working.clone(),
            }
        })
        .collect())
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
    tch::no_grad(|| decode_reading(&mut Reader::new(model, device, Decoding::Cached), rows, settled))
}

/// [`decode_until`] through `reader`.
fn decode_reading(reader: &mut Reader, rows: &[Example], settled: bool) -> Result<Vec<Decoded>, ModelError> {
    let window = reader.model.config.window();
    let mut rows = rows.to_vec();
    let starts: Vec<usize> = rows.iter().map(|r| r.target.len()).collect();
    let mut done: Vec<Decoded> =
        rows.iter().map(|_| Decoded { bytes: vec![], stops: vec![], entropy: (0.0, 0) }).collect();
    let mut cum = vec![0.0f64; rows.len()];
    let mut live: Vec<usize> = (0..rows.len()).filter(|&r| window.fits(&rows[r])).collect();
    // Drawn bytes end where an end is drawn: no stop is settled early.
    let drawn = reader.choice.samples();
    while !live.is_empty() {
        let logp = reader.next_bytes(&rows, &live, true)?;
        let (best, next) = match drawn {
            false => logp.max_dim(-1, false),
            true => {
                let next = Tensor::from_slice(&reader.choice.choose(&logp)?).to(logp.device());
                (logp.gather(1, &next.unsqueeze(1), false).squeeze_dim(1), next)
            }
        };
        let next = Vec::<i64>::try_from(&next.to(Device::Cpu))?;
        let best = Vec::<f64>::try_from(&best.to_kind(Kind::Double).to(Device::Cpu))?;
        let eos = Vec::<f64>::try_from(&logp.select(1, EOS).to_kind(Kind::Double).to(Device::Cpu))?;
        let ent = Vec::<f64>::try_from(&entropy(&logp).to_kind(Kind::Double).to(Device::Cpu))?;
        let mut still = vec![];
        for (j, &r) in live.iter().enumerate() {
            let d = &mut done[r];
            d.entropy = (d.entropy.0 + ent[j], d.entropy.1 + 1);
            let written = &rows[r].target[starts[r]..];
            if (may_end_after(written) && !drawn) || next[j] == EOS {
                d.stops.push((written.len(), cum[r] + eos[j]));
            }
            let beaten = settled && !drawn && cum[r] + best[j] < d.best().1;
            if next[j] != EOS && next[j] < 256 && written.len() < MAX_DELTA && window.room(&rows[r]) > 0 && !beaten {
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
}

/// `examples` with the working their lines call for written by the model
/// ([`crate::work`]): greedy bytes from the context's end up to a newline
/// (one is added where it writes none within [`MAX_WORKING`] bytes or the
/// block), all rows in parallel. Rows that need none, or whose working is
/// written, are returned as they are; a model that writes none
/// ([`crate::ModelConfig::working`] off) gets every row without.
pub fn work(model: &WorldModel, examples: &[Example], device: Device) -> Result<Vec<Example>, ModelError> {
    tch::no_grad(|| work_reading(&mut Reader::new(model, device, Decoding::Cached), examples))
}

/// [`work`] through `reader`.
fn work_reading(reader: &mut Reader, examples: &[Example]) -> Result<Vec<Example>, ModelError> {
    if !reader.model.config.working {
        return Ok(examples.iter().cloned().map(Example::unworked).collect());
    }
    let window = reader.model.config.window();
    // The working is written after the context: an action or target the
    // rows already hold waits until it is done.
    let mut rows: Vec<Example> =
        examples.iter().map(|e| Example { action: vec![], target: vec![], ..e.clone() }).collect();
    let room: Vec<usize> = rows.iter().map(working_room).collect();
    let after: Vec<usize> = examples.iter().map(|e| e.action.len() + e.target.len()).collect();
    let mut live: Vec<usize> = (0..rows.len()).filter(|&r| rows[r].needs_work() && window.fits(&examples[r])).collect();
    while !live.is_empty() {
        let next = reader.next_bytes(&rows, &live, false)?;
        let next = reader.choice.choose(&next)?;
        let mut still = vec![];
        for (&r, byte) in live.iter().zip(next) {
            let row = &mut rows[r];
            let full = row.working.len() + 1 >= room[r] || window.room(row) <= 1 + after[r];
            row.working.push(if (0..256).contains(&byte) && !full { byte as u8 } else { b'\n' });
            if row.needs_work() {
                still.push(r);
            }
        }
        live = still;
    }
    Ok(rows.into_iter().zip(examples).map(|(w, e)| Example { working: w.working, ..e.clone() }).collect())
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
    starts: &[impl Start],
    horizon: usize,
    device: Device,
    stop: impl FnMut(usize, usize, &State) -> bool,
) -> Result<Vec<Rollout>, ModelError> {
    rollout_with(model, starts, (horizon, Decoding::Cached), device, stop)
}

/// Where a rollout starts: a program and its first state, and the
/// program's language (Python for a bare `(source, state)`).
pub trait Start {
    /// The language the program is read in.
    fn language(&self) -> Language;
    /// The program.
    fn source(&self) -> &str;
    /// The state the rollout starts from.
    fn state(&self) -> &State;
}

impl Start for (String, State) {
    fn language(&self) -> Language {
        Language::Python
    }
    fn source(&self) -> &str {
        &self.0
    }
    fn state(&self) -> &State {
        &self.1
    }
}

impl Start for (Language, String, State) {
    fn language(&self) -> Language {
        self.0
    }
    fn source(&self) -> &str {
        &self.1
    }
    fn state(&self) -> &State {
        &self.2
    }
}

/// [`rollout_until`] over `horizon` steps, decoding as `how` says.
pub fn rollout_with(
    model: &WorldModel,
    starts: &[impl Start],
    (horizon, how): (usize, Decoding),
    device: Device,
    stop: impl FnMut(usize, usize, &State) -> bool,
) -> Result<Vec<Rollout>, ModelError> {
    rollout_reading(model, starts, (horizon, how), (device, &mut Choice::Greedy), stop)
}

/// [`rollout_until`], every action and byte chosen as `choice` says.
pub(crate) fn rollout_choosing(
    model: &WorldModel,
    starts: &[impl Start],
    horizon: usize,
    choice: &mut Choice,
    device: Device,
    stop: impl FnMut(usize, usize, &State) -> bool,
) -> Result<Vec<Rollout>, ModelError> {
    rollout_reading(model, starts, (horizon, Decoding::Cached), (device, choice), stop)
}

/// The rollouts of [`rollout_with`] and [`rollout_choosing`].
fn rollout_reading(
    model: &WorldModel,
    starts: &[impl Start],
    (horizon, how): (usize, Decoding),
    (device, choice): (Device, &mut Choice),
    mut stop: impl FnMut(usize, usize, &State) -> bool,
) -> Result<Vec<Rollout>, ModelError> {
    let mut current: Vec<Option<State>> = starts.iter().map(|s| Some(s.state().clone())).collect();
    let mut paths: Vec<Rollout> = vec![vec![]; starts.len()];
    let window = model.config.window();
    for _ in 0..horizon {
        let mut live = vec![];
        let mut examples = vec![];
        for i in 0..starts.len() {
            let Some(state) = &current[i] else { continue };
            let e = Example::query(encode_context_in(starts[i].language(), starts[i].source(), state, 1));
            // A predicted state too long for the model to read on ends the
            // rollout, as a prediction that does not parse does.
            if !window.fits(&e) || window.room(&e) == 0 {
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
        let predictions = predict_choosing(model, &examples, (device, how), choice)?;
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
