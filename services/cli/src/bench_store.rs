//! `curio bench store`: write throughput of synthetic traces and the latency
//! of 256-transition minibatches, in a scratch database `curio_bench` on the
//! configured server (`DATABASE_URL`, else the private cluster).

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::bench::percentile;
use clap::Args;
use curio_interpreter_pool::{Event, Limits, Status, Step, Trace};
use curio_store::{ExecutionRecord, Origin, ProgramRecord, Provenance, Sampling, Store};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

#[derive(Args, Debug)]
pub struct StoreBench {
    /// Transitions to write (the sampled store's size).
    #[arg(long, default_value_t = 1_000_000)]
    transitions: u64,
    /// Steps per synthetic execution.
    #[arg(long, default_value_t = 40)]
    steps: u32,
    /// Executions per write batch.
    #[arg(long, default_value_t = 50)]
    batch: u32,
    /// Minibatches to time per sampling mode.
    #[arg(long, default_value_t = 200)]
    samples: usize,
}

pub async fn run(args: StoreBench, data_dir: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(args.steps >= 1 && args.batch >= 1, "--steps and --batch must be at least 1");
    let (options, _embedded) = server(data_dir).await?;
    let store = scratch_store(options).await?;
    let mut rng = StdRng::seed_from_u64(1);

    let per_batch = u64::from(args.steps * args.batch);
    let batches = args.transitions.div_ceil(per_batch);
    let bar = ProgressBar::new(batches * per_batch).with_style(
        ProgressStyle::with_template("writing {bar:30} {pos}/{len} transitions ({per_sec})").expect("valid template"),
    );
    let started = Instant::now();
    for b in 0..batches {
        let batch: Vec<_> =
            (0..args.batch).map(|i| synthetic(b * u64::from(args.batch) + u64::from(i), args.steps)).collect();
        let receipt = store.write(&batch).await?;
        anyhow::ensure!(receipt.rejected.is_empty(), "synthetic records refused: {:?}", receipt.rejected);
        bar.inc(receipt.transitions);
    }
    let write_s = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let written = batches * per_batch;

    // Give a tenth of the store other priorities, as a trainer would.
    let n = store.transition_count();
    let updates: Vec<(i64, f32)> =
        (0..n / 10).map(|_| (rng.random_range(1..=n as i64), rng.random_range(0.01f32..20.0))).collect();
    let update_started = Instant::now();
    for chunk in updates.chunks(256) {
        store.update_priorities(chunk).await?;
    }
    let update_ms = update_started.elapsed().as_secs_f64() * 1e3 / updates.len().div_ceil(256).max(1) as f64;

    let mut prioritized = time_samples(&store, Sampling::Prioritized, args.samples, &mut rng).await?;
    let mut uniform = time_samples(&store, Sampling::Uniform, args.samples, &mut rng).await?;
    println!("store_transitions: {n}");
    println!("write_seconds: {write_s:.1} ({written} transitions, {} per batch)", per_batch);
    println!("priority_update_ms_per_256: {update_ms:.2}");
    println!("sample_uniform_ms_p50: {:.2}", percentile(&mut uniform, 0.5));
    println!("sample_prioritized_ms_p99: {:.2}", percentile(&mut prioritized, 0.99));
    println!("transitions_per_second: {:.0}", written as f64 / write_s);
    println!("sample_ms_p50: {:.2}", percentile(&mut prioritized, 0.5));
    Ok(())
}

/// The configured server: `DATABASE_URL`, else the private cluster.
async fn server(
    data_dir: &std::path::Path,
) -> anyhow::Result<(PgConnectOptions, Option<curio_store::EmbeddedPostgres>)> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok((PgConnectOptions::from_str(&url).context("parsing DATABASE_URL")?, None));
    }
    let dir = data_dir.join("postgres");
    let pg = tokio::task::spawn_blocking(move || curio_store::EmbeddedPostgres::start(&dir)).await??;
    Ok((PgConnectOptions::from_str(&pg.url())?, Some(pg)))
}

/// A fresh `curio_bench` database on the server, so the bench never touches
/// real data and always starts empty.
async fn scratch_store(options: PgConnectOptions) -> anyhow::Result<Store> {
    let mut admin = options.clone().connect().await.context("connecting to Postgres")?;
    sqlx::query("DROP DATABASE IF EXISTS curio_bench WITH (FORCE)").execute(&mut admin).await?;
    sqlx::query("CREATE DATABASE curio_bench").execute(&mut admin).await?;
    admin.close().await?;
    Ok(Store::connect_with(options.database("curio_bench")).await?)
}

async fn time_samples(store: &Store, how: Sampling, n: usize, rng: &mut StdRng) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let sample = store.sample(256, how, rng).await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(sample.len() == 256, "asked 256 transitions, got {}", sample.len());
    }
    Ok(times)
}

/// A trace shaped like a real one: a loop over a list with an accumulator.
fn synthetic(i: u64, steps: u32) -> ExecutionRecord {
    let source =
        format!("xs = list(range({}))\nacc = 0\nfor x in xs:\n    acc += x * {}\nprint(acc)\n", i % 97, i % 13);
    let trace_steps = (0..steps)
        .map(|s| Step {
            step: s,
            event: if s == 0 { Event::Call } else { Event::Line },
            line: 1 + s % 4,
            function: "<module>".into(),
            depth: 1,
            locals: vec![
                ("xs".into(), format!("[0, 1, 2, 3, {}]", i % 97)),
                ("acc".into(), (u64::from(s) * (i % 13)).to_string()),
                ("x".into(), (s % 5).to_string()),
            ],
            stdout: if s + 1 == steps { format!("{}\n", i) } else { String::new() },
            value: None,
        })
        .collect();
    ExecutionRecord {
        execution_id: uuid::Uuid::now_v7(),
        program: ProgramRecord::python(source, Origin::Generated),
        input: String::new(),
        seed: i,
        limits: Limits::default(),
        trace: Trace {
            request_id: String::new(),
            status: Status::Ok,
            steps: trace_steps,
            stdout: format!("{i}\n"),
            error: None,
            step_count: u64::from(steps),
            stdout_bytes: 0,
            trace_bytes: 0,
            truncated: false,
            duration: Duration::from_millis(2),
            instantiate: Duration::from_micros(700),
        },
        provenance: Provenance { strategy: Some("random".into()), ..Provenance::default() },
    }
}
