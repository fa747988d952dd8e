//! Ranking candidate programs by the model's belief that each prints an
//! expected output: the share of its drawn rollouts that print it, ties
//! broken by how close the nearest rollout came.

use tch::Device;

use super::{Asking, prints};
use crate::encode::State;
use crate::foresee::{Code, Foreseen, ends_run};
use crate::infer::{Choice, rollout_choosing, rollout_until};
use crate::model::{ModelError, WorldModel};

/// Longest output compared byte by byte for [`closeness`]; the rest of a
/// longer one counts as different.
const COMPARED: usize = 2048;

/// One candidate's place in a ranking.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    /// Its index among the candidates given.
    pub index: usize,
    /// The share of its drawn rollouts that run to the program's end and
    /// print the expected output (the greedy rollout's 0 or 1 when none are
    /// drawn).
    pub probability: f64,
    /// How close the nearest of its rollouts (greedy or drawn) came to the
    /// expected output, 0 to 1 ([`closeness`]).
    pub closeness: f64,
    /// What its greedy rollout printed.
    pub printed: String,
    /// What the ranking orders by: `probability`, with `closeness` breaking
    /// ties (it moves a score by less than one draw does).
    pub score: f64,
}

/// 1 minus the edit distance between `a` and `b` (whitespace at their ends
/// ignored) over the longer one's length, in bytes: 1 for the same output,
/// 0 for nothing in common. Only the first [`COMPARED`] bytes of each are
/// aligned; past them the rest are compared byte by byte, each difference
/// and each byte one is longer by counting as an edit.
pub fn closeness(a: &str, b: &str) -> f64 {
    let (a, b) = (a.trim_end().as_bytes(), b.trim_end().as_bytes());
    let longest = a.len().max(b.len());
    if a == b {
        return 1.0;
    }
    let (x, y) = (&a[..a.len().min(COMPARED)], &b[..b.len().min(COMPARED)]);
    let mut row: Vec<usize> = (0..=y.len()).collect();
    for (i, &cx) in x.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cy) in y.iter().enumerate() {
            let next = (diagonal + usize::from(cx != cy)).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    let (rest_a, rest_b) = (&a[x.len()..], &b[y.len()..]);
    let beyond = rest_a.iter().zip(rest_b).filter(|(p, q)| p != q).count() + rest_a.len().abs_diff(rest_b.len());
    1.0 - ((row[y.len()] + beyond) as f64 / longest as f64).min(1.0)
}

/// `candidates` (program, stdin) ordered by the model's belief that each
/// prints `expected`, the likeliest first: every candidate's greedy
/// rollout and `asking.samples` drawn ones, all decoded side by side.
/// `stop(h)` ends every rollout after step `h` (a deadline).
pub fn rank(
    model: &WorldModel,
    candidates: &[(Code<'_>, &str)],
    expected: &str,
    asking: Asking,
    device: Device,
    mut stop: impl FnMut(usize) -> bool,
) -> Result<Vec<Ranked>, ModelError> {
    let starts: Vec<_> = candidates.iter().map(|(code, input)| code.at(&State::initial(input))).collect();
    let foreseen = |paths: Vec<crate::Rollout>, per: usize| -> Vec<Foreseen> {
        let of = |(i, p): (usize, crate::Rollout)| {
            let (code, input) = candidates[i / per];
            Foreseen::of(model, (code, &State::initial(input)), &p)
        };
        paths.into_iter().enumerate().map(of).collect()
    };
    let ended = |_: usize, h: usize, s: &State| ends_run(s) || stop(h);
    let greedy = foreseen(rollout_until(model, &starts, asking.horizon, device, ended)?, 1);
    let mut drawn = vec![];
    if asking.samples > 0 {
        let each: Vec<_> = starts.iter().flat_map(|s| std::iter::repeat_n(s.clone(), asking.samples)).collect();
        let mut choice = Choice::sample(asking.temperature, asking.seed)?;
        let ended = |_: usize, h: usize, s: &State| ends_run(s) || stop(h);
        drawn = foreseen(rollout_choosing(model, &each, asking.horizon, &mut choice, device, ended)?, asking.samples);
    }
    let mut ranked: Vec<Ranked> = greedy
        .iter()
        .enumerate()
        .map(|(index, g)| {
            let own =
                &drawn[(index * asking.samples).min(drawn.len())..((index + 1) * asking.samples).min(drawn.len())];
            let printed = g.stdout();
            let probability = match own.len() {
                0 => f64::from(u8::from(prints(g, expected))),
                n => own.iter().filter(|f| prints(f, expected)).count() as f64 / n as f64,
            };
            let closeness =
                own.iter().map(|f| closeness(&f.stdout(), expected)).fold(closeness(&printed, expected), f64::max);
            let score = probability + closeness / (own.len() + 1) as f64;
            Ranked { index, probability, closeness, printed, score }
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(ranked)
}

/// The area under the ROC curve of `scores` for telling the `positive`
/// ones from the rest: the chance that a positive drawn at random scores
/// above a negative drawn at random, ties counting half. `None` without
/// both kinds.
pub fn auroc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let pos: Vec<f64> = scores.iter().zip(positive).filter(|(_, p)| **p).map(|(s, _)| *s).collect();
    let neg: Vec<f64> = scores.iter().zip(positive).filter(|(_, p)| !**p).map(|(s, _)| *s).collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let wins: f64 = pos
        .iter()
        .flat_map(|p| {
            neg.iter().map(move |n| {
                if p > n {
                    1.0
                } else if p == n {
                    0.5
                } else {
                    0.0
                }
            })
        })
        .sum();
    Some(wins / (pos.len() * neg.len()) as f64)
}
