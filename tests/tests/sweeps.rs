//! `cram capacity`, `cram merge`, `cram bench` and `cram data` on the tiny model: the results file
//! (one JSON line per run), resuming, shards that merge into the whole sweep, the table with both
//! capacities, and the SVG plots.

use cram_tests::*;

/// `cram capacity` of the shipped books on the tiny model: `lengths`, `samples`, `lr`, step budget
/// and patience, results into `out`.
fn capacity_args(lengths: &str, samples: &str, lr: &str, steps: &str, patience: &str, out: &str) -> Vec<String> {
    let (model, data) = (tiny_model(), root().join("data/eval/books.jsonl").display().to_string());
    let args = ["capacity", "--model", &model, "--data", &data, "--lengths", lengths, "--samples", samples, "--lr", lr];
    let rest = ["--max-steps", steps, "--patience", patience, "--out", out];
    args.iter().chain(&rest).map(|a| a.to_string()).collect()
}

fn sweep(dir: &Dir, out: &str, extra: &[&str]) -> Run {
    let args = capacity_args("4,6", "2", "0.1", "300", "200", out);
    dir.cram(&args.iter().map(String::as_str).chain(extra.iter().copied()).collect::<Vec<_>>())
}

fn lines(dir: &Dir, f: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.path(f)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The lines of `f` by run (`text@length`): steps, teacher-forced accuracy and the lowest
/// cross-entropy, which a run with another random start would not repeat.
fn runs(dir: &Dir, f: &str) -> std::collections::BTreeMap<String, (u64, f64, f64)> {
    let run = |r: &serde_json::Value| (r["steps"].as_u64().unwrap(), r["teacher_forced_accuracy"].as_f64().unwrap(), r["ce_with_mem_nats"].as_f64().unwrap());
    lines(dir, f).iter().map(|r| (format!("{}@{}", r["text_id"], r["length"]), run(r))).collect()
}

/// A memory-method sweep to be interrupted by a signal: a step budget (also the patience) and an
/// `lr` that keep it busy.
fn memory_sweep_args(lengths: &str, samples: &str, lr: &str, steps: &str, out: &str) -> Vec<String> {
    let mut args = capacity_args(lengths, samples, lr, steps, steps, out);
    args.extend(["--method".to_string(), "memory".to_string()]);
    args
}

/// Starts cram in `dir` without waiting for it, stdout dropped.
#[cfg(unix)]
fn spawn_cram(dir: &Dir, args: &[String], stderr: std::process::Stdio) -> std::process::Child {
    std::process::Command::new(cram_bin()).args(args).current_dir(dir.path("")).stdout(std::process::Stdio::null()).stderr(stderr).spawn().unwrap()
}

#[test]
fn capacity_writes_results_table_and_plots_and_resumes() {
    let dir = Dir::new();
    let run = sweep(&dir, "r.jsonl", &["--mem", "1,2", "--batch", "2", "--plot", "plots"]).expect_code(0);
    let results = lines(&dir, "r.jsonl");
    assert_eq!(results.len(), 2 * 2 * 2, "samples x lengths x mems");
    for r in &results {
        for f in ["text_id", "length", "tokens", "mem", "teacher_forced_accuracy", "greedy_exact", "information_gain_bits", "token_gain"] {
            assert!(r.get(f).is_some(), "line lacks {f}: {r}");
        }
        assert_eq!(r["length"], r["tokens"]);
        // Every line puts the text beside its codes in bits (core/src/bits.rs).
        for f in ["raw_bits", "vector_bits_16", "vector_bits_32", "lm_ce_bits", "lm_zip_bits", "zstd_bits", "xz_bits", "ratio_lm_zip"] {
            assert!(r["bits"].get(f).is_some_and(|v| !v.is_null()), "bits lack {f}: {r}");
        }
        assert_eq!(r["bits"]["vector_bits_16"], 16 * 64 * r["mem"].as_u64().unwrap(), "{r}");
    }
    assert!(run.stdout.contains("bits per text") && run.stdout.contains("cram zip"), "{}", run.stdout);
    // the default recipe (fast) runs the dense method
    assert!(run.stdout.contains("dense with 1 vector(s)") && run.stdout.contains("dense with 2 vector(s)"), "{}", run.stdout);
    assert!(run.stdout.contains("greedy-exact"), "{}", run.stdout);
    for p in ["accuracy.svg", "ce.svg", "vectors.svg", "bits.svg"] {
        let svg = std::fs::read_to_string(dir.path("plots").join(p)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{p} is an SVG");
    }
    // Running again finds everything done.
    let again = sweep(&dir, "r.jsonl", &["--mem", "1,2"]).expect_code(0);
    assert!(again.stderr.contains("0 run(s) to do"), "{}", again.stderr);
    assert_eq!(lines(&dir, "r.jsonl").len(), 8);
}

#[test]
fn shards_merge_into_the_whole_sweep() {
    let dir = Dir::new();
    sweep(&dir, "a.jsonl", &["--shard", "0/2"]).expect_code(0);
    sweep(&dir, "b.jsonl", &["--shard", "1/2"]).expect_code(0);
    let (a, b) = (lines(&dir, "a.jsonl"), lines(&dir, "b.jsonl"));
    assert_eq!(a.len() + b.len(), 4);
    assert!(!a.is_empty() && !b.is_empty());
    dir.cram(&["merge", "a.jsonl", "b.jsonl", "a.jsonl", "-o", "all.jsonl", "--table"]).expect_code(0);
    assert_eq!(lines(&dir, "all.jsonl").len(), 4, "duplicates dropped");
    // Each run starts from its place in the whole sweep: the shards give the unsharded results.
    sweep(&dir, "whole.jsonl", &[]).expect_code(0);
    assert_eq!(runs(&dir, "all.jsonl"), runs(&dir, "whole.jsonl"));
    sweep(&dir, "x.jsonl", &["--shard", "2/2"]).expect_error("--shard");
}

#[test]
fn bench_reports_seconds_per_step() {
    let dir = Dir::new();
    let model = tiny_model();
    let run = dir.cram(&["bench", "--model", &model, "--lengths", "8,16", "--batch", "1,2", "--steps", "3", "--json"]).expect_code(0);
    let rows: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 4);
    for r in rows {
        assert!(r["seconds_per_step"].as_f64().unwrap() > 0.0);
        assert_eq!(r["steps"], 3);
    }
}

#[test]
fn data_commands_make_the_shipped_eval_sets() {
    let dir = Dir::new();
    let vocab = root().join("data/vocab_100k.txt").display().to_string();
    dir.cram(&["data", "random-words", "--vocab", &vocab, "--count", "32", "--words", "400", "--seed", "0", "--out", "rw.jsonl"]).expect_code(0);
    assert_eq!(std::fs::read(dir.path("rw.jsonl")).unwrap(), std::fs::read(root().join("data/eval/random_words.jsonl")).unwrap());
    let books = dir.path("books");
    std::fs::create_dir(&books).unwrap();
    std::fs::write(books.join("a.txt"), "One. Two! Three? Four.\n\nFive six. Seven.").unwrap();
    dir.cram(&["data", "books", "--books", "books", "--words", "100000", "--out", "b.jsonl"]).expect_error("long enough");
}

/// Results of another recipe never mix in silently: every line records the model and the recipe,
/// a sweep on the same file with another --lr is refused with what differs, and `cram merge` keeps
/// both recipes' lines instead of dropping the second as duplicates.
#[test]
fn a_results_file_of_another_recipe_is_refused_and_merge_keeps_both() {
    let dir = Dir::new();
    let (model, data) = (tiny_model(), root().join("data/eval/books.jsonl").display().to_string());
    let run = |out: &str, lr: &str| {
        dir.cram(&["capacity", "--model", &model, "--data", &data, "--lengths", "4", "--samples", "2", "--lr", lr, "--max-steps", "300", "--out", out])
    };
    run("a.jsonl", "0.1").expect_code(0);
    let first = lines(&dir, "a.jsonl");
    assert_eq!(first.len(), 2);
    for r in &first {
        assert!(r["run"]["model"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
        assert_eq!(r["run"]["recipe"]["adamw"]["lr"], 0.1, "{r}");
    }
    run("a.jsonl", "0.2").expect_error("recipe.adamw");
    assert_eq!(lines(&dir, "a.jsonl").len(), 2, "nothing was appended");
    run("a.jsonl", "0.1").expect_code(0);
    assert_eq!(lines(&dir, "a.jsonl").len(), 2, "the same recipe resumes: nothing to do");
    run("b.jsonl", "0.2").expect_code(0);
    let merged = dir.cram(&["merge", "a.jsonl", "b.jsonl", "-o", "all.jsonl", "--table"]).expect_code(0);
    assert_eq!(lines(&dir, "all.jsonl").len(), 4, "both recipes' lines are kept");
    // The table keeps them apart: one group per recipe, never a mean over both.
    assert!(merged.stdout.contains("dense [1]") && merged.stdout.contains("dense [2]"), "{}", merged.stdout);
    // --separate appends the other recipe's runs to the same file as their own group.
    let sep = dir.cram(&[
        "capacity",
        "--model",
        &model,
        "--data",
        &data,
        "--lengths",
        "4",
        "--samples",
        "2",
        "--lr",
        "0.2",
        "--max-steps",
        "300",
        "--out",
        "a.jsonl",
        "--separate",
    ]);
    let sep = sep.expect_code(0);
    assert_eq!(lines(&dir, "a.jsonl").len(), 4);
    assert!(sep.stdout.contains("dense [2]: differs from dense [1] in recipe.adamw"), "{}", sep.stdout);
}

/// SIGTERM (SLURM's `scancel`, a preemption) stops a sweep as Ctrl-C does: exit 1, every finished
/// line kept whole, the text cut short not recorded; the same command then finishes the sweep with
/// each run exactly once.
#[cfg(unix)]
#[test]
fn a_terminated_sweep_keeps_its_lines_and_resumes_without_duplicates() {
    let dir = Dir::new();
    // A tiny learning rate keeps every run busy for its whole step budget (about 3 s each).
    let args = memory_sweep_args("4,6", "2", "0.000001", "5000", "t.jsonl");
    let child = spawn_cram(&dir, &args, std::process::Stdio::piped());
    let started = std::time::Instant::now();
    while std::fs::read_to_string(dir.path("t.jsonl")).map_or(true, |t| t.lines().count() < 1) {
        assert!(started.elapsed().as_secs() < 120, "no result line within 2 minutes");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kept = lines(&dir, "t.jsonl");
    assert!(!kept.is_empty() && kept.len() < 4, "the signal came mid-sweep: {} line(s)", kept.len());
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopped before the sweep finished"), "{stderr}");
    assert!(kept.iter().all(|r| r["stop"] != "interrupted"), "{kept:?}");
    let again = dir.cram(&args.iter().map(String::as_str).collect::<Vec<_>>()).expect_code(0);
    let all = lines(&dir, "t.jsonl");
    assert_eq!(all.len(), 4, "{}", again.stderr);
    let keys: std::collections::HashSet<String> = all.iter().map(|r| format!("{}@{}", r["text_id"], r["length"])).collect();
    assert_eq!(keys.len(), 4, "each run once");
}

/// Tables with their spread: `±` the 95 % confidence half-width in text and Markdown, the standard
/// deviations too in CSV and JSON; and texts from another JSON field of a `.json` file.
#[test]
fn tables_carry_confidence_intervals_in_every_format_and_texts_come_from_any_field() {
    let dir = Dir::new();
    let books = std::fs::read_to_string(root().join("data/eval/books.jsonl")).unwrap();
    let renamed: String = books.lines().take(4).map(|l| l.replace("\"text\":", "\"content\":") + "\n").collect();
    dir.write("texts.json", renamed);
    let model = tiny_model();
    let args = |format: &'static str| {
        vec![
            "capacity",
            "--model",
            &model,
            "--data",
            "texts.json",
            "--text-field",
            "content",
            "--lengths",
            "4",
            "--samples",
            "3",
            "--lr",
            "0.1",
            "--max-steps",
            "300",
            "--out",
            "f.jsonl",
            "--format",
            format,
        ]
    };
    let text = dir.cram(&args("text")).expect_code(0).stdout;
    assert!(text.contains(" ± "), "{text}");
    let md = dir.cram(&args("md")).expect_code(0).stdout;
    assert!(md.starts_with("| method | mem | length |") && md.contains("| dense | 1 | 4 | 3 |"), "{md}");
    let csv = dir.cram(&args("csv")).expect_code(0).stdout;
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(header.len(), row.len(), "{csv}");
    assert!(header.contains(&"accuracy_ci95") && header.contains(&"steps_std"), "{csv}");
    let json = dir.cram(&args("json")).expect_code(0).stdout;
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["texts"], 3);
    let steps: Vec<f64> = lines(&dir, "f.jsonl").iter().map(|r| r["steps"].as_f64().unwrap()).collect();
    let mean = steps.iter().sum::<f64>() / 3.0;
    let std = (steps.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((first["steps"]["std"].as_f64().unwrap() - std).abs() < 1e-9, "{first}");
    // t(0.975, 2 degrees of freedom) = 4.303
    assert!((first["steps"]["ci95"].as_f64().unwrap() - 4.303 * std / 3f64.sqrt()).abs() < 1e-9, "{first}");
    // a parquet table (as pyarrow and HF `datasets` write it), its texts in `content`
    let parquet = root().join("core/tests/fixtures/books.parquet").display().to_string();
    let mut from_parquet = args("md");
    from_parquet[4] = parquet.as_str();
    let out = from_parquet.len() - 3;
    from_parquet[out] = "p.jsonl";
    let md = dir.cram(&from_parquet).expect_code(0).stdout;
    assert!(md.contains("| dense | 1 | 4 | 3 |"), "{md}");
    assert!(lines(&dir, "p.jsonl").iter().any(|r| r["text_id"] == "100"), "the parquet ids");
    // the default field is `text`, which these records lack
    let mut wrong = args("text");
    wrong.retain(|a| *a != "--text-field" && *a != "content");
    dir.cram(&wrong).expect_error("no \"text\" field");
}

/// Two crams on one results file (shards given the same --out): the second is refused while the
/// first holds the file, with what to do instead, and the file is left as it was.
#[test]
fn a_results_file_in_use_is_refused() {
    let dir = Dir::new();
    dir.write("busy.jsonl", "");
    let held = std::fs::OpenOptions::new().append(true).open(dir.path("busy.jsonl")).unwrap();
    held.lock().unwrap();
    sweep(&dir, "busy.jsonl", &[]).expect_error("being written by another cram");
    assert_eq!(std::fs::read_to_string(dir.path("busy.jsonl")).unwrap(), "");
    held.unlock().unwrap();
    sweep(&dir, "busy.jsonl", &[]).expect_code(0);
}

/// `kill -9` at random moments, then the same command again, until the sweep is done: no result lost,
/// none twice, every line whole (a line torn by the kill is cut off and its run done again), and
/// each run the same as in an uninterrupted sweep (its random start comes from its place in the sweep).
#[cfg(unix)]
#[test]
fn a_sweep_killed_outright_at_random_moments_resumes_to_the_uninterrupted_results() {
    let dir = Dir::new();
    let args = |out: &str| memory_sweep_args("6,8", "3", "0.05", "600", out);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut kills = 0;
    for attempt in 0..60 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = spawn_cram(&dir, &args("killed.jsonl"), std::process::Stdio::null());
        // Random moments, in windows that widen with each attempt so that a loaded machine (CI
        // builds the app beside the tests) still finishes a run between kills.
        std::thread::sleep(std::time::Duration::from_millis(50 + x % 700 + 100 * attempt));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        child.kill().unwrap(); // SIGKILL: no handler runs
        child.wait().unwrap();
        kills += 1;
        assert!(attempt < 59, "the sweep never finished between kills");
    }
    assert!(kills > 0, "the sweep was never killed");
    // A kill in the middle of a write leaves half a line: the next run cuts it off.
    let torn = dir.path("killed.jsonl");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&torn).unwrap();
    std::io::Write::write_all(&mut f, b"{\"text_id\":\"torn").unwrap();
    drop(f);
    for out in ["killed.jsonl", "whole.jsonl"] {
        dir.cram(&args(out).iter().map(String::as_str).collect::<Vec<_>>()).expect_code(0);
    }
    assert_eq!(lines(&dir, "killed.jsonl").len(), 6, "each run once");
    assert_eq!(runs(&dir, "killed.jsonl"), runs(&dir, "whole.jsonl"), "the resumed sweep equals the uninterrupted one");
}

/// `cram reproduce` runs each check's own command, reads the measure from the row it printed and
/// says whether it falls in its band: exit 0 when all do, 1 (and `OUTSIDE`) when one does not. On
/// the tiny model with expectations of its own (the shipped ones are for the default model).
#[test]
fn reproduce_measures_each_check_against_its_band() {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.path("data/eval")).unwrap();
    dir.write("data/eval/books.jsonl", std::fs::read(root().join("data/eval/books.jsonl")).unwrap());
    let check = |steps_high: f64| {
        serde_json::json!({
            "model": tiny_model(),
            "checks": [
                { "name": "capacity formula", "quick": true, "args": ["info", "--json"], "measured_by": "hand",
                  "expect": [{ "what": "/theoretical_capacity_tokens", "expected": 119.28, "low": 119.0, "high": 119.5 }] },
                { "name": "tiny sweep", "quick": true, "measured_by": "hand",
                  "args": ["capacity", "--data", "data/eval/books.jsonl", "--lengths", "4", "--samples", "2", "--lr", "0.1", "--max-steps", "300", "--out", "{out}.jsonl", "--format", "json"],
                  "expect": [
                    { "row": { "method": "dense", "mem": 1, "length": 4 }, "what": "/greedy_exact_share", "expected": 1.0, "low": 1.0, "high": 1.0 },
                    { "row": { "method": "dense", "mem": 1, "length": 4 }, "what": "/mean_steps", "expected": 1.0, "low": 1.0, "high": steps_high },
                    { "row": { "method": "dense", "mem": 1, "length": 4 }, "what": "/bits/raw_bits", "expected": 1.0, "low": 1.0, "high": 1e6 }
                  ] },
                { "name": "not quick", "quick": false, "args": ["info", "--json"], "measured_by": "hand",
                  "expect": [{ "what": "/vocab", "expected": 0.0, "low": 0.0, "high": 0.0 }] }
            ]
        })
        .to_string()
    };
    let model = tiny_model();
    dir.write("ok.json", check(300.0));
    let run = dir.cram(&["reproduce", "--quick", "--model", &model, "--expectations", "ok.json", "--out", "rep"]).expect_code(0);
    assert_eq!(run.stdout.matches(" ok\n").count(), 4, "{}", run.stdout);
    assert!(!run.stdout.contains("not quick"), "{}", run.stdout);
    // Steps above a band's top: the measure is reported outside, the exit code says so.
    dir.write("tight.json", check(1.5));
    let run = dir.cram(&["reproduce", "--quick", "--model", &model, "--expectations", "tight.json", "--out", "rep2", "--json"]).expect_code(1);
    let lines: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let steps = lines.iter().find(|l| l["what"] == "/mean_steps").unwrap();
    assert_eq!(steps["ok"], false, "{steps}");
    assert!(steps["measured"].as_f64().unwrap() > 1.5, "{steps}");
    assert!(run.stderr.contains("1 of 4 measures fell outside"), "{}", run.stderr);
    // Without the shipped data in the working directory: one clear error.
    Dir::new().cram(&["reproduce", "--quick", "--model", &model]).expect_error("repository root");
}

/// #37, 4: a sweep with no text long enough for any length exits non-zero with one line, and
/// writes no results file.
#[test]
fn a_sweep_with_no_possible_run_fails_without_a_file() {
    let dir = Dir::new();
    let args = capacity_args("5000", "2", "0.1", "10", "10", "none.jsonl");
    let run = dir.cram(&args.iter().map(String::as_str).collect::<Vec<_>>()).expect_error("no run is possible");
    assert_eq!(run.stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "{}", run.stderr);
    assert!(!dir.path("none.jsonl").exists());
}

/// #37, 5, 10, 14 and the 80-column tables: one text per cell gives no interval (null in JSON,
/// empty in CSV, none in the tables); the text table fits 80 columns and `--format wide` has every
/// column; the Markdown table keeps the capacity lines; the CSV has `trainable_parameters`; the
/// log lines of a sweep count its steps of the budget from the first step.
#[test]
fn one_text_per_cell_has_no_interval_and_tables_fit_80_columns() {
    let dir = Dir::new();
    let args = |format: &'static str| {
        let mut a = capacity_args("4,6", "1", "0.1", "300", "200", "one.jsonl");
        a.extend(["--format".to_string(), format.to_string()]);
        a
    };
    let run = |format: &'static str| dir.cram(&args(format).iter().map(String::as_str).collect::<Vec<_>>()).expect_code(0);
    let first = run("text");
    assert!(first.stderr.contains("of the budget"), "{}", first.stderr);
    let text = first.stdout;
    assert!(!text.contains('±'), "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{} columns: {line:?}", line.chars().count());
    }
    assert!(text.contains("capacity of dense with 1 vector(s)") && text.contains("cram zip"), "{text}");
    let wide = run("wide").stdout;
    assert!(wide.lines().any(|l| l.chars().count() > 80) && wide.contains("info gain (bits)") && !wide.contains('±'), "{wide}");
    let json = run("json").stdout;
    let row: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert!(row["steps"]["ci95"].is_null() && row["accuracy"]["std"].is_null(), "{row}");
    let csv = run("csv").stdout;
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let cells: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let at = |name: &str| cells[header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name} in {csv}"))];
    assert_eq!(at("steps_ci95"), "", "{csv}");
    assert_eq!(at("trainable_parameters"), (64 + 64 * 64 + 64).to_string(), "{csv}");
    let md = run("md").stdout;
    assert!(md.contains("capacity of dense with 1 vector(s)") && !md.contains('±'), "{md}");
    let help = dir.cram(&["capacity", "--help"]).expect_code(0).stdout;
    assert!(help.contains("parquet"), "{help}");
}
