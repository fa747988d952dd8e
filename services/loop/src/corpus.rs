//! Real programs for the loop: candidates drawn beside generated ones,
//! and the real suite its curve shows beside the generator's.

use std::path::Path;

use curio_learner::{Listed, read_programs};
use curio_store::Origin;
use curio_trace::Language;
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
    /// `lua-real.jsonl` and `js-real.jsonl`: translations of real-suite
    /// programs, the Lua and JavaScript real suites (never trained on).
    pub translated_real: [Vec<Listed>; 2],
}

impl std::fmt::Debug for Corpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ([lua, js], [real_lua, real_js]) = (&self.translated, &self.translated_real);
        write!(
            f,
            "Corpus {{ train: {} programs, real: {} programs, translated: {} Lua ({} real), {} JavaScript ({} real) }}",
            self.train.len(),
            self.real.len(),
            lua.len(),
            real_lua.len(),
            js.len(),
            real_js.len()
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
        let translated_real = [read("lua-real.jsonl")?, read("js-real.jsonl")?];
        let corpus = Corpus { train: read("train.jsonl")?, real: read("real.jsonl")?, translated, translated_real };
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
    pub(crate) fn real_suite(&self, language: Language, n: usize) -> Vec<&Listed> {
        let programs = self.real_in(language);
        let stride = (programs.len() / n.max(1)).max(1);
        programs.iter().step_by(stride).take(n).collect()
    }

    /// The real suite's programs in `language`: Python's, or their
    /// translations.
    pub fn real_in(&self, language: Language) -> &[Listed] {
        match language {
            Language::Python => &self.real,
            Language::Lua => &self.translated_real[0],
            Language::Js => &self.translated_real[1],
        }
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
        let real = (0..10).map(|i| listed(format!("p{i}"), Language::Python)).collect();
        let lua = (0..4).map(|i| listed(format!("l{i}"), Language::Lua)).collect();
        let corpus = Corpus { train: vec![], real, translated: [vec![], vec![]], translated_real: [lua, vec![]] };
        let ids: Vec<&str> = corpus.real_suite(Language::Python, 3).iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p0", "p3", "p6"]);
        assert_eq!(corpus.real_suite(Language::Python, 50).len(), 10);
        let ids: Vec<&str> = corpus.real_suite(Language::Lua, 2).iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["l0", "l2"], "each language's suite is its own translations");
        assert!(corpus.real_suite(Language::Js, 2).is_empty());
        let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(0);
        assert!(corpus.candidate(&mut rng, (0.0, 0.0)).is_none(), "no training programs, no candidate");
    }

    #[test]
    fn translations_are_drawn_in_the_language_shares() {
        use curio_trace::Language;
        let of = |language| (0..5).map(|i| listed(format!("humaneval/{i}/0"), language)).collect::<Vec<_>>();
        let corpus = Corpus {
            train: of(Language::Python),
            real: vec![],
            translated: [of(Language::Lua), of(Language::Js)],
            translated_real: [vec![], vec![]],
        };
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
