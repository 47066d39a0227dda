//! Tokenizers, through the `tokenizers` crate with the same features on every target, so the CLI and
//! the browser split a text identically. A tokenizer comes from a `tokenizer.json` or is rebuilt from
//! a GGUF file's `tokenizer.ggml.*` metadata ([`gguf`]).

pub mod gguf;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// A text tokenizer with the ids of its special tokens. Cloning shares it: a `tokenizers` clone
/// copies the vocabulary and merges and recompiles every split regex.
#[derive(Clone)]
pub struct Tokenizer {
    inner: Arc<tokenizers::Tokenizer>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokenizer(vocab={})", self.vocab_size())
    }
}

impl Tokenizer {
    /// Wraps a `tokenizers` tokenizer. A BPE model in it should have no word cache (built with
    /// `cache_capacity(0)`, as the GGUF builder does; see [`without_bpe_cache`]).
    pub fn new(inner: tokenizers::Tokenizer) -> Self {
        Self { inner: Arc::new(inner) }
    }

    /// Parses a `tokenizer.json`, with its BPE word cache turned off ([`without_bpe_cache`]).
    pub fn from_json_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let mut inner = tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| Error::Tokenizer(format!("{name}: {e}")))?;
        without_bpe_cache(&mut inner);
        Ok(Self::new(inner))
    }

    /// The ids of `text`, without special tokens added (cram's texts have no BOS unless asked).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids` (special tokens kept, so a round trip is exact).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The ids of `bytes`, which need not be UTF-8: the UTF-8 runs are encoded as text, and each
    /// other byte as the byte-level BPE token of that byte (GPT-2's byte symbols). A tokenizer
    /// without those tokens cannot code such bytes, and says so.
    pub fn encode_bytes(&self, bytes: &[u8]) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        for chunk in bytes.utf8_chunks() {
            if !chunk.valid().is_empty() {
                ids.extend(self.encode(chunk.valid())?);
            }
            for &b in chunk.invalid() {
                let symbol = byte_symbol(b);
                // Byte-level vocabularies trained on UTF-8 text may lack the bytes UTF-8 never
                // uses (0xc0, 0xc1, 0xf5..=0xff): SmolLM2's has no 0xff.
                let id = self.token_to_id(&symbol.to_string()).ok_or_else(|| {
                    Error::Tokenizer(format!("byte 0x{b:02x} is not UTF-8 text, and this tokenizer has no token for that byte alone (no byte-level symbol {symbol:?} in its vocabulary)"))
                })?;
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// The bytes `ids` stand for (the inverse of [`Tokenizer::encode_bytes`]): each token's byte
    /// symbols as bytes, an added token as its text. An error for a token that is neither (a
    /// tokenizer that is not a byte-level BPE).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let added = self.inner.get_added_tokens_decoder();
        let mut out = Vec::new();
        for &id in ids {
            if let Some(t) = added.get(&id) {
                out.extend_from_slice(t.content.as_bytes());
                continue;
            }
            let token = self.id_to_token(id).ok_or_else(|| Error::Tokenizer(format!("token id {id} is not in the vocabulary")))?;
            for c in token.chars() {
                out.push(symbol_byte(c).ok_or_else(|| Error::Tokenizer(format!("token {token:?} is not made of byte symbols")))?);
            }
        }
        Ok(out)
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The string of token `id`.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// sha256 of the vocabulary (id order) and the normaliser/pre-tokenizer/model settings: equal for
    /// tokenizers that split every text alike, stored in `.cram` files.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let mut vocab: Vec<(String, u32)> = self.inner.get_vocab(true).into_iter().collect();
        vocab.sort_by_key(|(_, id)| *id);
        for (tok, id) in vocab {
            h.update(id.to_le_bytes());
            h.update(tok.as_bytes());
            h.update([0]);
        }
        for part in [
            serde_json::to_string(&self.inner.get_normalizer()).unwrap_or_default(),
            serde_json::to_string(&self.inner.get_pre_tokenizer()).unwrap_or_default(),
        ] {
            h.update(part.as_bytes());
        }
        hex(&h.finalize())
    }

    /// sha256 of what the tokenizer does: its vocabulary (id order), its BPE merges (rank order), its
    /// special tokens, and the ids it gives [`PROBE`]. Two encodings of one tokenizer (a
    /// `tokenizer.json` and a GGUF file's metadata) agree, however their settings are serialised;
    /// tokenizers that split a text differently do not. Stored in `.cram` files beside the older
    /// [`Tokenizer::fingerprint`], which files made before it still compare.
    pub fn behaviour_fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(b"cram tokenizer behaviour 1");
        let mut vocab: Vec<(String, u32)> = self.inner.get_vocab(true).into_iter().collect();
        vocab.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        field(b"vocabulary");
        for (tok, id) in &vocab {
            field(&id.to_le_bytes());
            field(tok.as_bytes());
        }
        field(b"merges");
        for (left, right) in bpe_merges(&self.inner) {
            field(left.as_bytes());
            field(right.as_bytes());
        }
        let mut special: Vec<(u32, String)> =
            self.inner.get_added_tokens_decoder().into_iter().filter(|(_, t)| t.special).map(|(id, t)| (id, t.content)).collect();
        special.sort();
        field(b"special");
        for (id, content) in &special {
            field(&id.to_le_bytes());
            field(content.as_bytes());
        }
        field(b"probe");
        match self.inner.encode(PROBE, false) {
            Ok(enc) => enc.get_ids().iter().for_each(|id| field(&id.to_le_bytes())),
            Err(e) => field(format!("error: {e}").as_bytes()),
        }
        hex(&h.finalize())
    }

    /// Checks that every id this tokenizer can produce has a row in a model of `model_vocab` rows.
    pub fn check_fits(&self, model_vocab: usize, what: &str) -> Result<()> {
        let max_id = self.inner.get_vocab(true).values().copied().max().unwrap_or(0) as usize;
        if max_id >= model_vocab {
            return Err(Error::Tokenizer(format!(
                "{what}: the tokenizer has token id {max_id} but the model has only {model_vocab} embedding rows; tokenizer and model do not belong together"
            )));
        }
        Ok(())
    }
}

/// The text whose ids [`Tokenizer::behaviour_fingerprint`] hashes: prose with punctuation and
/// contractions, numbers and dates, code, runs of spaces, tabs and newlines, and non-Latin scripts
/// (the places where pre-tokenizers differ).
pub const PROBE: &str = "The quick brown fox didn't jump; it said: \"I'll be 42 in 2026-12-07, costs $1,234.56!\"\n\n\
fn main() {\n    let x = v[0] + 0x1F; // 3.14e-2\n\tif x >= 10 { return; }\n}\n\n\n   \t  trailing   spaces   \n\
Привет, мир! 日本語のテキストと中文。 مرحبا بالعالم  नमस्ते ½ é ü ß ñ 🙂👍 <|endoftext|> <s></s>";

/// The merges of a BPE model in rank order (empty for other models): read from its serialisation,
/// the one place `tokenizers` exposes them.
fn bpe_merges(inner: &tokenizers::Tokenizer) -> Vec<(String, String)> {
    let tokenizers::ModelWrapper::BPE(bpe) = inner.get_model() else { return Vec::new() };
    let Ok(mut model) = serde_json::to_value(bpe) else { return Vec::new() };
    serde_json::from_value(model["merges"].take()).unwrap_or_default()
}

/// GPT-2's symbol of byte `b` in a byte-level BPE vocabulary: printable bytes stand for themselves,
/// the others for the characters from U+0100 on, in byte order.
fn byte_symbol(b: u8) -> char {
    let shown = |b: u8| matches!(b, 33..=126 | 161..=172 | 174..=255);
    if shown(b) {
        return char::from(b);
    }
    let below = (0..b).filter(|&x| !shown(x)).count() as u32;
    char::from_u32(256 + below).expect("a valid char")
}

/// The byte a byte-level BPE symbol stands for ([`byte_symbol`]'s inverse).
fn symbol_byte(c: char) -> Option<u8> {
    let code = u32::from(c);
    if let Ok(b) = u8::try_from(code)
        && byte_symbol(b) == c
    {
        return Some(b);
    }
    let n = code.checked_sub(256)? as usize;
    (0..=255u8).filter(|&b| u32::from(byte_symbol(b)) >= 256).nth(n)
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Turns off the word cache of a BPE model. `tokenizers` 0.23 keeps that cache in a thread-local
/// map keyed by the model's id and never removes a model's entry when the model is dropped, so every
/// tokenizer that encoded something left up to 10,000 cached words behind for the life of the thread
/// (75 KB for a text of 300 distinct words). The `gguf_tokenizer` fuzz target found it: its memory
/// grew by 2.4 GB over 10 M inputs. Without the cache a 685 KB book encodes in 0.30 s instead of
/// 0.23 s. A model built with capacity 0 has no cache at all (the GGUF builder's, which therefore
/// skips this copy of its vocabulary and merges); one read from a `tokenizer.json` has no such
/// option and gets capacity 0 here, which still leaves one empty map entry (under 100 bytes) per
/// model and thread.
fn without_bpe_cache(inner: &mut tokenizers::Tokenizer) {
    if let tokenizers::ModelWrapper::BPE(bpe) = inner.get_model() {
        let mut bpe = bpe.clone();
        bpe.resize_cache(0);
        inner.with_model(bpe);
    }
}
