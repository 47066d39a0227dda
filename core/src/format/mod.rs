//! The `.cram` file: a safetensors file holding what decoding starts from (the vectors, `mem`, f32
//! `[K, d]`; for the LoRA method the adapters `lora.{layer}.{module}.a|b` instead) and, in its string
//! metadata, everything decompression needs and checks: format version, the model's identity
//! (family, config hash, weights and tokenizer fingerprints), the tokens in front of the memory, the
//! token count, the sha256 of the text, the method and its metrics. Written atomically.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};

use crate::cramming::CramOutcome;
use crate::device::Precision;
use crate::load::{LoadedModel, ModelIdentity};
use crate::memory::{LoraWeights, Memory};
use crate::methods::{CramConfig, Layout, Method, MethodName, Protocol, VectorInit};
use crate::metrics::CramMetrics;
use crate::tokenizer::hex;
use crate::weights::Bytes;
use crate::weights::safetensors::SafetensorsFile;
use crate::{Error, Result};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The contents of a `.cram` file.
#[derive(Debug, Clone, PartialEq)]
pub struct CramFile {
    /// The method that made the memory (metadata `method`: `memory`, `dense`, `lowdim`, `lora`,
    /// `progressive`, `one-pass`; a one-pass file decodes in one forward pass).
    pub method: MethodName,
    /// Input layout used in training.
    pub layout: Layout,
    /// Success criterion used in training.
    pub protocol: Protocol,
    /// The first text tokens, given to the decoder rather than decoded (t_1 under the paper's
    /// protocol; none under the greedy one).
    pub given_ids: Vec<u32>,
    /// What decoding starts from: the prefix tokens, the vectors, the adapters.
    pub memory: Memory,
    /// Width of the vectors (the model's d).
    pub width: usize,
    /// Tokens to decode.
    pub tokens: usize,
    /// The model the memory belongs to.
    pub model: ModelIdentity,
    /// sha256 of the text (UTF-8) that the tokens decode to.
    pub text_sha256: String,
    /// One-pass with a shared m: the fingerprint (sha256) of the learned start the m was taken from
    /// (metadata `shared_m`). The file holds m beside e all the same, so it decodes alone.
    pub shared_m: Option<String>,
    /// Metrics of the run that made the file.
    pub metrics: CramMetrics,
    /// The cram version that wrote the file.
    pub created_by: String,
    /// The dtype the model's weights had while the vectors were trained: decoding in the same dtype
    /// gives the text back exactly (metadata `dtype`; files without it were made in f32).
    pub precision: Precision,
}

/// sha256 of a text, lower-case hex.
pub fn text_sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// What a `.cram` file decodes to ([`CramFile::decode_any_async`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Decoded {
    /// The greedily decoded text.
    pub text: String,
    /// Why it is not the text that was crammed (None: it is, by its sha256).
    pub mismatch: Option<String>,
}

impl CramFile {
    /// The file of a finished text: what `cram compress` writes and the web app exports. The stored
    /// hash is that of the text the outcome's tokens decode to (under progressive cramming, the first
    /// `horizon` tokens).
    pub fn from_outcome(lm: &LoadedModel, cfg: &CramConfig, outcome: &CramOutcome) -> Result<Self> {
        Ok(Self {
            method: cfg.method.kind(),
            layout: cfg.layout,
            protocol: cfg.protocol,
            given_ids: outcome.given_ids.clone(),
            memory: outcome.memory.clone(),
            width: lm.config.hidden_size(),
            tokens: outcome.ids.len(),
            model: lm.identity.clone(),
            text_sha256: text_sha256(&lm.tokenizer.decode(&outcome.ids)?),
            shared_m: match (&cfg.method, &cfg.init) {
                (Method::OnePass { shared_m: true }, VectorInit::Learned { start }) => Some(start.clone()),
                _ => None,
            },
            metrics: outcome.metrics.clone(),
            created_by: format!("cram {}", crate::VERSION),
            precision: lm.precision,
        })
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let json = |v: &dyn erased::Ser| v.to_json();
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "cram".to_string());
        meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
        meta.insert("method".to_string(), self.method.as_str().to_string());
        meta.insert("layout".to_string(), json(&self.layout));
        meta.insert("protocol".to_string(), json(&self.protocol));
        meta.insert("prefix_ids".to_string(), json(&self.memory.prefix_ids));
        meta.insert("given_ids".to_string(), json(&self.given_ids));
        meta.insert("width".to_string(), self.width.to_string());
        meta.insert("tokens".to_string(), self.tokens.to_string());
        meta.insert("model".to_string(), json(&self.model));
        meta.insert("text_sha256".to_string(), self.text_sha256.clone());
        if let Some(start) = &self.shared_m {
            meta.insert("shared_m".to_string(), start.clone());
        }
        meta.insert("metrics".to_string(), json(&self.metrics));
        meta.insert("created_by".to_string(), self.created_by.clone());
        meta.insert("dtype".to_string(), self.precision.name().to_string());
        let mut tensors: Vec<(String, [usize; 2], Vec<u8>)> = Vec::new();
        if self.memory.k > 0 {
            tensors.push(("mem".into(), [self.memory.k, self.width], f32_bytes(&self.memory.vectors)));
        }
        if let Some(lora) = &self.memory.lora {
            meta.insert("lora".to_string(), json(lora));
            tensors.extend(lora.tensors.iter().map(|(name, shape, values)| (name.clone(), *shape, f32_bytes(values))));
        }
        let views = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                Ok((name.clone(), TensorView::new(Dtype::F32, shape.to_vec(), bytes).map_err(|e| Error::Input(format!("cannot serialise `{name}`: {e}")))?))
            })
            .collect::<Result<Vec<_>>>()?;
        safetensors::tensor::serialize(views, Some(meta)).map_err(|e| Error::Input(format!("cannot serialise .cram: {e}")))
    }

    /// Parses safetensors bytes; `name` is used in messages.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let bad = |message: String| Error::Format { path: name.to_string(), message };
        let (_, header) = crate::weights::safetensors::read_header(bytes).map_err(|e| bad(hint(e, "(truncated or not a .cram file?)")))?;
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |k: &str| meta.get(k).cloned().ok_or_else(|| bad(format!("metadata `{k}` is missing")));
        match get("format")?.as_str() {
            "cram" => {}
            // another of cram's files: what it is, not "not a valid .cram file"
            "cram-encoder" => {
                return Err(Error::Setting(crate::error::ConfigError::EncoderFileNotCram { path: name.to_string() }));
            }
            "cram-lmz" => return Err(Error::Input(format!("{name}: this is a .lmz file (`cram zip`), not a .cram file: `cram unzip` decodes it"))),
            _ => return Err(bad("metadata `format` is not `cram`".into())),
        }
        let version: u32 = get("format_version")?.parse().map_err(|_| bad("bad format_version".into()))?;
        if version != FORMAT_VERSION {
            return Err(bad(format!("format version {version}; this cram reads version {FORMAT_VERSION}")));
        }
        fn parse<T: serde::de::DeserializeOwned>(s: &str, k: &str, bad: &dyn Fn(String) -> Error) -> Result<T> {
            serde_json::from_str(s).map_err(|e| bad(format!("metadata `{k}`: {e}")))
        }
        let tensor = |name: &str| -> Result<([usize; 2], Vec<f32>)> {
            let view = st.tensor(name).map_err(|_| bad(format!("no tensor `{name}`")))?;
            if view.dtype() != Dtype::F32 || view.shape().len() != 2 {
                return Err(bad(format!("tensor `{name}` must be f32 of rank 2")));
            }
            let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            Ok(([view.shape()[0], view.shape()[1]], values))
        };
        let (k, vectors, mut width) = if st.names().contains(&"mem") {
            let (shape, values) = tensor("mem")?;
            (shape[0], values, shape[1])
        } else {
            (0, vec![], 0)
        };
        if let Some(w) = meta.get("width") {
            width = w.parse().map_err(|_| bad("bad width".into()))?;
        }
        let lora = match meta.get("lora") {
            Some(text) => {
                let mut lora: LoraWeights = parse(text, "lora", &bad)?;
                let mut names: Vec<&str> = st.names().into_iter().filter(|n| n.starts_with("lora.")).collect();
                names.sort();
                for n in names {
                    let (shape, values) = tensor(n)?;
                    lora.tensors.push((n.to_string(), shape, values));
                }
                Some(lora)
            }
            None => None,
        };
        if k == 0 && lora.is_none() {
            return Err(bad("neither vectors (`mem`) nor adapters (`lora.*`) in the file".into()));
        }
        let method = get("method")?;
        let method: MethodName =
            method.parse().map_err(|_| bad(format!("metadata `method` is `{method}`, not memory, dense, lowdim, lora, progressive or one-pass")))?;
        let file = Self {
            method,
            layout: parse(&get("layout")?, "layout", &bad)?,
            protocol: parse(&get("protocol")?, "protocol", &bad)?,
            given_ids: parse(&get("given_ids")?, "given_ids", &bad)?,
            memory: Memory { prefix_ids: parse(&get("prefix_ids")?, "prefix_ids", &bad)?, k, vectors, lora, one_pass: method == MethodName::OnePass },
            width,
            tokens: get("tokens")?.parse().map_err(|_| bad("bad token count".into()))?,
            model: parse(&get("model")?, "model", &bad)?,
            text_sha256: get("text_sha256")?,
            shared_m: meta.get("shared_m").cloned(),
            metrics: parse(&get("metrics")?, "metrics", &bad)?,
            created_by: get("created_by")?,
            precision: match meta.get("dtype") {
                Some(d) => d.parse().map_err(|_| bad(format!("metadata `dtype` is `{d}`, not f32, bf16 or f16")))?,
                None => Precision::F32,
            },
        };
        if file.given_ids.len() > file.tokens {
            return Err(bad(format!("{} given tokens but only {} tokens in all", file.given_ids.len(), file.tokens)));
        }
        Ok(file)
    }

    /// The text the file holds, decoded greedily with `lm`: the model is checked first, and the text
    /// must match the stored sha256 (what `cram decompress` and the web app's import do).
    pub async fn decode_async(&self, lm: &LoadedModel) -> Result<String> {
        let decoded = self.decode_any_async(lm).await?;
        match decoded.mismatch {
            Some(why) => Err(Error::Input(why)),
            None => Ok(decoded.text),
        }
    }

    /// What the file decodes to greedily with `lm` (the model checked first), whether or not it is the
    /// crammed text: a file that did not cram completely gives its text with why it is not the one
    /// crammed (what the web app's gallery and `cram decompress --partial` show).
    pub async fn decode_any_async(&self, lm: &LoadedModel) -> Result<Decoded> {
        let ids = self.decode_ids_async(lm).await?;
        let text = lm.tokenizer.decode(&ids)?;
        let mismatch = (text_sha256(&text) != self.text_sha256).then(|| {
            let m = &self.metrics;
            if self.method == MethodName::OnePass {
                let right = (m.teacher_forced_accuracy * m.tokens as f64).round() as usize;
                format!(
                    "the decoded text does not match the stored sha256: the one-pass vectors do not reproduce the text (compress had {right} of {} positions right, {:.1}%)",
                    m.tokens,
                    100.0 * m.teacher_forced_accuracy
                )
            } else {
                "the decoded text does not match the stored sha256: the memory does not reproduce the text (was it crammed completely? compress reports greedy-exact)".to_string()
            }
        });
        Ok(Decoded { text, mismatch })
    }

    /// The token ids the file decodes to greedily with `lm` (the model checked first), whether or not
    /// they are the crammed text: what `cram decompress --partial` shows of a file that is not exact.
    pub async fn decode_ids_async(&self, lm: &LoadedModel) -> Result<Vec<u32>> {
        self.check_model(&lm.identity)?;
        if self.memory.k > 0 && self.width != lm.config.hidden_size() {
            return Err(Error::Input(format!("vectors of width {} do not fit a model of width {}", self.width, lm.config.hidden_size())));
        }
        self.memory.decode_async(lm, &self.given_ids, self.tokens, None).await
    }

    /// [`CramFile::decode_ids_async`], blocking.
    pub fn decode_ids(&self, lm: &LoadedModel) -> Result<Vec<u32>> {
        crate::readback::sync(self.decode_ids_async(lm))
    }

    /// [`CramFile::decode_async`], blocking.
    pub fn decode(&self, lm: &LoadedModel) -> Result<String> {
        crate::readback::sync(self.decode_async(lm))
    }

    /// Checks that `model` is the one the file was made with (family and config, weights, tokenizer).
    pub fn check_model(&self, model: &ModelIdentity) -> Result<()> {
        self.model.check_same(model, ".cram file", "decompress")
    }

    /// Reads a file.
    #[cfg(feature = "native")]
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Writes the file atomically.
    #[cfg(feature = "native")]
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }
}

/// A safetensors file that cram writes besides `.cram` files (an encoder, a learned start): its
/// tensors and its string metadata, once its `format` and `format_version` are checked. Messages
/// name the file.
pub(crate) struct MetaFile {
    /// The tensors.
    pub file: SafetensorsFile,
    meta: HashMap<String, String>,
    name: String,
    /// What the file should be, for messages: `an encoder file`.
    what: &'static str,
}

impl MetaFile {
    /// Parses `bytes` as a file of `format` at `version`; `wrong` says what a file of another format
    /// probably is.
    pub fn open(bytes: Vec<u8>, name: &str, format: &str, version: u32, what: &'static str, wrong: &str) -> Result<Self> {
        let bad = |message: String| Error::Format { path: name.to_string(), message };
        let file = SafetensorsFile::from_bytes(name, Bytes::Owned(bytes)).map_err(|e| bad(hint(e.to_string(), &format!("(truncated or not {what}?)"))))?;
        let meta = file.user_metadata().clone();
        let this = Self { file, meta, name: name.to_string(), what };
        if this.get("format")? != format {
            return Err(bad(format!("metadata `format` is not `{format}` ({wrong})")));
        }
        let found: u32 = this.get("format_version")?.parse().map_err(|_| bad("bad format_version".into()))?;
        if found != version {
            return Err(bad(format!("format version {found}; this cram reads version {version}")));
        }
        Ok(this)
    }

    /// An error about this file.
    pub fn bad(&self, message: String) -> Error {
        Error::Format { path: self.name.clone(), message }
    }

    /// The metadata value of `key`.
    pub fn get(&self, key: &str) -> Result<String> {
        self.meta.get(key).cloned().ok_or_else(|| self.bad(format!("metadata `{key}` is missing (not {}?)", self.what)))
    }

    /// Whether the metadata has `key`.
    pub fn has(&self, key: &str) -> Option<&String> {
        self.meta.get(key)
    }

    /// The metadata value of `key`, parsed from JSON.
    pub fn parse<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        serde_json::from_str(&self.get(key)?).map_err(|e| self.bad(format!("metadata `{key}`: {e}")))
    }
}

/// Safetensors bytes of f32 tensors `(name, shape, values)` with `meta`; `what` names the file in a
/// message.
pub(crate) fn f32_safetensors(tensors: &[(String, Vec<usize>, &[f32])], meta: HashMap<String, String>, what: &str) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), b).map_err(|e| Error::Input(format!("cannot serialise `{name}`: {e}")))?))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::tensor::serialize(views, Some(meta)).map_err(|e| Error::Input(format!("cannot serialise {what}: {e}")))
}

/// `message` with `guess` after it, unless it already says the file is truncated or corrupt.
pub(crate) fn hint(message: String, guess: &str) -> String {
    if message.contains("truncated") { message } else { format!("{message} {guess}") }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so that `path`
/// is either the old file or the whole new one.
#[cfg(feature = "native")]
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Input(format!("cannot write {}: {e}", path.display())));
    }
    Ok(())
}

mod erased {
    pub trait Ser {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).expect("metadata serialises")
        }
    }
}
