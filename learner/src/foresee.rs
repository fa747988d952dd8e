//! One program's free rollout to the end the model predicts for it, and
//! why it ended: what `curio predict` shows and `--json` prints.

use curio_trace::{Event, Language};
use tch::Device;

use crate::data::Example;
use crate::encode::{State, encode_context_in, parse_delta};
use crate::eval::Divergence;
use crate::infer::{Prediction, Rollout, rollout_until};
use crate::model::{ModelError, WorldModel};

/// Whether a state ends its run: the module's frame returns.
pub(crate) fn ends_run(state: &State) -> bool {
    state.event == Event::Return && state.stack.len() <= 1
}

/// How many steps a rollout beside a real run of `states` states may take
/// before it is cut: a model that never predicts the end must not run on
/// forever, and one whose run is a quarter longer than the real one has
/// long gone wrong.
pub fn cut(states: usize) -> usize {
    states + (states / 4).max(8)
}

/// What a rollout's predictions printed, in order.
pub(crate) fn printed<'a>(predictions: impl Iterator<Item = &'a Prediction>) -> String {
    predictions.filter_map(|p| parse_delta(&p.delta).ok()).map(|d| d.stdout).collect()
}

/// The first step (1-based) whose predicted state, `predicted(h)` (none
/// where the rollout had stopped), differs from the real run's `truth`
/// (its states, the first one the start), and what it began with; none if
/// every real step was predicted exactly.
pub(crate) fn first_divergence<'a>(
    predicted: impl Fn(usize) -> Option<&'a State>,
    truth: &[State],
) -> Option<(usize, Divergence)> {
    (1..truth.len()).find_map(|h| match predicted(h) {
        None => Some((h, Divergence::Stopped)),
        Some(s) if s.same_as(&truth[h]) => None,
        Some(s) if s.event == truth[h].event && s.line == truth[h].line => Some((h, Divergence::State)),
        Some(_) => Some((h, Divergence::Action)),
    })
}

/// Why a rollout ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The model predicted the program's end (the module returns).
    Ended,
    /// It reached the horizon it was given first.
    Horizon,
    /// A predicted delta did not parse.
    Unparsed,
    /// The predicted state grew too long for the model's block.
    TooLong,
}

impl End {
    /// A short name: `end`, `horizon`, `unparsed`, `too_long`.
    pub fn code(self) -> &'static str {
        match self {
            End::Ended => "end",
            End::Horizon => "horizon",
            End::Unparsed => "unparsed",
            End::TooLong => "too_long",
        }
    }

    /// What happened, for a reader.
    pub fn describe(self) -> &'static str {
        match self {
            End::Ended => "ended where the model predicted the program's end",
            End::Horizon => "reached its horizon",
            End::Unparsed => "stopped: a predicted delta did not parse",
            End::TooLong => "stopped: the predicted state grew too long for the model to read",
        }
    }
}

/// A rollout from a program's first state.
#[derive(Clone, Debug)]
pub struct Foreseen {
    /// Each predicted step's state and the prediction that led to it.
    pub steps: Vec<(State, Prediction)>,
    /// Why it ended.
    pub end: End,
}

impl Foreseen {
    /// What the rollout printed, step by step.
    pub fn stdout(&self) -> String {
        printed(self.steps.iter().map(|(_, p)| p))
    }

    /// The first step (1-based) whose predicted state differs from the real
    /// run's `truth` (its states, the first one the start), and what it began
    /// with; none if every real step was predicted exactly.
    pub fn divergence(&self, truth: &[State]) -> Option<(usize, Divergence)> {
        first_divergence(|h| self.steps.get(h - 1).map(|(s, _)| s), truth)
    }
}

/// A program as the model reads it: its language and its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code<'a> {
    /// The language it is read in.
    pub language: Language,
    /// Its text.
    pub source: &'a str,
}

impl<'a> Code<'a> {
    /// `source` in `language`.
    pub fn new(language: Language, source: &'a str) -> Self {
        Code { language, source }
    }

    /// `source` in Python.
    pub fn python(source: &'a str) -> Self {
        Code { language: Language::Python, source }
    }

    /// Where a rollout of it from `state` starts.
    pub(crate) fn at(self, state: &State) -> (Language, String, State) {
        (self.language, self.source.to_string(), state.clone())
    }
}

/// Rolls `code` forward from `start` until the model predicts its end,
/// for at most `horizon` steps.
pub fn foresee(
    model: &WorldModel,
    code: Code<'_>,
    start: &State,
    horizon: usize,
    device: Device,
) -> Result<Foreseen, ModelError> {
    foresee_until(model, (code, start), horizon, device, |_| false)
}

/// [`foresee`], where `stop(h)` also ends the rollout after step `h` (a
/// deadline).
pub fn foresee_until(
    model: &WorldModel,
    (code, start): (Code<'_>, &State),
    horizon: usize,
    device: Device,
    mut stop: impl FnMut(usize) -> bool,
) -> Result<Foreseen, ModelError> {
    let starts = [code.at(start)];
    let path = rollout_until(model, &starts, horizon, device, |_, h, s| ends_run(s) || stop(h))?.remove(0);
    Ok(Foreseen::of(model, (code, start), &path))
}

/// Why the model cannot roll `code` out from its first state (given
/// `input` on stdin): too long to read with room left to predict in; none
/// where it can.
pub fn unreadable(model: &WorldModel, code: Code<'_>, input: &str) -> Option<String> {
    let window = model.config.window();
    let asked = Example::query(encode_context_in(code.language, code.source, &State::initial(input), 1));
    (window.room(&asked) < 64).then(|| {
        format!(
            "too long for the model to read: it reads {} chunks of {} program tokens and {} of state",
            window.chunks, window.chunk, window.block
        )
    })
}

impl Foreseen {
    /// A rollout of `code` from `start`, cut where it ended: its steps up
    /// to where it stopped, and why it did.
    pub(crate) fn of(model: &WorldModel, (code, start): (Code<'_>, &State), path: &Rollout) -> Self {
        let steps: Vec<(State, Prediction)> = path.iter().map_while(Clone::clone).collect();
        let last = steps.last().map_or(start, |(s, _)| s);
        let end = if path.len() > steps.len() {
            let read = Example::query(encode_context_in(code.language, code.source, last, 1));
            let window = model.config.window();
            if !window.fits(&read) || window.room(&read) == 0 { End::TooLong } else { End::Unparsed }
        } else if ends_run(last) && !steps.is_empty() {
            End::Ended
        } else {
            End::Horizon
        };
        Foreseen { steps, end }
    }
}
