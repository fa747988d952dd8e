//! Choosing what the model writes: the most likely byte, class and line,
//! or one drawn from the model's distribution at a temperature, so that
//! many rollouts of one program show what it believes can happen (a
//! program that draws `random.randint(1, 6)` has six outcomes, and one
//! greedy rollout shows one of them).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tch::{Device, Kind, Tensor};

use crate::encode::State;
use crate::foresee::{Code, Foreseen, ends_run};
use crate::model::{ModelError, WorldModel};

/// How the model's choices are made.
#[derive(Debug)]
pub enum Choice {
    /// The most likely each time (and a delta cut at its most likely stop).
    Greedy,
    /// Drawn from the model's distribution sharpened or flattened by
    /// `temperature` (1: as the model gives it), with `rng`; a delta ends
    /// where an end-of-delta is drawn.
    Sample {
        /// Divides the logits before the softmax; must be positive.
        temperature: f64,
        /// The draws' source: one seed gives the same rollouts again.
        rng: Box<StdRng>,
    },
}

impl Choice {
    /// Sampling at `temperature` from `seed`; refuses a temperature that is
    /// not a positive number.
    pub fn sample(temperature: f64, seed: u64) -> Result<Self, ModelError> {
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(ModelError::Config(format!("a sampling temperature must be positive, not {temperature}")));
        }
        Ok(Choice::Sample { temperature, rng: Box::new(StdRng::seed_from_u64(seed)) })
    }

    /// Whether choices are drawn rather than the most likely.
    pub fn samples(&self) -> bool {
        matches!(self, Choice::Sample { .. })
    }

    /// One index per row of `logits` (rows, V): the largest, or one drawn
    /// from softmax(logits / temperature). Masked entries (-inf) are never
    /// drawn.
    pub(super) fn choose(&mut self, logits: &Tensor) -> Result<Vec<i64>, ModelError> {
        match self {
            Choice::Greedy => Ok(Vec::<i64>::try_from(&logits.argmax(-1, false).to(Device::Cpu))?),
            Choice::Sample { temperature, rng } => {
                let (rows, width) = logits.size2()?;
                let p = (logits.to_kind(Kind::Double) / *temperature).softmax(-1, Kind::Double);
                let p = Vec::<f64>::try_from(&p.to(Device::Cpu).reshape([-1]))?;
                Ok((0..rows as usize).map(|r| draw(&p[r * width as usize..(r + 1) * width as usize], rng)).collect())
            }
        }
    }
}

/// An index drawn in proportion to `weights` (the largest where they do
/// not sum to a positive number).
fn draw(weights: &[f64], rng: &mut StdRng) -> i64 {
    let total: f64 = weights.iter().filter(|w| w.is_finite()).sum();
    if total.is_nan() || total <= 0.0 {
        let largest = |best: usize, (i, w): (usize, &f64)| if *w > weights[best] { i } else { best };
        return weights.iter().enumerate().fold(0, largest) as i64;
    }
    let mut left = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, &w) in weights.iter().enumerate().filter(|(_, w)| w.is_finite() && **w > 0.0) {
        last = i;
        if left < w {
            return i as i64;
        }
        left -= w;
    }
    last as i64
}

/// How often each value came out of `values`, as (value, share), the most
/// frequent first (ties in the values' order).
pub fn distribution(values: impl IntoIterator<Item = String>) -> Vec<(String, f64)> {
    let mut counts: Vec<(String, usize)> = vec![];
    let mut n = 0;
    for v in values {
        n += 1;
        match counts.iter_mut().find(|(seen, _)| *seen == v) {
            Some((_, c)) => *c += 1,
            None => counts.push((v, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts.into_iter().map(|(v, c)| (v, c as f64 / n as f64)).collect()
}

/// `samples` rollouts of `code` from `start`, each drawn with `choice`
/// until the model predicts the program's end, for at most `horizon`
/// steps, or until `stop(i, h, state)` ends rollout `i` after step `h`
/// (as [`crate::rollout_until`]'s); all of them decoded side by side.
pub fn foresee_sampled(
    model: &WorldModel,
    (code, start): (Code<'_>, &State),
    (samples, horizon): (usize, usize),
    (choice, device): (&mut Choice, Device),
    mut stop: impl FnMut(usize, usize, &State) -> bool,
) -> Result<Vec<Foreseen>, ModelError> {
    let starts = vec![code.at(start); samples];
    let ended = |i: usize, h: usize, s: &State| ends_run(s) || stop(i, h, s);
    let paths = super::rollout_choosing(model, &starts, horizon, choice, device, ended)?;
    Ok(paths.iter().map(|path| Foreseen::of(model, (code, start), path)).collect())
}

/// What each of `rollouts` printed, as a distribution ([`distribution`]).
pub fn outputs(rollouts: &[Foreseen]) -> Vec<(String, f64)> {
    distribution(rollouts.iter().map(Foreseen::stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_weights_and_never_pick_a_masked_entry() {
        let mut rng = StdRng::seed_from_u64(1);
        let weights = [0.0, 0.25, 0.0, 0.75];
        let n = 20_000;
        let picks: Vec<i64> = (0..n).map(|_| draw(&weights, &mut rng)).collect();
        assert!(picks.iter().all(|&i| i == 1 || i == 3));
        let share = picks.iter().filter(|&&i| i == 3).count() as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.015, "{share}");
        assert_eq!(draw(&[0.0, 0.0], &mut rng), 0, "nothing to draw from: the first");
        assert_eq!(draw(&[f64::NAN, 0.2], &mut rng), 1);
    }

    #[test]
    fn a_temperature_flattens_or_sharpens_and_greedy_takes_the_largest() {
        let logits = Tensor::from_slice(&[0.0f32, 1.0, f32::NEG_INFINITY, 0.5, 3.0, 0.0]).reshape([2, 3]);
        assert_eq!(Choice::Greedy.choose(&logits).unwrap(), [1, 1]);
        let share_of_top = |t: f64| {
            let mut c = Choice::sample(t, 7).unwrap();
            let picks: Vec<Vec<i64>> = (0..4000).map(|_| c.choose(&logits).unwrap()).collect();
            assert!(picks.iter().all(|p| p[0] != 2), "a masked line is never drawn");
            picks.iter().filter(|p| p[1] == 1).count() as f64 / picks.len() as f64
        };
        // Row 2 at T = 1: e^3 / (e^0.5 + e^3 + 1), about 0.87.
        let at_one = share_of_top(1.0);
        assert!((at_one - 0.872).abs() < 0.03, "{at_one}");
        assert!(share_of_top(0.25) > 0.99 && share_of_top(4.0) < 0.6);
        assert!(Choice::sample(0.0, 1).is_err() && Choice::sample(f64::NAN, 1).is_err());
    }

    #[test]
    fn a_distribution_counts_each_value_once() {
        let d = distribution(["2", "1", "2", "3"].map(String::from));
        assert_eq!(d, [("2".to_string(), 0.5), ("1".to_string(), 0.25), ("3".to_string(), 0.25)]);
        assert!(distribution(Vec::<String>::new()).is_empty());
    }
}
