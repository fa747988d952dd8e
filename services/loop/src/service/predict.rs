//! Predictions over the Learner API: the request's checks, its deadline
//! (the call's `grpc-timeout`, bounded), and the rollout on a free copy of
//! the model.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use curio_interpreter_pool::{MAX_INPUT_BYTES, MAX_SOURCE_BYTES, Step, step_to_proto};
use curio_learner::{Choice, Code, EVENTS, Learner as Model, rollout_until};
use curio_proto::v1 as pb;

use super::{ApiError, PREDICT_DEADLINE, invalid, wire_language};
use crate::ask::{MAX_HORIZON, MAX_SAMPLES, free_copy, readable};

/// The horizon of a valid prediction request.
pub(super) fn validate_prediction(req: &pb::PredictRequest) -> Result<usize, ApiError> {
    if req.source.is_empty() || req.source.len() > MAX_SOURCE_BYTES {
        return Err(invalid("source", format!("must be 1..={MAX_SOURCE_BYTES} bytes")));
    }
    wire_language(req.language, "language".into())?;
    if req.input.len() > MAX_INPUT_BYTES {
        return Err(invalid("input", format!("is {} bytes; at most {MAX_INPUT_BYTES} allowed", req.input.len())));
    }
    if req.horizon > MAX_HORIZON {
        return Err(invalid("horizon", format!("{} is over the limit {MAX_HORIZON}", req.horizon)));
    }
    if req.samples > MAX_SAMPLES {
        return Err(invalid("samples", format!("{} is over the limit {MAX_SAMPLES}", req.samples)));
    }
    if !(req.temperature >= 0.0 && req.temperature.is_finite()) {
        return Err(invalid("temperature", format!("must be a positive number (0: 1), not {}", req.temperature)));
    }
    Ok(if req.horizon == 0 { 20 } else { req.horizon } as usize)
}

/// The call's `grpc-timeout`, within [`PREDICT_DEADLINE`].
pub(super) fn deadline_of(metadata: &tonic::metadata::MetadataMap) -> Duration {
    let (default, longest) = PREDICT_DEADLINE;
    let value = metadata.get("grpc-timeout").and_then(|v| v.to_str().ok());
    value.and_then(parse_grpc_timeout).map_or(default, |d| d.min(longest))
}

/// `grpc-timeout` is up to 8 digits and a unit (H, M, S, m, u, n).
pub(super) fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A rollout on whichever copy is free, checking the deadline between
/// steps. Blocking.
pub(super) fn predict_on(
    copies: &[Mutex<Model>],
    req: &pb::PredictRequest,
    horizon: usize,
    deadline: Instant,
    device: tch::Device,
) -> Result<pb::PredictResponse, ApiError> {
    // As many copies as permits: one is free unless a refresh just swapped them.
    let model = free_copy(copies);
    let code = Code::new(wire_language(req.language, "language".into())?, &req.source);
    readable(&model, "source".into(), code, &req.input)?;
    let start = curio_learner::State::initial(&req.input);
    let mut clock = Clock { deadline, horizon, late: None };
    let starts = [(code.language, req.source.clone(), start.clone())];
    let paths = rollout_until(&model.model, &starts, horizon, device, |_, h, _| clock.passed(h));
    let paths = paths.map_err(ApiError::Model)?;
    clock.check()?;
    let mut reply = predicted(paths.into_iter().next().unwrap_or_default(), model.train_step);
    if req.samples > 0 {
        let temperature = if req.temperature == 0.0 { 1.0 } else { req.temperature };
        let mut choice = Choice::sample(temperature, req.seed).map_err(ApiError::Model)?;
        let drawn = curio_learner::foresee_sampled(
            &model.model,
            (code, &start),
            (req.samples as usize, horizon),
            (&mut choice, device),
            |_, h, _| clock.passed(h),
        )
        .map_err(ApiError::Model)?;
        clock.check()?;
        reply.outputs = curio_learner::outputs(&drawn)
            .into_iter()
            .map(|(stdout, probability)| pb::Outcome { stdout, probability })
            .collect();
        reply.samples = drawn
            .iter()
            .map(|f| pb::SampledRollout { stdout: f.stdout(), ended: f.end.code().into(), steps: f.steps.len() as u32 })
            .collect();
    }
    Ok(reply)
}

/// A prediction's deadline, checked between rollout steps.
pub(crate) struct Clock {
    pub(crate) deadline: Instant,
    pub(crate) horizon: usize,
    /// The step at which the deadline passed before the horizon.
    pub(crate) late: Option<usize>,
}

impl Clock {
    /// Whether the deadline has passed after step `h` (noted when that is
    /// before the horizon): the rollouts stop there.
    pub(crate) fn passed(&mut self, h: usize) -> bool {
        let past = Instant::now() >= self.deadline;
        if past && h < self.horizon {
            self.late = Some(h);
        }
        past
    }

    /// The deadline error, when a rollout was cut short by it.
    pub(crate) fn check(&self) -> Result<(), ApiError> {
        match self.late {
            Some(done) => Err(ApiError::Deadline { done, horizon: self.horizon }),
            None => Ok(()),
        }
    }
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
    pb::PredictResponse { steps, model_step, stopped, ..Default::default() }
}
