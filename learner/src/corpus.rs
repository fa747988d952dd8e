//! Programs from files: JSON Lines of `{"id", "source", "input"?, "seed"?, "language"?}`,
//! as `curio eval --programs` reads them and as the real-program corpora
//! (`learner/corpus/build.py`) are written.

use std::collections::HashSet;
use std::path::Path;

use curio_trace::{Execution, Language, Limits, Run, Status, Trace};
use serde::{Deserialize, Serialize};

/// One program of a programs file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Listed {
    /// Names the program in reports; unique within its file.
    pub id: String,
    /// The source.
    pub source: String,
    /// Its language, `python`, `lua` or `js`. Default: `python`.
    #[serde(default, skip_serializing_if = "is_python")]
    pub language: Language,
    /// Its stdin. Default: empty.
    #[serde(default)]
    pub input: String,
    /// Its seed for `random`. Default: 0.
    #[serde(default)]
    pub seed: u64,
}

impl Listed {
    /// The execution that runs it under `limits`, its id as the request id.
    pub fn execution(&self, limits: Limits) -> Execution {
        Execution {
            request_id: self.id.clone(),
            input: self.input.clone(),
            seed: self.seed,
            limits,
            ..Execution::new(self.language, self.source.clone())
        }
    }
}

fn is_python(language: &Language) -> bool {
    *language == Language::Python
}

/// A run to evaluate on: one that ran to its end, `ok` or with an uncaught
/// exception; else the status it stopped with (a limit, a syntax error).
pub fn ended_run(exec: Execution, trace: Trace) -> Result<Run, Status> {
    match trace.status {
        Status::Ok | Status::Exception => {
            Ok(Run { language: exec.language, source: exec.source, input: exec.input, steps: trace.steps })
        }
        status => Err(status),
    }
}

/// Why a programs file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// A line is not a program object, or repeats an id.
    #[error(
        "{path} line {line}: {reason}; each line is one JSON object {{\"id\": str, \"source\": str, \"input\"?: str, \"seed\"?: int}}"
    )]
    Line {
        /// The file.
        path: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads a programs file: one JSON object per line, blank lines skipped.
/// Every line must be a program with an id no other line has, so a report
/// can name each program and none is silently lost.
pub fn read_programs(path: &Path) -> Result<Vec<Listed>, CorpusError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Io { path: shown.clone(), source })?;
    parse_programs(&text, &shown)
}

/// [`read_programs`] on text already read; `path` names it in errors.
pub fn parse_programs(text: &str, path: &str) -> Result<Vec<Listed>, CorpusError> {
    let mut seen = HashSet::new();
    let mut programs = vec![];
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |reason: String| CorpusError::Line { path: path.to_string(), line: i + 1, reason };
        let program: Listed = serde_json::from_str(line).map_err(|e| err(e.to_string()))?;
        if program.id.is_empty() {
            return Err(err("the id is empty".into()));
        }
        if !seen.insert(program.id.clone()) {
            return Err(err(format!("the id {:?} is used by an earlier line", program.id)));
        }
        programs.push(program);
    }
    Ok(programs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_programs_file_reads_with_defaults_and_names_its_bad_lines() {
        let text = "{\"id\": \"a\", \"source\": \"print(1)\\n\"}\n\n{\"id\": \"b\", \"source\": \"x = input()\\n\", \"input\": \"7\", \"seed\": 3}\n";
        let programs = parse_programs(text, "p.jsonl").unwrap();
        assert_eq!(programs.len(), 2);
        assert_eq!((programs[0].input.as_str(), programs[0].seed), ("", 0));
        assert_eq!((programs[1].input.as_str(), programs[1].seed), ("7", 3));
        let exec = programs[1].execution(Limits::default());
        assert_eq!((exec.request_id.as_str(), exec.input.as_str(), exec.seed), ("b", "7", 3));

        let bad = |text: &str| parse_programs(text, "p.jsonl").unwrap_err().to_string();
        let missing = bad("{\"id\": \"a\", \"source\": \"\"}\n{\"id\": \"b\"}\n");
        assert!(missing.starts_with("p.jsonl line 2: missing field `source`"), "{missing}");
        let twice = bad("{\"id\": \"a\", \"source\": \"\"}\n{\"id\": \"a\", \"source\": \"x\"}\n");
        assert!(twice.contains("line 2: the id \"a\" is used by an earlier line"), "{twice}");
        assert!(bad("{\"id\": \"a\", \"source\": \"\", \"inptu\": \"\"}").contains("unknown field `inptu`"));
        assert!(bad("not json").contains("line 1:"));
        assert!(bad("{\"id\": \"\", \"source\": \"\"}").contains("the id is empty"));
    }
}
