//! A GGUF file seen as a Hugging Face checkpoint: a [`ModelConfig`] rebuilt from the `<arch>.*`
//! metadata, tensors under Hugging Face names (dequantised to f32, llama.cpp's Q/K row permutation
//! undone), and the tokenizer from `tokenizer.ggml.*`. GGUF is another weight source for the same
//! model code, not a second implementation of the architecture.

use crate::models::ModelConfig;
use crate::weights::gguf::{GgufError, GgufFile};
use crate::weights::gguf_view::GgufView;
use crate::weights::names::gguf_name_in;
use crate::weights::{Bytes, HostTensor, TensorSource};
use crate::{Error, Result};

/// A parsed GGUF file with the architecture it declares.
pub struct GgufCheckpoint {
    path: String,
    file: GgufFile<Bytes>,
    arch: String,
    /// Query heads and key/value heads, for undoing the Q/K permutation.
    heads: (usize, usize),
}

impl GgufCheckpoint {
    /// Parses `bytes`; `path` names the file in error messages.
    pub fn from_bytes(path: impl Into<String>, bytes: Bytes) -> Result<Self> {
        let path = path.into();
        let file = GgufFile::read(bytes).map_err(|source| Error::Gguf { path: path.clone(), cause: source })?;
        let arch = file.get_str("general.architecture").map_err(|source| Error::Gguf { path: path.clone(), cause: source })?.to_string();
        let mut ckpt = Self { path, file, arch, heads: (0, 0) };
        if crate::models::gguf_names(&ckpt.arch).is_some() && crate::models::gguf_attention(&ckpt.arch) {
            let a = ckpt.arch.clone();
            let heads = ckpt.u64(&format!("{a}.attention.head_count"))? as usize;
            let kv = ckpt.opt_u64(&format!("{a}.attention.head_count_kv"))?.map_or(heads, |k| k as usize);
            // bounded: the head counts multiply tensor rows (a damaged file claims 2^63 heads)
            if heads == 0 || kv == 0 || heads > 1 << 16 || kv > 1 << 16 {
                return Err(Error::Config(format!("{}: {a}.attention.head_count must be between 1 and 65536", ckpt.path)));
            }
            ckpt.heads = (heads, kv);
        }
        Ok(ckpt)
    }

    /// Memory-maps and parses `path`.
    #[cfg(feature = "native")]
    pub fn open(path: &std::path::Path) -> Result<Self> {
        Self::from_bytes(path.display().to_string(), Bytes::map(path)?)
    }

    /// The underlying GGUF file (metadata, tensor infos).
    pub fn file(&self) -> &GgufFile<Bytes> {
        &self.file
    }

    /// `general.architecture`.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// The file's path or name, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn err(&self, source: GgufError) -> Error {
        Error::Gguf { path: self.path.clone(), cause: source }
    }

    /// The metadata as a family reads it.
    pub fn view(&self) -> GgufView<'_> {
        GgufView { path: &self.path, file: &self.file, arch: &self.arch, kv_heads: self.heads.1 }
    }

    fn u64(&self, key: &str) -> Result<u64> {
        self.file.get_u64(key).map_err(|e| self.err(e))
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        if self.file.get(key).is_none() { Ok(None) } else { self.u64(key).map(Some) }
    }

    fn has_tensor(&self, name: &str) -> bool {
        self.file.tensor_info(name).is_some()
    }

    /// The Hugging Face config this file describes (its family's [`crate::models::family::Family::from_gguf`]).
    pub fn config(&self) -> Result<ModelConfig> {
        ModelConfig::from_gguf(&self.view())
    }
}

/// The GGUF name of Hugging Face tensor `hf` for GGUF architecture `arch`, from the table of the
/// family registered for it.
pub fn gguf_name(arch: &str, hf: &str) -> Option<String> {
    gguf_name_in(crate::models::gguf_names(arch)?, hf)
}

impl TensorSource for GgufCheckpoint {
    fn tensor(&self, name: &str) -> Result<Option<HostTensor>> {
        let Some(gname) = gguf_name(&self.arch, name) else { return Ok(None) };
        if !self.has_tensor(&gname) {
            return Ok(None);
        }
        let (shape, data) = self.file.tensor_f32(&gname).map_err(|e| self.err(e))?;
        crate::models::gguf_tensor(&self.arch, &gname, HostTensor { shape, data }, self.heads).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_with_layer_index() {
        assert_eq!(gguf_name("llama", "model.layers.12.self_attn.q_proj.weight").as_deref(), Some("blk.12.attn_q.weight"));
        assert_eq!(gguf_name("llama", "model.embed_tokens.weight").as_deref(), Some("token_embd.weight"));
        assert_eq!(gguf_name("gptneox", "gpt_neox.layers.0.attention.query_key_value.bias").as_deref(), Some("blk.0.attn_qkv.bias"));
        assert_eq!(gguf_name("llama", "model.layers.1.unknown.weight"), None);
        assert_eq!(gguf_name("bert", "model.embed_tokens.weight"), None);
    }
}
