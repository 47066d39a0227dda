//! The main job on the real default model (SmolLM2-135M), as README.md runs it: compress a short
//! public-domain sentence into one vector with the default recipe and get it back exactly (and from
//! the learned start shipped for it, in fewer steps than from random).

use cram_tests::*;

#[test]
fn default_model_round_trip() {
    if default_model().is_none() {
        return;
    }
    let dir = Dir::new();
    let text = std::fs::read_to_string(root().join("examples/hello.txt")).unwrap();
    dir.write("hello.txt", &text);
    // The default recipe on the default model starts from the learned start shipped for it (#35)
    let run = dir.cram(&["compress", "--text", "hello.txt", "-o", "hello.cram", "--json"]).expect_code(0);
    assert!(run.stderr.contains("starting from the learned start shipped for this model"), "{}", run.stderr);
    let m = run.json();
    assert_eq!((&m["greedy_exact"], &m["init"]), (&serde_json::json!(true), &serde_json::json!("learned")), "{m}");
    assert_eq!(m["mem"], 1);
    assert!((m["theoretical_capacity_tokens"].as_f64().unwrap() - 591.0).abs() < 1.0);
    let back = dir.cram(&["decompress", "hello.cram"]).expect_code(0);
    assert_eq!(back.stdout, text);
    // ... in fewer steps than from random
    let random = dir.cram(&["compress", "--text", "hello.txt", "--init", "normal", "-o", "start.cram", "--json"]).expect_code(0).json();
    assert_eq!((&random["greedy_exact"], &random["init"]), (&serde_json::json!(true), &serde_json::json!("normal")), "{random}");
    assert!(m["steps"].as_u64().unwrap() < random["steps"].as_u64().unwrap(), "learned start: {m}\nrandom start: {random}");
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
