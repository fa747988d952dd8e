//! Clients for one or more interpreter-pool replicas: calls are spread
//! round-robin, every call has a deadline, and a call that fails for a
//! reason another replica might not share is retried there.

use std::sync::RwLock;
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

/// The pool replicas the learner drives. A configured name that resolves
/// to several addresses (a Kubernetes headless Service) is one replica per
/// address; [`refresh`](Self::refresh) follows the set as it scales.
#[derive(Debug)]
pub struct PoolClients {
    configured: Vec<String>,
    replicas: RwLock<Vec<Replica>>,
    next: AtomicUsize,
    deadline: Duration,
    /// Calls in flight at once, so a batch does not overrun the pools'
    /// queues (they would shed the excess).
    in_flight: tokio::sync::Semaphore,
}

/// Calls in flight per configured pool address.
const IN_FLIGHT_PER_POOL: usize = 4;

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
        let replicas = addrs.iter().map(|a| replica(a)).collect::<Result<_, LoopError>>()?;
        Ok(PoolClients {
            configured: addrs.to_vec(),
            replicas: RwLock::new(replicas),
            next: AtomicUsize::new(0),
            deadline,
            in_flight: tokio::sync::Semaphore::new(IN_FLIGHT_PER_POOL * addrs.len()),
        })
    }

    pub fn len(&self) -> usize {
        self.replicas().len()
    }

    pub fn is_empty(&self) -> bool {
        self.replicas().is_empty()
    }

    fn replicas(&self) -> Vec<Replica> {
        self.replicas.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves the configured names again and uses every address found
    /// (keeping the connections of addresses already known). A name that
    /// does not resolve now is kept as it was.
    pub async fn refresh(&self) {
        let mut wanted: Vec<String> = vec![];
        for addr in &self.configured {
            let hostport = addr.rsplit("://").next().unwrap_or(addr);
            match tokio::net::lookup_host(hostport).await {
                Ok(found) => {
                    // `localhost` is 127.0.0.1 and ::1, one server: prefer one family.
                    let found: Vec<std::net::SocketAddr> = found.collect();
                    let v4 = found.iter().any(|a| a.is_ipv4());
                    let mut found: Vec<String> =
                        found.iter().filter(|a| a.is_ipv4() == v4).map(|a| a.to_string()).collect();
                    found.sort();
                    found.dedup();
                    if found.len() > 1 { wanted.extend(found) } else { wanted.push(addr.clone()) }
                }
                Err(_) => wanted.push(addr.clone()),
            }
        }
        let current = self.replicas();
        if current.iter().map(|r| &r.addr).eq(wanted.iter()) {
            return;
        }
        let next: Vec<Replica> = wanted
            .iter()
            .filter_map(|a| current.iter().find(|r| &r.addr == a).cloned().or_else(|| replica(a).ok()))
            .collect();
        if !next.is_empty() {
            tracing::info!(replicas = ?wanted, "pool replicas changed");
            *self.replicas.write().unwrap_or_else(|e| e.into_inner()) = next;
        }
    }

    /// Runs one execution, on the next replica in turn; on a failure that
    /// is the replica's (down, overloaded, past its deadline) it tries the
    /// others, going round up to four times with a growing pause between.
    pub async fn execute(&self, exec: &Execution) -> Result<Executed, LoopError> {
        let _slot = self.in_flight.acquire().await.map_err(|_| LoopError::Pool("pool clients closed".into()))?;
        let replicas = self.replicas();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let attempts = 4 * replicas.len();
        let mut pause = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 0..attempts {
            let replica = &replicas[(start + attempt) % replicas.len()];
            let mut request = tonic::Request::new(execution_to_proto(exec));
            request.set_timeout(self.deadline);
            match replica.client.clone().execute(request).await {
                Ok(reply) => {
                    let trace = match reply.into_inner().outcome {
                        Some(Outcome::Trace(t)) => trace_from_proto(exec.request_id.clone(), t)
                            .map_err(|e| LoopError::Pool(format!("{}: unreadable trace: {e}", replica.addr)))?,
                        Some(Outcome::Rejected(r)) => {
                            return Err(LoopError::Pool(format!(
                                "{} rejected the request: {}",
                                replica.addr, r.message
                            )));
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
            if (attempt + 1) % replicas.len() == 0 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Err(LoopError::Pool(format!("every replica failed request {}; last: {last}", exec.request_id)))
    }
}

/// A lazily connecting client for `addr` (`host:port` or a URI).
fn replica(addr: &str) -> Result<Replica, LoopError> {
    let uri = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
    let endpoint = Endpoint::from_shared(uri)
        .map_err(|e| LoopError::Config(format!("pool address '{addr}': {e}")))?
        .connect_timeout(Duration::from_secs(2));
    let client = InterpreterPoolClient::new(endpoint.connect_lazy())
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(8 << 20);
    Ok(Replica { addr: addr.to_string(), client })
}

/// Failures another replica (or a later try) may not have.
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Unknown
            | Code::Internal
            | Code::Cancelled
    )
}
