//! The active-learning loop and the learner service. Each round it draws
//! candidate (program, input) pairs, scores them by the model's uncertainty
//! (or at random, the baseline), sends the chosen ones to the interpreter
//! pool over gRPC, writes the traces to the replay store, and trains on the
//! store at a fixed ratio of training samples to new transitions. It
//! evaluates on the held-out suite on a schedule and records the learning
//! curve, and it serves the Learner gRPC API (submissions, status, curve,
//! predictions).
//!
//! It owns the loop's state and the Learner API. It must not run programs
//! itself (that is the pool's job, over gRPC) nor touch the database except
//! through `curio-store`.

mod acquire;
mod config;
mod drive;
mod engine;
mod error;
mod fit;
mod metrics;
mod offline;
mod plot;
mod pools;
mod replay;
mod service;
mod shared;

pub use acquire::*;
pub use config::*;
pub use drive::{Progress, run};
pub use engine::*;
pub use error::*;
pub use fit::*;
pub use metrics::*;
pub use offline::*;
pub use plot::*;
pub use pools::*;
pub use replay::*;
pub use service::*;
pub use shared::*;
