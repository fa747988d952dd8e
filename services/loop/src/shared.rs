//! What the loop and the Learner API share: the loop's position, the
//! queue of submissions, the learning curve's history (kept in memory, so
//! a watcher costs no database query), and the copies of the model that
//! predictions run on (taken from the trainer at checkpoints, so a
//! prediction never holds the trainer).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use curio_interpreter_pool::{Language, Limits, Trace, trace_to_proto};
use curio_learner::Learner;
use curio_proto::v1 as pb;
use curio_store::Store;
use tch::Device;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tonic::Status;
use uuid::Uuid;

use crate::service::{ApiError, status};
use crate::{LoopConfig, PoolClients, SharedTrainer, lock};

/// Predictions running at once; more are refused, not queued.
pub const MAX_PREDICTIONS: usize = 2;
/// Learning-curve watchers at once; more are refused.
pub const MAX_WATCHERS: usize = 64;
/// Source and input bytes the waiting submissions may hold in all.
const MAX_PENDING_BYTES: usize = 64 << 20;

/// A user's program waiting for the loop.
#[derive(Debug)]
pub struct Submitted {
    /// The execution id answered at once.
    pub id: Uuid,
    /// The program's language.
    pub language: Language,
    /// The program.
    pub source: String,
    /// Its stdin.
    pub input: String,
    /// Its seed for `random`.
    pub seed: u64,
    /// The caller's token name where tokens are on; else what it declared.
    pub submitter: String,
    reply: mpsc::Sender<Result<pb::SubmitEvent, Status>>,
}

impl Submitted {
    /// Sends the trace (or that no replica could run it) to the submitter,
    /// if they are still listening.
    pub fn answer(&self, trace: Option<&Trace>) {
        let event = match trace {
            Some(t) => Ok(pb::SubmitEvent {
                event: Some(pb::submit_event::Event::Executed(pb::Executed {
                    execution_id: self.id.to_string(),
                    trace: Some(trace_to_proto(t.clone())),
                })),
            }),
            None => Err(status(ApiError::Unrunnable(self.id))),
        };
        let _ = self.reply.try_send(event);
    }
}

#[derive(Debug, Default)]
struct State {
    run_id: String,
    strategy: String,
    budget: u64,
    queries: u64,
    transitions: u64,
    train_step: i64,
    latest: BTreeMap<String, f64>,
    trainer: Option<SharedTrainer>,
    store: Option<Store>,
    /// The run's pool replicas and limits, for running what `AskInput` checks.
    pools: Option<(Arc<PoolClients>, Limits)>,
    /// Every curve point of the run: the stored ones once a watcher asked
    /// (`history_loaded`), and each one published since.
    history: Vec<pb::CurvePoint>,
    history_loaded: bool,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Submitted>,
    /// Source and input bytes of `items`.
    bytes: usize,
}

/// A run a submission asks for, checked and counted but not yet copied.
#[derive(Debug)]
pub(crate) struct Run<'a> {
    pub language: Language,
    pub source: &'a str,
    pub input: &'a str,
    pub seed: u64,
}

/// What the loop and the API share.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    queue: Mutex<Queue>,
    pub(crate) curve: broadcast::Sender<pb::CurvePoint>,
    pub(crate) device: Device,
    /// Submissions that may wait before new ones are refused.
    max_pending: usize,
    /// The copies predictions run on ([`MAX_PREDICTIONS`] of them, so
    /// those running never wait for each other); none until the first
    /// prediction or checkpoint.
    model: Mutex<Option<Arc<Vec<Mutex<Learner>>>>>,
    /// One load of the stored history at a time.
    history_load: tokio::sync::Mutex<()>,
    pub(crate) predicting: Arc<Semaphore>,
    pub(crate) watching: Arc<Semaphore>,
}

impl Shared {
    /// Nothing attached yet, for models on `device` and at most `max_pending` submissions waiting.
    pub fn new(device: Device, max_pending: usize) -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::default(),
            queue: Mutex::default(),
            curve: broadcast::channel(1024).0,
            device,
            max_pending,
            model: Mutex::default(),
            history_load: tokio::sync::Mutex::new(()),
            predicting: Arc::new(Semaphore::new(MAX_PREDICTIONS)),
            watching: Arc::new(Semaphore::new(MAX_WATCHERS)),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Points the API at a (new) run of the loop.
    pub fn attach(
        &self,
        config: &LoopConfig,
        queries: u64,
        trainer: SharedTrainer,
        (store, pools): (Store, Arc<PoolClients>),
    ) {
        let mut s = self.state();
        let train_step = lock(&trainer).learner.train_step;
        *s = State {
            run_id: config.run_id.clone(),
            strategy: config.strategy.to_string(),
            budget: config.budget,
            queries,
            transitions: store.transition_count() as u64,
            train_step,
            latest: BTreeMap::new(),
            trainer: Some(trainer),
            store: Some(store),
            pools: Some((pools, config.limits)),
            history: vec![],
            history_loaded: false,
        };
        // Another trainer: the copies of the previous one are stale.
        *self.model.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Records the queries used and the transitions stored so far.
    pub fn set_queries(&self, queries: u64, transitions: u64) {
        let mut s = self.state();
        (s.queries, s.transitions) = (queries, transitions);
    }

    /// Records the model's optimizer steps so far.
    pub fn set_train_step(&self, step: i64) {
        self.state().train_step = step;
    }

    /// Records a curve point as the latest value of its metric, keeps it
    /// in the history and sends it to every watcher.
    pub fn publish(&self, queries: u64, metric: &str, value: f64) {
        let point = {
            let mut s = self.state();
            s.latest.insert(metric.to_string(), value);
            let point = pb::CurvePoint {
                run_id: s.run_id.clone(),
                strategy: s.strategy.clone(),
                queries_used: queries,
                metric: metric.to_string(),
                value,
            };
            s.history.push(point.clone());
            point
        };
        let _ = self.curve.send(point);
    }

    /// The strategy of the attached run.
    pub fn strategy(&self) -> String {
        self.state().strategy.clone()
    }

    /// The latest value of each metric.
    pub fn latest(&self) -> BTreeMap<String, f64> {
        self.state().latest.clone()
    }

    /// Up to `n` submissions, oldest first.
    pub fn take_submissions(&self, n: usize) -> Vec<Submitted> {
        let mut q = self.queue();
        let n = n.min(q.items.len());
        let taken: Vec<Submitted> = q.items.drain(..n).collect();
        q.bytes -= taken.iter().map(|s| s.source.len() + s.input.len()).sum::<usize>();
        taken
    }

    /// Submissions waiting.
    pub fn pending(&self) -> usize {
        self.queue().items.len()
    }

    pub(crate) fn status(&self) -> pb::LearnerStatus {
        let pending = self.pending() as u32;
        let s = self.state();
        pb::LearnerStatus {
            run_id: s.run_id.clone(),
            strategy: s.strategy.clone(),
            queries_used: s.queries,
            budget: s.budget,
            train_step: s.train_step,
            transitions_stored: s.transitions,
            latest_metrics: s.latest.clone().into_iter().collect(),
            pending_submissions: pending,
        }
    }

    /// Queues `runs` (of `bytes` source and input in all) for the loop, or
    /// refuses them all when the queue has no room; returns their ids.
    pub(crate) fn enqueue(
        &self,
        runs: &[Run<'_>],
        bytes: usize,
        submitter: &str,
        reply: &mpsc::Sender<Result<pb::SubmitEvent, Status>>,
    ) -> Result<Vec<Uuid>, ApiError> {
        let mut q = self.queue();
        if q.items.len() + runs.len() > self.max_pending {
            return Err(ApiError::QueueFull { waiting: q.items.len(), max: self.max_pending });
        }
        if q.bytes + bytes > MAX_PENDING_BYTES {
            return Err(ApiError::QueueBytes { max: MAX_PENDING_BYTES });
        }
        let mut ids = Vec::with_capacity(runs.len());
        for run in runs {
            let id = Uuid::now_v7();
            q.items.push_back(Submitted {
                id,
                language: run.language,
                source: run.source.to_string(),
                input: run.input.to_string(),
                seed: run.seed,
                submitter: submitter.to_string(),
                reply: reply.clone(),
            });
            ids.push(id);
        }
        q.bytes += bytes;
        Ok(ids)
    }

    /// Copies the trainer's averaged model for predictions. The loop calls
    /// it after each checkpoint; the trainer is held only for the copy.
    pub async fn refresh_model(self: Arc<Self>) {
        let copied = tokio::task::spawn_blocking(move || self.copy_model()).await;
        match copied {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "copying the model for predictions; keeping the previous copy"),
            Err(e) => tracing::error!(error = %e, "the model copy task failed"),
        }
    }

    fn copy_model(&self) -> Result<(), ApiError> {
        let trainer = self.state().trainer.clone().ok_or(ApiError::NotStarted)?;
        // The new models are built before the trainer is taken.
        let config = lock(&trainer).averaged().model.config.clone();
        let mut copies = (0..MAX_PREDICTIONS)
            .map(|_| Learner::new(config.clone(), self.device))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::Model)?;
        {
            let t = lock(&trainer);
            for c in &mut copies {
                c.vs.copy(&t.averaged().vs).map_err(|e| ApiError::Model(e.into()))?;
                c.train_step = t.averaged().train_step;
            }
        }
        let copies = Arc::new(copies.into_iter().map(Mutex::new).collect());
        *self.model.lock().unwrap_or_else(|e| e.into_inner()) = Some(copies);
        Ok(())
    }

    /// The copies predictions run on, made now if there are none yet.
    /// Blocking: call it off the async threads.
    pub(crate) fn predictors(&self) -> Result<Arc<Vec<Mutex<Learner>>>, ApiError> {
        if let Some(copies) = self.model.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(copies);
        }
        self.copy_model()?;
        self.model.lock().unwrap_or_else(|e| e.into_inner()).clone().ok_or(ApiError::NotStarted)
    }

    /// The run's replay store, once the loop has started.
    pub(crate) fn store(&self) -> Option<Store> {
        self.state().store.clone()
    }

    /// The run's pool replicas and the limits its executions run under.
    pub(crate) fn pools(&self) -> Option<(Arc<PoolClients>, Limits)> {
        self.state().pools.clone()
    }

    /// The run's curve points so far (of `metric`, or all when empty),
    /// oldest first. The stored ones are read once per run, by the first
    /// watcher; every later watcher is served from memory.
    pub(crate) async fn curve_history(&self, metric: &str) -> Result<Vec<pb::CurvePoint>, ApiError> {
        let loading = self.history_load.lock().await;
        let (loaded, run_id, store) = {
            let s = self.state();
            (s.history_loaded, s.run_id.clone(), s.store.clone())
        };
        if !loaded {
            let store = store.ok_or(ApiError::NotStarted)?;
            let stored = stored_history(&store, &run_id).await?;
            let mut s = self.state();
            if s.run_id == run_id && !s.history_loaded {
                let key = |p: &pb::CurvePoint| (p.strategy.clone(), p.queries_used, p.metric.clone());
                let known: HashSet<_> = stored.iter().map(key).collect();
                let published: Vec<pb::CurvePoint> = s.history.drain(..).filter(|p| !known.contains(&key(p))).collect();
                s.history = stored;
                s.history.extend(published);
                s.history.sort_by_key(|p| p.queries_used);
                s.history_loaded = true;
            }
        }
        drop(loading);
        let s = self.state();
        Ok(s.history.iter().filter(|p| metric.is_empty() || p.metric == metric).cloned().collect())
    }
}

async fn stored_history(store: &Store, run_id: &str) -> Result<Vec<pb::CurvePoint>, ApiError> {
    let mut out = vec![];
    for m in store.curve_metrics(run_id).await.map_err(ApiError::Store)? {
        let points = store.learning_curve(run_id, &m).await.map_err(ApiError::Store)?;
        out.extend(points.into_iter().map(|(strategy, q, value)| pb::CurvePoint {
            run_id: run_id.to_string(),
            strategy,
            queries_used: q as u64,
            metric: m.clone(),
            value,
        }));
    }
    out.sort_by_key(|p| p.queries_used);
    Ok(out)
}
