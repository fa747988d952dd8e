//! Curio's trace schema, in one place: what a caller asks to run
//! ([`Execution`], [`Limits`]), what a run shows ([`Trace`], [`Step`],
//! [`Event`], [`Status`]) and a run as the model learns from it ([`Run`]).
//!
//! It depends on nothing heavy, so the pool (which makes traces), the store
//! (which keeps them) and the model (which learns from them) share it
//! without depending on each other. Each converts at its own edge: the pool
//! from guest events and protobuf, the store to and from rows, the model to
//! its states.

#![warn(missing_docs)]

mod request;
mod run;
mod trace;

pub use request::{
    Execution, InvalidRequest, Language, Limits, MAX_INPUT_BYTES, MAX_MEMORY_BYTES, MAX_REQUEST_ID_BYTES,
    MAX_SOURCE_BYTES,
};
pub use run::Run;
pub use trace::{ErrorInfo, Event, Status, Step, Trace};
