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
    /// `lua-train.jsonl` and `js-train.jsonl`: translations of training
    /// programs, drawn in the run's Lua and JavaScript shares.
    pub translated: [Vec<Listed>; 2],
}

impl std::fmt::Debug for Corpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [lua, js] = &self.translated;
        write!(
            f,
            "Corpus {{ train: {} programs, real: {} programs, translated: {} Lua, {} JavaScript }}",
            self.train.len(),
            self.real.len(),
            lua.len(),
            js.len()
        )
    }
}

impl Corpus {
    /// Reads `dir/train.jsonl` and `dir/real.jsonl` (and the translations
    /// beside them, where there are any); none where `dir` holds neither. A
    /// file that is there but unreadable is an error.
    pub fn load(dir: &Path) -> Result<Option<Corpus>, LoopError> {
        let read = |name: &str| -> Result<Vec<Listed>, LoopError> {
            let path = dir.join(name);
            match path.exists() {
                true => read_programs(&path).map_err(|e| LoopError::Config(format!("the corpus: {e}"))),
                false => Ok(vec![]),
            }
        };
        let translated = [read("lua-train.jsonl")?, read("js-train.jsonl")?];
        let corpus = Corpus { train: read("train.jsonl")?, real: read("real.jsonl")?, translated };
        Ok((!corpus.train.is_empty() || !corpus.real.is_empty()).then_some(corpus))
    }

    /// A training program as a candidate, with a fresh seed: a Lua
    /// translation in a share `lua`, a JavaScript one in a share `js` (when
    /// there are any), else a Python program. Its family is its problem or
    /// function, in every language, so one batch cannot fill up with its
    /// calls, their mutations and their translations.
    pub(crate) fn candidate(&self, rng: &mut StdRng, (lua, js): (f64, f64)) -> Option<Candidate> {
        // Only with a share is there a draw more, so a Python-only run
        // draws the candidates it always drew.
        let other = if lua > 0.0 || js > 0.0 { rng.random::<f64>() } else { 1.0 };
        let [in_lua, in_js] = &self.translated;
        let programs = match other {
            x if x < lua && !in_lua.is_empty() => in_lua,
            x if x >= lua && x < lua + js && !in_js.is_empty() => in_js,
            _ => &self.train,
        };
        let program = programs.get(rng.random_range(0..programs.len().max(1)))?;
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

    fn listed(id: String, language: curio_trace::Language) -> Listed {
        Listed { id, source: String::new(), language, input: String::new(), seed: 0 }
    }

    #[test]
    fn the_real_suite_spreads_over_the_file() {
        let real = (0..10).map(|i| listed(format!("p{i}"), Default::default())).collect();
        let corpus = Corpus { train: vec![], real, translated: [vec![], vec![]] };
        let ids: Vec<&str> = corpus.real_suite(3).iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p0", "p3", "p6"]);
        assert_eq!(corpus.real_suite(50).len(), 10);
        let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(0);
        assert!(corpus.candidate(&mut rng, (0.0, 0.0)).is_none(), "no training programs, no candidate");
    }

    #[test]
    fn translations_are_drawn_in_the_language_shares() {
        use curio_trace::Language;
        let of = |language| (0..5).map(|i| listed(format!("humaneval/{i}/0"), language)).collect::<Vec<_>>();
        let corpus =
            Corpus { train: of(Language::Python), real: vec![], translated: [of(Language::Lua), of(Language::Js)] };
        let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(7);
        let mut count = std::collections::HashMap::new();
        for _ in 0..2000 {
            let c = corpus.candidate(&mut rng, (0.25, 0.25)).unwrap();
            assert!(c.family.starts_with("corpus:humaneval/"), "{}", c.family);
            *count.entry(c.language).or_insert(0) += 1;
        }
        for (language, share) in [(Language::Lua, 0.25), (Language::Js, 0.25), (Language::Python, 0.5)] {
            let got = count[&language] as f64 / 2000.0;
            assert!((got - share).abs() < 0.04, "{language:?}: {got}");
        }
        // Without shares, Python only.
        assert!((0..200).all(|_| corpus.candidate(&mut rng, (0.0, 0.0)).unwrap().language == Language::Python));
    }
}
