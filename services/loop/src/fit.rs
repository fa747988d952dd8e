//! The one training path. [`Fit`] draws minibatches from the replay store
//! in the shares of a [`Mix`], takes one optimizer step on each, and writes
//! the losses back as the sampled transitions' priorities. The loop trains
//! through it a few steps a round; `curio train` trains through
//! [`crate::offline`], which adds an end (minutes or steps), the annealing
//! of the rate towards it and a checkpoint cadence.

use curio_learner::{StepStats, Trainer, Window};
use curio_store::Store;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::engine::{SharedTrainer, lock, patiently};
use crate::metrics::LoopMetrics;
use crate::replay::{TraceCache, minibatch};
use crate::{LoopError, Mix, buckets, flatten};

/// How training draws its minibatches.
#[derive(Clone, Debug, PartialEq)]
pub struct FitConfig {
    /// Sampled transitions per optimizer step (more, smaller steps learn
    /// more per minute than fewer, larger ones on a CPU). Default: 2.
    pub batch: usize,
    /// Examples per sampled transition: it and companions from its trace,
    /// packed behind one copy of the program. Default: 8.
    pub pack: usize,
    /// The shares each minibatch is drawn in. Default: [`Mix::default`].
    pub mix: Mix,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig { batch: 2, pack: 8, mix: Mix::default() }
    }
}

/// What a caller decides around each step.
pub trait Schedule {
    /// Before each step: whether to take it (and what rate to take it at).
    fn before(&mut self, _trainer: &mut Trainer) -> bool {
        true
    }

    /// After each step that was taken.
    fn after(&mut self, _trainer: &Trainer, _stats: &StepStats, _examples: usize) -> Result<(), LoopError> {
        Ok(())
    }
}

/// No schedule: every step asked for is taken.
impl Schedule for () {}

/// What a call to [`Fit::steps`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fitted {
    /// Steps made, counting those skipped because their minibatch broke.
    pub steps: usize,
    /// Sums over the steps taken of the action's and the delta's loss.
    pub action_loss: f64,
    /// See `action_loss`.
    pub delta_loss: f64,
    /// Tokens and examples trained on.
    pub tokens: i64,
    /// See `tokens`.
    pub examples: usize,
}

/// Draws minibatches from the store and trains on them.
#[derive(Debug)]
pub struct Fit {
    config: FitConfig,
    window: Window,
    cache: TraceCache,
    rng: StdRng,
    /// With a reference model (the loop's `rho`), priorities are the
    /// reducible loss: the step's loss minus the reference's.
    reference: Option<(crate::engine::Reference, tch::Device)>,
}

impl Fit {
    /// Training with `config` for a model that reads `window`; `seed`
    /// seeds the draws.
    pub fn new(config: FitConfig, window: Window, seed: u64) -> Self {
        Fit { config, window, cache: TraceCache::default(), rng: StdRng::seed_from_u64(seed), reference: None }
    }

    /// Writes back each sampled transition's reducible loss instead of its
    /// loss: what the step measured minus what `reference` (on `device`)
    /// measures on the same examples, so priority follows what is worth
    /// learning and not yet learnt (RHO-LOSS). Only the sampled
    /// transitions' own examples are measured (their companions' losses set
    /// no priority); one the reference cannot read keeps its priority.
    pub fn with_reference(mut self, reference: Option<crate::engine::Reference>, device: tch::Device) -> Self {
        self.reference = reference.map(|r| (r, device));
        self
    }

    /// Up to `steps` optimizer steps, fewer when the store has nothing to
    /// draw or `schedule` says stop. Stored data that breaks a draw or a
    /// step is logged, counted and skipped; a store outage is waited out.
    pub async fn steps(
        &mut self,
        store: &Store,
        trainer: &SharedTrainer,
        steps: usize,
        schedule: &mut impl Schedule,
    ) -> Result<Fitted, LoopError> {
        let mut done = Fitted::default();
        while done.steps < steps {
            // Four steps' worth per draw, bucketed by length to cut padding.
            let Some(groups) = self.draw((steps - done.steps).min(4) * self.config.batch, store).await else {
                break;
            };
            for groups in buckets(groups, self.config.batch, &mut self.rng) {
                if !schedule.before(&mut lock(trainer)) {
                    return Ok(done);
                }
                let (examples, firsts) = flatten(groups);
                let (count, shared, reference) = (examples.len(), trainer.clone(), self.reference.clone());
                let sampled: Vec<usize> = firsts.iter().map(|f| f.1).collect();
                let stats = tokio::task::spawn_blocking(move || {
                    let stats = lock(&shared).step(&examples)?;
                    Ok::<_, curio_learner::ModelError>((stats, irreducible(reference.as_ref(), &examples, &sampled)))
                })
                .await?;
                done.steps += 1;
                let (stats, irreducible) = match stats {
                    Ok(done) => done,
                    Err(e) => {
                        tracing::error!(error = %e, "a training step failed on its minibatch; skipped");
                        LoopMetrics.skipped("train_step");
                        continue;
                    }
                };
                (done.action_loss, done.delta_loss) =
                    (done.action_loss + stats.action_loss, done.delta_loss + stats.delta_loss);
                (done.tokens, done.examples) = (done.tokens + stats.tokens, done.examples + count);
                let priorities = priorities(firsts, &stats.per_example, &irreducible);
                patiently("writing priorities", async || store.update_priorities(&priorities).await).await?;
                schedule.after(&lock(trainer), &stats, count)?;
            }
        }
        Ok(done)
    }

    /// `size` sampled transitions with their companions, or none when the
    /// store has none or the draw failed (logged and counted).
    async fn draw(&mut self, size: usize, store: &Store) -> Option<Vec<crate::Group>> {
        let (pack, window, mix) = (self.config.pack, self.window, self.config.mix);
        let (cache, rng) = (&mut self.cache, &mut self.rng);
        let groups =
            patiently("sampling a minibatch", async || minibatch(store, cache, (size, pack), &mix, window, rng).await)
                .await;
        match groups {
            Ok((groups, untrainable)) => {
                if !untrainable.is_empty() {
                    // The lowest priority there is: drawn uniformly still,
                    // never again for its (untrained, so high) priority.
                    let lowest: Vec<(i64, f32)> = untrainable.iter().map(|&id| (id, 0.0)).collect();
                    LoopMetrics.untrainable(lowest.len());
                    if let Err(e) =
                        patiently("lowering priorities", async || store.update_priorities(&lowest).await).await
                    {
                        tracing::error!(error = %e, "could not lower the priorities of untrainable transitions");
                    }
                }
                (!groups.is_empty()).then_some(groups)
            }
            Err(e) => {
                tracing::error!(error = %e, "could not draw a minibatch; training resumes later");
                LoopMetrics.skipped("minibatch");
                None
            }
        }
    }
}

/// Each sampled transition's new priority: its loss, less the reference's
/// loss on the same example where `irreducible` has one (RHO-LOSS). With a
/// reference that measured the minibatch, an example it could not read
/// keeps its old priority: a plain loss is no measure beside reducible
/// ones.
fn priorities(firsts: Vec<(i64, usize)>, losses: &[f32], irreducible: &[Option<f32>]) -> Vec<(i64, f32)> {
    firsts
        .into_iter()
        .filter_map(|(id, i)| match irreducible.get(i) {
            None if irreducible.is_empty() => Some((id, losses[i])),
            Some(Some(theirs)) => Some((id, losses[i] - theirs)),
            _ => None,
        })
        .collect()
}

/// The reference's loss on the `sampled` examples, placed at their
/// indices among `examples` (none elsewhere, and where it cannot read
/// one); empty without a reference. A failure costs the priorities their
/// correction, never the step.
fn irreducible(
    reference: Option<&(crate::engine::Reference, tch::Device)>,
    examples: &[curio_learner::Example],
    sampled: &[usize],
) -> Vec<Option<f32>> {
    let Some((reference, device)) = reference else { return vec![] };
    let reference = reference.lock().unwrap_or_else(|e| e.into_inner());
    let asked: Vec<curio_learner::Example> = sampled.iter().map(|&i| examples[i].clone()).collect();
    match curio_learner::example_losses(&reference.model, &asked, *device) {
        Ok(losses) => {
            let mut placed = vec![None; examples.len()];
            for (&i, loss) in sampled.iter().zip(losses) {
                // A loss that is not a finite number says nothing about the example.
                placed[i] = loss.filter(|l| l.is_finite());
            }
            placed
        }
        Err(e) => {
            tracing::warn!(error = %e, "the reference could not measure a minibatch; its priorities stay plain losses");
            vec![]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::priorities;

    #[test]
    fn with_a_reference_priorities_are_reducible_and_unread_examples_keep_theirs() {
        let firsts = vec![(10, 0), (11, 2), (12, 3)];
        let losses = [3.0, 9.0, 2.0, 5.0];
        assert_eq!(priorities(firsts.clone(), &losses, &[]), vec![(10, 3.0), (11, 2.0), (12, 5.0)], "no reference");
        let theirs = [Some(1.0), None, Some(2.5), None];
        assert_eq!(priorities(firsts, &losses, &theirs), vec![(10, 2.0), (11, -0.5)], "12 was not read: left alone");
    }
}
