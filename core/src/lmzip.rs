//! Lossless text compression by the model itself: its next-token probabilities drive a range coder,
//! as in LLMZip (Valmeekam et al., 2023) and FineZip (2024). A text costs about its cross-entropy
//! under the model in bits, the yardstick a crammed vector is measured against (`cram zip`).
//!
//! Encoding and decoding run the same computation: the sink token (as in cram's sink layout; it
//! conditions the first token), then one token at a time against a KV cache, the probabilities
//! computed in f32 and quantised by the coder (constriction's range coder, 24-bit probabilities, every
//! token of the vocabulary kept possible). Natively the model runs in a one-thread pool while coding,
//! so the probabilities, and the code, are bit-identical across runs and thread counts on one
//! backend. Across backends (CPU, wgpu) float results differ in their last bits, which moves the
//! coder's quantised probabilities: a file is meant to be decoded on the backend that wrote it (the
//! file records it).
//!
//! The `.lmz` file is a safetensors file, like `.cram`: the code as a `u32` tensor `code`, and in
//! its metadata the model's identity, the token count, the sink, the text's sha256, the backend and
//! dtype. Another model is refused before decoding.

use std::collections::HashMap;

use burn::tensor::activation::softmax;
use constriction::stream::model::DefaultContiguousCategoricalEntropyModel;
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use safetensors::tensor::{Dtype, TensorView};
use sha2::Digest as _;

use crate::decode::embed_ids;
use crate::device::Precision;
use crate::format::text_sha256;
use crate::load::{LoadedModel, ModelIdentity};
use crate::models::Model;
use crate::{Error, Result};

/// The format version this build writes and reads.
pub const LMZ_VERSION: u32 = 1;

/// A text coded by its model.
#[derive(Debug, Clone, PartialEq)]
pub struct LmzFile {
    /// The model whose probabilities coded it.
    pub model: ModelIdentity,
    /// The token in front of the text (the sink).
    pub prefix_ids: Vec<u32>,
    /// Tokens coded.
    pub tokens: usize,
    /// sha256 of the text.
    pub text_sha256: String,
    /// The backend and dtype that computed the probabilities (`cpu f32`): decode there.
    pub backend: String,
    /// The dtype of the weights.
    pub precision: Precision,
    /// The range coder's words.
    pub code: Vec<u32>,
}

impl LmzFile {
    /// Bits of the code (without the metadata).
    pub fn code_bits(&self) -> usize {
        self.code.len() * 32
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let json = |v: &dyn Fn() -> serde_json::Result<String>| v().map_err(|e| Error::Input(format!("cannot serialise .lmz metadata: {e}")));
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "cram-lmz".to_string());
        meta.insert("format_version".to_string(), LMZ_VERSION.to_string());
        meta.insert("model".to_string(), json(&|| serde_json::to_string(&self.model))?);
        meta.insert("prefix_ids".to_string(), json(&|| serde_json::to_string(&self.prefix_ids))?);
        meta.insert("tokens".to_string(), self.tokens.to_string());
        meta.insert("text_sha256".to_string(), self.text_sha256.clone());
        meta.insert("backend".to_string(), self.backend.clone());
        meta.insert("dtype".to_string(), self.precision.name().to_string());
        meta.insert("created_by".to_string(), format!("cram {}", crate::VERSION));
        let bytes: Vec<u8> = self.code.iter().flat_map(|w| w.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::U32, vec![self.code.len()], &bytes).map_err(|e| Error::Input(format!("cannot serialise the code: {e}")))?;
        safetensors::tensor::serialize(vec![("code".to_string(), view)], Some(meta)).map_err(|e| Error::Input(format!("cannot serialise .lmz: {e}")))
    }

    /// Parses safetensors bytes; `name` is used in messages.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let bad = |message: String| Error::Input(format!("{name}: not a valid .lmz file: {message}"));
        let (_, header) = crate::weights::safetensors::read_header(bytes).map_err(|e| bad(crate::format::hint(e, "(truncated or not a .lmz file?)")))?;
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |k: &str| meta.get(k).cloned().ok_or_else(|| bad(format!("metadata `{k}` is missing")));
        match get("format")?.as_str() {
            "cram-lmz" => {}
            // another of cram's files: what it is, not "not a valid .lmz file"
            "cram" => return Err(Error::Input(format!("{name}: this is a .cram file (`cram compress`), not a .lmz file: `cram decompress` decodes it"))),
            "cram-encoder" => return Err(Error::Input(format!("{name}: this is an encoder file (`cram encoder train`), not a .lmz file"))),
            _ => return Err(bad("metadata `format` is not `cram-lmz`".into())),
        }
        let version: u32 = get("format_version")?.parse().map_err(|_| bad("bad format_version".into()))?;
        if version != LMZ_VERSION {
            return Err(bad(format!("format version {version}; this cram reads version {LMZ_VERSION}")));
        }
        let view = st.tensor("code").map_err(|_| bad("no tensor `code`".into()))?;
        if view.dtype() != Dtype::U32 || view.shape().len() != 1 {
            return Err(bad("tensor `code` must be u32 of rank 1".into()));
        }
        let parse = |k: &str| -> Result<serde_json::Value> { serde_json::from_str(&get(k)?).map_err(|e| bad(format!("metadata `{k}`: {e}"))) };
        Ok(Self {
            model: serde_json::from_value(parse("model")?).map_err(|e| bad(format!("metadata `model`: {e}")))?,
            prefix_ids: serde_json::from_value(parse("prefix_ids")?).map_err(|e| bad(format!("metadata `prefix_ids`: {e}")))?,
            tokens: get("tokens")?.parse().map_err(|_| bad("bad token count".into()))?,
            text_sha256: get("text_sha256")?,
            backend: get("backend")?,
            precision: get("dtype")?.parse().map_err(|_| bad("bad dtype".into()))?,
            code: view.data().chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        })
    }
}

/// Codes `ids` with `lm`'s probabilities, after the sink `prefix_ids`. `backend` names the device
/// for the file (`cpu`, `wgpu`).
pub fn compress(lm: &LoadedModel, prefix_ids: &[u32], ids: &[u32], backend: &str) -> Result<LmzFile> {
    if ids.is_empty() {
        return Err(Error::Input("the text has no tokens".into()));
    }
    if prefix_ids.is_empty() {
        return Err(Error::Input("LM coding needs a token in front of the text (the sink)".into()));
    }
    let sha = ids_sha256(lm, ids)?;
    let mut encoder = DefaultRangeEncoder::new();
    single_threaded(|| {
        walk(&lm.model, prefix_ids, ids.len(), |i, probs| {
            let model = entropy_model(probs)?;
            encoder.encode_symbol(ids[i] as usize, &model).map_err(|e| Error::Input(format!("token {i} ({}) cannot be coded: {e:?}", ids[i])))?;
            Ok(ids[i])
        })
    })?;
    let code = encoder.into_compressed().map_err(|e| Error::Input(format!("the range coder failed: {e:?}")))?;
    Ok(LmzFile {
        model: lm.identity.clone(),
        prefix_ids: prefix_ids.to_vec(),
        tokens: ids.len(),
        text_sha256: sha,
        backend: format!("{backend} {}", lm.precision),
        precision: lm.precision,
        code,
    })
}

/// The bytes `ids` stand for, when they are not UTF-8 text (a byte-level BPE codes any bytes; see
/// [`crate::tokenizer::Tokenizer::encode_bytes`]); `None` for a text.
fn non_utf8_bytes(lm: &LoadedModel, ids: &[u32]) -> Option<Vec<u8>> {
    lm.tokenizer.decode_bytes(ids).ok().filter(|b| std::str::from_utf8(b).is_err())
}

/// The sha256 a file records of what `ids` stand for: the text's, or, for bytes that are not UTF-8,
/// the bytes'.
fn ids_sha256(lm: &LoadedModel, ids: &[u32]) -> Result<String> {
    Ok(match non_utf8_bytes(lm, ids) {
        Some(bytes) => crate::tokenizer::hex(&sha2::Sha256::digest(&bytes)),
        None => text_sha256(&lm.tokenizer.decode(ids)?),
    })
}

/// Decodes `file` with `lm` (which must be the file's model) into the bytes it codes (a UTF-8 text,
/// or other bytes) and checks their sha256.
pub fn decompress_bytes(lm: &LoadedModel, file: &LmzFile) -> Result<Vec<u8>> {
    let ids = decode_ids(lm, file)?;
    if ids_sha256(lm, &ids)? != file.text_sha256 {
        return Err(Error::Input(format!(
            "the decoded text does not match the file's sha256: the file was coded on `{}` and decodes only there (float results differ between backends)",
            file.backend
        )));
    }
    Ok(match non_utf8_bytes(lm, &ids) {
        Some(bytes) => bytes,
        None => lm.tokenizer.decode(&ids)?.into_bytes(),
    })
}

/// [`decompress_bytes`] of a file that codes a UTF-8 text.
pub fn decompress(lm: &LoadedModel, file: &LmzFile) -> Result<String> {
    String::from_utf8(decompress_bytes(lm, file)?).map_err(|_| Error::Input("the file codes bytes that are not UTF-8 text".into()))
}

/// The token ids coded in `file`, decoded with `lm` (checked to be the file's model).
fn decode_ids(lm: &LoadedModel, file: &LmzFile) -> Result<Vec<u32>> {
    file.model.check_same(&lm.identity, ".lmz file", "unzip")?;
    let mut decoder = DefaultRangeDecoder::from_compressed(file.code.clone()).map_err(|e| Error::Input(format!("the code is damaged: {e:?}")))?;
    let ids = single_threaded(|| {
        walk(&lm.model, &file.prefix_ids, file.tokens, |i, probs| {
            let model = entropy_model(probs)?;
            let id = decoder.decode_symbol(&model).map_err(|e| Error::Input(format!("token {i} cannot be decoded: {e:?}")))?;
            Ok(id as u32)
        })
    })?;
    Ok(ids)
}

/// Runs the model over the prefix, then one token at a time: `step(i, p)` gets the probabilities of
/// token `i` and returns the token (the text's when coding, the decoded one when decoding).
fn walk(model: &Model, prefix: &[u32], n: usize, mut step: impl FnMut(usize, &[f32]) -> Result<u32>) -> Result<Vec<u32>> {
    let mut cache = model.new_cache();
    let mut out = Vec::with_capacity(n);
    let mut x = embed_ids(model, prefix);
    for i in 0..n {
        let len = x.dims()[1];
        let last = model.hidden_states_cached(x, &mut cache).narrow(1, len - 1, 1);
        let probs = crate::readback::sync(crate::readback::floats(softmax(model.lm_head(last), 2)))?;
        let id = step(i, &probs)?;
        out.push(id);
        x = embed_ids(model, &[id]);
    }
    Ok(out)
}

/// The coder's model of one position: the probabilities quantised to 24 bits, each token kept at
/// least the smallest probability (so a token the model finds unlikely still codes).
fn entropy_model(probs: &[f32]) -> Result<DefaultContiguousCategoricalEntropyModel> {
    DefaultContiguousCategoricalEntropyModel::from_floating_point_probabilities_fast(probs, None)
        .map_err(|()| Error::Input("the model's probabilities cannot be quantised (NaN or a vocabulary over 2^24)".into()))
}

/// Runs `f` with the CPU kernels on one thread (natively), so that float results do not depend on
/// how many threads the machine or `RAYON_NUM_THREADS` gives.
fn single_threaded<T>(f: impl FnOnce() -> Result<T> + Send) -> Result<T>
where
    T: Send,
{
    #[cfg(feature = "native")]
    {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| Error::Device(format!("cannot make a thread pool: {e}")))?;
        pool.install(f)
    }
    #[cfg(not(feature = "native"))]
    f()
}
