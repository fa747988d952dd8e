//! What the guest sends: its events and its summary, as it encodes them.
//! Nothing here is trusted: `check` decides what becomes a [`Step`].

use serde::Deserialize;

use curio_trace::{ErrorInfo, Event, Status};

/// An event as the guest encodes it:
/// `[event, line, function, depth, locals | null, stdout, value | null]`.
#[derive(Debug, Deserialize)]
pub(crate) struct GuestEvent(
    pub Event,
    pub u32,
    pub String,
    pub u32,
    pub Option<Vec<(String, String)>>,
    pub String,
    pub Option<String>,
);

/// The guest's summary when `run` returns normally.
#[derive(Debug, Deserialize)]
pub(crate) struct GuestSummary {
    pub status: Status,
    pub error: Option<ErrorInfo>,
    pub stdout: String,
    /// Set by the tracer when it found its machinery replaced.
    #[serde(default)]
    pub tampered: Option<String>,
}
