//! `curio train` (offline training from the replay store) and `curio eval`
//! (the held-out suites).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use curio_interpreter_pool::{Execution, Limits, Sandbox};
use curio_learner::{GenConfig, Learner, ModelConfig, TrainConfig, Trainer, evaluate, format_report, generate, inputs};
use curio_store::{ExecutionRecord, Origin, ProgramRecord, Provenance, Store};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tch::Device;
use uuid::Uuid;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Generated programs to run and store before training (idempotent).
    #[arg(long, default_value_t = 2000)]
    programs: u64,
    /// Stop after this many minutes of training.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Stop after this many optimizer steps (whichever comes first).
    #[arg(long)]
    steps: Option<i64>,
    /// Sampled transitions per minibatch (more, smaller steps learn more
    /// per minute than fewer, larger ones on a CPU).
    #[arg(long, default_value_t = 2)]
    batch: usize,
    /// Examples per sampled transition: it and companions from its trace,
    /// packed behind one copy of the program.
    #[arg(long, default_value_t = 8)]
    pack: usize,
    /// Checkpoint to write (and to resume from if it exists).
    #[arg(long, default_value = "data/checkpoints/model.safetensors")]
    checkpoint: PathBuf,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 500)]
    checkpoint_every: i64,
    /// Peak learning rate (AdamW), the loop's too.
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f64,
    /// Steps of linear warm-up to the peak rate.
    #[arg(long, default_value_t = TrainConfig::default().warmup)]
    warmup: i64,
    /// Decay of the moving average of the weights that is saved (0: the
    /// latest weights).
    #[arg(long, default_value_t = TrainConfig::default().average)]
    average: f64,
    /// Weight of the action's loss against the delta's.
    #[arg(long, default_value_t = TrainConfig::default().action_weight)]
    action_weight: f64,
    /// Weight of the working's bytes (summed per example), which the
    /// action reads.
    #[arg(long, default_value_t = TrainConfig::default().working_weight)]
    working_weight: f64,
    /// Also write the latest (not averaged) weights here at the end, to
    /// compare the two.
    #[arg(long)]
    latest: Option<PathBuf>,
    /// Share of sampled transitions drawn by priority (their last loss).
    #[arg(long, default_value_t = curio_loop::Mix::default().prioritized)]
    prioritized: f64,
    /// Share drawn from the newest transitions (the rest: uniform). None
    /// by default, unlike the loop's 0.25: offline, the newest are only the
    /// programs stored last, and a share of 0.25 of two draws per step is
    /// one of them in every step.
    #[arg(long, default_value_t = 0.0)]
    recent: f64,
    /// Share of examples with a jump k > 1 (2, 4 or 8 steps ahead). None
    /// by default, unlike the loop's 0.375: a model that has not yet
    /// learned single steps learns them first, and the jumps' examples of
    /// the same lines blur "nothing changes".
    #[arg(long, default_value_t = 0.0)]
    long_jumps: f64,
    /// Share of each sampled transition's companions drawn from steps at
    /// lines that compare (conditions, bools), where most wrong actions are.
    #[arg(long, default_value_t = curio_loop::Mix::default().comparisons)]
    comparisons: f64,
    /// Share of the run (by time, or by steps with --steps) over which the
    /// rate falls linearly to zero at its end; 0 keeps it constant.
    #[arg(long, default_value_t = 0.3)]
    anneal: f64,
    #[command(flatten)]
    model: ModelArgs,
}

/// The model's shape (a new model only) and libtorch's threads.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// CPU threads for libtorch.
    #[arg(long, default_value_t = 2, env = "CURIO_THREADS")]
    pub threads: i32,
    /// Model width (a new model only).
    #[arg(long, default_value_t = ModelConfig::default().n_embd)]
    pub width: i64,
    /// Transformer blocks (a new model only).
    #[arg(long, default_value_t = ModelConfig::default().n_layer)]
    pub layers: i64,
    /// Attention heads per block (a new model only; the width must divide
    /// by it into an even head size).
    #[arg(long, default_value_t = ModelConfig::default().n_head)]
    pub heads: i64,
    /// Dropout probability, also MC-dropout's at inference (a new model
    /// only). Default: 0 for `curio train` (offline training learns more per
    /// minute without), 0.1 in the loop, whose MC-dropout needs it.
    #[arg(long)]
    pub dropout: Option<f64>,
    /// A new model that does not work out a comparison or a counting
    /// loop's next value before its action (the ablation; a new model only).
    #[arg(long)]
    pub no_working: bool,
}

impl ModelArgs {
    /// A new model's shape, with `dropout` unless `--dropout` was given.
    pub fn config(&self, dropout: f64) -> ModelConfig {
        let dropout = self.dropout.unwrap_or(dropout);
        ModelConfig {
            n_embd: self.width,
            n_head: self.heads,
            n_layer: self.layers,
            dropout,
            working: !self.no_working,
            ..ModelConfig::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The checkpoint to evaluate.
    #[arg(long)]
    checkpoint: PathBuf,
    /// `indist` (the training distribution, other seeds) or `hard` (longer
    /// programs, more iterations, longer strings).
    #[arg(long, default_value = "indist")]
    suite: String,
    /// Programs in the suite.
    #[arg(long, default_value_t = 40)]
    programs: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also print this many transitions whose delta was wrong (the line, the
    /// locals before it, the true delta and the model's byte-by-byte guess),
    /// and as many whose action was wrong (the line, the values it read, the
    /// true next line and the predicted one).
    #[arg(long, default_value_t = 0)]
    misses: usize,
    #[arg(long, default_value_t = 2, env = "CURIO_THREADS")]
    threads: i32,
}

/// libtorch's CPU threads set; CUDA when present, else CPU.
pub fn device(threads: i32) -> Device {
    tch::set_num_threads(threads);
    Device::cuda_if_available()
}

pub fn train(args: TrainArgs, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let device = device(args.model.threads);
    let runtime = tokio::runtime::Runtime::new()?;
    let (store, _embedded) = runtime.block_on(curio_store::open(data_dir))?;
    let sandbox = crate::sandbox(2)?;
    runtime.block_on(fill(&store, &sandbox, args.programs))?;

    let learner = if args.checkpoint.exists() {
        Learner::load(&args.checkpoint, device, None)?
    } else {
        Learner::new(args.model.config(0.0), device)?
    };
    for dir in [Some(&args.checkpoint), args.latest.as_ref()].into_iter().flatten().filter_map(|p| p.parent()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let block = learner.model.config.block_size as usize;
    anyhow::ensure!(args.lr > 0.0 && args.lr < 1.0 && args.warmup >= 0, "--lr must be in (0, 1), --warmup >= 0");
    anyhow::ensure!((0.0..=1.0).contains(&args.anneal), "--anneal is a share of the run, in [0, 1]");
    let config = TrainConfig {
        lr: args.lr,
        warmup: args.warmup,
        average: args.average,
        action_weight: args.action_weight,
        working_weight: args.working_weight,
        ..TrainConfig::default()
    };
    let mix = curio_loop::Mix {
        prioritized: args.prioritized,
        recent: args.recent,
        long_jumps: args.long_jumps,
        comparisons: args.comparisons,
    };
    mix.validate()
        .map_err(|e| anyhow::anyhow!("{e}: check --prioritized, --recent, --long-jumps and --comparisons"))?;
    let mut trainer = Trainer::new(learner, config)?;
    let deadline = Instant::now() + Duration::from_secs_f64(args.minutes * 60.0);
    let last_step = args.steps.map(|s| trainer.learner.train_step + s);
    let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {msg}").expect("template"));
    let mut rng = StdRng::seed_from_u64(trainer.learner.train_step as u64);
    let mut cache = curio_loop::TraceCache::default();
    let (started, mut tokens, mut seen) = (Instant::now(), 0i64, 0usize);
    let running = |t: &Trainer| Instant::now() < deadline && last_step.is_none_or(|l| t.learner.train_step < l);
    // What is left of the run, as a share: of the time, or of the steps
    // when they end it sooner.
    let first_step = trainer.learner.train_step;
    let left = |t: &Trainer| {
        let time = deadline.saturating_duration_since(Instant::now()).as_secs_f64() / (args.minutes * 60.0).max(1e-9);
        let steps = last_step.map_or(1.0, |l| (l - t.learner.train_step) as f64 / (l - first_step).max(1) as f64);
        time.min(steps)
    };
    while running(&trainer) {
        // Four steps' worth per draw, bucketed by length to cut padding.
        let groups = runtime.block_on(curio_loop::minibatch(
            &store,
            &mut cache,
            (args.batch * 4, args.pack),
            &mix,
            block,
            &mut rng,
        ))?;
        if groups.is_empty() {
            anyhow::bail!("the store has no transitions to train on");
        }
        for groups in curio_loop::buckets(groups, args.batch, &mut rng) {
            if !running(&trainer) {
                break;
            }
            let (examples, firsts) = curio_loop::flatten(groups);
            if args.anneal > 0.0 {
                trainer.set_rate_scale(left(&trainer) / args.anneal);
            }
            // A step that stored data breaks is skipped, as in the loop.
            let stats = match trainer.step(&examples) {
                Ok(stats) => stats,
                Err(e) => {
                    tracing::error!(error = %e, "a training step failed on its minibatch; skipped");
                    continue;
                }
            };
            (tokens, seen) = (tokens + stats.tokens, seen + examples.len());
            let priorities: Vec<(i64, f32)> = firsts.into_iter().map(|(id, i)| (id, stats.per_example[i])).collect();
            runtime.block_on(store.update_priorities(&priorities))?;
            let step = trainer.learner.train_step;
            let secs = started.elapsed().as_secs_f64();
            bar.set_message(format!(
                "step {step}  action loss {:.3}  delta loss {:.3}  {:.0} tokens/s  {:.1} examples/s",
                stats.action_loss,
                stats.delta_loss,
                tokens as f64 / secs,
                seen as f64 / secs
            ));
            bar.tick();
            if step % 50 == 0 {
                tracing::info!(step, action_loss = stats.action_loss, delta_loss = stats.delta_loss, "training");
            }
            if step % args.checkpoint_every == 0 {
                trainer.averaged().save(&args.checkpoint)?;
            }
        }
    }
    trainer.averaged().save(&args.checkpoint)?;
    if let Some(latest) = &args.latest {
        trainer.learner.save(latest)?;
    }
    bar.finish_and_clear();
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    println!("trained to step {} in {minutes:.1} min", trainer.learner.train_step);
    println!("tokens_per_second: {:.0}", tokens as f64 / (minutes * 60.0));
    println!("examples_per_second: {:.1}", seen as f64 / (minutes * 60.0));
    println!("checkpoint: {}", args.checkpoint.display());
    Ok(())
}

/// Runs generated programs 0..n (one input each) and stores their traces;
/// execution ids derive from the seed, so a second fill stores nothing twice.
async fn fill(store: &Store, sandbox: &Sandbox, n: u64) -> anyhow::Result<()> {
    let bar = ProgressBar::new(n)
        .with_style(ProgressStyle::with_template("running programs {bar:30} {pos}/{len}").expect("template"));
    let mut batch = vec![];
    for seed in 0..n {
        let source = generate(seed, &GenConfig::default());
        let input = inputs(seed, 1).remove(0);
        let exec = Execution { input: input.clone(), seed, ..Execution::python(source.clone()) };
        let trace = sandbox.execute(&exec)?;
        batch.push(ExecutionRecord {
            execution_id: Uuid::from_u64_pair(0xC0_710_0FF, seed),
            program: ProgramRecord::python(source, Origin::Generated),
            input,
            seed,
            limits: Limits::default(),
            trace,
            provenance: Provenance {
                run_id: Some("offline".into()),
                strategy: Some("corpus".into()),
                ..Provenance::default()
            },
        });
        if batch.len() == 100 || seed + 1 == n {
            store.write(&std::mem::take(&mut batch)).await?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let device = device(args.threads);
    let learner = Learner::load(&args.checkpoint, device, None)?;
    let Some(programs) = curio_learner::suite(&args.suite, args.programs, Limits::default()) else {
        anyhow::bail!("unknown suite '{}': use indist or hard", args.suite);
    };
    let sandbox = crate::sandbox(2)?;
    let mut suite = vec![];
    for exec in programs {
        let trace = sandbox.execute(&exec)?;
        suite.extend(curio_learner::suite_run(exec, trace));
    }
    let report = evaluate(&learner.model, &suite, device)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"suite": args.suite, "checkpoint_step": learner.train_step, "report": report})
        );
    } else {
        print!("{}", format_report(&args.suite, &report));
        println!("  (checkpoint at step {})", learner.train_step);
    }
    for m in report.misses.iter().take(args.misses) {
        println!(
            "\nline:      {}\nlocals:    {}\nthen:      {}\ntrue:      {}\npredicted: {}",
            m.code, m.locals, m.action, m.target, m.predicted
        );
    }
    for m in report.action_misses.iter().take(args.misses) {
        let worked = match m.worked.is_empty() && m.true_working.is_empty() {
            true => String::new(),
            false => format!("\nworked:    {} (true: {})", m.worked, m.true_working),
        };
        println!(
            "\nline:      {}\nreads:     {}{worked}\nnext:      {}\npredicted: {} (p = {:.2})",
            m.code, m.read, m.target, m.predicted, m.confidence
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The checkpoint to predict with.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The Python program.
    file: PathBuf,
    /// The program's stdin (the model reads its first 64 bytes).
    #[arg(long, default_value = "")]
    input: String,
    /// Steps to predict (default: the real trace's length with --compare, else 50).
    #[arg(long)]
    horizon: Option<usize>,
    /// Run the program too and show the real trace beside, with the first divergence marked.
    #[arg(long)]
    compare: bool,
    #[arg(long, default_value_t = 2, env = "CURIO_THREADS")]
    threads: i32,
}

pub fn predict(args: PredictArgs) -> anyhow::Result<()> {
    let device = device(args.threads);
    let learner = Learner::load(&args.checkpoint, device, None)?;
    let source = std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let real = if args.compare {
        let sandbox = crate::sandbox(1)?;
        let exec = Execution { input: args.input.clone(), ..Execution::python(source.clone()) };
        Some(sandbox.execute(&exec)?)
    } else {
        None
    };
    let truth = real.as_ref().map(|t| curio_learner::states_reading(&t.steps, &args.input)).unwrap_or_default();
    let start = truth.first().cloned().unwrap_or_else(|| curio_learner::State::initial(&args.input));
    let horizon = args.horizon.unwrap_or(if truth.is_empty() { 50 } else { truth.len() - 1 });
    let path = curio_learner::rollout(&learner.model, &[(source, start.clone())], horizon, device)?.remove(0);
    let show = |s: &curio_learner::State| {
        let locals: Vec<String> = s.frame().locals.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{:<9} {:>4} {:<12} {}", s.event.as_str(), s.line, s.frame().function, locals.join(" "))
    };
    println!("model at step {}; start: {}", learner.train_step, show(&start));
    let mut diverged = false;
    for (i, entry) in path.iter().enumerate() {
        let Some((state, p)) = entry else {
            println!("{:>4}  (the predicted delta did not parse; rollout stopped)", i + 1);
            break;
        };
        let worked = String::from_utf8_lossy(p.working.trim_ascii_end()).into_owned();
        let worked = if worked.is_empty() { worked } else { format!("; worked: {worked}") };
        let predicted = format!("{}  [conf {:.2}{worked}]", show(state), p.confidence);
        match truth.get(i + 1) {
            Some(t) => {
                let first = !diverged && !state.same_as(t);
                diverged |= first;
                let mark = if first { ">>" } else { "  " };
                println!("{mark}{:>4}  predicted {predicted}\n        real      {}", i + 1, show(t));
            }
            None if args.compare => {
                println!("  {:>4}  predicted {predicted}  (the real run had ended)", i + 1);
                break;
            }
            None => println!("  {:>4}  {predicted}", i + 1),
        }
    }
    if args.compare {
        match diverged {
            true => println!("the marked step (>>) is the first divergence"),
            false => println!("no divergence over {} steps", path.len()),
        }
    }
    Ok(())
}
