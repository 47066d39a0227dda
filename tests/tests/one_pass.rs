//! `--method one-pass` through the `cram` binary on the tiny Llama: compress → .cram (which records
//! the method) → decompress gives the text back (core's tests count the one forward pass that
//! `CramFile::decode` runs); an inexact file is refused with its share of right positions; bad
//! settings are one clear error with no file written; `cram compare --methods` runs it beside the
//! others.

use cram_tests::*;

const TEXT: &str = "Alice was beginning to get very tired of sitting";

fn compress(dir: &Dir, out: &str, extra: &[&str]) -> Run {
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "--tokens", "8", "--method", "one-pass", "--lr", "0.1", "-o", out, "--json"];
    args.extend_from_slice(extra);
    dir.cram(&args)
}

#[test]
fn one_pass_compresses_and_decompresses() {
    let dir = Dir::new();
    let m = compress(&dir, "op.cram", &[]).expect_code(0).json();
    assert_eq!(m["method"], "one-pass", "{m}");
    assert_eq!(m["greedy_exact"], true, "{m}");
    // the tiny Llama has d = 64: e and m
    assert_eq!(m["trainable_parameters"], 2 * 64, "{m}");
    let model = tiny_model();
    let info = dir.cram(&["info", "op.cram"]).expect_code(0).stdout;
    assert!(info.lines().any(|l| l.starts_with("method") && l.contains("one-pass")), "{info}");
    let back = dir.cram(&["decompress", "op.cram", "--model", &model]).expect_code(0).stdout;
    assert!(TEXT.starts_with(&back) && back.len() >= 20, "{back:?}");
}

#[test]
fn an_inexact_one_pass_file_is_refused_with_its_share() {
    let dir = Dir::new();
    let m = compress(&dir, "bad.cram", &["--max-steps", "2"]).expect_code(1).json();
    assert_eq!(m["greedy_exact"], false, "{m}");
    let model = tiny_model();
    let run = dir.cram(&["decompress", "bad.cram", "--model", &model]).expect_error("positions right");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn bad_one_pass_options_give_one_clear_error() {
    let dir = Dir::new();
    compress(&dir, "x.cram", &["--mem", "2"]).expect_error("--method one-pass trains two vectors");
    compress(&dir, "x.cram", &["--protocol", "paper"]).expect_error("--protocol paper does not apply");
    assert!(!dir.path("x.cram").exists(), "a failed run left a file");
}

#[test]
fn compare_runs_one_pass_beside_memory() {
    let dir = Dir::new();
    let model = tiny_model();
    let vocab = root().join("data/vocab_100k.txt").display().to_string();
    let args = [
        "compare",
        "--model",
        &model,
        "--random-words",
        &vocab,
        "--tokens",
        "4,6",
        "--samples",
        "2",
        "--lr",
        "0.1",
        "--max-steps",
        "800",
        "--methods",
        "memory,one-pass",
        "--out",
        "cmp.jsonl",
    ];
    let run = dir.cram(&args).expect_code(0);
    for method in ["memory", "one-pass"] {
        assert!(run.stdout.lines().any(|l| l.starts_with(method)), "{method} missing:\n{}", run.stdout);
    }
    let lines = std::fs::read_to_string(dir.path("cmp.jsonl")).unwrap();
    assert_eq!(lines.lines().filter(|l| l.contains(r#""method":"one-pass""#)).count(), 2 * 2, "{lines}");
}
