//! How close a model's drawn rollouts come to a program's real outputs
//! over many seeds: the distance between the two distributions, the
//! likelihood of the real outputs under the model's, and the same for two
//! baselines (the greedy rollout's output as a point mass, and the outputs
//! of the training runs pooled, whatever the program).

use serde::Serialize;

/// A distribution over outputs: (output, probability), as
/// [`crate::distribution`] gives it.
pub type Outputs = [(String, f64)];

/// Probability a model gives an output it never drew, so one unseen real
/// output does not make the log-likelihood minus infinity.
pub const UNSEEN: f64 = 1e-3;

/// Total variation distance between two distributions over outputs: half
/// the summed absolute difference, 0 when equal, 1 when disjoint.
pub fn total_variation(p: &Outputs, q: &Outputs) -> f64 {
    let at = |d: &Outputs, o: &str| d.iter().find(|(x, _)| x == o).map_or(0.0, |(_, w)| *w);
    let only_p: f64 = p.iter().map(|(o, w)| (w - at(q, o)).abs()).sum();
    let only_q: f64 = q.iter().filter(|(o, _)| !p.iter().any(|(x, _)| x == o)).map(|(_, w)| *w).sum();
    (only_p + only_q) / 2.0
}

/// Mean log-probability of `real` outputs (one per run) under `model`,
/// each at least [`UNSEEN`], nats.
pub fn log_likelihood(real: &[String], model: &Outputs) -> f64 {
    let p = |o: &String| model.iter().find(|(x, _)| x == o).map_or(0.0, |(_, w)| *w).max(UNSEEN);
    real.iter().map(|o| p(o).ln()).sum::<f64>() / real.len().max(1) as f64
}

/// One program's distributions, compared.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ChanceScore {
    /// Total variation between the real outputs and the model's draws, the
    /// greedy output as a point mass, and the pooled training outputs.
    pub tv: [f64; 3],
    /// Mean log-likelihood of the real outputs under each of the three.
    pub log_likelihood: [f64; 3],
    /// Each one's confidence in its likeliest output (1 for the greedy
    /// point mass), and the share of real runs that printed that output:
    /// the pairs [`calibration_error`] bins.
    pub top: [(f64, f64); 3],
}

/// Expected calibration error of (confidence, accuracy) pairs, in 10 bins
/// of confidence: the mean over pairs of |mean confidence − mean accuracy|
/// of each one's bin. 0 when every stated confidence comes true as often.
pub fn calibration_error(pairs: &[(f64, f64)]) -> f64 {
    let mut bins = [(0.0, 0.0, 0usize); 10];
    for &(confidence, accuracy) in pairs {
        let bin = &mut bins[((confidence * 10.0) as usize).min(9)];
        *bin = (bin.0 + confidence, bin.1 + accuracy, bin.2 + 1);
    }
    let n = pairs.len().max(1) as f64;
    bins.iter().map(|(c, a, k)| (c - a).abs() / n * f64::from(u8::from(*k > 0))).sum()
}

/// Scores one program: `real` its outputs, one per seed; `drawn` the
/// model's drawn rollouts' distribution; `greedy` its greedy rollout's
/// output; `pooled` the training runs' outputs.
pub fn score_chance(real: &[String], drawn: &Outputs, greedy: &str, pooled: &Outputs) -> ChanceScore {
    let truth = crate::distribution(real.iter().cloned());
    let point = [(greedy.to_string(), 1.0)];
    let models: [&Outputs; 3] = [drawn, &point, pooled];
    let share = |o: &str| truth.iter().find(|(x, _)| x == o).map_or(0.0, |(_, w)| *w);
    let top = |m: &Outputs| {
        let best = m.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        best.map_or((0.0, 0.0), |(o, w)| (*w, share(o)))
    };
    ChanceScore {
        tv: models.map(|m| total_variation(&truth, m)),
        log_likelihood: models.map(|m| log_likelihood(real, m)),
        top: models.map(top),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
        pairs.iter().map(|(o, p)| (o.to_string(), *p)).collect()
    }

    #[test]
    fn total_variation_is_zero_for_equal_and_one_for_disjoint() {
        let a = d(&[("1\n", 0.5), ("2\n", 0.5)]);
        assert_eq!(total_variation(&a, &a), 0.0);
        assert_eq!(total_variation(&a, &d(&[("3\n", 1.0)])), 1.0);
        let b = d(&[("1\n", 0.25), ("2\n", 0.25), ("3\n", 0.5)]);
        assert!((total_variation(&a, &b) - 0.5).abs() < 1e-12);
        assert_eq!(total_variation(&a, &b), total_variation(&b, &a));
    }

    #[test]
    fn a_die_is_scored_against_a_uniform_guess_a_point_and_the_pool() {
        let real: Vec<String> = ["1", "2", "3", "1", "2", "3"].iter().map(|s| s.to_string()).collect();
        let uniform = d(&[("1", 1.0 / 3.0), ("2", 1.0 / 3.0), ("3", 1.0 / 3.0)]);
        let pooled = d(&[("7", 1.0)]);
        let s = score_chance(&real, &uniform, "2", &pooled);
        assert!(s.tv[0] < 1e-9, "the right distribution: {s:?}");
        // The greedy point mass says 1 for an output a third of runs print.
        assert_eq!(s.top[1], (1.0, 1.0 / 3.0));
        assert_eq!(s.top[2], (1.0, 0.0), "the pool's output is never printed");
        assert!((s.top[0].0 - 1.0 / 3.0).abs() < 1e-9 && (s.top[0].1 - 1.0 / 3.0).abs() < 1e-9);
        assert!(calibration_error(&[s.top[0]]) < 1e-9, "a third said, a third came");
        assert!((calibration_error(&[s.top[1], s.top[2]]) - (2.0 - 1.0 / 3.0) / 2.0).abs() < 1e-9);
        assert_eq!(calibration_error(&[]), 0.0);
        assert!((s.tv[1] - 2.0 / 3.0).abs() < 1e-9, "a point mass on one of three: {s:?}");
        assert_eq!(s.tv[2], 1.0);
        assert!((s.log_likelihood[0] - (1.0f64 / 3.0).ln()).abs() < 1e-9);
        // The point mass: a third of the runs at 1, the rest at UNSEEN.
        let point = (2.0 * UNSEEN.ln()) / 3.0;
        assert!((s.log_likelihood[1] - point).abs() < 1e-9, "{s:?}");
        assert!(s.log_likelihood[0] > s.log_likelihood[1] && s.log_likelihood[1] > s.log_likelihood[2]);
    }
}
