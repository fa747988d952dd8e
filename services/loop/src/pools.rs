//! Clients for one or more interpreter-pool replicas: calls are spread
//! round-robin, every call has a deadline, and a call that fails for a
//! reason another replica might not share is retried there.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use curio_interpreter_pool::{Execution, Trace, execution_to_proto, trace_from_proto};
use curio_proto::v1::execution_result::Outcome;
use curio_proto::v1::interpreter_pool_client::InterpreterPoolClient;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use crate::LoopError;

/// One replica.
#[derive(Clone, Debug)]
struct Replica {
    addr: String,
    client: InterpreterPoolClient<Channel>,
}

/// The pool replicas the learner drives.
#[derive(Debug)]
pub struct PoolClients {
    replicas: Vec<Replica>,
    next: AtomicUsize,
    deadline: Duration,
}

/// A trace and the replica that produced it.
#[derive(Debug)]
pub struct Executed {
    pub trace: Trace,
    pub replica: String,
}

impl PoolClients {
    /// Clients for `addrs` (`host:port`); connections open lazily, so a
    /// replica that is down at start is tried again on each call.
    pub fn new(addrs: &[String], deadline: Duration) -> Result<Self, LoopError> {
        if addrs.is_empty() {
            return Err(LoopError::Config("no pool address: give at least one --pool host:port".into()));
        }
        let replicas = addrs
            .iter()
            .map(|addr| {
                let uri = if addr.contains("://") { addr.clone() } else { format!("http://{addr}") };
                let endpoint = Endpoint::from_shared(uri)
                    .map_err(|e| LoopError::Config(format!("pool address '{addr}': {e}")))?
                    .connect_timeout(Duration::from_secs(2));
                let client = InterpreterPoolClient::new(endpoint.connect_lazy())
                    .max_decoding_message_size(64 << 20)
                    .max_encoding_message_size(8 << 20);
                Ok(Replica { addr: addr.clone(), client })
            })
            .collect::<Result<_, LoopError>>()?;
        Ok(PoolClients { replicas, next: AtomicUsize::new(0), deadline })
    }

    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    /// Runs one execution, on the next replica in turn; on a failure that
    /// is the replica's (down, overloaded, past its deadline) it tries the
    /// others, twice round, with a short pause between rounds.
    pub async fn execute(&self, exec: &Execution) -> Result<Executed, LoopError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let attempts = 2 * self.replicas.len();
        let mut last = String::new();
        for attempt in 0..attempts {
            let replica = &self.replicas[(start + attempt) % self.replicas.len()];
            let mut request = tonic::Request::new(execution_to_proto(exec));
            request.set_timeout(self.deadline);
            match replica.client.clone().execute(request).await {
                Ok(reply) => {
                    let trace = match reply.into_inner().outcome {
                        Some(Outcome::Trace(t)) => trace_from_proto(exec.request_id.clone(), t)
                            .map_err(|e| LoopError::Pool(format!("{}: unreadable trace: {e}", replica.addr)))?,
                        Some(Outcome::Rejected(r)) => {
                            return Err(LoopError::Pool(format!("{} rejected the request: {}", replica.addr, r.message)));
                        }
                        None => return Err(LoopError::Pool(format!("{} answered without a trace", replica.addr))),
                    };
                    return Ok(Executed { trace, replica: replica.addr.clone() });
                }
                Err(status) if retryable(status.code()) => {
                    tracing::warn!(replica = %replica.addr, request_id = %exec.request_id, code = ?status.code(),
                        message = status.message(), "pool call failed; trying another replica");
                    last = format!("{}: {:?} {}", replica.addr, status.code(), status.message());
                }
                Err(status) => {
                    return Err(LoopError::Pool(format!(
                        "{} refused request {}: {:?} {}",
                        replica.addr,
                        exec.request_id,
                        status.code(),
                        status.message()
                    )));
                }
            }
            if (attempt + 1) % self.replicas.len() == 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Err(LoopError::Pool(format!("every replica failed request {}; last: {last}", exec.request_id)))
    }
}

/// Failures another replica (or a later try) may not have.
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Unknown | Code::Internal
    ) || code == Code::Cancelled
}
