//! A GGUF file seen as a Hugging Face checkpoint: a [`ModelConfig`] rebuilt from the `<arch>.*`
//! metadata, tensors under Hugging Face names (dequantised to f32, llama.cpp's Q/K row permutation
//! undone), and the tokenizer from `tokenizer.ggml.*`. GGUF is another weight source for the same
//! model code, not a second implementation of the architecture.

use crate::models::rope::RopeScaling;
use crate::models::{GptNeoxConfig, LlamaConfig, ModelConfig, TokenIds};
use crate::weights::gguf::{GgufError, GgufFile};
use crate::weights::names::{gguf_name, neox_qkv_per_head, unpermute_qk};
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
        if matches!(ckpt.arch.as_str(), "llama" | "gptneox") {
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

    fn err(&self, source: GgufError) -> Error {
        Error::Gguf { path: self.path.clone(), cause: source }
    }

    fn u64(&self, key: &str) -> Result<u64> {
        self.file.get_u64(key).map_err(|e| self.err(e))
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        if self.file.get(key).is_none() { Ok(None) } else { self.u64(key).map(Some) }
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        if self.file.get(key).is_none() { Ok(None) } else { self.file.get_f64(key).map(Some).map_err(|e| self.err(e)) }
    }

    fn has_tensor(&self, name: &str) -> bool {
        self.file.tensor_info(name).is_some()
    }

    /// The Hugging Face config this file describes.
    pub fn config(&self) -> Result<ModelConfig> {
        let a = self.arch.as_str();
        let key = |k: &str| format!("{a}.{k}");
        let vocab = match self.opt_u64(&key("vocab_size"))? {
            Some(v) => v as usize,
            None => self.file.get_str_array("tokenizer.ggml.tokens").map_err(|e| self.err(e))?.len(),
        };
        let hidden = self.u64(&key("embedding_length"))? as usize;
        let layers = self.u64(&key("block_count"))? as usize;
        let heads = self.u64(&key("attention.head_count"))? as usize;
        let ffn = self.u64(&key("feed_forward_length"))? as usize;
        let context = self.opt_u64(&key("context_length"))?.unwrap_or(2048) as usize;
        let bos = self.opt_u64("tokenizer.ggml.bos_token_id")?.and_then(|id| u32::try_from(id).ok()).map(TokenIds::One);
        let eos = self.opt_u64("tokenizer.ggml.eos_token_id")?.and_then(|id| u32::try_from(id).ok()).map(TokenIds::One);
        match a {
            "llama" => {
                let head_dim = self.opt_u64(&key("attention.key_length"))?.map(|v| v as usize);
                let rope_scaling = match self.file.get(&key("rope.scaling.type")).and_then(|v| v.as_str()) {
                    Some("linear") => Some(RopeScaling {
                        rope_type: "linear".into(),
                        factor: self.opt_f64(&key("rope.scaling.factor"))?.unwrap_or(1.0),
                        low_freq_factor: None,
                        high_freq_factor: None,
                        original_max_position_embeddings: None,
                    }),
                    _ => None,
                };
                if self.has_tensor("rope_freqs.weight") {
                    // Llama-3.1 GGUFs carry the llama3 scaling as precomputed `rope_freqs` factors.
                    return Err(Error::Config(format!(
                        "{}: this GGUF stores Llama-3.1 rope scaling as `rope_freqs`, which cram does not read yet; load the Hugging Face folder instead",
                        self.path
                    )));
                }
                Ok(ModelConfig::Llama(LlamaConfig {
                    vocab_size: vocab,
                    hidden_size: hidden,
                    intermediate_size: ffn,
                    num_hidden_layers: layers,
                    num_attention_heads: heads,
                    num_key_value_heads: Some(self.heads.1),
                    head_dim: head_dim.filter(|&h| h != hidden / heads),
                    rms_norm_eps: self.opt_f64(&key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-5),
                    rope_theta: self.opt_f64(&key("rope.freq_base"))?.unwrap_or(10000.0),
                    rope_scaling,
                    max_position_embeddings: context,
                    tie_word_embeddings: !self.has_tensor("output.weight"),
                    attention_bias: self.has_tensor("blk.0.attn_q.bias"),
                    mlp_bias: false,
                    hidden_act: "silu".into(),
                    bos_token_id: bos,
                    eos_token_id: eos,
                }))
            }
            "gptneox" => {
                let rot = self.opt_u64(&key("rope.dimension_count"))?.map_or(0.25, |r| r as f64 / (hidden / heads) as f64);
                Ok(ModelConfig::GptNeox(GptNeoxConfig {
                    vocab_size: vocab,
                    hidden_size: hidden,
                    num_hidden_layers: layers,
                    num_attention_heads: heads,
                    intermediate_size: ffn,
                    rotary_pct: rot,
                    rotary_emb_base: self.opt_f64(&key("rope.freq_base"))?.unwrap_or(10000.0),
                    rope_scaling: None,
                    layer_norm_eps: self.opt_f64(&key("attention.layer_norm_epsilon"))?.unwrap_or(1e-5),
                    use_parallel_residual: self.file.get(&key("use_parallel_residual")).and_then(|v| v.as_bool()).unwrap_or(true),
                    hidden_act: "gelu".into(),
                    attention_bias: self.has_tensor("blk.0.attn_qkv.bias"),
                    tie_word_embeddings: !self.has_tensor("output.weight"),
                    max_position_embeddings: context,
                    bos_token_id: bos,
                    eos_token_id: eos,
                }))
            }
            other => Err(Error::UnsupportedArch(format!("{other} (in GGUF {})", self.path))),
        }
    }
}

impl TensorSource for GgufCheckpoint {
    fn tensor(&self, name: &str) -> Result<Option<HostTensor>> {
        let Some(gname) = gguf_name(&self.arch, name) else { return Ok(None) };
        if !self.has_tensor(&gname) {
            return Ok(None);
        }
        let (shape, mut data) = self.file.tensor_f32(&gname).map_err(|e| self.err(e))?;
        if self.arch == "gptneox" && gname.contains("attn_qkv") {
            let (rows, cols) = match shape.as_slice() {
                [r, c] => (*r, *c),
                [r] => (*r, 1),
                _ => return Err(Error::ShapeMismatch { name: gname, expected: vec![3 * self.heads.0, 0], got: shape.clone() }),
            };
            if rows % (3 * self.heads.0) != 0 {
                return Err(Error::ShapeMismatch { name: gname, expected: vec![3 * self.heads.0, cols], got: shape.clone() });
            }
            data = neox_qkv_per_head(&data, rows, cols, self.heads.0);
            return Ok(Some(HostTensor { shape, data }));
        }
        let n_head = if gname.ends_with("attn_q.weight") {
            Some(self.heads.0)
        } else if gname.ends_with("attn_k.weight") {
            Some(self.heads.1)
        } else {
            None
        };
        if let (Some(n_head), "llama", [rows, cols]) = (n_head, self.arch.as_str(), shape.as_slice()) {
            if n_head == 0 || rows % (2 * n_head) != 0 {
                return Err(Error::ShapeMismatch { name: gname, expected: vec![2 * n_head, *cols], got: shape.clone() });
            }
            data = unpermute_qk(&data, *rows, *cols, n_head);
        }
        Ok(Some(HostTensor { shape, data }))
    }
}
