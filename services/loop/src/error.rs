use thiserror::Error;

#[derive(Debug, Error)]
pub enum LoopError {
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("interpreter pool: {0}")]
    Pool(String),
    #[error(transparent)]
    Store(#[from] curio_store::StoreError),
    #[error(transparent)]
    Model(#[from] curio_learner::ModelError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a worker thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}
