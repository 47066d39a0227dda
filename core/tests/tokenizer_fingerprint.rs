//! The tokenizer's behaviour fingerprint (issue #37, item 1): two encodings of one tokenizer (the tiny
//! Llama's `tokenizer.json` and its GGUF twin, and a `tokenizer.json` whose settings are serialised
//! otherwise) agree; tokenizers that split text differently do not; files made before the
//! fingerprint was recorded are still checked by the older hash.

use crate::common;

use cram_core::ModelIdentity;
use cram_core::tokenizer::Tokenizer;

fn tokenizer_json() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(common::fixture("llama_gguf/tokenizer.json")).unwrap()).unwrap()
}

fn from_json(json: &serde_json::Value) -> Tokenizer {
    Tokenizer::from_json_bytes(json.to_string().as_bytes(), "tokenizer.json").unwrap()
}

#[test]
fn the_folder_and_its_gguf_twin_share_the_behaviour_fingerprint() {
    let folder = common::load("llama_gguf", None);
    let gguf = common::load("llama_gguf", Some("tiny-llama.gguf"));
    let (a, b) = (folder.identity.tokenizer_behaviour.clone().unwrap(), gguf.identity.tokenizer_behaviour.clone().unwrap());
    assert_eq!(a, b);
    assert_eq!(a.len(), 64);
    assert_eq!(folder.tokenizer.behaviour_fingerprint(), a);
}

#[test]
fn settings_serialised_otherwise_keep_it_and_other_splits_change_it() {
    let base = from_json(&tokenizer_json());
    // The same tokenizer with ByteLevel's offsets untrimmed: other JSON, the same ids for every text.
    let mut same = tokenizer_json();
    same["pre_tokenizer"]["pretokenizers"][1]["trim_offsets"] = false.into();
    let same = from_json(&same);
    assert_ne!(same.fingerprint(), base.fingerprint(), "the older hash of the settings differs");
    assert_eq!(same.behaviour_fingerprint(), base.behaviour_fingerprint());
    // A space in front of every text: other ids for the probe.
    let mut prefixed = tokenizer_json();
    prefixed["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true.into();
    assert_ne!(from_json(&prefixed).behaviour_fingerprint(), base.behaviour_fingerprint());
    // One merge fewer.
    let mut fewer = tokenizer_json();
    fewer["model"]["merges"].as_array_mut().unwrap().pop();
    assert_ne!(from_json(&fewer).behaviour_fingerprint(), base.behaviour_fingerprint());
    // A token that is no longer special.
    let mut plain = tokenizer_json();
    plain["added_tokens"][2]["special"] = false.into();
    assert_ne!(from_json(&plain).behaviour_fingerprint(), base.behaviour_fingerprint());
    // Another vocabulary entry.
    let mut renamed = tokenizer_json();
    let vocab = renamed["model"]["vocab"].as_object_mut().unwrap();
    let id = vocab.remove("<|im_end|>").unwrap();
    vocab.insert("<|im_stop|>".into(), id);
    renamed["added_tokens"][2]["content"] = "<|im_stop|>".into();
    assert_ne!(from_json(&renamed).behaviour_fingerprint(), base.behaviour_fingerprint());
}

#[test]
fn an_identity_without_the_behaviour_compares_the_older_hash() {
    let lm = common::load("llama_gguf", None);
    // A file's identity as cram wrote it before the behaviour was recorded.
    let mut old: serde_json::Value = serde_json::to_value(&lm.identity).unwrap();
    old.as_object_mut().unwrap().remove("tokenizer_behaviour");
    let old: ModelIdentity = serde_json::from_value(old).unwrap();
    assert_eq!(old.tokenizer_behaviour, None);
    old.check_same(&lm.identity, ".cram file", "decompress").unwrap();
    let mut other = old.clone();
    other.tokenizer_fingerprint = "0".repeat(64);
    let e = other.check_same(&lm.identity, ".cram file", "decompress").unwrap_err().to_string();
    assert!(e.contains("another tokenizer"), "{e}");
    // With the behaviour on both sides, the older hash is not compared.
    let mut new = lm.identity.clone();
    new.tokenizer_fingerprint = "0".repeat(64);
    new.check_same(&lm.identity, ".cram file", "decompress").unwrap();
    new.tokenizer_behaviour = Some("1".repeat(64));
    assert!(new.check_same(&lm.identity, ".cram file", "decompress").is_err());
}
