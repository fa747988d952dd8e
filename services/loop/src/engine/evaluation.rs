//! Evaluation on the held-out suites, the curve points it records, the
//! learner seconds, and checkpoints.

use std::collections::BTreeMap;
use std::time::Instant;

use curio_learner::{EvalReport, evaluate, evaluate_transitions};

use super::{Engine, EvalCost, lock, patiently};
use crate::metrics::LoopMetrics;
use crate::{LoopError, PoolClients};

impl Engine {
    /// Evaluates on each held-out suite (teacher-forced; with rollouts when
    /// `full`), records the curve points at the current query count (a
    /// suite's metrics named after it, `real_...`, `lua_real_...`; `indist`'s
    /// bare), and returns the metrics.
    pub async fn evaluate(&mut self, full: bool) -> Result<BTreeMap<String, f64>, LoopError> {
        let (trainer, suites, device) = (self.trainer.clone(), self.suites.clone(), self.device);
        // Timed from the lock to the reports: waiting out the store is not
        // evaluating.
        let (reports, took) = tokio::task::spawn_blocking(move || {
            let t = lock(&trainer);
            let started = Instant::now();
            let model = &t.averaged().model;
            let evaluated = suites.iter().map(|(name, suite)| {
                let report =
                    if full { evaluate(model, suite, device) } else { evaluate_transitions(model, suite, device) };
                report.map(|r| (*name, r))
            });
            let reports = evaluated.collect::<Result<Vec<_>, _>>()?;
            Ok::<_, curio_learner::ModelError>((reports, started.elapsed().as_secs_f64()))
        })
        .await??;
        let mut metrics = BTreeMap::new();
        let strategy = self.config.strategy.as_str();
        for (suite, report) in &reports {
            let prefix = if *suite == "indist" { String::new() } else { format!("{suite}_") };
            for (name, value) in curve_metrics(report) {
                let metric = format!("{prefix}{name}");
                patiently("recording the learning curve", async || {
                    self.store
                        .record_curve_point(&self.config.run_id, strategy, self.queries as i64, &metric, value)
                        .await
                })
                .await?;
                self.shared.publish(self.queries, &metric, value);
                LoopMetrics.evaluated(self.config.strategy, self.queries, (suite, &name), value);
                metrics.insert(metric, value);
            }
        }
        self.last_eval = Some(self.queries);
        self.spent.evaluation += took;
        LoopMetrics.evaluation_took(self.config.strategy, took);
        self.last_eval_cost = EvalCost { at_learner: self.spent.learner, took };
        Ok(metrics)
    }

    /// Records the learner seconds spent at the current query count.
    pub(super) async fn record_spent(&self) -> Result<(), LoopError> {
        let strategy = self.config.strategy.as_str();
        let spent = [
            ("learner_seconds", self.learner_seconds()),
            ("scoring_seconds", self.spent.scoring),
            ("evaluation_seconds", self.spent.evaluation),
        ];
        for (metric, value) in spent {
            patiently("recording the learner seconds", async || {
                self.store.record_curve_point(&self.config.run_id, strategy, self.queries as i64, metric, value).await
            })
            .await?;
        }
        Ok(())
    }

    /// Saves the model and records the checkpoint in the store (and the
    /// learner seconds so far, so a run stopped between evaluations resumes
    /// its count).
    pub async fn checkpoint(&self, metrics: &BTreeMap<String, f64>) -> Result<(), LoopError> {
        self.record_spent().await?;
        let path = self.config.checkpoint_path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let (trainer, to) = (self.trainer.clone(), path.clone());
        let (step, config) = tokio::task::spawn_blocking(move || {
            let t = lock(&trainer);
            t.averaged().save(&to)?;
            Ok::<_, curio_learner::ModelError>((t.averaged().train_step, t.averaged().model.config.clone()))
        })
        .await??;
        let run = format!("{}/{}", self.config.run_id, self.config.strategy);
        let config = serde_json::to_value(&config).unwrap_or_default();
        let metrics = serde_json::to_value(metrics).unwrap_or_default();
        let path = path.display().to_string();
        patiently("recording a checkpoint", async || {
            self.store.record_checkpoint(&run, step, &path, &config, &metrics).await
        })
        .await?;
        LoopMetrics.checkpointed();
        // Predictions run on their own copies of the model, refreshed here.
        self.shared.clone().refresh_model().await;
        Ok(())
    }
}

/// The metrics a curve point records, by name.
pub fn curve_metrics(r: &EvalReport) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    m.insert("action_accuracy".into(), r.action_accuracy);
    m.insert("delta_exact".into(), r.delta_exact);
    m.insert("action_ece".into(), r.action_ece);
    for (ty, (rate, n)) in &r.delta_exact_by_type {
        if *n > 0 {
            m.insert(format!("delta_exact_{ty}"), *rate);
        }
    }
    for (h, (rate, n)) in &r.rollout_exact {
        if *n > 0 {
            m.insert(format!("rollout_exact_h{h}"), *rate);
        }
    }
    if r.rollout_exact_to_end.1 > 0 {
        m.insert("rollout_exact_end".into(), r.rollout_exact_to_end.0);
        m.insert("output_exact".into(), r.final_output_accuracy);
    }
    m
}

/// Runs the in-distribution held-out suite's programs on the pool (these
/// runs are not stored and are not queries).
pub(super) async fn held_out_suite(
    pools: &PoolClients,
    name: &str,
    n: usize,
    limits: &curio_interpreter_pool::Limits,
) -> Result<Vec<curio_trace::Run>, LoopError> {
    let mut suite = vec![];
    for exec in curio_learner::suite(name, n, *limits).expect("a built-in suite") {
        let done = pools.execute(&exec).await?;
        suite.extend(curio_learner::suite_run(exec, done.trace));
    }
    Ok(suite)
}

/// Runs `n` programs of the corpus's real suite in `language` on the pool,
/// keeping those that run to their end (not stored, not queries).
pub(super) async fn real_suite(
    pools: &PoolClients,
    corpus: &crate::Corpus,
    language: curio_trace::Language,
    n: usize,
    limits: &curio_interpreter_pool::Limits,
) -> Result<Vec<curio_trace::Run>, LoopError> {
    let mut suite = vec![];
    for program in corpus.real_suite(language, n) {
        let exec = program.execution(*limits);
        let trace = pools.execute(&exec).await?.trace;
        suite.extend(curio_learner::ended_run(exec, trace).ok());
    }
    tracing::info!(%language, programs = suite.len(), "real suite ready");
    Ok(suite)
}
