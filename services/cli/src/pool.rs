//! `curio pool --listen ADDR`: one interpreter-pool replica.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use curio_interpreter_pool::{PoolConfig, PoolService, serve};

#[derive(Args, Debug)]
pub struct PoolArgs {
    /// Address to serve gRPC on; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:50051", env = "CURIO_POOL_LISTEN")]
    listen: SocketAddr,
    /// Executions at once. Default: the number of CPUs.
    #[arg(long, env = "CURIO_POOL_WORKERS")]
    workers: Option<u32>,
    /// Requests that may wait for a worker before new ones are shed. Default: 2 × workers.
    #[arg(long, env = "CURIO_POOL_MAX_QUEUE")]
    max_queue: Option<usize>,
    /// Prometheus `/metrics` address; port 0 picks a free one (second stdout line).
    #[arg(long, default_value = "127.0.0.1:9464", env = "CURIO_METRICS_LISTEN")]
    metrics_listen: SocketAddr,
    /// Seconds a shutdown waits for in-flight executions.
    #[arg(long, default_value_t = 10, env = "CURIO_POOL_GRACE_S")]
    grace_s: u64,
    /// The most `limits.memory_bytes` the executions running at once may add
    /// up to, bytes; calls past it are shed. Default: 512 MiB per worker, at least 2 GiB.
    #[arg(long, env = "CURIO_POOL_MEMORY_BUDGET")]
    memory_budget: Option<u64>,
    #[command(flatten)]
    security: crate::security::ServeSecurityArgs,
}

pub fn run(args: PoolArgs) -> anyhow::Result<()> {
    let slots = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() as u32));
    anyhow::ensure!((1..=256).contains(&slots), "--workers is {slots}; allowed 1..=256");
    let sandbox = crate::sandbox(slots)?;
    let mut config = PoolConfig::for_slots(slots);
    if let Some(q) = args.max_queue {
        config.max_queue = q;
    }
    config.grace = Duration::from_secs(args.grace_s);
    if let Some(bytes) = args.memory_budget {
        config.memory_budget = bytes;
    }
    config.security = args.security.load()?;
    config.security.check_bind(args.listen, "the interpreter pool")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}: is another pool already listening there?", args.listen))?;
        let addr = listener.local_addr()?;
        let metrics = crate::metrics::serve(args.metrics_listen).await?;
        // The first two stdout lines are the contract for scripts and tests.
        println!("listening on {addr}");
        println!("metrics on {metrics}");
        tracing::info!(%addr, workers = config.workers, max_queue = config.max_queue,
            security = %config.security.describe(), "interpreter pool serving");
        serve(listener, PoolService::new(sandbox, config), shutdown_signal()).await?;
        tracing::info!("interpreter pool stopped");
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
