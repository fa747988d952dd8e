//! The Learner API's questions to the model beyond `Predict`: what a
//! program prints (`AskOutput`), which of several programs prints what is
//! expected (`RankPrograms`) and where a stored run surprised the model
//! (`AskSurprise`), and which input makes a program print what is asked
//! (`AskInput`, whose checks run on the pool). Each is bounded as `Predict`
//! is: checked sizes, a cap on the rollouts one call asks for, a deadline
//! between rollout steps and a model copy of its own
//! ([`crate::shared::MAX_PREDICTIONS`] at once).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use curio_interpreter_pool::{Execution, Limits, MAX_INPUT_BYTES, MAX_SOURCE_BYTES, Status};
use curio_learner::{Asking, Code, Learner as Model, Printed, SearchError, Searching};
use curio_proto::v1 as pb;
use curio_trace::Run;
use uuid::Uuid;

use crate::PoolClients;
use crate::service::{ApiError, Clock, invalid, wire_language};

/// Longest rollout an answer takes.
pub(crate) const MAX_HORIZON: u32 = 200;
/// Most rollouts one call may draw per program.
pub(crate) const MAX_SAMPLES: u32 = 64;
/// Most candidates one ranking orders.
const MAX_CANDIDATES: usize = 16;
/// Most rollouts (candidates × (draws + 1)) one ranking decodes.
const MAX_RANK_ROLLOUTS: usize = 256;
/// Most steps `AskSurprise` returns.
const MAX_TOP: u32 = 64;
/// Most steps of a stored run `AskSurprise` reads (the first ones).
pub(crate) const MAX_SURPRISE_STEPS: usize = 512;
/// Most pool runs one `AskInput` spends.
const MAX_CHECKS: u32 = 32;
/// Most changed inputs `AskInput` scores per round.
const MAX_PROPOSALS: u32 = 32;

/// Whichever model copy is free (the first, waited for, if none is).
pub(crate) fn free_copy(copies: &[Mutex<Model>]) -> std::sync::MutexGuard<'_, Model> {
    match copies.iter().find_map(|c| c.try_lock().ok()) {
        Some(m) => m,
        None => copies[0].lock().unwrap_or_else(|e| e.into_inner()),
    }
}

fn check_source(field: String, source: &str) -> Result<(), ApiError> {
    match source.trim().is_empty() || source.len() > MAX_SOURCE_BYTES {
        true => Err(invalid(field, format!("must be non-empty and at most {MAX_SOURCE_BYTES} bytes"))),
        false => Ok(()),
    }
}

fn check_input(input: &str) -> Result<(), ApiError> {
    match input.len() > MAX_INPUT_BYTES {
        true => Err(invalid("input", format!("is {} bytes; at most {MAX_INPUT_BYTES} allowed", input.len()))),
        false => Ok(()),
    }
}

/// How a valid request asks: its horizon (default [`MAX_HORIZON`]), draws
/// (default `samples`), temperature (0: 1) and seed.
fn asking(horizon: u32, samples: u32, temperature: f64, seed: u64, default: u32) -> Result<Asking, ApiError> {
    if horizon > MAX_HORIZON {
        return Err(invalid("horizon", format!("{horizon} is over the limit {MAX_HORIZON}")));
    }
    if samples > MAX_SAMPLES {
        return Err(invalid("samples", format!("{samples} is over the limit {MAX_SAMPLES}")));
    }
    if !(temperature >= 0.0 && temperature.is_finite()) {
        return Err(invalid("temperature", format!("must be a positive number (0: 1), not {temperature}")));
    }
    Ok(Asking {
        samples: if samples == 0 { default } else { samples } as usize,
        temperature: if temperature == 0.0 { 1.0 } else { temperature },
        seed,
        horizon: if horizon == 0 { MAX_HORIZON } else { horizon } as usize,
    })
}

/// Refuses a source the model cannot read ([`curio_learner::unreadable`]).
pub(crate) fn readable(model: &Model, field: String, code: Code<'_>, input: &str) -> Result<(), ApiError> {
    match curio_learner::unreadable(&model.model, code, input) {
        Some(reason) => Err(invalid(field, reason)),
        None => Ok(()),
    }
}

/// A checked `AskOutput` request's question.
pub(crate) fn validate_output(req: &pb::AskOutputRequest) -> Result<Asking, ApiError> {
    check_source("source".into(), &req.source)?;
    wire_language(req.language, "language".into())?;
    check_input(&req.input)?;
    asking(req.horizon, req.samples, req.temperature, req.seed, 16)
}

/// A checked `RankPrograms` request's question.
pub(crate) fn validate_rank(req: &pb::RankRequest) -> Result<Asking, ApiError> {
    if req.sources.is_empty() || req.sources.len() > MAX_CANDIDATES {
        let reason = format!("give 1 to {MAX_CANDIDATES} programs, not {}", req.sources.len());
        return Err(invalid("sources", reason));
    }
    for (i, s) in req.sources.iter().enumerate() {
        check_source(format!("sources[{i}]"), s)?;
    }
    check_input(&req.input)?;
    wire_language(req.language, "language".into())?;
    if req.output.len() > MAX_INPUT_BYTES {
        return Err(invalid("output", format!("is {} bytes; at most {MAX_INPUT_BYTES} allowed", req.output.len())));
    }
    let asking = asking(req.horizon, req.samples, req.temperature, req.seed, 8)?;
    let rollouts = req.sources.len() * (asking.samples + 1);
    if rollouts > MAX_RANK_ROLLOUTS {
        let reason = format!(
            "{} programs × ({} draws + 1) is {rollouts} rollouts; at most {MAX_RANK_ROLLOUTS} per call",
            req.sources.len(),
            asking.samples
        );
        return Err(invalid("samples", reason));
    }
    Ok(asking)
}

/// A checked `AskInput` request's search.
pub(crate) fn validate_input(req: &pb::AskInputRequest) -> Result<Searching, ApiError> {
    check_source("source".into(), &req.source)?;
    check_input(&req.input)?;
    if req.output.len() > MAX_INPUT_BYTES {
        return Err(invalid("output", format!("is {} bytes; at most {MAX_INPUT_BYTES} allowed", req.output.len())));
    }
    if req.checks > MAX_CHECKS {
        return Err(invalid("checks", format!("{} is over the limit {MAX_CHECKS}", req.checks)));
    }
    if req.proposals > MAX_PROPOSALS {
        return Err(invalid("proposals", format!("{} is over the limit {MAX_PROPOSALS}", req.proposals)));
    }
    let asking = asking(req.horizon, req.samples, req.temperature, req.seed, 2)?;
    let default = Searching::default();
    let proposals = if req.proposals == 0 { default.proposals } else { req.proposals as usize };
    let rollouts = proposals * (asking.samples + 1);
    if rollouts > MAX_RANK_ROLLOUTS {
        let reason = format!(
            "{proposals} proposals × ({} draws + 1) is {rollouts} rollouts a round; at most {MAX_RANK_ROLLOUTS}",
            asking.samples
        );
        return Err(invalid("samples", reason));
    }
    let checks = if req.checks == 0 { default.checks } else { req.checks as usize };
    Ok(Searching { checks, proposals, seed: req.seed, asking, ..default })
}

/// A checked `AskSurprise` request's execution id and step count.
pub(crate) fn validate_surprise(req: &pb::SurpriseRequest) -> Result<(Uuid, usize), ApiError> {
    let id = Uuid::parse_str(&req.execution_id)
        .map_err(|_| invalid("execution_id", format!("{:?} is not an execution id (a UUID)", req.execution_id)))?;
    if req.top > MAX_TOP {
        return Err(invalid("top", format!("{} is over the limit {MAX_TOP}", req.top)));
    }
    Ok((id, if req.top == 0 { 5 } else { req.top } as usize))
}

/// `AskOutput` on a free copy. Blocking.
pub(crate) fn output_on(
    copies: &[Mutex<Model>],
    req: &pb::AskOutputRequest,
    asking: Asking,
    (deadline, device): (Instant, tch::Device),
) -> Result<pb::AskOutputResponse, ApiError> {
    let model = free_copy(copies);
    let code = Code::new(wire_language(req.language, "language".into())?, &req.source);
    readable(&model, "source".into(), code, &req.input)?;
    let mut clock = Clock { deadline, horizon: asking.horizon, late: None };
    let e = curio_learner::expect_output(&model.model, (code, &req.input), asking, device, |h| clock.passed(h))
        .map_err(ApiError::Model)?;
    clock.check()?;
    Ok(pb::AskOutputResponse {
        stdout: e.stdout(),
        confidence: e.confidence,
        ended: e.greedy.end.code().into(),
        steps: e.greedy.steps.len() as u32,
        outputs: e.outputs.into_iter().map(|(stdout, probability)| pb::Outcome { stdout, probability }).collect(),
        model_step: model.train_step,
    })
}

/// `RankPrograms` on a free copy. Blocking.
pub(crate) fn rank_on(
    copies: &[Mutex<Model>],
    req: &pb::RankRequest,
    asking: Asking,
    (deadline, device): (Instant, tch::Device),
) -> Result<pb::RankResponse, ApiError> {
    let model = free_copy(copies);
    let language = wire_language(req.language, "language".into())?;
    for (i, source) in req.sources.iter().enumerate() {
        readable(&model, format!("sources[{i}]"), Code::new(language, source), &req.input)?;
    }
    let mut clock = Clock { deadline, horizon: asking.horizon, late: None };
    let candidates: Vec<(Code<'_>, &str)> =
        req.sources.iter().map(|s| (Code::new(language, s), req.input.as_str())).collect();
    let ranked = curio_learner::rank(&model.model, &candidates, &req.output, asking, device, |h| clock.passed(h))
        .map_err(ApiError::Model)?;
    clock.check()?;
    let ranking = ranked
        .into_iter()
        .map(|r| pb::RankedProgram {
            index: r.index as u32,
            probability: r.probability,
            closeness: r.closeness,
            predicted_stdout: r.printed,
        })
        .collect();
    Ok(pb::RankResponse { ranking, model_step: model.train_step })
}

/// `AskSurprise` of a stored `run` on a free copy. Blocking.
pub(crate) fn surprise_on(
    copies: &[Mutex<Model>],
    run: &Run,
    top: usize,
    (deadline, device): (Instant, tch::Device),
) -> Result<pb::SurpriseResponse, ApiError> {
    let model = free_copy(copies);
    let mut clock = Clock { deadline, horizon: run.steps.len().saturating_sub(1), late: None };
    let s = curio_learner::surprise(&model.model, run, top, device, |scored| clock.passed(scored))
        .map_err(ApiError::Model)?;
    clock.check()?;
    let steps = s
        .top(top)
        .into_iter()
        .map(|x| {
            let (expected_line, expected_delta) = x.expected.clone().unwrap_or_default();
            pb::SurprisingStep {
                step: x.step as u32,
                line: x.line,
                nats: x.nats(),
                action_nats: x.action_nats,
                state_nats: x.state_nats,
                next_line: x.next_line as u32,
                real_delta: x.real.clone(),
                expected_line: expected_line as u32,
                expected_delta,
            }
        })
        .collect();
    Ok(pb::SurpriseResponse {
        top: steps,
        nats_per_step: s.per_step(),
        steps: s.steps.len() as u32,
        unread: s.unread as u32,
        model_step: model.train_step,
    })
}

/// How `AskInput` runs an input: on the run's `pools` under its `limits`,
/// from the blocking task, not stored (a client's question, not one of
/// the loop's queries); a run still going at `deadline` fails the call.
pub(crate) fn on_the_pool(
    pools: Arc<PoolClients>,
    limits: Limits,
    deadline: Instant,
) -> impl FnMut(&str, &str) -> Result<Printed, ApiError> + Send + 'static {
    let handle = tokio::runtime::Handle::current();
    move |source, input| {
        let request_id = format!("ask-input-{}", Uuid::new_v4());
        let exec = Execution { request_id, input: input.into(), limits, ..Execution::python(source) };
        let until = tokio::time::Instant::from_std(deadline);
        let done = handle.block_on(tokio::time::timeout_at(until, pools.execute(&exec)));
        let done = done.map_err(|_| ApiError::RunPastDeadline)?.map_err(|e| ApiError::Pool(e.to_string()))?;
        Ok(matches!(done.trace.status, Status::Ok).then_some(done.trace.stdout))
    }
}

/// `AskInput` on a free copy, each chosen input run by `run`. Blocking.
/// Past the deadline the search ends with the runs it made.
pub(crate) fn input_on(
    copies: &[Mutex<Model>],
    req: &pb::AskInputRequest,
    searching: Searching,
    (deadline, device): (Instant, tch::Device),
    run: impl FnMut(&str, &str) -> Result<Printed, ApiError>,
) -> Result<pb::AskInputResponse, ApiError> {
    let model = free_copy(copies);
    // The literals the search changes are Python's.
    readable(&model, "source".into(), Code::python(&req.source), &req.input)?;
    let mut late = false;
    let at = (req.source.as_str(), req.input.as_str());
    let search = curio_learner::search_input(&model.model, at, &req.output, searching, device, run, |_| {
        late |= Instant::now() >= deadline;
        late
    })
    .map_err(|e| match e {
        SearchError::Model(e) => ApiError::Model(e),
        SearchError::Check(e) => e,
    })?;
    let found = search.found().is_some();
    let tried = search
        .tried
        .into_iter()
        .map(|t| pb::TriedInput {
            source: t.source,
            input: t.input,
            belief: t.belief.unwrap_or_default(),
            ended: t.printed.is_some(),
            stdout: t.printed.unwrap_or_default(),
            right: t.right,
        })
        .collect();
    Ok(pb::AskInputResponse {
        found,
        tried,
        scored: search.scored as u32,
        stopped_at_deadline: late && !found,
        model_step: model.train_step,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> pb::AskInputRequest {
        pb::AskInputRequest { source: "print(1)\n".into(), output: "2".into(), ..Default::default() }
    }

    fn refused(req: pb::AskInputRequest) -> String {
        match validate_input(&req) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("not refused as invalid: {other:?}"),
        }
    }

    #[test]
    fn an_input_search_is_bounded_before_it_starts() {
        let s = validate_input(&request()).unwrap();
        let asked = (s.checks, s.proposals, s.asking.samples, s.asking.horizon, s.asking.temperature);
        assert_eq!(asked, (16, 16, 2, MAX_HORIZON as usize, 1.0), "the defaults");
        let most = pb::AskInputRequest { checks: 32, proposals: 32, samples: 7, ..request() };
        assert_eq!(validate_input(&most).unwrap().checks, 32, "32 × (7 + 1) is 256 rollouts a round");
        assert_eq!(refused(pb::AskInputRequest { checks: 33, ..request() }), "checks");
        assert_eq!(refused(pb::AskInputRequest { proposals: 33, ..request() }), "proposals");
        assert_eq!(refused(pb::AskInputRequest { proposals: 32, samples: 8, ..request() }), "samples");
        assert_eq!(refused(pb::AskInputRequest { source: " \n".into(), ..request() }), "source");
        assert_eq!(refused(pb::AskInputRequest { input: "x".repeat(MAX_INPUT_BYTES + 1), ..request() }), "input");
        assert_eq!(refused(pb::AskInputRequest { output: "x".repeat(MAX_INPUT_BYTES + 1), ..request() }), "output");
        assert_eq!(refused(pb::AskInputRequest { temperature: f64::NAN, ..request() }), "temperature");
        assert_eq!(refused(pb::AskInputRequest { horizon: MAX_HORIZON + 1, ..request() }), "horizon");
    }
}
