//! The training step: one straight loop body you can read top to bottom.

use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind};

use crate::data::{Example, collate};
use crate::model::{Learner, ModelError};

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
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { lr: 2e-3, warmup: 20, weight_decay: 0.01, clip: 1.0 }
    }
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepStats {
    pub action_loss: f64,
    pub delta_loss: f64,
    /// Each example's total loss, in order: the new sampling priorities.
    pub per_example: Vec<f32>,
    /// Tokens in the batch ([`crate::Batch::padded_tokens`]).
    pub tokens: i64,
}

#[derive(Debug)]
pub struct Trainer {
    pub learner: Learner,
    opt: nn::Optimizer,
    config: TrainConfig,
    device: Device,
}

impl Trainer {
    pub fn new(learner: Learner, config: TrainConfig) -> Result<Self, ModelError> {
        let adamw = nn::AdamW { wd: config.weight_decay, ..Default::default() };
        let opt = adamw.build(&learner.vs, config.lr)?;
        let device = learner.vs.device();
        Ok(Trainer { learner, opt, config, device })
    }

    /// One optimizer step on `examples`; examples of one program next to
    /// each other share one copy of it ([`collate`]).
    pub fn step(&mut self, examples: &[Example]) -> Result<StepStats, ModelError> {
        let step = self.learner.train_step;
        let warm = ((step + 1) as f64 / self.config.warmup.max(1) as f64).min(1.0);
        self.opt.set_lr(self.config.lr * warm);
        let batch = collate(examples, self.device);
        let out = self.learner.model.forward(&batch, true)?;
        let (action, delta) = self.learner.model.losses(&batch, &out)?;
        let per_example = &action + &delta;
        let loss = per_example.mean(Kind::Float);
        self.opt.backward_step_clip_norm(&loss, self.config.clip);
        self.learner.train_step += 1;
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
