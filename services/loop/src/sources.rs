//! Where candidates come from, and how much of each round each source
//! gets: the configured shares, or, with `adapt`, shares a bandit moves
//! toward the sources whose runs surprise the model most.

use crate::LoopConfig;

/// Where a candidate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A program of the real corpus.
    Corpus,
    /// The plain generator, in Python.
    Plain,
    /// The generator with people's idioms, in Python.
    Idioms,
    /// The generator's statements in a function called once, as the real
    /// suite's programs are, in Python.
    Shaped,
    /// The generator's harder setting: longer programs, more iterations,
    /// longer strings.
    Hard,
    /// Generated programs that draw from `random`: each run's seed is an
    /// input.
    Chance,
    /// The generator's programs in Lua.
    Lua,
    /// The generator's programs in JavaScript.
    Js,
    /// A mutation of a program that surprised the model.
    Mutant,
    /// A program that surprised the model, on a new input.
    Rerun,
    /// A caller's program, outside the budget.
    Submitted,
}

/// The sources whose shares the bandit sets (mutants and reruns keep
/// theirs: they follow the model's surprises already).
pub const ARMS: [Source; 8] = [
    Source::Corpus,
    Source::Plain,
    Source::Idioms,
    Source::Shaped,
    Source::Hard,
    Source::Chance,
    Source::Lua,
    Source::Js,
];

impl Source {
    /// Its name in the store and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Corpus => "corpus",
            Source::Plain => "generated",
            Source::Idioms => "idioms",
            Source::Shaped => "shaped",
            Source::Hard => "hard",
            Source::Chance => "chance",
            Source::Lua => "lua",
            Source::Js => "js",
            Source::Mutant => "mutant",
            Source::Rerun => "rerun",
            Source::Submitted => "submitted",
        }
    }

    fn arm(self) -> Option<usize> {
        ARMS.iter().position(|a| *a == self)
    }
}

/// The share the configured shares keep however the bandit leans, so every
/// source goes on being measured.
const FLOOR: f64 = 0.3;
/// Weight of one observation in a source's running surprise.
const RATE: f64 = 0.1;

/// Each arm's share of the fresh candidates, and what its runs have cost
/// the model lately.
#[derive(Clone, Debug)]
pub struct Sources {
    /// The configured shares, over [`ARMS`], summing to 1.
    prior: [f64; ARMS.len()],
    /// Running mean surprise (nats per step) of each arm's runs.
    surprise: [Option<f64>; ARMS.len()],
    adapt: bool,
}

/// The nested draws [`crate::acquire::draw_candidates`] makes, from flat
/// shares: the corpus's share, then of the generated candidates Lua's and
/// JavaScript's, then of the Python ones the idiomatic, shaped, hard and
/// chance shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nested {
    /// Of all candidates, from the corpus.
    pub corpus: f64,
    /// Of the generated ones, in Lua.
    pub lua: f64,
    /// Of the generated ones, in JavaScript.
    pub js: f64,
    /// Of the generated Python ones, with people's idioms.
    pub idiomatic: f64,
    /// Of the generated Python ones, shaped as the real suite's.
    pub shaped: f64,
    /// Of the generated Python ones, in the harder setting.
    pub hard: f64,
    /// Of the generated Python ones, drawing from `random`.
    pub chance: f64,
}

impl Sources {
    /// The shares `config` sets (the corpus's only when `corpus` has
    /// programs to draw); they adapt when `config.adapt_shares` says.
    pub fn new(config: &LoopConfig, corpus: bool) -> Self {
        let real = if corpus { config.corpus_share } else { 0.0 };
        let generated = 1.0 - real;
        let python = generated * (1.0 - config.lua_share - config.js_share);
        let (idioms, shaped) = (config.idiomatic_share, config.shaped_share);
        let (hard, chance) = (config.hard_share, config.chance_share);
        let prior = [
            real,
            python * (1.0 - idioms - shaped - hard - chance),
            python * idioms,
            python * shaped,
            python * hard,
            python * chance,
            generated * config.lua_share,
            generated * config.js_share,
        ];
        Sources { prior, surprise: [None; ARMS.len()], adapt: config.adapt_shares }
    }

    /// Records how much a run of `source` surprised the model.
    pub fn observe(&mut self, source: Source, nats_per_step: f64) {
        let Some(i) = source.arm() else { return };
        if !nats_per_step.is_finite() {
            return;
        }
        let s = &mut self.surprise[i];
        *s = Some(s.map_or(nats_per_step, |m| m + RATE * (nats_per_step - m)));
    }

    /// Each arm's share now. Without adapting, the configured shares.
    /// Adapting, each configured share is weighed by exp(z), z being its
    /// running surprise in standard deviations from the arms' mean (an
    /// arm not yet measured weighs 1), and mixed with the configured
    /// shares at [`FLOOR`]. An arm configured at 0 stays at 0.
    pub fn shares(&self) -> [f64; ARMS.len()] {
        let live: Vec<f64> =
            (0..ARMS.len()).filter(|&i| self.prior[i] > 0.0).filter_map(|i| self.surprise[i]).collect();
        if !self.adapt || live.len() < 2 {
            return self.prior;
        }
        let mean = live.iter().sum::<f64>() / live.len() as f64;
        let sd = (live.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / live.len() as f64).sqrt();
        let weight: Vec<f64> = (0..ARMS.len())
            .map(|i| {
                let z = self.surprise[i].map_or(0.0, |s| (s - mean) / (sd + 1e-6));
                self.prior[i] * z.clamp(-3.0, 3.0).exp()
            })
            .collect();
        let total: f64 = weight.iter().sum();
        std::array::from_fn(|i| (1.0 - FLOOR) * weight[i] / total + FLOOR * self.prior[i])
    }

    /// The share `source` has now: an arm's of the fresh candidates, or
    /// (mutants, reruns) none set here.
    pub fn share_of(&self, source: Source) -> Option<f64> {
        source.arm().map(|i| self.shares()[i])
    }

    /// The shares as the nested draws make them.
    pub fn nested(&self) -> Nested {
        let [corpus, plain, idioms, shaped, hard, chance, lua, js] = self.shares();
        let generated = (1.0 - corpus).max(1e-12);
        let python = plain + idioms + shaped + hard + chance;
        let of_python = |x: f64| if python > 0.0 { x / python } else { 0.0 };
        Nested {
            corpus,
            lua: lua / generated,
            js: js / generated,
            idiomatic: of_python(idioms),
            shaped: of_python(shaped),
            hard: of_python(hard),
            chance: of_python(chance),
        }
    }

    /// Each arm's name, share and running surprise, for the log and metrics.
    pub fn report(&self) -> Vec<(&'static str, f64, Option<f64>)> {
        let shares = self.shares();
        ARMS.iter().enumerate().map(|(i, a)| (a.as_str(), shares[i], self.surprise[i])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(adapt: bool) -> LoopConfig {
        LoopConfig {
            corpus_share: 0.5,
            idiomatic_share: 0.5,
            shaped_share: 0.1,
            hard_share: 0.2,
            chance_share: 0.1,
            lua_share: 0.2,
            js_share: 0.2,
            adapt_shares: adapt,
            ..LoopConfig::default()
        }
    }

    #[test]
    fn the_configured_shares_are_the_nested_draws_made_flat() {
        let s = Sources::new(&config(false), true);
        let shares = s.shares();
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(shares[0], 0.5);
        // Python: 0.5 × 0.6 = 0.3, of it 10% plain, 50% idioms, 10% shaped, 20% hard, 10% chance.
        let want = [0.5, 0.03, 0.15, 0.03, 0.06, 0.03, 0.1, 0.1];
        assert!(shares.iter().zip(want).all(|(s, w)| (s - w).abs() < 1e-12), "{shares:?}");
        let n = s.nested();
        assert!((n.corpus - 0.5).abs() < 1e-12 && (n.lua - 0.2).abs() < 1e-12 && (n.idiomatic - 0.5).abs() < 1e-12);
        assert!((n.hard - 0.2).abs() < 1e-12 && (n.chance - 0.1).abs() < 1e-12, "{n:?}");
        assert!((n.shaped - 0.1).abs() < 1e-12, "{n:?}");
        // Without a corpus its share goes to the generated programs.
        assert_eq!(Sources::new(&config(false), false).shares()[0], 0.0);
    }

    #[test]
    fn adapting_leans_toward_the_surprising_sources_but_keeps_measuring_all() {
        let mut fixed = Sources::new(&config(false), true);
        let mut adapting = Sources::new(&config(true), true);
        for _ in 0..20 {
            for s in [&mut fixed, &mut adapting] {
                s.observe(Source::Js, 2.0);
                s.observe(Source::Lua, 0.5);
                s.observe(Source::Plain, 0.2);
                s.observe(Source::Idioms, 0.4);
                s.observe(Source::Shaped, 0.5);
                s.observe(Source::Hard, 0.5);
                s.observe(Source::Chance, 0.5);
                s.observe(Source::Corpus, 0.6);
                s.observe(Source::Mutant, 9.0); // not an arm: ignored
                s.observe(Source::Plain, f64::NAN); // ignored
            }
        }
        assert_eq!(fixed.shares(), Sources::new(&config(false), true).shares(), "fixed shares stay put");
        let (before, after) = (fixed.shares(), adapting.shares());
        assert!((after.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{after:?}");
        assert!(after[7] > before[7], "JavaScript surprises most and gains: {after:?}");
        assert!(after[1] < before[1], "plain Python surprises least and loses: {after:?}");
        for i in 0..ARMS.len() {
            assert!(after[i] >= FLOOR * before[i] - 1e-12, "arm {i} keeps its floor: {after:?}");
        }
        let n = adapting.nested();
        assert!(n.js > 0.2 && n.js + n.lua <= 1.0, "{n:?}");
        // A source configured at nothing is never drawn.
        let mut none = Sources::new(&LoopConfig { adapt_shares: true, ..LoopConfig::default() }, false);
        none.observe(Source::Lua, 50.0);
        none.observe(Source::Plain, 0.1);
        none.observe(Source::Idioms, 0.1);
        assert_eq!(none.shares()[6], 0.0);
    }
}
