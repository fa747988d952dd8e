//! How surprised the model was by the runs a round made, once made: the
//! measure behind the loop's choice of parents for the next candidates
//! and behind `curio_learner_surprise_nats`.

use curio_store::ExecutionRecord;

use super::{Engine, Planned, lock};
use crate::Strategy;
use crate::acquire::Surprise;
use crate::metrics::LoopMetrics;

/// Programs kept as sources of mutations.
const SURPRISES_KEPT: usize = 32;
/// Steps of each run the loop measures its surprise on (the first ones):
/// a bounded cost per round, one forward pass per run.
const SURPRISE_STEPS: usize = 16;

impl Engine {
    /// How surprising each planned run was to the model, once run: its mean
    /// nats per step over its first [`SURPRISE_STEPS`] steps, the measure
    /// of `curio ask surprise`; none for submissions and for runs that did
    /// not come back. Published as the round's mean.
    pub(super) async fn surprise_of(
        &self,
        planned: &[Planned],
        records: &[Option<ExecutionRecord>],
    ) -> Vec<Option<f64>> {
        let runs: Vec<Option<curio_trace::Run>> = planned
            .iter()
            .zip(records)
            .map(|(p, r)| {
                let r = r.as_ref().filter(|_| p.strategy != "submitted")?;
                let steps = r.trace.steps.iter().take(SURPRISE_STEPS + 1).cloned().collect();
                let language = curio_trace::Language::parse(&r.program.language).ok()?;
                Some(curio_trace::Run { language, source: r.program.source.clone(), input: r.input.clone(), steps })
            })
            .collect();
        let (trainer, device) = (self.trainer.clone(), self.device);
        let measured = tokio::task::spawn_blocking(move || {
            let t = lock(&trainer);
            let model = &t.averaged().model;
            runs.iter()
                .map(|run| {
                    let run = run.as_ref()?;
                    // A run the model cannot score is left unscored, not fatal.
                    let measured = curio_learner::surprise(model, run, 0, device, |_| false);
                    let s = measured.map_err(|e| tracing::warn!(error = %e, "measuring a run's surprise")).ok()?;
                    (!s.steps.is_empty()).then(|| s.per_step())
                })
                .collect::<Vec<Option<f64>>>()
        })
        .await;
        // A failure here costs the round its surprises, never the round.
        let measured = measured.unwrap_or_else(|e| {
            tracing::error!(error = %e, "measuring the round's surprise");
            vec![None; planned.len()]
        });
        let known: Vec<f64> = measured.iter().flatten().copied().collect();
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
