//! A GGUF file's metadata as a model family reads it (`Family::from_gguf` in `models/`): the
//! `<arch>.*` keys, the tensors present, and the sizes every architecture has ([`GgufCommon`]).

use super::Bytes;
use super::gguf::{GgufError, GgufFile};
use crate::{Error, Result};

/// The metadata of one GGUF file of architecture `arch`.
pub struct GgufView<'a> {
    /// The file's path or name, for messages.
    pub path: &'a str,
    /// The parsed file.
    pub file: &'a GgufFile<Bytes>,
    /// `general.architecture`.
    pub arch: &'a str,
    /// Key/value heads (`<arch>.attention.head_count_kv`, else the query heads).
    pub kv_heads: usize,
}

impl GgufView<'_> {
    /// The file's path or name, for messages.
    pub fn path(&self) -> &str {
        self.path
    }

    /// `general.architecture`.
    pub fn arch(&self) -> &str {
        self.arch
    }

    /// The underlying GGUF file (metadata, tensor infos).
    pub fn file(&self) -> &GgufFile<Bytes> {
        self.file
    }

    fn err(&self, source: GgufError) -> Error {
        Error::Gguf { path: self.path.to_string(), cause: source }
    }

    /// `<arch>.<k>`: a key of the architecture's metadata.
    pub fn key(&self, k: &str) -> String {
        format!("{}.{k}", self.arch)
    }

    /// A required integer.
    pub fn u64(&self, key: &str) -> Result<u64> {
        self.file.get_u64(key).map_err(|e| self.err(e))
    }

    /// An optional integer.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        if self.file.get(key).is_none() { Ok(None) } else { self.u64(key).map(Some) }
    }

    /// An optional number.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        if self.file.get(key).is_none() { Ok(None) } else { self.file.get_f64(key).map(Some).map_err(|e| self.err(e)) }
    }

    /// Whether the file has the tensor `name` (a GGUF name).
    pub fn has_tensor(&self, name: &str) -> bool {
        self.file.tensor_info(name).is_some()
    }

    /// The metadata every architecture has (`<arch>.embedding_length`, ...).
    pub fn common(&self) -> Result<GgufCommon> {
        let vocab = match self.opt_u64(&self.key("vocab_size"))? {
            Some(v) => v as usize,
            None => self.file.get_str_array("tokenizer.ggml.tokens").map_err(|e| self.err(e))?.len(),
        };
        Ok(GgufCommon {
            vocab,
            hidden: self.u64(&self.key("embedding_length"))? as usize,
            layers: self.u64(&self.key("block_count"))? as usize,
            heads: self.u64(&self.key("attention.head_count"))? as usize,
            kv_heads: self.kv_heads,
            ffn: self.u64(&self.key("feed_forward_length"))? as usize,
            context: self.opt_u64(&self.key("context_length"))?.unwrap_or(2048) as usize,
            bos: self.opt_u64("tokenizer.ggml.bos_token_id")?.and_then(|id| u32::try_from(id).ok()),
            eos: self.opt_u64("tokenizer.ggml.eos_token_id")?.and_then(|id| u32::try_from(id).ok()),
        })
    }
}

/// The metadata of a GGUF file that every architecture has.
#[derive(Debug, Clone)]
pub struct GgufCommon {
    /// `<arch>.vocab_size`, else the number of `tokenizer.ggml.tokens`.
    pub vocab: usize,
    /// `<arch>.embedding_length`.
    pub hidden: usize,
    /// `<arch>.block_count`.
    pub layers: usize,
    /// `<arch>.attention.head_count`.
    pub heads: usize,
    /// `<arch>.attention.head_count_kv`, else the query heads.
    pub kv_heads: usize,
    /// `<arch>.feed_forward_length`.
    pub ffn: usize,
    /// `<arch>.context_length`, else 2048.
    pub context: usize,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
}
