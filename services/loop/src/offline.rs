//! Offline training, `curio train`: the store is filled with generated
//! programs' traces (and a corpus's, when given), then [`crate::Fit`] trains on it until the time or the
//! steps are up, annealing the rate towards the end and saving checkpoints
//! on a cadence.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use curio_interpreter_pool::{Execution, Language, Limits, Sandbox};
use curio_learner::{
    GenConfig, Listed, StepStats, TrainConfig, Trainer, chancy, generate, generate_in, idiomatic, inputs, shaped,
};
use curio_store::{ExecutionRecord, Origin, ProgramRecord, Provenance, Store};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::engine::{SharedTrainer, lock};
use crate::fit::{Fit, Schedule};
use crate::{FitConfig, LoopError, Mix};

/// `curio train`'s settings: offline training on what the store holds.
#[derive(Clone, Debug, PartialEq)]
pub struct OfflineConfig {
    /// Stop after this many minutes. Default: 30.
    pub minutes: f64,
    /// Stop after this many optimizer steps, if sooner. Default: none.
    pub steps: Option<i64>,
    /// Share of the run (by time, or by steps when they end it sooner) over
    /// which the rate falls linearly to zero at its end; 0 keeps it
    /// constant. Default: 0.3.
    pub anneal: f64,
    /// The checkpoint to write. Default: data/checkpoints/model.safetensors.
    pub checkpoint: PathBuf,
    /// Steps between checkpoints. Default: 500.
    pub checkpoint_every: i64,
    /// The draws. Default: [`FitConfig::default`] with no share of recent
    /// transitions (offline, the newest are only the programs stored last,
    /// and a share of 0.25 of two draws a step is one of them every step)
    /// and no long jumps (a model that has not learned single steps learns
    /// them first, and the jumps' examples of the same lines blur "nothing
    /// changes").
    pub fit: FitConfig,
    /// The optimizer's settings.
    pub train: TrainConfig,
    /// Seeds the minibatch draws (with the step it resumes from), so runs
    /// of one command on different seeds differ. Default: 0.
    pub seed: u64,
}

impl Default for OfflineConfig {
    fn default() -> Self {
        OfflineConfig {
            minutes: 30.0,
            steps: None,
            anneal: 0.3,
            checkpoint: PathBuf::from("data/checkpoints/model.safetensors"),
            checkpoint_every: 500,
            fit: FitConfig { mix: Mix { recent: 0.0, long_jumps: 0.0, ..Mix::default() }, ..FitConfig::default() },
            train: TrainConfig::default(),
            seed: 0,
        }
    }
}

impl OfflineConfig {
    /// Checks every setting, naming the flag that is out of range.
    pub fn validate(&self) -> Result<(), LoopError> {
        let bad = |msg: &str| Err(LoopError::Config(msg.into()));
        if !(self.train.lr > 0.0 && self.train.lr < 1.0 && self.train.warmup >= 0) {
            return bad("--lr must be in (0, 1), --warmup >= 0");
        }
        if !(0.0..=1.0).contains(&self.anneal) {
            return bad("--anneal is a share of the run, in [0, 1]");
        }
        if self.fit.batch == 0
            || self.fit.pack == 0
            || self.checkpoint_every <= 0
            || self.minutes.is_nan()
            || self.minutes <= 0.0
        {
            return bad("--batch, --pack, --checkpoint-every and --minutes must be positive");
        }
        self.fit.mix.validate().map_err(|e| {
            LoopError::Config(format!("{e}: check --prioritized, --recent, --long-jumps and --comparisons"))
        })
    }
}

/// What [`offline`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OfflineReport {
    /// The step the model is at.
    pub train_step: i64,
    /// Wall-clock time trained.
    pub elapsed: Duration,
    /// Tokens and examples trained on.
    pub tokens: i64,
    /// See `tokens`.
    pub examples: usize,
}

/// Empty draws in a row after which offline training gives up.
const IDLE_DRAWS: usize = 50;

/// Trains on the store's transitions until the time or the steps are up,
/// annealing the rate towards the end and saving the averaged weights every
/// `checkpoint_every` steps and at the end. `progress` sees every step and
/// its examples.
pub async fn offline(
    store: &Store,
    trainer: &SharedTrainer,
    config: &OfflineConfig,
    progress: impl FnMut(&Trainer, &StepStats, usize),
) -> Result<OfflineReport, LoopError> {
    config.validate()?;
    let (first_step, window) = {
        let t = lock(trainer);
        (t.learner.train_step, t.learner.model.config.window())
    };
    let mut fit =
        Fit::new(config.fit.clone(), window, config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ first_step as u64);
    let started = Instant::now();
    let mut end = End {
        deadline: started + Duration::from_secs_f64(config.minutes * 60.0),
        last_step: config.steps.map(|s| first_step + s),
        first_step,
        config,
        progress,
    };
    let (mut tokens, mut examples, mut idle) = (0, 0, 0);
    while end.running(&lock(trainer)) {
        let done = fit.steps(store, trainer, 4, &mut end).await?;
        (tokens, examples) = (tokens + done.tokens, examples + done.examples);
        // A draw can come back empty where every transition it drew was too
        // long to read (their priorities are lowered, so the next draws
        // differ); only a store with nothing the model can read ends the run.
        idle = if done.steps == 0 { idle + 1 } else { 0 };
        if idle >= IDLE_DRAWS && end.running(&lock(trainer)) {
            return Err(LoopError::Config(format!(
                "{IDLE_DRAWS} draws in a row found no transition the model can read: the store is empty, or its \
                 transitions outgrow the model's window ({window:?}; store shorter programs, or train a model that reads more)"
            )));
        }
    }
    let t = lock(trainer);
    t.averaged().save(&config.checkpoint)?;
    Ok(OfflineReport { train_step: t.learner.train_step, elapsed: started.elapsed(), tokens, examples })
}

/// The end of an offline run, and what happens on the way there.
struct End<'a, P> {
    deadline: Instant,
    last_step: Option<i64>,
    first_step: i64,
    config: &'a OfflineConfig,
    progress: P,
}

impl<P> End<'_, P> {
    fn running(&self, t: &Trainer) -> bool {
        Instant::now() < self.deadline && self.last_step.is_none_or(|l| t.learner.train_step < l)
    }

    /// What is left of the run, as a share: of the time, or of the steps
    /// when they end it sooner.
    fn left(&self, t: &Trainer) -> f64 {
        let time = self.deadline.saturating_duration_since(Instant::now()).as_secs_f64()
            / (self.config.minutes * 60.0).max(1e-9);
        let steps =
            self.last_step.map_or(1.0, |l| (l - t.learner.train_step) as f64 / (l - self.first_step).max(1) as f64);
        time.min(steps)
    }
}

impl<P: FnMut(&Trainer, &StepStats, usize)> Schedule for End<'_, P> {
    fn before(&mut self, trainer: &mut Trainer) -> bool {
        if !self.running(trainer) {
            return false;
        }
        if self.config.anneal > 0.0 {
            let scale = self.left(trainer) / self.config.anneal;
            trainer.set_rate_scale(scale);
        }
        true
    }

    fn after(&mut self, trainer: &Trainer, stats: &StepStats, examples: usize) -> Result<(), LoopError> {
        (self.progress)(trainer, stats, examples);
        let step = trainer.learner.train_step;
        if step % 50 == 0 {
            tracing::info!(step, action_loss = stats.action_loss, delta_loss = stats.delta_loss, "training");
        }
        if step % self.config.checkpoint_every == 0 {
            trainer.averaged().save(&self.config.checkpoint)?;
        }
        Ok(())
    }
}

/// How many generated programs [`store_generated`] runs, of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Generated {
    /// The plain generator's programs 0..plain, one input each.
    pub plain: u64,
    /// Idiomatic ones ([`curio_learner::idiomatic`]), 0..idioms.
    pub idioms: u64,
    /// Function-shaped ones ([`curio_learner::shaped`]), 0..shaped.
    pub shaped: u64,
    /// Programs with chance in them ([`curio_learner::chancy`]), 0..chance,
    /// each run under `seeds` seeds: the runs a distribution is learnt from.
    pub chance: u64,
    /// Runs of each chance program, each under its own seed.
    pub seeds: u64,
    /// Lua programs 0..lua: the plain generator's, written in Lua (the
    /// first `plain` of them are the Python programs' twins), one input each.
    pub lua: u64,
    /// JavaScript programs 0..js, the same way.
    pub js: u64,
}

/// Runs the generated programs `kinds` says in `sandbox` and stores their
/// traces, calling `progress` after each run. Execution ids derive from
/// the generator and the seeds, so a second call stores nothing twice.
pub async fn store_generated(
    store: &Store,
    sandbox: &Sandbox,
    kinds: Generated,
    progress: impl FnMut(),
) -> Result<(), LoopError> {
    // `program` picks the input; `seed` the run's randomness; the id is
    // the namespace and the pair, as stable as the generators.
    let run_in = |language: Language, namespace: u64, id: u64, (program, seed): (u64, u64), source: String| {
        let exec = Execution { input: inputs(program, 1).remove(0), seed, ..Execution::new(language, source) };
        (Uuid::from_u64_pair(namespace, id), exec, Origin::Generated)
    };
    let run = move |namespace, id, draws, source| run_in(Language::Python, namespace, id, draws, source);
    let runs = (0..kinds.plain)
        .map(move |seed| run(0xC0_710_0FF, seed, (seed, seed), generate(seed, &GenConfig::default())))
        .chain(
            (0..kinds.idioms)
                .map(move |seed| run(0x01D1_03A7, seed, (seed, seed), idiomatic(seed, &GenConfig::default()))),
        )
        .chain(
            (0..kinds.shaped)
                .map(move |seed| run(0x05_4A_9E_D0, seed, (seed, seed), shaped(seed, &GenConfig::default()))),
        )
        .chain((0..kinds.chance).flat_map(move |program| {
            // Run seeds far from the program numbers, one run per seed.
            (0..kinds.seeds)
                .map(move |s| run(0x00C4_A7CE, (program << 20) | s, (program, 1_000_000 + s), chancy(program)))
        }))
        .chain((0..kinds.lua).map(move |seed| {
            let source = generate_in(Language::Lua, seed, &GenConfig::default());
            run_in(Language::Lua, 0x01_0A_0A, seed, (seed, seed), source)
        }))
        .chain((0..kinds.js).map(move |seed| {
            let source = generate_in(Language::Js, seed, &GenConfig::default());
            run_in(Language::Js, 0x0_0A_5C_21, seed, (seed, seed), source)
        }));
    store_runs(store, sandbox, runs, progress).await
}

/// Runs `programs` (a corpus's training programs) in `sandbox` and stores
/// their traces, calling `progress` after each. Execution ids derive from
/// each program's id and contents, so a second call stores nothing twice.
pub async fn store_listed(
    store: &Store,
    sandbox: &Sandbox,
    programs: &[Listed],
    progress: impl FnMut(),
) -> Result<(), LoopError> {
    let runs = programs.iter().map(|program| {
        let key = format!("{}\0{}\0{}\0{}", program.id, program.source, program.input, program.seed);
        let id = Uuid::from_slice(&Sha256::digest(key.as_bytes())[..16]).expect("16 bytes");
        (id, program.execution(Limits::default()), Origin::Corpus)
    });
    store_runs(store, sandbox, runs, progress).await
}

/// Runs each (execution id, execution, origin) in `sandbox` and stores the
/// traces 100 at a time, calling `progress` after each run.
async fn store_runs(
    store: &Store,
    sandbox: &Sandbox,
    runs: impl Iterator<Item = (Uuid, Execution, Origin)>,
    mut progress: impl FnMut(),
) -> Result<(), LoopError> {
    let mut batch = vec![];
    for (execution_id, exec, origin) in runs {
        let trace = sandbox.execute(&exec).map_err(|e| LoopError::Pool(e.to_string()))?;
        batch.push(ExecutionRecord {
            execution_id,
            program: ProgramRecord::new(exec.language, exec.source, origin),
            input: exec.input,
            seed: exec.seed,
            limits: Limits::default(),
            trace,
            provenance: Provenance {
                run_id: Some("offline".into()),
                strategy: Some("corpus".into()),
                ..Provenance::default()
            },
        });
        if batch.len() == 100 {
            store.write(&std::mem::take(&mut batch)).await?;
        }
        progress();
    }
    if !batch.is_empty() {
        store.write(&batch).await?;
    }
    Ok(())
}
