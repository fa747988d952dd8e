//! The durable writer: producers hand it batches and learn when each is
//! committed. While Postgres is unreachable it retries with backoff; its
//! queue is bounded, so producers slow down instead of anything being
//! dropped or memory growing without bound. A retried batch's records
//! that the retry finds stored count as written by it: its earlier attempt
//! committed and only the acknowledgement was lost.

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
    /// How long to wait between tries while Postgres is unavailable.
    /// Default: 100 ms, doubling up to 5 s.
    pub backoff: Backoff,
}

/// How [`Retry`] waits between tries: `first`, doubling up to `max`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_millis(100), max: Duration::from_secs(5) }
    }
}

/// The store's one retry policy, for the durable writer and the loop: a
/// failure Postgres' unavailability explains waits per its [`Backoff`] and
/// is tried again; any other failure is final.
///
/// ```ignore
/// let mut retry = Retry::new("writing a round", Backoff::default());
/// let receipt = loop {
///     match store.write(&batch).await {
///         Err(e) => retry.failed(e).await?,
///         done => break done?,
///     }
/// };
/// ```
#[derive(Debug)]
pub struct Retry {
    what: &'static str,
    wait: Duration,
    max: Duration,
    attempt: u32,
    started: std::time::Instant,
}

impl Retry {
    /// Before the first try; `what` names the work in the log.
    pub fn new(what: &'static str, backoff: Backoff) -> Self {
        Retry { what, wait: backoff.first, max: backoff.max, attempt: 1, started: std::time::Instant::now() }
    }

    /// The try under way, from 1.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// After a failed try: waits and returns `Ok` if trying again may
    /// succeed, else gives the error back.
    pub async fn failed(&mut self, e: StoreError) -> Result<(), StoreError> {
        if !e.is_transient() {
            return Err(e);
        }
        StoreMetrics.retried();
        tracing::warn!(
            what = self.what, attempt = self.attempt, retry_in_ms = self.wait.as_millis() as u64,
            waited_s = self.started.elapsed().as_secs(), error = %e, "store unavailable; retrying"
        );
        tokio::time::sleep(self.wait).await;
        self.wait = (self.wait * 2).min(self.max);
        self.attempt += 1;
        Ok(())
    }
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { queue: 16, backoff: Backoff::default() }
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
}

/// Resolves when a submitted batch is committed (or refused for good).
pub type Durable = oneshot::Receiver<Result<WriteReceipt, StoreError>>;

impl DurableWriter {
    /// Starts the writer task on the current Tokio runtime, writing to
    /// `store`.
    pub fn spawn(store: Store, config: WriterConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(run(store, config, rx, stats.clone()));
        DurableWriter { tx, stats }
    }

    /// The writer's counters so far.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Queues a batch, waiting while the queue is full; the returned
    /// receiver resolves once the batch is durable.
    pub async fn submit(&self, batch: Vec<ExecutionRecord>) -> Result<Durable, StoreError> {
        let (done, durable) = oneshot::channel();
        self.tx.send((batch, done)).await.map_err(|_| StoreError::Closed)?;
        Ok(durable)
    }
}

async fn run(store: Store, config: WriterConfig, mut rx: mpsc::Receiver<Job>, stats: Arc<WriterStats>) {
    while let Some((batch, done)) = rx.recv().await {
        let mut retry = Retry::new("writing a batch", config.backoff);
        let outcome = loop {
            match store.write(&batch).await {
                Err(e) => match retry.failed(e).await {
                    Ok(()) => {
                        stats.retries.fetch_add(1, Ordering::Relaxed);
                        StoreMetrics.backlog(batch.len() + rx.len());
                    }
                    Err(e) => break Err(e),
                },
                done => break done,
            }
        };
        let attempt = retry.attempt();
        // A transient failure can strike after the commit (the connection
        // lost on the way back): the retry then finds the batch stored.
        // Those records were written by this batch, once; say so.
        let outcome = outcome.map(|mut receipt| {
            if attempt > 1 {
                let committed_before = std::mem::take(&mut receipt.duplicates);
                receipt.written.extend(committed_before);
            }
            receipt
        });
        StoreMetrics.backlog(rx.len());
        let _ = done.send(outcome);
    }
}
