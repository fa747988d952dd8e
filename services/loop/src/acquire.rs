//! Acquisition: where candidates come from, how the model scores them, and
//! how a batch is chosen so that one program family cannot fill it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use curio_learner::{
    Example, GenConfig, JUMPS, State, WorldModel, chancy, disagreement, embeddings, encode_context_in, generate,
    generate_in, idiomatic, inputs, mutate, shaped, trajectory_uncertainty, uncertainty,
};
use curio_store::Origin;
use curio_trace::Language;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngExt};
use tch::Device;

use crate::sources::{Nested, Source};
use crate::{Corpus, LoopError, Strategy};

/// Generator seeds the loop draws from: below the held-out suites' seeds.
const GENERATED_SEEDS: u64 = 7_000_000_000;

/// A program and an input the loop might run.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub language: Language,
    pub source: String,
    pub input: String,
    /// The execution's random seed.
    pub seed: u64,
    /// A generated program and its mutants share a family; a batch takes at
    /// most `per_family` of one family.
    pub family: String,
    pub origin: Origin,
    /// Which source drew it.
    pub from: Source,
}

/// A program whose run surprised the model (its mean nats per step,
/// `score`): mutations and new inputs of it become candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct Surprise {
    pub score: f64,
    pub family: String,
    pub language: Language,
    pub source: String,
}

/// What the candidates are: the generator's size knobs and each source's
/// share ([`crate::sources::Sources::nested`]).
#[derive(Clone, Copy, Debug)]
pub struct Generating<'a> {
    pub config: &'a GenConfig,
    pub shares: Nested,
}

/// Draws `n` candidates: a share `corpus` of them programs of the corpus,
/// where there is one; of the rest, 60% freshly generated (a share `lua` of
/// them the generator's programs in Lua, a share `js` in JavaScript, a
/// share `idiomatic` of the others
/// by [`idiomatic`], the rest by [`generate`]), 30% mutations of surprising
/// programs, 10% surprising programs on new inputs (all generated while
/// nothing has surprised the model yet).
pub fn draw_candidates(
    n: usize,
    surprising: &[Surprise],
    generating: Generating<'_>,
    corpus: Option<&Corpus>,
    rng: &mut StdRng,
) -> Vec<Candidate> {
    let shares = generating.shares;
    (0..n)
        .map(|_| {
            // Only with a corpus is there a draw more, so a run without one
            // draws the candidates it always drew.
            if let Some(corpus) = corpus.filter(|c| !c.train.is_empty())
                && rng.random::<f64>() < shares.corpus
                && let Some(candidate) = corpus.candidate(rng, (shares.lua, shares.js))
            {
                return candidate;
            }
            let roll: f64 = rng.random();
            let seed: u64 = rng.random();
            if !surprising.is_empty() && roll < 0.4 {
                let parent = &surprising[rng.random_range(0..surprising.len())];
                let (source, origin, from) = if roll < 0.3 {
                    (mutate(&parent.source, rng.random()), Origin::Mutated, Source::Mutant)
                } else {
                    (parent.source.clone(), Origin::Generated, Source::Rerun)
                };
                Candidate {
                    language: parent.language,
                    source,
                    input: inputs(rng.random(), 1).remove(0),
                    seed,
                    family: parent.family.clone(),
                    origin,
                    from,
                }
            } else {
                let program = rng.random_range(0..GENERATED_SEEDS);
                let config = generating.config;
                // Only with a share is there a draw more, so a run without
                // one draws the candidates it always drew.
                let other = if shares.lua > 0.0 || shares.js > 0.0 { rng.random::<f64>() } else { 1.0 };
                let (language, source, family, from) = if other < shares.lua {
                    let source = generate_in(Language::Lua, program, config);
                    (Language::Lua, source, format!("lua:{program}"), Source::Lua)
                } else if other < shares.lua + shares.js {
                    (Language::Js, generate_in(Language::Js, program, config), format!("js:{program}"), Source::Js)
                } else if shares.idiomatic > 0.0 && rng.random::<f64>() < shares.idiomatic {
                    (Language::Python, idiomatic(program, config), format!("idioms:{program}"), Source::Idioms)
                } else {
                    // Of the Python ones not idiomatic: only with a hard,
                    // chance or shaped share is there a draw more.
                    let rest = (1.0 - shares.idiomatic).max(1e-12);
                    let others = shares.hard + shares.chance + shares.shaped;
                    let other = if others > 0.0 { rng.random::<f64>() * rest } else { 1.0 };
                    if other < shares.hard {
                        let source = generate(program, &GenConfig::harder());
                        (Language::Python, source, format!("hard:{program}"), Source::Hard)
                    } else if other < shares.hard + shares.chance {
                        (Language::Python, chancy(program), format!("chance:{program}"), Source::Chance)
                    } else if other < others {
                        (Language::Python, shaped(program, config), format!("shaped:{program}"), Source::Shaped)
                    } else {
                        (Language::Python, generate(program, config), format!("gen:{program}"), Source::Plain)
                    }
                };
                let input = inputs(program, 1).remove(0);
                Candidate { language, source, input, seed, family, origin: Origin::Generated, from }
            }
        })
        .collect()
}

/// Scores of one round.
#[derive(Debug, Default)]
pub struct Scores {
    /// Per candidate; `None` where scoring ran out of time (or `random`).
    pub scores: Vec<Option<f64>>,
    /// Per candidate, with `diversity`: how the model reads its first
    /// state ([`embeddings`]), unit length.
    pub embeddings: Vec<Option<Vec<f32>>>,
    pub elapsed: Duration,
}

/// How a strategy scores: its MC-dropout samples (`bald`) and the steps
/// it foresees (`trajectory`), and the wall-clock bound on a round's
/// scoring.
#[derive(Clone, Copy, Debug)]
pub struct Scoring {
    pub bald_samples: usize,
    pub horizon: usize,
    pub budget: Duration,
    /// With more than 0, the candidates' embeddings are read too, for a
    /// batch spread over them ([`select`]).
    pub diversity: f64,
}

/// Scores candidates by the strategy's uncertainty (averaged over the
/// k-step jumps from each start state, or summed along the foreseen run
/// for `trajectory`), in chunks of 8 until the budget runs out.
pub fn score(
    model: &WorldModel,
    strategy: Strategy,
    candidates: &[Candidate],
    scoring: Scoring,
    device: Device,
) -> Result<Scores, LoopError> {
    let started = Instant::now();
    let mut scores = vec![None; candidates.len()];
    let mut embedded = vec![None; candidates.len()];
    // `rho` chooses after the runs, not before: like `random`, it scores
    // nothing here.
    if matches!(strategy, Strategy::Random | Strategy::Rho) {
        return Ok(Scores { scores, embeddings: embedded, elapsed: started.elapsed() });
    }
    let window = model.config.window();
    for (chunk_no, chunk) in candidates.chunks(8).enumerate() {
        if started.elapsed() > scoring.budget {
            break;
        }
        // Each candidate's first state asked one step ahead: what the
        // embeddings read, and what says whether a rollout can start.
        let first: Vec<Example> = if scoring.diversity > 0.0 || strategy == Strategy::Trajectory {
            let ask = |c: &Candidate| encode_context_in(c.language, &c.source, &State::initial(&c.input), 1);
            chunk.iter().map(|c| Example::query(ask(c))).collect()
        } else {
            vec![]
        };
        if scoring.diversity > 0.0 {
            let fitting: Vec<usize> = (0..chunk.len()).filter(|&i| window.fits(&first[i])).collect();
            let rows: Vec<Example> = fitting.iter().map(|&i| first[i].clone()).collect();
            for (&i, e) in fitting.iter().zip(embeddings(model, &rows, device)?) {
                embedded[chunk_no * 8 + i] = Some(e);
            }
        }
        if strategy == Strategy::Trajectory {
            // As the other strategies, a program the model cannot read
            // stays unscored (ranked last): its rollout would score the
            // most uncertain of all and teach nothing.
            let readable: Vec<usize> =
                (0..chunk.len()).filter(|&i| window.fits(&first[i]) && window.room(&first[i]) > 0).collect();
            let starts: Vec<_> = readable
                .iter()
                .map(|&i| (chunk[i].language, chunk[i].source.clone(), State::initial(&chunk[i].input)))
                .collect();
            let values = trajectory_uncertainty(model, &starts, scoring.horizon, device)?;
            for (&i, v) in readable.iter().zip(values) {
                scores[chunk_no * 8 + i] = Some(v);
            }
            continue;
        }
        let mut rows: Vec<Example> = vec![];
        let mut owner = vec![];
        for (i, c) in chunk.iter().enumerate() {
            let state = State::initial(&c.input);
            for k in JUMPS {
                let asked = Example::query(encode_context_in(c.language, &c.source, &state, k));
                if window.room(&asked) > 0 {
                    rows.push(asked);
                    owner.push(chunk_no * 8 + i);
                }
            }
        }
        if rows.is_empty() {
            continue;
        }
        let values = match strategy {
            Strategy::Entropy => uncertainty(model, &rows, device)?,
            _ => disagreement(model, &rows, scoring.bald_samples, device)?,
        };
        let mut sums: HashMap<usize, (f64, usize)> = HashMap::new();
        for (o, v) in owner.into_iter().zip(values) {
            let e = sums.entry(o).or_default();
            *e = (e.0 + v, e.1 + 1);
        }
        for (o, (sum, n)) in sums {
            scores[o] = Some(sum / n as f64);
        }
    }
    Ok(Scores { scores, embeddings: embedded, elapsed: started.elapsed() })
}

/// Picks `n` candidates: best score first (random order for `random` and
/// for unscored ones), at most `per_family` per family while others are
/// left, then whatever remains. With `spread` (each candidate's embedding
/// and a weight λ in (0, 1]), the batch is built greedily instead, each
/// pick the best of (1 - λ) × its score's rank (1 for the best, 0 for the
/// worst or unscored) plus λ × its distance to the nearest pick so far
/// (half of 1 - cosine; 1 for the first): ranked batch-mode sampling, so
/// a batch does not spend itself on candidates the model reads alike.
pub fn select(
    candidates: &[Candidate],
    scores: &[Option<f64>],
    (n, per_family): (usize, usize),
    spread: Option<(&[Option<Vec<f32>>], f64)>,
    rng: &mut impl Rng,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.shuffle(rng);
    // Stable: ties and unscored candidates keep the shuffled order.
    order.sort_by(|&a, &b| {
        let key = |i: usize| scores[i].unwrap_or(f64::NEG_INFINITY);
        key(b).total_cmp(&key(a))
    });
    if let Some((embedded, weight)) = spread.filter(|(_, w)| *w > 0.0) {
        order = spread_out(&order, scores, embedded, (weight, n, per_family), candidates);
    }
    let mut taken: HashMap<&str, usize> = HashMap::new();
    let mut chosen = vec![];
    for &i in &order {
        let used = taken.entry(candidates[i].family.as_str()).or_default();
        if chosen.len() < n && *used < per_family {
            *used += 1;
            chosen.push(i);
        }
    }
    for &i in &order {
        if chosen.len() < n && !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen
}

/// `order` (best first) re-ranked greedily for a spread batch: see
/// [`select`]. The first `n` it returns respect the family cap; the rest
/// follow in `order`'s order.
fn spread_out(
    order: &[usize],
    scores: &[Option<f64>],
    embedded: &[Option<Vec<f32>>],
    (weight, n, per_family): (f64, usize, usize),
    candidates: &[Candidate],
) -> Vec<usize> {
    let scored = order.iter().filter(|&&i| scores[i].is_some()).count();
    let rank = |pos: usize, i: usize| {
        if scores[i].is_none() || scored < 2 { 0.0 } else { 1.0 - pos as f64 / (scored - 1) as f64 }
    };
    let ranked: Vec<(usize, f64)> = order.iter().enumerate().map(|(pos, &i)| (i, rank(pos, i))).collect();
    let distance = |a: &[f32], b: &[f32]| {
        let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        f64::from((1.0 - cos).clamp(0.0, 2.0)) / 2.0
    };
    let mut chosen: Vec<usize> = vec![];
    let mut taken: HashMap<&str, usize> = HashMap::new();
    while chosen.len() < n {
        let value = |&(i, r): &(usize, f64)| {
            let near = embedded[i].as_deref().map_or(0.0, |e| {
                chosen.iter().filter_map(|&j| embedded[j].as_deref()).map(|c| distance(e, c)).fold(1.0, f64::min)
            });
            (1.0 - weight) * r + weight * near
        };
        let open = ranked.iter().filter(|(i, _)| {
            !chosen.contains(i) && taken.get(candidates[*i].family.as_str()).copied().unwrap_or(0) < per_family
        });
        // The first of equals wins: ties keep `order`.
        let Some(best) = open.fold(None::<((usize, f64), f64)>, |best, c| {
            let v = value(c);
            match best {
                Some((_, bv)) if bv >= v => best,
                _ => Some((*c, v)),
            }
        }) else {
            break;
        };
        *taken.entry(candidates[best.0.0].family.as_str()).or_default() += 1;
        chosen.push(best.0.0);
    }
    let rest = order.iter().copied().filter(|i| !chosen.contains(i)).collect::<Vec<_>>();
    chosen.into_iter().chain(rest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cand(family: &str) -> Candidate {
        Candidate {
            language: Language::Python,
            source: "x = 1\n".into(),
            input: String::new(),
            seed: 0,
            family: family.into(),
            origin: Origin::Generated,
            from: Source::Plain,
        }
    }

    #[test]
    fn selection_takes_the_most_uncertain_but_caps_each_family() {
        let cands = vec![cand("a"), cand("a"), cand("a"), cand("b"), cand("c")];
        let scores = vec![Some(5.0), Some(4.0), Some(3.0), Some(1.0), None];
        let mut rng = StdRng::seed_from_u64(1);
        let picked = select(&cands, &scores, (3, 2), None, &mut rng);
        assert_eq!(picked, vec![0, 1, 3]);
        // With too few families the cap gives way rather than leaving the batch short.
        let picked = select(&cands[..3], &scores[..3], (3, 1), None, &mut rng);
        assert_eq!(picked, vec![0, 1, 2]);
    }

    #[test]
    fn a_spread_batch_passes_over_candidates_the_model_reads_alike() {
        let cands: Vec<Candidate> = ["a", "b", "c", "d"].into_iter().map(cand).collect();
        let scores = vec![Some(4.0), Some(3.0), Some(2.0), Some(1.0)];
        // The two best are read alike; the third is read differently.
        let unit = |x: f32, y: f32| Some(vec![x, y]);
        let embedded = vec![unit(1.0, 0.0), unit(1.0, 0.0), unit(0.0, 1.0), unit(0.6, 0.8)];
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(select(&cands, &scores, (2, 2), None, &mut rng), vec![0, 1], "by score alone");
        let spread = select(&cands, &scores, (2, 2), Some((&embedded, 0.5)), &mut rng);
        assert_eq!(spread[..2], [0, 2], "the best, then the best read differently: {spread:?}");
        // All weight on the score is the plain order again.
        let plain = select(&cands, &scores, (2, 2), Some((&embedded, 1e-9)), &mut rng);
        assert_eq!(plain[..2], [0, 1]);
        // The family cap still holds.
        let same: Vec<Candidate> = ["a", "a", "a", "b"].into_iter().map(cand).collect();
        let capped = select(&same, &scores, (3, 1), Some((&embedded, 0.5)), &mut rng);
        assert_eq!(capped[..2], [0, 3], "{capped:?}");
    }

    #[test]
    fn same_seed_draws_the_same_candidates() {
        let surprising = vec![Surprise {
            score: 1.0,
            family: "gen:1".into(),
            language: Language::Python,
            source: generate(1, &GenConfig::default()),
        }];
        let none = Nested { corpus: 0.0, lua: 0.0, js: 0.0, idiomatic: 0.0, shaped: 0.0, hard: 0.0, chance: 0.0 };
        let plain = Generating { config: &GenConfig::default(), shares: none };
        let draw = |seed| draw_candidates(20, &surprising, plain, None, &mut StdRng::seed_from_u64(seed));
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let a = draw(7);
        assert!(a.iter().any(|c| c.family == "gen:1") && a.iter().any(|c| c.family != "gen:1"));
        let idiomatic_half = Generating { shares: Nested { idiomatic: 0.5, ..none }, ..plain };
        let mixed = draw_candidates(40, &[], idiomatic_half, None, &mut StdRng::seed_from_u64(7));
        let idioms: Vec<&Candidate> = mixed.iter().filter(|c| c.family.starts_with("idioms:")).collect();
        assert!((8..=32).contains(&idioms.len()), "{} of 40 idiomatic", idioms.len());
        let program: u64 = idioms[0].family["idioms:".len()..].parse().unwrap();
        assert_eq!(idioms[0].source, idiomatic(program, &GenConfig::default()));
        let lua_half = Generating { shares: Nested { lua: 0.5, ..none }, ..plain };
        let mixed = draw_candidates(40, &[], lua_half, None, &mut StdRng::seed_from_u64(7));
        let lua: Vec<&Candidate> = mixed.iter().filter(|c| c.language == Language::Lua).collect();
        assert!((8..=32).contains(&lua.len()), "{} of 40 in Lua", lua.len());
        assert!(lua.iter().all(|c| c.family.starts_with("lua:") && c.from == Source::Lua));
        let program: u64 = lua[0].family["lua:".len()..].parse().unwrap();
        assert_eq!(lua[0].source, generate_in(Language::Lua, program, &GenConfig::default()));
        let thirds = Generating { shares: Nested { lua: 0.3, js: 0.3, ..none }, ..plain };
        let mixed = draw_candidates(90, &[], thirds, None, &mut StdRng::seed_from_u64(7));
        let count = |l: Language| mixed.iter().filter(|c| c.language == l).count();
        for language in Language::ALL {
            assert!((12..=48).contains(&count(language)), "{} of 90 in {}", count(language), language.as_str());
        }
        let shares = Nested { idiomatic: 0.2, shaped: 0.2, hard: 0.2, chance: 0.2, ..none };
        let mixed = draw_candidates(250, &[], Generating { shares, ..plain }, None, &mut StdRng::seed_from_u64(7));
        let kinds = [
            (Source::Idioms, "idioms:"),
            (Source::Shaped, "shaped:"),
            (Source::Hard, "hard:"),
            (Source::Chance, "chance:"),
            (Source::Plain, "gen:"),
        ];
        for (from, prefix) in kinds {
            let some: Vec<&Candidate> = mixed.iter().filter(|c| c.from == from).collect();
            assert!((25..=75).contains(&some.len()), "{} of 250 from {from:?}", some.len());
            assert!(some.iter().all(|c| c.family.starts_with(prefix)));
        }
        let one = mixed.iter().find(|c| c.from == Source::Shaped).unwrap();
        let program: u64 = one.family["shaped:".len()..].parse().unwrap();
        assert_eq!(one.source, shaped(program, &GenConfig::default()));
        let hard = mixed.iter().find(|c| c.from == Source::Hard).unwrap();
        let program: u64 = hard.family["hard:".len()..].parse().unwrap();
        assert_eq!(hard.source, generate(program, &GenConfig::harder()));
        let chance = mixed.iter().find(|c| c.from == Source::Chance).unwrap();
        assert!(chance.source.starts_with("import random"));
        let mixed = draw_candidates(90, &[], thirds, None, &mut StdRng::seed_from_u64(7));
        let js = mixed.iter().find(|c| c.language == Language::Js).unwrap();
        let program: u64 = js.family["js:".len()..].parse().unwrap();
        assert_eq!(js.source, generate_in(Language::Js, program, &GenConfig::default()));
    }
}
