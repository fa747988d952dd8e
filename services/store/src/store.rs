//! The store itself: idempotent batched writes, sampling, and bookkeeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use curio_trace::{Run, Step};

use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::priority::PriorityIndex;
use crate::records::{ExecutionRecord, pg_text};
use crate::schema::{migrate, schema_is_current};

/// How to draw a minibatch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// Every stored transition equally likely.
    Uniform,
    /// Uniform over the newest `window` transitions.
    Recent { window: usize },
    /// In proportion to each transition's priority.
    Prioritized,
}

/// What one batch write did.
#[derive(Debug, Default, PartialEq)]
pub struct WriteReceipt {
    /// Executions stored by this write.
    pub written: Vec<Uuid>,
    /// Executions already stored (a retry, or the same id twice): skipped.
    pub duplicates: Vec<Uuid>,
    /// Records refused, each with why; the rest of the batch is stored.
    pub rejected: Vec<(Uuid, String)>,
    /// Transition rows inserted.
    pub transitions: u64,
}

/// One sampled transition: the state at `step` and the `horizon` steps after
/// it that exist (fewer near the end of a run).
#[derive(Clone, Debug, PartialEq)]
pub struct SampledTransition {
    pub id: i64,
    pub execution_id: Uuid,
    pub step: u32,
    /// Probability this transition had of being drawn (for importance weights).
    pub probability: f64,
    /// Rows `step ..= step + horizon` of the execution, in order.
    pub states: Vec<Step>,
}

/// The replay store; cheap to clone (one connection pool, one index).
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    index: Arc<Mutex<PriorityIndex>>,
}

impl Store {
    /// Connects, applies the migrations, and loads the priority index.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions =
            url.parse().map_err(|e| StoreError::Invalid(format!("DATABASE_URL {}: {e}", redact(url))))?;
        Self::connect_with(options).await
    }

    /// As [`connect`](Self::connect), from parsed options.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let target = format!("{}/{}", options.get_host(), options.get_database().unwrap_or("postgres"));
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("connecting to {target}: {e}")))?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool (tests give each its own database). Applies
    /// the migrations only when the schema lacks one, so a role without
    /// DDL rights runs against a schema `curio db migrate` brought up to
    /// date.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        if !schema_is_current(&pool).await? {
            migrate(&pool).await?;
        }
        StoreMetrics::register();
        let store = Store { pool, index: Arc::new(Mutex::new(PriorityIndex::default())) };
        store.load_index().await?;
        Ok(store)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Transitions known to the sampler.
    pub fn transition_count(&self) -> usize {
        self.index().len()
    }

    fn index(&self) -> MutexGuard<'_, PriorityIndex> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn load_index(&self) -> Result<(), StoreError> {
        let rows: Vec<(i64, f32)> =
            sqlx::query_as("SELECT id, priority FROM transitions ORDER BY id").fetch_all(&self.pool).await?;
        self.fill_index(rows);
        Ok(())
    }

    /// The same database, sampling only the transitions of one run's
    /// strategy (and of programs submitted to that run), so strategies
    /// compared on one database each train on what they asked for. Writes
    /// through the scoped store join its index.
    pub async fn scoped(&self, run_id: &str, strategy: &str) -> Result<Store, StoreError> {
        let rows: Vec<(i64, f32)> = sqlx::query_as(
            "SELECT t.id, t.priority FROM transitions t JOIN executions e ON e.id = t.execution_id \
             WHERE e.run_id = $1 AND e.strategy IN ($2, 'submitted') ORDER BY t.id",
        )
        .bind(run_id)
        .bind(strategy)
        .fetch_all(&self.pool)
        .await?;
        let store = Store { pool: self.pool.clone(), index: Arc::default() };
        store.fill_index(rows);
        Ok(store)
    }

    /// Executions a run's strategy has stored: the interpreter queries it used.
    pub async fn queries_used(&self, run_id: &str, strategy: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM executions WHERE run_id = $1 AND strategy = $2")
            .bind(run_id)
            .bind(strategy)
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    fn fill_index(&self, rows: Vec<(i64, f32)>) {
        let mut index = PriorityIndex::default();
        for (id, priority) in rows {
            index.push(id, priority);
        }
        *self.index() = index;
    }

    /// Stores a batch. Invalid records are refused one by one; executions
    /// already stored are skipped, so retrying a batch whose outcome is
    /// unknown never duplicates anything. A part of the batch the database
    /// refuses for what it holds (a data exception, a constraint, a rule of
    /// its own) is split until the record at fault is found; that record is
    /// kept in `rejected_executions` with the database's reason, and the rest
    /// is stored.
    pub async fn write(&self, batch: &[ExecutionRecord]) -> Result<WriteReceipt, StoreError> {
        let mut receipt = WriteReceipt::default();
        let mut refused: Vec<(&ExecutionRecord, String)> = vec![];
        let mut seen = std::collections::HashSet::new();
        let valid: Vec<&ExecutionRecord> = batch
            .iter()
            .filter(|r| match r.validate() {
                Err(e) => {
                    refused.push((r, e.to_string()));
                    false
                }
                Ok(()) if !seen.insert(r.execution_id) => {
                    receipt.duplicates.push(r.execution_id);
                    false
                }
                Ok(()) => true,
            })
            .collect();
        let mut parts = vec![valid];
        while let Some(part) = parts.pop() {
            if part.is_empty() {
                continue;
            }
            match self.write_part(&part).await {
                Ok(done) => {
                    receipt.written.extend(done.written);
                    receipt.duplicates.extend(done.duplicates);
                    receipt.transitions += done.transitions;
                }
                // Only a refusal of the data is worth splitting for; an
                // outage, or anything else, goes back to the caller whole.
                Err(e) if !matches!(e, StoreError::Refused(_)) => return Err(e),
                Err(e) if part.len() == 1 => refused.push((part[0], e.to_string())),
                Err(_) => {
                    let (a, b) = part.split_at(part.len() / 2);
                    parts.push(b.to_vec());
                    parts.push(a.to_vec());
                }
            }
        }
        self.keep_rejected(&refused).await?;
        receipt.rejected = refused.into_iter().map(|(r, why)| (r.execution_id, why)).collect();
        Ok(receipt)
    }

    /// Stores valid records in one transaction.
    async fn write_part(&self, valid: &[&ExecutionRecord]) -> Result<WriteReceipt, StoreError> {
        let priority = self.index().max_priority();
        let started = std::time::Instant::now();
        let mut tx = self.pool.begin().await?;
        let program_ids = insert_programs(&mut tx, valid).await?;
        let new = insert_executions(&mut tx, valid, &program_ids).await?;
        let fresh: Vec<&ExecutionRecord> = valid.iter().copied().filter(|r| new.contains(&r.execution_id)).collect();
        let ids = insert_transitions(&mut tx, &fresh, priority).await?;
        tx.commit().await?;
        let mut index = self.index();
        for id in &ids {
            index.push(*id, priority);
        }
        drop(index);
        let mut receipt = WriteReceipt { transitions: ids.len() as u64, ..WriteReceipt::default() };
        StoreMetrics.written(fresh.len(), receipt.transitions, started.elapsed());
        for r in valid {
            if new.contains(&r.execution_id) {
                receipt.written.push(r.execution_id);
            } else {
                receipt.duplicates.push(r.execution_id);
            }
        }
        Ok(receipt)
    }

    /// Keeps refused records, with why, where an operator can see them.
    async fn keep_rejected(&self, refused: &[(&ExecutionRecord, String)]) -> Result<(), StoreError> {
        if refused.is_empty() {
            return Ok(());
        }
        let text =
            |f: &dyn Fn(&ExecutionRecord) -> &str| refused.iter().map(|(r, _)| pg_text(f(r))).collect::<Vec<_>>();
        let prov = |f: &dyn Fn(&ExecutionRecord) -> Option<&str>| {
            refused.iter().map(|(r, _)| f(r).map(pg_text)).collect::<Vec<Option<String>>>()
        };
        let ids: Vec<Uuid> = refused.iter().map(|(r, _)| r.execution_id).collect();
        let seeds: Vec<i64> = refused.iter().map(|(r, _)| r.seed as i64).collect();
        let steps: Vec<i64> = refused.iter().map(|(r, _)| r.trace.step_count.min(i64::MAX as u64) as i64).collect();
        let reasons: Vec<String> = refused.iter().map(|(_, why)| pg_text(why)).collect();
        let outcome = sqlx::query(
            "INSERT INTO rejected_executions \
                 (execution_id, run_id, strategy, language, source, input, seed, status, step_count, reason) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::bigint[], $8::text[], $9::bigint[], $10::text[]) \
             ON CONFLICT (execution_id) DO NOTHING",
        )
        .bind(&ids)
        .bind(prov(&|r| r.provenance.run_id.as_deref()))
        .bind(prov(&|r| r.provenance.strategy.as_deref()))
        .bind(text(&|r| &r.program.language))
        .bind(text(&|r| &r.program.source))
        .bind(text(&|r| &r.input))
        .bind(&seeds)
        .bind(text(&|r| r.trace.status.as_str()))
        .bind(&steps)
        .bind(&reasons)
        .execute(&self.pool)
        .await;
        for (r, why) in refused {
            tracing::warn!(execution_id = %r.execution_id, reason = %why, "store refused an execution");
        }
        StoreMetrics.rejected(refused.len());
        match outcome.map_err(StoreError::from) {
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                // Only the record of the refusal is lost; the write goes on.
                tracing::error!(error = %e, "could not keep the refused executions");
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }

    /// Executions refused so far, with why: (id, reason), oldest first.
    pub async fn rejected(&self, run_id: Option<&str>) -> Result<Vec<(Uuid, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT execution_id, reason FROM rejected_executions WHERE $1::text IS NULL OR run_id = $1 \
             ORDER BY created_at, execution_id",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Draws `n` transitions (with replacement) and fetches each with the
    /// `horizon` steps after it.
    pub async fn sample(
        &self,
        n: usize,
        how: Sampling,
        horizon: u32,
        rng: &mut impl Rng,
    ) -> Result<Vec<SampledTransition>, StoreError> {
        let started = std::time::Instant::now();
        let picks = {
            let index = self.index();
            match how {
                Sampling::Uniform => index.sample_uniform(n, None, rng),
                Sampling::Recent { window } => index.sample_uniform(n, Some(window), rng),
                Sampling::Prioritized => index.sample_prioritized(n, rng),
            }
        };
        let ids: Vec<i64> = picks.iter().map(|p| p.0).collect();
        let rows = sqlx::query(
            "SELECT s.id, s.execution_id, s.step AS base, t.step, t.event, t.line, t.function, t.depth, \
                    t.locals::text AS locals, t.stdout, t.value \
             FROM transitions s \
             JOIN transitions t ON t.execution_id = s.execution_id AND t.step BETWEEN s.step AND s.step + $2 \
             WHERE s.id = ANY($1) ORDER BY s.id, t.step",
        )
        .bind(&ids)
        .bind(horizon as i32)
        .fetch_all(&self.pool)
        .await?;
        let mut by_id: HashMap<i64, SampledTransition> = HashMap::new();
        for row in rows {
            let id: i64 = row.get("id");
            let entry = by_id.entry(id).or_insert_with(|| SampledTransition {
                id,
                execution_id: row.get("execution_id"),
                step: row.get::<i32, _>("base") as u32,
                probability: 0.0,
                states: vec![],
            });
            entry.states.push(stored_step(&row)?);
        }
        let kind = match how {
            Sampling::Uniform => "uniform",
            Sampling::Recent { .. } => "recent",
            Sampling::Prioritized => "prioritized",
        };
        StoreMetrics.sampled(kind, started.elapsed());
        Ok(picks
            .into_iter()
            .filter_map(|(id, probability)| by_id.get(&id).map(|t| SampledTransition { probability, ..t.clone() }))
            .collect())
    }

    /// Sets transitions' priorities (the trainer's loss on each). Priorities
    /// must be finite and positive; they are clamped to [1e-6, 1e6].
    pub async fn update_priorities(&self, updates: &[(i64, f32)]) -> Result<(), StoreError> {
        let clamped: Vec<(i64, f32)> =
            updates.iter().map(|&(id, p)| (id, if p.is_finite() { p.clamp(1e-6, 1e6) } else { 1e6 })).collect();
        let ids: Vec<i64> = clamped.iter().map(|u| u.0).collect();
        let priorities: Vec<f32> = clamped.iter().map(|u| u.1).collect();
        sqlx::query(
            "UPDATE transitions t SET priority = u.p FROM UNNEST($1::bigint[], $2::real[]) AS u(id, p) WHERE t.id = u.id",
        )
        .bind(&ids)
        .bind(&priorities)
        .execute(&self.pool)
        .await?;
        let mut index = self.index();
        for (id, p) in clamped {
            index.update(id, p);
        }
        Ok(())
    }

    /// Every stored execution of a program (by content hash) with its steps.
    pub async fn traces_of_program(&self, content_hash: &[u8]) -> Result<Vec<(Uuid, Vec<Step>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id AS execution_id, t.step, t.event, t.line, t.function, t.depth, t.locals::text AS locals, \
                    t.stdout, t.value \
             FROM programs p JOIN executions e ON e.program_id = p.id \
             LEFT JOIN transitions t ON t.execution_id = e.id \
             WHERE p.content_hash = $1 ORDER BY e.created_at, e.id, t.step",
        )
        .bind(content_hash)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(Uuid, Vec<Step>)> = vec![];
        for row in rows {
            let id: Uuid = row.get("execution_id");
            if out.last().is_none_or(|(last, _)| *last != id) {
                out.push((id, vec![]));
            }
            if row.try_get::<i32, _>("step").is_ok() {
                out.last_mut().expect("pushed above").1.push(stored_step(&row)?);
            }
        }
        Ok(out)
    }

    /// Whole traces with their program source and input, by execution id
    /// (for rebuilding the stack of a sampled transition).
    pub async fn traces(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Run>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id AS execution_id, p.source, e.input, t.step, t.event, t.line, t.function, t.depth, \
                    t.locals::text AS locals, t.stdout, t.value \
             FROM executions e JOIN programs p ON p.id = e.program_id \
             JOIN transitions t ON t.execution_id = e.id \
             WHERE e.id = ANY($1) ORDER BY e.id, t.step",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<Uuid, Run> = HashMap::new();
        for row in rows {
            let entry = out.entry(row.get("execution_id")).or_insert_with(|| Run {
                source: row.get("source"),
                input: row.get("input"),
                steps: vec![],
            });
            entry.steps.push(stored_step(&row)?);
        }
        Ok(out)
    }

    /// Records a checkpoint; returns its id.
    pub async fn record_checkpoint(
        &self,
        run_id: &str,
        train_step: i64,
        path: &str,
        model_config: &serde_json::Value,
        metrics: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO checkpoints (run_id, train_step, path, model_config, metrics) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (run_id, train_step) DO UPDATE SET path = EXCLUDED.path, metrics = EXCLUDED.metrics \
             RETURNING id",
        )
        .bind(run_id)
        .bind(train_step)
        .bind(path)
        .bind(model_config)
        .bind(metrics)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The newest checkpoint of a run: (train step, path, model config).
    pub async fn latest_checkpoint(
        &self,
        run_id: &str,
    ) -> Result<Option<(i64, String, serde_json::Value)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT train_step, path, model_config FROM checkpoints WHERE run_id = $1 ORDER BY train_step DESC LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records one evaluation metric.
    pub async fn record_eval(
        &self,
        checkpoint_id: Option<i64>,
        run_id: &str,
        suite: &str,
        metric: &str,
        value: f64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO eval_results (checkpoint_id, run_id, suite, metric, value) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(checkpoint_id)
        .bind(run_id)
        .bind(suite)
        .bind(metric)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a learning-curve point (idempotent per run, strategy, metric
    /// and query count).
    pub async fn record_curve_point(
        &self,
        run_id: &str,
        strategy: &str,
        queries_used: i64,
        metric: &str,
        value: f64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO learning_curve (run_id, strategy, queries_used, metric, value) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (run_id, strategy, metric, queries_used) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(run_id)
        .bind(strategy)
        .bind(queries_used)
        .bind(metric)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The metrics a run's curve has points for.
    pub async fn curve_metrics(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT DISTINCT metric FROM learning_curve WHERE run_id = $1 ORDER BY metric")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A run's curve for one metric: (strategy, queries used, value), in order.
    pub async fn learning_curve(&self, run_id: &str, metric: &str) -> Result<Vec<(String, i64, f64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT strategy, queries_used, value FROM learning_curve WHERE run_id = $1 AND metric = $2 \
             ORDER BY strategy, queries_used",
        )
        .bind(run_id)
        .bind(metric)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A stored row back as the pool's [`Step`].
fn stored_step(row: &sqlx::postgres::PgRow) -> Result<Step, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Database(format!("stored {what}: {e}"));
    let locals: String = row.get("locals");
    let locals = serde_json::from_str(&locals).map_err(|e| corrupt("locals are not pairs", &e))?;
    let event: String = row.get("event");
    let event = serde_json::from_value(serde_json::Value::String(event)).map_err(|e| corrupt("event", &e))?;
    let number = |name: &str| row.get::<i32, _>(name) as u32;
    Ok(Step {
        step: number("step"),
        event,
        line: number("line"),
        function: row.get("function"),
        depth: number("depth"),
        locals,
        stdout: row.get("stdout"),
        value: row.get("value"),
    })
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Stores the batch's programs once each; returns each record's program id.
async fn insert_programs(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[&ExecutionRecord],
) -> Result<Vec<i64>, StoreError> {
    let per_record: Vec<Vec<u8>> = batch.iter().map(|r| r.program.content_hash()).collect();
    let mut hashes = vec![];
    let (mut languages, mut sources, mut origins, mut submitters) = (vec![], vec![], vec![], vec![]);
    let mut seen = std::collections::HashSet::new();
    for (r, hash) in batch.iter().zip(&per_record) {
        if seen.insert(hash) {
            hashes.push(hash.clone());
            languages.push(r.program.language.clone());
            sources.push(r.program.source.clone());
            origins.push(r.program.origin.as_str());
            submitters.push(r.program.submitter.as_deref().map(pg_text));
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO programs (content_hash, language, source, origin, submitter) \
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[]) \
         ON CONFLICT (content_hash) DO NOTHING",
    )
    .bind(&hashes)
    .bind(&languages)
    .bind(&sources)
    .bind(&origins)
    .bind(&submitters)
    .execute(&mut **tx)
    .await?;
    StoreMetrics.programs_written(inserted.rows_affected());
    let rows: Vec<(Vec<u8>, i64)> =
        sqlx::query_as("SELECT content_hash, id FROM programs WHERE content_hash = ANY($1)")
            .bind(&hashes)
            .fetch_all(&mut **tx)
            .await?;
    let ids: HashMap<Vec<u8>, i64> = rows.into_iter().collect();
    Ok(per_record.iter().map(|h| ids[h]).collect())
}

async fn insert_executions(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[&ExecutionRecord],
    program_ids: &[i64],
) -> Result<std::collections::HashSet<Uuid>, StoreError> {
    let col = |f: &dyn Fn(&ExecutionRecord) -> i64| batch.iter().map(|r| f(r)).collect::<Vec<i64>>();
    let ids: Vec<Uuid> = batch.iter().map(|r| r.execution_id).collect();
    let inputs: Vec<String> = batch.iter().map(|r| pg_text(&r.input)).collect();
    let seeds = col(&|r| r.seed as i64);
    let max_steps = col(&|r| i64::from(r.limits.max_steps));
    let timeouts = col(&|r| r.limits.timeout.as_millis() as i64);
    let memory = col(&|r| r.limits.memory_bytes as i64);
    let output = col(&|r| r.limits.output_bytes as i64);
    let statuses: Vec<&str> = batch.iter().map(|r| r.trace.status.as_str()).collect();
    let step_counts = col(&|r| r.trace.step_count as i64);
    let stdouts: Vec<String> = batch.iter().map(|r| pg_text(&r.trace.stdout)).collect();
    let err = |f: &dyn Fn(&curio_trace::ErrorInfo) -> String| {
        batch.iter().map(|r| r.trace.error.as_ref().map(|e| pg_text(&f(e)))).collect::<Vec<Option<String>>>()
    };
    let error_types = err(&|e| e.kind.clone());
    let error_messages = err(&|e| e.message.clone());
    let error_lines: Vec<Option<i64>> =
        batch.iter().map(|r| r.trace.error.as_ref().and_then(|e| e.line).map(i64::from)).collect();
    let truncated: Vec<bool> = batch.iter().map(|r| r.trace.truncated).collect();
    let durations = col(&|r| r.trace.duration.as_micros() as i64);
    let prov = |f: &dyn Fn(&crate::records::Provenance) -> Option<String>| {
        batch.iter().map(|r| f(&r.provenance).map(|s| pg_text(&s))).collect::<Vec<Option<String>>>()
    };
    let replicas = prov(&|p| p.pool_replica.clone());
    let runs = prov(&|p| p.run_id.clone());
    let strategies = prov(&|p| p.strategy.clone());
    let scores: Vec<Option<f64>> = batch.iter().map(|r| r.provenance.acquisition_score).collect();
    let versions: Vec<Option<i64>> = batch.iter().map(|r| r.provenance.model_version).collect();
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "INSERT INTO executions (id, program_id, input, seed, max_steps, timeout_ms, memory_bytes, output_bytes, \
             status, step_count, stdout, error_type, error_message, error_line, truncated, duration_us, \
             pool_replica, run_id, strategy, acquisition_score, model_version) \
         SELECT u.id, u.program_id, u.input, u.seed, u.max_steps::int, u.timeout_ms::int, u.memory_bytes, \
             u.output_bytes, u.status, u.step_count, u.stdout, u.error_type, u.error_message, u.error_line::int, \
             u.truncated, u.duration_us, u.pool_replica, u.run_id, u.strategy, u.acquisition_score, u.model_version \
         FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], \
             $8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[], \
             $15::bool[], $16::bigint[], $17::text[], $18::text[], $19::text[], $20::float8[], $21::bigint[]) \
           AS u(id, program_id, input, seed, max_steps, timeout_ms, memory_bytes, output_bytes, status, step_count, \
             stdout, error_type, error_message, error_line, truncated, duration_us, pool_replica, run_id, strategy, \
             acquisition_score, model_version) \
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(&ids)
    .bind(program_ids)
    .bind(&inputs)
    .bind(&seeds)
    .bind(&max_steps)
    .bind(&timeouts)
    .bind(&memory)
    .bind(&output)
    .bind(&statuses)
    .bind(&step_counts)
    .bind(&stdouts)
    .bind(&error_types)
    .bind(&error_messages)
    .bind(&error_lines)
    .bind(&truncated)
    .bind(&durations)
    .bind(&replicas)
    .bind(&runs)
    .bind(&strategies)
    .bind(&scores)
    .bind(&versions)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

async fn insert_transitions(
    tx: &mut Transaction<'_, Postgres>,
    fresh: &[&ExecutionRecord],
    priority: f32,
) -> Result<Vec<i64>, StoreError> {
    let total: usize = fresh.iter().map(|r| r.trace.steps.len()).sum();
    let mut exec_ids = Vec::with_capacity(total);
    let (mut steps, mut lines, mut depths) = (Vec::with_capacity(total), Vec::with_capacity(total), Vec::new());
    let (mut events, mut functions, mut locals) = (Vec::with_capacity(total), Vec::new(), Vec::new());
    let (mut stdouts, mut values) = (Vec::with_capacity(total), Vec::new());
    for r in fresh {
        for s in &r.trace.steps {
            exec_ids.push(r.execution_id);
            steps.push(s.step as i32);
            events.push(s.event.as_str());
            lines.push(s.line as i32);
            functions.push(pg_text(&s.function));
            depths.push(s.depth as i32);
            // NUL is made visible before the JSON is built: jsonb refuses
            // its escape, and the JSON text itself must not be rewritten.
            let pairs: Vec<(String, String)> = s.locals.iter().map(|(n, v)| (pg_text(n), pg_text(v))).collect();
            locals.push(serde_json::to_string(&pairs).expect("pairs of strings serialize"));
            stdouts.push(pg_text(&s.stdout));
            values.push(s.value.as_deref().map(pg_text));
        }
    }
    if exec_ids.is_empty() {
        return Ok(vec![]);
    }
    let priorities = vec![priority; exec_ids.len()];
    let ids: Vec<(i64,)> = sqlx::query_as(
        "INSERT INTO transitions (execution_id, step, event, line, function, depth, locals, stdout, value, priority) \
         SELECT u.e, u.s, u.ev, u.l, u.f, u.d, u.lo::jsonb, u.o, u.v, u.p \
         FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::int[], $5::text[], $6::int[], $7::text[], $8::text[], \
                     $9::text[], $10::real[]) AS u(e, s, ev, l, f, d, lo, o, v, p) \
         RETURNING id",
    )
    .bind(&exec_ids)
    .bind(&steps)
    .bind(&events)
    .bind(&lines)
    .bind(&functions)
    .bind(&depths)
    .bind(&locals)
    .bind(&stdouts)
    .bind(&values)
    .bind(&priorities)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.into_iter().map(|r| r.0).collect())
}
