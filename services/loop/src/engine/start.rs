//! Starting or resuming the loop of one strategy: its model, its reference,
//! the time it has spent, and its held-out suites.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use curio_learner::{Learner, Trainer};
use curio_store::Store;
use curio_trace::{Language, Run};
use sha2::{Digest, Sha256};
use tch::Device;

use super::evaluation::{held_out_suite, real_suite};
use super::schedule::EvalCost;
use super::{Engine, Spent, patiently, rho};
use crate::fit::Fit;
use crate::metrics::LoopMetrics;
use crate::sources::Sources;
use crate::{LoopConfig, LoopError, PoolClients, Shared, Strategy};

/// The held-out suites by name, as [`Engine`] keeps them.
type Suites = Vec<(&'static str, Vec<Run>)>;

impl Engine {
    /// Resumes (run, strategy) from the store and its newest checkpoint, or
    /// starts it; runs the held-out suite on the pool.
    pub async fn start(
        mut config: LoopConfig,
        store: &Store,
        pools: Arc<PoolClients>,
        shared: Arc<Shared>,
        device: Device,
    ) -> Result<Self, LoopError> {
        config.validate()?;
        let strategy = config.strategy.as_str();
        let store = store.scoped(&config.run_id, strategy).await?;
        let queries = store.queries_used(&config.run_id, strategy).await?;
        let learner = starting_model(&config, &config.checkpoint_path(), device)?;
        config.model = learner.model.config.clone();
        let reference = match (&config.reference, config.strategy) {
            (Some(path), Strategy::Rho) => Some(rho::load_reference(path, &config.model, device)?),
            _ => None,
        };
        if reference.is_some() {
            // A round stored but not yet chosen from (the process stopped
            // between the two): its runs were not chosen.
            let left =
                patiently("settling an unchosen round", async || store.settle_unchosen(&config.run_id, strategy).await)
                    .await?;
            if left > 0 {
                tracing::info!(runs = left, "runs stored before a stop were never chosen: they train as the rest");
            }
        }
        tracing::info!(run = %config.run_id, strategy, queries, train_step = learner.train_step, "loop starting");
        let trainer = Arc::new(Mutex::new(Trainer::new(learner, config.train.clone())?));
        let (spent, last_eval, last_eval_cost) = spent_so_far(&store, &config).await?;
        let suites = suites(&pools, &config).await?;
        let corpus = config.corpus.as_ref().is_some_and(|c| !c.train.is_empty());
        let sources = Sources::new(&config, corpus);
        let run_key = u64::from_le_bytes(
            Sha256::digest(format!("{}\0{strategy}", config.run_id).as_bytes())[..8].try_into().expect("8 bytes"),
        );
        shared.attach(&config, queries, trainer.clone(), (store.clone(), pools.clone()));
        LoopMetrics::register(config.strategy);
        Ok(Engine {
            fit: Fit::new(config.fit(), config.model.window(), config.seed).with_reference(reference.clone(), device),
            config,
            store,
            pools,
            trainer,
            shared,
            suites: Arc::new(suites),
            surprising: vec![],
            queries,
            last_eval,
            last_eval_cost,
            device,
            run_key,
            spent,
            sources,
            last_training: Duration::ZERO,
            reference,
        })
    }
}

/// The model a run goes on with: its own checkpoint at `path` when there is
/// one (with that checkpoint's shape: the shape flags are a new model's),
/// else the `--init` checkpoint's weights and shape with the loop's dropout
/// (an offline model trains without, and MC-dropout needs it), else fresh
/// weights from the run's seed, so strategies on a seed start alike.
fn starting_model(config: &LoopConfig, path: &Path, device: Device) -> Result<Learner, LoopError> {
    Ok(match &config.init {
        _ if path.exists() => {
            let learner = Learner::load(path, device, None)?;
            if learner.model.config != config.model && config.init.is_none() {
                tracing::warn!(checkpoint = %path.display(), shape = ?learner.model.config,
                    "resuming with the checkpoint's shape: the shape flags apply to new runs only");
            }
            learner
        }
        Some(init) => Learner::load_with(init, device, None, Some(config.model.dropout))?,
        None => {
            tch::manual_seed(config.seed as i64);
            Learner::new(config.model.clone(), device)?
        }
    })
}

/// What a resumed run had spent, read from its curves (each once): the
/// learner's, scoring's and evaluation's seconds, where it was last
/// evaluated, and what that evaluation cost.
async fn spent_so_far(store: &Store, config: &LoopConfig) -> Result<(Spent, Option<u64>, EvalCost), LoopError> {
    let strategy = config.strategy.as_str();
    let curve = async |metric: &str| -> Result<Vec<(u64, f64)>, LoopError> {
        let points = store.learning_curve(&config.run_id, metric).await?;
        Ok(points.into_iter().filter(|(s, _, _)| s == strategy).map(|(_, q, v)| (q as u64, v)).collect())
    };
    let last_eval = curve("delta_exact").await?.iter().map(|p| p.0).max();
    let (learner, evaluation) = (curve("learner_seconds").await?, curve("evaluation_seconds").await?);
    let latest = |points: &[(u64, f64)]| points.iter().max_by_key(|p| p.0).map_or(0.0, |p| p.1);
    let spent = Spent {
        learner: latest(&learner),
        scoring: latest(&curve("scoring_seconds").await?),
        evaluation: latest(&evaluation),
    };
    let cost = last_eval.map_or_else(EvalCost::default, |at| EvalCost::resumed(&evaluation, &learner, at));
    Ok((spent, last_eval, cost))
}

/// The run's held-out suites: the generator's for each language it draws,
/// and with a corpus each of those languages' real suite.
async fn suites(pools: &PoolClients, config: &LoopConfig) -> Result<Suites, LoopError> {
    let (n, limits) = (config.eval_programs, &config.limits);
    let mut suites = vec![("indist", held_out_suite(pools, "indist", n, limits).await?)];
    if config.lua_share > 0.0 {
        suites.push(("lua", held_out_suite(pools, "indist-lua", n, limits).await?));
    }
    if config.js_share > 0.0 {
        suites.push(("js", held_out_suite(pools, "indist-js", n, limits).await?));
    }
    let Some(corpus) = &config.corpus else { return Ok(suites) };
    for (name, language, share) in [
        ("real", Language::Python, 1.0),
        ("lua_real", Language::Lua, config.lua_share),
        ("js_real", Language::Js, config.js_share),
    ] {
        if share > 0.0 && !corpus.real_in(language).is_empty() {
            suites.push((name, real_suite(pools, corpus, language, n, limits).await?));
        }
    }
    Ok(suites)
}
