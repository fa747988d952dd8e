//! The teacher-forced part of evaluation: each transition's action and
//! delta given the true state, one forward pass per 32 transitions.

use std::collections::BTreeMap;
use std::ops::Range;

use curio_trace::Run;
use tch::{Device, Kind, Tensor};

use super::{ActionMiss, EvalReport, MISSES_KEPT, Miss, NOTHING, action_kind, line_kind, value_type};
use crate::data::{Example, collate, examples_in};
use crate::encode::{EOS, parse_delta, token_bytes};
use crate::infer::{decode, may_end_after, work};
use crate::model::{ModelError, WorldModel};

/// The teacher-forced part of [`evaluate`] (no rollouts: one forward pass
/// per 32 transitions, then decoding past the end only of the deltas the
/// model would go on writing), cheap enough to run on a schedule while
/// training.
pub fn evaluate_transitions(model: &WorldModel, suite: &[Run], device: Device) -> Result<EvalReport, ModelError> {
    let (mut all, too_long) = fitting(model, suite);
    let working = write_working(model, &mut all, device)?;
    let mut tally = Tally::new(all.len());
    for (c, chunk) in all.chunks(32).enumerate() {
        tally.score(model, chunk, c * 32, device)?;
    }
    tally.decode_pending(model, &all, device)?;
    let skipped_too_long = too_long.len();
    Ok(EvalReport { transitions: all.len(), skipped_too_long, too_long, ..tally.report(&all, working) })
}

/// The programs of `suite` the model cannot read: indices of those with a
/// transition whose example outgrows its block.
pub fn too_long(model: &WorldModel, suite: &[Run]) -> Vec<usize> {
    fitting(model, suite).1
}

/// The k = 1 examples of the programs of `suite` whose examples all fit the
/// model's block (with no working where the model writes none), and the
/// indices of the programs left out for outgrowing it.
fn fitting(model: &WorldModel, suite: &[Run]) -> (Vec<Example>, Vec<usize>) {
    let window = model.config.window();
    let per_item: Vec<Vec<Example>> =
        suite.iter().map(|item| examples_in(item.language, &item.source, &item.input, &item.steps, &[1])).collect();
    let fits: Vec<bool> = per_item.iter().map(|ex| ex.iter().all(|e| window.fits(e))).collect();
    let mut all: Vec<Example> = per_item.into_iter().zip(&fits).filter(|(_, f)| **f).flat_map(|(e, _)| e).collect();
    if !model.config.working {
        all = all.into_iter().map(Example::unworked).collect();
    }
    (all, (0..fits.len()).filter(|&i| !fits[i]).collect())
}

/// Has the model write the working before each action that calls for it:
/// the working is the model's own, as at inference; the true one only
/// scores it. Returns (lines written exactly, lines that call for working).
fn write_working(model: &WorldModel, all: &mut [Example], device: Device) -> Result<(usize, usize), ModelError> {
    let needing: Vec<usize> = (0..all.len()).filter(|&i| !all[i].context.working.is_empty()).collect();
    let mut working_right = 0usize;
    for group in needing.chunks(32) {
        let rows: Vec<Example> = group.iter().map(|&i| Example { working: vec![], ..all[i].clone() }).collect();
        for (&i, row) in group.iter().zip(work(model, &rows, device)?) {
            working_right += usize::from(row.working == all[i].context.working);
            all[i].working = row.working;
        }
    }
    Ok((working_right, needing.len()))
}

/// One batch of transitions read teacher-forced: what scoring reads of it,
/// row by row.
struct Forced {
    /// (N, 4) event probabilities.
    ep: Tensor,
    /// (N, L) line probabilities.
    lp: Tensor,
    /// (N,) the most likely event.
    ep_best: Tensor,
    /// (N,) the most likely line.
    lp_best: Tensor,
    /// Per labelled position of the deltas (row by row, each row's in
    /// order): 1 where the most likely byte is the label, else 0.
    matched: Vec<i64>,
    /// The label's log-probability, per labelled position.
    label_lp: Vec<f64>,
    /// EOS's log-probability, per labelled position.
    eos_lp: Vec<f64>,
    /// The most likely token, per labelled position.
    best_bytes: Vec<i64>,
}

impl Forced {
    /// One forward pass over `chunk`, its figures brought to the CPU.
    fn new(model: &WorldModel, chunk: &[Example], device: Device) -> Result<Self, ModelError> {
        let batch = collate(chunk, model.config.window(), device);
        let out = tch::no_grad(|| model.forward(&batch, false))?;
        let (ep, lp) = (out.event_logits.softmax(-1, Kind::Float), out.line_logits.softmax(-1, Kind::Float));
        let (logp, _, labels) = model.target_logits(&out, &batch.delta_labels())?;
        let best = logp.argmax(-1, false);
        let cpu = |t: &tch::Tensor| t.to_kind(Kind::Double).to(Device::Cpu);
        let matched = Vec::<i64>::try_from(&best.eq_tensor(&labels).to_kind(Kind::Int64).to(Device::Cpu))?;
        let label_lp = Vec::<f64>::try_from(&cpu(&logp.gather(1, &labels.unsqueeze(1), false).squeeze_dim(1)))?;
        let eos_lp = Vec::<f64>::try_from(&cpu(&logp.select(1, EOS)))?;
        let best_bytes = Vec::<i64>::try_from(&best.to(Device::Cpu))?;
        let (ep_best, lp_best) = (ep.argmax(-1, false), lp.argmax(-1, false));
        Ok(Forced { ep, lp, ep_best, lp_best, matched, label_lp, eos_lp, best_bytes })
    }
}

/// What [`evaluate_transitions`] counts as it goes through the
/// transitions, before it turns the counts into rates.
struct Tally {
    /// Transitions whose action was right.
    correct_actions: usize,
    /// Deltas whose greedy bytes, EOS included, are all right.
    greedy_exact: usize,
    /// (right actions, transitions) per [`action_kind`].
    by_kind: BTreeMap<String, (usize, usize)>,
    /// (right actions, transitions) per [`line_kind`].
    by_line: BTreeMap<String, (usize, usize)>,
    /// Per tenth of action confidence: (confidences, right actions, transitions).
    bins: [(f64, f64, usize); 10],
    /// Per transition: what the decoder writes where it is wrong (`None`: right).
    wrong: Vec<Option<Vec<u8>>>,
    /// Transitions right up to their end, more likely whole than cut
    /// shorter, where the model goes on writing: decoded further
    /// ([`Tally::decode_pending`]).
    pending: Vec<usize>,
    /// The first [`MISSES_KEPT`] transitions whose action was wrong.
    action_misses: Vec<ActionMiss>,
}

impl Tally {
    /// Nothing counted yet, of `transitions` transitions.
    fn new(transitions: usize) -> Self {
        Tally {
            correct_actions: 0,
            greedy_exact: 0,
            by_kind: BTreeMap::new(),
            by_line: BTreeMap::new(),
            bins: [(0.0f64, 0.0f64, 0usize); 10],
            wrong: vec![None; transitions],
            pending: vec![],
            action_misses: vec![],
        }
    }

    /// Scores the transitions of `chunk`, the first of which is transition
    /// `offset`, in one forward pass.
    fn score(
        &mut self,
        model: &WorldModel,
        chunk: &[Example],
        offset: usize,
        device: Device,
    ) -> Result<(), ModelError> {
        let forced = Forced::new(model, chunk, device)?;
        // Labelled positions come row by row, each row's in order.
        let mut first = 0usize;
        for (r, e) in chunk.iter().enumerate() {
            self.score_action(e, &forced, r);
            let n = e.target.len();
            self.score_delta(e, &forced, offset + r, first..first + n + 1);
            first += n + 1;
        }
        Ok(())
    }

    /// Scores the action of `e`, row `r` of `f`: right or not, per kind,
    /// into its confidence bin; kept when wrong.
    fn score_action(&mut self, e: &Example, f: &Forced, r: usize) {
        let r64 = r as i64;
        let (ev, li) = (f.ep_best.int64_value(&[r64]), f.lp_best.int64_value(&[r64]));
        let ok = ev as usize == e.event && li as usize == e.line;
        self.correct_actions += usize::from(ok);
        let kind = self.by_kind.entry(action_kind(e).to_string()).or_default();
        *kind = (kind.0 + usize::from(ok), kind.1 + 1);
        let at_line = self.by_line.entry(line_kind(e).to_string()).or_default();
        *at_line = (at_line.0 + usize::from(ok), at_line.1 + 1);
        let confidence = f.ep.double_value(&[r64, ev]) * f.lp.double_value(&[r64, li]);
        if !ok && self.action_misses.len() < MISSES_KEPT {
            self.action_misses.push(action_miss(e, ev as usize, li as usize, confidence));
        }
        let bin = &mut self.bins[((confidence * 10.0) as usize).min(9)];
        *bin = (bin.0 + confidence, bin.1 + f64::from(u8::from(ok)), bin.2 + 1);
    }

    /// Scores the delta of `e`, transition `i`, whose labelled positions in
    /// `f` are `span` (its bytes, then EOS): wrong, right, or right up to
    /// its end where the model would go on ([`Tally::pending`]).
    fn score_delta(&mut self, e: &Example, f: &Forced, i: usize, span: Range<usize>) {
        // Teacher-forced: greedy decoding reproduces the target exactly
        // iff every teacher-forced argmax matches, EOS included.
        let n = e.target.len();
        let bytes_right = f.matched[span.start..span.end - 1].iter().all(|&m| m == 1);
        let greedy_hit = bytes_right && f.matched[span.end - 1] == 1;
        self.greedy_exact += usize::from(greedy_hit);
        // The decoder keeps the likeliest stop of its greedy path: the
        // true delta, or one of its shorter whole-line prefixes, or
        // (when the model would go on) a longer delta.
        let (lps, eos) = (&f.label_lp[span.clone()], &f.eos_lp[span.clone()]);
        let (sum, shorter, shorter_at) = shorter_stop(&e.target, lps, eos);
        if !bytes_right {
            self.wrong[i] = Some(f.best_bytes[span].iter().map(|&t| if t < 256 { t as u8 } else { b'$' }).collect());
        } else if sum + eos[n] < shorter {
            self.wrong[i] = Some([&e.target[..shorter_at], &b"$"[..]].concat());
        } else if !greedy_hit {
            self.pending.push(i);
        }
    }

    /// Decodes past the end of the transitions the model would go on from
    /// ([`Tally::pending`]): right if stopping at their end is still the
    /// likeliest stop.
    fn decode_pending(&mut self, model: &WorldModel, all: &[Example], device: Device) -> Result<(), ModelError> {
        for group in self.pending.chunks(32) {
            let rows: Vec<Example> = group.iter().map(|&i| all[i].clone()).collect();
            for (&i, d) in group.iter().zip(decode(model, &rows, device)?) {
                let (kept, _) = d.best();
                if kept > 0 {
                    self.wrong[i] = Some([&all[i].target[..], &d.bytes[..kept], &b"$"[..]].concat());
                }
            }
        }
        Ok(())
    }

    /// Delta exact matches of `all`: in all, and (hits, transitions) per
    /// type of value set ([`NOTHING`] where none is) and per kind of true
    /// action ([`action_kind`]); and the first
    /// [`MISSES_KEPT`] misses.
    fn delta_hits(&self, all: &[Example]) -> (usize, [Counts; 2], Vec<Miss>) {
        let (mut by_type, mut by_kind) = (Counts::new(), Counts::new());
        let (mut exact, mut misses) = (0usize, vec![]);
        for (e, wrong) in all.iter().zip(&self.wrong) {
            let hit = wrong.is_none();
            exact += usize::from(hit);
            if let Some(predicted) = wrong.as_ref().filter(|_| misses.len() < MISSES_KEPT) {
                misses.push(miss(e, predicted));
            }
            let kind = by_kind.entry(action_kind(e).to_string()).or_default();
            *kind = (kind.0 + usize::from(hit), kind.1 + 1);
            let mut types: std::collections::BTreeSet<&str> =
                parse_delta(&e.target).map(|d| d.set.iter().map(|(_, v)| value_type(v)).collect()).unwrap_or_default();
            if e.target.is_empty() {
                types.insert(NOTHING);
            }
            for ty in types {
                let entry = by_type.entry(ty.to_string()).or_default();
                *entry = (entry.0 + usize::from(hit), entry.1 + 1);
            }
        }
        (exact, [by_type, by_kind], misses)
    }

    /// The rates of the counts over `all`, the transitions scored, with
    /// `working` as [`write_working`] returns it; no rollouts.
    fn report(self, all: &[Example], (working_right, needing): (usize, usize)) -> EvalReport {
        let (exact, [by_type, by_kind], misses) = self.delta_hits(all);
        let n = all.len().max(1) as f64;
        EvalReport {
            action_accuracy: self.correct_actions as f64 / n,
            delta_exact: exact as f64 / n,
            delta_exact_greedy: self.greedy_exact as f64 / n,
            delta_exact_by_type: rates(by_type),
            delta_exact_by_kind: rates(by_kind),
            action_accuracy_by_kind: rates(self.by_kind),
            action_accuracy_by_line: rates(self.by_line),
            working_exact: (working_right as f64 / needing.max(1) as f64, needing),
            action_ece: self.bins.iter().map(|(conf, acc, c)| if *c == 0 { 0.0 } else { (conf - acc).abs() / n }).sum(),
            misses,
            action_misses: self.action_misses,
            ..EvalReport::default()
        }
    }
}

/// (hits, count) per key.
type Counts = BTreeMap<String, (usize, usize)>;

/// Along a delta's teacher-forced path (`lps` its bytes' log-probabilities,
/// `eos` EOS's before each): the log-probability of all its bytes, and its
/// likeliest stop at a shorter whole-line prefix with the prefix's length
/// (-inf and 0 where there is none).
fn shorter_stop(target: &[u8], lps: &[f64], eos: &[f64]) -> (f64, f64, usize) {
    let (mut sum, mut shorter, mut shorter_at) = (0.0, f64::NEG_INFINITY, 0);
    for j in 0..target.len() {
        if may_end_after(&target[..j]) && sum + eos[j] > shorter {
            (shorter, shorter_at) = (sum + eos[j], j);
        }
        sum += lps[j];
    }
    (sum, shorter, shorter_at)
}

/// (hits, count) per key as (rate, count).
fn rates(counts: BTreeMap<String, (usize, usize)>) -> BTreeMap<String, (f64, usize)> {
    counts.into_iter().map(|(k, (h, c))| (k, (h as f64 / c as f64, c))).collect()
}

/// The action miss of example `e`, whose next action the model predicted
/// as event `ev` at line `li` with probability `confidence`.
fn action_miss(e: &Example, ev: usize, li: usize, confidence: f64) -> ActionMiss {
    let (code, read) = e.current_code();
    let action = |ev: usize, li: usize| {
        String::from_utf8_lossy(&token_bytes(&e.context.action_tokens(ev, li))).trim_end().to_string()
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b.trim_ascii_end()).into_owned();
    ActionMiss {
        code,
        read,
        worked: text(&e.working),
        true_working: text(&e.context.working),
        target: action(e.event, e.line),
        predicted: action(ev, li),
        confidence,
    }
}

/// The miss of example `e`, whose delta the decoder wrote as `predicted`.
fn miss(e: &Example, predicted: &[u8]) -> Miss {
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace('\n', "⏎");
    let state = token_bytes(&e.context.context[e.context.prefix..]);
    let state = String::from_utf8_lossy(&state);
    // The current frame's header (`#`), its locals, the output (`>`), then
    // the line's code (`:`) and the values it reads (`=`).
    let (code, _) = e.current_code();
    let read = state.lines().filter(|l| l.starts_with('='));
    let locals = state.lines().skip_while(|l| !l.starts_with('#')).skip(1).take_while(|l| !l.starts_with('>'));
    let action = token_bytes(&e.action);
    Miss {
        code,
        locals: read.chain(locals).collect::<Vec<_>>().join(" "),
        action: text(action.trim_ascii_end()),
        target: text(&e.target),
        predicted: text(predicted),
    }
}

#[cfg(test)]
mod tests {
    use curio_trace::Language;

    use super::*;
    use crate::data::module_step;

    #[test]
    fn a_run_is_read_in_its_own_language() {
        let config = crate::ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, ..Default::default() };
        let learner = crate::Learner::new(config, Device::Cpu).unwrap();
        let steps = vec![module_step(0, 1, "1"), module_step(1, 2, "1"), module_step(2, 2, "2")];
        let run =
            Run { language: Language::Lua, source: "local x = 1\nx = x + 1\n".into(), input: String::new(), steps };
        let (all, too_long) = fitting(&learner.model, &[run]);
        assert!(too_long.is_empty() && all.len() == 2);
        for e in &all {
            assert_eq!(e.context.language, Language::Lua);
            assert_eq!(&token_bytes(&e.context.context[1..5]), b"lua\n", "named after BOS, as in training");
        }
    }
}
