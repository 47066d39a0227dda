//! `--method one-pass` through the `cram` binary on the tiny Llama: compress → .cram (which records
//! the method) → decompress gives the text back (core's tests count the one forward pass that
//! `CramFile::decode` runs); an inexact file is refused with its share of right positions; bad
//! settings are one clear error with no file written; `cram compare --methods` runs it beside the
//! others; `--shared-m` takes m from a one-pass start (`cram start train --method one-pass`) and
//! trains e alone.

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
    // --json: one forward pass for the whole text, against one per token for a token-by-token file
    let one = dir.cram(&["decompress", "op.cram", "--model", &model, "--json"]).expect_code(0).json();
    assert_eq!((&one["forward_passes"], &one["exact"], &one["text"]), (&1.into(), &true.into(), &back.clone().into()), "{one}");
    assert!(one["decode_seconds"].as_f64().is_some_and(|s| s > 0.0), "{one}");
    dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--tokens", "6", "-o", "ar.cram"]).expect_code(0);
    let ar = dir.cram(&["decompress", "ar.cram", "--model", &model, "--json", "-o", "ar.txt"]).expect_code(0).json();
    assert_eq!((&ar["forward_passes"], &ar["tokens"], &ar["text"]), (&6.into(), &6.into(), &serde_json::Value::Null), "{ar}");
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

#[test]
fn a_shared_m_comes_from_a_one_pass_start() {
    let dir = Dir::new();
    let model = tiny_model();
    std::fs::copy(root().join("data/eval/books.jsonl"), dir.path("books.jsonl")).unwrap();
    let start = ["start", "train", "--model", &model, "--data", "books.jsonl", "--tokens", "6", "--chunks", "24", "--test-fraction", "0.25"];
    let recipe = ["--method", "one-pass", "--lr", "0.1", "--inner-steps", "10", "--eval-steps", "300", "--epochs", "2"];
    dir.cram(&[&start[..], &recipe[..], &["--out", "op.safetensors"]].concat()).expect_code(0);
    dir.write("text.txt", TEXT);
    let shared = |out: &str, extra: &[&str]| {
        let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "--tokens", "6", "--method", "one-pass", "--lr", "0.1", "--shared-m"];
        args.extend_from_slice(&["--max-steps", "2000", "-o", out, "--json"]);
        args.extend_from_slice(extra);
        dir.cram(&args)
    };
    let m = shared("shared.cram", &["--init", "op.safetensors"]).expect_code(0).json();
    assert_eq!((&m["greedy_exact"], &m["trainable_parameters"], &m["init"]), (&true.into(), &64.into(), &"learned".into()), "e alone: {m}");
    let info = dir.cram(&["info", "shared.cram", "--json"]).expect_code(0).json();
    assert!(info["shared_m"].as_str().is_some_and(|f| f.len() == 16), "the file records the start: {info}");
    assert!(dir.cram(&["info", "shared.cram"]).expect_code(0).stdout.contains("shared m     from the learned start"));
    let back = dir.cram(&["decompress", "shared.cram", "--model", &model]).expect_code(0).stdout;
    assert!(TEXT.starts_with(&back) && back.len() >= 12, "{back:?}");

    // without a one-pass start, with another method, or to train a start: one message each
    shared("x.cram", &[]).expect_error("a shared m is taken from a learned start trained for --method one-pass; give one as --init");
    dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--shared-m"]).expect_error("--shared-m applies to --method one-pass only");
    dir.cram(&[&start[..], &["--method", "dense", "--epochs", "1", "--out", "dense.safetensors"]].concat()).expect_code(0);
    shared("x.cram", &["--init", "dense.safetensors"]).expect_error("method dense (not one-pass)");
    dir.cram(&[&start[..], &recipe[..], &["--shared-m", "--out", "no.safetensors"]].concat()).expect_error("drop --shared-m");
    assert!(!dir.path("x.cram").exists() && !dir.path("no.safetensors").exists(), "a refused run left a file");
}
