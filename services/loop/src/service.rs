//! The Learner gRPC API: submissions (executed ahead of the loop's own
//! picks), status, the learning curve as a stream, and predictions from the
//! current model. The loop and the API share one [`Shared`].

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use curio_interpreter_pool::{Step, Trace, step_to_proto, trace_to_proto};
use curio_learner::{EVENTS, rollout};
use curio_proto::v1 as pb;
use curio_proto::v1::learner_server::{Learner, LearnerServer};
use curio_store::Store;
use tch::Device;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{LoopConfig, SharedTrainer, lock, start_state};

/// Largest source a submission may carry, bytes (as the pool's cap).
const MAX_SOURCE_BYTES: usize = 64 << 10;
/// Programs × inputs one request may submit.
const MAX_RUNS_PER_REQUEST: usize = 256;
/// Longest rollout `Predict` does.
const MAX_HORIZON: u32 = 200;

/// A user's program waiting for the loop.
#[derive(Debug)]
pub struct Submitted {
    pub id: Uuid,
    pub source: String,
    pub input: String,
    pub seed: u64,
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
            None => Err(Status::unavailable(format!(
                "execution {} could not be run on any pool replica; submit it again",
                self.id
            ))),
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
}

/// What the loop and the API share.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    queue: Mutex<VecDeque<Submitted>>,
    curve: broadcast::Sender<pb::CurvePoint>,
    device: Device,
    /// Submissions that may wait before new ones are refused.
    max_pending: usize,
}

impl Shared {
    pub fn new(device: Device, max_pending: usize) -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::default(),
            queue: Mutex::default(),
            curve: broadcast::channel(1024).0,
            device,
            max_pending,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Submitted>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Points the API at a (new) run of the loop.
    pub fn attach(&self, config: &LoopConfig, queries: u64, trainer: SharedTrainer, store: Store) {
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
        };
    }

    pub fn set_queries(&self, queries: u64, transitions: u64) {
        let mut s = self.state();
        (s.queries, s.transitions) = (queries, transitions);
    }

    pub fn set_train_step(&self, step: i64) {
        self.state().train_step = step;
    }

    /// Records a curve point as the latest value of its metric and sends it
    /// to every watcher.
    pub fn publish(&self, queries: u64, metric: &str, value: f64) {
        let point = {
            let mut s = self.state();
            s.latest.insert(metric.to_string(), value);
            pb::CurvePoint {
                run_id: s.run_id.clone(),
                strategy: s.strategy.clone(),
                queries_used: queries,
                metric: metric.to_string(),
                value,
            }
        };
        let _ = self.curve.send(point);
    }

    pub fn strategy(&self) -> String {
        self.state().strategy.clone()
    }

    pub fn latest(&self) -> BTreeMap<String, f64> {
        self.state().latest.clone()
    }

    /// Up to `n` submissions, oldest first.
    pub fn take_submissions(&self, n: usize) -> Vec<Submitted> {
        let mut q = self.queue();
        let n = n.min(q.len());
        q.drain(..n).collect()
    }

    pub fn pending(&self) -> usize {
        self.queue().len()
    }
}

/// The gRPC service over a [`Shared`].
#[derive(Debug, Clone)]
pub struct LearnerApi {
    shared: Arc<Shared>,
}

impl LearnerApi {
    pub fn new(shared: Arc<Shared>) -> Self {
        LearnerApi { shared }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::SubmitEvent, Status>> + Send>>;
type CurveStream = Pin<Box<dyn Stream<Item = Result<pb::CurvePoint, Status>> + Send>>;

#[tonic::async_trait]
impl Learner for LearnerApi {
    type SubmitProgramsStream = EventStream;
    type WatchLearningCurveStream = CurveStream;

    async fn submit_programs(&self, request: Request<pb::SubmitRequest>) -> Result<Response<EventStream>, Status> {
        let req = request.into_inner();
        let runs = validate_submission(&req)?;
        let (tx, rx) = mpsc::channel(runs.len() + 1);
        let ids: Vec<Uuid> = runs.iter().map(|_| Uuid::now_v7()).collect();
        {
            let mut q = self.shared.queue();
            if q.len() + runs.len() > self.shared.max_pending {
                return Err(Status::resource_exhausted(format!(
                    "{} submissions are already waiting (at most {}); retry later",
                    q.len(),
                    self.shared.max_pending
                )));
            }
            for (id, (source, input, seed)) in ids.iter().zip(runs) {
                q.push_back(Submitted {
                    id: *id,
                    source,
                    input,
                    seed,
                    submitter: req.submitter.clone(),
                    reply: tx.clone(),
                });
            }
        }
        let accepted = pb::SubmitEvent {
            event: Some(pb::submit_event::Event::Accepted(pb::Accepted {
                execution_ids: ids.iter().map(Uuid::to_string).collect(),
            })),
        };
        tx.try_send(Ok(accepted)).expect("the channel has room for the first event");
        tracing::info!(count = ids.len(), submitter = %req.submitter, "programs submitted");
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_status(&self, _: Request<pb::StatusRequest>) -> Result<Response<pb::LearnerStatus>, Status> {
        let pending = self.shared.pending() as u32;
        let s = self.shared.state();
        Ok(Response::new(pb::LearnerStatus {
            run_id: s.run_id.clone(),
            strategy: s.strategy.clone(),
            queries_used: s.queries,
            budget: s.budget,
            train_step: s.train_step,
            transitions_stored: s.transitions,
            latest_metrics: s.latest.clone().into_iter().collect(),
            pending_submissions: pending,
        }))
    }

    async fn watch_learning_curve(&self, request: Request<pb::WatchRequest>) -> Result<Response<CurveStream>, Status> {
        let metric = request.into_inner().metric;
        // Subscribe before reading the history, so no point falls between.
        let live = self.shared.curve.subscribe();
        let (run_id, store) = {
            let s = self.shared.state();
            (s.run_id.clone(), s.store.clone())
        };
        let store = store.ok_or_else(|| Status::unavailable("the loop has not started yet; retry in a few seconds"))?;
        let history = history(&store, &run_id, &metric).await?;
        let seen: std::collections::HashSet<(String, u64, String)> =
            history.iter().map(|p| (p.strategy.clone(), p.queries_used, p.metric.clone())).collect();
        let live = tokio_stream::wrappers::BroadcastStream::new(live).filter_map(move |p| match p {
            Ok(p)
                if (metric.is_empty() || p.metric == metric)
                    && !seen.contains(&(p.strategy.clone(), p.queries_used, p.metric.clone())) =>
            {
                Some(Ok(p))
            }
            _ => None,
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(history.into_iter().map(Ok)).chain(live))))
    }

    async fn predict(&self, request: Request<pb::PredictRequest>) -> Result<Response<pb::PredictResponse>, Status> {
        let req = request.into_inner();
        if req.source.is_empty() || req.source.len() > MAX_SOURCE_BYTES {
            return Err(Status::invalid_argument(format!("source: must be 1..={MAX_SOURCE_BYTES} bytes")));
        }
        if req.horizon > MAX_HORIZON {
            return Err(Status::invalid_argument(format!("horizon: {} is over the limit {MAX_HORIZON}", req.horizon)));
        }
        let horizon = if req.horizon == 0 { 20 } else { req.horizon } as usize;
        let trainer = self.shared.state().trainer.clone();
        let trainer = trainer.ok_or_else(|| Status::unavailable("no model loaded yet; retry in a few seconds"))?;
        let device = self.shared.device;
        let reply = tokio::task::spawn_blocking(move || {
            let t = lock(&trainer);
            let start = start_state(&req.input);
            let model = t.averaged();
            let block = model.model.config.block_size as usize;
            if curio_learner::encode_context(&req.source, &start, 1).context.len() + 64 > block {
                return Err(Status::invalid_argument(format!(
                    "source: too long for the model's context of {block} tokens"
                )));
            }
            let paths = rollout(&model.model, &[(req.source.clone(), start)], horizon, device).map_err(|e| {
                tracing::error!(error = %e, "prediction failed");
                Status::internal("the model could not predict this program; see the learner's log")
            })?;
            Ok(predicted(paths.into_iter().next().unwrap_or_default(), model.train_step))
        })
        .await
        .map_err(|_| Status::internal("the prediction task failed"))??;
        Ok(Response::new(reply))
    }
}

/// (source, input, seed) per run of a valid submission.
fn validate_submission(req: &pb::SubmitRequest) -> Result<Vec<(String, String, u64)>, Status> {
    if req.programs.is_empty() {
        return Err(Status::invalid_argument("programs: submit at least one program"));
    }
    let mut runs = vec![];
    for (i, p) in req.programs.iter().enumerate() {
        if p.source.trim().is_empty() || p.source.len() > MAX_SOURCE_BYTES {
            return Err(Status::invalid_argument(format!(
                "programs[{i}].source: must be non-empty and at most {MAX_SOURCE_BYTES} bytes"
            )));
        }
        let inputs = if p.inputs.is_empty() { vec![String::new()] } else { p.inputs.clone() };
        runs.extend(inputs.into_iter().map(|input| (p.source.clone(), input, p.seed)));
    }
    if runs.len() > MAX_RUNS_PER_REQUEST {
        return Err(Status::invalid_argument(format!(
            "programs: {} runs (programs × inputs); at most {MAX_RUNS_PER_REQUEST} per request",
            runs.len()
        )));
    }
    Ok(runs)
}

async fn history(store: &Store, run_id: &str, metric: &str) -> Result<Vec<pb::CurvePoint>, Status> {
    let metrics = match metric {
        "" => store.curve_metrics(run_id).await.map_err(store_unavailable)?,
        one => vec![one.to_string()],
    };
    let mut out = vec![];
    for m in metrics {
        let points = store.learning_curve(run_id, &m).await.map_err(store_unavailable)?;
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

/// What a client sees of a store failure: logged here, not sent.
fn store_unavailable(e: curio_store::StoreError) -> Status {
    tracing::error!(error = %e, "reading the learning curve");
    Status::unavailable("the replay store is not answering; retry shortly")
}

fn predicted(path: curio_learner::Rollout, model_step: i64) -> pb::PredictResponse {
    let mut steps = vec![];
    let mut stopped = String::new();
    for (i, entry) in path.into_iter().enumerate() {
        let Some((state, p)) = entry else {
            stopped = format!("the predicted delta at step {} did not parse", i + 1);
            break;
        };
        let f = state.frame();
        let step = Step {
            step: i as u32 + 1,
            event: EVENTS[p.event],
            line: state.line,
            function: f.function.clone(),
            depth: f.depth,
            locals: f.locals.clone(),
            stdout: curio_learner::parse_delta(&p.delta).map(|d| d.stdout).unwrap_or_default(),
            value: None,
        };
        steps.push(pb::PredictedStep {
            step: Some(step_to_proto(step)),
            confidence: p.confidence,
            action_entropy: p.action_entropy,
            delta_entropy: p.delta_entropy,
        });
    }
    pb::PredictResponse { steps, model_step, stopped }
}

/// Serves the Learner API (with health and reflection) until `shutdown`.
pub async fn serve_learner(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<LearnerServer<LearnerApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(curio_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor sets are valid");
    let signal = async move {
        shutdown.await;
        health.set_not_serving::<LearnerServer<LearnerApi>>().await;
    };
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(64)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(LearnerServer::new(LearnerApi::new(shared)).max_decoding_message_size(16 << 20))
        .serve_with_incoming_shutdown(curio_interpreter_pool::no_delay(listener), signal)
        .await
}
