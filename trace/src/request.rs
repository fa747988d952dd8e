//! What a caller asks the pool to run, and the checks every request passes
//! before it reaches a sandbox.

use std::ops::RangeInclusive;
use std::time::Duration;

use thiserror::Error;

/// Largest program source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;
/// Largest stdin text accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// Longest client-chosen request id, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

const STEPS: RangeInclusive<u32> = 1..=1_000_000;
const TIMEOUT_MS: RangeInclusive<u64> = 1..=60_000;
const MEMORY_BYTES: RangeInclusive<u64> = (32 << 20)..=(2 << 30);
const OUTPUT_BYTES: RangeInclusive<u64> = 1..=(16 << 20);

/// Languages the pool can run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// CPython 3.14, traced with `sys.settrace`.
    #[default]
    Python,
    /// Lua 5.4, traced with `debug.sethook`.
    Lua,
    /// JavaScript (ES2023, QuickJS-NG), traced by a line hook in the engine.
    Js,
}

/// Per-execution limits; each one ends a run with its own status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Trace events before `step_limit`. Default: 10 000. Range 1..=1 000 000.
    pub max_steps: u32,
    /// Wall-clock budget before `timeout`. Default: 2 s. Range 1 ms..=60 s.
    pub timeout: Duration,
    /// Linear-memory cap before `memory_limit`, bytes. Default: 256 MiB. Range 32 MiB..=2 GiB.
    pub memory_bytes: u64,
    /// Stdout bytes before `output_limit`. Default: 1 MiB. Range 1 B..=16 MiB.
    pub output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_steps: 10_000, timeout: Duration::from_secs(2), memory_bytes: 256 << 20, output_bytes: 1 << 20 }
    }
}

/// The most memory any request may ask for; the sandbox reserves this much
/// address space per slot.
pub const MAX_MEMORY_BYTES: u64 = *MEMORY_BYTES.end();

/// One program to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The caller's id for this run (at most [`MAX_REQUEST_ID_BYTES`]), echoed in its trace.
    pub request_id: String,
    /// The language of `source`.
    pub language: Language,
    /// The program (at most [`MAX_SOURCE_BYTES`]).
    pub source: String,
    /// What the program reads on stdin (at most [`MAX_INPUT_BYTES`]).
    pub input: String,
    /// Seeds the program's randomness: the same seed, the same trace.
    pub seed: u64,
    /// When the run is stopped.
    pub limits: Limits,
}

impl Execution {
    /// A Python run with default limits, seed 0 and no input.
    pub fn python(source: impl Into<String>) -> Self {
        Execution::new(Language::Python, source)
    }

    /// A run of `source` in `language` with default limits, seed 0 and no input.
    pub fn new(language: Language, source: impl Into<String>) -> Self {
        Execution {
            request_id: String::new(),
            language,
            source: source.into(),
            input: String::new(),
            seed: 0,
            limits: Limits::default(),
        }
    }

    /// Checks sizes and limits; the error names the field and what is allowed.
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        if self.request_id.len() > MAX_REQUEST_ID_BYTES {
            return Err(invalid("request_id", format!("at most {MAX_REQUEST_ID_BYTES} bytes")));
        }
        if self.source.trim().is_empty() {
            return Err(invalid("program.source", "must not be empty".into()));
        }
        if self.source.len() > MAX_SOURCE_BYTES {
            return Err(invalid(
                "program.source",
                format!("is {} bytes; at most {MAX_SOURCE_BYTES} allowed", self.source.len()),
            ));
        }
        if self.input.len() > MAX_INPUT_BYTES {
            return Err(invalid("input", format!("is {} bytes; at most {MAX_INPUT_BYTES} allowed", self.input.len())));
        }
        let l = &self.limits;
        check_range("limits.max_steps", l.max_steps, &STEPS)?;
        check_range("limits.timeout_ms", l.timeout.as_millis() as u64, &TIMEOUT_MS)?;
        check_range("limits.memory_bytes", l.memory_bytes, &MEMORY_BYTES)?;
        check_range("limits.output_bytes", l.output_bytes, &OUTPUT_BYTES)
    }
}

/// A request the pool refuses to run, with the field at fault.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{field} {reason}")]
pub struct InvalidRequest {
    /// The request's field, as the wire names it (`program.source`).
    pub field: &'static str,
    /// What is wrong with it and what is allowed.
    pub reason: String,
}

fn invalid(field: &'static str, reason: String) -> InvalidRequest {
    InvalidRequest { field, reason }
}

fn check_range<T>(field: &'static str, value: T, range: &RangeInclusive<T>) -> Result<(), InvalidRequest>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(())
    } else {
        Err(invalid(field, format!("is {value}; allowed {}..={} (0 means the default)", range.start(), range.end())))
    }
}

impl Language {
    /// Every language, in the order the pool lists them.
    pub const ALL: [Language; 3] = [Language::Python, Language::Lua, Language::Js];

    /// Parses a user-facing language name (`python`, `py`, `lua`, `js`).
    pub fn parse(name: &str) -> Result<Self, InvalidRequest> {
        match name.to_ascii_lowercase().as_str() {
            "python" | "py" | "python3" => Ok(Language::Python),
            "lua" | "lua5.4" => Ok(Language::Lua),
            "js" | "javascript" | "ecmascript" => Ok(Language::Js),
            other => {
                Err(invalid("program.language", format!("'{other}' is unknown; supported: {}", Language::names())))
            }
        }
    }

    /// The name the store, the metrics and the CLI use (`python`, `lua`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Lua => "lua",
            Language::Js => "js",
        }
    }

    /// The supported names, comma-separated.
    pub fn names() -> String {
        Language::ALL.map(Language::as_str).join(", ")
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_request_is_valid() {
        assert_eq!(Execution::python("print(1)").validate(), Ok(()));
    }

    #[test]
    fn oversized_source_names_the_field_and_the_bound() {
        let err = Execution::python("x = 1\n".repeat(20_000)).validate().unwrap_err();
        assert_eq!(err.field, "program.source");
        assert!(err.reason.contains("65536"), "{err}");
    }

    #[test]
    fn blank_source_is_refused() {
        assert_eq!(Execution::python("  \n").validate().unwrap_err().field, "program.source");
    }

    #[test]
    fn out_of_range_limits_are_refused_per_field() {
        let mut e = Execution::python("pass");
        e.limits.memory_bytes = 1 << 20;
        assert_eq!(e.validate().unwrap_err().field, "limits.memory_bytes");
        e.limits = Limits { timeout: Duration::from_secs(600), ..Limits::default() };
        assert_eq!(e.validate().unwrap_err().field, "limits.timeout_ms");
        e.limits = Limits { max_steps: 0, ..Limits::default() };
        assert_eq!(e.validate().unwrap_err().field, "limits.max_steps");
    }

    #[test]
    fn unknown_language_lists_the_supported_ones() {
        let err = Language::parse("cobol").unwrap_err();
        assert!(err.reason.contains("python, lua, js"), "{err}");
        assert_eq!(Language::parse("Lua"), Ok(Language::Lua));
        for language in Language::ALL {
            assert_eq!(Language::parse(language.as_str()), Ok(language));
        }
    }
}
