//! Real programs for the loop: candidates drawn beside generated ones,
//! and the real suite its curve shows beside the generator's.

use std::path::Path;

use curio_learner::{Listed, read_programs};
use curio_store::Origin;
use rand::RngExt;
use rand::rngs::StdRng;

use crate::LoopError;
use crate::acquire::Candidate;

/// The programs of a corpus folder (`make corpus` writes `data/corpus`).
pub struct Corpus {
    /// `train.jsonl`: candidates for the loop, and training programs.
    pub train: Vec<Listed>,
    /// `real.jsonl`: the real suite, never trained on.
    pub real: Vec<Listed>,
}

impl std::fmt::Debug for Corpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Corpus {{ train: {} programs, real: {} programs }}", self.train.len(), self.real.len())
    }
}

impl Corpus {
    /// Reads `dir/train.jsonl` and `dir/real.jsonl`; none where `dir` holds
    /// neither. A file that is there but unreadable is an error.
    pub fn load(dir: &Path) -> Result<Option<Corpus>, LoopError> {
        let read = |name: &str| -> Result<Vec<Listed>, LoopError> {
            let path = dir.join(name);
            match path.exists() {
                true => read_programs(&path).map_err(|e| LoopError::Config(format!("the corpus: {e}"))),
                false => Ok(vec![]),
            }
        };
        let corpus = Corpus { train: read("train.jsonl")?, real: read("real.jsonl")? };
        Ok((!corpus.train.is_empty() || !corpus.real.is_empty()).then_some(corpus))
    }

    /// A training program as a candidate, with a fresh seed. Its family is
    /// its problem or function, so one batch cannot fill up with its calls
    /// and their mutations.
    pub(crate) fn candidate(&self, rng: &mut StdRng) -> Option<Candidate> {
        let program = self.train.get(rng.random_range(0..self.train.len().max(1)))?;
        Some(Candidate {
            language: program.language,
            source: program.source.clone(),
            input: program.input.clone(),
            seed: rng.random(),
            family: family(&program.id),
            origin: Origin::Corpus,
            from: crate::sources::Source::Corpus,
        })
    }

    /// `n` programs of the real suite, spread evenly over it.
    pub(crate) fn real_suite(&self, n: usize) -> Vec<&Listed> {
        let stride = (self.real.len() / n.max(1)).max(1);
        self.real.iter().step_by(stride).take(n).collect()
    }
}

/// A corpus program's family: its id without the call index and mutation
/// (`humaneval/12/0/m1` and `humaneval/12/1` are both `humaneval/12`).
fn family(id: &str) -> String {
    let mut parts: Vec<&str> = id.split('/').collect();
    while parts.len() > 1
        && parts.last().is_some_and(|p| p.len() > 1 && p.starts_with('m') && p[1..].parse::<u32>().is_ok())
    {
        parts.pop();
    }
    if parts.len() > 2 && parts.last().is_some_and(|p| p.parse::<u32>().is_ok()) {
        parts.pop();
    }
    format!("corpus:{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problems_calls_and_mutations_share_a_family() {
        assert_eq!(family("humaneval/12/0/m1"), "corpus:humaneval/12");
        assert_eq!(family("humaneval/12/2"), "corpus:humaneval/12");
        assert_eq!(family("algorithms/array/josephus/josephus/3"), "corpus:algorithms/array/josephus/josephus");
        assert_eq!(family("mine"), "corpus:mine");
        assert_ne!(family("humaneval/12/0"), family("humaneval/13/0"));
    }

    #[test]
    fn the_real_suite_spreads_over_the_file() {
        let listed = |i: usize| Listed {
            id: format!("p{i}"),
            source: String::new(),
            language: Default::default(),
            input: String::new(),
            seed: 0,
        };
        let corpus = Corpus { train: vec![], real: (0..10).map(listed).collect() };
        let ids: Vec<&str> = corpus.real_suite(3).iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p0", "p3", "p6"]);
        assert_eq!(corpus.real_suite(50).len(), 10);
        let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(0);
        assert!(corpus.candidate(&mut rng).is_none(), "no training programs, no candidate");
    }
}
