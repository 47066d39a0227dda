//! Loading a model and its tokenizer from one `--model` string: a Hugging Face folder, a hub id, a
//! `.gguf` file, or an alias such as `smollm2-135m` (the default model). In the browser the same
//! loaders take bytes instead of paths. A GGUF file is a whole checkpoint ([`gguf_checkpoint`]): its
//! config comes from the metadata, its tensors under Hugging Face names.

pub mod gguf_checkpoint;

use burn::tensor::Device;
use sha2::{Digest, Sha256};

use self::gguf_checkpoint::GgufCheckpoint;
#[cfg(feature = "native")]
use crate::aliases::{ALIASES, alias_path};
use crate::device::Precision;
use crate::models::{Model, ModelConfig};
use crate::tokenizer::{Tokenizer, hex};
use crate::weights::safetensors::{SafetensorsFile, ShardedSafetensors};
use crate::weights::{Bytes, HostTensor, TensorSource, Weights};
use crate::{Error, Result};

/// Names for hub checkpoints (downloaded into the Hugging Face cache when online): the base model of
/// the default (which is the Instruct model, quantised), and the models of the papers' tables.
pub const HUB_ALIASES: &[(&str, &str)] = &[
    ("smollm2-135m-base", "HuggingFaceTB/SmolLM2-135M"),
    ("pythia-70m", "EleutherAI/pythia-70m"),
    ("pythia-160m", "EleutherAI/pythia-160m"),
    ("pythia-410m", "EleutherAI/pythia-410m"),
    ("pythia-1.4b", "EleutherAI/pythia-1.4b"),
    ("pythia-2.8b", "EleutherAI/pythia-2.8b"),
    ("pythia-6.9b", "EleutherAI/pythia-6.9b"),
    ("sheared-llama-1.3b", "princeton-nlp/Sheared-LLaMA-1.3B"),
    ("smollm2-360m", "HuggingFaceTB/SmolLM2-360M"),
    ("smollm2-1.7b", "HuggingFaceTB/SmolLM2-1.7B"),
    ("qwen3-8b", "Qwen/Qwen3-8B"),
    ("olmo-1b-0724", "allenai/OLMo-1B-0724-hf"),
    ("opt-350m", "facebook/opt-350m"),
    ("opt-1.3b", "facebook/opt-1.3b"),
    ("gemma-3-4b", "google/gemma-3-4b-pt"),
    ("llama-3.2-1b", "meta-llama/Llama-3.2-1B"),
    ("llama-3.2-3b", "meta-llama/Llama-3.2-3B"),
    ("llama-3.1-8b", "meta-llama/Llama-3.1-8B"),
    ("mamba-130m", "state-spaces/mamba-130m-hf"),
    ("mamba-370m", "state-spaces/mamba-370m-hf"),
    ("mamba-790m", "state-spaces/mamba-790m-hf"),
    ("mamba-1.4b", "state-spaces/mamba-1.4b-hf"),
];

/// The hub id an alias of [`HUB_ALIASES`] stands for.
pub fn hub_alias(spec: &str) -> Option<&'static str> {
    HUB_ALIASES.iter().find(|(alias, _)| *alias == spec).map(|(_, id)| *id)
}

/// Who the model is, as stored in `.cram` files and shown by `cram info`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelIdentity {
    /// The family's `model_type` (`llama`, `gpt_neox`, `qwen2`, ...).
    pub family: String,
    /// sha256 of the canonical config JSON.
    pub config_hash: String,
    /// sha256 over every weight the model loaded (names, shapes and a strided sample of values).
    pub weights_fingerprint: String,
    /// See [`Tokenizer::fingerprint`]: a hash of the tokenizer's serialised settings, which two
    /// encodings of one tokenizer (a `tokenizer.json` and a GGUF) need not share. Compared only where
    /// a side lacks `tokenizer_behaviour` (files made before it was recorded).
    pub tokenizer_fingerprint: String,
    /// See [`Tokenizer::behaviour_fingerprint`]: what the tokenizer does, the same for every encoding
    /// of one tokenizer. Absent in files made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_behaviour: Option<String>,
    /// Where it was loaded from, for people (not compared).
    pub source: String,
    /// The dtype of the weights in the file (`f32`, `q4_1`, ...), for people.
    pub file_dtype: String,
}

impl ModelIdentity {
    /// Checks that `model` is this one (family and config, weights, tokenizer): a file made with this
    /// model (`file`, e.g. ".cram file") is refused by another, with what to `verb` it with instead.
    pub fn check_same(&self, model: &ModelIdentity, file: &str, verb: &str) -> Result<()> {
        let differs = |what: &str| {
            Err(Error::FingerprintMismatch(format!(
                "this {file} was made with another {what} ({} model from `{}`); {verb} it with that model, not `{}`",
                self.family, self.source, model.source
            )))
        };
        if self.family != model.family || self.config_hash != model.config_hash {
            return differs("model");
        }
        if self.weights_fingerprint != model.weights_fingerprint {
            return differs("set of weights");
        }
        let same_tokenizer = match (&self.tokenizer_behaviour, &model.tokenizer_behaviour) {
            (Some(a), Some(b)) => a == b,
            // a file made before the behaviour was recorded: the older hash of the settings
            _ => self.tokenizer_fingerprint == model.tokenizer_fingerprint,
        };
        if !same_tokenizer {
            return differs("tokenizer");
        }
        Ok(())
    }
}

/// A model ready to use: weights on the device, tokenizer, identity.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The network.
    pub model: Model,
    /// Its config.
    pub config: ModelConfig,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Its identity.
    pub identity: ModelIdentity,
    /// The device the weights live on (without autodiff).
    pub device: Device,
    /// The dtype of the weights there.
    pub precision: Precision,
}

/// Hashes each tensor a model loads: cheap (a strided sample) and independent of the file format.
struct FingerprintingSource<'a> {
    inner: &'a dyn TensorSource,
    hasher: std::cell::RefCell<Sha256>,
}

impl TensorSource for FingerprintingSource<'_> {
    fn tensor(&self, name: &str) -> Result<Option<HostTensor>> {
        self.hashed(name, self.inner.tensor(name)?)
    }

    fn tensor_of_shape(&self, name: &str, shape: &[usize]) -> Result<Option<HostTensor>> {
        self.hashed(name, self.inner.tensor_of_shape(name, shape)?)
    }
}

impl FingerprintingSource<'_> {
    fn hashed(&self, name: &str, t: Option<HostTensor>) -> Result<Option<HostTensor>> {
        if let Some(t) = &t {
            let mut h = self.hasher.borrow_mut();
            h.update(name.as_bytes());
            for d in &t.shape {
                h.update((*d as u64).to_le_bytes());
            }
            let stride = (t.data.len() / 4096).max(1);
            for v in t.data.iter().step_by(stride) {
                h.update(v.to_le_bytes());
            }
        }
        Ok(t)
    }
}

impl LoadedModel {
    /// Builds model + identity from a config, a weight source and a tokenizer. `max_buffer_bytes` is
    /// the largest buffer the device can bind (a browser's WebGPU limit); a model with a larger weight
    /// is refused before anything is uploaded; `precision` is the dtype of the weights on the device.
    #[allow(clippy::too_many_arguments)] // each is a separate fact of the load; callers name them all
    pub fn build(
        config: ModelConfig,
        source: &dyn TensorSource,
        tokenizer: Tokenizer,
        device: &Device,
        origin: &str,
        file_dtype: &str,
        max_buffer_bytes: Option<u64>,
        precision: Precision,
    ) -> Result<Self> {
        let device = device.clone().without_autodiff();
        precision.check(&device)?;
        tokenizer.check_fits(config.vocab_size(), origin)?;
        if let Some(limit) = max_buffer_bytes {
            check_buffer_limit(&config, limit, origin)?;
        }
        let fp = FingerprintingSource { inner: source, hasher: Default::default() };
        let model = Model::load(&config, &Weights::new(&fp, &device).with_dtype(precision.dtype()))?;
        let identity = ModelIdentity {
            family: config.family().into(),
            config_hash: hex(&Sha256::digest(config.canonical_json().as_bytes())),
            weights_fingerprint: hex(&fp.hasher.into_inner().finalize()),
            tokenizer_fingerprint: tokenizer.fingerprint(),
            tokenizer_behaviour: Some(tokenizer.behaviour_fingerprint()),
            source: origin.into(),
            file_dtype: file_dtype.into(),
        };
        Ok(Self { model, config, tokenizer, identity, device, precision })
    }

    /// A model from GGUF bytes (the tokenizer comes from the same file); `max_buffer_bytes` as in
    /// [`LoadedModel::build`].
    pub fn from_gguf_bytes(name: &str, bytes: Bytes, device: &Device, max_buffer_bytes: Option<u64>) -> Result<Self> {
        let ckpt = GgufCheckpoint::from_bytes(name, bytes)?;
        Self::from_gguf(ckpt, name, device, max_buffer_bytes, Precision::F32)
    }

    fn from_gguf(ckpt: GgufCheckpoint, name: &str, device: &Device, max_buffer_bytes: Option<u64>, precision: Precision) -> Result<Self> {
        let config = ckpt.config()?;
        let tokenizer =
            Tokenizer::new(crate::tokenizer::gguf::tokenizer_from_gguf(ckpt.file()).map_err(|source| Error::Gguf { path: name.into(), cause: source })?);
        let dtype = ckpt.file().dominant_type_name();
        Self::build(config, &ckpt, tokenizer, device, name, &dtype, max_buffer_bytes, precision)
    }

    /// A model from the files of a Hugging Face folder, given as bytes; `max_buffer_bytes` as in
    /// [`LoadedModel::build`].
    pub fn from_hf_bytes(
        name: &str,
        config_json: &str,
        tokenizer_json: &[u8],
        shards: Vec<(String, Bytes)>,
        device: &Device,
        max_buffer_bytes: Option<u64>,
    ) -> Result<Self> {
        Self::from_hf(name, config_json, tokenizer_json, shards, device, max_buffer_bytes, Precision::F32)
    }

    fn from_hf(
        name: &str,
        config_json: &str,
        tokenizer_json: &[u8],
        shards: Vec<(String, Bytes)>,
        device: &Device,
        max_buffer_bytes: Option<u64>,
        precision: Precision,
    ) -> Result<Self> {
        let config = ModelConfig::from_json(config_json).map_err(|e| Error::Config(format!("{name}/config.json: {e}")))?;
        let tokenizer = Tokenizer::from_json_bytes(tokenizer_json, &format!("{name}/tokenizer.json"))?;
        let files = shards.into_iter().map(|(n, b)| SafetensorsFile::from_bytes(n, b)).collect::<Result<Vec<_>>>()?;
        let dtype = "safetensors".to_string();
        Self::build(config, &ShardedSafetensors::new(files), tokenizer, device, name, &dtype, max_buffer_bytes, precision)
    }

    /// A model of `config`'s architecture with random weights ([`crate::weights::random`]) and a
    /// tokenizer of one placeholder token per id (`<0>`, `<1>`, ...): for speed and memory at a real
    /// model's shapes without its files (`cram bench --model CONFIG.json`).
    pub fn random(config: ModelConfig, device: &Device, precision: Precision) -> Result<Self> {
        use tokenizers::models::wordlevel::WordLevel;
        let vocab: std::collections::HashMap<String, u32> = (0..config.vocab_size() as u32).map(|i| (format!("<{i}>"), i)).collect();
        let model = WordLevel::builder()
            .vocab(vocab.into_iter().collect())
            .unk_token("<0>".into())
            .build()
            .map_err(|e| Error::Config(format!("placeholder tokenizer: {e}")))?;
        let tokenizer = Tokenizer::new(tokenizers::Tokenizer::new(model));
        let origin = format!("random weights of a {}", config.family());
        Self::build(config, &crate::weights::random::RandomWeights::new(), tokenizer, device, &origin, "random", None, precision)
    }

    /// Loads what `spec` names: a `.gguf` path, a Hugging Face folder, an alias, or a hub id
    /// (`owner/name[@revision]`).
    #[cfg(feature = "native")]
    pub fn load(spec: &str, device: &Device) -> Result<Self> {
        Self::load_as(spec, device, Precision::F32)
    }

    /// [`LoadedModel::load`] with the weights stored on the device in `precision`.
    #[cfg(feature = "native")]
    pub fn load_as(spec: &str, device: &Device, precision: Precision) -> Result<Self> {
        use std::path::Path;
        if spec.trim().is_empty() {
            return Err(Error::Setting(crate::error::ConfigError::Empty(crate::error::Setting::Model)));
        }
        if let Some((alias, _, how)) = ALIASES.iter().find(|(a, _, _)| *a == spec) {
            let path = alias_path(alias).expect("a known alias");
            if !path.exists() {
                return Err(Error::ModelNotFound(format!("the model `{alias}` is not downloaded yet (expected {}); get it with: {how}", path.display())));
            }
            return Self::load_path_as(&path, device, precision);
        }
        let path = Path::new(spec);
        if path.exists() {
            return Self::load_path_as(path, device, precision);
        }
        if spec.ends_with(".gguf") || spec.starts_with('.') || spec.starts_with('/') || spec.contains('\\') {
            return Err(Error::ModelNotFound(format!("{spec}: no such file or folder")));
        }
        if let Some(id) = hub_alias(spec).or(looks_like_hub_id(spec).then_some(spec)) {
            let dir = crate::weights::hub::download_model(id)?;
            return Self::load_path_as(&dir, device, precision);
        }
        Err(Error::ModelNotFound(format!(
            "`{spec}` is neither a file, a folder, a known alias ({}) nor a hub id like `EleutherAI/pythia-160m`",
            ALIASES.iter().map(|a| a.0).chain(HUB_ALIASES.iter().map(|a| a.0)).collect::<Vec<_>>().join(", ")
        )))
    }

    /// Loads a `.gguf` file or a Hugging Face folder from disk.
    #[cfg(feature = "native")]
    pub fn load_path(path: &std::path::Path, device: &Device) -> Result<Self> {
        Self::load_path_as(path, device, Precision::F32)
    }

    /// [`LoadedModel::load_path`] with the weights stored on the device in `precision`.
    #[cfg(feature = "native")]
    pub fn load_path_as(path: &std::path::Path, device: &Device, precision: Precision) -> Result<Self> {
        let name = path.display().to_string();
        if path.is_dir() {
            let weights = path.join("model.safetensors").exists() || path.join("model.safetensors.index.json").exists();
            let missing: Vec<&str> = [
                (!path.join("config.json").exists()).then_some("config.json"),
                (!weights).then_some("weights (model.safetensors or model.safetensors.index.json)"),
                (!path.join("tokenizer.json").exists()).then_some("tokenizer.json"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !missing.is_empty() {
                return Err(Error::ModelNotFound(format!("{name} is not a Hugging Face model folder: it has no {}", missing.join(", no "))));
            }
            let read = |f: &str| std::fs::read(path.join(f)).map_err(|e| Error::io(path.join(f), e));
            let config = String::from_utf8(read("config.json")?).map_err(|_| Error::Config(format!("{name}/config.json is not UTF-8")))?;
            let tokenizer = read("tokenizer.json")?;
            let index = path.join("model.safetensors.index.json");
            let files = if index.exists() {
                let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
                crate::weights::safetensors::shard_files(&text, &index.display().to_string())?
            } else {
                vec!["model.safetensors".to_string()]
            };
            let shards = files
                .into_iter()
                .map(|f| {
                    let p = path.join(&f);
                    if !p.exists() {
                        return Err(Error::ModelNotFound(format!(
                            "{}: missing (a Hugging Face folder needs config.json, tokenizer.json and model.safetensors)",
                            p.display()
                        )));
                    }
                    Ok((p.display().to_string(), Bytes::map(&p)?))
                })
                .collect::<Result<Vec<_>>>()?;
            return Self::from_hf(&name, &config, &tokenizer, shards, device, None, precision);
        }
        let ckpt = GgufCheckpoint::open(path)?;
        Self::from_gguf(ckpt, &name, device, None, precision)
    }
}

/// Refuses `config` when its largest weight matrix, in f32, is over `max_buffer_bytes`: one clear error
/// (a browser's WebGPU adapter binds at most a few hundred MB per buffer) instead of a validation
/// failure deep inside the GPU backend.
pub fn check_buffer_limit(config: &ModelConfig, max_buffer_bytes: u64, origin: &str) -> Result<()> {
    let (name, elements) = config.largest_weight();
    let bytes = elements as u64 * 4;
    if bytes > max_buffer_bytes {
        return Err(Error::Device(format!(
            "{origin} is too large for this GPU's buffers: its {name} takes {:.0} MB in f32 and the device binds at most {:.0} MB per buffer; load it on the CPU or pick a smaller model",
            bytes as f64 / 1e6,
            max_buffer_bytes as f64 / 1e6
        )));
    }
    Ok(())
}

/// `owner/name` or `owner/name@revision`.
pub fn looks_like_hub_id(spec: &str) -> bool {
    let id = spec.split('@').next().unwrap_or("");
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_gguf() -> Bytes {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama_gguf/tiny-llama.gguf");
        Bytes::Owned(std::fs::read(path).expect("fixture"))
    }

    #[test]
    fn hub_aliases_name_hub_ids() {
        assert_eq!(hub_alias("smollm2-135m-base"), Some("HuggingFaceTB/SmolLM2-135M"));
        assert_eq!(hub_alias("llama-3.1-8b"), Some("meta-llama/Llama-3.1-8B"));
        assert_eq!(hub_alias("smollm2-135m"), None, "the default is a local file, not a hub id");
        assert!(HUB_ALIASES.iter().all(|(_, id)| looks_like_hub_id(id)));
    }

    #[test]
    fn a_model_over_the_gpu_buffer_limit_is_refused_by_name() {
        let device = Device::flex();
        let lm = LoadedModel::from_gguf_bytes("tiny.gguf", tiny_gguf(), &device, None).unwrap();
        let (name, elements) = lm.config.largest_weight();
        let bytes = elements as u64 * 4;
        assert!(elements >= lm.model.embedding_matrix().dims().iter().product::<usize>(), "{name}: {elements}");
        assert!(LoadedModel::from_gguf_bytes("tiny.gguf", tiny_gguf(), &device, Some(bytes)).is_ok(), "exactly at the limit fits");
        let err = LoadedModel::from_gguf_bytes("tiny.gguf", tiny_gguf(), &device, Some(bytes - 1)).unwrap_err().to_string();
        assert!(err.contains("tiny.gguf is too large for this GPU's buffers") && err.contains(name), "{err}");
    }
}
