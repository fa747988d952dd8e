//! The interpreter pool: runs untrusted programs (Python, Lua or JavaScript) in
//! WebAssembly sandboxes under a step tracer and serves the traces over gRPC.
//!
//! It owns the wasmtime engine (one per process, pooling allocator, the
//! compiled guest cached on disk), the host's checks on what the guest
//! reports, the `curio.v1.InterpreterPool` service, and
//! the authentication and TLS that both Curio servers (pool and learner) use.
//! It must not give a guest any capability beyond its input, a clock it
//! controls and a place to put events: no files, no sockets, no environment.
//! It stores nothing; traces go to whoever asked.

#![warn(missing_docs)]

mod auth;
mod cache;
mod check;
mod convert;
mod core_guest;
mod corpus;
pub mod fuzz;
mod host;
mod metrics;
mod native;
mod sandbox;
mod server;
mod trace;
mod transport;

pub use auth::{AuthError, Authenticator, Bearer, Caller, Tokens};
pub use convert::{
    execution_to_proto, language_from_proto, language_to_proto, step_to_proto, trace_from_proto, trace_to_proto,
};
pub use corpus::{
    BOMBS, CANARY, COSTLY_REPRS, FORGERIES, JS_BOMBS, JS_CANARY, JS_SURVIVED, LUA_BOMBS, LUA_CANARY, LUA_SURVIVED,
    SURVIVED,
};
pub use native::{bench_native_js, bench_native_lua, run_native_js, run_native_lua, run_native_tracer};
pub use sandbox::{Sandbox, SandboxConfig, SandboxError};
pub use server::{PoolConfig, PoolService, no_delay, serve};
pub use transport::{
    ClientTls, OversizeLayer, ServeError, ServerSecurity, ServerTls, endpoint, reflection, server_builder,
};
// The trace schema, from the leaf crate, for the pool's callers.
pub use curio_trace::{Event, Execution, Language, Limits, MAX_INPUT_BYTES, MAX_SOURCE_BYTES, Status, Step, Trace};
