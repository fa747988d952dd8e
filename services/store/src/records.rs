//! What the store keeps, as the writers hand it over, and the checks every
//! record passes before it reaches Postgres.

use curio_trace::{Language, Limits, MAX_SOURCE_BYTES, Trace};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::StoreError;

/// Where a program came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// From a fixed corpus of programs.
    Corpus,
    /// Made by a program generator.
    Generated,
    /// A mutation of another program.
    Mutated,
    /// Sent in by a caller (see [`ProgramRecord::submitter`]).
    Submitted,
}

impl Origin {
    /// The name the `programs.origin` column holds.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Origin::Corpus => "corpus",
            Origin::Generated => "generated",
            Origin::Mutated => "mutated",
            Origin::Submitted => "submitted",
        }
    }
}

/// A program as the learner knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramRecord {
    /// The language it is written in (`python`, `lua`).
    pub language: String,
    /// Its source text.
    pub source: String,
    /// Where it came from.
    pub origin: Origin,
    /// Who submitted it (for `Submitted`).
    pub submitter: Option<String>,
}

impl ProgramRecord {
    /// A Python program of the given origin.
    pub fn python(source: impl Into<String>, origin: Origin) -> Self {
        ProgramRecord::new(Language::Python, source, origin)
    }

    /// A program in `language` of the given origin.
    pub fn new(language: Language, source: impl Into<String>, origin: Origin) -> Self {
        ProgramRecord { language: language.as_str().into(), source: source.into(), origin, submitter: None }
    }

    /// sha256(language, NUL, source): the program's identity in the store.
    pub fn content_hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(self.language.as_bytes());
        h.update([0]);
        h.update(self.source.as_bytes());
        h.finalize().to_vec()
    }
}

/// How an execution was chosen: recorded with it for the learning curves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provenance {
    /// The run that asked for it.
    pub run_id: Option<String>,
    /// The acquisition strategy that chose it (`submitted` for a caller's
    /// program).
    pub strategy: Option<String>,
    /// The score the strategy gave it when choosing.
    pub acquisition_score: Option<f64>,
    /// The model that chose it, as its training step.
    pub model_version: Option<i64>,
    /// The pool replica that ran it.
    pub pool_replica: Option<String>,
    /// Where the candidate came from (`generated`, `idioms`, `shaped`, `hard`,
    /// `chance`, `lua`, `js`, `corpus`, `mutant`, `rerun`, `submitted`).
    pub source: Option<String>,
    /// Its source's share of the fresh draws when it was drawn: the
    /// corpus's of all draws, a generated source's of the draws that are
    /// neither corpus programs nor (once the model has been surprised, 40%
    /// of the others) mutants and reruns. None for mutants, reruns and
    /// submissions.
    pub source_share: Option<f64>,
}

/// One execution and its trace, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionRecord {
    /// Chosen by the caller before the run; writing the same id twice
    /// stores it once.
    pub execution_id: Uuid,
    /// The program that ran.
    pub program: ProgramRecord,
    /// Its stdin.
    pub input: String,
    /// The seed of the program's randomness it ran with.
    pub seed: u64,
    /// The limits it ran under.
    pub limits: Limits,
    /// What the pool traced.
    pub trace: Trace,
    /// How it was chosen.
    pub provenance: Provenance,
}

/// Largest stdin text the store accepts, bytes (as the pool).
const MAX_INPUT_BYTES: usize = 1 << 20;

impl ExecutionRecord {
    /// Checks what Postgres would refuse or what would corrupt the store,
    /// so one bad record fails alone instead of failing its batch.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        let bad = |reason: String| Err(StoreError::InvalidRecord { execution_id: self.execution_id, reason });
        if self.program.source.len() > MAX_SOURCE_BYTES {
            return bad(format!("program source is {} bytes; at most {MAX_SOURCE_BYTES}", self.program.source.len()));
        }
        if self.program.source.trim().is_empty() {
            return bad("program source is empty".into());
        }
        if self.program.source.contains('\0') || self.program.language.contains('\0') {
            return bad("program source contains a NUL byte, which no Python program can".into());
        }
        if self.input.len() > MAX_INPUT_BYTES {
            return bad(format!("input is {} bytes; at most {MAX_INPUT_BYTES}", self.input.len()));
        }
        for (i, step) in self.trace.steps.iter().enumerate() {
            if step.step as usize != i {
                return bad(format!("steps are not numbered 0, 1, 2, ...: position {i} holds step {}", step.step));
            }
            if let Err(why) = fits_int(&format!("step {i}'s line"), step.line, 1)
                .and_then(|()| fits_int(&format!("step {i}'s depth"), step.depth, 0))
            {
                return bad(why);
            }
        }
        self.columns_fit().or_else(bad)
    }

    /// Every number fits the column that holds it (Postgres would refuse
    /// the whole batch otherwise).
    fn columns_fit(&self) -> Result<(), String> {
        let (l, t) = (&self.limits, &self.trace);
        fits_int("limits.max_steps", l.max_steps, 1)?;
        fits_int("limits.timeout_ms", l.timeout.as_millis(), 0)?;
        fits_bigint("limits.memory_bytes", l.memory_bytes)?;
        fits_bigint("limits.output_bytes", l.output_bytes)?;
        fits_bigint("step_count", t.step_count)?;
        fits_bigint("duration_us", t.duration.as_micros())?;
        if let Some(line) = t.error.as_ref().and_then(|e| e.line) {
            fits_int("error.line", line, 1)?;
        }
        Ok(())
    }
}

/// `value` within `min..=i32::MAX` (an `INTEGER` column).
fn fits_int(what: &str, value: impl Into<u128>, min: u128) -> Result<(), String> {
    let value = value.into();
    if value < min || value > i32::MAX as u128 {
        return Err(format!("{what} is {value}; the store holds {min}..={}", i32::MAX));
    }
    Ok(())
}

/// `value` within `0..=i64::MAX` (a `BIGINT` column).
fn fits_bigint(what: &str, value: impl Into<u128>) -> Result<(), String> {
    let value = value.into();
    if value > i64::MAX as u128 {
        return Err(format!("{what} is {value}; the store holds at most {}", i64::MAX));
    }
    Ok(())
}

/// Text as Postgres can hold it: NUL (which `text` refuses) becomes U+2400
/// (SYMBOL FOR NULL), the only change the store makes to what it is given.
pub(crate) fn pg_text(s: &str) -> String {
    if s.contains('\0') { s.replace('\0', "\u{2400}") } else { s.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curio_trace::{Status, Trace};
    use std::time::Duration;

    pub(crate) fn empty_trace() -> Trace {
        Trace {
            request_id: String::new(),
            status: Status::Ok,
            steps: vec![],
            stdout: String::new(),
            error: None,
            step_count: 0,
            stdout_bytes: 0,
            trace_bytes: 0,
            truncated: false,
            duration: Duration::ZERO,
            instantiate: Duration::ZERO,
        }
    }

    fn record(source: &str) -> ExecutionRecord {
        ExecutionRecord {
            execution_id: Uuid::nil(),
            program: ProgramRecord::python(source, Origin::Generated),
            input: String::new(),
            seed: 0,
            limits: Limits::default(),
            trace: empty_trace(),
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn oversized_and_nul_sources_are_refused() {
        assert!(record("x = 1").validate().is_ok());
        assert!(record(&"x".repeat(70_000)).validate().is_err());
        assert!(record("x = '\0'").validate().is_err());
        assert!(record(" ").validate().is_err());
    }

    #[test]
    fn hash_separates_language_and_source() {
        let a = ProgramRecord::python("x", Origin::Corpus);
        let b = ProgramRecord { language: "pytho".into(), source: "nx".into(), ..a.clone() };
        assert_ne!(a.content_hash(), b.content_hash());
        assert_eq!(a.content_hash(), ProgramRecord::python("x", Origin::Mutated).content_hash());
    }

    #[test]
    fn numbers_past_their_columns_are_refused() {
        let mut r = record("x = 1");
        r.trace.error =
            Some(curio_trace::ErrorInfo { kind: "X".into(), message: String::new(), line: Some(4_294_967_295) });
        assert!(r.validate().unwrap_err().to_string().contains("error.line"));
        r.trace.error = None;
        r.trace.steps.push(curio_trace::Step {
            step: 0,
            event: curio_trace::Event::Line,
            line: 1,
            function: "<module>".into(),
            depth: 4_000_000_000,
            locals: vec![],
            stdout: String::new(),
            value: None,
        });
        assert!(r.validate().unwrap_err().to_string().contains("depth"));
        r.trace.steps[0].depth = 1;
        assert!(r.validate().is_ok());
        r.limits.max_steps = u32::MAX;
        assert!(r.validate().unwrap_err().to_string().contains("max_steps"));
    }

    #[test]
    fn nul_in_text_becomes_a_visible_symbol() {
        assert_eq!(pg_text("a\0b"), "a\u{2400}b");
        assert_eq!(pg_text("plain"), "plain");
    }
}
