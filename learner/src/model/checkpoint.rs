//! A model with its variables on a device, saved to and loaded from
//! safetensors with its config beside it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Device, nn};

use super::{ModelConfig, ModelError, WorldModel};

/// A model with its variables, on a device.
#[derive(Debug)]
pub struct Learner {
    /// The variables, on their device.
    pub vs: nn::VarStore,
    /// The model that reads them.
    pub model: WorldModel,
    /// Optimizer steps taken so far (saved with checkpoints).
    pub train_step: i64,
}

#[derive(Serialize, Deserialize)]
struct CheckpointMeta {
    config: ModelConfig,
    train_step: i64,
}

impl Learner {
    /// A freshly initialised model on `device`, at step 0.
    pub fn new(config: ModelConfig, device: Device) -> Result<Self, ModelError> {
        let vs = nn::VarStore::new(device);
        let model = WorldModel::new(&vs.root(), config)?;
        Ok(Learner { vs, model, train_step: 0 })
    }

    /// Writes `path` (safetensors weights) and `path.json` (config, step).
    /// Both are written beside and renamed into place, so a crash mid-save
    /// leaves the previous checkpoint whole.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let err = |reason: String| ModelError::Checkpoint { path: path.display().to_string(), reason };
        let tmp = path.with_extension("partial.safetensors");
        self.vs.save(&tmp).map_err(|e| err(e.to_string()))?;
        let meta = CheckpointMeta { config: self.model.config.clone(), train_step: self.train_step };
        std::fs::write(meta_path(&tmp), serde_json::to_vec_pretty(&meta).expect("config serializes"))
            .map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
        std::fs::rename(meta_path(&tmp), meta_path(path)).map_err(|e| err(e.to_string()))
    }

    /// Loads a checkpoint; with `expected`, refuses one of another shape.
    pub fn load(path: &Path, device: Device, expected: Option<&ModelConfig>) -> Result<Self, ModelError> {
        Self::load_with(path, device, expected, None)
    }

    /// [`Learner::load`], the model built with `dropout` instead of the
    /// checkpoint's when given (dropout is no weight: an offline model
    /// trained without it can go on with it).
    pub fn load_with(
        path: &Path,
        device: Device,
        expected: Option<&ModelConfig>,
        dropout: Option<f64>,
    ) -> Result<Self, ModelError> {
        let err = |reason: String| ModelError::Checkpoint { path: path.display().to_string(), reason };
        let meta = std::fs::read(meta_path(path)).map_err(|e| err(format!("reading its config: {e}")))?;
        let meta: CheckpointMeta = serde_json::from_slice(&meta).map_err(|e| err(format!("its config: {e}")))?;
        if let Some(want) = expected.filter(|want| **want != meta.config) {
            return Err(err(format!("model shape {:?} differs from the expected {want:?}", meta.config)));
        }
        let config = ModelConfig { dropout: dropout.unwrap_or(meta.config.dropout), ..meta.config };
        let mut learner = Learner::new(config, device)?;
        learner.vs.load(path).map_err(|e| err(format!("weights do not fit the saved config: {e}")))?;
        learner.train_step = meta.train_step;
        Ok(learner)
    }
}

fn meta_path(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".json");
    p.into()
}
