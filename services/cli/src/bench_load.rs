//! `curio bench load`: a pool served on loopback, driven over gRPC first at
//! its capacity (closed loop, one client per worker), then open loop at
//! twice the rate it sustained; then at capacity again on a second pool with
//! TLS and a bearer token on, side by side. Bounded in time and count;
//! loopback only.

use std::time::{Duration, Instant};

use clap::Args;
use curio_interpreter_pool::{
    Bearer, ClientTls, Execution, PoolConfig, PoolService, ServerSecurity, ServerTls, Tokens, endpoint,
    execution_to_proto, serve,
};
use curio_proto::v1::interpreter_pool_client::InterpreterPoolClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Client = InterpreterPoolClient<InterceptedService<Channel, Bearer>>;

/// The token the secured phase presents.
const TOKEN: &str = "bench-token-0123456789abcdef";

#[derive(Args, Debug)]
pub struct LoadBench {
    /// Pool workers.
    #[arg(long, default_value_t = 2)]
    workers: u32,
    /// Seconds of each phase.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of a last, closed-loop soak at capacity that samples the
    /// process's resident memory 20 times (0: no soak).
    #[arg(long, default_value_t = 0.0)]
    soak_seconds: f64,
}

/// A small program of the kind the learner sends (about 40 steps).
const PROGRAM: &str = "total = 0\nfor i in range(8):\n    if i % 2:\n        total += i\nprint(total)\n";

impl LoadBench {
    /// Refuses settings out of range, naming the flag.
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=64).contains(&self.workers), "--workers is {}; allowed 1..=64", self.workers);
        anyhow::ensure!(self.seconds > 0.0 && self.seconds <= 600.0, "--seconds must be in (0, 600]");
        anyhow::ensure!((0.0..=3600.0).contains(&self.soak_seconds), "--soak-seconds must be in [0, 3600]");
        Ok(())
    }
}

pub async fn run(args: LoadBench) -> anyhow::Result<()> {
    args.check()?;
    // The recorder a served pool has, so its metrics count in the memory figures.
    let metrics = crate::metrics::serve(([127, 0, 0, 1], 0).into()).await?;
    let sandbox = crate::sandbox(args.workers)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = PoolConfig::for_slots(args.workers);
    println!(
        "workers: {}, queue: {}, seconds per phase: {}, metrics: http://{metrics}/metrics",
        config.workers, config.max_queue, args.seconds
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, PoolService::new(sandbox, config), async {
        let _ = stop_rx.await;
    }));
    let client = connect(&addr.to_string(), None, Bearer::default()).await?;
    let rss_before = rss_mib();
    let span = Duration::from_secs_f64(args.seconds);

    // Phase 1: as fast as the workers go.
    let (mut latencies, sustained) = capacity(&client, args.workers, span).await;
    let p99 = crate::bench::percentile(&mut latencies, 0.99);
    println!("capacity: {} executions, p50 {:.2} ms", latencies.len(), crate::bench::percentile(&mut latencies, 0.5));

    // Phase 2: open loop at twice that rate; the excess must be shed, not queued.
    let rate = 2.0 * sustained;
    let outcomes = open_loop(&client, rate, span).await;
    let sent = outcomes.len();
    let shed = outcomes.iter().filter(|(r, _)| matches!(r, Err(Code::ResourceExhausted))).count();
    let failed = outcomes.iter().filter(|(r, _)| matches!(r, Err(c) if *c != Code::ResourceExhausted)).count();
    let mut served: Vec<f64> = outcomes.iter().filter(|(r, _)| r.is_ok()).map(|(_, t)| *t).collect();
    println!("at 2x ({rate:.0}/s): {sent} sent, {} served, {shed} shed, {failed} other errors", served.len());
    println!("served_per_second_at_2x: {:.1}", served.len() as f64 / args.seconds);
    println!("p99_ms_at_2x: {:.2}", crate::bench::percentile(&mut served, 0.99));
    println!("rss_growth_mib: {:.1} (over {} executions)", rss_mib() - rss_before, latencies.len() + sent);
    if args.soak_seconds > 0.0 {
        soak(&client, args.workers, Duration::from_secs_f64(args.soak_seconds)).await;
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    let (mut secured, secured_rate) = secured_capacity(args.workers, span).await?;
    println!("{:<22} {:>12} {:>8} {:>8}", "at capacity", "executions/s", "p50 ms", "p99 ms");
    let p50 = crate::bench::percentile(&mut latencies, 0.5);
    println!("{:<22} {sustained:>12.1} {p50:>8.2} {p99:>8.2}", "plaintext, no token");
    let (s50, s99) = (crate::bench::percentile(&mut secured, 0.5), crate::bench::percentile(&mut secured, 0.99));
    println!("{:<22} {secured_rate:>12.1} {s50:>8.2} {s99:>8.2}", "TLS and a token");
    println!("sustained_executions_per_second: {sustained:.1}");
    println!("p99_ms: {p99:.2}");
    println!("shed_fraction_at_2x: {:.3}", shed as f64 / sent.max(1) as f64);
    println!("tls_token_executions_per_second: {secured_rate:.1}");
    println!("tls_token_ratio: {:.3}", secured_rate / sustained.max(1e-9));
    Ok(())
}

async fn connect(addr: &str, tls: Option<&ClientTls>, bearer: Bearer) -> anyhow::Result<Client> {
    let channel = endpoint(addr, tls, Some("localhost"))?.connect().await?;
    Ok(InterpreterPoolClient::with_interceptor(channel, bearer))
}

/// Open loop at `rate` calls a second for `span`, however many are still
/// in flight: each call's outcome and latency.
async fn open_loop(client: &Client, rate: f64, span: Duration) -> Vec<(Result<(), Code>, f64)> {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < span {
        ticker.tick().await;
        let mut c = client.clone();
        tasks.spawn(async move { call(&mut c).await });
    }
    tasks.join_all().await
}

/// Closed loop, one client per worker, for `span`: latencies and rate.
async fn capacity(client: &Client, workers: u32, span: Duration) -> (Vec<f64>, f64) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let mut c = client.clone();
        tasks.spawn(async move {
            let mut latencies = vec![];
            while started.elapsed() < span {
                if let (Ok(()), took) = call(&mut c).await {
                    latencies.push(took);
                }
            }
            latencies
        });
    }
    let latencies: Vec<f64> = tasks.join_all().await.into_iter().flatten().collect();
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    (latencies, rate)
}

/// The capacity phase on a second pool that serves TLS (a certificate made
/// here, signed by a CA made here) and asks for a token.
async fn secured_capacity(workers: u32, span: Duration) -> anyhow::Result<(Vec<f64>, f64)> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["localhost".to_string()])?.signed_by(&key, &ca)?;
    let mut config = PoolConfig::for_slots(workers);
    config.security = ServerSecurity {
        tls: Some(ServerTls {
            cert_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
            client_ca_pem: None,
        }),
        tokens: Some(Tokens::parse(&format!("bench:{TOKEN}\n"), "the bench")?),
        insecure: false,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, PoolService::new(crate::sandbox(workers)?, config), async {
        let _ = stop_rx.await;
    }));
    let tls = ClientTls { ca_pem: ca.pem().into_bytes(), identity: None };
    let client = connect(&format!("https://{addr}"), Some(&tls), Bearer::new(Some(TOKEN))?).await?;
    let measured = capacity(&client, workers, span).await;
    let _ = stop_tx.send(());
    let _ = server.await;
    Ok(measured)
}

/// Closed loop at capacity for `span`, printing resident memory 20 times.
/// The growth over the second half, per 10 000 executions, is what a leak
/// would show: the first half includes allocator and cache warm-up.
async fn soak(client: &Client, workers: u32, span: Duration) {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (mut c, done) = (client.clone(), done.clone());
        tasks.spawn(async move {
            while started.elapsed() < span {
                if let (Ok(()), _) = call(&mut c).await {
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
    let mut samples = vec![(0u64, rss_mib())];
    println!("soak: seconds  executions  rss_mib");
    for i in 1..=20u32 {
        tokio::time::sleep_until((started + span * i / 20).into()).await;
        samples.push((done.load(std::sync::atomic::Ordering::Relaxed), rss_mib()));
        let (n, rss) = samples[samples.len() - 1];
        println!("soak: {:>7.0}  {n:>10}  {rss:>7.1}", started.elapsed().as_secs_f64());
    }
    tasks.join_all().await;
    let (mid, last) = (samples[10], samples[20]);
    let per_10k = (last.1 - mid.1) / ((last.0 - mid.0).max(1) as f64) * 10_000.0;
    println!("soak_executions: {}", last.0);
    println!("soak_rss_growth_mib_per_10k_second_half: {per_10k:.2}");
}

/// One execution; its outcome code and latency in ms.
async fn call(c: &mut Client) -> (Result<(), Code>, f64) {
    let started = Instant::now();
    let result = c.execute(execution_to_proto(&Execution::python(PROGRAM))).await;
    (result.map(|_| ()).map_err(|s| s.code()), started.elapsed().as_secs_f64() * 1e3)
}

/// Resident memory of this process, MiB (0 where /proc is missing).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}
