//! The interpreter pool: runs untrusted programs in WebAssembly sandboxes
//! under a step tracer and serves the traces over gRPC.
//!
//! It owns the wasmtime engine (one per process, pooling allocator, the
//! compiled guest cached on disk), the host's checks on what the guest
//! reports, the `curio.v1.InterpreterPool` service, and
//! the authentication and TLS that both Curio servers (pool and learner) use.
//! It must not give a guest any capability beyond its input, a clock it
//! controls and a place to put events: no files, no sockets, no environment.
//! It stores nothing; traces go to whoever asked.

mod auth;
mod cache;
mod check;
mod convert;
mod corpus;
pub mod fuzz;
mod metrics;
mod native;
mod sandbox;
mod server;
mod trace;
mod transport;

pub use auth::*;
pub use cache::*;
pub use convert::*;
pub use corpus::*;
pub use metrics::*;
pub use native::*;
pub use sandbox::*;
pub use server::*;
pub use transport::*;
// The trace schema, from the leaf crate, for the pool's callers.
pub use curio_trace::{
    ErrorInfo, Event, Execution, InvalidRequest, Language, Limits, MAX_INPUT_BYTES, MAX_MEMORY_BYTES,
    MAX_REQUEST_ID_BYTES, MAX_SOURCE_BYTES, Run, Status, Step, Trace,
};
