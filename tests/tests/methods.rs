//! Every `--method` through the `cram` binary on the tiny Llama: compress → .cram → decompress gives
//! the text back, the JSON carries `trainable_parameters` (and `horizon` for progressive), bad
//! combinations are one clear error with no file written, and `cram compare` runs them side by side.

use cram_tests::*;

const TEXT: &str = "Alice was beginning to get very tired of sitting";
const FAST: &[&str] = &["--tokens", "6", "--lr", "0.1", "--max-steps", "1500"];

fn compress(dir: &Dir, out: &str, method: &[&str]) -> serde_json::Value {
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "-o", out, "--json"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(method);
    dir.cram(&args).expect_code(0).json()
}

fn decompresses(dir: &Dir, file: &str) -> String {
    let model = tiny_model();
    let run = dir.cram(&["decompress", file, "--model", &model]).expect_code(0);
    assert!(TEXT.starts_with(&run.stdout) && run.stdout.len() >= 10, "{file}: {:?}", run.stdout);
    run.stdout
}

#[test]
fn every_method_compresses_and_decompresses() {
    let dir = Dir::new();
    let plain = compress(&dir, "memory.cram", &["--method", "memory"]);
    let d = plain["trainable_parameters"].as_u64().unwrap();
    let back = decompresses(&dir, "memory.cram");
    for (name, flags, params) in [
        ("dense", vec!["--method", "dense"], d + d * d + d),
        ("lowdim", vec!["--method", "lowdim", "--rank", "4"], 4 + 4 * d + d),
        ("lora", vec!["--method", "lora", "--rank", "1", "--targets", "q,v"], 0),
        ("progressive", vec!["--method", "progressive", "--steps-per-token", "400"], d),
    ] {
        let file = format!("{name}.cram");
        let m = compress(&dir, &file, &flags);
        assert_eq!(m["method"], name, "{m}");
        assert_eq!(m["greedy_exact"], true, "{m}");
        if params > 0 {
            assert_eq!(m["trainable_parameters"].as_u64(), Some(params), "{m}");
        } else {
            assert!(m["trainable_parameters"].as_u64().unwrap() > 0, "{m}");
            assert_eq!(m["mem"], 0, "{m}");
        }
        if name == "progressive" {
            assert_eq!(m["horizon"], 6, "{m}");
        } else {
            assert!(m.get("horizon").is_none(), "{m}");
        }
        assert_eq!(decompresses(&dir, &file), back, "{name}");
    }
}

/// The default recipe (`fast`: dense at lr 0.1) gets 6 tokens of the tiny Llama greedy-exact in at
/// most a third of the steps of `--recipe paper` (memory at lr 1e-2), and its file decodes.
#[test]
fn the_default_recipe_needs_a_third_of_the_paper_recipes_steps() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let run = |recipe: &[&str], out: &str| {
        let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "--tokens", "6", "--max-steps", "3000", "-o", out, "--json"];
        args.extend_from_slice(recipe);
        dir.cram(&args).expect_code(0).json()
    };
    let fast = run(&[], "fast.cram");
    let paper = run(&["--recipe", "paper"], "paper.cram");
    assert_eq!(fast["method"], "dense", "{fast}");
    assert_eq!(paper["method"], "memory", "{paper}");
    // the tiny Llama has d = 64: one vector, or one vector and a Linear(64, 64)
    assert_eq!(paper["trainable_parameters"], 64, "{paper}");
    assert_eq!(fast["trainable_parameters"], 64 + 64 * 64 + 64, "{fast}");
    let (f, p) = (fast["steps"].as_u64().unwrap(), paper["steps"].as_u64().unwrap());
    assert!(3 * f <= p, "fast took {f} steps, paper {p}");
    assert_eq!(decompresses(&dir, "fast.cram"), decompresses(&dir, "paper.cram"));
}

/// The study's options run end to end: a warmup + cosine schedule and vectors started at the
/// text's mean embedding reach a greedy-exact file that decodes.
#[test]
fn the_schedule_and_init_options_cram_and_decode() {
    let dir = Dir::new();
    for (out, flags) in
        [("cosine.cram", vec!["--schedule", "cosine", "--warmup", "10", "--min-lr", "0.001"]), ("mean.cram", vec!["--method", "memory", "--init", "text-mean"])]
    {
        let m = compress(&dir, out, &flags);
        assert_eq!(m["greedy_exact"], true, "{out}: {m}");
        decompresses(&dir, out);
    }
}

#[test]
fn lora_under_the_paper_protocol_keeps_the_sink_and_decompresses() {
    let dir = Dir::new();
    let m = compress(&dir, "lp.cram", &["--method", "lora", "--rank", "1", "--protocol", "paper"]);
    assert_eq!(m["greedy_exact"], true, "{m}");
    decompresses(&dir, "lp.cram");
}

#[test]
fn a_progressive_run_that_stops_early_keeps_its_horizon() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let run = dir.cram(&[
        "compress",
        "--model",
        &model,
        "--text",
        "text.txt",
        "--tokens",
        "12",
        "--method",
        "progressive",
        "--steps-per-token",
        "25",
        "-o",
        "p.cram",
        "--json",
    ]);
    // Not the whole text: exit 1, and the file holds the horizon's tokens, which decompress.
    let m = run.expect_code(1).json();
    let horizon = m["horizon"].as_u64().unwrap();
    assert!((1..12).contains(&horizon), "{m}");
    let back = dir.cram(&["decompress", "p.cram", "--model", &model]).expect_code(0).stdout;
    assert!(!back.is_empty() && TEXT.starts_with(&back), "{back:?}");
}

fn cram_owned(dir: &Dir, args: &[String]) -> Run {
    dir.cram(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn bad_method_options_give_one_clear_error() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let base = ["compress", "--model", model.as_str(), "--text", "text.txt", "-o", "bad.cram"];
    let with = |extra: &[&'static str]| -> Vec<String> { base.iter().chain(extra).map(|s| s.to_string()).collect() };
    cram_owned(&dir, &with(&["--method", "lora", "--mem", "2"])).expect_error("drop --mem");
    cram_owned(&dir, &with(&["--method", "lora", "--rank", "100000"])).expect_error("larger than");
    cram_owned(&dir, &with(&["--method", "lowdim", "--rank", "100000"])).expect_error("larger than the model width");
    cram_owned(&dir, &with(&["--method", "lowdim", "--rank", "0"])).expect_error("--rank");
    cram_owned(&dir, &with(&["--rank", "4"])).expect_error("--rank applies to --method lowdim or lora");
    cram_owned(&dir, &with(&["--method", "lora", "--targets", "q,x"])).expect_error("unknown LoRA target `x`");
    cram_owned(&dir, &with(&["--method", "progressive", "--protocol", "paper"])).expect_error("greedy by construction");
    cram_owned(&dir, &with(&["--method", "lora", "--layout", "paper"])).expect_error("use --layout sink");
    cram_owned(&dir, &with(&["--steps-per-token", "5"])).expect_error("--method progressive");
    cram_owned(&dir, &with(&["--method", "lora", "--init", "text-mean"])).expect_error("--init text-mean");
    cram_owned(&dir, &with(&["--schedule", "cosine", "--max-steps", "50"])).expect_error("the cosine must end after the warmup (100 steps)");
    assert!(!dir.path("bad.cram").exists(), "a failed run left a file");
}

#[test]
fn compare_runs_every_method_on_the_same_texts() {
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
        "--rank",
        "2",
        "--steps-per-token",
        "300",
        "--out",
        "cmp.jsonl",
        "--plot",
        "plots",
    ];
    let run = dir.cram(&args).expect_code(0);
    for method in ["memory", "dense", "lowdim", "lora", "progressive", "one-pass"] {
        assert!(run.stdout.lines().any(|l| l.starts_with(method)), "{method} missing:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("trainable") && run.stdout.contains("capacity (greedy)"), "{}", run.stdout);
    // #37: the tables fit an 80-column terminal (`--format wide` prints every column)
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "{} columns: {line:?}", line.chars().count());
    }
    let lines = std::fs::read_to_string(dir.path("cmp.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 6 * 2 * 2, "{lines}");
    assert!(dir.path("plots/accuracy.svg").exists());
    // Resumed: nothing left to do, the same table.
    let again = dir.cram(&args).expect_code(0);
    assert!(again.stderr.contains("0 run(s) to do"), "{}", again.stderr);
    // Two shards of the same comparison merge into the whole.
    let shard = |i: &str, out: &str| {
        let mut a: Vec<&str> = args.iter().copied().filter(|a| *a != "--plot" && *a != "plots").collect();
        let at = a.iter().position(|x| *x == "cmp.jsonl").unwrap();
        a[at] = out;
        a.extend(["--shard", i]);
        dir.cram(&a).expect_code(0)
    };
    shard("0/2", "s0.jsonl");
    shard("1/2", "s1.jsonl");
    dir.cram(&["merge", "s0.jsonl", "s1.jsonl", "-o", "s.jsonl"]).expect_code(0);
    let count = |f: &str| std::fs::read_to_string(dir.path(f)).unwrap().lines().count();
    assert!(count("s0.jsonl") > 0 && count("s1.jsonl") > 0);
    assert_eq!(count("s.jsonl"), 6 * 2 * 2);
}
