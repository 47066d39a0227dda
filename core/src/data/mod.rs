//! Texts to cram: loading them and making the paper's evaluation sets.
//!
//! - [`Text`]: one text with an id, the unit every other part of cram works on.
//! - `load_texts` (native only): a `.jsonl` file, a folder of `.txt` files or one plain text file.
//! - [`jsonl`]: parsing and writing JSON Lines, without touching the filesystem (works in wasm32).
//! - [`books`]: the paper's book chunks: a random run of whole sentences, of which the second half
//!   is kept.
//! - [`random_words`]: texts of words drawn uniformly from a vocabulary.
//!
//! Everything random is seeded and uses [`rand::rngs::StdRng`] (ChaCha12) with `u64` ranges only,
//! so a seed gives the same texts on every platform, wasm32 included.

pub mod books;
pub mod jsonl;
#[cfg(feature = "native")]
pub mod parquet;
pub mod random_words;

use serde::{Deserialize, Serialize};

#[cfg(feature = "native")]
use crate::{Error, Result};
#[cfg(feature = "native")]
use std::path::Path;

/// One text to cram, with the id that names it in reports and `.cram` files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    /// A name for the text, unique within its source (`"pg11:0:1234"`, `"notes.txt"`, ...).
    pub id: String,
    /// The text itself.
    pub text: String,
}

/// Mixes two 64-bit values into one well-spread seed (SplitMix64 finaliser applied to both).
///
/// Used to derive one independent, portable seed per chunk or text from a user seed.
pub(crate) fn mix_seed(a: u64, b: u64) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    splitmix(a ^ splitmix(b))
}

/// Loads the texts at `path`.
///
/// - A `.jsonl` file: one [`Text`] per non-empty line. Each line is a JSON object with a string
///   field `text`; its `id` is the field `id` (a string or a number) if present, else
///   `"<file stem>:<line number>"` (lines counted from 1). Other fields are ignored.
/// - A folder: every `*.txt` file directly inside it (not recursive), sorted by file name, each
///   one [`Text`] whose id is the file name.
/// - Any other file: one [`Text`] whose id is the file name.
///
/// # Errors
/// [`Error::Io`] if the path does not exist or cannot be read; [`Error::Input`] for a folder
/// without `.txt` files, a JSONL line that is not a JSON object with a string `text`, an `id` of
/// another type, a text that is empty or only whitespace, or a file that is not valid UTF-8. Every
/// message names the file, and for JSONL the line.
#[cfg(feature = "native")]
pub fn load_texts(path: &Path) -> Result<Vec<Text>> {
    load_texts_field(path, "text")
}

/// [`load_texts`] with the texts of a `.jsonl`/`.json` file in the field `field`.
#[cfg(feature = "native")]
pub fn load_texts_field(path: &Path, field: &str) -> Result<Vec<Text>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return load_folder(path);
    }
    let extension = path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
    if extension.as_deref() == Some("parquet") {
        return parquet::load_parquet(path, field);
    }
    let content = read_utf8(path)?;
    // JSON Lines under either extension (HF `datasets`' to_json writes .json lines), or a JSON array
    let is_json = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("json"));
    if is_json {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        jsonl::parse_jsonl_field(&content, &path.display().to_string(), &stem, field)
    } else {
        let id = file_name(path);
        check_not_empty(&content, &path.display().to_string())?;
        Ok(vec![Text { id, text: content }])
    }
}

/// Every `*.txt` file directly inside `dir`, sorted by file name.
#[cfg(feature = "native")]
fn load_folder(dir: &Path) -> Result<Vec<Text>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let is_txt = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("txt"));
        // `metadata` follows symlinks, so a link to a text file counts.
        if is_txt && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(Error::Input(format!("{}: the folder has no .txt files", dir.display())));
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    files
        .iter()
        .map(|path| {
            let text = read_utf8(path)?;
            check_not_empty(&text, &path.display().to_string())?;
            Ok(Text { id: file_name(path), text })
        })
        .collect()
}

/// Reads `path` as UTF-8, dropping a leading byte-order mark.
#[cfg(feature = "native")]
fn read_utf8(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut text =
        String::from_utf8(bytes).map_err(|e| Error::Input(format!("{}: not valid UTF-8 (at byte {})", path.display(), e.utf8_error().valid_up_to())))?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// The last component of `path`, lossily as a string.
#[cfg(feature = "native")]
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned())
}

/// Why a text cannot be crammed as asked. Callers word it for their users: the CLI names its flags,
/// the web app its controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The text is empty or only whitespace.
    Empty,
    /// A token count of 0 was asked for.
    ZeroTokens,
    /// More tokens were asked for than the text has.
    MoreThanText { asked: usize, has: usize },
    /// The tokens fill the model's context, leaving no room for a memory vector.
    OverContext { tokens: usize, context: usize },
    /// The tokenizer failed.
    Tokenizer(String),
}

/// The token ids of `text` to cram: all of them, or the first `tokens`. Checked before any work
/// starts, so that a caller can say what to change; `Cramming::new` then checks the exact fit of
/// vectors, prefix and text in the context.
pub fn target_ids(lm: &crate::LoadedModel, text: &str, tokens: Option<usize>) -> std::result::Result<Vec<u32>, TargetError> {
    if text.trim().is_empty() {
        return Err(TargetError::Empty);
    }
    let mut ids = match tokens {
        Some(0) => return Err(TargetError::ZeroTokens),
        Some(asked) => first_ids(&lm.tokenizer, text, asked).map_err(|e| TargetError::Tokenizer(e.to_string()))?.0,
        None => lm.tokenizer.encode(text).map_err(|e| TargetError::Tokenizer(e.to_string()))?,
    };
    if let Some(asked) = tokens {
        if asked > ids.len() {
            return Err(TargetError::MoreThanText { asked, has: ids.len() });
        }
        ids.truncate(asked);
    }
    let context = lm.config.max_position_embeddings();
    if ids.len() >= context {
        return Err(TargetError::OverContext { tokens: ids.len(), context });
    }
    Ok(ids)
}

/// Tokens past the first `n` that the prefix [`first_ids`] encodes must give: a prefix can only
/// tokenize its last words otherwise than the whole text does (where it cuts a word or a run of
/// spaces), and those lie this far behind the `n` kept.
pub const PREFIX_MARGIN_TOKENS: usize = 64;

/// The ids of the start of `text`, at least its first `n` as the whole text gives them, without
/// tokenizing all of a long text: a prefix ending before a word (after whitespace) is encoded, and
/// doubled until it gives `n` + [`PREFIX_MARGIN_TOKENS`] tokens; the whole text when it is shorter.
/// Returns the ids (of the prefix: only the first `n` are the text's) and the prefix's length in
/// bytes.
pub fn first_ids(tokenizer: &crate::tokenizer::Tokenizer, text: &str, n: usize) -> crate::Result<(Vec<u32>, usize)> {
    let want = n.saturating_add(PREFIX_MARGIN_TOKENS);
    // A token is rarely over 16 bytes; start there, and double.
    let mut bytes = want.saturating_mul(16);
    while let Some(cut) = word_start_at_or_after(text, bytes) {
        let ids = tokenizer.encode(&text[..cut])?;
        if ids.len() >= want {
            return Ok((ids, cut));
        }
        bytes = cut.saturating_mul(2);
    }
    Ok((tokenizer.encode(text)?, text.len()))
}

/// The first position at or after byte `from` where a word starts after whitespace (so that a
/// prefix cut there ends in whole words), if there is one before the end.
fn word_start_at_or_after(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    (from.max(1)..bytes.len()).find(|&i| bytes[i - 1].is_ascii_whitespace() && !bytes[i].is_ascii_whitespace())
}

/// An [`Error::Input`] naming `what` if `text` is empty or only whitespace.
#[cfg(feature = "native")]
fn check_not_empty(text: &str, what: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::Input(format!("{what}: the text is empty")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "native")]
    #[test]
    fn target_ids_cuts_and_refuses_what_cannot_be_crammed() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama_gguf/tiny-llama.gguf");
        let lm = crate::LoadedModel::load_path(&path, &burn::tensor::Device::flex()).unwrap();
        let text = "Alice was beginning to get very tired of sitting";
        let all = lm.tokenizer.encode(text).unwrap();
        assert_eq!(target_ids(&lm, text, None).unwrap(), all);
        assert_eq!(target_ids(&lm, text, Some(3)).unwrap(), all[..3]);
        assert_eq!(target_ids(&lm, " \n ", None), Err(TargetError::Empty));
        assert_eq!(target_ids(&lm, text, Some(0)), Err(TargetError::ZeroTokens));
        assert_eq!(target_ids(&lm, text, Some(all.len() + 1)), Err(TargetError::MoreThanText { asked: all.len() + 1, has: all.len() }));
        let context = lm.config.max_position_embeddings();
        let long = "Alice ".repeat(context + 1);
        assert!(matches!(target_ids(&lm, &long, None), Err(TargetError::OverContext { context: c, .. }) if c == context));
        let fits = target_ids(&lm, &long, Some(context - 1)).unwrap();
        assert_eq!(fits.len(), context - 1);
    }

    /// `--tokens N` tokenizes a prefix of a long text, not all of it, and its first N ids are the
    /// whole text's, wherever the prefix ends (words, digits, runs of spaces and newlines, tabs,
    /// non-Latin script).
    #[cfg(feature = "native")]
    #[test]
    fn the_first_tokens_come_from_a_prefix_and_equal_the_whole_texts() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama_gguf/tiny-llama.gguf");
        let lm = crate::LoadedModel::load_path(&path, &burn::tensor::Device::flex()).unwrap();
        let passage = "Alice was  beginning to get 12345 very tired\tof sitting by her sister:\n\n   \"Привет, 日本語!\" ½ é and so on    \n";
        let mut text = String::new();
        for i in 0..4000 {
            text += &passage[..passage.len() - (i % 7)].replace("12345", &i.to_string());
            text += &" ".repeat(i % 5);
        }
        let text = text.trim_start();
        let whole = lm.tokenizer.encode(text).unwrap();
        for n in [1, 2, 7, 50, 63, 64, 65, 200, 1000, 5000] {
            let (ids, bytes) = first_ids(&lm.tokenizer, text, n).unwrap();
            assert_eq!(ids[..n], whole[..n], "n = {n}");
            if n <= 1000 {
                assert!(bytes < text.len() / 10, "n = {n}: {bytes} of {} bytes tokenized", text.len());
            }
        }
        assert_eq!(target_ids(&lm, text, Some(100)).unwrap(), whole[..100]);
        // more tokens than a short text has: the whole text, and the error counts all of it
        let short = "Alice was beginning";
        let all = lm.tokenizer.encode(short).unwrap().len();
        assert_eq!(first_ids(&lm.tokenizer, short, 500).unwrap().1, short.len());
        assert_eq!(target_ids(&lm, short, Some(500)), Err(TargetError::MoreThanText { asked: 500, has: all }));
    }

    #[test]
    fn mix_seed_is_fixed_and_spreads() {
        // Fixed values: the seeds of shipped data depend on them.
        assert_eq!(mix_seed(0, 0), 0xA706_DD2F_4D19_7E6F);
        assert_eq!(mix_seed(1, 2), 0xE06D_D043_328B_D285);
        assert_ne!(mix_seed(0, 0), mix_seed(0, 1));
        assert_ne!(mix_seed(0, 1), mix_seed(1, 0));
    }

    #[test]
    fn text_round_trips_through_json() {
        let t = Text { id: "a".into(), text: "b c".into() };
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(s, r#"{"id":"a","text":"b c"}"#);
        assert_eq!(serde_json::from_str::<Text>(&s).unwrap(), t);
    }

    #[cfg(feature = "native")]
    mod native {
        use super::super::*;
        use std::path::PathBuf;

        /// A fresh, empty folder under the system temp dir, removed on drop.
        struct TempDir(PathBuf);
        impl TempDir {
            fn new(tag: &str) -> Self {
                let dir = std::env::temp_dir().join(format!("cram-data-test-{tag}-{}-{:?}", std::process::id(), std::thread::current().id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                TempDir(dir)
            }
            fn file(&self, name: &str, content: &[u8]) -> PathBuf {
                let p = self.0.join(name);
                std::fs::write(&p, content).unwrap();
                p
            }
        }
        impl Drop for TempDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }

        /// The parquet fixture (made by pyarrow, snappy) holds the first three book chunks of
        /// data/eval/books.jsonl in a column `content`, with integer ids.
        #[test]
        fn loads_parquet_as_pyarrow_writes_it() {
            let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/books.parquet");
            let texts = load_texts_field(&fixture, "content").unwrap();
            let books = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/eval/books.jsonl");
            let expected: Vec<String> = load_texts(&books).unwrap().into_iter().take(3).map(|t| t.text).collect();
            assert_eq!(texts.iter().map(|t| t.text.clone()).collect::<Vec<_>>(), expected);
            assert_eq!(texts.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["100", "101", "102"]);
            let msg = load_texts(&fixture).unwrap_err().to_string();
            assert!(msg.contains("books.parquet") && msg.contains("no column \"text\"") && msg.contains("content"), "{msg}");
            let d = TempDir::new("parquet");
            let p = d.file("fake.parquet", b"PAR1 not really");
            assert!(load_texts(&p).unwrap_err().to_string().contains("fake.parquet"));
        }

        #[test]
        fn loads_jsonl_with_and_without_ids() {
            let d = TempDir::new("jsonl");
            let p = d.file("set.jsonl", b"{\"id\":\"x\",\"text\":\"one\"}\n\n{\"text\":\"two\",\"extra\":1}\n{\"id\":7,\"text\":\"three\"}\n");
            let texts = load_texts(&p).unwrap();
            assert_eq!(
                texts,
                vec![
                    Text { id: "x".into(), text: "one".into() },
                    Text { id: "set:3".into(), text: "two".into() },
                    Text { id: "7".into(), text: "three".into() },
                ]
            );
        }

        #[test]
        fn jsonl_errors_name_file_and_line() {
            let d = TempDir::new("jsonl-bad");
            let p = d.file("bad.jsonl", b"{\"text\":\"ok\"}\nnot json\n");
            let msg = load_texts(&p).unwrap_err().to_string();
            assert!(msg.contains("bad.jsonl:2"), "{msg}");
            let p = d.file("notext.jsonl", b"{\"id\":\"a\"}\n");
            let msg = load_texts(&p).unwrap_err().to_string();
            assert!(msg.contains("notext.jsonl:1") && msg.contains("text"), "{msg}");
            let p = d.file("empty.jsonl", b"{\"text\":\"  \"}\n");
            let msg = load_texts(&p).unwrap_err().to_string();
            assert!(msg.contains("empty.jsonl:1") && msg.contains("empty"), "{msg}");
        }

        #[test]
        fn loads_a_folder_sorted_txt_only() {
            let d = TempDir::new("folder");
            d.file("b.txt", b"second");
            d.file("a.txt", b"\xEF\xBB\xBFfirst");
            d.file("c.md", b"ignored");
            std::fs::create_dir(d.0.join("sub.txt")).unwrap();
            let texts = load_texts(&d.0).unwrap();
            assert_eq!(texts, vec![Text { id: "a.txt".into(), text: "first".into() }, Text { id: "b.txt".into(), text: "second".into() },]);
        }

        #[test]
        fn folder_errors() {
            let d = TempDir::new("folder-bad");
            d.file("notes.md", b"x");
            let msg = load_texts(&d.0).unwrap_err().to_string();
            assert!(msg.contains("no .txt files"), "{msg}");
            d.file("blank.txt", b" \n\t");
            let msg = load_texts(&d.0).unwrap_err().to_string();
            assert!(msg.contains("blank.txt") && msg.contains("empty"), "{msg}");
        }

        #[test]
        fn loads_a_plain_file_and_rejects_bad_ones() {
            let d = TempDir::new("plain");
            let p = d.file("story.md", b"Once upon a time.");
            assert_eq!(load_texts(&p).unwrap(), vec![Text { id: "story.md".into(), text: "Once upon a time.".into() }]);
            let p = d.file("bin.txt", b"ok \xFF\xFE");
            let msg = load_texts(&p).unwrap_err().to_string();
            assert!(msg.contains("bin.txt") && msg.contains("UTF-8"), "{msg}");
            let missing = d.0.join("missing.txt");
            assert!(matches!(load_texts(&missing), Err(Error::Io { .. })));
        }
    }
}
