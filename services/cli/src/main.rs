//! `curio`: the command-line entry point. Thin: parse, build, run, drain.

mod active;
mod ask;
mod bench;
mod bench_hostile;
mod bench_learner;
mod bench_load;
mod bench_store;
mod chance;
mod db;
mod evaluate;
mod experiment;
mod input_suite;
mod learn;
mod loop_args;
mod metrics;
mod pool;
mod rank_suite;
mod security;
mod trace;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "curio", version, about = "Curio: an online active learner for code world models")]
struct Cli {
    /// Folder for Curio's data (the private Postgres cluster, checkpoints).
    #[arg(long, global = true, default_value = "data", env = "CURIO_DATA_DIR")]
    data_dir: std::path::PathBuf,
    /// Log output: human-readable lines or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "CURIO_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The main job: replay store, interpreter pools, the active-learning loop and the Learner API in one process.
    Run(active::RunArgs),
    /// Compare strategies over several seeds on one budget: curves with intervals against queries and learner seconds, and query and compute ratios against the baseline.
    Experiment(experiment::ExperimentArgs),
    /// The active-learning loop and the Learner API, against remote pool replicas.
    Learner(active::LearnerArgs),
    /// Submit programs to a running learner and print their traces.
    Submit(active::SubmitArgs),
    /// Predict a program's trace with a checkpoint (and compare it with the real one).
    Predict(evaluate::PredictArgs),
    /// Ask the model about programs: what one prints, which of several
    /// prints what is expected, where a real run surprised it.
    #[command(subcommand)]
    Ask(ask::Ask),
    /// Run one program in the sandbox and print its trace.
    Trace(trace::TraceArgs),
    /// Serve an interpreter-pool replica over gRPC.
    Pool(pool::PoolArgs),
    /// Measure a component and print its figures.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// Train the world model offline from the replay store (filled with generated programs first).
    Train(learn::TrainArgs),
    /// Evaluate a checkpoint on a held-out suite.
    Eval(evaluate::EvalArgs),
    /// The store's database: the private Postgres cluster (used when DATABASE_URL is unset), and migrations.
    #[command(subcommand)]
    Db(db::Db),
}

fn main() -> std::process::ExitCode {
    // Before any thread starts, so that libtorch's inherit it.
    curio_learner::flush_subnormals();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error as its message and causes; the backtrace (if one was
/// captured, RUST_BACKTRACE=1) only when CURIO_BACKTRACE=1 asks for it.
fn report(e: &anyhow::Error) {
    eprintln!("Error: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    if std::env::var_os("CURIO_BACKTRACE").is_some_and(|v| v == "1") {
        eprintln!("\n{}", e.backtrace());
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => active::run(args, &cli.data_dir),
        Command::Experiment(args) => experiment::run(args, &cli.data_dir),
        Command::Learner(args) => active::learner(args, &cli.data_dir),
        Command::Submit(args) => active::submit(args),
        Command::Predict(args) => evaluate::predict(args),
        Command::Ask(ask) => ask::run(ask),
        Command::Trace(args) => trace::run(args),
        Command::Pool(args) => pool::run(args),
        Command::Bench(bench) => bench::run(bench, &cli.data_dir),
        Command::Db(db) => db::run(db, &cli.data_dir),
        Command::Train(args) => learn::train(args, &cli.data_dir),
        Command::Eval(args) => evaluate::eval(args),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CURIO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Builds the sandbox, with a spinner while the guest compiles the first time.
fn sandbox(slots: u32) -> anyhow::Result<std::sync::Arc<curio_interpreter_pool::Sandbox>> {
    use curio_interpreter_pool::{Sandbox, SandboxConfig};
    let config = SandboxConfig { slots, ..SandboxConfig::default() };
    let spinner = indicatif::ProgressBar::new_spinner().with_message(format!(
        "loading the Python guest (the first start compiles it, ~20 s; cached in {})",
        config.cache_dir.display()
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let sandbox = Sandbox::new(config);
    spinner.finish_and_clear();
    let sandbox = sandbox?;
    tracing::debug!(from_cache = sandbox.from_cache, load_ms = sandbox.load_time.as_millis() as u64, "guest loaded");
    Ok(std::sync::Arc::new(sandbox))
}
