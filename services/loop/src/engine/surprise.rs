//! How surprised the model was by the runs a round made, once made: the
//! measure behind the loop's choice of parents for the next candidates
//! and behind `curio_learner_surprise_nats`.

use std::sync::{Arc, Mutex};

use curio_learner::WorldModel;
use curio_store::ExecutionRecord;
use curio_trace::Run;
use tch::Device;

use super::{Engine, Planned};
use crate::Strategy;
use crate::acquire::Surprise;
use crate::metrics::LoopMetrics;

/// Programs kept as sources of mutations.
const SURPRISES_KEPT: usize = 32;
/// Steps of each run the loop measures its surprise on (the first ones):
/// a bounded cost per round, one forward pass per run.
const SURPRISE_STEPS: usize = 16;

impl Engine {
    /// How surprising each run ([`measured_runs`]) was to the model: step by
    /// step over its first [`SURPRISE_STEPS`] steps, the measure of `curio
    /// ask surprise` (one number per run: [`curio_learner::Surprise::per_step`]);
    /// none for submissions, for runs that did not come back and for runs
    /// with no step the model could read. Publishes the round's mean.
    pub(super) async fn surprise_of(&self, runs: Arc<Vec<Option<Run>>>) -> Vec<Option<curio_learner::Surprise>> {
        let measured = measure(&self.trainer, runs, self.device, |t| &t.averaged().model).await;
        let known: Vec<f64> = measured.iter().flatten().map(|s| s.per_step()).collect();
        if !known.is_empty() {
            LoopMetrics.surprise(self.config.strategy, known.iter().sum::<f64>() / known.len() as f64);
        }
        measured
    }

    /// Keeps the most surprising of the runs ([`Engine::surprise_of`]) as
    /// sources of mutations; the baseline, which asks the model nothing,
    /// keeps the latest it ran.
    pub(super) fn remember_surprises(&mut self, planned: &[Planned], surprise: &[Option<f64>]) {
        for (p, measured) in planned.iter().zip(surprise) {
            let score = match (self.config.strategy, measured) {
                (_, _) if p.strategy == "submitted" => continue,
                (Strategy::Random, _) => self.queries as f64,
                (_, Some(s)) => *s,
                (_, None) => continue,
            };
            let c = &p.candidate;
            let (family, source) = (c.family.clone(), c.source.clone());
            self.surprising.push(Surprise { score, family, language: c.language, source });
        }
        self.surprising.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.surprising.truncate(SURPRISES_KEPT);
    }
}

/// The runs [`Engine::surprise_of`] measures: each planned run that came
/// back, cut to its first [`SURPRISE_STEPS`] steps (none for submissions).
pub(super) fn measured_runs(planned: &[Planned], records: &[Option<ExecutionRecord>]) -> Vec<Option<Run>> {
    planned
        .iter()
        .zip(records)
        .map(|(p, r)| {
            let r = r.as_ref().filter(|_| p.strategy != "submitted")?;
            let steps = r.trace.steps.iter().take(SURPRISE_STEPS + 1).cloned().collect();
            let language = curio_trace::Language::parse(&r.program.language).ok()?;
            Some(Run { language, source: r.program.source.clone(), input: r.input.clone(), steps })
        })
        .collect()
}

/// Each run's surprise under the model `pick` takes from what `holder`
/// locks (off the async threads); a run the model cannot score, or a
/// failure, leaves it unmeasured (logged), never fails the round.
pub(super) async fn measure<T: Send + 'static>(
    holder: &Arc<Mutex<T>>,
    runs: Arc<Vec<Option<Run>>>,
    device: Device,
    pick: fn(&T) -> &WorldModel,
) -> Vec<Option<curio_learner::Surprise>> {
    let (holder, n) = (holder.clone(), runs.len());
    let measured = tokio::task::spawn_blocking(move || {
        let held = holder.lock().unwrap_or_else(|e| e.into_inner());
        let model = pick(&held);
        runs.iter()
            .map(|run| {
                let measured = curio_learner::surprise(model, run.as_ref()?, 0, device, |_| false);
                let s = measured.map_err(|e| tracing::warn!(error = %e, "measuring a run's surprise")).ok()?;
                (!s.steps.is_empty()).then_some(s)
            })
            .collect::<Vec<_>>()
    })
    .await;
    measured.unwrap_or_else(|e| {
        tracing::error!(error = %e, "measuring the round's surprise");
        vec![None; n]
    })
}
