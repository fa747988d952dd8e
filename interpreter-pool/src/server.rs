//! `curio.v1.InterpreterPool` over gRPC: admission control in front of the
//! sandbox, health and reflection beside it, a graceful drain behind it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use curio_proto::v1 as pb;
use curio_proto::v1::interpreter_pool_server::{InterpreterPool, InterpreterPoolServer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, mpsc};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status as RpcStatus, Streaming};

use crate::convert::{execution_from_proto, trace_to_proto};
use crate::metrics::PoolMetrics;
use crate::sandbox::{Sandbox, SandboxError};
use crate::transport::{ServeError, ServerSecurity, server_builder};
use curio_trace::Trace;
use curio_trace::{Execution, InvalidRequest, Limits, MAX_INPUT_BYTES, MAX_MEMORY_BYTES, MAX_SOURCE_BYTES};

/// Pool server settings.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Executions running at once. Default: the sandbox's slot count.
    pub workers: usize,
    /// Requests (single or from a batch) that may wait for a worker before
    /// new ones are shed with `RESOURCE_EXHAUSTED`. Default: 2 × workers.
    pub max_queue: usize,
    /// Limits for fields a request leaves at zero.
    pub default_limits: Limits,
    /// The most `limits.memory_bytes` the executions running at once may
    /// add up to, bytes; a call that would pass it is shed with
    /// `RESOURCE_EXHAUSTED`. Default: 512 MiB per worker, and at least the
    /// largest a request may ask for (2 GiB), so any valid request can run.
    pub memory_budget: u64,
    /// How the pool's callers are authenticated. Default: not at all,
    /// which only a loopback address allows.
    pub security: ServerSecurity,
    /// How long a shutdown waits for in-flight executions. Default: 10 s.
    pub grace: Duration,
}

impl PoolConfig {
    /// Defaults sized to a sandbox with `slots` slots.
    pub fn for_slots(slots: u32) -> Self {
        let workers = slots.max(1) as usize;
        PoolConfig {
            workers,
            max_queue: 2 * workers,
            default_limits: Limits::default(),
            memory_budget: (workers as u64 * (512 << 20)).max(MAX_MEMORY_BYTES),
            security: ServerSecurity::default(),
            grace: Duration::from_secs(10),
        }
    }
}

/// The gRPC service; cheap to clone.
#[derive(Clone, Debug)]
pub struct PoolService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sandbox: Arc<Sandbox>,
    workers: Arc<Semaphore>,
    /// Calls waiting for a worker, single and batched alike.
    waiting: AtomicUsize,
    /// `limits.memory_bytes` of the executions admitted and not yet done.
    memory: Arc<AtomicU64>,
    config: PoolConfig,
}

impl PoolService {
    /// A service running executions on `sandbox`, at most
    /// `config.workers` of them at once (and no more than its slots).
    pub fn new(sandbox: Arc<Sandbox>, mut config: PoolConfig) -> Self {
        // More workers than sandbox slots would fail at instantiation.
        config.workers = config.workers.clamp(1, sandbox.config().slots.max(1) as usize);
        let workers = Arc::new(Semaphore::new(config.workers));
        PoolMetrics::register();
        let (waiting, memory) = (AtomicUsize::new(0), Arc::new(AtomicU64::new(0)));
        PoolService { inner: Arc::new(Inner { sandbox, workers, waiting, memory, config }) }
    }

    /// Runs one execution; sheds it when every worker is busy and the
    /// queue is full, or when its memory would pass the budget.
    async fn run(&self, exec: Execution) -> Result<Trace, RpcStatus> {
        let admitted = self.inner.admit(exec.limits.memory_bytes).await?;
        self.inner.clone().execute(exec, admitted).await
    }
}

/// A worker and the memory an execution may use, both held until it ends.
#[derive(Debug)]
struct Admitted {
    _worker: OwnedSemaphorePermit,
    _memory: MemoryGrant,
}

/// Memory taken from the budget; given back when dropped.
#[derive(Debug)]
struct MemoryGrant {
    used: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for MemoryGrant {
    fn drop(&mut self) {
        self.used.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// A place in the queue; given back when dropped, on every path: the call
/// got a worker, the pool is closing, or the caller went away (a cancelled
/// call drops the future that holds it).
#[derive(Debug)]
struct QueueSlot<'a>(&'a AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Inner {
    /// The one admission every execution passes, single or batched: a free
    /// worker, or a place in the bounded queue until one frees; then its
    /// memory from the budget.
    async fn admit(&self, memory: u64) -> Result<Admitted, RpcStatus> {
        let budget = self.config.memory_budget;
        if memory > budget {
            return Err(shed(
                "memory_budget",
                format!(
                    "limits.memory_bytes is {memory}; this pool's memory budget is {budget} bytes in all \
                     (--memory-budget): ask for less or use a pool with a larger budget"
                ),
            ));
        }
        let worker = match self.workers.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return Err(shutting_down()),
            Err(TryAcquireError::NoPermits) => {
                let _slot = self.queue_slot()?;
                self.workers.clone().acquire_owned().await.map_err(|_| shutting_down())?
            }
        };
        let reserved = self.memory.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
            used.checked_add(memory).filter(|total| *total <= budget)
        });
        match reserved {
            Ok(_) => {
                Ok(Admitted { _worker: worker, _memory: MemoryGrant { used: self.memory.clone(), bytes: memory } })
            }
            Err(used) => Err(shed(
                "memory_budget",
                format!(
                    "pool memory budget in use ({used} of {budget} bytes by running executions; this one asks \
                     {memory}); retry with backoff, ask for less memory or add pool replicas"
                ),
            )),
        }
    }

    fn queue_slot(&self) -> Result<QueueSlot<'_>, RpcStatus> {
        let max = self.config.max_queue;
        match self.waiting.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1)) {
            Ok(_) => Ok(QueueSlot(&self.waiting)),
            Err(_) => Err(shed(
                "at_capacity",
                format!(
                    "pool at capacity ({} running, {max} waiting); retry with backoff or add pool replicas",
                    self.config.workers
                ),
            )),
        }
    }

    async fn execute(self: Arc<Self>, exec: Execution, admitted: Admitted) -> Result<Trace, RpcStatus> {
        let sandbox = self.sandbox.clone();
        let id = exec.request_id.clone();
        let trace = tokio::task::spawn_blocking(move || {
            // Held until the execution ends, even when its caller has gone.
            let _admitted = admitted;
            PoolMetrics.busy(1.0);
            let trace = sandbox.execute(&exec);
            PoolMetrics.busy(-1.0);
            if let Ok(t) = &trace {
                PoolMetrics.executed(exec.language, t);
                tracing::debug!(request_id = %t.request_id, status = t.status.as_str(), steps = t.step_count,
                    duration_ms = t.duration.as_secs_f64() * 1e3, "executed");
            }
            trace
        })
        .await
        .map_err(|e| {
            tracing::error!(request_id = %id, error = %e, "execution task panicked");
            RpcStatus::internal("the execution failed inside the pool; it has been logged")
        })?;
        trace.map_err(|e| sandbox_status(&id, e))
    }
}

fn shed(reason: &'static str, message: String) -> RpcStatus {
    PoolMetrics.rejected(reason);
    tracing::debug!(reason, "shed a request");
    RpcStatus::resource_exhausted(message)
}

fn shutting_down() -> RpcStatus {
    RpcStatus::unavailable("pool is shutting down; retry on another replica")
}

/// One place that turns sandbox failures into what a client may see.
fn sandbox_status(request_id: &str, e: SandboxError) -> RpcStatus {
    tracing::error!(request_id, error = %e, "sandbox failure");
    RpcStatus::internal("the sandbox failed to run this request; it has been logged")
}

fn invalid_argument(e: InvalidRequest) -> RpcStatus {
    PoolMetrics.rejected("invalid_argument");
    RpcStatus::invalid_argument(e.to_string())
}

fn result(request_id: String, outcome: Result<Trace, RpcStatus>) -> pb::ExecutionResult {
    let outcome = match outcome {
        Ok(trace) => pb::execution_result::Outcome::Trace(trace_to_proto(trace)),
        Err(status) => pb::execution_result::Outcome::Rejected(pb::Rejection {
            code: status.code() as i32,
            message: status.message().to_string(),
        }),
    };
    pb::ExecutionResult { request_id, outcome: Some(outcome) }
}

#[tonic::async_trait]
impl InterpreterPool for PoolService {
    async fn execute(
        &self,
        request: Request<pb::ExecutionRequest>,
    ) -> Result<Response<pb::ExecutionResult>, RpcStatus> {
        let exec =
            execution_from_proto(request.into_inner(), &self.inner.config.default_limits).map_err(invalid_argument)?;
        let id = exec.request_id.clone();
        let trace = self.run(exec).await?;
        tracing::debug!(request_id = %id, status = trace.status.as_str(), steps = trace.step_count, "executed");
        Ok(Response::new(result(id, Ok(trace))))
    }

    type ExecuteBatchStream = ReceiverStream<Result<pb::ExecutionResult, RpcStatus>>;

    async fn execute_batch(
        &self,
        request: Request<Streaming<pb::ExecutionRequest>>,
    ) -> Result<Response<Self::ExecuteBatchStream>, RpcStatus> {
        let mut incoming = request.into_inner();
        let workers = self.inner.config.workers;
        let (tx, rx) = mpsc::channel(workers);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            // A stream keeps at most `workers` items in flight, and each goes
            // through the same admission as a single call: a batch is shed
            // like anyone else when the pool is full.
            let in_flight = Arc::new(Semaphore::new(workers));
            loop {
                let message = match incoming.message().await {
                    Ok(Some(message)) => message,
                    Ok(None) => break,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        break;
                    }
                };
                let Ok(slot) = in_flight.clone().acquire_owned().await else { break };
                let (inner, tx) = (inner.clone(), tx.clone());
                tokio::spawn(async move {
                    let id = message.request_id.clone();
                    let outcome = match execution_from_proto(message, &inner.config.default_limits) {
                        Err(e) => Err(invalid_argument(e)),
                        Ok(exec) => {
                            // A caller that hung up gives its place in the queue back.
                            let admitted = tokio::select! {
                                admitted = inner.admit(exec.limits.memory_bytes) => admitted,
                                () = tx.closed() => return,
                            };
                            match admitted {
                                Ok(admitted) => inner.execute(exec, admitted).await,
                                Err(status) => Err(status),
                            }
                        }
                    };
                    let _ = tx.send(Ok(result(id, outcome))).await;
                    drop(slot);
                });
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Largest request message: a full-size source and input plus framing.
const MAX_REQUEST_BYTES: usize = MAX_SOURCE_BYTES + MAX_INPUT_BYTES + 64 * 1024;
/// Largest response: a full trace plus a full stdout.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Serves the pool on `listener` until `shutdown` resolves, then reports
/// not-serving and drains in-flight executions for up to `grace`. Refuses
/// to start on an address other machines can reach when nothing
/// authenticates the callers (see [`ServerSecurity`]).
pub async fn serve(
    listener: TcpListener,
    service: PoolService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let security = service.inner.config.security.clone();
    security.check_bind(listener.local_addr()?, "the interpreter pool")?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<InterpreterPoolServer<PoolService>>().await;
    let reflection = crate::transport::reflection();
    let grace = service.inner.config.grace;
    let workers = service.inner.config.workers;
    let pool = InterpreterPoolServer::new(service)
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    // Health and reflection stay open; the pool's own calls need a token
    // when tokens are configured.
    let pool = InterceptedService::new(pool, security.authenticator());
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!(grace_s = grace.as_secs_f64(), "shutting down: not serving, draining in-flight executions");
        health.set_not_serving::<InterpreterPoolServer<PoolService>>().await;
        let _ = drained_tx.send(());
    };
    // Enough streams per connection to fill the queue, not unbounded.
    let streams = workers * 4 + 16;
    let server = server_builder(&security, streams as u32)?
        .concurrency_limit_per_connection(streams)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(pool)
        .serve_with_incoming_shutdown(no_delay(listener), signal);
    tokio::pin!(server);
    tokio::select! {
        res = &mut server => Ok(res?),
        _ = async { let _ = drained_rx.await; tokio::time::sleep(grace).await } => {
            tracing::warn!("grace period over; abandoning executions still running");
            Ok(())
        }
    }
}

/// Accepted connections with Nagle's algorithm off: small gRPC frames
/// otherwise wait on delayed ACKs (about 40 ms a call).
pub fn no_delay(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> + Send + 'static {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|conn| conn.and_then(|s| s.set_nodelay(true).map(|()| s)))
}
