//! The code world model: a byte-level transformer that, given a program, a
//! state and a jump length k, predicts the next action (event and line, as a
//! pointer into the program's lines) and the state delta k steps ahead, with
//! its own uncertainty.
//!
//! It owns the encoding (bytes in, bytes out), the model and its
//! checkpoints. It must not talk to the pool or the store directly: the
//! service hands it examples and takes its predictions.

mod cpu;
mod data;
mod encode;
mod eval;
pub mod flow;
mod generate;
mod infer;
mod model;
mod train;
pub mod work;

pub use cpu::*;
pub use data::*;
pub use encode::*;
pub use eval::*;
pub use generate::*;
pub use infer::*;
pub use model::*;
pub use train::*;
