//! Between the wire (`curio.v1`) and the pool's own types. Zero limits mean
//! the pool's defaults; anything else is validated by [`Execution::validate`].

use std::time::Duration;

use curio_proto::v1 as pb;

use curio_trace::{ErrorInfo, Event, Execution, InvalidRequest, Language, Limits, Status, Step, Trace};

/// Turns a wire request into a validated [`Execution`].
pub(crate) fn execution_from_proto(req: pb::ExecutionRequest, defaults: &Limits) -> Result<Execution, InvalidRequest> {
    let program = req
        .program
        .ok_or_else(|| InvalidRequest { field: "program", reason: "must be set (language and source)".into() })?;
    let language =
        language_from_proto(program.language).map_err(|reason| InvalidRequest { field: "program.language", reason })?;
    let limits = req.limits.unwrap_or_default();
    let pick = |v: u64, d: u64| if v == 0 { d } else { v };
    let exec = Execution {
        request_id: req.request_id,
        language,
        source: program.source,
        input: req.input,
        seed: req.seed,
        limits: Limits {
            max_steps: pick(u64::from(limits.max_steps), u64::from(defaults.max_steps)) as u32,
            timeout: Duration::from_millis(pick(u64::from(limits.timeout_ms), defaults.timeout.as_millis() as u64)),
            memory_bytes: pick(limits.memory_bytes, defaults.memory_bytes),
            output_bytes: pick(limits.output_bytes, defaults.output_bytes),
        },
    };
    exec.validate()?;
    Ok(exec)
}

/// A language from the wire; what is wrong with it otherwise (naming the
/// ones served).
pub fn language_from_proto(value: i32) -> Result<Language, String> {
    match pb::Language::try_from(value) {
        Ok(pb::Language::Python) => Ok(Language::Python),
        Ok(pb::Language::Lua) => Ok(Language::Lua),
        Ok(pb::Language::Js) => Ok(Language::Js),
        _ => Err(format!("{value} is not supported; supported: LANGUAGE_PYTHON, LANGUAGE_LUA, LANGUAGE_JS")),
    }
}

/// The wire form of a language.
pub fn language_to_proto(language: Language) -> pb::Language {
    match language {
        Language::Python => pb::Language::Python,
        Language::Lua => pb::Language::Lua,
        Language::Js => pb::Language::Js,
    }
}

/// The wire form of a request (for clients).
pub fn execution_to_proto(exec: &Execution) -> pb::ExecutionRequest {
    pb::ExecutionRequest {
        request_id: exec.request_id.clone(),
        program: Some(pb::Program { language: language_to_proto(exec.language) as i32, source: exec.source.clone() }),
        input: exec.input.clone(),
        seed: exec.seed,
        limits: Some(pb::Limits {
            max_steps: exec.limits.max_steps,
            timeout_ms: exec.limits.timeout.as_millis() as u32,
            memory_bytes: exec.limits.memory_bytes,
            output_bytes: exec.limits.output_bytes,
        }),
    }
}

/// The wire form of a trace.
pub fn trace_to_proto(t: Trace) -> pb::Trace {
    pb::Trace {
        status: status_to_proto(t.status) as i32,
        steps: t.steps.into_iter().map(step_to_proto).collect(),
        stdout: t.stdout,
        error: t.error.map(|e| pb::ErrorInfo { r#type: e.kind, message: e.message, line: e.line.unwrap_or(0) }),
        step_count: t.step_count,
        stdout_bytes: t.stdout_bytes,
        duration_us: t.duration.as_micros() as u64,
        instantiate_us: t.instantiate.as_micros() as u64,
        truncated: t.truncated,
        trace_bytes: t.trace_bytes,
    }
}

/// A trace back from the wire; fails on enum values this build does not know.
pub fn trace_from_proto(request_id: String, t: pb::Trace) -> Result<Trace, String> {
    let status = match pb::Status::try_from(t.status) {
        Ok(pb::Status::Ok) => Status::Ok,
        Ok(pb::Status::Exception) => Status::Exception,
        Ok(pb::Status::StepLimit) => Status::StepLimit,
        Ok(pb::Status::Timeout) => Status::Timeout,
        Ok(pb::Status::MemoryLimit) => Status::MemoryLimit,
        Ok(pb::Status::OutputLimit) => Status::OutputLimit,
        Ok(pb::Status::InvalidProgram) => Status::InvalidProgram,
        Ok(pb::Status::Tampered) => Status::Tampered,
        _ => return Err(format!("unknown status {}", t.status)),
    };
    let steps = t.steps.into_iter().map(step_from_proto).collect::<Result<_, _>>()?;
    Ok(Trace {
        request_id,
        status,
        steps,
        stdout: t.stdout,
        error: t.error.map(|e| ErrorInfo { kind: e.r#type, message: e.message, line: (e.line > 0).then_some(e.line) }),
        step_count: t.step_count,
        stdout_bytes: t.stdout_bytes,
        trace_bytes: t.trace_bytes,
        truncated: t.truncated,
        duration: Duration::from_micros(t.duration_us),
        instantiate: Duration::from_micros(t.instantiate_us),
    })
}

fn status_to_proto(s: Status) -> pb::Status {
    match s {
        Status::Ok => pb::Status::Ok,
        Status::Exception => pb::Status::Exception,
        Status::StepLimit => pb::Status::StepLimit,
        Status::Timeout => pb::Status::Timeout,
        Status::MemoryLimit => pb::Status::MemoryLimit,
        Status::OutputLimit => pb::Status::OutputLimit,
        Status::InvalidProgram => pb::Status::InvalidProgram,
        Status::Tampered => pb::Status::Tampered,
    }
}

/// The wire form of one step.
pub fn step_to_proto(s: Step) -> pb::Step {
    let event = match s.event {
        Event::Call => pb::Event::Call,
        Event::Line => pb::Event::Line,
        Event::Return => pb::Event::Return,
        Event::Exception => pb::Event::Exception,
    };
    pb::Step {
        step: s.step,
        event: event as i32,
        line: s.line,
        function: s.function,
        depth: s.depth,
        locals: s.locals.into_iter().map(|(name, repr)| pb::Local { name, repr }).collect(),
        stdout: s.stdout,
        value: s.value,
    }
}

fn step_from_proto(s: pb::Step) -> Result<Step, String> {
    let event = match pb::Event::try_from(s.event) {
        Ok(pb::Event::Call) => Event::Call,
        Ok(pb::Event::Line) => Event::Line,
        Ok(pb::Event::Return) => Event::Return,
        Ok(pb::Event::Exception) => Event::Exception,
        _ => return Err(format!("step {}: unknown event {}", s.step, s.event)),
    };
    Ok(Step {
        step: s.step,
        event,
        line: s.line,
        function: s.function,
        depth: s.depth,
        locals: s.locals.into_iter().map(|l| (l.name, l.repr)).collect(),
        stdout: s.stdout,
        value: s.value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(source: &str) -> pb::ExecutionRequest {
        pb::ExecutionRequest {
            request_id: "r1".into(),
            program: Some(pb::Program { language: pb::Language::Python as i32, source: source.into() }),
            ..Default::default()
        }
    }

    #[test]
    fn zero_limits_take_the_defaults() {
        let exec = execution_from_proto(request("pass"), &Limits::default()).unwrap();
        assert_eq!(exec.limits, Limits::default());
    }

    #[test]
    fn unspecified_language_is_refused_with_the_supported_list() {
        let mut req = request("pass");
        req.program.as_mut().unwrap().language = 0;
        let err = execution_from_proto(req, &Limits::default()).unwrap_err();
        assert_eq!(err.field, "program.language");
        assert!(err.reason.contains("LANGUAGE_PYTHON"));
    }

    #[test]
    fn missing_program_is_refused() {
        let mut req = request("pass");
        req.program = None;
        assert_eq!(execution_from_proto(req, &Limits::default()).unwrap_err().field, "program");
    }

    #[test]
    fn request_round_trips_through_the_wire_form() {
        let mut exec = Execution::python("print(1)");
        exec.seed = 7;
        exec.input = "x".into();
        let back = execution_from_proto(execution_to_proto(&exec), &Limits::default()).unwrap();
        assert_eq!(back, exec);
    }
}
