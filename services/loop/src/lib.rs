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

#![warn(missing_docs)]

mod acquire;
mod ask;
mod config;
mod corpus;
mod drive;
mod engine;
mod error;
mod experiment;
mod fit;
mod metrics;
mod offline;
mod plot;
mod pools;
mod replay;
mod service;
mod shared;
mod sources;

pub use config::{LoopConfig, Strategy};
pub use corpus::Corpus;
pub use drive::{Progress, run};
pub use engine::{Engine, RoundReport, SharedTrainer, curve_metrics, lock};
pub use error::LoopError;
pub use experiment::{
    Band, Bands, Leg, MIN_RISE, Point, Ratio, Ratios, Summary, describe, first_reach, interval, summarise,
};
pub use fit::FitConfig;
pub use offline::{Generated, OfflineConfig, OfflineReport, offline, store_generated, store_listed};
pub use plot::{Curve, bands_svg, curve_svg, curve_table, queries_to_reach};
pub use pools::{Executed, PoolClients, PoolSecurity};
pub use replay::{Group, Mix, buckets, flatten};
pub use service::serve_learner;
pub use shared::{Shared, Submitted};
pub use sources::{ARMS, Nested, Source, Sources};
