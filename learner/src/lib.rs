//! The code world model: a byte-level transformer that, given a program, a
//! state and a jump length k, predicts the next action (event and line, as a
//! pointer into the program's lines) and the state delta k steps ahead, with
//! its own uncertainty.
//!
//! It owns the encoding (bytes in, bytes out), the model and its
//! checkpoints. It must not talk to the pool or the store directly: the
//! service hands it examples and takes its predictions.

#![warn(missing_docs)]

mod ask;
mod corpus;
mod cpu;
mod data;
mod encode;
mod eval;
mod facts;
pub mod flow;
mod foresee;
mod generate;
mod infer;
mod model;
mod train;
mod window;
mod work;

pub use ask::{
    Asking, Changer, Expected, Printed, Ranked, Search, SearchError, Searching, Surprise, Surprising, Tried, auroc,
    blind_search, climb_search, closeness, expect_output, rank, same_output, search_input, surprise,
};
pub use corpus::{CorpusError, Listed, ended_run, parse_programs, read_programs};
pub use cpu::flush_subnormals;
pub use data::{Example, JUMPS, Unrolled, collate, examples, examples_in, pack};
pub use encode::{
    DEPTHS, Delta, EOS, EVENTS, Encoded, Frame, LINE_IDS, LINE_REL_VOCAB, State, apply, delta, encode_context,
    encode_context_in, parse_delta, states, states_reading, token_bytes,
};
pub use eval::{
    ActionMiss, ChanceScore, Divergence, EvalReport, HORIZONS, Miss, NOTHING, ProgramOutcome, UNSEEN,
    calibration_error, evaluate, evaluate_transitions, format_report, log_likelihood, score_chance, too_long,
    total_variation,
};
pub use facts::comparisons;
pub use flow::FLOW_VOCAB;
pub use foresee::{Code, End, Foreseen, cut, foresee, foresee_until, unreadable};
pub use generate::{
    GenConfig, chancy, generate, generate_in, idiomatic, inputs, mutants, mutate, shaped, suite, suite_run, suite_seeds,
};
pub use infer::{
    Choice, Decoded, Decoding, Prediction, Rollout, Start, decode, disagreement, distribution, embeddings,
    example_losses, foresee_sampled, outputs, predict, predict_with, rollout, rollout_until, rollout_with,
    trajectory_uncertainty, uncertainty, work,
};
pub use model::{
    Batch, Cache, Examples, Learner, Losses, ModelConfig, ModelError, Output, Programs, Targets, WorldModel,
};
pub use train::{StepStats, TrainConfig, Trainer};
pub use window::Window;
pub use work::working;
