use thiserror::Error;

/// Why the loop or the Learner API could not go on.
#[derive(Debug, Error)]
pub enum LoopError {
    /// A setting out of range, with what to change.
    #[error("invalid setting: {0}")]
    Config(String),
    /// An interpreter pool call failed.
    #[error("interpreter pool: {0}")]
    Pool(String),
    /// The replay store failed.
    #[error(transparent)]
    Store(#[from] curio_store::StoreError),
    /// The model failed (shape, checkpoint, tensor).
    #[error(transparent)]
    Model(#[from] curio_learner::ModelError),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A blocking task panicked or was cancelled.
    #[error("a worker thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}
