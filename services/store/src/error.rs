//! The store's one error type, and which failures are worth retrying.

use thiserror::Error;
use uuid::Uuid;

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// One record was refused; its batch's other records are unaffected.
    #[error("execution {execution_id} refused: {reason}")]
    InvalidRecord {
        /// The refused record's execution.
        execution_id: Uuid,
        /// What about it the store cannot hold.
        reason: String,
    },
    /// Postgres could not be reached or dropped the connection; the same
    /// call can be retried (the durable writer does so by itself).
    #[error("Postgres is unavailable ({0}); retrying is safe: writes are idempotent")]
    Unavailable(String),
    /// Any other failure of the database, or stored data the store cannot
    /// read back.
    #[error("database error: {0}")]
    Database(String),
    /// The database refused what it was given (a data exception, a
    /// constraint, a rule of its own): the same data will be refused again.
    #[error("refused by the database: {0}")]
    Refused(String),
    /// The schema could not be brought up to date.
    #[error("could not apply the migrations: {0}")]
    Migration(String),
    /// The private Postgres cluster could not be set up, started or stopped.
    #[error("private Postgres cluster: {0}")]
    Embedded(String),
    /// The durable writer's task has ended; nothing more can be submitted.
    #[error("the store's writer has shut down")]
    Closed,
    /// A setting the caller gave is unusable (a URL, a role name); the
    /// message names it.
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether trying the same operation again may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let transient = match &e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
            sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
            // Class 08: connection exceptions; 57P0x: the server is shutting
            // down or starting; 40001/40P01: serialization failure, deadlock.
            sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                c.starts_with("08") || c.starts_with("57P") || c == "40001" || c == "40P01" || c == "53300"
            }),
            _ => false,
        };
        // Class 22: data exception; 23: integrity constraint; 54: a limit
        // exceeded; P0: raised by a rule (plpgsql) of the database's own.
        let refused = matches!(&e, sqlx::Error::Database(db) if db.code().is_some_and(|c| {
            ["22", "23", "54", "P0"].iter().any(|class| c.starts_with(class))
        }));
        if transient {
            StoreError::Unavailable(e.to_string())
        } else if refused {
            StoreError::Refused(e.to_string())
        } else {
            StoreError::Database(e.to_string())
        }
    }
}
