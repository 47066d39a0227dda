//! The `.cram` file: a safetensors file holding the trained vectors (`mem`, f32 `[K, d]`) and, in its
//! string metadata, everything decompression needs and checks: format version, the model's identity
//! (family, config hash, weights and tokenizer fingerprints), the tokens in front of the memory, the
//! token count, the sha256 of the text, the method and its metrics. Written atomically.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};

use crate::load::ModelIdentity;
use crate::methods::{Layout, Protocol};
use crate::metrics::CramMetrics;
use crate::tokenizer::hex;
use crate::{Error, Result};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The contents of a `.cram` file.
#[derive(Debug, Clone, PartialEq)]
pub struct CramFile {
    /// The method that made the vectors (`memory`).
    pub method: String,
    /// Input layout used in training.
    pub layout: Layout,
    /// Success criterion used in training.
    pub protocol: Protocol,
    /// Token ids in front of the memory (the sink), if any.
    pub prefix_ids: Vec<u32>,
    /// The first text tokens, given to the decoder rather than decoded (t_1 under the paper's
    /// protocol; none under the greedy one).
    pub given_ids: Vec<u32>,
    /// The input vectors, `[mem, d]` row-major.
    pub mem: Vec<f32>,
    /// `[mem, d]`.
    pub mem_shape: [usize; 2],
    /// Tokens to decode.
    pub tokens: usize,
    /// The model the vectors belong to.
    pub model: ModelIdentity,
    /// sha256 of the text (UTF-8) that the tokens decode to.
    pub text_sha256: String,
    /// Metrics of the run that made the file.
    pub metrics: CramMetrics,
    /// The cram version that wrote the file.
    pub created_by: String,
}

/// sha256 of a text, lower-case hex.
pub fn text_sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

impl CramFile {
    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<u8> = self.mem.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, self.mem_shape.to_vec(), &bytes).map_err(|e| Error::Input(format!("cannot serialise vectors: {e}")))?;
        let json = |v: &dyn erased::Ser| v.to_json();
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "cram".to_string());
        meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
        meta.insert("method".to_string(), self.method.clone());
        meta.insert("layout".to_string(), json(&self.layout));
        meta.insert("protocol".to_string(), json(&self.protocol));
        meta.insert("prefix_ids".to_string(), json(&self.prefix_ids));
        meta.insert("given_ids".to_string(), json(&self.given_ids));
        meta.insert("tokens".to_string(), self.tokens.to_string());
        meta.insert("model".to_string(), json(&self.model));
        meta.insert("text_sha256".to_string(), self.text_sha256.clone());
        meta.insert("metrics".to_string(), json(&self.metrics));
        meta.insert("created_by".to_string(), self.created_by.clone());
        safetensors::tensor::serialize([("mem", view)], Some(meta)).map_err(|e| Error::Input(format!("cannot serialise .cram: {e}")))
    }

    /// Parses safetensors bytes; `name` is used in errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let bad = |message: String| Error::Format { path: name.to_string(), message };
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(format!("{e} (truncated or not a .cram file?)")))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |k: &str| meta.get(k).cloned().ok_or_else(|| bad(format!("metadata `{k}` is missing")));
        if get("format")? != "cram" {
            return Err(bad("metadata `format` is not `cram`".into()));
        }
        let version: u32 = get("format_version")?.parse().map_err(|_| bad("bad format_version".into()))?;
        if version != FORMAT_VERSION {
            return Err(bad(format!("format version {version}; this cram reads version {FORMAT_VERSION}")));
        }
        fn parse<T: serde::de::DeserializeOwned>(s: &str, k: &str, bad: &dyn Fn(String) -> Error) -> Result<T> {
            serde_json::from_str(s).map_err(|e| bad(format!("metadata `{k}`: {e}")))
        }
        let mem_view = st.tensor("mem").map_err(|_| bad("no tensor `mem`".into()))?;
        if mem_view.dtype() != Dtype::F32 || mem_view.shape().len() != 2 {
            return Err(bad("tensor `mem` must be f32 [K, d]".into()));
        }
        let mem: Vec<f32> = mem_view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let shape = [mem_view.shape()[0], mem_view.shape()[1]];
        let file = Self {
            method: get("method")?,
            layout: parse(&get("layout")?, "layout", &bad)?,
            protocol: parse(&get("protocol")?, "protocol", &bad)?,
            prefix_ids: parse(&get("prefix_ids")?, "prefix_ids", &bad)?,
            given_ids: parse(&get("given_ids")?, "given_ids", &bad)?,
            mem,
            mem_shape: shape,
            tokens: get("tokens")?.parse().map_err(|_| bad("bad token count".into()))?,
            model: parse(&get("model")?, "model", &bad)?,
            text_sha256: get("text_sha256")?,
            metrics: parse(&get("metrics")?, "metrics", &bad)?,
            created_by: get("created_by")?,
        };
        if file.given_ids.len() > file.tokens {
            return Err(bad(format!("{} given tokens but only {} tokens in all", file.given_ids.len(), file.tokens)));
        }
        Ok(file)
    }

    /// Fails with a clear message when `model` is not the model this file was made with.
    pub fn check_model(&self, model: &ModelIdentity) -> Result<()> {
        let me = &self.model;
        let differs = |what: &str| {
            Err(Error::FingerprintMismatch(format!(
                "this .cram file was made with another {what} ({} model from `{}`); decompress it with that model, not `{}`",
                me.family, me.source, model.source
            )))
        };
        if me.family != model.family || me.config_hash != model.config_hash {
            return differs("model");
        }
        if me.weights_fingerprint != model.weights_fingerprint {
            return differs("set of weights");
        }
        if me.tokenizer_fingerprint != model.tokenizer_fingerprint {
            return differs("tokenizer");
        }
        Ok(())
    }

    /// Reads and parses a file.
    #[cfg(feature = "native")]
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Writes the file atomically: to a temporary file beside it, then renamed over it.
    #[cfg(feature = "native")]
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a reader
/// never sees half a file.
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
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// JSON of a serialisable value, without the generic parameter in the call sites above.
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
