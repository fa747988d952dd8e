//! Finding an input under which a program prints a given output: planning
//! with the model. Inputs are the program's literals outside its bodies and
//! the words of its stdin ([`Changer`]); the model scores many changed
//! inputs by rollouts ([`rank`]), the search widens from the best of them
//! (a beam), and only the few it believes most are run, by the caller's
//! `check`, which is the only judge of an answer. Two baselines spend the
//! same checks without the model: [`climb_search`] runs the same beam with
//! each round's proposals in random order (only what runs show guides it),
//! and [`blind_search`] runs changed inputs taken at random.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tch::Device;

use super::literals::Changer;
use super::{Asking, closeness, rank, same_output};
use crate::model::{ModelError, WorldModel};

/// How an input is searched for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Searching {
    /// Runs of the program the search may ask for (the interpreter budget).
    pub checks: usize,
    /// Changed inputs the model scores each round.
    pub proposals: usize,
    /// Of them, the ones run each round: those the model believes most.
    pub per_round: usize,
    /// The best inputs so far that the next round's changes start from.
    pub beam: usize,
    /// Seed of the changes.
    pub seed: u64,
    /// How the model scores a proposal.
    pub asking: Asking,
}

impl Default for Searching {
    fn default() -> Self {
        Searching {
            checks: 16,
            proposals: 16,
            per_round: 2,
            beam: 4,
            seed: 0,
            asking: Asking { samples: 2, ..Asking::default() },
        }
    }
}

/// One input run by the search, with what the run printed.
#[derive(Clone, Debug, PartialEq)]
pub struct Tried {
    /// The program as run: the one asked about with its literals changed.
    pub source: String,
    /// Its stdin.
    pub input: String,
    /// The model's score for it when it was chosen ([`super::Ranked::score`]);
    /// none for a blind pick.
    pub belief: Option<f64>,
    /// What the run printed, where it ended normally.
    pub printed: Option<String>,
    /// Whether it ended normally printing the target: a found input.
    pub right: bool,
}

/// What a search did: every run in order (the last is the answer where
/// one was found), and how many inputs the model scored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Search {
    /// Every run, in order.
    pub tried: Vec<Tried>,
    /// Changed inputs the model scored (none for a blind search).
    pub scored: usize,
}

impl Search {
    /// The input found, checked by a run.
    pub fn found(&self) -> Option<&Tried> {
        self.tried.last().filter(|t| t.right)
    }
}

/// Why a search stopped without an answer or a spent budget.
#[derive(Debug, thiserror::Error)]
pub enum SearchError<E> {
    /// The model failed to score a proposal.
    #[error("the model: {0}")]
    Model(#[from] ModelError),
    /// The caller's `check` failed to run an input.
    #[error("running an input: {0}")]
    Check(E),
}

/// What the program printed when run as given, where it ended normally
/// (`None` for an error, a limit, a crash).
pub type Printed = Option<String>;

/// An input proposal: its program and stdin, and the search's belief.
struct Proposal {
    source: String,
    input: String,
    score: f64,
    run: bool,
}

/// Searches for a change to `source`'s literals and `input`'s words under
/// which it prints `target`, scoring proposals with `model` and running
/// the likeliest with `check`, until one prints it or `searching.checks`
/// runs are spent. `stop(h)` is the deadline ([`rank`]'s); once it passes
/// the search ends with what it has.
pub fn search_input<E>(
    model: &WorldModel,
    start: (&str, &str),
    target: &str,
    searching: Searching,
    device: Device,
    check: impl FnMut(&str, &str) -> Result<Printed, E>,
    stop: impl FnMut(usize) -> bool,
) -> Result<Search, SearchError<E>> {
    beam(Some((model, device)), start, target, searching, check, stop)
}

/// The beam of [`search_input`] without the model: each round's proposals
/// run in the order they came, so only the runs' outputs (their closeness
/// to `target`) choose where the next changes start. The baseline that
/// tells what the model's scores add.
pub fn climb_search<E>(
    start: (&str, &str),
    target: &str,
    searching: Searching,
    check: impl FnMut(&str, &str) -> Result<Printed, E>,
) -> Result<Search, E> {
    beam(None, start, target, searching, check, |_| false).map_err(|e| match e {
        SearchError::Check(e) => e,
        SearchError::Model(_) => unreachable!("no model is asked"),
    })
}

fn beam<E>(
    model: Option<(&WorldModel, Device)>,
    (source, input): (&str, &str),
    target: &str,
    searching: Searching,
    mut check: impl FnMut(&str, &str) -> Result<Printed, E>,
    mut stop: impl FnMut(usize) -> bool,
) -> Result<Search, SearchError<E>> {
    let changer = Changer::new(source, input, target);
    let mut rng = StdRng::seed_from_u64(searching.seed);
    let mut seen: HashSet<(String, String)> = HashSet::from([(source.to_string(), input.to_string())]);
    let mut known = vec![Proposal { source: source.into(), input: input.into(), score: 0.0, run: true }];
    let mut search = Search::default();
    let mut round = 0u64;
    while search.tried.len() < searching.checks && !stop(0) {
        // Changes from the beam: the best-believed inputs so far.
        let mut order: Vec<usize> = (0..known.len()).collect();
        order.sort_by(|&a, &b| known[b].score.total_cmp(&known[a].score));
        order.truncate(searching.beam.max(1));
        let parents: Vec<(String, String)> =
            order.iter().map(|&i| (known[i].source.clone(), known[i].input.clone())).collect();
        let fresh = propose(&changer, &parents, searching.proposals, &mut seen, &mut rng);
        let mut scores = vec![0.0; fresh.len()];
        if let (Some((model, device)), false) = (model, fresh.is_empty()) {
            // The literals it changes are Python's: the search reads Python.
            let candidates: Vec<(crate::Code<'_>, &str)> =
                fresh.iter().map(|(s, i)| (crate::Code::python(s), i.as_str())).collect();
            let asking = Asking { seed: searching.asking.seed ^ round, ..searching.asking };
            for r in rank(model, &candidates, target, asking, device, &mut stop)? {
                scores[r.index] = r.score;
            }
            search.scored += fresh.len();
        }
        known.extend(fresh.into_iter().zip(scores).map(|((source, input), score)| Proposal {
            source,
            input,
            score,
            run: false,
        }));
        round += 1;
        // Run the ones believed most that were not run yet (the newest
        // first where beliefs tie, as they all do without a model).
        let mut waiting: Vec<usize> = (0..known.len()).rev().filter(|&i| !known[i].run).collect();
        if waiting.is_empty() {
            break;
        }
        waiting.sort_by(|&a, &b| known[b].score.total_cmp(&known[a].score));
        let room = searching.checks - search.tried.len();
        for &i in waiting.iter().take(searching.per_round.max(1).min(room)) {
            if stop(0) {
                return Ok(search);
            }
            let p = &mut known[i];
            let printed = check(&p.source, &p.input).map_err(SearchError::Check)?;
            let right = printed.as_deref().is_some_and(|o| same_output(o, target));
            let belief = model.map(|_| p.score);
            // What the run showed replaces the belief: a near miss is a
            // good place to change from, a failed run is not.
            p.score = printed.as_deref().map_or(-1.0, |o| closeness(o, target));
            p.run = true;
            search.tried.push(Tried { source: p.source.clone(), input: p.input.clone(), belief, printed, right });
            if right {
                return Ok(search);
            }
        }
    }
    Ok(search)
}

/// The baseline at the same interpreter budget: `checks` changed inputs,
/// each one or two changes from the given input or from one run before,
/// picked at random and run, until one prints `target`.
pub fn blind_search<E>(
    (source, input): (&str, &str),
    target: &str,
    checks: usize,
    seed: u64,
    mut check: impl FnMut(&str, &str) -> Result<Printed, E>,
) -> Result<Search, E> {
    let changer = Changer::new(source, input, target);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen: HashSet<(String, String)> = HashSet::from([(source.to_string(), input.to_string())]);
    let mut parents = vec![(source.to_string(), input.to_string())];
    let mut search = Search::default();
    while search.tried.len() < checks {
        let Some((source, input)) = propose(&changer, &parents, 1, &mut seen, &mut rng).pop() else { break };
        let printed = check(&source, &input)?;
        let right = printed.as_deref().is_some_and(|o| same_output(o, target));
        parents.push((source.clone(), input.clone()));
        search.tried.push(Tried { source, input, belief: None, printed, right });
        if right {
            break;
        }
    }
    Ok(search)
}

/// Up to `n` inputs not seen before, each one change (or, one time in
/// three, two) from a parent taken at random.
fn propose(
    changer: &Changer,
    parents: &[(String, String)],
    n: usize,
    seen: &mut HashSet<(String, String)>,
    rng: &mut StdRng,
) -> Vec<(String, String)> {
    let mut out = vec![];
    for _ in 0..n * 16 {
        if out.len() == n {
            break;
        }
        let (source, input) = &parents[rng.random_range(0..parents.len())];
        let Some(mut next) = changer.change((source, input), rng) else { continue };
        if rng.random_range(0..3) == 0
            && let Some(again) = changer.change((&next.0, &next.1), rng)
        {
            next = again;
        }
        if seen.insert(next.clone()) {
            out.push(next);
        }
    }
    out
}
