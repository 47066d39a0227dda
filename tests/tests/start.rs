//! `cram start train` and `--init start.safetensors` end to end on the tiny Llama: the held-out
//! chunks are measured from the random start and after every epoch, the file is the checkpoint
//! (refused a second time, continued by --resume), compress and capacity start from it, and a recipe
//! or a model it was not trained for refuses it with one message.

use cram_tests::*;

fn train(dir: &Dir, extra: &[&str]) -> Run {
    let model = tiny_model();
    let base = ["start", "train", "--model", &model, "--data", "books.jsonl", "--tokens", "6", "--chunks", "24", "--test-fraction", "0.25"];
    let more = ["--inner-steps", "10", "--eval-steps", "200", "--out", "start.safetensors"];
    dir.cram(&[&base[..], &more[..], extra].concat())
}

fn lines(run: &Run) -> Vec<serde_json::Value> {
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn a_learned_start_trains_resumes_and_starts_cramming() {
    let dir = Dir::new();
    std::fs::copy(root().join("data/eval/books.jsonl"), dir.path("books.jsonl")).unwrap();
    let first = lines(&train(&dir, &["--epochs", "2", "--json"]).expect_code(0));
    // the random start, then each epoch
    assert_eq!(first.len(), 3, "{first:?}");
    for (i, l) in first.iter().enumerate() {
        assert_eq!(l["epoch"].as_u64(), Some(i as u64), "{l}");
        assert!(l["mean_steps"].as_f64().is_some_and(|s| s > 0.0 && s <= 200.0) && l["exact"].is_f64(), "{l}");
    }
    assert!(first[0]["train_accuracy"].is_null() && first[1]["train_accuracy"].is_f64(), "{first:?}");
    train(&dir, &["--epochs", "2"]).expect_error("exists: --resume");
    let more = lines(&train(&dir, &["--resume", "--epochs", "3", "--json"]).expect_code(0));
    assert_eq!(more.len(), 1, "one more epoch: {more:?}");
    assert_eq!(more[0]["epoch"].as_u64(), Some(3));

    // `cram info` says what it is and how it was trained, without a model
    let info = dir.cram(&["info", "start.safetensors"]).expect_code(0).stdout;
    assert!(info.contains("a learned start") && info.contains("after epoch 3") && info.contains("recipe       dense"), "{info}");
    assert_eq!(dir.cram(&["info", "start.safetensors", "--json"]).expect_code(0).json()["kind"], "start");

    // compress and capacity start from it
    let model = tiny_model();
    dir.write("text.txt", "Alice was beginning to get very tired of sitting");
    let compress = |extra: &[&str]| dir.cram(&[&["compress", "--model", &model, "--text", "text.txt", "--tokens", "6"][..], extra].concat());
    let c = compress(&["--init", "start.safetensors", "--max-steps", "2000", "-o", "t.cram", "--json"]).expect_code(0).json();
    assert_eq!(c["greedy_exact"], true, "{c}");
    dir.cram(&["decompress", "t.cram", "--model", &model]).expect_code(0);
    let cap = dir
        .cram(&[
            "capacity",
            "--model",
            &model,
            "--data",
            "books.jsonl",
            "--lengths",
            "4",
            "--samples",
            "1",
            "--init",
            "start.safetensors",
            "--out",
            "cap.jsonl",
        ])
        .expect_code(0);
    let results = std::fs::read_to_string(dir.path("cap.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(results.lines().next().unwrap()).unwrap();
    let recorded = &line["run"]["recipe"]["init"]["learned"]["start"];
    assert!(recorded.as_str().is_some_and(|f| f.len() == 16), "the run records the start: {line} {}", cap.stderr);

    // a recipe or a model it was not trained for, and impossible options, each one message
    compress(&["--init", "start.safetensors", "--method", "memory"]).expect_error("start.safetensors starts a recipe with method dense (not memory)");
    compress(&["--init", "start.safetensors", "--mem", "2"]).expect_error("1 vector(s) (not 2)");
    let other = other_model(&dir);
    dir.cram(&["compress", "--model", other, "--text", "text.txt", "--init", "start.safetensors"]).expect_error("made with another model");
    std::fs::write(dir.path("cut.safetensors"), &std::fs::read(dir.path("start.safetensors")).unwrap()[..300]).unwrap();
    compress(&["--init", "cut.safetensors"]).expect_error("cut.safetensors");
    train(&dir, &["--meta-lr", "0"]).expect_error("--meta-lr must be in (0, 1]");
    train(&dir, &["--init", "text-mean"]).expect_error("drop --init");
    std::fs::remove_file(dir.path("start.safetensors")).unwrap();
    train(&dir, &["--batch", "0"]).expect_error("--batch must be at least 1");
    assert!(!dir.path("start.safetensors").exists(), "no file from a refused run");
}

/// SIGTERM (or Ctrl-C) during training saves the start as the last whole batch left it and exits 1;
/// `--resume` continues from the epochs done.
#[cfg(unix)]
#[test]
fn a_stopped_start_training_keeps_its_checkpoint() {
    let dir = Dir::new();
    std::fs::copy(root().join("data/eval/books.jsonl"), dir.path("books.jsonl")).unwrap();
    let model = tiny_model();
    let args = ["start", "train", "--model", &model, "--data", "books.jsonl", "--tokens", "6", "--chunks", "24", "--test-fraction", "0.25"];
    // the first epoch's checkpoint, then the signal mid-run
    let more = ["--eval-steps", "50", "--epochs", "1000000", "--out", "start.safetensors", "--json"];
    let run = dir.cram_stopped_after(&[&args[..], &more[..]].concat(), "start.safetensors");
    let stderr = &run.stderr;
    assert_eq!(run.code, 1, "{stderr}");
    assert!(stderr.contains("holds the start as the last whole batch left it: `--resume` continues"), "{stderr}");
    let info = dir.cram(&["info", "start.safetensors", "--json"]).expect_code(0).json();
    let done = info["training"]["epochs_done"].as_u64().unwrap();
    assert!(done >= 1, "{info}");
    let resumed = dir.cram(&[&args[..], &["--out", "start.safetensors", "--resume", "--epochs", &(done + 1).to_string(), "--json"]].concat()).expect_code(0);
    assert!(resumed.stderr.contains(&format!("resuming start.safetensors after epoch {done}")), "{}", resumed.stderr);
    assert_eq!(resumed.stdout.lines().count(), 1, "one more epoch: {}", resumed.stdout);
}
