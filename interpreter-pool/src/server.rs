//! `curio.v1.InterpreterPool` over gRPC: admission control in front of the
//! sandbox, health and reflection beside it, a graceful drain behind it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use curio_proto::v1 as pb;
use curio_proto::v1::interpreter_pool_server::{InterpreterPool, InterpreterPoolServer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status as RpcStatus, Streaming};

use crate::convert::{execution_from_proto, trace_to_proto};
use crate::metrics::PoolMetrics;
use crate::request::{Execution, InvalidRequest, Limits, MAX_INPUT_BYTES, MAX_SOURCE_BYTES};
use crate::sandbox::{Sandbox, SandboxError};
use crate::trace::Trace;

/// Pool server settings.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Executions running at once. Default: the sandbox's slot count.
    pub workers: usize,
    /// Requests that may wait for a worker before new ones are shed with
    /// `RESOURCE_EXHAUSTED`. Default: 2 × workers.
    pub max_queue: usize,
    /// Limits for fields a request leaves at zero.
    pub default_limits: Limits,
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
    waiting: AtomicUsize,
    config: PoolConfig,
}

impl PoolService {
    pub fn new(sandbox: Arc<Sandbox>, mut config: PoolConfig) -> Self {
        // More workers than sandbox slots would fail at instantiation.
        config.workers = config.workers.clamp(1, sandbox.config().slots.max(1) as usize);
        let workers = Arc::new(Semaphore::new(config.workers));
        PoolMetrics::register();
        PoolService { inner: Arc::new(Inner { sandbox, workers, waiting: AtomicUsize::new(0), config }) }
    }

    /// Runs one execution; sheds it when every worker is busy and the
    /// queue is full.
    pub async fn run(&self, exec: Execution) -> Result<Trace, RpcStatus> {
        let permit = self.inner.admit().await?;
        self.inner.clone().execute(exec, permit).await
    }
}

impl Inner {
    async fn admit(&self) -> Result<OwnedSemaphorePermit, RpcStatus> {
        if let Ok(permit) = self.workers.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.config.max_queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            PoolMetrics.rejected("at_capacity");
            tracing::debug!("shed a request: pool at capacity");
            return Err(RpcStatus::resource_exhausted(format!(
                "pool at capacity ({} running, {} waiting); retry with backoff or add pool replicas",
                self.config.workers, self.config.max_queue
            )));
        }
        let permit = self.workers.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(|_| RpcStatus::unavailable("pool is shutting down"))
    }

    async fn execute(self: Arc<Self>, exec: Execution, permit: OwnedSemaphorePermit) -> Result<Trace, RpcStatus> {
        let sandbox = self.sandbox.clone();
        let id = exec.request_id.clone();
        let trace = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            PoolMetrics.busy(1.0);
            let trace = sandbox.execute(&exec);
            PoolMetrics.busy(-1.0);
            if let Ok(t) = &trace {
                PoolMetrics.executed(t);
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
            // A stream keeps at most `workers` executions in flight and waits
            // for a worker rather than shedding: the stream itself is the
            // backpressure.
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
                        Ok(exec) => match inner.workers.clone().acquire_owned().await {
                            Ok(permit) => inner.execute(exec, permit).await,
                            Err(_) => Err(RpcStatus::unavailable("pool is shutting down")),
                        },
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
/// not-serving and drains in-flight executions for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    service: PoolService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<InterpreterPoolServer<PoolService>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(curio_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor sets are valid");
    let grace = service.inner.config.grace;
    let workers = service.inner.config.workers;
    let pool = InterpreterPoolServer::new(service)
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!(grace_s = grace.as_secs_f64(), "shutting down: not serving, draining in-flight executions");
        health.set_not_serving::<InterpreterPoolServer<PoolService>>().await;
        let _ = drained_tx.send(());
    };
    let server = tonic::transport::Server::builder()
        // Enough streams per connection to fill the queue, not unbounded.
        .concurrency_limit_per_connection(workers * 4 + 16)
        .max_concurrent_streams(Some((workers * 4 + 16) as u32))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(pool)
        .serve_with_incoming_shutdown(no_delay(listener), signal);
    tokio::pin!(server);
    tokio::select! {
        res = &mut server => res,
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
