//! A program's run as the model learns from it.

use crate::request::Language;
use crate::trace::Step;

/// A program, what it read on stdin, and the steps it took: what the store
/// gives back and what an evaluation suite holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The language of `source`.
    pub language: Language,
    /// The program's source.
    pub source: String,
    /// What the run was given on stdin.
    pub input: String,
    /// Its trace's steps, in order.
    pub steps: Vec<Step>,
}
