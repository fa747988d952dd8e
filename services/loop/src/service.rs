//! The Learner gRPC API: submissions (executed ahead of the loop's own
//! picks), status, the learning curve as a stream, and predictions from
//! the model. The loop and the API share one [`Shared`]. Every request's
//! cost is bounded before any work: runs are counted before they are
//! copied, sizes are capped, predictions and watchers are few at once.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use curio_interpreter_pool::{
    Caller, Language, MAX_INPUT_BYTES, MAX_SOURCE_BYTES, ServeError, ServerSecurity, language_from_proto,
    server_builder,
};
use curio_learner::Learner as Model;
use curio_proto::v1 as pb;
use curio_proto::v1::learner_server::{Learner, LearnerServer};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{BroadcastStream, ReceiverStream};
use tokio_stream::{Stream, StreamExt};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::Shared;
use crate::ask::{MAX_SURPRISE_STEPS, input_on, on_the_pool, output_on, rank_on, surprise_on};
use crate::shared::{MAX_PREDICTIONS, MAX_WATCHERS, Run};

mod predict;
pub(crate) use predict::Clock;
use predict::{deadline_of, predict_on, validate_prediction};

/// Programs × inputs one request may submit.
const MAX_RUNS_PER_REQUEST: usize = 256;
/// Longest self-declared submitter, bytes.
const MAX_SUBMITTER_BYTES: usize = 128;
/// Largest request message: a submission's sources and inputs together
/// (so a request of millions of empty inputs is refused before it is
/// decoded), plus framing.
const MAX_REQUEST_BYTES: usize = (4 << 20) + (64 << 10);
/// A prediction's deadline when the call sets none, and the longest one.
const PREDICT_DEADLINE: (Duration, Duration) = (Duration::from_secs(30), Duration::from_secs(60));

/// Why the API refused or failed a call; [`status`] is what a client sees.
#[derive(Debug, Error)]
pub(crate) enum ApiError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{waiting} submissions are already waiting (at most {max}); retry later")]
    QueueFull { waiting: usize, max: usize },
    #[error("the waiting submissions hold {max} bytes of sources and inputs already; retry later")]
    QueueBytes { max: usize },
    #[error("{limit} {what} at once already; retry shortly")]
    Busy { what: &'static str, limit: usize },
    #[error("the loop has not started yet; retry in a few seconds")]
    NotStarted,
    #[error(
        "the prediction ran past its deadline after {done} of {horizon} steps; ask for fewer steps or allow longer"
    )]
    Deadline { done: usize, horizon: usize },
    #[error("no stored execution has the id {0}; use an id SubmitPrograms answered")]
    UnknownExecution(Uuid),
    #[error("execution {0} could not be run on any pool replica; submit it again")]
    Unrunnable(Uuid),
    #[error("the sandbox pool: {0}")]
    Pool(String),
    #[error("an input's run on the pool went past the call's deadline; allow longer or ask for fewer checks")]
    RunPastDeadline,
    #[error("the replay store: {0}")]
    Store(curio_store::StoreError),
    #[error("the model: {0}")]
    Model(curio_learner::ModelError),
    #[error("a worker task failed: {0}")]
    Task(tokio::task::JoinError),
}

/// The one place an API error becomes a status: internal failures are
/// logged here and reach the client only as what it can do.
pub(crate) fn status(e: ApiError) -> Status {
    match e {
        ApiError::Invalid { .. } => Status::invalid_argument(e.to_string()),
        ApiError::QueueFull { .. } | ApiError::QueueBytes { .. } | ApiError::Busy { .. } => {
            Status::resource_exhausted(e.to_string())
        }
        ApiError::NotStarted | ApiError::Unrunnable(_) => Status::unavailable(e.to_string()),
        ApiError::Pool(_) => {
            tracing::warn!(error = %e, "Learner API");
            Status::unavailable("no pool replica could run the search's inputs; retry shortly")
        }
        ApiError::Deadline { .. } | ApiError::RunPastDeadline => Status::deadline_exceeded(e.to_string()),
        ApiError::UnknownExecution(_) => Status::not_found(e.to_string()),
        ApiError::Store(_) => {
            tracing::error!(error = %e, "Learner API");
            Status::unavailable("the replay store is not answering; retry shortly")
        }
        ApiError::Model(_) | ApiError::Task(_) => {
            tracing::error!(error = %e, "Learner API");
            Status::internal("the model could not answer this request; see the learner's log")
        }
    }
}

pub(crate) fn invalid(field: impl Into<String>, reason: String) -> ApiError {
    ApiError::Invalid { field: field.into(), reason }
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
        // Where tokens are on, the token's name is who submitted; the
        // declared field is only a hint when nothing authenticates.
        let caller = request.extensions().get::<Caller>().map(|c| c.name.clone());
        let req = request.into_inner();
        let (runs, bytes) = validate_submission(&req).map_err(status)?;
        let submitter = caller.unwrap_or_else(|| req.submitter.clone());
        let (tx, rx) = mpsc::channel(runs.len() + 1);
        let ids = self.shared.enqueue(&runs, bytes, &submitter, &tx).map_err(status)?;
        let accepted = pb::SubmitEvent {
            event: Some(pb::submit_event::Event::Accepted(pb::Accepted {
                execution_ids: ids.iter().map(Uuid::to_string).collect(),
            })),
        };
        tx.try_send(Ok(accepted)).expect("the channel has room for the first event");
        tracing::info!(count = ids.len(), submitter = %submitter, "programs submitted");
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_status(&self, _: Request<pb::StatusRequest>) -> Result<Response<pb::LearnerStatus>, Status> {
        Ok(Response::new(self.shared.status()))
    }

    async fn watch_learning_curve(&self, request: Request<pb::WatchRequest>) -> Result<Response<CurveStream>, Status> {
        let metric = request.into_inner().metric;
        // Held by the stream: a watcher that hangs up frees its place.
        let place = self.shared.watching.clone().try_acquire_owned();
        let place =
            place.map_err(|_| status(ApiError::Busy { what: "learning-curve watchers", limit: MAX_WATCHERS }))?;
        // Subscribe before reading the history, so no point falls between.
        let live = self.shared.curve.subscribe();
        let history = self.shared.curve_history(&metric).await.map_err(status)?;
        let seen: std::collections::HashSet<(String, u64, String)> =
            history.iter().map(|p| (p.strategy.clone(), p.queries_used, p.metric.clone())).collect();
        let live = BroadcastStream::new(live).filter_map(move |p| match p {
            Ok(p)
                if (metric.is_empty() || p.metric == metric)
                    && !seen.contains(&(p.strategy.clone(), p.queries_used, p.metric.clone())) =>
            {
                Some(Ok(p))
            }
            _ => None,
        });
        let points = tokio_stream::iter(history.into_iter().map(Ok)).chain(live).map(move |p| {
            let _held = &place;
            p
        });
        Ok(Response::new(Box::pin(points)))
    }

    async fn predict(&self, request: Request<pb::PredictRequest>) -> Result<Response<pb::PredictResponse>, Status> {
        let deadline = Instant::now() + deadline_of(request.metadata());
        let req = request.into_inner();
        let horizon = validate_prediction(&req).map_err(status)?;
        self.on_a_copy(move |copies, device| predict_on(copies, &req, horizon, deadline, device)).await
    }

    async fn ask_output(
        &self,
        request: Request<pb::AskOutputRequest>,
    ) -> Result<Response<pb::AskOutputResponse>, Status> {
        let deadline = Instant::now() + deadline_of(request.metadata());
        let req = request.into_inner();
        let asking = crate::ask::validate_output(&req).map_err(status)?;
        self.on_a_copy(move |copies, device| output_on(copies, &req, asking, (deadline, device))).await
    }

    async fn rank_programs(&self, request: Request<pb::RankRequest>) -> Result<Response<pb::RankResponse>, Status> {
        let deadline = Instant::now() + deadline_of(request.metadata());
        let req = request.into_inner();
        let asking = crate::ask::validate_rank(&req).map_err(status)?;
        self.on_a_copy(move |copies, device| rank_on(copies, &req, asking, (deadline, device))).await
    }

    async fn ask_surprise(
        &self,
        request: Request<pb::SurpriseRequest>,
    ) -> Result<Response<pb::SurpriseResponse>, Status> {
        let deadline = Instant::now() + deadline_of(request.metadata());
        let (id, top) = crate::ask::validate_surprise(request.get_ref()).map_err(status)?;
        // The permit before the read: calls beyond it load no trace.
        let permit = self.permit()?;
        let store = self.shared.store().ok_or_else(|| status(ApiError::NotStarted))?;
        let mut runs = store.traces(&[id]).await.map_err(|e| status(ApiError::Store(e)))?;
        let mut run = runs.remove(&id).ok_or_else(|| status(ApiError::UnknownExecution(id)))?;
        run.steps.truncate(MAX_SURPRISE_STEPS + 1);
        self.holding(permit, move |copies, device| surprise_on(copies, &run, top, (deadline, device))).await
    }

    async fn ask_input(&self, request: Request<pb::AskInputRequest>) -> Result<Response<pb::AskInputResponse>, Status> {
        let deadline = Instant::now() + deadline_of(request.metadata());
        let req = request.into_inner();
        let searching = crate::ask::validate_input(&req).map_err(status)?;
        let (pools, limits) = self.shared.pools().ok_or_else(|| status(ApiError::NotStarted))?;
        let run = on_the_pool(pools, limits, deadline);
        self.on_a_copy(move |copies, device| input_on(copies, &req, searching, (deadline, device), run)).await
    }
}

impl LearnerApi {
    /// One of the prediction permits, or the call refused at once.
    fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
        let busy = || status(ApiError::Busy { what: "predictions", limit: MAX_PREDICTIONS });
        self.shared.predicting.clone().try_acquire_owned().map_err(|_| busy())
    }

    /// Runs `ask` on a free model copy in a blocking task, holding one of
    /// the prediction permits (refused at once when none is free).
    async fn on_a_copy<T: Send + 'static>(
        &self,
        ask: impl FnOnce(&[Mutex<Model>], tch::Device) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let permit = self.permit()?;
        self.holding(permit, ask).await
    }

    /// [`LearnerApi::on_a_copy`] with the permit already taken.
    async fn holding<T: Send + 'static>(
        &self,
        permit: tokio::sync::OwnedSemaphorePermit,
        ask: impl FnOnce(&[Mutex<Model>], tch::Device) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let shared = self.shared.clone();
        let reply = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            ask(&shared.predictors()?, shared.device)
        })
        .await
        .map_err(|e| status(ApiError::Task(e)))?
        .map_err(status)?;
        Ok(Response::new(reply))
    }
}

/// The runs of a valid submission and their source and input bytes,
/// counted and checked before anything is copied.
fn validate_submission(req: &pb::SubmitRequest) -> Result<(Vec<Run<'_>>, usize), ApiError> {
    if req.programs.is_empty() {
        return Err(invalid("programs", "submit at least one program".into()));
    }
    if req.submitter.len() > MAX_SUBMITTER_BYTES {
        let reason = format!("is {} bytes; at most {MAX_SUBMITTER_BYTES} allowed", req.submitter.len());
        return Err(invalid("submitter", reason));
    }
    let count = req.programs.iter().fold(0usize, |n, p| n.saturating_add(p.inputs.len().max(1)));
    if count > MAX_RUNS_PER_REQUEST {
        let reason = format!("{count} runs (programs × inputs); at most {MAX_RUNS_PER_REQUEST} per request");
        return Err(invalid("programs", reason));
    }
    let (mut runs, mut bytes) = (Vec::with_capacity(count), 0);
    for (i, p) in req.programs.iter().enumerate() {
        if p.source.trim().is_empty() || p.source.len() > MAX_SOURCE_BYTES {
            let reason = format!("must be non-empty and at most {MAX_SOURCE_BYTES} bytes");
            return Err(invalid(format!("programs[{i}].source"), reason));
        }
        if let Some(j) = p.inputs.iter().position(|input| input.len() > MAX_INPUT_BYTES) {
            let reason = format!("is {} bytes; at most {MAX_INPUT_BYTES} allowed", p.inputs[j].len());
            return Err(invalid(format!("programs[{i}].inputs[{j}]"), reason));
        }
        let language = wire_language(p.language, format!("programs[{i}].language"))?;
        let inputs: Vec<&str> =
            if p.inputs.is_empty() { vec![""] } else { p.inputs.iter().map(String::as_str).collect() };
        for input in inputs {
            bytes += p.source.len() + input.len();
            runs.push(Run { language, source: &p.source, input, seed: p.seed });
        }
    }
    Ok((runs, bytes))
}

/// Serves the Learner API (with health and reflection) until `shutdown`;
/// refuses an address other machines can reach when nothing authenticates
/// the callers (see [`ServerSecurity`]).
pub async fn serve_learner(
    listener: TcpListener,
    shared: Arc<Shared>,
    security: ServerSecurity,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    security.check_bind(listener.local_addr()?, "the Learner API")?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<LearnerServer<LearnerApi>>().await;
    let reflection = curio_interpreter_pool::reflection();
    let signal = async move {
        shutdown.await;
        health.set_not_serving::<LearnerServer<LearnerApi>>().await;
    };
    let api = LearnerServer::new(LearnerApi::new(shared)).max_decoding_message_size(MAX_REQUEST_BYTES);
    let api = InterceptedService::new(api, security.authenticator());
    // Watchers hold their streams open: room for all of them and more.
    server_builder(&security, (2 * MAX_WATCHERS) as u32)?
        .concurrency_limit_per_connection(64)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(api)
        .serve_with_incoming_shutdown(curio_interpreter_pool::no_delay(listener), signal)
        .await?;
    Ok(())
}

/// A request's language: Python where unspecified, else one the pool
/// serves, or `INVALID_ARGUMENT` naming `field` and the languages served.
pub(crate) fn wire_language(value: i32, field: String) -> Result<Language, ApiError> {
    match value {
        0 => Ok(Language::Python),
        other => language_from_proto(other).map_err(|reason| invalid(field, reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::predict::parse_grpc_timeout;
    use super::*;

    fn submission(programs: Vec<pb::Submission>, submitter: &str) -> pb::SubmitRequest {
        pb::SubmitRequest { programs, submitter: submitter.into() }
    }

    fn program(inputs: Vec<String>) -> pb::Submission {
        pb::Submission { source: "print(1)".into(), inputs, seed: 0, language: 0 }
    }

    #[test]
    fn runs_are_counted_before_they_are_copied_and_each_cap_names_its_field() {
        let many = submission(vec![program(vec![String::new(); 1_000_000])], "");
        assert!(matches!(validate_submission(&many), Err(ApiError::Invalid { field, .. }) if field == "programs"));
        let long = submission(vec![program(vec![])], &"x".repeat(129));
        assert!(matches!(validate_submission(&long), Err(ApiError::Invalid { field, .. }) if field == "submitter"));
        let big = submission(vec![program(vec!["1".into(), "x".repeat(MAX_INPUT_BYTES + 1)])], "");
        let err = validate_submission(&big).unwrap_err();
        assert!(matches!(&err, ApiError::Invalid { field, .. } if field == "programs[0].inputs[1]"), "{err}");
        let ok = submission(vec![program(vec![]), program(vec!["a".into(), "bc".into()])], "me");
        let (runs, bytes) = validate_submission(&ok).unwrap();
        assert_eq!((runs.len(), bytes), (3, 3 * 8 + 3));
        assert!(runs.iter().all(|r| r.language == Language::Python), "unspecified is Python");
        let lua = pb::Submission { language: pb::Language::Lua as i32, ..program(vec![]) };
        assert_eq!(validate_submission(&submission(vec![lua], "")).unwrap().0[0].language, Language::Lua);
        let unknown = submission(vec![program(vec![]), pb::Submission { language: 99, ..program(vec![]) }], "");
        let err = validate_submission(&unknown).unwrap_err();
        assert!(matches!(&err, ApiError::Invalid { field, .. } if field == "programs[1].language"), "{err}");
        assert!(err.to_string().contains("LANGUAGE_LUA"), "{err}");
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit_and_garbage_is_ignored() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("5u"), Some(Duration::from_micros(5)));
        for bad in ["", "m", "12x", "123456789S", "-1S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }
}
