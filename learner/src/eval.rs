//! Evaluation on held-out traces: action accuracy, state-delta exact match
//! (overall and per value type), rollout exact match per horizon with the
//! cause of each first divergence, final-output accuracy, calibration.

use std::collections::BTreeMap;

use curio_trace::{Event, Run};
use serde::Serialize;
use tch::{Device, Kind};

use crate::data::{Example, collate, examples};
use crate::encode::{EOS, EVENTS, State, parse_delta, states_reading, token_bytes};
use crate::infer::{decode, may_end_after, rollout_until, work};
use crate::model::{ModelError, WorldModel};

/// Rollout horizons reported.
pub const HORIZONS: [usize; 5] = [1, 5, 10, 20, 50];

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct EvalReport {
    pub transitions: usize,
    /// Programs left out because a sequence outgrew the model's block.
    pub skipped_too_long: usize,
    pub action_accuracy: f64,
    /// Deltas decoded exactly: greedy bytes cut at their most likely stop
    /// ([`crate::Decoded::best`]), as `predict` writes them.
    pub delta_exact: f64,
    /// Deltas whose greedy bytes, EOS included, are all right (no cut).
    pub delta_exact_greedy: f64,
    /// Delta exact match of transitions that set a value of each type,
    /// and of those that change nothing at all ([`NOTHING`]).
    pub delta_exact_by_type: BTreeMap<String, (f64, usize)>,
    /// Rollout exact match per horizon: (rate, rollouts long enough).
    pub rollout_exact: BTreeMap<usize, (f64, usize)>,
    /// First divergences of failed rollouts that began with a wrong action.
    pub divergence_wrong_action: usize,
    /// ...and those that began with a wrong state.
    pub divergence_wrong_state: usize,
    /// Mean first divergent step of failed rollouts.
    pub mean_first_divergence: f64,
    /// Rollouts whose predicted stdout over the whole run equals the real one.
    pub final_output_accuracy: f64,
    /// Expected calibration error of the action confidence (10 bins).
    pub action_ece: f64,
    /// Action accuracy per kind of true next action (see [`action_kind`]):
    /// (rate, transitions).
    pub action_accuracy_by_kind: BTreeMap<String, (f64, usize)>,
    /// Lines that call for working ([`crate::work`]) whose working the model
    /// wrote exactly: (rate, lines).
    pub working_exact: (f64, usize),
    /// Action accuracy per kind of current line (see [`line_kind`]): where
    /// the next line is decided, (rate, transitions).
    pub action_accuracy_by_line: BTreeMap<String, (f64, usize)>,
    /// The first [`MISSES_KEPT`] transitions whose delta was wrong, to read.
    #[serde(skip)]
    pub misses: Vec<Miss>,
    /// The first [`MISSES_KEPT`] transitions whose action was wrong.
    #[serde(skip)]
    pub action_misses: Vec<ActionMiss>,
}

/// The [`EvalReport::delta_exact_by_type`] key of transitions whose true
/// delta is empty: no value set or removed, no frame change, no output.
pub const NOTHING: &str = "nothing";

/// Wrong delta predictions kept in a report.
pub const MISSES_KEPT: usize = 200;

/// One transition whose teacher-forced delta was wrong.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Miss {
    /// The code of the current line.
    pub code: String,
    /// The state's lines after the code (the code with its values read in,
    /// when it reads any, then `name=value` per local), joined by spaces.
    pub locals: String,
    /// The action given to the delta (`#event line:code`).
    pub action: String,
    pub target: String,
    /// What the decoder gets wrong: the most likely byte at each position
    /// of the true delta (teacher-forced), or, where it stops early or goes
    /// on past the end, the delta it keeps (`$` is EOS).
    pub predicted: String,
}

/// One transition whose teacher-forced action was wrong.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActionMiss {
    /// The code of the current line.
    pub code: String,
    /// The same code with the values it reads, when it reads any.
    pub read: String,
    /// The working the model wrote before its action, and the true one
    /// ([`crate::work`]); empty where the line calls for none.
    pub worked: String,
    pub true_working: String,
    /// The true next action and the predicted one, `#event line:code`.
    pub target: String,
    pub predicted: String,
    /// The model's probability of its (wrong) choice.
    pub confidence: f64,
}

/// What kind of line an example's current line is, by what its next line
/// turns on: `compares, computes` (a comparison with arithmetic in it,
/// `if x * 5 < y // 2:`), `compares` (a comparison of values as they are),
/// `loop head` (a `for` or `while` without a comparison) or `other`.
pub fn line_kind(e: &Example) -> &'static str {
    let (code, _) = e.current_code();
    let compares = crate::data::compares(&code);
    if compares && crate::work::computes(&code) {
        "compares, computes"
    } else if compares {
        "compares"
    } else if code.starts_with("for ") || code.starts_with("while ") {
        "loop head"
    } else {
        "other"
    }
}

/// What kind of move an example's true next action is: the event, and for
/// a line event where it goes from the current line (`next` the line
/// below, `back` up, e.g. to a loop head, `skip` further down, `same`).
pub fn action_kind(e: &Example) -> &'static str {
    match (EVENTS[e.event], e.context.current_line()) {
        (Event::Call, _) => "call",
        (Event::Return, _) => "return",
        (Event::Exception, _) => "exception",
        (Event::Line, None) => "line: skip",
        (Event::Line, Some(c)) => match e.line.cmp(&c) {
            std::cmp::Ordering::Less => "line: back",
            std::cmp::Ordering::Equal => "line: same",
            std::cmp::Ordering::Greater if e.line == c + 1 => "line: next",
            std::cmp::Ordering::Greater => "line: skip",
        },
    }
}

/// The Python type a repr shows, for per-type accuracy.
pub fn value_type(repr: &str) -> &'static str {
    let r = repr.trim();
    match r.as_bytes().first() {
        Some(b'\'') | Some(b'"') => "str",
        Some(b'[') => "list",
        Some(b'{') => "dict",
        Some(b'(') => "tuple",
        _ if r == "True" || r == "False" => "bool",
        _ if r == "None" => "None",
        _ if r.parse::<i64>().is_ok()
            || (r.len() > 18 && r.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit())) =>
        {
            "int"
        }
        _ if r.parse::<f64>().is_ok() => "float",
        _ => "other",
    }
}

/// Evaluates `model` on `suite` (k = 1 transitions, rollouts from step 0).
pub fn evaluate(model: &WorldModel, suite: &[Run], device: Device) -> Result<EvalReport, ModelError> {
    let (mut report, fitting) = evaluate_transitions(model, suite, device)?;
    rollouts(model, &fitting, device, &mut report)?;
    Ok(report)
}

/// The teacher-forced part of [`evaluate`] (no rollouts: one forward pass
/// per 32 transitions, then decoding past the end only of the deltas the
/// model would go on writing), cheap enough to run on a schedule while
/// training. Also returns the programs that fit the model's block.
pub fn evaluate_transitions(
    model: &WorldModel,
    suite: &[Run],
    device: Device,
) -> Result<(EvalReport, Vec<Run>), ModelError> {
    // Programs whose sequences outgrow the model's block are left out (and counted).
    let limit = model.config.block_size as usize;
    let per_item: Vec<Vec<Example>> =
        suite.iter().map(|item| examples(&item.source, &item.input, &item.steps, &[1])).collect();
    let fits: Vec<bool> = per_item.iter().map(|ex| ex.iter().all(|e| e.len() <= limit)).collect();
    let suite: Vec<Run> = suite.iter().zip(&fits).filter(|(_, f)| **f).map(|(i, _)| i.clone()).collect();
    let mut all: Vec<Example> = per_item.into_iter().zip(&fits).filter(|(_, f)| **f).flat_map(|(e, _)| e).collect();
    if !model.config.working {
        all = all.into_iter().map(Example::unworked).collect();
    }
    // The working before each action is the model's own, as at inference;
    // the true one only scores it.
    let needing: Vec<usize> = (0..all.len()).filter(|&i| !all[i].context.working.is_empty()).collect();
    let mut working_right = 0usize;
    for group in needing.chunks(32) {
        let rows: Vec<Example> = group.iter().map(|&i| Example { working: vec![], ..all[i].clone() }).collect();
        for (&i, row) in group.iter().zip(work(model, &rows, device)?) {
            working_right += usize::from(row.working == all[i].context.working);
            all[i].working = row.working;
        }
    }
    let mut report = EvalReport {
        transitions: all.len(),
        skipped_too_long: fits.iter().filter(|f| !**f).count(),
        ..EvalReport::default()
    };
    let (mut correct_actions, mut greedy_exact) = (0usize, 0usize);
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_line: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut bins = [(0.0f64, 0.0f64, 0usize); 10];
    // Per transition: what the decoder writes where it is wrong (`None`: right).
    let mut wrong: Vec<Option<Vec<u8>>> = vec![None; all.len()];
    // Transitions right up to their end, more likely whole than cut
    // shorter, where the model goes on writing: decoded further below.
    let mut pending: Vec<usize> = vec![];
    for (c, chunk) in all.chunks(32).enumerate() {
        let batch = collate(chunk, device);
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
        // Labelled positions come row by row, each row's in order.
        let mut first = 0usize;
        for (r, e) in chunk.iter().enumerate() {
            let i = c * 32 + r;
            let r64 = r as i64;
            let (ev, li) = (ep_best.int64_value(&[r64]), lp_best.int64_value(&[r64]));
            let ok = ev as usize == e.event && li as usize == e.line;
            correct_actions += usize::from(ok);
            let kind = by_kind.entry(action_kind(e).to_string()).or_default();
            *kind = (kind.0 + usize::from(ok), kind.1 + 1);
            let at_line = by_line.entry(line_kind(e).to_string()).or_default();
            *at_line = (at_line.0 + usize::from(ok), at_line.1 + 1);
            let confidence = ep.double_value(&[r64, ev]) * lp.double_value(&[r64, li]);
            if !ok && report.action_misses.len() < MISSES_KEPT {
                let (code, read) = e.current_code();
                let action = |ev: usize, li: usize| {
                    String::from_utf8_lossy(&token_bytes(&e.context.action_tokens(ev, li))).trim_end().to_string()
                };
                let text = |b: &[u8]| String::from_utf8_lossy(b.trim_ascii_end()).into_owned();
                report.action_misses.push(ActionMiss {
                    code,
                    read,
                    worked: text(&e.working),
                    true_working: text(&e.context.working),
                    target: action(e.event, e.line),
                    predicted: action(ev as usize, li as usize),
                    confidence,
                });
            }
            let bin = &mut bins[((confidence * 10.0) as usize).min(9)];
            *bin = (bin.0 + confidence, bin.1 + f64::from(u8::from(ok)), bin.2 + 1);
            // Teacher-forced: greedy decoding reproduces the target exactly
            // iff every teacher-forced argmax matches, EOS included.
            let n = e.target.len();
            let span = first..first + n + 1;
            first += n + 1;
            let bytes_right = matched[span.start..span.end - 1].iter().all(|&m| m == 1);
            let greedy_hit = bytes_right && matched[span.end - 1] == 1;
            greedy_exact += usize::from(greedy_hit);
            // The decoder keeps the likeliest stop of its greedy path: the
            // true delta, or one of its shorter whole-line prefixes, or
            // (when the model would go on) a longer delta.
            let (lps, eos) = (&label_lp[span.clone()], &eos_lp[span.clone()]);
            let (mut sum, mut shorter, mut shorter_at) = (0.0, f64::NEG_INFINITY, 0);
            for j in 0..n {
                if may_end_after(&e.target[..j]) && sum + eos[j] > shorter {
                    (shorter, shorter_at) = (sum + eos[j], j);
                }
                sum += lps[j];
            }
            if !bytes_right {
                wrong[i] = Some(best_bytes[span].iter().map(|&t| if t < 256 { t as u8 } else { b'$' }).collect());
            } else if sum + eos[n] < shorter {
                wrong[i] = Some([&e.target[..shorter_at], &b"$"[..]].concat());
            } else if !greedy_hit {
                pending.push(i);
            }
        }
    }
    // Decode past the end of the transitions the model would go on from:
    // right if stopping at their end is still the likeliest stop.
    for group in pending.chunks(32) {
        let rows: Vec<Example> = group.iter().map(|&i| all[i].clone()).collect();
        for (&i, d) in group.iter().zip(decode(model, &rows, device)?) {
            let (kept, _) = d.best();
            if kept > 0 {
                wrong[i] = Some([&all[i].target[..], &d.bytes[..kept], &b"$"[..]].concat());
            }
        }
    }
    let mut by_type: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut exact = 0usize;
    for (e, wrong) in all.iter().zip(&wrong) {
        let hit = wrong.is_none();
        exact += usize::from(hit);
        if let Some(predicted) = wrong.as_ref().filter(|_| report.misses.len() < MISSES_KEPT) {
            report.misses.push(miss(e, predicted));
        }
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
    let n = all.len().max(1) as f64;
    report.action_accuracy = correct_actions as f64 / n;
    report.delta_exact = exact as f64 / n;
    report.delta_exact_greedy = greedy_exact as f64 / n;
    let rates =
        |m: BTreeMap<String, (usize, usize)>| m.into_iter().map(|(k, (h, c))| (k, (h as f64 / c as f64, c))).collect();
    report.delta_exact_by_type = rates(by_type);
    report.action_accuracy_by_kind = rates(by_kind);
    report.action_accuracy_by_line = rates(by_line);
    report.working_exact = (working_right as f64 / needing.len().max(1) as f64, needing.len());
    report.action_ece = bins.iter().map(|(conf, acc, c)| if *c == 0 { 0.0 } else { (conf - acc).abs() / n }).sum();
    Ok((report, suite))
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

fn rollouts(model: &WorldModel, suite: &[Run], device: Device, report: &mut EvalReport) -> Result<(), ModelError> {
    let truths: Vec<Vec<State>> = suite.iter().map(|item| states_reading(&item.steps, &item.input)).collect();
    let starts: Vec<(String, State)> = suite
        .iter()
        .zip(&truths)
        .filter_map(|(item, st)| st.first().map(|s| (item.source.clone(), s.clone())))
        .collect();
    let longest = truths.iter().map(Vec::len).max().unwrap_or(1).saturating_sub(1);
    let with_start: Vec<usize> = (0..suite.len()).filter(|&i| !truths[i].is_empty()).collect();
    let horizon = longest.min(*HORIZONS.last().expect("horizons")).max(1);
    // Each rollout stops at its first divergence, or where its real run ends.
    let paths = rollout_until(model, &starts, horizon, device, |i, h, s| {
        let truth = &truths[with_start[i]];
        h + 1 >= truth.len() || !s.same_as(&truth[h])
    })?;
    let mut at_horizon: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    let (mut divergences, mut divergence_sum, mut outputs_ok) = (0usize, 0usize, 0usize);
    for (path, &i) in paths.iter().zip(&with_start) {
        let truth = &truths[i];
        let first_wrong = (1..truth.len()).find(|&h| match path.get(h - 1) {
            Some(Some((s, _))) => !s.same_as(&truth[h]),
            _ => true,
        });
        for &h in &HORIZONS {
            if h < truth.len() {
                let e = at_horizon.entry(h).or_default();
                *e = (e.0 + usize::from(first_wrong.is_none_or(|w| w > h)), e.1 + 1);
            }
        }
        match first_wrong {
            None => {
                outputs_ok += usize::from(
                    predicted_stdout(path) == suite[i].steps.iter().map(|s| s.stdout.as_str()).collect::<String>(),
                )
            }
            Some(h) => {
                divergences += 1;
                divergence_sum += h;
                let action_ok = match path.get(h - 1) {
                    Some(Some((s, _))) => s.event == truth[h].event && s.line == truth[h].line,
                    _ => false,
                };
                if action_ok {
                    report.divergence_wrong_state += 1;
                } else {
                    report.divergence_wrong_action += 1;
                }
            }
        }
    }
    report.rollout_exact = at_horizon.into_iter().map(|(h, (ok, n))| (h, (ok as f64 / n.max(1) as f64, n))).collect();
    report.mean_first_divergence = if divergences == 0 { 0.0 } else { divergence_sum as f64 / divergences as f64 };
    report.final_output_accuracy = outputs_ok as f64 / with_start.len().max(1) as f64;
    Ok(())
}

fn predicted_stdout(path: &crate::infer::Rollout) -> String {
    path.iter().flatten().filter_map(|(_, p)| parse_delta(&p.delta).ok()).map(|d| d.stdout).collect()
}

/// The report as a readable table.
pub fn format_report(name: &str, r: &EvalReport) -> String {
    let mut out = format!(
        "suite {name}: {} transitions ({} programs too long for the model, skipped)\n",
        r.transitions, r.skipped_too_long
    );
    out += &format!("  action accuracy (teacher-forced)   {:.3}\n", r.action_accuracy);
    for (kind, (rate, n)) in &r.action_accuracy_by_kind {
        out += &format!("    {kind:<12} ({n:>5} transitions) {rate:.3}\n");
    }
    out += &format!("    working written exactly ({:>5} lines)       {:.3}\n", r.working_exact.1, r.working_exact.0);
    out += "    by the line it is decided at:\n";
    for (kind, (rate, n)) in &r.action_accuracy_by_line {
        out += &format!("    {kind:<20} ({n:>5} transitions) {rate:.3}\n");
    }
    out += &format!(
        "  state-delta exact match            {:.3} (greedy to EOS: {:.3})\n",
        r.delta_exact, r.delta_exact_greedy
    );
    for (ty, (rate, n)) in &r.delta_exact_by_type {
        let what = if ty == NOTHING { "changes nothing".to_string() } else { format!("sets a {ty:<6}") };
        out += &format!("    {what:<15} ({n:>5} transitions) {rate:.3}\n");
    }
    for (h, (rate, n)) in &r.rollout_exact {
        out += &format!("  rollout exact @ {h:<3} ({n:>4} runs)   {rate:.3}\n");
    }
    out += &format!(
        "  first divergence: mean step {:.1}; began with a wrong action {} / a wrong state {}\n",
        r.mean_first_divergence, r.divergence_wrong_action, r.divergence_wrong_state
    );
    out += &format!("  final-output accuracy              {:.3}\n", r.final_output_accuracy);
    out += &format!("  action calibration error (ECE)     {:.3}\n", r.action_ece);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{Frame, encode_context};

    #[test]
    fn lines_are_told_apart_by_what_their_next_line_turns_on() {
        let source = "x = 7\nif x * 5 < 13 // 2:\n    s = 'a - b'\nif x < -3:\n    y = x - 1\nfor i in range(3):\n    t = 'a < b'\n";
        let example = |line: u32| {
            let frame = Frame { function: "<module>".into(), depth: 1, line, locals: vec![("x".into(), "7".into())] };
            let state = State {
                event: Event::Line,
                line,
                from: 0,
                stack: vec![frame],
                stdout_tail: String::new(),
                stdin: String::new(),
            };
            Example::query(encode_context(source, &state, 1))
        };
        let at = |line: u32| line_kind(&example(line));
        assert_eq!(at(2), "compares, computes");
        assert_eq!(at(4), "compares", "a negative literal's sign is not arithmetic");
        assert_eq!(at(5), "other", "arithmetic without a comparison");
        assert_eq!(at(3), "other", "operators inside a string do not count");
        assert_eq!(at(6), "loop head");
        assert_eq!(at(7), "other", "a comparison inside a string does not count");
        let (code, read) = example(2).current_code();
        assert_eq!((code.as_str(), read.as_str()), ("if x * 5 < 13 // 2:", "if 7 * 5 < 13 // 2:"));
    }

    #[test]
    fn value_types_are_read_off_reprs() {
        let cases = [
            ("'a'", "str"),
            ("[1]", "list"),
            ("{}", "dict"),
            ("(1,)", "tuple"),
            ("True", "bool"),
            ("None", "None"),
            ("-12", "int"),
            ("2.5", "float"),
            ("<function f>", "other"),
        ];
        for (repr, ty) in cases {
            assert_eq!(value_type(repr), ty, "{repr}");
        }
    }
}
