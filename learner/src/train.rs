//! The training step: one straight loop body you can read top to bottom.

use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::data::{Example, collate, shift_lines};
use crate::model::{Learner, Losses, ModelError};

/// Optimizer settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Peak learning rate. Default: 2e-3.
    pub lr: f64,
    /// Steps of linear warm-up; the rate then stays at `lr`, which suits
    /// fine-tuning that never ends (no schedule to run out). Default: 20.
    pub warmup: i64,
    /// AdamW weight decay. Default: 0.01.
    pub weight_decay: f64,
    /// Gradient-norm clip. Default: 1.0.
    pub clip: f64,
    /// Decay of the moving average of the weights that is evaluated, served
    /// and saved ([`Trainer::averaged`]): it smooths the step-to-step noise a
    /// constant rate leaves, without a schedule that ends. 0 keeps the
    /// latest weights. Default: 0.998 (about the last 500 steps).
    pub average: f64,
    /// Weight of the action's loss against the delta's in the objective
    /// ([`crate::Losses::objective`]). Default: 1.
    pub action_weight: f64,
    /// Weight of the working's bytes, summed per example, in the objective
    /// ([`crate::Losses::objective`]): the action reads them, so a wrong
    /// byte there is a wrong next line. Default: 1.
    pub working_weight: f64,
    /// Largest random shift of a program's line ids in a training batch
    /// ([`crate::data::shift_lines`]); 0 trains on the ids as they are.
    /// Default: 0.
    pub line_shift: i64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lr: 2e-3,
            warmup: 20,
            weight_decay: 0.01,
            clip: 1.0,
            average: 0.998,
            action_weight: 1.0,
            working_weight: 1.0,
            line_shift: 0,
        }
    }
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepStats {
    /// The batch's mean action loss (event plus line cross-entropy).
    pub action_loss: f64,
    /// The batch's mean delta loss (each example's mean cross-entropy per
    /// byte it writes).
    pub delta_loss: f64,
    /// Each example's total loss, in order: the new sampling priorities.
    pub per_example: Vec<f32>,
    /// Tokens in the batch ([`crate::Batch::padded_tokens`]).
    pub tokens: i64,
}

/// The weights, the optimizer that moves them and their moving average.
#[derive(Debug)]
pub struct Trainer {
    /// The weights the optimizer moves.
    pub learner: Learner,
    /// Their moving average: the model to evaluate, query and save.
    averaged: Learner,
    /// (averaged, latest) variable pairs, for the update after each step.
    pairs: Vec<(Tensor, Tensor)>,
    opt: nn::Optimizer,
    config: TrainConfig,
    /// Multiplies the rate after warm-up ([`Trainer::set_rate_scale`]).
    scale: f64,
    device: Device,
}

impl Trainer {
    /// Starts from `learner`'s weights; the average starts equal to them.
    pub fn new(learner: Learner, config: TrainConfig) -> Result<Self, ModelError> {
        if !(0.0..1.0).contains(&config.average) {
            return Err(ModelError::Config(format!("average decay must be in [0, 1), not {}", config.average)));
        }
        if !(config.action_weight > 0.0 && config.action_weight.is_finite()) {
            return Err(ModelError::Config(format!(
                "the action's loss weight must be positive (--action-weight), not {}",
                config.action_weight
            )));
        }
        if !(config.working_weight >= 0.0 && config.working_weight.is_finite()) {
            return Err(ModelError::Config(format!(
                "the working's loss weight must be zero or more (--working-weight), not {}",
                config.working_weight
            )));
        }
        if !(0..crate::encode::LINE_IDS).contains(&config.line_shift) {
            return Err(ModelError::Config(format!(
                "the line shift must be 0..{} (--line-shift), not {}",
                crate::encode::LINE_IDS,
                config.line_shift
            )));
        }
        let adamw = nn::AdamW { wd: config.weight_decay, ..Default::default() };
        let opt = adamw.build(&learner.vs, config.lr)?;
        let device = learner.vs.device();
        let mut averaged = Learner::new(learner.model.config.clone(), device)?;
        averaged.vs.copy(&learner.vs)?;
        averaged.train_step = learner.train_step;
        let latest = learner.vs.variables();
        let pairs =
            averaged.vs.variables().into_iter().map(|(name, avg)| (avg, latest[&name].shallow_clone())).collect();
        Ok(Trainer { learner, averaged, pairs, opt, config, scale: 1.0, device })
    }

    /// Scales the rate of the following steps (clamped to [0, 1]): a run
    /// with an end, such as `curio train --minutes`, anneals to it; the
    /// never-ending loop leaves it at 1.
    pub fn set_rate_scale(&mut self, scale: f64) {
        self.scale = scale.clamp(0.0, 1.0);
    }

    /// The moving average of the weights ([`TrainConfig::average`]), at the
    /// latest step: what evaluation, acquisition, prediction and
    /// checkpoints use. Resuming from its checkpoint starts from it.
    pub fn averaged(&self) -> &Learner {
        &self.averaged
    }

    /// One optimizer step on `examples`; examples of one program next to
    /// each other share one copy of it ([`collate`]).
    pub fn step(&mut self, examples: &[Example]) -> Result<StepStats, ModelError> {
        let step = self.learner.train_step;
        let warm = ((step + 1) as f64 / self.config.warmup.max(1) as f64).min(1.0);
        self.opt.set_lr(self.config.lr * warm * self.scale);
        let unworked: Vec<Example>;
        let examples = if self.learner.model.config.working {
            examples
        } else {
            unworked = examples.iter().cloned().map(Example::unworked).collect();
            &unworked
        };
        let shifted: Vec<Example>;
        let examples = if self.config.line_shift > 0 {
            shifted = shift_lines(examples, self.config.line_shift, step as u64);
            &shifted
        } else {
            examples
        };
        let batch = collate(examples, self.learner.model.config.window(), self.device);
        let out = self.learner.model.forward(&batch, true)?;
        let losses = self.learner.model.losses(&batch, &out)?;
        let Losses { action, delta, .. } = &losses;
        let per_example = action + delta;
        let loss = losses.objective(self.config.action_weight, self.config.working_weight);
        self.opt.backward_step_clip_norm(&loss, self.config.clip);
        self.learner.train_step += 1;
        // Early on the average follows closely (it would otherwise remember
        // the random start): decay (1 + t) / (10 + t) until it reaches the setting.
        let t = self.learner.train_step as f64;
        let decay = self.config.average.min((1.0 + t) / (10.0 + t));
        tch::no_grad(|| {
            for (avg, latest) in &mut self.pairs {
                let _ = avg.lerp_(latest, 1.0 - decay);
            }
        });
        self.averaged.train_step = self.learner.train_step;
        // Reading values back syncs with the device once per step, after the
        // update has been queued.
        Ok(StepStats {
            action_loss: action.mean(Kind::Float).double_value(&[]),
            delta_loss: delta.mean(Kind::Float).double_value(&[]),
            per_example: Vec::<f32>::try_from(&per_example.detach().to_kind(Kind::Float).to(Device::Cpu))?,
            tokens: batch.padded_tokens(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::examples;
    use crate::model::ModelConfig;

    fn batch() -> Vec<Example> {
        let step = crate::data::module_step;
        examples("x = 0\nx = x + 1\n", "", &[step(0, 1, "0"), step(1, 2, "0"), step(2, 2, "1")], &[1])
    }

    fn trainer(average: f64) -> (Trainer, Vec<(String, Tensor)>) {
        tch::manual_seed(1);
        let config = ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size: 128, ..ModelConfig::default() };
        let learner = Learner::new(config, Device::Cpu).unwrap();
        let start = learner.vs.variables().into_iter().map(|(k, v)| (k, v.copy())).collect();
        (Trainer::new(learner, TrainConfig { average, ..TrainConfig::default() }).unwrap(), start)
    }

    #[test]
    fn the_average_follows_the_weights_at_its_decay() {
        let (mut t, start) = trainer(0.9);
        t.step(&batch()).unwrap();
        // Step 1: decay min(0.9, 2 / 11), so 2/11 of the start and 9/11 of the latest.
        let (latest, avg) = (t.learner.vs.variables(), t.averaged().vs.variables());
        let mut moved = false;
        for (name, s) in &start {
            let want = s * (2.0 / 11.0) + &latest[name] * (9.0 / 11.0);
            assert!(avg[name].allclose(&want, 1e-5, 1e-6, false), "{name}");
            moved |= !latest[name].equal(s);
        }
        assert!(moved, "the step changed the weights");
        assert_eq!(t.averaged().train_step, 1);

        let (mut t, _) = trainer(0.0);
        for _ in 0..3 {
            t.step(&batch()).unwrap();
        }
        let (latest, avg) = (t.learner.vs.variables(), t.averaged().vs.variables());
        assert!(latest.iter().all(|(name, w)| avg[name].equal(w)), "decay 0 keeps the latest weights");
        assert!(Trainer::new(t.learner, TrainConfig { average: 1.0, ..TrainConfig::default() }).is_err());
        let (t, _) = trainer(0.0);
        assert!(Trainer::new(t.learner, TrainConfig { action_weight: 0.0, ..TrainConfig::default() }).is_err());
        let (t, _) = trainer(0.0);
        assert!(Trainer::new(t.learner, TrainConfig { working_weight: -1.0, ..TrainConfig::default() }).is_err());
    }

    #[test]
    fn an_annealed_rate_reaches_the_optimizer() {
        let (mut t, start) = trainer(0.0);
        t.set_rate_scale(0.0);
        t.step(&batch()).unwrap();
        let latest = t.learner.vs.variables();
        assert!(start.iter().all(|(name, w)| latest[name].equal(w)), "a rate of zero leaves the weights");
        t.set_rate_scale(0.5);
        t.step(&batch()).unwrap();
        let latest = t.learner.vs.variables();
        assert!(start.iter().any(|(name, w)| !latest[name].equal(w)), "half the rate moves them");
    }
}
