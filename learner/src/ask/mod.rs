//! The world model as an oracle: what a program will print without running
//! it ([`expect_output`]), which of several programs prints what is
//! expected ([`rank`]), where a real run departed from what the model
//! expected ([`surprise`]), and which input makes a program print what is
//! asked ([`search_input`]). Each answer comes from rollouts or one
//! teacher-forced pass; only the input search runs anything, through its
//! caller, to check what the model proposes.

use tch::Device;

use crate::encode::State;
use crate::foresee::{Code, End, Foreseen, foresee_until};
use crate::infer::{Choice, distribution, foresee_sampled};
use crate::model::{ModelError, WorldModel};

mod input;
mod literals;
mod rank;
mod surprise;
pub use input::{Printed, Search, SearchError, Searching, Tried, blind_search, climb_search, search_input};
pub use literals::Changer;
pub use rank::{Ranked, auroc, closeness, rank};
pub use surprise::{Surprise, Surprising, surprise};

/// How the model is asked: how many rollouts it draws beside the greedy
/// one, at which temperature and from which seed, and for at most how many
/// steps each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Asking {
    /// Drawn rollouts per program (0: the greedy one only).
    pub samples: usize,
    /// Their temperature (1: the model's own distribution).
    pub temperature: f64,
    /// Their seed: the same seed draws the same rollouts.
    pub seed: u64,
    /// Most steps per rollout.
    pub horizon: usize,
}

impl Default for Asking {
    fn default() -> Self {
        Asking { samples: 16, temperature: 1.0, seed: 0, horizon: 200 }
    }
}

/// Whether two outputs are the same, ignoring whitespace at their ends: a
/// caller writes `3` for a program that prints `3\n`.
pub fn same_output(a: &str, b: &str) -> bool {
    a.trim_end() == b.trim_end()
}

/// What the model expects a program to print.
#[derive(Clone, Debug)]
pub struct Expected {
    /// The greedy rollout: each step the most likely.
    pub greedy: Foreseen,
    /// The drawn rollouts ([`Asking::samples`]).
    pub drawn: Vec<Foreseen>,
    /// What the drawn rollouts printed, each output with its share, the
    /// most frequent first.
    pub outputs: Vec<(String, f64)>,
    /// The share of drawn rollouts that run to the program's end and print
    /// what the greedy one does ([`same_output`]); without draws, the
    /// product of the greedy steps' action confidences. 0 where the greedy
    /// rollout did not reach the end (its output is only a part).
    pub confidence: f64,
}

impl Expected {
    /// What the greedy rollout printed.
    pub fn stdout(&self) -> String {
        self.greedy.stdout()
    }
}

/// The model's answer to "what does `code` print, given `input` on
/// stdin?": its greedy rollout, `asking.samples` drawn ones, and how sure
/// it is. `stop(h)` ends every rollout after step `h` (a deadline).
pub fn expect_output(
    model: &WorldModel,
    (code, input): (Code<'_>, &str),
    asking: Asking,
    device: Device,
    mut stop: impl FnMut(usize) -> bool,
) -> Result<Expected, ModelError> {
    let start = State::initial(input);
    let greedy = foresee_until(model, (code, &start), asking.horizon, device, &mut stop)?;
    let drawn = match asking.samples {
        0 => vec![],
        n => {
            let mut choice = Choice::sample(asking.temperature, asking.seed)?;
            let draws = (&mut choice, device);
            foresee_sampled(model, (code, &start), (n, asking.horizon), draws, |_, h, _| stop(h))?
        }
    };
    let printed = greedy.stdout();
    let confidence = match (greedy.end, drawn.len()) {
        (End::Ended, 0) => greedy.steps.iter().map(|(_, p)| p.confidence).product(),
        (End::Ended, n) => drawn.iter().filter(|f| prints(f, &printed)).count() as f64 / n as f64,
        _ => 0.0,
    };
    let outputs = distribution(drawn.iter().map(Foreseen::stdout));
    Ok(Expected { greedy, drawn, outputs, confidence })
}

/// Whether rollout `f` ran to the program's end and printed `output`
/// ([`same_output`]): a rollout cut short has printed only a part.
pub(crate) fn prints(f: &Foreseen, output: &str) -> bool {
    f.end == End::Ended && same_output(&f.stdout(), output)
}

#[cfg(test)]
mod tests;
