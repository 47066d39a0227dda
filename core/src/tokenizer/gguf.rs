//! Builds a [`tokenizers::Tokenizer`] from the `tokenizer.ggml.*` metadata of a GGUF file.
//!
//! Only `tokenizer.ggml.model = "gpt2"` (byte-level BPE, as used by SmolLM2, Llama 3, Qwen, ...)
//! is supported:
//!
//! * vocabulary `tokenizer.ggml.tokens` (id = index) and merges `tokenizer.ggml.merges`
//!   (`"left right"` strings, highest priority first);
//! * `tokenizer.ggml.token_type` 3 (control) and 4 (user-defined) tokens become added tokens,
//!   matched verbatim and never split (control tokens are marked special);
//! * the pre-tokenizer is chosen by `tokenizer.ggml.pre`, as llama.cpp does:
//!   `smollm` = individual digits then GPT-2 byte-level splitting, `llama-bpe`/`llama3` =
//!   the Llama-3 split regex then byte-level mapping, anything else (`gpt-2`, missing or
//!   unknown) = GPT-2 byte-level splitting;
//! * byte-level decoding; BOS/EOS are added only when `tokenizer.ggml.add_bos_token` /
//!   `tokenizer.ggml.add_eos_token` are true.

use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::weights::gguf::{GgufError, GgufFile, GgufMetadata};

/// llama.cpp's `LLAMA_VOCAB_PRE_TYPE_LLAMA3` split regex.
pub const LLAMA3_SPLIT_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// llama.cpp's `LLAMA_VOCAB_PRE_TYPE_QWEN2` split regex (Qwen2, Qwen2.5, Qwen3): as Llama-3's, but
/// digits one by one.
pub const QWEN2_SPLIT_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// `tokenizer.ggml.token_type` of control tokens (`<|im_start|>`, ...).
const TOKEN_TYPE_CONTROL: i32 = 3;
/// `tokenizer.ggml.token_type` of user-defined added tokens.
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// The tokenizer described by `file`'s metadata; see the module docs.
pub fn tokenizer_from_gguf<S: AsRef<[u8]>>(file: &GgufFile<S>) -> Result<Tokenizer, GgufError> {
    tokenizer_from_metadata(file.metadata())
}

/// The tokenizer described by GGUF metadata `meta`; see the module docs.
pub fn tokenizer_from_metadata(meta: &GgufMetadata) -> Result<Tokenizer, GgufError> {
    let model = meta.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(GgufError::UnsupportedTokenizer(model.to_owned()));
    }
    let tokens = meta.get_str_array("tokenizer.ggml.tokens")?;
    let mut tokenizer = Tokenizer::new(bpe(&tokens, meta)?);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer(meta)?));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    if let Some(post) = bos_eos_processor(&tokens, meta)? {
        tokenizer.with_post_processor(Some(post));
    }
    let (special, user_defined) = added_tokens(&tokens, meta)?;
    let added = |e| invalid(format!("adding control/user-defined tokens: {e}"));
    tokenizer.add_special_tokens(special).map_err(added)?;
    tokenizer.add_tokens(user_defined).map_err(added)?;
    Ok(tokenizer)
}

fn invalid(msg: impl Into<String>) -> GgufError {
    GgufError::InvalidTokenizer(msg.into())
}

/// Byte-level BPE over `tokens` and `tokenizer.ggml.merges` (absent = no merges).
fn bpe(tokens: &[&str], meta: &GgufMetadata) -> Result<BPE, GgufError> {
    if tokens.is_empty() {
        return Err(invalid("tokenizer.ggml.tokens is empty"));
    }
    let n = u32::try_from(tokens.len()).map_err(|_| invalid("vocabulary too large"))?;
    // Duplicate tokens: the last id wins, as in transformers' GGUF conversion.
    let vocab: Vocab = tokens.iter().map(|t| t.to_string()).zip(0..n).collect();
    let merges = match meta.get("tokenizer.ggml.merges") {
        None => Vec::new(),
        Some(_) => meta.get_str_array("tokenizer.ggml.merges")?,
    };
    let merges = merges
        .iter()
        .enumerate()
        .map(|(i, merge)| {
            let (left, right) = merge.split_once(' ').ok_or_else(|| invalid(format!("merge #{i} {merge:?} is not two space-separated tokens")))?;
            for part in [left, right, &format!("{left}{right}")] {
                if !vocab.contains_key(part) {
                    return Err(invalid(format!("merge #{i} {merge:?} refers to token {part:?}, which is not in the vocabulary")));
                }
            }
            Ok((left.to_owned(), right.to_owned()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // No word cache: see `tokenizer::without_bpe_cache`.
    BPE::builder().vocab_and_merges(vocab, merges).cache_capacity(0).build().map_err(|e| invalid(format!("building BPE model: {e}")))
}

/// GPT-2 byte-level splitting (no prefix space).
fn byte_level(use_regex: bool) -> PreTokenizerWrapper {
    ByteLevel::new(false, true, use_regex).into()
}

/// The pre-tokenizer for `tokenizer.ggml.pre`.
fn pre_tokenizer(meta: &GgufMetadata) -> Result<PreTokenizerWrapper, GgufError> {
    let pre = match meta.get("tokenizer.ggml.pre") {
        None => "default",
        Some(_) => meta.get_str("tokenizer.ggml.pre")?,
    };
    Ok(match pre {
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level(true)]).into(),
        "llama-bpe" | "llama3" | "llama-v3" => {
            let split = Split::new(SplitPattern::Regex(LLAMA3_SPLIT_REGEX.into()), SplitDelimiterBehavior::Isolated, false)
                .map_err(|e| invalid(format!("compiling the llama-3 split regex: {e}")))?;
            Sequence::new(vec![split.into(), byte_level(false)]).into()
        }
        "qwen2" => {
            let split = Split::new(SplitPattern::Regex(QWEN2_SPLIT_REGEX.into()), SplitDelimiterBehavior::Isolated, false)
                .map_err(|e| invalid(format!("compiling the qwen2 split regex: {e}")))?;
            Sequence::new(vec![split.into(), byte_level(false)]).into()
        }
        _ => byte_level(true),
    })
}

/// Control tokens (special) and user-defined tokens (not special), from `token_type`.
fn added_tokens(tokens: &[&str], meta: &GgufMetadata) -> Result<(Vec<AddedToken>, Vec<AddedToken>), GgufError> {
    if meta.get("tokenizer.ggml.token_type").is_none() {
        return Ok((Vec::new(), Vec::new()));
    }
    let types = meta.get_i32_array("tokenizer.ggml.token_type")?;
    if types.len() != tokens.len() {
        return Err(invalid(format!("tokenizer.ggml.token_type has {} entries but there are {} tokens", types.len(), tokens.len())));
    }
    let of_type = |wanted: i32, special: bool| -> Vec<AddedToken> {
        let pairs = tokens.iter().zip(&types);
        pairs.filter(|&(_, &ty)| ty == wanted).map(|(t, _)| AddedToken::from(*t, special)).collect()
    };
    Ok((of_type(TOKEN_TYPE_CONTROL, true), of_type(TOKEN_TYPE_USER_DEFINED, false)))
}

/// A post-processor adding BOS and/or EOS, if the metadata asks for either.
fn bos_eos_processor(tokens: &[&str], meta: &GgufMetadata) -> Result<Option<TemplateProcessing>, GgufError> {
    let flag = |key: &str| match meta.get(key) {
        None => Ok(false),
        Some(_) => meta.get_bool(key),
    };
    let token = |key: &str| -> Result<(String, u32), GgufError> {
        let id = meta.get_u64(key)?;
        let text = usize::try_from(id).ok().and_then(|i| tokens.get(i));
        let text = text.ok_or_else(|| invalid(format!("{key} = {id} is not a token id")))?;
        // Fits: it indexes the vocabulary, whose size was checked to fit a u32.
        Ok((text.to_string(), id as u32))
    };
    let bos = flag("tokenizer.ggml.add_bos_token")?.then(|| token("tokenizer.ggml.bos_token_id")).transpose()?;
    let eos = flag("tokenizer.ggml.add_eos_token")?.then(|| token("tokenizer.ggml.eos_token_id")).transpose()?;
    if bos.is_none() && eos.is_none() {
        return Ok(None);
    }
    // Templates are given as serde values: token texts may contain spaces or colons, which the
    // builder's string syntax cannot express.
    let special = |t: &(String, u32), type_id: u32| serde_json::json!({"SpecialToken": {"id": t.0, "type_id": type_id}});
    let sequence = |id: &str, type_id: u32| serde_json::json!({"Sequence": {"id": id, "type_id": type_id}});
    let wrap = |seq: serde_json::Value, type_id: u32| {
        let mut pieces = Vec::new();
        pieces.extend(bos.as_ref().map(|t| special(t, type_id)));
        pieces.push(seq);
        pieces.extend(eos.as_ref().map(|t| special(t, type_id)));
        pieces
    };
    let single = wrap(sequence("A", 0), 0);
    let pair: Vec<_> = single.iter().cloned().chain(wrap(sequence("B", 1), 1)).collect();
    let mut special_tokens = serde_json::Map::new();
    for (text, id) in bos.iter().chain(&eos) {
        let entry = serde_json::json!({"id": text, "ids": [id], "tokens": [text]});
        special_tokens.insert(text.clone(), entry);
    }
    let processor = serde_json::json!({
        "type": "TemplateProcessing",
        "single": single,
        "pair": pair,
        "special_tokens": special_tokens,
    });
    serde_json::from_value(processor).map(Some).map_err(|e| invalid(format!("building the BOS/EOS post-processor: {e}")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::weights::gguf::GgufValue;

    fn strings(items: &[&str]) -> GgufValue {
        GgufValue::Array(items.iter().map(|s| GgufValue::String(s.to_string())).collect())
    }

    /// A tiny byte-level vocabulary: the 256 byte symbols, a few merges and two control tokens.
    fn tiny_meta(extra: &[(&str, GgufValue)]) -> GgufMetadata {
        let bytes = byte_symbols();
        let merged = ["he", "ll", "hell", "hello", "Ġw", "Ġwo"];
        let specials = ["<|im_start|>", "<|im_end|>", "<my token>"];
        let tokens: Vec<&str> = bytes.iter().map(String::as_str).chain(merged).chain(specials).collect();
        let mut types = vec![GgufValue::I32(1); tokens.len()];
        let n = types.len();
        types[n - 3] = GgufValue::I32(TOKEN_TYPE_CONTROL);
        types[n - 2] = GgufValue::I32(TOKEN_TYPE_CONTROL);
        types[n - 1] = GgufValue::I32(TOKEN_TYPE_USER_DEFINED);
        let mut map = BTreeMap::from([
            ("tokenizer.ggml.model".to_owned(), GgufValue::String("gpt2".into())),
            ("tokenizer.ggml.tokens".to_owned(), strings(&tokens)),
            ("tokenizer.ggml.merges".to_owned(), strings(&["h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o"])),
            ("tokenizer.ggml.token_type".to_owned(), GgufValue::Array(types)),
            ("tokenizer.ggml.bos_token_id".to_owned(), GgufValue::U32(256 + 6)),
            ("tokenizer.ggml.eos_token_id".to_owned(), GgufValue::U32(256 + 7)),
        ]);
        map.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        map.into()
    }

    /// GPT-2's byte-to-unicode table, in byte order.
    fn byte_symbols() -> Vec<String> {
        let printable = |b: u32| matches!(b, 33..=126 | 161..=172 | 174..=255);
        let mut next_shifted = 256;
        let mut symbol = |b: u32| {
            if printable(b) {
                return b;
            }
            next_shifted += 1;
            next_shifted - 1
        };
        (0..256).filter_map(|b| char::from_u32(symbol(b))).map(String::from).collect()
    }

    fn encode(tok: &Tokenizer, text: &str) -> Vec<u32> {
        tok.encode(text, true).unwrap().get_ids().to_vec()
    }

    #[test]
    fn tiny_vocab_encodes_merges_specials_and_roundtrips() {
        let tok = tokenizer_from_metadata(&tiny_meta(&[])).unwrap();
        let (hello, w) = (256 + 3, 256 + 4);
        let text = "<|im_start|>hello world<my token><|im_end|>";
        let ids = encode(&tok, text);
        let (d, l, r) = (u32::from(b'd'), u32::from(b'l'), u32::from(b'r'));
        assert_eq!(ids, [262, hello, w + 1, r, l, d, 264, 263]);
        assert_eq!(tok.decode(&ids, false).unwrap(), text);
        assert_eq!(tok.decode(&ids, true).unwrap(), "hello world<my token>");
        // Bytes outside the merges (and non-ASCII) still round-trip.
        let text = "naïve\t\n  ü 42";
        assert_eq!(tok.decode(&encode(&tok, text), false).unwrap(), text);
    }

    #[test]
    fn bos_and_eos_only_when_asked() {
        let tok = tokenizer_from_metadata(&tiny_meta(&[])).unwrap();
        assert_eq!(encode(&tok, "he"), [256]);
        let meta = tiny_meta(&[("tokenizer.ggml.add_bos_token", GgufValue::Bool(true)), ("tokenizer.ggml.add_eos_token", GgufValue::Bool(false))]);
        let tok = tokenizer_from_metadata(&meta).unwrap();
        assert_eq!(encode(&tok, "he"), [262, 256]);
        assert_eq!(tok.encode("he", false).unwrap().get_ids(), [256]);
        let meta = tiny_meta(&[("tokenizer.ggml.add_bos_token", GgufValue::Bool(true)), ("tokenizer.ggml.add_eos_token", GgufValue::Bool(true))]);
        let tok = tokenizer_from_metadata(&meta).unwrap();
        assert_eq!(encode(&tok, "he"), [262, 256, 263]);
        let pair = tok.encode(("he", "ll"), true).unwrap();
        assert_eq!(pair.get_ids(), [262, 256, 263, 262, 257, 263]);
        assert_eq!(pair.get_type_ids(), [0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn pre_tokenizers_by_name() {
        let pre = |name: &str| {
            let meta = tiny_meta(&[("tokenizer.ggml.pre", GgufValue::String(name.into()))]);
            tokenizer_from_metadata(&meta).unwrap()
        };
        // Without merges for digits every tokenizer yields single digits; compare splits instead.
        let splits = |tok: &Tokenizer, text: &str| {
            let mut pts = tokenizers::PreTokenizedString::from(text);
            use tokenizers::PreTokenizer;
            tok.get_pre_tokenizer().unwrap().pre_tokenize(&mut pts).unwrap();
            pts.get_splits(tokenizers::OffsetReferential::Original, tokenizers::OffsetType::Byte).into_iter().map(|(s, _, _)| s.to_owned()).collect::<Vec<_>>()
        };
        let text = "I'M 12345 ok!!\n\n  x";
        // Expected splits computed with the Python `tokenizers` package.
        assert_eq!(splits(&pre("gpt-2"), text), ["I", "'", "M", "Ġ12345", "Ġok", "!!", "ĊĊĠ", "Ġx"]);
        assert_eq!(splits(&pre("unknown-pre"), text), splits(&pre("gpt-2"), text));
        assert_eq!(splits(&pre("smollm"), text), ["I", "'", "M", "Ġ", "1", "2", "3", "4", "5", "Ġok", "!!", "ĊĊĠ", "Ġx"]);
        assert_eq!(splits(&pre("llama-bpe"), text), ["I", "'M", "Ġ", "123", "45", "Ġok", "!!ĊĊ", "Ġ", "Ġx"]);
    }

    #[test]
    fn errors() {
        let err = |meta: GgufMetadata| tokenizer_from_metadata(&meta).unwrap_err().to_string();
        let e = err(tiny_meta(&[("tokenizer.ggml.model", GgufValue::String("llama".into()))]));
        assert!(e.contains("Unsupported tokenizer model \"llama\""), "{e}");
        let e = err(tiny_meta(&[("tokenizer.ggml.tokens", strings(&[]))]));
        assert!(e.contains("empty"), "{e}");
        let e = err(tiny_meta(&[("tokenizer.ggml.merges", strings(&["h e", "x ✓"]))]));
        assert!(e.contains("merge #1") && e.contains("\"✓\""), "{e}");
        let e = err(tiny_meta(&[("tokenizer.ggml.merges", strings(&["hel"]))]));
        assert!(e.contains("not two space-separated"), "{e}");
        let e = err(tiny_meta(&[("tokenizer.ggml.add_bos_token", GgufValue::Bool(true)), ("tokenizer.ggml.bos_token_id", GgufValue::U32(99_999))]));
        assert!(e.contains("bos_token_id = 99999"), "{e}");
        let mut meta = tiny_meta(&[]).as_map().clone();
        meta.remove("tokenizer.ggml.model");
        let e = err(meta.into());
        assert!(e.contains("missing metadata key \"tokenizer.ggml.model\""), "{e}");
    }

    #[test]
    fn llama3_regex_compiles() {
        let split = Split::new(SplitPattern::Regex(LLAMA3_SPLIT_REGEX.into()), SplitDelimiterBehavior::Isolated, false);
        assert!(split.is_ok());
    }

    #[test]
    fn smollm2_matches_transformers() {
        let path = crate::aliases::alias_path(crate::aliases::DEFAULT_MODEL).expect("the default model is an alias");
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("skipping: {} not present", path.display());
            return;
        };
        let file = GgufFile::read(bytes).unwrap();
        let tok = tokenizer_from_gguf(&file).unwrap();
        assert_eq!(tok.get_vocab_size(true), 49152);
        // Ids from transformers 5.23 (its GGUF tokenizer conversion) and, identically, from the
        // Python `tokenizers` package with the smollm pre-tokenizer (Digits then ByteLevel).
        let cases: [(&str, &[u32]); 5] = [
            ("Hello world!", &[19556, 905, 17]),
            ("In 1815, the year 2024 had 365 days.", &[788, 216, 33, 40, 33, 37, 28, 260, 713, 216, 34, 32, 34, 36, 761, 216, 35, 38, 37, 2009, 30]),
            ("  multiple   spaces\nand\ttabs", &[216, 2701, 256, 5600, 198, 397, 197, 100, 7366]),
            ("naïve café — “quotes”", &[3546, 46494, 37366, 1841, 619, 385, 2346, 573]),
            ("<|im_start|>user\nHi<|im_end|>", &[1, 4093, 198, 26843, 2]),
        ];
        for (text, want) in cases {
            let ids = encode(&tok, text);
            assert_eq!(ids, want, "{text:?}");
            assert_eq!(tok.decode(&ids, false).unwrap(), text);
        }
    }
}
