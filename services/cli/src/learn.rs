//! `curio train`: offline training from the replay store.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use curio_learner::{Learner, ModelConfig, TrainConfig, Trainer};
use curio_loop::{FitConfig, Generated, Mix, OfflineConfig, offline, store_generated, store_listed};
use indicatif::{ProgressBar, ProgressStyle};
use tch::Device;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Generated programs to run and store before training (idempotent).
    #[arg(long, default_value_t = 2000)]
    programs: u64,
    /// Generated programs written with the idioms people use (descriptive
    /// names, `while`/`break`/`continue`, comprehensions, string methods,
    /// dicts, sets, small classes) to run and store beside them.
    #[arg(long, default_value_t = 0)]
    idiomatic: u64,
    /// Generated programs in the shape of the real suite's: the plain
    /// generator's statements inside a function with annotated parameters
    /// and a docstring, called once and its result printed.
    #[arg(long, default_value_t = 0)]
    shaped: u64,
    /// Generated programs that draw from `random` (whose runs differ by
    /// seed) to run and store beside them, each under --chance-seeds seeds.
    #[arg(long, default_value_t = 0)]
    chance: u64,
    /// Runs of each --chance program, each under its own seed.
    #[arg(long, default_value_t = 16)]
    chance_seeds: u64,
    /// Generated Lua programs to run and store beside them: the plain
    /// generator's draws written in Lua, so the first --programs of them are
    /// the Python programs' twins.
    #[arg(long, default_value_t = 0)]
    lua: u64,
    /// Generated JavaScript programs to run and store beside them, the same
    /// way (the first --programs of them are the Python programs' twins).
    #[arg(long, default_value_t = 0)]
    js: u64,
    /// Files of real programs to run and store beside them (idempotent),
    /// such as data/corpus/train.jsonl from `make corpus`, and its Lua and
    /// JavaScript translations lua-train.jsonl and js-train.jsonl; repeat
    /// or comma-separate for several.
    #[arg(long, value_delimiter = ',')]
    corpus: Vec<PathBuf>,
    /// Stop after this many minutes of training.
    #[arg(long, default_value_t = OfflineConfig::default().minutes)]
    minutes: f64,
    /// Stop after this many optimizer steps (whichever comes first).
    #[arg(long)]
    steps: Option<i64>,
    /// Sampled transitions per minibatch (more, smaller steps learn more
    /// per minute than fewer, larger ones on a CPU).
    #[arg(long, default_value_t = FitConfig::default().batch)]
    batch: usize,
    /// Examples per sampled transition: it and companions from its trace,
    /// packed behind one copy of the program.
    #[arg(long, default_value_t = FitConfig::default().pack)]
    pack: usize,
    /// Checkpoint to write (and to resume from if it exists).
    #[arg(long, default_value_os_t = OfflineConfig::default().checkpoint)]
    checkpoint: PathBuf,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = OfflineConfig::default().checkpoint_every)]
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
    /// Shift each program's line ids in a batch by a random 0..=N, so what
    /// the model learns does not depend on where in a file a line sits (a
    /// blank first line, a docstring or a function above move every line
    /// down); 0 trains on the ids as they are.
    #[arg(long, default_value_t = TrainConfig::default().line_shift)]
    line_shift: i64,
    /// Also write the latest (not averaged) weights here at the end, to
    /// compare the two.
    #[arg(long)]
    latest: Option<PathBuf>,
    /// Share of sampled transitions drawn by priority (their last loss).
    #[arg(long, default_value_t = OfflineConfig::default().fit.mix.prioritized)]
    prioritized: f64,
    /// Share drawn from the newest transitions (the rest: uniform); none by
    /// default, unlike the loop's.
    #[arg(long, default_value_t = OfflineConfig::default().fit.mix.recent)]
    recent: f64,
    /// Share of examples with a jump k > 1 (2, 4 or 8 steps ahead); none by
    /// default, unlike the loop's.
    #[arg(long, default_value_t = OfflineConfig::default().fit.mix.long_jumps)]
    long_jumps: f64,
    /// Share of each sampled transition's companions drawn from steps at
    /// lines that compare (conditions, bools), where most wrong actions are.
    #[arg(long, default_value_t = OfflineConfig::default().fit.mix.comparisons)]
    comparisons: f64,
    /// Share of sampled transitions drawn from the corpus's programs (code
    /// people wrote, from --corpus), the rest from generated ones; by
    /// default each part comes in proportion to its stored transitions.
    #[arg(long)]
    corpus_share: Option<f64>,
    /// Seeds a new model's weights and the minibatch draws, so runs of one
    /// command on different seeds differ (without it, the draws follow the
    /// step the run starts from and the weights are libtorch's default
    /// draw).
    #[arg(long)]
    seed: Option<u64>,
    /// Share of the run (by time, or by steps with --steps) over which the
    /// rate falls linearly to zero at its end; 0 keeps it constant.
    #[arg(long, default_value_t = OfflineConfig::default().anneal)]
    anneal: f64,
    #[command(flatten)]
    model: ModelArgs,
}

impl TrainArgs {
    fn config(&self) -> OfflineConfig {
        let mix = Mix {
            prioritized: self.prioritized,
            recent: self.recent,
            long_jumps: self.long_jumps,
            comparisons: self.comparisons,
            corpus: self.corpus_share,
        };
        OfflineConfig {
            minutes: self.minutes,
            steps: self.steps,
            anneal: self.anneal,
            checkpoint: self.checkpoint.clone(),
            checkpoint_every: self.checkpoint_every,
            fit: FitConfig { batch: self.batch, pack: self.pack, mix },
            train: TrainConfig {
                lr: self.lr,
                warmup: self.warmup,
                average: self.average,
                action_weight: self.action_weight,
                working_weight: self.working_weight,
                line_shift: self.line_shift,
                ..TrainConfig::default()
            },
            seed: self.seed.unwrap_or(0),
        }
    }
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
    /// A new model whose line pointer and event head do not read where
    /// control can go from the current line (the ablation; a new model
    /// only).
    #[arg(long)]
    pub no_flow: bool,
    /// A new model that reads the flow hints of Python programs only, not
    /// of Lua and JavaScript ones (the ablation; a new model only).
    #[arg(long)]
    pub no_flow_lua_js: bool,
    /// A new model whose `return` states read the flow hints of the line
    /// they return into as those of the line that returned, as models
    /// before the switch did (the ablation; a new model only).
    #[arg(long)]
    pub no_flow_returns: bool,
    /// A new model whose tokens do not carry their bracket depth (the
    /// ablation; a new model only).
    #[arg(long)]
    pub no_depth: bool,
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
            flow: !self.no_flow,
            flow_lua_js: !self.no_flow_lua_js,
            flow_returns: !self.no_flow_returns,
            depth: !self.no_depth,
            ..ModelConfig::default()
        }
    }
}

/// libtorch's CPU threads set; CUDA when present, else CPU.
pub fn device(threads: i32) -> Device {
    tch::set_num_threads(threads);
    Device::cuda_if_available()
}

pub fn train(args: TrainArgs, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let (config, device) = (args.config(), device(args.model.threads));
    config.validate()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let (store, _embedded) = runtime.block_on(curio_store::open(data_dir))?;
    let kinds = Generated {
        plain: args.programs,
        idioms: args.idiomatic,
        shaped: args.shaped,
        chance: args.chance,
        seeds: args.chance_seeds,
        lua: args.lua,
        js: args.js,
    };
    let bar =
        ProgressBar::new(kinds.plain + kinds.idioms + kinds.shaped + kinds.chance * kinds.seeds + kinds.lua + kinds.js)
            .with_style(ProgressStyle::with_template("running programs {bar:30} {pos}/{len}").expect("template"));
    let sandbox = crate::sandbox(2)?;
    runtime.block_on(store_generated(&store, &sandbox, kinds, || bar.inc(1)))?;
    bar.finish_and_clear();
    for path in &args.corpus {
        let programs = curio_learner::read_programs(path)?;
        let bar = ProgressBar::new(programs.len() as u64)
            .with_style(ProgressStyle::with_template("running the corpus {bar:30} {pos}/{len}").expect("template"));
        runtime.block_on(store_listed(&store, &sandbox, &programs, || bar.inc(1)))?;
        bar.finish_and_clear();
    }
    let learner = match args.checkpoint.exists() {
        true => Learner::load(&args.checkpoint, device, None)?,
        false => {
            if let Some(seed) = args.seed {
                tch::manual_seed(seed as i64);
            }
            Learner::new(args.model.config(0.0), device)?
        }
    };
    for dir in [Some(&args.checkpoint), args.latest.as_ref()].into_iter().flatten().filter_map(|p| p.parent()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let trainer = Arc::new(Mutex::new(Trainer::new(learner, config.train.clone())?));
    let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {msg}").expect("template"));
    let (started, mut tokens, mut seen) = (Instant::now(), 0i64, 0usize);
    let done = runtime.block_on(offline(&store, &trainer, &config, |t, stats, examples| {
        (tokens, seen) = (tokens + stats.tokens, seen + examples);
        let secs = started.elapsed().as_secs_f64();
        let (step, action, delta) = (t.learner.train_step, stats.action_loss, stats.delta_loss);
        bar.set_message(format!(
            "step {step}  action loss {action:.3}  delta loss {delta:.3}  {:.0} tokens/s  {:.1} examples/s",
            tokens as f64 / secs,
            seen as f64 / secs
        ));
        bar.tick();
    }))?;
    bar.finish_and_clear();
    if let Some(latest) = &args.latest {
        curio_loop::lock(&trainer).learner.save(latest)?;
    }
    let seconds = done.elapsed.as_secs_f64();
    println!("trained to step {} in {:.1} min", done.train_step, seconds / 60.0);
    println!("tokens_per_second: {:.0}", done.tokens as f64 / seconds);
    println!("examples_per_second: {:.1}", done.examples as f64 / seconds);
    println!("checkpoint: {}", args.checkpoint.display());
    Ok(())
}
