//! `curio run` (the main job: store, pools, loop and Learner API in one
//! process), `curio learner` (the loop against remote pools) and
//! `curio submit`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use curio_interpreter_pool::{PoolConfig, PoolService, language_to_proto, serve, trace_from_proto};
use curio_loop::{
    Corpus, Engine, LoopConfig, PoolClients, PoolSecurity, Progress, Shared, Strategy, curve_svg, curve_table,
    queries_to_reach, serve_learner,
};
use curio_proto::v1 as pb;
use curio_store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

pub(crate) use crate::loop_args::LoopArgs;
use crate::loop_args::loop_config;

/// Which strategy `curio run` and `curio learner` follow.
#[derive(Args, Debug)]
pub struct Choosing {
    /// Acquisition strategy: random, entropy, bald, trajectory, or rho
    /// (chooses what to train on after the runs; needs --reference).
    #[arg(long, default_value_t = LoopConfig::default().strategy.to_string(), env = "CURIO_STRATEGY")]
    strategy: String,
    /// Run these strategies one after another on the same budget and seed
    /// (e.g. `random,bald`), then compare their curves.
    #[arg(long, value_delimiter = ',')]
    compare: Vec<String>,
}

impl Choosing {
    fn strategies(&self) -> anyhow::Result<Vec<Strategy>> {
        if self.compare.is_empty() {
            Ok(vec![self.strategy.parse()?])
        } else {
            Ok(self.compare.iter().map(|s| s.parse()).collect::<Result<_, _>>()?)
        }
    }
}

/// Interpreter pools served inside the process.
#[derive(Args, Debug)]
pub struct LocalPools {
    /// Interpreter-pool replicas started in this process.
    #[arg(long, default_value_t = 1, env = "CURIO_REPLICAS")]
    replicas: usize,
    /// Executions at once per replica.
    #[arg(long, default_value_t = 2, env = "CURIO_POOL_WORKERS")]
    workers: u32,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    common: LoopArgs,
    #[command(flatten)]
    choosing: Choosing,
    #[command(flatten)]
    local: LocalPools,
}

#[derive(Args, Debug)]
pub struct LearnerArgs {
    #[command(flatten)]
    common: LoopArgs,
    #[command(flatten)]
    choosing: Choosing,
    /// Interpreter-pool replica (host:port); repeat or comma-separate for several.
    #[arg(long = "pool", required = true, value_delimiter = ',', env = "CURIO_POOLS")]
    pools: Vec<String>,
    #[command(flatten)]
    pool_client: crate::security::PoolClientArgs,
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub fn run(args: RunArgs, data_dir: &Path) -> anyhow::Result<()> {
    let strategies = args.choosing.strategies()?;
    let legs: Vec<Leg> = strategies.iter().map(|&strategy| Leg::of(&args.common, strategy)).collect();
    in_process(args.common, &args.local, data_dir, legs, async |store, run: &LoopArgs| {
        report(store, &run.run_id, &strategies, data_dir).await
    })
}

/// Serves `local`'s pools in this process and drives `legs` against them,
/// then `report`s.
pub(crate) fn in_process(
    common: LoopArgs,
    local: &LocalPools,
    data_dir: &Path,
    legs: Vec<Leg>,
    report: impl AsyncFnOnce(&Store, &LoopArgs) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    anyhow::ensure!((1..=16).contains(&local.replicas), "--replicas is {}; allowed 1..=16", local.replicas);
    let runtime = tokio::runtime::Runtime::new()?;
    let sandbox = crate::sandbox(local.workers * local.replicas as u32)?;
    runtime.block_on(async {
        // Before the pools, so their series register with the recorder.
        let metrics = crate::metrics::serve(common.metrics_listen).await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut addrs = vec![];
        for _ in 0..local.replicas {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            addrs.push(listener.local_addr()?.to_string());
            let service = PoolService::new(sandbox.clone(), PoolConfig::for_slots(local.workers));
            let mut stop = stop_rx.clone();
            tokio::spawn(serve(listener, service, async move {
                let _ = stop.wait_for(|s| *s).await;
            }));
        }
        tracing::info!(replicas = ?addrs, "interpreter pools serving in-process");
        let pools = (addrs, PoolSecurity::default());
        drive(common, legs, pools, data_dir, false, metrics, (stop_tx, stop_rx), report).await
    })
}

pub fn learner(args: LearnerArgs, data_dir: &Path) -> anyhow::Result<()> {
    let strategies = args.choosing.strategies()?;
    let legs: Vec<Leg> = strategies.iter().map(|&strategy| Leg::of(&args.common, strategy)).collect();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let security = args.pool_client.load()?;
        let metrics = crate::metrics::serve(args.common.metrics_listen).await?;
        let pools = (args.pools, security);
        drive(
            args.common,
            legs,
            pools,
            data_dir,
            true,
            metrics,
            watch::channel(false),
            async |store, run: &LoopArgs| report(store, &run.run_id, &strategies, data_dir).await,
        )
        .await
    })
}

/// One run a command drives: a strategy on a seed, under a run id.
#[derive(Clone, Debug)]
pub(crate) struct Leg {
    pub run_id: String,
    pub seed: u64,
    pub strategy: Strategy,
}

impl Leg {
    /// `strategy` under the run id and seed `args` name.
    fn of(args: &LoopArgs, strategy: Strategy) -> Self {
        Leg { run_id: args.run_id.clone(), seed: args.seed, strategy }
    }
}

/// The corpus of real programs in `dir`, if there is one (saying so either way).
fn load_corpus(dir: &Path) -> anyhow::Result<Option<Arc<Corpus>>> {
    let corpus = Corpus::load(dir)?.map(Arc::new);
    match &corpus {
        Some(c) => tracing::info!(dir = %dir.display(), train = c.train.len(), real = c.real.len(), "corpus loaded"),
        None => tracing::warn!(
            dir = %dir.display(),
            "no corpus there (run `make corpus`): candidates are generated programs only, and the curve has no real suite"
        ),
    }
    Ok(corpus)
}

/// Runs each leg to its budget (or until stopped), one after another,
/// serving the Learner API throughout, then `report`s; `serve_after` keeps
/// serving submissions after the budget is spent, until stopped.
#[allow(clippy::too_many_arguments)]
async fn drive(
    args: LoopArgs,
    legs: Vec<Leg>,
    (pools, pool_security): (Vec<String>, PoolSecurity),
    data_dir: &Path,
    serve_after: bool,
    metrics: SocketAddr,
    (stop_tx, stop_rx): (watch::Sender<bool>, watch::Receiver<bool>),
    report: impl AsyncFnOnce(&Store, &LoopArgs) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.1..=600.0).contains(&args.call_deadline_s),
        "--call-deadline-s is {}; allowed 0.1..=600",
        args.call_deadline_s
    );
    let corpus = load_corpus(&args.corpus)?;
    for leg in &legs {
        loop_config(&args, leg, data_dir, &corpus).validate()?;
    }
    let device = crate::learn::device(args.model.threads);
    let (store, embedded) = curio_store::open(data_dir).await?;
    let security = args.security.load()?;
    security.check_bind(args.listen, "the Learner API")?;
    let deadline = Duration::from_secs_f64(args.call_deadline_s);
    let pools = Arc::new(PoolClients::with_security(&pools, deadline, pool_security)?);
    let shared = Shared::new(device, 1024);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}: is another learner listening there? pass --listen", args.listen))?;
    // The first two stdout lines are the contract for scripts and tests.
    println!("learner listening on {}", listener.local_addr()?);
    println!("metrics on {metrics}");
    let mut api_stop = stop_rx.clone();
    tracing::info!(security = %security.describe(), "Learner API serving");
    let api = tokio::spawn(serve_learner(listener, shared.clone(), security, async move {
        let _ = api_stop.wait_for(|s| *s).await;
    }));
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: finishing the round in flight, then checkpointing");
        let _ = stop_tx.send(true);
    });
    for (i, leg) in legs.iter().enumerate() {
        let config = loop_config(&args, leg, data_dir, &corpus);
        let mut engine = Engine::start(config, &store, pools.clone(), shared.clone(), device).await?;
        let prefix = if legs.len() > 1 {
            format!("[{}/{}] {} seed {}", i + 1, legs.len(), leg.strategy, leg.seed)
        } else {
            leg.strategy.to_string()
        };
        run_strategy(&mut engine, &shared, (args.budget, &prefix), serve_after, &stop_rx).await?;
        if *stop_rx.borrow() {
            break;
        }
    }
    report(&store, &args).await?;
    api.abort();
    drop(embedded);
    Ok(())
}

/// Runs one strategy's engine to its budget behind a progress bar.
async fn run_strategy(
    engine: &mut Engine,
    shared: &Shared,
    (budget, prefix): (u64, &str),
    serve_after: bool,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let bar = ProgressBar::new(budget)
        .with_style(ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} queries  {msg}").expect("template"));
    bar.set_prefix(prefix.to_string());
    bar.set_position(engine.queries());
    curio_loop::run(engine, shared, serve_after, stop, |engine, progress| {
        bar.set_position(engine.queries());
        if let Progress::Evaluating = progress {
            bar.set_message(format!("step {}  evaluating on the held-out suite", engine.train_step()));
            return;
        }
        let latest = shared.latest();
        let metric = |m: &str| latest.get(m).map_or("-".to_string(), |v| format!("{v:.3}"));
        bar.set_message(format!(
            "step {}  action acc {}  delta exact {}",
            engine.train_step(),
            metric("action_accuracy"),
            metric("delta_exact")
        ));
    })
    .await?;
    bar.finish_and_clear();
    Ok(())
}

/// Prints the curve tables, writes the plot, and compares strategies.
async fn report(store: &Store, run_id: &str, strategies: &[Strategy], data_dir: &Path) -> anyhow::Result<()> {
    for metric in ["delta_exact", "action_accuracy"] {
        let curve = store.learning_curve(run_id, metric).await?;
        println!("{}", curve_table(metric, &curve));
    }
    let curve = store.learning_curve(run_id, "delta_exact").await?;
    let plot: PathBuf = data_dir.join("runs").join(run_id).join("learning-curve.svg");
    if let Some(dir) = plot.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&plot, curve_svg(&format!("Curio run {run_id}"), "state-delta exact match (held out)", &curve))?;
    println!("plot: {}", plot.display());
    if let [first, .., last] = strategies {
        let final_of = |s: &str| curve.iter().rfind(|p| p.0 == s).map(|p| (p.1, p.2));
        if let (Some((q_base, target)), Some(_)) = (final_of(first.as_str()), final_of(last.as_str())) {
            // Where the baseline itself first got there: if that is as early,
            // the curves do not tell the strategies apart.
            let own = queries_to_reach(&curve, first.as_str(), target).unwrap_or(q_base as f64);
            match queries_to_reach(&curve, last.as_str(), target) {
                Some(q) => println!(
                    "{last} reached {first}'s final delta exact match ({target:.3}) after {q:.0} queries \
                     ({first} itself after {own:.0}); query_ratio: {:.2}",
                    q / q_base.max(1) as f64
                ),
                None => println!("{last} did not reach {first}'s final delta exact match ({target:.3})"),
            }
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// Program files to run: Lua for a `.lua` file, JavaScript for a `.js`
    /// file, else Python, unless --language says.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// `python`, `lua` or `js`, for every file.
    #[arg(long)]
    language: Option<String>,
    /// An input (stdin) to run each program on; repeat for several.
    #[arg(long)]
    input: Vec<String>,
    /// The learner's address.
    #[arg(long, default_value = "http://127.0.0.1:50052", env = "CURIO_LEARNER")]
    learner: String,
    /// Recorded with the programs.
    #[arg(long, default_value = "", env = "USER")]
    submitter: String,
    /// Print the traces as JSON lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: crate::security::ClientArgs,
}

pub fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let programs = args
        .files
        .iter()
        .map(|f| {
            let source = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            let language = crate::trace::language_of(&f.to_string_lossy(), args.language.as_deref())?;
            let language = language_to_proto(language) as i32;
            Ok(pb::Submission { source, inputs: args.input.clone(), seed: 0, language })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let tls = args.client.tls()?;
        let channel = curio_interpreter_pool::endpoint(&args.learner, tls.as_ref(), None)?
            .connect()
            .await
            .with_context(|| format!("connecting to the learner at {}: is `curio run` running?", args.learner))?;
        let mut client = pb::learner_client::LearnerClient::with_interceptor(channel, args.client.bearer()?);
        let mut stream =
            client.submit_programs(pb::SubmitRequest { programs, submitter: args.submitter }).await?.into_inner();
        while let Some(event) = stream.message().await? {
            match event.event {
                Some(pb::submit_event::Event::Accepted(a)) => {
                    eprintln!("accepted: {}", a.execution_ids.join(" "));
                    if a.execution_ids.is_empty() {
                        break;
                    }
                }
                Some(pb::submit_event::Event::Executed(e)) => {
                    let trace = trace_from_proto(e.execution_id.clone(), e.trace.unwrap_or_default())
                        .map_err(|err| anyhow::anyhow!("unreadable trace: {err}"))?;
                    if args.json {
                        println!("{}", serde_json::json!({"execution_id": e.execution_id, "trace": trace}));
                    } else {
                        println!("execution {}", e.execution_id);
                        crate::trace::print_table(&mut std::io::stdout().lock(), &trace)?;
                        println!();
                    }
                }
                None => {}
            }
        }
        Ok(())
    })
}
