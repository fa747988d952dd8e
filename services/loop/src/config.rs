use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use curio_interpreter_pool::Limits;
use curio_learner::{ModelConfig, TrainConfig};

use crate::{Corpus, LoopError};

/// How the loop picks what to run next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Uniformly at random among the candidates: the baseline.
    Random,
    /// Highest predictive entropy (action and first delta byte) over the
    /// k-step jumps from the start state.
    Entropy,
    /// Highest disagreement of the line pointer across MC-dropout samples.
    Bald,
    /// Highest uncertainty summed along the run the model foresees: a
    /// greedy rollout from the start state, each step's action and delta
    /// entropy ([`curio_learner::trajectory_uncertainty`]).
    Trajectory,
    /// Chooses after the run, not before it (RHO-LOSS): runs `rho_pool`
    /// times the batch of random candidates, stores every run, and gives
    /// the training priority to the batch whose loss is most reducible
    /// (the model's loss minus a reference model's). Its training steps
    /// follow the chosen runs' transitions, not all of them.
    Rho,
}

impl Strategy {
    /// Every strategy, in the order `--compare` lists them by default.
    pub const ALL: [Strategy; 5] =
        [Strategy::Random, Strategy::Entropy, Strategy::Bald, Strategy::Trajectory, Strategy::Rho];

    /// Its name on the command line, in metrics and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Entropy => "entropy",
            Strategy::Bald => "bald",
            Strategy::Trajectory => "trajectory",
            Strategy::Rho => "rho",
        }
    }
}

impl FromStr for Strategy {
    type Err = LoopError;

    fn from_str(s: &str) -> Result<Self, LoopError> {
        Strategy::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            LoopError::Config(format!("unknown strategy '{s}': use random, entropy, bald, trajectory or rho"))
        })
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything one run of the loop needs to know.
#[derive(Clone, Debug)]
pub struct LoopConfig {
    /// Names the run in the store and on the learning curve. Default: "main".
    pub run_id: String,
    /// Default: bald.
    pub strategy: Strategy,
    /// Interpreter queries the loop may spend on its own picks (user
    /// submissions are extra). Default: 1000.
    pub budget: u64,
    /// Learner time (training and scoring) the loop may spend, whichever
    /// of it and `budget` runs out first. Default: none.
    pub learner_budget: Option<std::time::Duration>,
    /// Executions per round. Default: 16.
    pub batch: usize,
    /// Candidates scored per round. Default: 48.
    pub candidates: usize,
    /// Most candidates one program family may place in a round. Default: 2.
    pub per_family: usize,
    /// Training examples drawn per new transition stored (the
    /// sample-to-insert ratio). Default: 1, about what offline training
    /// draws per stored transition in the 30 minutes that meet the model's
    /// targets.
    pub samples_per_insert: f64,
    /// Cap on training steps per round, so a long trace cannot stall
    /// acquisition. Default: 100.
    pub max_steps_per_round: usize,
    /// Sampled transitions per training step. Default: 2 (as offline: more,
    /// smaller steps learn more per minute on a CPU).
    pub train_batch: usize,
    /// Examples per sampled transition: it and companions from its trace,
    /// packed into one row. Default: 8.
    pub pack: usize,
    /// MC-dropout samples for `bald`. Default: 4.
    pub bald_samples: usize,
    /// Steps `trajectory` foresees per candidate. Default: 12.
    pub horizon: usize,
    /// Weight λ of spread against score when a scoring strategy picks its
    /// batch (ranked batch-mode sampling on the model's
    /// readings of the candidates); 0 picks by score alone. Default: 0.
    pub diversity: f64,
    /// Wall-clock bound on scoring per round; candidates not scored in time
    /// are ranked last. Default: 30 s.
    pub score_budget: Duration,
    /// With more than 0, scoring may take at most this share of a round's
    /// learner time (scoring plus the last round's training), within
    /// `score_budget` and never under a second: acquisition cannot eat the
    /// training. Default: 0 (the fixed `score_budget` alone).
    pub score_share: f64,
    /// Queries between evaluations on the held-out suite. Default: 64.
    pub eval_every: u64,
    /// With more than 0, evaluation may take at most this share of the
    /// learner's time (evaluation plus training and scoring): an evaluation
    /// that took E seconds waits, beyond `eval_every`, until the learner has
    /// spent E × (1 − share) / share seconds since it. Costly suites (long
    /// real programs, several languages) then thin the curve instead of
    /// eating the training. The last evaluation, at the budget's end, is
    /// always made. Default: 0.2.
    pub eval_share: f64,
    /// Programs in the held-out suite used on the schedule. Default: 24.
    pub eval_programs: usize,
    /// Seeds candidate generation (same seed, same candidates). Default: 0.
    pub seed: u64,
    /// Where checkpoints go: `<dir>/<run>/<strategy>.safetensors`. Default: data/runs.
    pub checkpoint_dir: PathBuf,
    /// The shape of a new model (a checkpoint keeps its own).
    pub model: ModelConfig,
    /// A checkpoint to start a new run from (an offline `curio train`
    /// model, say) instead of fresh weights; the run takes its shape.
    /// A run that has its own checkpoint resumes from that. Default: none.
    pub init: Option<PathBuf>,
    /// The reference model `rho` needs: a small model trained offline on
    /// held-out programs, whose loss stands for the irreducible part.
    /// Default: none.
    pub reference: Option<PathBuf>,
    /// Runs `rho` makes per run in the batch it trains on first.
    /// Default: 4.
    pub rho_pool: usize,
    /// The optimizer and the loss weights.
    pub train: TrainConfig,
    /// Limits for every execution. Default: the pool's defaults.
    pub limits: Limits,
    /// Deadline of one pool call. Default: 15 s.
    pub call_deadline: Duration,
    /// Real programs: candidates beside generated ones, and the real suite
    /// the curve shows beside `indist`. Default: none.
    pub corpus: Option<Arc<Corpus>>,
    /// Share of candidates drawn from the corpus, when there is one.
    /// Default: 0.5.
    pub corpus_share: f64,
    /// Share of the generated candidates written with the idioms people
    /// use ([`curio_learner::idiomatic`]); the rest come from the plain
    /// generator. Default: 0.5.
    pub idiomatic_share: f64,
    /// Share of the generated Python candidates in the real suite's shape
    /// ([`curio_learner::shaped`]: the generator's statements in a function
    /// called once). Default: 0.
    pub shaped_share: f64,
    /// Share of the generated Python candidates in the generator's harder
    /// setting (longer programs, more iterations, longer strings).
    /// Default: 0.
    pub hard_share: f64,
    /// Share of the generated Python candidates that draw from `random`
    /// (each run's seed an input). Default: 0.
    pub chance_share: f64,
    /// Share of the generated candidates written in Lua (the generator's
    /// programs, as Lua); with any, the curve also shows the `lua` suite
    /// (`indist-lua`). Default: 0.
    pub lua_share: f64,
    /// Share of the generated candidates written in JavaScript; with any,
    /// the curve also shows the `js` suite (`indist-js`). Default: 0.
    pub js_share: f64,
    /// Let a bandit move the shares above toward the sources whose runs
    /// surprise the model most ([`crate::Sources`]); each keeps at least
    /// 30% of its configured share. Default: off.
    pub adapt_shares: bool,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            run_id: "main".into(),
            strategy: Strategy::Bald,
            budget: 1000,
            learner_budget: None,
            batch: 16,
            candidates: 48,
            per_family: 2,
            samples_per_insert: 1.0,
            max_steps_per_round: 100,
            train_batch: 2,
            pack: 8,
            bald_samples: 4,
            horizon: 12,
            diversity: 0.0,
            score_budget: Duration::from_secs(30),
            score_share: 0.0,
            eval_every: 64,
            eval_share: 0.2,
            eval_programs: 24,
            seed: 0,
            checkpoint_dir: PathBuf::from("data/runs"),
            model: ModelConfig::default(),
            init: None,
            reference: None,
            rho_pool: 4,
            train: TrainConfig::default(),
            limits: Limits::default(),
            call_deadline: Duration::from_secs(15),
            corpus: None,
            corpus_share: 0.5,
            idiomatic_share: 0.5,
            shaped_share: 0.0,
            hard_share: 0.0,
            chance_share: 0.0,
            lua_share: 0.0,
            js_share: 0.0,
            adapt_shares: false,
        }
    }
}

impl LoopConfig {
    /// Checks every setting once, naming the one that is out of range.
    pub fn validate(&self) -> Result<(), LoopError> {
        let bad = |msg: String| Err(LoopError::Config(msg));
        if self.run_id.is_empty() || self.run_id.len() > 64 || self.run_id.contains(['/', '\\']) {
            return bad(format!("run id '{}' must be 1..=64 characters without slashes", self.run_id));
        }
        if !(1..=1024).contains(&self.batch) {
            return bad(format!("batch is {}; allowed 1..=1024", self.batch));
        }
        if self.candidates < self.batch {
            return bad(format!("candidates ({}) must be at least batch ({})", self.candidates, self.batch));
        }
        if !(0.0..=0.9).contains(&self.eval_share) {
            return bad(format!(
                "evaluation share is {}; allowed 0..=0.9 (--eval-share; 0 for every --eval-every queries)",
                self.eval_share
            ));
        }
        if !(0.0..0.9).contains(&self.score_share) {
            return bad(format!("score share is {}; allowed 0..0.9 (--score-share)", self.score_share));
        }
        if !(0.0..=1.0).contains(&self.diversity) {
            return bad(format!("diversity is {}; allowed 0..=1 (--diversity)", self.diversity));
        }
        if !(1..=256).contains(&self.horizon) {
            return bad(format!("horizon is {}; allowed 1..=256", self.horizon));
        }
        if self.per_family == 0 || self.train_batch == 0 || self.pack == 0 || self.eval_every == 0 {
            return bad("per-family, train-batch, pack and eval-every must be at least 1".into());
        }
        if !(0.0..=64.0).contains(&self.samples_per_insert) {
            return bad(format!("samples per insert is {}; allowed 0..=64", self.samples_per_insert));
        }
        if !(0.0..=1.0).contains(&self.corpus_share) {
            return bad(format!("corpus share is {}; allowed 0..=1", self.corpus_share));
        }
        let python = [self.idiomatic_share, self.shaped_share, self.hard_share, self.chance_share];
        if python.iter().any(|s| !(0.0..=1.0).contains(s)) || python.iter().sum::<f64>() > 1.0 {
            return bad(format!(
                "idiomatic, shaped, hard and chance shares are {python:?}; each allowed 0..=1, and together at most 1"
            ));
        }
        if !(0.0..=1.0).contains(&self.lua_share) {
            return bad(format!("Lua share is {}; allowed 0..=1 (--lua-share)", self.lua_share));
        }
        if !(0.0..=1.0).contains(&self.js_share) || self.lua_share + self.js_share > 1.0 {
            return bad(format!(
                "JavaScript share is {}; allowed 0..=1, and with the Lua share at most 1 (--js-share)",
                self.js_share
            ));
        }
        if !(1..=64).contains(&self.rho_pool) {
            return bad(format!("rho pool is {}; allowed 1..=64 (--rho-pool)", self.rho_pool));
        }
        match (&self.reference, self.strategy) {
            (None, Strategy::Rho) => {
                return bad("the rho strategy needs --reference CHECKPOINT: a small model trained offline on \
                            held-out programs (docs/loop.md shows the command)"
                    .into());
            }
            (Some(r), Strategy::Rho) if !r.exists() => {
                return bad(format!("no reference checkpoint at {} (--reference): see docs/loop.md", r.display()));
            }
            _ => {}
        }
        // Only a new run starts from it; one that has its own checkpoint resumes from that.
        if let Some(init) = self.init.as_ref().filter(|p| !p.exists() && !self.checkpoint_path().exists()) {
            return bad(format!("no checkpoint at {} (--init): train one with `curio train`", init.display()));
        }
        Ok(())
    }

    /// How the loop's training draws: its batch and pack, the default mix.
    pub fn fit(&self) -> crate::FitConfig {
        crate::FitConfig { batch: self.train_batch, pack: self.pack, mix: crate::Mix::default() }
    }

    /// A round's bound on scoring after `last_training` of training:
    /// `score_budget`, or with `score_share` s, s / (1 - s) of it (so that
    /// scoring is at most s of the two), at least a second and at most
    /// `score_budget`.
    pub fn scoring_bound(&self, last_training: Duration) -> Duration {
        let share = self.score_share;
        if share <= 0.0 {
            return self.score_budget;
        }
        last_training.mul_f64(share / (1.0 - share)).max(Duration::from_secs(1)).min(self.score_budget)
    }

    /// This run and strategy's checkpoint: `<checkpoint_dir>/<run>/<strategy>.safetensors`.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.checkpoint_dir.join(&self.run_id).join(format!("{}.safetensors", self.strategy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_share_bounds_scoring_by_the_training_before_it() {
        let fixed = LoopConfig::default();
        assert_eq!(fixed.scoring_bound(Duration::from_secs(100)), Duration::from_secs(30));
        let shared = LoopConfig { score_share: 0.2, ..LoopConfig::default() };
        // A fifth of the two: a quarter of 40 s of training.
        assert_eq!(shared.scoring_bound(Duration::from_secs(40)), Duration::from_secs(10));
        assert_eq!(shared.scoring_bound(Duration::ZERO), Duration::from_secs(1), "at least a second");
        assert_eq!(shared.scoring_bound(Duration::from_secs(400)), Duration::from_secs(30), "at most the budget");
        assert!(LoopConfig { score_share: 0.95, ..LoopConfig::default() }.validate().is_err());
    }

    #[test]
    fn the_evaluation_share_is_checked() {
        assert!(LoopConfig::default().validate().is_ok());
        assert!(LoopConfig { eval_share: 0.0, ..LoopConfig::default() }.validate().is_ok());
        for bad in [-0.1, 0.95, f64::NAN] {
            let err = LoopConfig { eval_share: bad, ..LoopConfig::default() }.validate().unwrap_err();
            assert!(err.to_string().contains("--eval-share"), "{err}");
        }
    }
}
