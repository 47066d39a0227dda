//! The main job on the real default model (SmolLM2-135M), as README.md runs it: compress a short
//! public-domain sentence into one vector with the default recipe and get it back exactly (and from
//! the learned start shipped for it, in fewer steps).

use cram_tests::*;

#[test]
fn default_model_round_trip() {
    if default_model().is_none() {
        return;
    }
    let dir = Dir::new();
    let text = std::fs::read_to_string(root().join("examples/hello.txt")).unwrap();
    dir.write("hello.txt", &text);
    let m = dir.cram(&["compress", "--text", "hello.txt", "-o", "hello.cram", "--json"]).expect_code(0).json();
    assert_eq!(m["greedy_exact"], true, "{m}");
    assert_eq!(m["mem"], 1);
    assert!((m["theoretical_capacity_tokens"].as_f64().unwrap() - 591.0).abs() < 1.0);
    let back = dir.cram(&["decompress", "hello.cram"]).expect_code(0);
    assert_eq!(back.stdout, text);
    // #35: from the learned start shipped for this model and recipe, exact in fewer steps
    let start = root().join("data/start/smollm2-135m-fast.safetensors");
    let learned = dir.cram(&["compress", "--text", "hello.txt", "--init", start.to_str().unwrap(), "-o", "start.cram", "--json"]).expect_code(0).json();
    assert_eq!(learned["greedy_exact"], true, "{learned}");
    assert!(learned["steps"].as_u64().unwrap() < m["steps"].as_u64().unwrap(), "learned start: {learned}\nrandom start: {m}");
    assert_eq!(dir.cram(&["decompress", "start.cram"]).expect_code(0).stdout, text);
}

/// `cram zip` on the real model: the sentence back bit for bit, whatever the thread count, in far
/// fewer bits than its UTF-8 (and than one crammed vector's 576 x 16), and refused by another model.
#[test]
fn default_model_zip_round_trip() {
    if default_model().is_none() {
        return;
    }
    let dir = Dir::new();
    let text = std::fs::read_to_string(root().join("examples/hello.txt")).unwrap();
    dir.write("hello.txt", &text);
    let m = dir.cram(&["zip", "hello.txt", "-o", "hello.lmz", "--json"]).expect_code(0).json();
    let bits = m["code_bits"].as_u64().unwrap();
    assert!(bits < (text.len() * 8 / 3) as u64 && bits < 576 * 16, "{m}");
    let back = dir.cram(&["unzip", "hello.lmz"]).expect_code(0);
    assert_eq!(back.stdout, text);
    let one = std::process::Command::new(cram_bin()).args(["unzip", "hello.lmz"]).env("RAYON_NUM_THREADS", "1").current_dir(dir.path("")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&one.stdout), text, "one thread decodes what two coded");
    dir.cram(&["unzip", "hello.lmz", "--model", &tiny_model()]).expect_error("made with another model");
    // Bytes that are not UTF-8 are coded by their byte tokens (Latin-1 é here); SmolLM2's vocabulary,
    // trained on UTF-8 text, has no token for 0xff, a byte UTF-8 never uses: one error naming it.
    dir.write("latin1.bin", b"caf\xe9 au lait\n");
    dir.cram(&["zip", "latin1.bin", "-o", "latin1.lmz"]).expect_code(0);
    assert_eq!(std::fs::read(dir.path("latin1.lmz")).map(|b| b.is_empty()).ok(), Some(false));
    dir.write("ff.bin", b"ok \xff");
    dir.cram(&["zip", "ff.bin", "-o", "ff.lmz"]).expect_error("byte 0xff is not UTF-8 text, and this tokenizer has no token for that byte alone");
    assert!(!dir.path("ff.lmz").exists(), "no file is left behind");
}
