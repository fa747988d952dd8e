//! What an execution returns: the steps the tracer saw and how the run ended.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a run ended. Non-`Ok` statuses are data too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The program ran to its end.
    Ok,
    /// An uncaught exception ended it.
    Exception,
    /// It took `limits.max_steps` events.
    StepLimit,
    /// It ran past `limits.timeout`.
    Timeout,
    /// It asked for more than `limits.memory_bytes`.
    MemoryLimit,
    /// It printed more than `limits.output_bytes`.
    OutputLimit,
    /// It did not compile (a syntax error).
    InvalidProgram,
    /// What the guest reported broke the host's rules (a forged event, a
    /// broken protocol, a replaced trace function); the steps before the
    /// violation are kept and the error says what was wrong.
    Tampered,
}

impl Status {
    /// Every status, in wire order.
    pub const ALL: [Status; 8] = [
        Status::Ok,
        Status::Exception,
        Status::StepLimit,
        Status::Timeout,
        Status::MemoryLimit,
        Status::OutputLimit,
        Status::InvalidProgram,
        Status::Tampered,
    ];

    /// The name used in traces, logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Exception => "exception",
            Status::StepLimit => "step_limit",
            Status::Timeout => "timeout",
            Status::MemoryLimit => "memory_limit",
            Status::OutputLimit => "output_limit",
            Status::InvalidProgram => "invalid_program",
            Status::Tampered => "tampered",
        }
    }
}

/// The kind of tracer event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A frame was entered (the module, a function, a class body).
    Call,
    /// A line is about to run.
    Line,
    /// A frame returned.
    Return,
    /// An exception was raised in the frame.
    Exception,
}

impl Event {
    /// The name used in traces, the store and the model's input.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Call => "call",
            Event::Line => "line",
            Event::Return => "return",
            Event::Exception => "exception",
        }
    }
}

/// One tracer event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Its index in the trace, from 0.
    pub step: u32,
    /// What happened.
    pub event: Event,
    /// The line about to run (`Line`) or where the event happened.
    pub line: u32,
    /// The frame's function (`<module>` at the top).
    pub function: String,
    /// Frames on the stack, the module's being 1.
    pub depth: u32,
    /// The frame's locals in definition order: (name, capped repr).
    pub locals: Vec<(String, String)>,
    /// Printed since the previous step.
    pub stdout: String,
    /// repr of the returned value or the exception.
    pub value: Option<String>,
}

/// An uncaught exception or a syntax error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The exception's type name (`ZeroDivisionError`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its message.
    pub message: String,
    /// The line it was raised at, when known.
    pub line: Option<u32>,
}

/// Everything one execution showed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The request's id.
    pub request_id: String,
    /// How the run ended.
    pub status: Status,
    /// The steps kept, in order.
    pub steps: Vec<Step>,
    /// Everything printed.
    pub stdout: String,
    /// What ended the run, for `exception`, `invalid_program` and `tampered`.
    pub error: Option<ErrorInfo>,
    /// Events produced, including any not kept because the trace was full.
    pub step_count: u64,
    /// Bytes printed.
    pub stdout_bytes: u64,
    /// Bytes of step data kept.
    pub trace_bytes: u64,
    /// The trace hit the pool's size cap; later steps were dropped.
    pub truncated: bool,
    /// How long the run took, instantiation included.
    #[serde(with = "micros")]
    pub duration: Duration,
    /// How long instantiating the sandbox took.
    #[serde(with = "micros")]
    pub instantiate: Duration,
}

impl Trace {
    /// The trace with timings zeroed: what must be identical across runs of
    /// the same (program, input, seed).
    pub fn without_timings(mut self) -> Self {
        self.duration = Duration::ZERO;
        self.instantiate = Duration::ZERO;
        self
    }
}

mod micros {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}
