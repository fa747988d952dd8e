//! The loop itself: one round is draw → score → select → execute → store →
//! train; evaluations and checkpoints follow on a schedule. Its position is
//! the number of queries stored for (run, strategy), so a restart resumes
//! exactly where the store says it stopped: execution ids derive from that
//! position, and a round that is retried stores nothing twice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use curio_interpreter_pool::Execution;
use curio_learner::{GenConfig, Trainer};
use curio_store::{
    Backoff, ExecutionRecord, Origin, ProgramRecord, Provenance, Retry, Store, StoreError, StoreMetrics,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tch::Device;
use tracing::Instrument;
use uuid::Uuid;

use crate::acquire::{Candidate, Generating, Scoring, Surprise, draw_candidates, score, select};
use crate::sources::{Source, Sources};

mod evaluation;
pub use evaluation::curve_metrics;
mod rho;
pub use rho::Reference;
use schedule::{EvalCost, eval_due};
mod schedule;
mod start;
mod surprise;
#[cfg(test)]
mod tests;
use crate::fit::Fit;
use crate::metrics::LoopMetrics;
use crate::{LoopConfig, LoopError, PoolClients, Shared, Strategy, Submitted};

/// What one round did.
#[derive(Clone, Debug, Default)]
pub struct RoundReport {
    /// Executions run on the pools (candidates and submissions).
    pub executed: usize,
    /// Of them, user submissions (outside the budget).
    pub submitted: usize,
    /// Transitions written to the store.
    pub transitions: u64,
    /// Optimizer steps taken.
    pub train_steps: usize,
    /// Time spent scoring candidates.
    pub scoring_time: Duration,
    /// Candidates scored.
    pub scored: usize,
    /// The training steps' mean loss, if any were taken.
    pub mean_loss: Option<f64>,
}

/// One execution a round will run.
#[derive(Clone, Debug)]
struct Planned {
    id: Uuid,
    candidate: Candidate,
    score: Option<f64>,
    /// The share its source had when it was drawn.
    share: Option<f64>,
    strategy: &'static str,
    submitter: Option<String>,
}

/// A model shared by the loop (training, scoring) and the API (predictions).
pub type SharedTrainer = Arc<Mutex<Trainer>>;

/// Locks the trainer, even if a thread panicked while holding it.
pub fn lock(trainer: &SharedTrainer) -> std::sync::MutexGuard<'_, Trainer> {
    trainer.lock().unwrap_or_else(|e| e.into_inner())
}

/// The loop of one strategy: its model, store, pools, schedule and curve.
#[derive(Debug)]
pub struct Engine {
    config: LoopConfig,
    store: Store,
    pools: Arc<PoolClients>,
    trainer: SharedTrainer,
    shared: Arc<Shared>,
    /// The held-out suites by name: `indist`, `lua` and `js` (the
    /// generator's), and `real`, `lua_real` and `js_real` with a corpus.
    suites: Arc<Vec<(&'static str, Vec<curio_trace::Run>)>>,
    surprising: Vec<Surprise>,
    fit: Fit,
    queries: u64,
    last_eval: Option<u64>,
    /// When the last evaluation ended (in learner seconds) and what it
    /// cost (wall seconds), which space the next under `eval_share`.
    last_eval_cost: EvalCost,
    device: Device,
    run_key: u64,
    /// Time spent on this run so far: the learner's (training and
    /// scoring, the compute axis of the curve) and evaluation's.
    spent: Spent,
    /// Each source's share of the candidates, adapting or not.
    sources: Sources,
    /// The last round's training time, which bounds the next round's
    /// scoring under `score_share`.
    last_training: Duration,
    /// `rho`'s reference model (none for other strategies).
    reference: Option<rho::Reference>,
}

/// Learner seconds a run has spent, kept on the curve as `learner_seconds`
/// (training plus scoring), `scoring_seconds` and `evaluation_seconds`, so a
/// resumed run goes on counting from its last point.
#[derive(Clone, Copy, Debug, Default)]
struct Spent {
    learner: f64,
    scoring: f64,
    evaluation: f64,
}

impl Engine {
    /// Interpreter queries used so far (submissions not counted).
    pub fn queries(&self) -> u64 {
        self.queries
    }

    /// Whether the budget is spent: the queries, or the learner time.
    pub fn done(&self) -> bool {
        self.queries >= self.config.budget
            || self.config.learner_budget.is_some_and(|b| self.spent.learner >= b.as_secs_f64())
    }

    /// Learner seconds spent so far on training and scoring (evaluations
    /// not counted): the compute axis of `curio experiment`.
    pub fn learner_seconds(&self) -> f64 {
        self.spent.learner
    }

    /// The model's optimizer steps so far.
    pub fn train_step(&self) -> i64 {
        lock(&self.trainer).learner.train_step
    }

    /// One round: submissions first, then the strategy's picks up to the
    /// batch (or what is left of the budget), then training.
    pub async fn round(&mut self) -> Result<RoundReport, LoopError> {
        let span = tracing::info_span!("round", run = %self.config.run_id, strategy = %self.config.strategy,
            position = self.queries);
        self.round_inner().instrument(span).await
    }

    async fn round_inner(&mut self) -> Result<RoundReport, LoopError> {
        let mut report = RoundReport::default();
        self.pools.refresh().await;
        let submissions = self.shared.take_submissions(self.config.batch);
        // `rho` runs its pool's worth and chooses among the runs after.
        let pool = if self.reference.is_some() { self.config.rho_pool } else { 1 };
        // Once the budget is spent (queries or learner time), a round runs
        // submissions only.
        let left = if self.done() { 0 } else { self.config.budget.saturating_sub(self.queries) as usize };
        let want = (self.config.batch * pool).min(left);
        let (picks, scores) = if want > 0 { self.acquire(want, &mut report).await? } else { (vec![], vec![]) };

        let mut planned: Vec<Planned> = vec![];
        for (i, (candidate, score)) in picks.into_iter().zip(scores).enumerate() {
            let id = Uuid::from_u64_pair(self.run_key, self.queries + i as u64);
            let share = self.sources.share_of(candidate.from);
            let strategy = self.config.strategy.as_str();
            planned.push(Planned { id, candidate, score, share, strategy, submitter: None });
        }
        for s in &submissions {
            let candidate = Candidate {
                language: s.language,
                source: s.source.clone(),
                input: s.input.clone(),
                seed: s.seed,
                family: format!("submitted:{}", s.id),
                origin: Origin::Submitted,
                from: Source::Submitted,
            };
            let submitter = Some(s.submitter.clone()).filter(|s| !s.is_empty());
            planned.push(Planned { id: s.id, candidate, score: None, share: None, strategy: "submitted", submitter });
        }
        let records = self.execute(&planned).await;
        let written = self.write(&records).await?;
        report.transitions = written;
        report.executed = planned.len() - submissions.len();
        report.submitted = submissions.len();
        reply(&submissions, &records);
        let measuring = Instant::now();
        let runs = Arc::new(surprise::measured_runs(&planned, &records));
        let measured = self.surprise_of(runs.clone()).await;
        let chosen = match &self.reference {
            Some(reference) => Some(self.choose_after(reference, (&planned, &records), runs, &measured).await?),
            None => None,
        };
        // Waiting out the store is not scoring.
        let waited = chosen.as_ref().map_or(Duration::ZERO, |c| c.stored);
        let surprise: Vec<Option<f64>> = measured.iter().map(|m| m.as_ref().map(|m| m.per_step())).collect();
        if self.config.strategy != Strategy::Random || self.config.adapt_shares {
            // It chooses the next candidates' parents, the sources' shares
            // or (rho) what to train on: part of acquiring.
            report.scoring_time += measuring.elapsed().saturating_sub(waited);
        }
        self.remember_surprises(&planned, &surprise);
        // Only the sources the bandit weighs take note (not submissions).
        for (p, s) in planned.iter().zip(&surprise) {
            if let Some(s) = s {
                self.sources.observe(p.candidate.from, *s);
            }
        }
        LoopMetrics.sources(self.config.strategy, &self.sources.report());
        self.queries += report.executed as u64;
        self.shared.set_queries(self.queries, self.store.transition_count() as u64);
        // Submissions are never scored: only the strategy's picks have scores.
        // rho's scores are the chosen runs' reducible losses, known after them.
        let scores: Vec<f64> = match &chosen {
            Some(c) => c.reducible.clone(),
            None => planned.iter().filter_map(|p| p.score).collect(),
        };
        LoopMetrics.round(self.config.strategy, self.queries, report.executed, &scores, report.scoring_time);
        LoopMetrics.pending(self.shared.pending());

        let per_step = (self.config.train_batch * self.config.pack) as f64;
        // rho trains for the runs it chose, not for all it ran.
        let inserted = chosen.as_ref().map_or(written, |c| c.transitions.min(written));
        let steps = ((inserted as f64 * self.config.samples_per_insert) / per_step).ceil() as usize;
        let steps = steps.min(self.config.max_steps_per_round);
        let training = Instant::now();
        (report.train_steps, report.mean_loss) = self.train(steps).await?;
        self.last_training = training.elapsed();
        self.spent.learner += training.elapsed().as_secs_f64() + report.scoring_time.as_secs_f64();
        self.spent.scoring += report.scoring_time.as_secs_f64();
        // Every round, so a run killed between checkpoints resumes its count.
        self.record_spent().await?;
        Ok(report)
    }

    /// Draws candidates for this position and picks `want` of them.
    async fn acquire(
        &mut self,
        want: usize,
        report: &mut RoundReport,
    ) -> Result<(Vec<Candidate>, Vec<Option<f64>>), LoopError> {
        // Same seed and position, same candidates: strategies compared on
        // one seed choose from the same pools.
        let mut rng = StdRng::seed_from_u64(self.config.seed ^ self.queries.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let corpus = self.config.corpus.as_deref();
        let generating = Generating { config: &GenConfig::default(), shares: self.sources.nested() };
        let drawn = self.config.candidates.max(want);
        let candidates = draw_candidates(drawn, &self.surprising, generating, corpus, &mut rng);
        let (trainer, strategy, device) = (self.trainer.clone(), self.config.strategy, self.device);
        let scoring = Scoring {
            bald_samples: self.config.bald_samples,
            horizon: self.config.horizon,
            budget: self.config.scoring_bound(self.last_training),
            diversity: self.config.diversity,
        };
        let (candidates, scored) = tokio::task::spawn_blocking(move || {
            let t = lock(&trainer);
            let s = score(&t.averaged().model, strategy, &candidates, scoring, device);
            (candidates, s)
        })
        .await?;
        let scored = scored?;
        report.scoring_time = scored.elapsed;
        report.scored = scored.scores.iter().filter(|s| s.is_some()).count();
        let spread = Some((&scored.embeddings[..], self.config.diversity));
        let chosen = select(&candidates, &scored.scores, (want, self.config.per_family), spread, &mut rng);
        Ok((
            chosen.iter().map(|&i| candidates[i].clone()).collect(),
            chosen.iter().map(|&i| scored.scores[i]).collect(),
        ))
    }

    /// Runs every planned execution on the pool, concurrently; one that no
    /// replica could run is logged and left out (it is not a query).
    async fn execute(&self, planned: &[Planned]) -> Vec<Option<ExecutionRecord>> {
        let model_version = self.train_step();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, p) in planned.iter().enumerate() {
            let c = &p.candidate;
            let exec = Execution {
                request_id: p.id.to_string(),
                input: c.input.clone(),
                seed: c.seed,
                limits: self.config.limits,
                ..Execution::new(c.language, c.source.clone())
            };
            let pools = self.pools.clone();
            let provenance = Provenance {
                run_id: Some(self.config.run_id.clone()),
                strategy: Some(p.strategy.to_string()),
                acquisition_score: p.score,
                model_version: Some(model_version),
                pool_replica: None,
                source: Some(p.candidate.from.as_str().to_string()),
                source_share: p.share,
            };
            let (id, origin, submitter) = (p.id, c.origin, p.submitter.clone());
            tasks.spawn(async move {
                let result = pools.execute(&exec).await;
                let record = result.map(|done| ExecutionRecord {
                    execution_id: id,
                    program: ProgramRecord {
                        submitter,
                        ..ProgramRecord::new(exec.language, exec.source.clone(), origin)
                    },
                    input: exec.input.clone(),
                    seed: exec.seed,
                    limits: exec.limits,
                    trace: done.trace,
                    provenance: Provenance { pool_replica: Some(done.replica), ..provenance },
                });
                (i, record)
            });
        }
        let mut out: Vec<Option<ExecutionRecord>> = vec![None; planned.len()];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, Ok(record))) => {
                    tracing::debug!(execution_id = %record.execution_id, status = record.trace.status.as_str(),
                        steps = record.trace.step_count, replica = ?record.provenance.pool_replica, "executed");
                    out[i] = Some(record)
                }
                Ok((i, Err(e))) => tracing::error!(execution_id = %planned[i].id, error = %e, "execution failed"),
                Err(e) => tracing::error!(error = %e, "execution task failed"),
            }
        }
        out
    }

    /// Writes the round, waiting out a database outage (the ids make a
    /// retry store nothing twice). Returns the transitions stored.
    async fn write(&self, records: &[Option<ExecutionRecord>]) -> Result<u64, LoopError> {
        let batch: Vec<ExecutionRecord> = records.iter().flatten().cloned().collect();
        StoreMetrics.backlog(batch.len());
        // The store keeps what it refuses apart, with why, and writes the
        // rest: only an outage comes back here, and that is waited out.
        let receipt = patiently("writing a round", async || self.store.write(&batch).await).await?;
        StoreMetrics.backlog(0);
        Ok(receipt.transitions)
    }

    /// Up to `steps` optimizer steps on minibatches from this run's
    /// transitions; returns the steps taken and their mean loss.
    async fn train(&mut self, steps: usize) -> Result<(usize, Option<f64>), LoopError> {
        let started = Instant::now();
        let done = self.fit.steps(&self.store, &self.trainer, steps, &mut ()).await?;
        self.shared.set_train_step(self.train_step());
        if done.steps == 0 {
            return Ok((0, None));
        }
        let per_second = done.tokens as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let (action, delta) = (done.action_loss / done.steps as f64, done.delta_loss / done.steps as f64);
        LoopMetrics.trained(done.steps, per_second, action, delta);
        Ok((done.steps, Some(action + delta)))
    }

    /// Whether the schedule calls for an evaluation now.
    pub fn eval_due(&self) -> bool {
        eval_due(
            (self.queries, self.last_eval, self.config.eval_every),
            (self.spent.learner, self.last_eval_cost),
            self.config.eval_share,
            self.done(),
        )
    }
}

/// Tells each submitter what became of their program.
fn reply(submissions: &[Submitted], records: &[Option<ExecutionRecord>]) {
    let offset = records.len() - submissions.len();
    for (s, record) in submissions.iter().zip(&records[offset..]) {
        s.answer(record.as_ref().map(|r| &r.trace));
    }
}

/// Runs a store call under the store's [`Retry`] policy (waiting out a
/// restart or a failover); its final error as a loop error.
pub(crate) async fn patiently<T>(
    what: &'static str,
    mut call: impl AsyncFnMut() -> Result<T, StoreError>,
) -> Result<T, LoopError> {
    let mut retry = Retry::new(what, Backoff::default());
    loop {
        match call().await {
            Err(e) => retry.failed(e).await?,
            done => return Ok(done?),
        }
    }
}
