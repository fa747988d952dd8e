//! Clients for one or more interpreter-pool replicas: calls are spread
//! round-robin, every call has a deadline, and a call that fails for a
//! reason another replica might not share is retried there. A replica that
//! just failed (down, stalled past the deadline, shedding) is passed over
//! for a while, so one slow machine does not cost every other call a
//! deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use curio_interpreter_pool::{Bearer, ClientTls, Execution, Trace, endpoint, execution_to_proto, trace_from_proto};
use curio_proto::v1::execution_result::Outcome;
use curio_proto::v1::interpreter_pool_client::InterpreterPoolClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::LoopError;

/// One replica.
#[derive(Clone, Debug)]
struct Replica {
    addr: String,
    client: InterpreterPoolClient<InterceptedService<Channel, Bearer>>,
    health: Arc<Mutex<Health>>,
}

/// A replica's recent failures: after one, it is passed over for a cool-down
/// that doubles with each further failure; then a single call probes it.
#[derive(Debug, Default)]
struct Health {
    failures: u32,
    /// Passed over until then (a cool-down, or a probe in flight).
    until: Option<Instant>,
}

/// The first cool-down after a failure, and the longest.
const COOL_DOWN: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(60));

impl Replica {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn available(&self, now: Instant) -> bool {
        self.health().until.is_none_or(|until| now >= until)
    }

    /// Takes the replica for a call: false while it cools down or another
    /// call probes it. A failing replica's probe holds it for `deadline`.
    fn claim(&self, now: Instant, deadline: Duration) -> bool {
        let mut h = self.health();
        if h.until.is_some_and(|until| now < until) {
            return false;
        }
        h.until = (h.failures > 0).then(|| now + deadline);
        true
    }

    fn succeeded(&self) {
        *self.health() = Health::default();
    }

    fn failed(&self) {
        let mut h = self.health();
        h.failures = h.failures.saturating_add(1);
        let pause = COOL_DOWN.0.saturating_mul(1 << (h.failures - 1).min(6)).min(COOL_DOWN.1);
        h.until = Some(Instant::now() + pause);
    }
}

/// The pool replicas the learner drives. A configured name that resolves
/// to several addresses (a Kubernetes headless Service) is one replica per
/// address; [`refresh`](Self::refresh) follows the set as it scales.
#[derive(Debug)]
pub struct PoolClients {
    configured: Vec<String>,
    security: PoolSecurity,
    replicas: RwLock<Vec<Replica>>,
    next: AtomicUsize,
    deadline: Duration,
    /// Calls in flight at once, so a batch does not overrun the pools'
    /// queues (they would shed the excess).
    in_flight: tokio::sync::Semaphore,
}

/// How the learner reaches its pools: TLS (verifying the pools'
/// certificates, with a client certificate for mutual TLS) and a bearer
/// token. Default: plaintext, no token.
#[derive(Clone, Debug, Default)]
pub struct PoolSecurity {
    /// TLS to the pools; None is plaintext.
    pub tls: Option<ClientTls>,
    /// The bearer token presented on every call.
    pub bearer: Bearer,
}

/// Calls in flight per configured pool address.
const IN_FLIGHT_PER_POOL: usize = 4;

/// A trace and the replica that produced it.
#[derive(Debug)]
pub struct Executed {
    /// The trace, checked on the host.
    pub trace: Trace,
    /// The address of the replica that ran it.
    pub replica: String,
}

impl PoolClients {
    /// Clients for `addrs` (`host:port`); connections open lazily, so a
    /// replica that is down at start is tried again on each call.
    pub fn new(addrs: &[String], deadline: Duration) -> Result<Self, LoopError> {
        PoolClients::with_security(addrs, deadline, PoolSecurity::default())
    }

    /// [`new`](Self::new), reaching the pools as `security` says.
    pub fn with_security(addrs: &[String], deadline: Duration, security: PoolSecurity) -> Result<Self, LoopError> {
        if addrs.is_empty() {
            return Err(LoopError::Config("no pool address: give at least one --pool host:port".into()));
        }
        let replicas = addrs.iter().map(|a| replica(a, None, &security)).collect::<Result<_, LoopError>>()?;
        Ok(PoolClients {
            configured: addrs.to_vec(),
            security,
            replicas: RwLock::new(replicas),
            next: AtomicUsize::new(0),
            deadline,
            in_flight: tokio::sync::Semaphore::new(IN_FLIGHT_PER_POOL * addrs.len()),
        })
    }

    /// How many replicas there are.
    pub fn len(&self) -> usize {
        self.replicas().len()
    }

    /// Whether there are none.
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
        // Each address, with the name its certificate is checked against
        // when it came from resolving a name.
        let mut wanted: Vec<(String, Option<String>)> = vec![];
        for addr in &self.configured {
            let hostport = addr.rsplit("://").next().unwrap_or(addr);
            let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
            let domain = host.parse::<std::net::IpAddr>().is_err().then(|| host.to_string());
            match tokio::net::lookup_host(hostport).await {
                Ok(found) => {
                    // `localhost` is 127.0.0.1 and ::1, one server: prefer one family.
                    let found: Vec<std::net::SocketAddr> = found.collect();
                    let v4 = found.iter().any(|a| a.is_ipv4());
                    let mut found: Vec<String> =
                        found.iter().filter(|a| a.is_ipv4() == v4).map(|a| a.to_string()).collect();
                    found.sort();
                    found.dedup();
                    if found.len() > 1 {
                        wanted.extend(found.into_iter().map(|a| (a, domain.clone())))
                    } else {
                        wanted.push((addr.clone(), None))
                    }
                }
                Err(_) => wanted.push((addr.clone(), None)),
            }
        }
        let current = self.replicas();
        if current.iter().map(|r| &r.addr).eq(wanted.iter().map(|(a, _)| a)) {
            return;
        }
        let next: Vec<Replica> = wanted
            .iter()
            .filter_map(|(a, domain)| {
                let known = current.iter().find(|r| &r.addr == a).cloned();
                known.or_else(|| replica(a, domain.as_deref(), &self.security).ok())
            })
            .collect();
        if !next.is_empty() {
            let wanted: Vec<&String> = wanted.iter().map(|(a, _)| a).collect();
            tracing::info!(replicas = ?wanted, "pool replicas changed");
            *self.replicas.write().unwrap_or_else(|e| e.into_inner()) = next;
        }
    }

    /// Runs one execution, on the next replica in turn; on a failure that
    /// is the replica's (down, overloaded, past its deadline) it tries the
    /// others, going round up to four times with a growing pause between.
    pub async fn execute(&self, exec: &Execution) -> Result<Executed, LoopError> {
        let _slot = self.in_flight.acquire().await.map_err(|_| LoopError::Pool("pool clients closed".into()))?;
        let mut replicas = self.replicas();
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % replicas.len();
        replicas.rotate_left(turn);
        let attempts = 4 * replicas.len();
        let mut pause = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 0..attempts {
            let replica = &replicas[attempt % replicas.len()];
            let now = Instant::now();
            // A cooling replica is tried only when none is available.
            if replica.claim(now, self.deadline) || !replicas.iter().any(|r| r.available(now)) {
                match self.call(replica, exec).await {
                    Ok(done) => return done,
                    Err(why) => last = why,
                }
            }
            if (attempt + 1) % replicas.len() == 0 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Err(LoopError::Pool(format!("every replica failed request {}; last: {last}", exec.request_id)))
    }

    /// One call to one replica: `Err` says why it failed in a way another
    /// replica (or a later try) may not.
    async fn call(&self, replica: &Replica, exec: &Execution) -> Result<Result<Executed, LoopError>, String> {
        let mut request = tonic::Request::new(execution_to_proto(exec));
        request.set_timeout(self.deadline);
        let status = match replica.client.clone().execute(request).await {
            Ok(reply) => {
                replica.succeeded();
                let trace = match reply.into_inner().outcome {
                    Some(Outcome::Trace(t)) => trace_from_proto(exec.request_id.clone(), t)
                        .map_err(|e| LoopError::Pool(format!("{}: unreadable trace: {e}", replica.addr))),
                    Some(Outcome::Rejected(r)) => {
                        Err(LoopError::Pool(format!("{} rejected the request: {}", replica.addr, r.message)))
                    }
                    None => Err(LoopError::Pool(format!("{} answered without a trace", replica.addr))),
                };
                return Ok(trace.map(|trace| Executed { trace, replica: replica.addr.clone() }));
            }
            Err(status) => status,
        };
        // tonic reports its own client-side deadline as CANCELLED.
        let code = match status.code() {
            Code::Cancelled if status.message() == tonic::TimeoutExpired(()).to_string() => Code::DeadlineExceeded,
            code => code,
        };
        if !retryable(code) {
            return Ok(Err(LoopError::Pool(format!(
                "{} refused request {}: {code:?} {}",
                replica.addr,
                exec.request_id,
                status.message()
            ))));
        }
        replica.failed();
        metrics::counter!("curio_learner_pool_call_failures_total", "code" => code_name(code)).increment(1);
        tracing::warn!(replica = %replica.addr, request_id = %exec.request_id, code = ?code,
            message = status.message(), "pool call failed; trying another replica");
        Err(format!("{}: {code:?} {}", replica.addr, status.message()))
    }
}

/// A lazily connecting client for `addr` (`host:port` or a URI); with
/// TLS, the pool's certificate must be valid for `domain` (default: the
/// address's host).
fn replica(addr: &str, domain: Option<&str>, security: &PoolSecurity) -> Result<Replica, LoopError> {
    let endpoint = endpoint(addr, security.tls.as_ref(), domain)
        .map_err(|e| LoopError::Config(format!("pool address '{addr}': {e}")))?
        .connect_timeout(Duration::from_secs(2));
    let channel = endpoint.connect_lazy();
    let client = InterpreterPoolClient::with_interceptor(channel, security.bearer.clone())
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(8 << 20);
    Ok(Replica { addr: addr.to_string(), client, health: Arc::default() })
}

/// A gRPC code as a metric label (`deadline_exceeded`, `unavailable`, ...).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Unavailable => "unavailable",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::ResourceExhausted => "resource_exhausted",
        Code::Unknown => "unknown",
        Code::Internal => "internal",
        Code::Cancelled => "cancelled",
        _ => "other",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_replica_cools_down_doubling_then_one_call_probes_it() {
        let r = replica("127.0.0.1:1", None, &PoolSecurity::default()).unwrap();
        let deadline = Duration::from_secs(2);
        let t0 = Instant::now();
        assert!(r.claim(t0, deadline) && r.available(t0), "a healthy replica is never held");
        r.failed();
        let t1 = Instant::now();
        assert!(!r.available(t1) && !r.claim(t1, deadline), "passed over right after a failure");
        let t2 = t1 + COOL_DOWN.0 + Duration::from_millis(1);
        assert!(r.claim(t2, deadline), "probed once the cool-down is over");
        assert!(!r.claim(t2, deadline), "one probe at a time");
        r.failed();
        assert!(
            !r.available(Instant::now() + COOL_DOWN.0 + Duration::from_millis(1)),
            "the second cool-down is longer"
        );
        assert!(r.available(Instant::now() + 2 * COOL_DOWN.0 + Duration::from_millis(1)));
        for _ in 0..20 {
            r.failed();
        }
        assert!(r.available(Instant::now() + COOL_DOWN.1 + Duration::from_millis(1)), "capped");
        r.succeeded();
        assert!(r.available(Instant::now()) && r.claim(Instant::now(), deadline));
    }
}
