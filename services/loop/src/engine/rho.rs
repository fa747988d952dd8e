//! The `rho` strategy's choice, made after the runs rather than before
//! them (RHO-LOSS, Mindermann et al., 2022): queries are cheap, so a round
//! runs `rho_pool` times the batch at random and stores every run, then
//! trains first on the runs whose loss is most *reducible*: the model's
//! loss on the run minus a reference model's, a small model trained
//! offline on held-out programs. A run the reference also finds hard is
//! noise or beyond the model for now (not learnable); one the model
//! already predicts is learnt; what is left is worth a step.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use curio_learner::{Learner, ModelConfig, Surprise};
use curio_store::ExecutionRecord;
use curio_trace::Run;
use tch::Device;

use super::surprise::measure;
use super::{Engine, Planned, patiently};
use crate::LoopError;

/// A reference model shared by the loop's choice and its training steps.
pub type Reference = Arc<Mutex<Learner>>;

/// What the choice kept for training.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Chosen {
    /// Transitions of the chosen runs: what this round's steps follow.
    pub transitions: u64,
    /// The chosen runs' reducible losses, nats per step.
    pub reducible: Vec<f64>,
    /// Time spent recording the choice (waiting out the store included).
    pub stored: std::time::Duration,
}

/// Loads `rho`'s reference from `path`; it must read what the model
/// reads (the same vocabulary and window), or its losses would not be of
/// the same examples.
pub fn load_reference(path: &Path, model: &ModelConfig, device: Device) -> Result<Reference, LoopError> {
    let reference = Learner::load(path, device, None)?;
    let theirs = &reference.model.config;
    if theirs.vocab != model.vocab || theirs.window() != model.window() {
        return Err(LoopError::Config(format!(
            "the reference at {} reads a vocabulary of {} in {:?}, the model {} in {:?}: train the reference \
             with the model's --block and --chunk flags (only its width, heads and layers may differ)",
            path.display(),
            theirs.vocab,
            theirs.window(),
            model.vocab,
            model.window()
        )));
    }
    tracing::info!(reference = %path.display(), shape = ?theirs, "rho's reference model");
    Ok(Arc::new(Mutex::new(reference)))
}

/// A run's reducible loss: the mean over the steps both models read of
/// the model's nats minus the reference's.
pub fn reducible(model: &Surprise, reference: &Surprise) -> Option<f64> {
    let theirs: BTreeMap<usize, f64> = reference.steps.iter().map(|s| (s.step, s.nats())).collect();
    let gaps: Vec<f64> = model.steps.iter().filter_map(|s| theirs.get(&s.step).map(|r| s.nats() - r)).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len().max(1) as f64;
    // A value that is not a number ranks nowhere.
    (!gaps.is_empty() && mean.is_finite()).then_some(mean)
}

/// Which of `reducible` (one per run; `None` unmeasured) to train on
/// first: the `keep` largest, the unmeasured last (in order among equals).
pub fn choose(reducible: &[Option<f64>], keep: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..reducible.len()).collect();
    let key = |i: usize| reducible[i].unwrap_or(f64::NEG_INFINITY);
    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
    let mut chosen = vec![false; reducible.len()];
    for &i in order.iter().take(keep) {
        chosen[i] = true;
    }
    chosen
}

impl Engine {
    /// Measures the round's runs under the reference, chooses the batch
    /// with the most reducible loss (one in `rho_pool`, at least one),
    /// records the choice in the store and lowers the others' priority.
    /// `runs` are the planned runs as measured, and `surprise` the model's
    /// own measure of each.
    pub(super) async fn choose_after(
        &self,
        reference: &Reference,
        (planned, records): (&[Planned], &[Option<ExecutionRecord>]),
        runs: Arc<Vec<Option<Run>>>,
        surprise: &[Option<Surprise>],
    ) -> Result<Chosen, LoopError> {
        let theirs = measure(reference, runs, self.device, |l| &l.model).await;
        let gaps: Vec<Option<f64>> =
            surprise.iter().zip(&theirs).map(|(ours, theirs)| reducible(ours.as_ref()?, theirs.as_ref()?)).collect();
        // The loop's own runs that came back: submissions are never chosen
        // against (they train as they always do).
        let ran: Vec<usize> =
            (0..planned.len()).filter(|&i| planned[i].strategy != "submitted" && records[i].is_some()).collect();
        let keep = ran.len().div_ceil(self.config.rho_pool).max(1);
        let picked = choose(&ran.iter().map(|&i| gaps[i]).collect::<Vec<_>>(), keep);
        let decisions: Vec<(uuid::Uuid, Option<f64>, bool)> =
            ran.iter().zip(&picked).map(|(&i, &c)| (planned[i].id, gaps[i], c)).collect();
        let storing = std::time::Instant::now();
        patiently("recording the runs chosen", async || self.store.choose(&decisions).await).await?;
        let mut chosen = Chosen { stored: storing.elapsed(), ..Chosen::default() };
        for (&i, _) in ran.iter().zip(&picked).filter(|(_, c)| **c) {
            chosen.transitions += records[i].as_ref().map_or(0, |r| r.trace.steps.len() as u64);
            chosen.reducible.extend(gaps[i]);
        }
        // Submissions' transitions train as in every strategy.
        for (p, r) in planned.iter().zip(records) {
            if p.strategy == "submitted" {
                chosen.transitions += r.as_ref().map_or(0, |r| r.trace.steps.len() as u64);
            }
        }
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(nats: &[(usize, f64)]) -> Surprise {
        let steps = nats
            .iter()
            .map(|&(step, n)| curio_learner::Surprising {
                step,
                line: 1,
                action_nats: n,
                state_nats: 0.0,
                next_line: 1,
                real: String::new(),
                expected: None,
            })
            .collect();
        Surprise { steps, unread: 0 }
    }

    #[test]
    fn the_reducible_loss_is_over_the_steps_both_models_read() {
        let ours = measured(&[(1, 3.0), (2, 5.0), (3, 9.0)]);
        // The reference could not read step 3: it does not count.
        let theirs = measured(&[(1, 1.0), (2, 4.0)]);
        assert_eq!(reducible(&ours, &theirs), Some(1.5));
        assert_eq!(reducible(&ours, &measured(&[(7, 1.0)])), None, "no step in common");
        assert_eq!(reducible(&ours, &measured(&[(1, f64::NAN)])), None, "not a number");
        assert_eq!(reducible(&measured(&[(1, f64::INFINITY)]), &measured(&[(1, f64::INFINITY)])), None);
    }

    #[test]
    fn the_most_reducible_are_chosen_and_the_unmeasured_last() {
        let gaps = [Some(0.5), None, Some(2.0), Some(-1.0), Some(1.0)];
        assert_eq!(choose(&gaps, 2), vec![false, false, true, false, true]);
        assert_eq!(choose(&gaps, 5), vec![true; 5]);
        assert_eq!(choose(&[None, None, None], 1), vec![true, false, false], "first among equals");
    }
}
