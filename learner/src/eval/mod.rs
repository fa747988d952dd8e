//! Evaluation on held-out traces: action accuracy, state-delta exact match
//! (overall and per value type), rollout exact match per horizon with the
//! cause of each first divergence, final-output accuracy, calibration.

mod chance;
mod forced;
mod rollouts;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use curio_trace::{Event, Run};
use serde::Serialize;
use tch::Device;

use crate::data::Example;
use crate::encode::EVENTS;
use crate::model::{ModelError, WorldModel};

pub use chance::{ChanceScore, UNSEEN, calibration_error, log_likelihood, score_chance, total_variation};
pub use forced::{evaluate_transitions, too_long};

/// Rollout horizons reported.
pub const HORIZONS: [usize; 5] = [1, 5, 10, 20, 50];

/// What an evaluation measured on a suite: the teacher-forced transitions
/// and, from [`evaluate`], the rollouts.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct EvalReport {
    /// Transitions scored (k = 1) of the programs that fit.
    pub transitions: usize,
    /// Programs left out because a sequence outgrew the model's block.
    pub skipped_too_long: usize,
    /// Which they are: indices into the suite evaluated.
    pub too_long: Vec<usize>,
    /// Teacher-forced next-action accuracy: event and line both right.
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
    /// Rollouts exact at every step to the end of the run, ending where it
    /// ended: (rate, rollouts).
    pub rollout_exact_to_end: (f64, usize),
    /// First divergences of failed rollouts that began with a wrong action.
    pub divergence_wrong_action: usize,
    /// ...and those that began with a wrong state.
    pub divergence_wrong_state: usize,
    /// ...and rollouts that stopped: a predicted delta that did not parse,
    /// or a state grown too long for the model to read on.
    pub divergence_stopped: usize,
    /// Mean first divergent step of failed rollouts.
    pub mean_first_divergence: f64,
    /// Output exact: rollouts, run until the model predicts the end (or cut
    /// a quarter past the real run's length), whose predicted stdout equals
    /// the real one.
    pub final_output_accuracy: f64,
    /// Expected calibration error of the action confidence (10 bins).
    pub action_ece: f64,
    /// Action accuracy per kind of true next action (see [`action_kind`]):
    /// (rate, transitions).
    pub action_accuracy_by_kind: BTreeMap<String, (f64, usize)>,
    /// State-delta exact match per kind of true next action: how well the
    /// model writes what a call passes in, what a return hands back and
    /// what a line does, (rate, transitions).
    pub delta_exact_by_kind: BTreeMap<String, (f64, usize)>,
    /// Lines that call for working ([`crate::work`]) whose working the model
    /// wrote exactly: (rate, lines).
    pub working_exact: (f64, usize),
    /// Action accuracy per kind of current line (see [`line_kind`]): where
    /// the next line is decided, (rate, transitions).
    pub action_accuracy_by_line: BTreeMap<String, (f64, usize)>,
    /// Each rolled-out program's rollout (empty from
    /// [`evaluate_transitions`], which runs none).
    pub programs: Vec<ProgramOutcome>,
    /// The first [`MISSES_KEPT`] transitions whose delta was wrong, to read.
    #[serde(skip)]
    pub misses: Vec<Miss>,
    /// The first [`MISSES_KEPT`] transitions whose action was wrong.
    #[serde(skip)]
    pub action_misses: Vec<ActionMiss>,
}

/// How one program's rollout went.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ProgramOutcome {
    /// Its index in the suite evaluated.
    pub index: usize,
    /// Steps of the real run after its first state.
    pub steps: usize,
    /// Steps the rollout predicted before it ended, stopped or was cut.
    pub predicted_steps: usize,
    /// The first step (1-based) whose predicted state is wrong; none when
    /// every real step was predicted exactly.
    pub first_divergence: Option<usize>,
    /// What went wrong there.
    pub divergence: Option<Divergence>,
    /// Whether the model predicted the module's return.
    pub ended: bool,
    /// Whether every step was right and the rollout ended where the run did.
    pub exact_to_end: bool,
    /// Whether the rollout printed what the run printed.
    pub output_exact: bool,
}

/// What a rollout's first divergence began with.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Divergence {
    /// The wrong next event or line.
    Action,
    /// The right action, and a wrong state after it.
    State,
    /// No state: the predicted delta did not parse, or the state grew too
    /// long for the model to read on.
    Stopped,
}

impl Divergence {
    /// Its name in JSON: `action`, `state` or `stopped`.
    pub fn code(self) -> &'static str {
        match self {
            Divergence::Action => "action",
            Divergence::State => "state",
            Divergence::Stopped => "stopped",
        }
    }

    /// What it was, for a reader.
    pub fn describe(self) -> &'static str {
        match self {
            Divergence::Action => "a wrong action",
            Divergence::State => "the right action and a wrong state",
            Divergence::Stopped => "the rollout had stopped",
        }
    }
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
    /// The true delta (`⏎` for a newline).
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
    /// The working the model wrote before its action ([`crate::work`]);
    /// empty where the line calls for none.
    pub worked: String,
    /// The true working; empty where the line calls for none.
    pub true_working: String,
    /// The true next action, `#event line:code`.
    pub target: String,
    /// The predicted next action, `#event line:code`.
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
    let mut report = evaluate_transitions(model, suite, device)?;
    let fits: Vec<usize> = (0..suite.len()).filter(|i| !report.too_long.contains(i)).collect();
    rollouts::rollouts(model, suite, &fits, device, &mut report)?;
    Ok(report)
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
    if !r.action_accuracy_by_line.is_empty() {
        out += "    by the line it is decided at:\n";
    }
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
    if !r.delta_exact_by_kind.is_empty() {
        out += "    by the true action:\n";
    }
    for (kind, (rate, n)) in &r.delta_exact_by_kind {
        out += &format!("    {kind:<12} ({n:>5} transitions) {rate:.3}\n");
    }
    for (h, (rate, n)) in &r.rollout_exact {
        out += &format!("  rollout exact @ {h:<3} ({n:>4} runs)   {rate:.3}\n");
    }
    let (rate, n) = r.rollout_exact_to_end;
    out += &format!("  rollout exact to the end ({n:>4} runs) {rate:.3}\n");
    out += &format!(
        "  first divergence: mean step {:.1}; began with a wrong action {} / a wrong state {} / stopped {}\n",
        r.mean_first_divergence, r.divergence_wrong_action, r.divergence_wrong_state, r.divergence_stopped
    );
    out += &format!("  output exact (predicted stdout)    {:.3}\n", r.final_output_accuracy);
    out += &format!("  action calibration error (ECE)     {:.3}\n", r.action_ece);
    out
}
