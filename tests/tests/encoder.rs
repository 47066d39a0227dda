//! `cram encoder train|eval` and `--init enc.safetensors` end to end on the tiny Llama: training
//! writes a checkpoint every epoch and resumes from it, a second run on the same file is refused,
//! eval appends results that `cram merge --table` lists beside the methods, compress and capacity
//! start from the encoder's vectors, and another model refuses the file.

use cram_tests::*;

const BOOK: &str = "Alice was beginning to get very tired of sitting by her sister on the bank, and of having \
nothing to do: once or twice she had peeped into the book her sister was reading, but it had no pictures or \
conversations in it, and what is the use of a book, thought Alice, without pictures or conversations?";

/// `cram encoder train` on the tiny Llama: 10 chunks of 6 tokens of book.txt into enc.safetensors.
fn train_args(extra: &[&str]) -> Vec<String> {
    let base =
        ["encoder", "train", "--model", &tiny_model(), "--data", "book.txt", "--tokens", "6", "--chunks", "10", "--out", "enc.safetensors"].map(String::from);
    base.into_iter().chain(extra.iter().map(|s| s.to_string())).collect()
}

fn train(dir: &Dir, extra: &[&str]) -> Run {
    dir.cram(&train_args(extra).iter().map(String::as_str).collect::<Vec<_>>())
}

/// What the main test trains with: lr 0.01, 4 chunks a step, JSON lines.
const FAST: [&str; 5] = ["--lr", "0.01", "--batch", "4", "--json"];

fn lines(run: &Run) -> Vec<serde_json::Value> {
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn an_encoder_trains_resumes_tests_and_starts_cramming() {
    let dir = Dir::new();
    dir.write("book.txt", BOOK);
    // 8 training chunks in steps of 4: 2 steps per epoch
    let first = train(&dir, &[&FAST[..], &["--epochs", "3"]].concat()).expect_code(0);
    let epochs = lines(&first);
    assert_eq!(epochs.len(), 3, "{}", first.stdout);
    assert_eq!((epochs[2]["epoch"].as_u64(), epochs[2]["step"].as_u64()), (Some(3), Some(6)), "{}", first.stdout);
    for field in ["train_loss", "train_accuracy", "test_accuracy", "test_ce_per_token"] {
        assert!(epochs[0][field].is_f64(), "{field}: {}", first.stdout);
    }
    // the file is the checkpoint: a second run on it is refused, --resume continues it
    train(&dir, &["--epochs", "3"]).expect_error("exists: --resume");
    let resumed = train(&dir, &[&FAST[..], &["--resume", "--epochs", "40"]].concat()).expect_code(0);
    let more = lines(&resumed);
    assert_eq!((more[0]["epoch"].as_u64(), more[0]["step"].as_u64()), (Some(4), Some(8)), "{}", resumed.stdout);
    assert_eq!(more.len(), 37);
    let last = more.last().unwrap();
    assert!(last["train_accuracy"].as_f64().unwrap() > epochs[0]["train_accuracy"].as_f64().unwrap() + 0.2, "training learns: {} then {last}", epochs[0]);

    // eval: one line per test chunk (2 of 10), appended; merge --table lists the encoder
    let model = tiny_model();
    let eval = dir.cram(&["encoder", "eval", "--model", &model, "--encoder", "enc.safetensors", "--out", "results.jsonl"]).expect_code(0);
    assert!(eval.stdout.contains("encoder-ae") && eval.stdout.contains("greedy accuracy"), "{}", eval.stdout);
    // #37, 9: `cram info` says what an encoder file is, without a model
    let info = dir.cram(&["info", "enc.safetensors"]).expect_code(0).stdout;
    assert!(info.contains("an encoder") && info.contains("cram encoder eval"), "{info}");
    assert_eq!(dir.cram(&["info", "enc.safetensors", "--json"]).expect_code(0).json()["kind"], "encoder");
    let results = std::fs::read_to_string(dir.path("results.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = results.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["method"], "encoder-ae");
    assert_eq!((rows[0]["length"].as_u64(), rows[0]["steps"].as_u64()), (Some(6), Some(0)));
    assert!(rows[0]["greedy_accuracy"].is_f64() && rows[0]["teacher_forced_accuracy"].is_f64(), "{}", rows[0]);
    let merged = dir.cram(&["merge", "results.jsonl", "-o", "merged.jsonl", "--table"]).expect_code(0);
    assert!(merged.stdout.contains("encoder-ae"), "{}", merged.stdout);

    // compress and capacity start from the encoder's vectors
    dir.write("text.txt", BOOK);
    let compress = |extra: &[&str]| dir.cram(&[&["compress", "--model", &model, "--text", "text.txt"][..], extra].concat());
    let c = compress(&["--tokens", "6", "--init", "enc.safetensors", "--method", "memory", "--lr", "0.1", "--max-steps", "2000", "-o", "t.cram", "--json"])
        .expect_code(0)
        .json();
    assert_eq!(c["greedy_exact"], true, "{c}");
    dir.cram(&["decompress", "t.cram", "--model", &model]).expect_code(0);
    compress(&["--tokens", "6", "--init", "enc.safetensors", "--mem", "2"]).expect_error("writes 1 vector(s) per text; pass --mem 1");
    compress(&["--init", "missing.safetensors"]).expect_error("cannot read the --init file missing.safetensors");
    compress(&["--init", "enc.safetensors", "--method", "lora"]).expect_error("lowdim and lora train none");
    let sweep = dir
        .cram(&[
            "capacity",
            "--model",
            &model,
            "--data",
            "book.txt",
            "--lengths",
            "4,6",
            "--samples",
            "1",
            "--init",
            "enc.safetensors",
            "--method",
            "memory",
            "--lr",
            "0.1",
            "--out",
            "cap.jsonl",
        ])
        .expect_code(0);
    let cap = std::fs::read_to_string(dir.path("cap.jsonl")).unwrap();
    assert_eq!(cap.lines().count(), 2, "{}", sweep.stdout);
    // the run records the encoder's fingerprint, the same that eval records
    let line: serde_json::Value = serde_json::from_str(cap.lines().next().unwrap()).unwrap();
    let recorded = &line["run"]["recipe"]["init"]["encoder"]["encoder"];
    assert!(recorded.as_str().is_some_and(|f| f.len() == 16), "the run records the encoder: {line}");
    assert_eq!(recorded, &rows[0]["run"]["encoder"], "{line}");

    // compare lists the encoder beside the methods, on the same texts and lengths
    let compare = [
        "compare",
        "--model",
        &model,
        "--data",
        "book.txt",
        "--tokens",
        "4,6",
        "--samples",
        "1",
        "--methods",
        "memory",
        "--encoders",
        "enc.safetensors",
        "--lr",
        "0.1",
        "--out",
        "cmp.jsonl",
    ];
    let cmp = dir.cram(&compare).expect_code(0);
    assert!(cmp.stdout.contains("encoder-ae") && cmp.stdout.contains("memory"), "{}", cmp.stdout);
    let lines = std::fs::read_to_string(dir.path("cmp.jsonl")).unwrap();
    assert_eq!(lines.lines().filter(|l| l.contains("\"encoder-ae\"")).count(), 2, "{lines}");
    // resumed: nothing is encoded twice
    dir.cram(&compare).expect_code(0);
    assert_eq!(std::fs::read_to_string(dir.path("cmp.jsonl")).unwrap().lines().count(), 4);

    // another model refuses the file; a file that is not an encoder gets one message
    let other = other_model(&dir);
    dir.cram(&["encoder", "eval", "--model", other, "--encoder", "enc.safetensors"]).expect_error("made with another model");
    dir.cram(&["encoder", "eval", "--model", &model, "--encoder", "t.cram"]).expect_error("not an encoder");
    // (#37, 9: `cram info` now reads encoder files, see above; decompress still says what it is)
    dir.cram(&["decompress", "enc.safetensors", "--model", &model]).expect_error("this is an encoder file");
    std::fs::write(dir.path("cut.safetensors"), &std::fs::read(dir.path("enc.safetensors")).unwrap()[..300]).unwrap();
    dir.cram(&["encoder", "eval", "--model", &model, "--encoder", "cut.safetensors"]).expect_error("cut.safetensors");
}

#[test]
fn impossible_encoder_options_are_refused() {
    let dir = Dir::new();
    dir.write("book.txt", BOOK);
    train(&dir, &["--layers", "0"]).expect_error("--layers must be at least 1");
    train(&dir, &["--beta", "0.1"]).expect_error("applies to --kind vae only");
    train(&dir, &["--epochs", "0"]).expect_error("--epochs must be at least 1");
    train(&dir, &["--resume"]).expect_error("does not exist");
    train(&dir, &["--encoder-lora", "2", "--encoder-full"]).expect_code(2);
    train(&dir, &["--reg", "--layers", "4", "--batch", "1"]).expect_error("--batch 2 or more");
    assert!(!dir.path("enc.safetensors").exists(), "no file from a refused run");
}

/// SIGTERM (or Ctrl-C) during training saves the encoder as it is and exits 1; `--resume` continues
/// from the saved step.
#[cfg(unix)]
#[test]
fn a_stopped_training_keeps_its_checkpoint() {
    let dir = Dir::new();
    dir.write("book.txt", BOOK);
    let args = train_args(&["--batch", "4", "--epochs", "1000000", "--json"]);
    // the first epoch's checkpoint, then the signal mid-run
    let run = dir.cram_stopped_after(&args.iter().map(String::as_str).collect::<Vec<_>>(), "enc.safetensors");
    let stderr = &run.stderr;
    assert_eq!(run.code, 1, "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let step: u64 =
        stderr.split("stopped at step ").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{stderr}"));
    assert!(step > 2, "{stderr}");
    let epochs = (step / 2 + 2).to_string();
    let resumed = train(&dir, &["--resume", "--epochs", &epochs, "--json"]).expect_code(0);
    assert!(resumed.stderr.contains(&format!("resuming enc.safetensors at step {step} ")), "{}", resumed.stderr);
}
