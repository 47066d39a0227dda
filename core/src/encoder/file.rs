//! The encoder file (`enc.safetensors`): the encoder's pieces under their names, the running
//! statistics of its BatchNorms, the optimiser's moments (so the file is also the checkpoint a run
//! resumes from), and in the metadata the architecture, the model's identity (a file made with one
//! model is refused by another, as `.cram` files are) and how it was trained. Written atomically.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::training::{SplitSpec, TrainSettings};
use super::{Encoder, EncoderConfig};
use crate::Result;
use crate::format::MetaFile;
use crate::load::{LoadedModel, ModelIdentity};
use crate::methods::pieces::spans;
use crate::optim::adamw::AdamW;
use crate::weights::TensorSource;

const FORMAT: &str = "cram-encoder";
const FORMAT_VERSION: u32 = 1;

/// How an encoder was trained, and how far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// Batch, epochs, AdamW, seed.
    pub settings: TrainSettings,
    /// The chunks and their split.
    pub split: SplitSpec,
    /// Where the chunks came from (`--data`), for people and as `cram encoder eval`'s default.
    pub data: String,
    /// The JSON field that held each record's text.
    pub text_field: String,
    /// Steps done.
    pub step: usize,
    /// Steps of the whole run.
    pub total_steps: usize,
    /// Teacher-forced accuracy on the test chunks at the last evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
}

/// An encoder with what it was made with and how.
pub struct EncoderFile {
    /// The encoder.
    pub encoder: Encoder,
    /// The model it encodes for.
    pub model: ModelIdentity,
    /// Its training.
    pub training: TrainingRecord,
    /// The optimiser's state, to resume training.
    pub optimiser: Option<AdamW>,
    /// The program that wrote it.
    pub created_by: String,
}

/// The first 16 hex digits of the sha256 of a file's bytes: what results record of the encoder
/// that started them.
pub fn fingerprint(bytes: &[u8]) -> String {
    crate::tokenizer::hex(&Sha256::digest(bytes))[..16].to_string()
}

impl EncoderFile {
    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
        meta.insert("config".to_string(), json(&self.encoder.config));
        meta.insert("model".to_string(), json(&self.model));
        meta.insert("training".to_string(), json(&self.training));
        meta.insert("created_by".to_string(), self.created_by.clone());
        let e = &self.encoder;
        let mut tensors: Vec<(String, Vec<usize>, &[f32])> = spans(e.pieces()).map(|(p, span)| (p.name.clone(), p.shape.to_vec(), &e.params[span])).collect();
        for (i, (m, v)) in e.running.iter().enumerate() {
            tensors.push((format!("running.{i}.mean"), vec![m.len()], m));
            tensors.push((format!("running.{i}.var"), vec![v.len()], v));
        }
        if let Some(opt) = &self.optimiser {
            let (m, v, step) = opt.state();
            meta.insert("optimiser_step".to_string(), step.to_string());
            tensors.push(("optimiser.m".into(), vec![m.len()], m));
            tensors.push(("optimiser.v".into(), vec![v.len()], v));
        }
        crate::format::f32_safetensors(&tensors, meta, "the encoder")
    }

    /// Parses safetensors bytes (`name` is used in messages) for `lm`: an encoder made with another
    /// model is refused.
    pub fn from_bytes(bytes: Vec<u8>, name: &str, lm: &LoadedModel) -> Result<Self> {
        let file = MetaFile::open(bytes, name, FORMAT, FORMAT_VERSION, "an encoder file", "a .cram file or a model is not an encoder")?;
        let bad = |message: String| file.bad(message);
        let model: ModelIdentity = file.parse("model")?;
        model.check_same(&lm.identity, "encoder", "use")?;
        let config: EncoderConfig = file.parse("config")?;
        let training: TrainingRecord = file.parse("training")?;
        let mut encoder = Encoder::shaped(config, &lm.config).map_err(|e| bad(e.to_string()))?;
        let tensor = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let t = file.file.tensor(name)?.ok_or_else(|| bad(format!("no tensor `{name}`")))?;
            if t.shape != shape {
                return Err(bad(format!("tensor `{name}` has shape {:?}, the config implies {shape:?}", t.shape)));
            }
            Ok(t.data)
        };
        let mut params = Vec::with_capacity(encoder.len());
        for p in encoder.pieces() {
            params.extend(tensor(&p.name, &p.shape)?);
        }
        encoder.params = params;
        let d = lm.config.hidden_size();
        for i in 0..encoder.running.len() {
            encoder.running[i] = (tensor(&format!("running.{i}.mean"), &[d])?, tensor(&format!("running.{i}.var"), &[d])?);
        }
        let optimiser = match file.has("optimiser_step") {
            Some(step) => {
                let step: u32 = step.parse().map_err(|_| bad("bad optimiser_step".into()))?;
                let n = encoder.len();
                AdamW::from_state(tensor("optimiser.m", &[n])?, tensor("optimiser.v", &[n])?, step)
            }
            None => None,
        };
        Ok(Self { encoder, model, training, optimiser, created_by: file.get("created_by")? })
    }

    /// Reads an encoder file for `lm`.
    #[cfg(feature = "native")]
    pub fn read(path: &std::path::Path, lm: &LoadedModel) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
        Self::from_bytes(bytes, &path.display().to_string(), lm)
    }

    /// Writes the file atomically: a reader (or a run killed while writing) sees the old file or
    /// the whole new one.
    #[cfg(feature = "native")]
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        crate::format::write_atomic(path, &self.to_bytes()?)
    }
}

/// Metadata values are JSON.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("metadata serialises")
}
