//! What the trainer reads: minibatches drawn through the priority index,
//! the priorities it sets from its losses, and stored traces back as the
//! pool's steps.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use rand::Rng;
use sqlx::Row;
use uuid::Uuid;

use curio_trace::{Language, Run, Step};

use super::Store;
use crate::error::StoreError;
use crate::metrics::StoreMetrics;

/// The lowest sampling priority a transition can have: drawn uniformly
/// still, by priority almost never.
pub const LOWEST_PRIORITY: f32 = 1e-6;

/// How to draw a minibatch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// Every stored transition equally likely.
    Uniform,
    /// Uniform over the newest `window` transitions.
    Recent {
        /// How many of the newest transitions to draw from.
        window: usize,
    },
    /// In proportion to each transition's priority.
    Prioritized,
    /// From the transitions of corpus programs (code people wrote,
    /// `corpus: true`) or from all the others (`false`): in proportion to
    /// priority within the part, or uniformly.
    Part {
        /// Which part to draw from.
        corpus: bool,
        /// By priority, or uniformly.
        prioritized: bool,
    },
}

/// One sampled transition: where it is (its execution and step) and how
/// likely it was to be drawn. Its trace comes from [`Store::traces`], which
/// a caller reads once per execution however often it is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampledTransition {
    /// The transition's id (for its priority).
    pub id: i64,
    /// The execution it belongs to.
    pub execution_id: Uuid,
    /// Its step in that execution.
    pub step: u32,
    /// Probability this transition had of being drawn (for importance weights).
    pub probability: f64,
}

impl Store {
    /// Draws `n` transitions (with replacement): the index draws, and one
    /// lookup by primary key says where each one is.
    pub async fn sample(
        &self,
        n: usize,
        how: Sampling,
        rng: &mut impl Rng,
    ) -> Result<Vec<SampledTransition>, StoreError> {
        let started = std::time::Instant::now();
        let picks = {
            let index = self.index();
            match how {
                Sampling::Uniform => index.sample_uniform(n, None, rng),
                Sampling::Recent { window } => index.sample_uniform(n, Some(window), rng),
                Sampling::Prioritized => index.sample_prioritized(n, rng),
                Sampling::Part { corpus, prioritized } => index.sample_part(n, corpus, prioritized, rng),
            }
        };
        let ids: Vec<i64> = picks.iter().map(|p| p.0).collect();
        let rows: Vec<(i64, Uuid, i32)> =
            sqlx::query_as("SELECT id, execution_id, step FROM transitions WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        let at: HashMap<i64, (Uuid, u32)> = rows.into_iter().map(|(id, e, step)| (id, (e, step as u32))).collect();
        let kind = match how {
            Sampling::Uniform => "uniform",
            Sampling::Recent { .. } => "recent",
            Sampling::Prioritized => "prioritized",
            Sampling::Part { corpus: true, .. } => "corpus",
            Sampling::Part { corpus: false, .. } => "not_corpus",
        };
        StoreMetrics.sampled(kind, started.elapsed());
        Ok(picks
            .into_iter()
            .filter_map(|(id, probability)| {
                at.get(&id).map(|&(execution_id, step)| SampledTransition { id, execution_id, step, probability })
            })
            .collect())
    }

    /// Sets transitions' priorities (the trainer's loss on each). Priorities
    /// must be finite and positive; they are clamped to [1e-6, 1e6].
    pub async fn update_priorities(&self, updates: &[(i64, f32)]) -> Result<(), StoreError> {
        let clamped: Vec<(i64, f32)> = updates
            .iter()
            .map(|&(id, p)| (id, if p.is_finite() { p.clamp(LOWEST_PRIORITY, 1e6) } else { 1e6 }))
            .collect();
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

    /// Records a choice made after the runs (the loop's `rho`): each
    /// execution's reducible loss (or none, when it could not be measured)
    /// and whether it was chosen. The transitions of those not chosen go to
    /// the lowest priority, so training draws them only uniformly until a
    /// step measures them again; the chosen keep the priority they were
    /// stored with, the highest there is.
    pub async fn choose(&self, decisions: &[(Uuid, Option<f64>, bool)]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = decisions.iter().map(|d| d.0).collect();
        let reducible: Vec<Option<f64>> = decisions.iter().map(|d| d.1.filter(|v| v.is_finite())).collect();
        let chosen: Vec<bool> = decisions.iter().map(|d| d.2).collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE executions e SET reducible_nats = u.r, chosen = u.c \
             FROM UNNEST($1::uuid[], $2::float8[], $3::bool[]) AS u(id, r, c) WHERE e.id = u.id",
        )
        .bind(&ids)
        .bind(&reducible)
        .bind(&chosen)
        .execute(&mut *tx)
        .await?;
        let left: Vec<Uuid> = decisions.iter().filter(|d| !d.2).map(|d| d.0).collect();
        let lowered: Vec<i64> =
            sqlx::query_scalar("UPDATE transitions SET priority = $2 WHERE execution_id = ANY($1) RETURNING id")
                .bind(&left)
                .bind(LOWEST_PRIORITY)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let mut index = self.index();
        for id in lowered {
            index.update(id, LOWEST_PRIORITY);
        }
        Ok(())
    }

    /// Settles a round stored but never chosen from (the process stopped
    /// between the two): `strategy`'s executions in `run_id` with no choice
    /// recorded are marked not chosen, their transitions at the lowest
    /// priority. Returns how many there were.
    pub async fn settle_unchosen(&self, run_id: &str, strategy: &str) -> Result<usize, StoreError> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM executions WHERE run_id = $1 AND strategy = $2 AND chosen IS NULL")
                .bind(run_id)
                .bind(strategy)
                .fetch_all(&self.pool)
                .await?;
        if !ids.is_empty() {
            self.choose(&ids.iter().map(|&id| (id, None, false)).collect::<Vec<_>>()).await?;
        }
        Ok(ids.len())
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
            "SELECT e.id AS execution_id, p.language, p.source, e.input, t.step, t.event, t.line, t.function, t.depth, \
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
            let run = match out.entry(row.get("execution_id")) {
                Entry::Occupied(run) => run.into_mut(),
                Entry::Vacant(slot) => {
                    let language: String = row.get("language");
                    let language = Language::parse(&language)
                        .map_err(|e| StoreError::Database(format!("stored program language: {}", e.reason)))?;
                    slot.insert(Run { language, source: row.get("source"), input: row.get("input"), steps: vec![] })
                }
            };
            run.steps.push(stored_step(&row)?);
        }
        Ok(out)
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
