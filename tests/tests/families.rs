//! Every model family through the `cram` binary: on each family's tiny checkpoint (a Hugging Face
//! folder of `core/tests/fixtures/`, with the tiny tokenizer of `llama_gguf`), `compress` → `.cram` →
//! `decompress` gives the text back, with the dense method and with LoRA on every target (q, k, v, o,
//! mlp: the projections each family names for them), and `cram info` names the family and counts its
//! weights as transformers does.

use cram_tests::*;

const TEXT: &str = "Alice was beginning to get very tired of sitting";
const FAST: &[&str] = &["--lr", "0.1", "--max-steps", "1500"];
/// Memory vectors of width 32 (16 for OPT-350M's layout) hold a few tokens of these tiny random models:
/// four vectors through the dense method, for 6 tokens (4 for OPT pre-LN and Gemma 3, whose only
/// global layer is the last of three).
const DENSE: &[&str] = &["--method", "dense", "--mem", "4", "--tokens", "6"];
const DENSE_SHORT: &[&str] = &["--method", "dense", "--mem", "4", "--tokens", "4"];
/// LoRA of rank 1 on every projection each family names for q, k, v, o and the MLP.
const LORA: &[&str] = &["--method", "lora", "--rank", "1", "--targets", "q,k,v,o,mlp", "--tokens", "6"];

/// Compresses the text with `case`'s folder and `method`, decompresses it, and returns the JSON of
/// the compression.
fn round_trip(case: &str, method: &[&str]) -> serde_json::Value {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = fixture(case).display().to_string();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "-o", "t.cram", "--json"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(method);
    let m = dir.cram(&args).expect_code(0).json();
    assert_eq!(m["greedy_exact"], true, "{case} {method:?}: {m}");
    let back = dir.cram(&["decompress", "t.cram", "--model", &model]).expect_code(0).stdout;
    assert!(TEXT.starts_with(&back) && back.len() >= 10, "{case} {method:?}: {back:?}");
    m
}

#[test]
fn qwen2_round_trips() {
    round_trip("qwen2", DENSE);
    round_trip("qwen2", LORA);
}

#[test]
fn qwen3_round_trips() {
    round_trip("qwen3", DENSE);
    round_trip("qwen3", LORA);
}

#[test]
fn olmo_round_trips() {
    round_trip("olmo", DENSE);
    round_trip("olmo", LORA);
}

#[test]
fn olmo2_round_trips() {
    round_trip("olmo2", DENSE);
    round_trip("olmo2", LORA);
}

#[test]
fn opt_round_trips() {
    round_trip("opt", DENSE_SHORT);
    round_trip("opt", LORA);
}

/// OPT-350M's layout: post-LN, and memory vectors as wide as `word_embed_proj_dim` (16, not the
/// model width 32).
#[test]
fn opt_350m_style_round_trips_with_narrow_memory_vectors() {
    // the dense method trains 4 vectors, a 16 x 16 map and its bias: all 16 wide
    let m = round_trip("opt_350m_style", DENSE);
    assert_eq!(m["trainable_parameters"], 4 * 16 + 16 * 16 + 16, "{m}");
    round_trip("opt_350m_style", LORA);
}

#[test]
fn gemma3_round_trips() {
    round_trip("gemma3", DENSE_SHORT);
    round_trip("gemma3", LORA);
}

/// Mamba: no attention, so LoRA adapts its own projections; attention targets are refused by name.
#[test]
fn mamba_round_trips_and_refuses_attention_targets() {
    // 4 tokens, as OPT pre-LN and Gemma 3: this tiny random Mamba does not reach a 6th with dense vectors
    round_trip("mamba", DENSE_SHORT);
    let m = round_trip("mamba", &["--method", "lora", "--rank", "1", "--targets", "in_proj,x_proj,dt_proj,out_proj", "--tokens", "6"]);
    // rank 1 on 2 layers: in_proj 32+128, x_proj 64+20, dt_proj 4+64, out_proj 64+32
    assert_eq!(m["trainable_parameters"], 2 * (160 + 84 + 68 + 96), "{m}");
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = fixture("mamba").display().to_string();
    let out = dir.cram(&["compress", "--model", &model, "--text", "text.txt", "-o", "t.cram", "--method", "lora", "--targets", "q,v"]).expect_code(2);
    assert!(out.stderr.contains("names no projection of a mamba model; its projections: in_proj, x_proj, dt_proj, out_proj"), "{}", out.stderr);
    assert!(!dir.path("t.cram").exists());
}

/// `cram info` names each family, and its parameter count is the checkpoint's (transformers'
/// `sum(p.numel())`, tied heads counted once).
#[test]
fn info_names_the_family_and_counts_its_weights() {
    let dir = Dir::new();
    for (case, parameters) in [
        ("qwen2", 31_008),
        ("qwen3", 37_088),
        ("olmo", 30_720),
        ("olmo2", 43_264),
        ("opt", 31_552),
        ("opt_350m_style", 26_368),
        ("gemma3", 49_664),
        ("mamba", 29_664),
    ] {
        let model = fixture(case).display().to_string();
        let info = dir.cram(&["info", "--model", &model, "--json"]).expect_code(0).json();
        let family = match case {
            "opt_350m_style" => "opt",
            "gemma3" => "gemma3_text",
            other => other,
        };
        assert_eq!(info["family"], family, "{info}");
        assert_eq!(info["parameters"], parameters, "{info}");
    }
}

/// `cram zip` and `cram unzip` (arithmetic coding with the model's next-token probabilities, decoded
/// one token at a time through the KV cache, or Mamba's recurrent state) give the text back on every family.
#[test]
fn zip_round_trips_on_every_family() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    for case in ["qwen2", "qwen3", "olmo", "olmo2", "opt", "opt_350m_style", "gemma3", "mamba"] {
        let model = fixture(case).display().to_string();
        let out = format!("{case}.lmz");
        let zip = dir.cram(&["zip", "text.txt", "--model", &model, "-o", &out, "--json"]).expect_code(0).json();
        assert!(zip["code_bits"].as_u64().unwrap() > 0, "{case}: {zip}");
        let back = dir.cram(&["unzip", &out, "--model", &model]).expect_code(0).stdout;
        assert_eq!(back, TEXT, "{case}");
    }
}
