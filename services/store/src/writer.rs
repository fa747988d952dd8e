//! The durable writer: producers hand it batches and learn when each is
//! committed. While Postgres is unreachable it retries with backoff; its
//! queue is bounded, so producers slow down instead of anything being
//! dropped or memory growing without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::records::ExecutionRecord;
use crate::store::{Store, WriteReceipt};

/// Writer settings.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Batches that may wait to be written before producers block. Default: 16.
    pub queue: usize,
    /// First retry delay; doubles up to `max_backoff`. Default: 100 ms.
    pub first_backoff: Duration,
    /// Longest retry delay. Default: 5 s.
    pub max_backoff: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { queue: 16, first_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(5) }
    }
}

type Job = (Vec<ExecutionRecord>, oneshot::Sender<Result<WriteReceipt, StoreError>>);

/// Handle to the writer task; cheap to clone. The task ends when every
/// handle is dropped and the queue is drained.
#[derive(Clone, Debug)]
pub struct DurableWriter {
    tx: mpsc::Sender<Job>,
    stats: Arc<WriterStats>,
}

/// Counters a dashboard wants from the writer.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Write attempts that failed transiently and were retried.
    pub retries: AtomicU64,
    /// Batches committed.
    pub committed: AtomicU64,
}

/// Resolves when a submitted batch is committed (or refused for good).
pub type Durable = oneshot::Receiver<Result<WriteReceipt, StoreError>>;

impl DurableWriter {
    pub fn spawn(store: Store, config: WriterConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(run(store, config, rx, stats.clone()));
        DurableWriter { tx, stats }
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Batches queued and not yet taken by the writer.
    pub fn backlog(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues a batch, waiting while the queue is full; the returned
    /// receiver resolves once the batch is durable.
    pub async fn submit(&self, batch: Vec<ExecutionRecord>) -> Result<Durable, StoreError> {
        let (done, durable) = oneshot::channel();
        self.tx.send((batch, done)).await.map_err(|_| StoreError::Closed)?;
        Ok(durable)
    }

    /// Queues a batch and waits until it is committed.
    pub async fn write(&self, batch: Vec<ExecutionRecord>) -> Result<WriteReceipt, StoreError> {
        self.submit(batch).await?.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(store: Store, config: WriterConfig, mut rx: mpsc::Receiver<Job>, stats: Arc<WriterStats>) {
    while let Some((batch, done)) = rx.recv().await {
        let mut backoff = config.first_backoff;
        let mut attempt = 1u32;
        let outcome = loop {
            match store.write(&batch).await {
                Err(e) if e.is_transient() => {
                    tracing::warn!(attempt, retry_in_ms = backoff.as_millis() as u64, error = %e, "write failed; retrying");
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    StoreMetrics.retried();
                    StoreMetrics.backlog(batch.len() + rx.len());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(config.max_backoff);
                    attempt += 1;
                }
                other => break other,
            }
        };
        if outcome.is_ok() {
            stats.committed.fetch_add(1, Ordering::Relaxed);
        }
        StoreMetrics.backlog(rx.len());
        let _ = done.send(outcome);
    }
}
