//! The replay store: Curio's memory of everything the interpreter showed it.
//!
//! It owns the Postgres schema (`migrations/`, applied at connect when the
//! schema is behind, and a runtime role without DDL rights), batched
//! idempotent writes of executions and their per-step transitions, minibatch
//! sampling (uniform, recent, prioritized through an in-memory sum tree over
//! the stored priorities), checkpoint/eval/learning-curve bookkeeping, the
//! durable writer that rides out Postgres outages, and a private Postgres
//! cluster for zero-configuration runs. It must not decide what to sample or
//! train on: that is the learner's job.

#![warn(missing_docs)]

mod embedded;
mod error;
mod metrics;
mod priority;
mod records;
mod schema;
mod store;
mod writer;

pub use embedded::{EmbeddedPostgres, SHARED_HOME};
pub use error::StoreError;
pub use metrics::StoreMetrics;
pub use records::{ExecutionRecord, Origin, ProgramRecord, Provenance};
pub use schema::{grant_runtime_role, migrate};
pub use store::{SampledTransition, Sampling, Store, WriteReceipt};
pub use writer::{Backoff, Durable, DurableWriter, Retry, WriterConfig, WriterStats};

/// Where the store lives: `DATABASE_URL` when set, else a private cluster in
/// `data_dir/postgres` (started, and kept alive by the returned guard).
pub async fn open(data_dir: &std::path::Path) -> Result<(Store, Option<EmbeddedPostgres>), StoreError> {
    let (url, pg) = locate(data_dir).await?;
    Ok((Store::connect(&url).await?, pg))
}

/// The database's URL: `DATABASE_URL` when set, else the private cluster's
/// in `data_dir/postgres` (started, and kept alive by the returned guard).
pub async fn locate(data_dir: &std::path::Path) -> Result<(String, Option<EmbeddedPostgres>), StoreError> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok((url, None));
    }
    let dir = data_dir.join("postgres");
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir))
        .await
        .map_err(|e| StoreError::Embedded(e.to_string()))??;
    Ok((pg.url(), Some(pg)))
}
