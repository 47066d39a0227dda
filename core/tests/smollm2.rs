//! The real default model, SmolLM2-135M-Instruct (Q4_1 GGUF), against transformers' reading of the
//! same file: token ids of a public-domain passage, and the mean NLL of its first 256 tokens within
//! 0.01 nats/token (tests/fixtures/smollm2/reference.json, made by scripts/reference/smollm2_reference.py).

use crate::common;

use common::*;
use cram_core::LoadedModel;

fn reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("smollm2/reference.json")).unwrap()).unwrap()
}

#[test]
fn smollm2_tokens_and_nll_equal_transformers() {
    let Some(path) = smollm2_path() else { return };
    let lm = LoadedModel::load_path(&path, &cpu()).expect("SmolLM2 loads");
    let r = reference();
    let passage = std::fs::read_to_string(fixture("smollm2/passage.txt")).unwrap();
    let ids = lm.tokenizer.encode(&passage).unwrap();
    let expected: Vec<u32> = r["token_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    assert_eq!(ids, expected, "token ids differ from transformers'");
    assert_eq!(lm.tokenizer.decode(&ids).unwrap(), passage, "decoding gives the passage back");

    let n = r["n_tokens_scored"].as_u64().unwrap() as usize;
    let s = cram_core::score::score_text(&lm.model, &ids[..n]).unwrap();
    let want = r["nll_nats_per_token"].as_f64().unwrap();
    assert!((s.nll_nats_per_token - want).abs() < 0.01, "NLL {} vs transformers {want}", s.nll_nats_per_token);
    let acc = r["next_token_accuracy"].as_f64().unwrap();
    assert!((s.next_token_accuracy - acc).abs() <= 1.0 / 255.0 + 1e-9, "accuracy {} vs {acc}", s.next_token_accuracy);
    assert_eq!(lm.identity.file_dtype, "Q4_1");
}

#[test]
fn smollm2_digits_split_one_by_one() {
    let Some(path) = smollm2_path() else { return };
    let lm = LoadedModel::load_path(&path, &cpu()).unwrap();
    let probe = &reference()["digit_probe"];
    let text = probe["text"].as_str().unwrap();
    let expected: Vec<u32> = probe["ids_smollm"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    assert_eq!(lm.tokenizer.encode(text).unwrap(), expected);
}
