//! Free-running rollouts from each program's first state, compared with
//! its real run step by step.

use std::collections::BTreeMap;

use curio_trace::{Language, Run};
use tch::Device;

use super::{Divergence, EvalReport, HORIZONS, ProgramOutcome};
use crate::encode::{State, states_reading};
use crate::foresee::{cut, ends_run, first_divergence, printed};
use crate::infer::{Rollout, rollout_until};
use crate::model::{ModelError, WorldModel};

/// Fills the rollout part of `report` for the programs `fits` of `suite`.
/// Each runs free from its first state until the model predicts the
/// module's return, or until [`crate::cut`]: the rollout is exact at a horizon if
/// every state up to it equals the real one, exact to the end if all of
/// them do and the model ends where the run did, and its output is exact
/// if what it printed equals the run's stdout, whatever the states on the
/// way. Each program is read in its own language.
pub(super) fn rollouts(
    model: &WorldModel,
    suite: &[Run],
    fits: &[usize],
    device: Device,
    report: &mut EvalReport,
) -> Result<(), ModelError> {
    let truths: Vec<(usize, Vec<State>)> = fits
        .iter()
        .map(|&i| (i, states_reading(&suite[i].steps, &suite[i].input)))
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let starts: Vec<(Language, String, State)> =
        truths.iter().map(|(i, t)| (suite[*i].language, suite[*i].source.clone(), t[0].clone())).collect();
    let horizon = truths.iter().map(|(_, t)| cut(t.len())).max().unwrap_or(1);
    let paths = rollout_until(model, &starts, horizon, device, |r, h, s| ends_run(s) || h >= cut(truths[r].1.len()))?;
    let mut tally = Tally::default();
    for (path, (i, truth)) in paths.iter().zip(&truths) {
        let real_stdout: String = suite[*i].steps.iter().map(|s| s.stdout.as_str()).collect();
        let outcome = outcome(*i, path, truth, &real_stdout);
        tally.add(&outcome, truth.len());
        report.programs.push(outcome);
    }
    tally.write(report, truths.len());
    Ok(())
}

/// How one rollout went against its real run's states `truth`.
fn outcome(index: usize, path: &Rollout, truth: &[State], real_stdout: &str) -> ProgramOutcome {
    // Step h (1-based) of the rollout predicts truth[h].
    let diverged = first_divergence(|h| path.get(h - 1).and_then(|p| p.as_ref().map(|(s, _)| s)), truth);
    let (first_wrong, divergence) = (diverged.map(|(h, _)| h), diverged.map(|(_, d)| d));
    let predicted_steps = path.iter().take_while(|p| p.is_some()).count();
    let ended = path.last().is_some_and(|p| p.as_ref().is_some_and(|(s, _)| ends_run(s)));
    let to_end = first_wrong.is_none() && ended && predicted_steps + 1 == truth.len();
    ProgramOutcome {
        index,
        steps: truth.len().saturating_sub(1),
        predicted_steps,
        first_divergence: first_wrong,
        divergence,
        ended,
        exact_to_end: to_end,
        output_exact: printed(path.iter().flatten().map(|(_, p)| p)) == real_stdout,
    }
}

/// The rollout figures over every program.
#[derive(Default)]
struct Tally {
    at_horizon: BTreeMap<usize, (usize, usize)>,
    divergences: usize,
    divergence_sum: usize,
    to_end: usize,
    outputs: usize,
}

impl Tally {
    fn add(&mut self, o: &ProgramOutcome, states: usize) {
        for &h in &HORIZONS {
            if h < states {
                let e = self.at_horizon.entry(h).or_default();
                *e = (e.0 + usize::from(o.first_divergence.is_none_or(|w| w > h)), e.1 + 1);
            }
        }
        if let Some(h) = o.first_divergence {
            self.divergences += 1;
            self.divergence_sum += h;
        }
        self.to_end += usize::from(o.exact_to_end);
        self.outputs += usize::from(o.output_exact);
    }

    fn write(self, report: &mut EvalReport, runs: usize) {
        let rate = |k: usize, n: usize| k as f64 / n.max(1) as f64;
        report.rollout_exact = self.at_horizon.into_iter().map(|(h, (ok, n))| (h, (rate(ok, n), n))).collect();
        report.rollout_exact_to_end = (rate(self.to_end, runs), runs);
        report.mean_first_divergence = rate(self.divergence_sum, self.divergences);
        report.final_output_accuracy = rate(self.outputs, runs);
        let count = |d: Divergence| report.programs.iter().filter(|o| o.divergence == Some(d)).count();
        report.divergence_wrong_action = count(Divergence::Action);
        report.divergence_wrong_state = count(Divergence::State);
        report.divergence_stopped = count(Divergence::Stopped);
    }
}
