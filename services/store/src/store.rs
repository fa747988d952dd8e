//! The store handle: its connection pool and the in-memory priority index
//! that sampling draws from, and the views of one database a handle can
//! take (the whole store, or one run's strategy). What a handle does lives
//! in its submodules: writing batches, sampling and reading traces back,
//! and a run's checkpoints and curves.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::priority::PriorityIndex;
use crate::schema::{migrate, schema_is_current};

mod checkpoints;
mod insert;
mod sample;
mod write;

pub use sample::{SampledTransition, Sampling};
pub use write::WriteReceipt;

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

    /// The connection pool, for queries the store has no method for.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Transitions known to the sampler.
    pub fn transition_count(&self) -> usize {
        self.index().len()
    }

    /// Transitions known to the sampler whose program is corpus code.
    pub fn corpus_transition_count(&self) -> usize {
        self.index().corpus_len()
    }

    fn index(&self) -> MutexGuard<'_, PriorityIndex> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn load_index(&self) -> Result<(), StoreError> {
        let rows: Vec<(i64, f32, bool)> = sqlx::query_as(
            "SELECT t.id, t.priority, p.origin = 'corpus' FROM transitions t \
             JOIN executions e ON e.id = t.execution_id JOIN programs p ON p.id = e.program_id ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        self.fill_index(rows);
        Ok(())
    }

    /// The same database, sampling only the transitions of one run's
    /// strategy (and of programs submitted to that run), so strategies
    /// compared on one database each train on what they asked for. Writes
    /// through the scoped store join its index.
    pub async fn scoped(&self, run_id: &str, strategy: &str) -> Result<Store, StoreError> {
        let rows: Vec<(i64, f32, bool)> = sqlx::query_as(
            "SELECT t.id, t.priority, p.origin = 'corpus' FROM transitions t \
             JOIN executions e ON e.id = t.execution_id JOIN programs p ON p.id = e.program_id \
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

    fn fill_index(&self, rows: Vec<(i64, f32, bool)>) {
        let mut index = PriorityIndex::default();
        for (id, priority, corpus) in rows {
            index.push(id, priority, corpus);
        }
        *self.index() = index;
    }
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
