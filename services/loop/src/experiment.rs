//! What `curio experiment` reports: strategies × seeds on one budget, each
//! curve on two axes (interpreter queries, and learner seconds of training
//! plus scoring), as a mean with a spread per point, and how many queries
//! and seconds each strategy needed to reach the baseline's final value,
//! as a ratio with an interval across seeds.

use std::collections::BTreeMap;

use serde::Serialize;

/// One point of one run's curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Interpreter queries spent.
    pub queries: f64,
    /// Learner seconds spent (training and scoring).
    pub seconds: f64,
    /// The metric there.
    pub value: f64,
}

/// One run of an experiment: a strategy on a seed, one metric's curve in
/// query order.
#[derive(Clone, Debug)]
pub struct Leg {
    /// The strategy's name.
    pub strategy: String,
    /// The run's seed (candidates and starting weights).
    pub seed: u64,
    /// Its curve.
    pub points: Vec<Point>,
}

/// The seeds' values at one place on an axis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Band {
    /// Queries or learner seconds.
    pub x: f64,
    /// Mean over the seeds.
    pub mean: f64,
    /// The 95% interval of the mean (Student's t over the seeds); equal
    /// to the mean with one seed.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// Lowest seed.
    pub min: f64,
    /// Highest seed.
    pub max: f64,
    /// Seeds whose curve reaches this far.
    pub seeds: usize,
}

/// A strategy's curve over the seeds, on each axis.
#[derive(Clone, Debug, Serialize)]
pub struct Bands {
    /// Against interpreter queries, at the evaluations' query counts.
    pub queries: Vec<Band>,
    /// Against learner seconds, at even steps.
    pub seconds: Vec<Band>,
}

/// What a strategy needed, against the baseline's final value on the same
/// seed, as a share of what the baseline spent: per seed, and their mean
/// with its interval over the seeds that got there.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// `None`: the strategy never reached the baseline's final value, or
    /// the baseline rose less than [`MIN_RISE`] above its first point
    /// (nothing to reach).
    pub per_seed: Vec<Option<f64>>,
    /// Mean over the seeds that got there.
    pub mean: Option<f64>,
    /// Lower end of its 95% interval.
    pub low: Option<f64>,
    /// Upper end.
    pub high: Option<f64>,
    /// Seeds on which the strategy reached the baseline's final value.
    pub reached: usize,
    /// Seeds on which the baseline rose at all.
    pub comparable: usize,
}

/// A strategy's two ratios against the baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Ratios {
    /// Queries to the baseline's final value over the baseline's queries.
    pub query_ratio: Ratio,
    /// The same in learner seconds (training plus scoring).
    pub compute_ratio: Ratio,
}

/// One metric over the experiment.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The metric's name on the curve.
    pub metric: String,
    /// Each strategy's curve over the seeds.
    pub strategies: BTreeMap<String, Bands>,
    /// Every strategy but the baseline.
    pub ratios: BTreeMap<String, Ratios>,
}

/// How far the baseline must rise from its first point for its final value
/// to be a target: less is within a suite's noise (one point), and any
/// curve would "reach" it at once, as a flat one does.
pub const MIN_RISE: f64 = 0.01;

/// Two-sided 95% quantiles of Student's t, by degrees of freedom 1..=30.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// Mean and its 95% interval (the mean itself for one value).
pub fn interval(values: &[f64]) -> Option<(f64, f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some((mean, mean, mean));
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Past the table, 1.96 + 2.4 / df is within 0.003 of the quantile.
    let t = T95.get(n - 2).copied().unwrap_or(1.96 + 2.4 / (n - 1) as f64);
    let half = t * (var / n as f64).sqrt();
    Some((mean, mean - half, mean + half))
}

/// The curve's value at `x` (linear between points), if `x` lies within it.
fn at(curve: &[(f64, f64)], x: f64) -> Option<f64> {
    let (first, last) = (curve.first()?, curve.last()?);
    if x < first.0 || x > last.0 {
        return None;
    }
    if let Some(i) = curve.iter().position(|p| p.0 >= x) {
        if i == 0 || curve[i].0 == x {
            return Some(curve[i].1);
        }
        let ((x0, v0), (x1, v1)) = (curve[i - 1], curve[i]);
        return Some(v0 + (v1 - v0) * (x - x0) / (x1 - x0));
    }
    None
}

/// Where the curve first reaches `target` (linear between points).
pub fn first_reach(curve: &[(f64, f64)], target: f64) -> Option<f64> {
    let first = curve.first()?;
    if first.1 >= target {
        return Some(first.0);
    }
    curve.windows(2).find(|w| w[1].1 >= target).map(|w| {
        let ((x0, v0), (x1, v1)) = (w[0], w[1]);
        x0 + (x1 - x0) * (target - v0) / (v1 - v0)
    })
}

/// Mean and spread at each place of `grid` over the curves that reach it.
fn bands(curves: &[Vec<(f64, f64)>], grid: &[f64]) -> Vec<Band> {
    grid.iter()
        .filter_map(|&x| {
            let values: Vec<f64> = curves.iter().filter_map(|c| at(c, x)).collect();
            let (mean, low, high) = interval(&values)?;
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some(Band { x, mean, low, high, min, max, seeds: values.len() })
        })
        .collect()
}

/// Places on the seconds axis: `n` even steps up to where every seed's
/// curve still reaches (so each mean is over all seeds).
fn seconds_grid(curves: &[Vec<(f64, f64)>], n: usize) -> Vec<f64> {
    let end = curves.iter().filter_map(|c| c.last().map(|p| p.0)).fold(f64::INFINITY, f64::min);
    let start = curves.iter().filter_map(|c| c.first().map(|p| p.0)).fold(0.0, f64::max);
    if !end.is_finite() || end <= start {
        return vec![];
    }
    // The last place is `end` itself: `start + (end - start)` can round past
    // it and leave the shortest seed out of the last mean.
    (0..=n).map(|i| if i == n { end } else { start + (end - start) * i as f64 / n as f64 }).collect()
}

fn ratio(per_seed: Vec<Option<f64>>, comparable: usize) -> Ratio {
    let got: Vec<f64> = per_seed.iter().flatten().copied().collect();
    let summary = interval(&got);
    Ratio {
        reached: got.len(),
        comparable,
        mean: summary.map(|s| s.0),
        low: summary.map(|s| s.1),
        high: summary.map(|s| s.2),
        per_seed,
    }
}

/// Summarises one metric's legs against `baseline` (a strategy among them).
pub fn summarise(metric: &str, legs: &[Leg], baseline: &str) -> Summary {
    let mut by_strategy: BTreeMap<&str, Vec<&Leg>> = BTreeMap::new();
    for leg in legs.iter().filter(|l| !l.points.is_empty()) {
        by_strategy.entry(&leg.strategy).or_default().push(leg);
    }
    let axis = |leg: &Leg, seconds: bool| -> Vec<(f64, f64)> {
        leg.points.iter().map(|p| (if seconds { p.seconds } else { p.queries }, p.value)).collect()
    };
    let mut strategies = BTreeMap::new();
    for (strategy, runs) in &by_strategy {
        let on_queries: Vec<_> = runs.iter().map(|l| axis(l, false)).collect();
        let on_seconds: Vec<_> = runs.iter().map(|l| axis(l, true)).collect();
        let mut grid: Vec<f64> = on_queries.iter().flatten().map(|p| p.0).collect();
        grid.sort_by(f64::total_cmp);
        grid.dedup();
        let bands =
            Bands { queries: bands(&on_queries, &grid), seconds: bands(&on_seconds, &seconds_grid(&on_seconds, 24)) };
        strategies.insert(strategy.to_string(), bands);
    }
    let base: BTreeMap<u64, &Leg> =
        by_strategy.get(baseline).into_iter().flatten().map(|leg| (leg.seed, *leg)).collect();
    // Every seed of the experiment has its place in `per_seed`, in order,
    // even where a leg has no curve yet (an experiment stopped early).
    let mut seeds: Vec<u64> = legs.iter().map(|l| l.seed).collect();
    seeds.sort();
    seeds.dedup();
    let mut ratios = BTreeMap::new();
    for (strategy, runs) in by_strategy.iter().filter(|(s, _)| **s != baseline) {
        let (mut queries, mut seconds, mut comparable) = (vec![], vec![], 0);
        for seed in &seeds {
            let (Some(b), Some(leg)) = (base.get(seed), runs.iter().find(|l| l.seed == *seed)) else {
                queries.push(None);
                seconds.push(None);
                continue;
            };
            let (first, last) = (b.points[0], *b.points.last().expect("points"));
            // A baseline that never rose above where it began leaves
            // nothing to reach: any curve would "reach" it at once.
            if last.value < first.value + MIN_RISE {
                queries.push(None);
                seconds.push(None);
                continue;
            }
            comparable += 1;
            let reach = |seconds: bool| first_reach(&axis(leg, seconds), last.value);
            queries.push(reach(false).map(|q| q / last.queries.max(1.0)));
            seconds.push(reach(true).map(|s| s / last.seconds.max(1e-9)));
        }
        ratios.insert(
            strategy.to_string(),
            Ratios { query_ratio: ratio(queries, comparable), compute_ratio: ratio(seconds, comparable) },
        );
    }
    Summary { metric: metric.to_string(), strategies, ratios }
}

/// One line for a ratio: its mean, interval and how many seeds got there.
pub fn describe(name: &str, r: &Ratio) -> String {
    let seeds = r.per_seed.len();
    match (r.mean, r.low, r.high) {
        (Some(m), Some(lo), Some(hi)) => format!(
            "{name} {m:.2} [{lo:.2}, {hi:.2}] (reached on {} of {} seeds where the baseline rose; {} seeds)",
            r.reached, r.comparable, seeds
        ),
        _ if r.comparable == 0 => {
            format!("{name}: none (the baseline rose less than {MIN_RISE} on every one of {seeds} seeds)")
        }
        _ => format!("{name}: never reached the baseline's final value ({} comparable seeds)", r.comparable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(strategy: &str, seed: u64, points: &[(f64, f64, f64)]) -> Leg {
        let points = points.iter().map(|&(queries, seconds, value)| Point { queries, seconds, value }).collect();
        Leg { strategy: strategy.into(), seed, points }
    }

    #[test]
    fn the_interval_is_students_t_over_the_seeds() {
        let (mean, low, high) = interval(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(mean, 2.0);
        // sd 1, n 3: half-width 4.303 / sqrt(3).
        assert!((high - mean - 4.303 / 3f64.sqrt()).abs() < 1e-9 && (mean - low - (high - mean)).abs() < 1e-12);
        assert_eq!(interval(&[0.5]), Some((0.5, 0.5, 0.5)));
        // Past the table (41 seeds, 40 degrees of freedom: t = 2.021).
        let many: Vec<f64> = (0..41).map(|i| f64::from(i % 2)).collect();
        let (m, _, hi) = interval(&many).unwrap();
        let sd = (many.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 40.0).sqrt();
        assert!(((hi - m) / (sd / 41f64.sqrt()) - 2.021).abs() < 0.003);
        assert_eq!(interval(&[]), None);
    }

    #[test]
    fn ratios_are_per_seed_against_the_baselines_final_value() {
        let legs = vec![
            // Seed 0: random ends at 0.5 after 64 queries and 100 s; bald gets
            // there at 32 queries, 40 s.
            leg("random", 0, &[(0.0, 0.0, 0.1), (32.0, 50.0, 0.3), (64.0, 100.0, 0.5)]),
            leg("bald", 0, &[(0.0, 0.0, 0.1), (32.0, 40.0, 0.5), (64.0, 90.0, 0.6)]),
            // Seed 1: bald gets there at 48 (halfway between 32 and 64), 80 s.
            leg("random", 1, &[(0.0, 0.0, 0.1), (32.0, 50.0, 0.4), (64.0, 100.0, 0.6)]),
            leg("bald", 1, &[(0.0, 0.0, 0.1), (32.0, 60.0, 0.4), (64.0, 100.0, 0.8)]),
            // Seed 2: random rose by less than a point, so there is nothing to compare.
            leg("random", 2, &[(0.0, 0.0, 0.2), (64.0, 100.0, 0.205)]),
            leg("bald", 2, &[(0.0, 0.0, 0.2), (64.0, 100.0, 0.9)]),
        ];
        let s = summarise("delta_exact", &legs, "random");
        let bald = &s.ratios["bald"];
        assert!(!s.ratios.contains_key("random"));
        assert_eq!(bald.query_ratio.per_seed, vec![Some(0.5), Some(0.75), None]);
        assert_eq!((bald.query_ratio.reached, bald.query_ratio.comparable), (2, 2));
        assert_eq!(bald.query_ratio.mean, Some(0.625));
        assert!(bald.query_ratio.low.unwrap() < 0.625 && bald.query_ratio.high.unwrap() > 0.625);
        assert_eq!(bald.compute_ratio.per_seed, vec![Some(0.4), Some(0.8), None]);
        assert!(describe("query_ratio", &bald.query_ratio).starts_with("query_ratio 0.62"));

        // The bands: one per query point, over the seeds.
        let random = &s.strategies["random"].queries;
        assert_eq!(random.iter().map(|b| b.x).collect::<Vec<_>>(), vec![0.0, 32.0, 64.0]);
        assert_eq!(random[2].seeds, 3);
        assert!((random[2].mean - (0.5 + 0.6 + 0.205) / 3.0).abs() < 1e-12);
        assert_eq!((random[2].min, random[2].max), (0.205, 0.6));
        // Seconds: even steps to where every seed still reaches.
        let seconds = &s.strategies["bald"].seconds;
        assert_eq!(seconds.len(), 25);
        assert_eq!(seconds.last().unwrap().x, 90.0);
        assert!(seconds.iter().all(|b| b.seeds == 3));
    }

    #[test]
    fn the_last_place_on_the_seconds_axis_is_on_every_curve() {
        // start + (end - start) rounds past end for these two.
        let (start, end) = (0.04332, 0.384423315);
        assert!(start + (end - start) * 24.0 / 24.0 > end);
        let curves = vec![vec![(start, 0.1), (end, 0.3)], vec![(0.0, 0.1), (end + 1.0, 0.4)]];
        let grid = seconds_grid(&curves, 24);
        assert_eq!(grid.last(), Some(&end));
        assert!(bands(&curves, &grid).iter().all(|b| b.seeds == 2));
    }

    #[test]
    fn a_strategy_that_never_gets_there_has_no_ratio() {
        let legs = vec![
            leg("random", 0, &[(0.0, 0.0, 0.1), (64.0, 100.0, 0.5)]),
            leg("bald", 0, &[(0.0, 0.0, 0.1), (64.0, 100.0, 0.4)]),
            // Seed 1 stopped before bald ran: its place is kept, empty.
            leg("random", 1, &[(0.0, 0.0, 0.1), (64.0, 100.0, 0.5)]),
            leg("bald", 1, &[]),
        ];
        let r = &summarise("delta_exact", &legs, "random").ratios["bald"].query_ratio;
        assert_eq!((r.per_seed.clone(), r.mean, r.reached, r.comparable), (vec![None, None], None, 0, 1));
        assert!(describe("query_ratio", r).contains("never reached"), "{}", describe("query_ratio", r));
    }
}
