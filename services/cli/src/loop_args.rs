//! The flags every loop command shares (`curio run`, `curio learner`,
//! `curio experiment`) and the [`LoopConfig`] they make for one leg.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use curio_loop::{Corpus, LoopConfig};

use crate::active::Leg;

#[derive(Args, Debug)]
pub struct LoopArgs {
    /// Names the run; a second start with the same id resumes it.
    #[arg(long, default_value_t = LoopConfig::default().run_id, env = "CURIO_RUN_ID")]
    pub(crate) run_id: String,
    /// Interpreter queries each strategy may spend.
    #[arg(long, default_value_t = LoopConfig::default().budget, env = "CURIO_BUDGET")]
    pub(crate) budget: u64,
    /// Also stop once training and scoring have taken this many minutes of
    /// learner time (evaluations not counted), if that comes before the
    /// queries run out.
    #[arg(long, env = "CURIO_LEARNER_MINUTES")]
    pub(crate) learner_minutes: Option<f64>,
    /// Executions per round.
    #[arg(long, default_value_t = LoopConfig::default().batch)]
    pub(crate) batch: usize,
    /// Candidates scored per round (at least the batch).
    #[arg(long, default_value_t = LoopConfig::default().candidates)]
    pub(crate) candidates: usize,
    /// Training examples per new transition stored.
    #[arg(long, default_value_t = LoopConfig::default().samples_per_insert)]
    pub(crate) samples_per_insert: f64,
    /// Sampled transitions per training step (each packed into one row
    /// with companions from its trace).
    #[arg(long, default_value_t = LoopConfig::default().train_batch)]
    pub(crate) train_batch: usize,
    /// Cap on training steps per round.
    #[arg(long, default_value_t = LoopConfig::default().max_steps_per_round)]
    pub(crate) max_steps_per_round: usize,
    /// At most this share of a round's learner time goes to scoring
    /// (bounded by the last round's training, at least a second, at most
    /// 30 s); 0: scoring may take 30 s a round whatever the training took.
    #[arg(long, default_value_t = LoopConfig::default().score_share)]
    pub(crate) score_share: f64,
    /// The reference model of the `rho` strategy: a small model trained
    /// offline on programs the loop will not draw, in a store of its own
    /// (see docs/loop.md). Its loss on a run stands for the part of the
    /// loss that training cannot remove.
    #[arg(long, env = "CURIO_REFERENCE")]
    pub(crate) reference: Option<PathBuf>,
    /// Runs `rho` makes for each one it trains on first: it runs this many
    /// times the batch (all are queries, all are stored) and gives the
    /// training priority to the batch with the most reducible loss.
    #[arg(long, default_value_t = LoopConfig::default().rho_pool)]
    pub(crate) rho_pool: usize,
    /// Steps the `trajectory` strategy foresees per candidate.
    #[arg(long, default_value_t = LoopConfig::default().horizon)]
    pub(crate) horizon: usize,
    /// Weight of spread against score when a scoring strategy picks its
    /// batch: each pick is the best of (1 - w) × its score's rank plus w ×
    /// how differently the model reads it from the picks before; 0 picks by
    /// score alone.
    #[arg(long, default_value_t = LoopConfig::default().diversity)]
    pub(crate) diversity: f64,
    /// Queries between evaluations on the held-out suite.
    #[arg(long, default_value_t = LoopConfig::default().eval_every)]
    pub(crate) eval_every: u64,
    /// Most share of the learner's time that evaluations may take: a slow
    /// evaluation delays the next one (beyond --eval-every) until training
    /// and scoring have had the rest; 0 evaluates every --eval-every
    /// queries whatever it costs.
    #[arg(long, default_value_t = LoopConfig::default().eval_share)]
    pub(crate) eval_share: f64,
    /// Programs in the held-out suite.
    #[arg(long, default_value_t = LoopConfig::default().eval_programs)]
    pub(crate) eval_programs: usize,
    /// Seeds candidate generation and a new model's weights.
    #[arg(long, default_value_t = LoopConfig::default().seed)]
    pub(crate) seed: u64,
    /// Start a new run from this checkpoint (an offline `curio train`
    /// model, say) instead of fresh weights; a run that has its own
    /// checkpoint resumes from that.
    #[arg(long, env = "CURIO_INIT")]
    pub(crate) init: Option<PathBuf>,
    /// Folder of real programs (`make corpus` writes data/corpus): its
    /// train.jsonl joins the candidates, its real.jsonl is a second
    /// held-out suite on the curve. Without one, generated programs only.
    #[arg(long, default_value = "data/corpus", env = "CURIO_CORPUS")]
    pub(crate) corpus: PathBuf,
    /// Share of candidates drawn from the corpus.
    #[arg(long, default_value_t = LoopConfig::default().corpus_share)]
    pub(crate) corpus_share: f64,
    /// Share of the generated candidates written with the idioms people use
    /// (descriptive names, `while`/`break`/`continue`, comprehensions,
    /// string methods, dicts, sets, small classes).
    #[arg(long, default_value_t = LoopConfig::default().idiomatic_share)]
    pub(crate) idiomatic_share: f64,
    /// Share of the generated Python candidates in the real suite's shape:
    /// the generator's statements in a function with annotated parameters
    /// and a docstring, called once and its result printed.
    #[arg(long, default_value_t = LoopConfig::default().shaped_share)]
    pub(crate) shaped_share: f64,
    /// Share of the generated Python candidates in the generator's harder
    /// setting (longer programs, more iterations, longer strings).
    #[arg(long, default_value_t = LoopConfig::default().hard_share)]
    pub(crate) hard_share: f64,
    /// Share of the generated Python candidates that draw from `random`
    /// (each run's seed an input).
    #[arg(long, default_value_t = LoopConfig::default().chance_share)]
    pub(crate) chance_share: f64,
    /// Share of the generated candidates written in Lua; with any, the
    /// curve also shows the Lua suite.
    #[arg(long, default_value_t = LoopConfig::default().lua_share)]
    pub(crate) lua_share: f64,
    /// Share of the generated candidates written in JavaScript; with any,
    /// the curve also shows the JavaScript suite.
    #[arg(long, default_value_t = LoopConfig::default().js_share)]
    pub(crate) js_share: f64,
    /// Let a bandit move the shares of the fresh candidates' sources (the
    /// corpus, the plain generator, idioms, hard, chance, Lua and
    /// JavaScript) toward those whose runs surprise the model most (each
    /// keeps at least 30% of its share); every execution records its
    /// source and the share it had.
    #[arg(long)]
    pub(crate) adapt_shares: bool,
    /// Deadline of one pool call, seconds; a replica past it is passed
    /// over for a while and the call retried on another.
    #[arg(long, default_value_t = LoopConfig::default().call_deadline.as_secs_f64())]
    pub(crate) call_deadline_s: f64,
    /// Learner API address; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:50052", env = "CURIO_LEARNER_LISTEN")]
    pub(crate) listen: SocketAddr,
    /// Prometheus `/metrics` address; port 0 picks a free one (second stdout line).
    #[arg(long, default_value = "127.0.0.1:9465", env = "CURIO_METRICS_LISTEN")]
    pub(crate) metrics_listen: SocketAddr,
    #[command(flatten)]
    pub(crate) security: crate::security::ServeSecurityArgs,
    #[command(flatten)]
    pub(crate) model: crate::learn::ModelArgs,
}

/// The loop's settings for `leg` under `args`.
pub(crate) fn loop_config(args: &LoopArgs, leg: &Leg, data_dir: &Path, corpus: &Option<Arc<Corpus>>) -> LoopConfig {
    LoopConfig {
        run_id: leg.run_id.clone(),
        strategy: leg.strategy,
        budget: args.budget,
        learner_budget: args
            .learner_minutes
            .map(|m| std::time::Duration::try_from_secs_f64(m.max(0.0) * 60.0).unwrap_or(std::time::Duration::MAX)),
        batch: args.batch,
        candidates: args.candidates,
        samples_per_insert: args.samples_per_insert,
        train_batch: args.train_batch,
        max_steps_per_round: args.max_steps_per_round,
        eval_every: args.eval_every,
        eval_share: args.eval_share,
        horizon: args.horizon,
        score_share: args.score_share,
        diversity: args.diversity,
        eval_programs: args.eval_programs,
        seed: leg.seed,
        init: args.init.clone(),
        reference: args.reference.clone(),
        rho_pool: args.rho_pool,
        checkpoint_dir: data_dir.join("runs"),
        model: args.model.config(curio_learner::ModelConfig::default().dropout),
        call_deadline: Duration::from_secs_f64(args.call_deadline_s),
        corpus: corpus.clone(),
        corpus_share: args.corpus_share,
        idiomatic_share: args.idiomatic_share,
        shaped_share: args.shaped_share,
        hard_share: args.hard_share,
        chance_share: args.chance_share,
        lua_share: args.lua_share,
        js_share: args.js_share,
        adapt_shares: args.adapt_shares,
        ..LoopConfig::default()
    }
}
