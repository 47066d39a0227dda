//! The `cram` binary end to end on the tiny Llama fixture (a Hugging Face folder and its GGUF twin):
//! compress → .cram → decompress, the JSON fields, and one clear error (exit 2, no panic, no partial
//! file) for each kind of bad input.

use cram_tests::*;

const TEXT: &str = "Alice was beginning to get very tired of sitting";
/// A recipe the tiny random model converges with in about a hundred steps.
const FAST: &[&str] = &["--tokens", "6", "--lr", "0.1", "--max-steps", "2000"];

fn compress_tiny(dir: &Dir, out: &str) -> serde_json::Value {
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "-o", out, "--json"];
    args.extend_from_slice(FAST);
    dir.cram(&args).expect_code(0).json()
}

#[test]
fn compress_then_decompress_gives_the_text_back() {
    let dir = Dir::new();
    let m = compress_tiny(&dir, "t.cram");
    for field in [
        "tokens",
        "mem",
        "method",
        "steps",
        "seconds",
        "teacher_forced_accuracy",
        "greedy_exact",
        "ce_without_mem_nats",
        "ce_with_mem_nats",
        "information_gain_bits",
        "token_gain",
        "theoretical_capacity_tokens",
        "capacity_utilization",
    ] {
        assert!(m.get(field).is_some(), "JSON lacks `{field}`: {m}");
    }
    assert_eq!(m["tokens"], 6);
    assert_eq!(m["greedy_exact"], true);
    assert_eq!(m["teacher_forced_accuracy"], 1.0);
    let model = tiny_model();
    let run = dir.cram(&["decompress", "t.cram", "--model", &model]).expect_code(0);
    // The first 6 tokens of the text, decoded.
    assert!(TEXT.starts_with(&run.stdout), "{:?} is not a prefix of the text", run.stdout);
    assert!(run.stdout.len() >= 10, "{:?}", run.stdout);
    // -o writes the same text to a file.
    dir.cram(&["decompress", "t.cram", "--model", &model, "-o", "back.txt"]).expect_code(0);
    assert_eq!(std::fs::read_to_string(dir.path("back.txt")).unwrap(), run.stdout);
    // The same 6 tokens in bits: the text, the vector (1 x 64 values of the tiny model), `cram zip`
    // of that text (the very same code), zstd and xz, each with its ratio against the text.
    let bits = &m["bits"];
    let raw = 8 * run.stdout.len() as u64;
    assert_eq!(bits["raw_bits"], raw, "{bits}");
    assert_eq!((bits["vector_bits_16"].as_u64(), bits["vector_bits_32"].as_u64()), (Some(64 * 16), Some(64 * 32)), "{bits}");
    let ce_bits = m["ce_without_mem_nats"].as_f64().unwrap() * std::f64::consts::LOG2_E;
    assert!((bits["lm_ce_bits"].as_f64().unwrap() - ce_bits).abs() < 1e-6, "{bits}");
    let zip = dir.cram(&["zip", "--model", &model, "back.txt", "-o", "back.lmz", "--json"]).expect_code(0).json();
    assert_eq!(zip["tokens"], 6, "{zip}");
    assert_eq!(bits["lm_zip_bits"], zip["code_bits"], "{bits} vs {zip}");
    // xz's stream alone is 32 bytes, zstd's frame at least 9: tiny texts pay for their headers.
    assert!(bits["xz_bits"].as_u64().unwrap() > 8 * 32 && bits["zstd_bits"].as_u64().unwrap() > 8 * 9, "{bits}");
    for (ratio, of) in [("ratio_vectors_16", "vector_bits_16"), ("ratio_lm_zip", "lm_zip_bits"), ("ratio_zstd", "zstd_bits"), ("ratio_xz", "xz_bits")] {
        assert!((bits[ratio].as_f64().unwrap() - raw as f64 / bits[of].as_f64().unwrap()).abs() < 1e-9, "{ratio}: {bits}");
    }
}

#[test]
fn the_paper_protocol_gives_t1_and_decompresses() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "-o", "p.cram", "--json", "--protocol", "paper"];
    args.extend_from_slice(FAST);
    let m = dir.cram(&args).expect_code(0).json();
    // t_1 is given and not scored: 5 of the 6 tokens are scored, all right (>= 0.99).
    assert_eq!(m["teacher_forced_accuracy"], 1.0, "{m}");
    assert_eq!(m["greedy_exact"], true, "{m}");
    let full = dir.cram(&["decompress", "p.cram", "--model", &model]).expect_code(0);
    assert!(TEXT.starts_with(&full.stdout) && full.stdout.len() >= 10, "{:?}", full.stdout);
}

#[test]
fn a_cram_file_from_a_folder_decompresses_with_the_gguf_of_the_same_weights() {
    let dir = Dir::new();
    compress_tiny(&dir, "t.cram");
    let gguf = fixture("llama_gguf/tiny-llama.gguf").display().to_string();
    let run = dir.cram(&["decompress", "t.cram", "--model", &gguf]).expect_code(0);
    assert!(TEXT.starts_with(&run.stdout));
}

#[test]
fn the_same_seed_gives_the_same_vectors() {
    let dir = Dir::new();
    let a = compress_tiny(&dir, "a.cram");
    let b = compress_tiny(&dir, "b.cram");
    assert_eq!(a["steps"], b["steps"]);
    assert_eq!(std::fs::read(dir.path("a.cram")).unwrap().len(), std::fs::read(dir.path("b.cram")).unwrap().len());
    let strip = |p: &str| {
        // Same vectors; only the timing in the metadata may differ.
        let bytes = std::fs::read(dir.path(p)).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        bytes[8 + n..].to_vec()
    };
    assert_eq!(strip("a.cram"), strip("b.cram"));
}

#[test]
fn decompress_refuses_another_model() {
    let dir = Dir::new();
    compress_tiny(&dir, "t.cram");
    // The same folder with another norm epsilon is another model.
    let other = other_model(&dir);
    dir.cram(&["decompress", "t.cram", "--model", other]).expect_error("made with another model");
}

#[test]
fn decompress_refuses_a_truncated_file() {
    let dir = Dir::new();
    compress_tiny(&dir, "t.cram");
    let bytes = std::fs::read(dir.path("t.cram")).unwrap();
    dir.write("cut.cram", &bytes[..bytes.len() / 2]);
    let model = tiny_model();
    dir.cram(&["decompress", "cut.cram", "--model", &model]).expect_error("not a valid .cram file");
    dir.write("garbage.cram", b"hello");
    dir.cram(&["decompress", "garbage.cram", "--model", &model]).expect_error("not a valid .cram file");
    dir.cram(&["decompress", "missing.cram", "--model", &model]).expect_error("missing.cram");
    // Many cuts and single-bit flips: exit 2 with one error line and no output file, or (a flip
    // that changes nothing decoded) the text; never a panic.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in 0..32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut damaged = bytes.clone();
        if i % 2 == 0 {
            damaged.truncate((x % bytes.len() as u64) as usize);
        } else {
            let at = if i % 4 == 1 { x % 600 } else { x % bytes.len() as u64 } as usize;
            damaged[at] ^= 1 << ((x >> 40) % 8);
        }
        dir.write("damaged.cram", &damaged);
        let _ = std::fs::remove_file(dir.path("out.txt"));
        let run = dir.cram(&["decompress", "damaged.cram", "--model", &model, "-o", "out.txt"]);
        match run.code {
            0 => assert!(TEXT.starts_with(&std::fs::read_to_string(dir.path("out.txt")).unwrap())),
            2 => {
                assert!(run.stderr.lines().filter(|l| l.starts_with("error:")).count() == 1, "variant {i}: {}", run.stderr);
                assert!(!dir.path("out.txt").exists(), "variant {i}: a partial output file");
            }
            other => panic!("variant {i}: exit {other}: {}", run.stderr),
        }
    }
}

#[test]
fn bad_text_and_options_give_one_clear_error() {
    let dir = Dir::new();
    let model = tiny_model();
    dir.write("empty.txt", "  \n");
    dir.write("text.txt", TEXT);
    dir.cram(&["compress", "--model", &model, "--text", "empty.txt"]).expect_error("empty");
    dir.cram_stdin(&["compress", "--model", &model, "--text", "-"], Some("")).expect_error("empty");
    dir.cram(&["compress", "--model", &model, "--text", "nope.txt"]).expect_error("nope.txt");
    dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--tokens", "5000"]).expect_error("more than the text has");
    dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--mem", "0"]).expect_error("--mem");
    dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--lr=-1"]).expect_error("--lr");
    dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--tokens", "1", "--protocol", "paper"]).expect_error("at least 2");
    // Nothing half-written.
    assert!(!dir.path("text.cram").exists());
    assert!(!dir.path("empty.cram").exists());
}

#[test]
fn output_into_a_missing_folder_fails_without_a_partial_file() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "-o", "no/such/dir/t.cram"];
    args.extend_from_slice(FAST);
    dir.cram(&args).expect_error("no/such/dir/t.cram");
    assert!(std::fs::read_dir(dir.dir.path()).unwrap().count() == 1, "only text.txt remains");
}

#[test]
fn bad_model_files_give_one_clear_error() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    dir.write("bad.gguf", b"PK\x03\x04 this is a zip, not a gguf");
    dir.cram(&["info", "--model", "bad.gguf"]).expect_error("not a GGUF file");
    let gguf = std::fs::read(fixture("llama_gguf/tiny-llama.gguf")).unwrap();
    dir.write("cut.gguf", &gguf[..gguf.len() / 3]);
    dir.cram(&["info", "--model", "cut.gguf"]).expect_error("cut.gguf");
    dir.cram(&["info", "--model", "missing.gguf"]).expect_error("missing.gguf");
    dir.cram(&["info", "--model", "no-such-alias"]).expect_error("no-such-alias");
    // A folder whose safetensors file is cut short.
    let folder = dir.path("cut");
    std::fs::create_dir(&folder).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(fixture("llama_gguf").join(f), folder.join(f)).unwrap();
    }
    let st = std::fs::read(fixture("llama_gguf/model.safetensors")).unwrap();
    std::fs::write(folder.join("model.safetensors"), &st[..st.len() / 2]).unwrap();
    dir.cram(&["info", "--model", "cut"]).expect_error("model.safetensors");
    // A folder that is not a model names what it lacks.
    std::fs::create_dir(dir.path("notes")).unwrap();
    dir.write("notes/config.json", "{}");
    let err = dir.cram(&["info", "--model", "notes"]).expect_code(2).stderr;
    assert!(
        err.contains("not a Hugging Face model folder") && err.contains("no weights") && err.contains("no tokenizer.json") && !err.contains("no config.json"),
        "{err}"
    );
    // An architecture cram does not know.
    let bert = dir.path("bert");
    std::fs::create_dir(&bert).unwrap();
    std::fs::write(bert.join("config.json"), r#"{"model_type": "bert", "vocab_size": 10}"#).unwrap();
    std::fs::copy(fixture("llama_gguf/tokenizer.json"), bert.join("tokenizer.json")).unwrap();
    std::fs::copy(fixture("llama_gguf/model.safetensors"), bert.join("model.safetensors")).unwrap();
    dir.cram(&["info", "--model", "bert"]).expect_error("unsupported architecture `bert`");
    // A tokenizer that does not fit the model: one token id beyond the model's 384 embedding rows.
    let big = dir.path("bigtok");
    std::fs::create_dir(&big).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("llama_gguf").join(f), big.join(f)).unwrap();
    }
    let mut tok: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("llama_gguf/tokenizer.json")).unwrap()).unwrap();
    tok["added_tokens"].as_array_mut().unwrap().push(serde_json::json!({
        "id": 1000, "content": "<|beyond|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true
    }));
    std::fs::write(big.join("tokenizer.json"), tok.to_string()).unwrap();
    dir.cram(&["info", "--model", "bigtok"]).expect_error("do not belong together");
}

#[test]
fn info_and_score_print_their_json_fields() {
    let dir = Dir::new();
    let model = tiny_model();
    let info = dir.cram(&["info", "--model", &model, "--json"]).expect_code(0).json();
    assert_eq!(info["family"], "llama");
    assert_eq!(info["layers"], 2);
    assert_eq!(info["d_model"], 64);
    assert_eq!(info["vocab"], 384);
    let cap = info["theoretical_capacity_tokens"].as_f64().unwrap();
    assert!((cap - 64.0 * 16.0 / 384f64.log2()).abs() < 1e-9);
    dir.write("text.txt", TEXT);
    let s = dir.cram(&["score", "--model", &model, "--text", "text.txt", "--json"]).expect_code(0).json();
    for field in ["tokens", "nll_nats_per_token", "nll_bits_per_token", "next_token_accuracy"] {
        assert!(s.get(field).is_some(), "score JSON lacks `{field}`");
    }
    let nats = s["nll_nats_per_token"].as_f64().unwrap();
    assert!((s["nll_bits_per_token"].as_f64().unwrap() - nats / std::f64::consts::LN_2).abs() < 1e-9);
    // Standard input works the same.
    let s2 = dir.cram_stdin(&["score", "--model", &model, "--text", "-", "--json"], Some(TEXT)).expect_code(0).json();
    assert_eq!(s, s2);
}

/// `--device wgpu` end to end: a vector crammed on wgpu decompresses on the CPU and on wgpu, and a
/// CPU-made file decompresses on wgpu. Skips (with a message) when the binary was built without the
/// `wgpu` feature or the machine has no adapter, unless `CRAM_REQUIRE_WGPU=1` (scripts/test.sh, CI).
#[test]
fn a_vector_crammed_on_wgpu_decompresses_on_either_device() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let mut args = vec!["compress", "--device", "wgpu", "--model", &model, "--text", "text.txt", "-o", "gpu.cram", "--json"];
    args.extend_from_slice(FAST);
    let run = dir.cram(&args);
    if run.code == 2 && run.stderr.contains("wgpu") && !std::env::var("CRAM_REQUIRE_WGPU").is_ok_and(|v| v == "1") {
        eprintln!("skipping: {}", run.stderr.trim());
        return;
    }
    let m = run.expect_code(0).json();
    assert_eq!(m["greedy_exact"], true, "{m}");
    let on_cpu = dir.cram(&["decompress", "gpu.cram", "--model", &model, "--device", "cpu"]).expect_code(0);
    assert!(TEXT.starts_with(&on_cpu.stdout) && on_cpu.stdout.len() >= 10, "{:?}", on_cpu.stdout);
    let on_gpu = dir.cram(&["decompress", "gpu.cram", "--model", &model, "--device", "wgpu"]).expect_code(0);
    assert_eq!(on_gpu.stdout, on_cpu.stdout);
    compress_tiny(&dir, "cpu.cram");
    let back = dir.cram(&["decompress", "cpu.cram", "--model", &model, "--device", "wgpu"]).expect_code(0);
    assert_eq!(back.stdout, on_cpu.stdout);
}

/// `cram plan` works from a config.json alone (no weights) and says whether a run fits: the paper's
/// headline, 1568 tokens on Llama-3.1-8B in bf16, fits an 80 GB GPU, and only checkpointed in 24 GB.
#[test]
fn plan_reads_a_config_alone_and_says_what_fits() {
    let dir = Dir::new();
    let config = root().join("data/configs/llama-3.1-8b.json").display().to_string();
    let plan = |gb: &str| dir.cram(&["plan", "--model", &config, "--tokens", "1568", "--dtype", "bf16", "--device-memory", gb, "--json"]).expect_code(0).json();
    let big = plan("80");
    assert_eq!(big["positions"], 1569, "{big}");
    assert_eq!(big["weights_bytes"], 8_030_261_248u64 * 2, "{big}");
    assert_eq!((big["fits"].clone(), big["fits_checkpointed"].clone()), (true.into(), true.into()), "{big}");
    let small = plan("24");
    assert_eq!((small["fits"].clone(), small["fits_checkpointed"].clone()), (false.into(), true.into()), "{small}");
    dir.cram(&["plan", "--model", &config, "--tokens", "16", "--dtype", "f8"]).expect_error("unknown dtype `f8`");
    dir.cram(&["plan", "--model", "no-such-config.json", "--tokens", "16"]).expect_error("no such file");
}

/// A missing file is one line that names it and gives the OS's reason once (the reason used to be
/// printed twice, as the message and again as its source).
#[test]
fn a_missing_file_is_named_with_its_cause_once() {
    let dir = Dir::new();
    for args in [&["decompress", "missing.cram"][..], &["info", "--model", "missing-folder/"][..]] {
        let run = dir.cram(args).expect_error("missing");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.matches("os error 2").count() <= 1, "{}", run.stderr);
    }
}

/// A closed or full standard error (`2>&1 | head`, `2>/dev/full`) does not abort a run: progress
/// writes that fail are dropped, the file is written and the exit code is the run's (it was a panic,
/// exit 101, and no file).
#[test]
fn an_unwritable_stderr_does_not_abort_a_run() {
    let dir = Dir::new();
    dir.write("text.txt", "Alice was beginning to get very tired of sitting");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let out = std::process::Command::new(cram_bin())
        .current_dir(dir.path("."))
        .args(["compress", "--model", &tiny_model(), "--text", "text.txt", "--tokens", "6", "-o", "t.cram"])
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(dir.path("t.cram").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote t.cram"));
}

/// A text that runs out of steps says so in words (exit 1, the file keeps the best vectors).
#[test]
fn a_run_out_of_steps_says_so_in_words() {
    let dir = Dir::new();
    dir.write("text.txt", "Alice was beginning to get very tired of sitting by her sister on the bank");
    let run = dir.cram(&["compress", "--model", &tiny_model(), "--text", "text.txt", "--tokens", "10", "--max-steps", "2", "-o", "t.cram"]).expect_code(1);
    assert!(run.stderr.contains("the step budget ran out after 2 steps"), "{}", run.stderr);
    assert!(run.stderr.contains("did not cram completely (the step budget ran out)"), "{}", run.stderr);
    assert!(!run.stderr.contains("MaxSteps"), "{}", run.stderr);
    assert!(dir.path("t.cram").exists());
}

#[test]
fn bf16_weights_cram_record_their_dtype_and_decompress_in_it() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "-o", "b.cram", "--json", "--dtype", "bf16"];
    args.extend_from_slice(FAST);
    let m = dir.cram(&args).expect_code(0).json();
    assert_eq!(m["greedy_exact"], true, "{m}");
    let file = cram_core::format::CramFile::read(&dir.path("b.cram")).unwrap();
    assert_eq!(file.precision, cram_core::device::Precision::Bf16);
    // `cram info FILE.cram` reads the metadata without a model.
    let info = dir.cram(&["info", "b.cram", "--json"]).expect_code(0).json();
    assert_eq!(info["dtype"], "bf16", "{info}");
    assert_eq!(info["tokens"], 6);
    assert_eq!(info["model"]["weights_fingerprint"], file.model.weights_fingerprint.as_str());
    assert!(dir.cram(&["info", "b.cram"]).expect_code(0).stdout.contains("made in bf16"));
    dir.cram(&["info", "text.txt"]).expect_code(2);
    // Without --dtype, decompression uses the file's; the vectors stay f32 in the file.
    let run = dir.cram(&["decompress", "b.cram", "--model", &model]).expect_code(0);
    assert!(TEXT.starts_with(&run.stdout) && run.stdout.len() >= 10, "{:?}", run.stdout);
    dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--dtype", "f64"]).expect_code(2);
}

#[test]
fn checkpointing_takes_the_same_steps_to_the_same_vectors() {
    let dir = Dir::new();
    let plain = compress_tiny(&dir, "plain.cram");
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "-o", "ckpt.cram", "--json", "--checkpoint"];
    args.extend_from_slice(FAST);
    let ckpt = dir.cram(&args).expect_code(0).json();
    // The gradients equal the plain ones up to rounding, so the run follows the same path.
    assert_eq!(ckpt["steps"], plain["steps"], "{ckpt}\n{plain}");
    assert_eq!(ckpt["greedy_exact"], true);
    let run = dir.cram(&["decompress", "ckpt.cram", "--model", &model]).expect_code(0);
    assert!(TEXT.starts_with(&run.stdout) && run.stdout.len() >= 10, "{:?}", run.stdout);
    let err = dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--checkpoint", "--method", "lora"]).expect_code(2);
    assert!(err.stderr.contains("--checkpoint") && err.stderr.lines().count() == 1, "{}", err.stderr);
}

/// `scripts/cram_decode.py` decodes a `.cram` file with Hugging Face transformers alone (the vectors
/// prepended as `inputs_embeds`) to the same text as `cram decompress`. Runs where the reference venv
/// exists (`scripts/reference/make_fixtures.sh` makes `.venv-ref/`; CI has none) and skips elsewhere.
#[test]
fn a_cram_file_decodes_with_transformers_too() {
    let python = root().join(".venv-ref/bin/python");
    if !python.exists() {
        eprintln!("skipping: {} not found (scripts/reference/make_fixtures.sh creates it)", python.display());
        return;
    }
    let dir = Dir::new();
    compress_tiny(&dir, "t.cram");
    let model = tiny_model();
    let ours = dir.cram(&["decompress", "t.cram", "--model", &model]).expect_code(0).stdout;
    let script = root().join("scripts/cram_decode.py");
    let out = std::process::Command::new(&python).arg(&script).args(["t.cram", "--model", &model]).current_dir(dir.path("")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), ours);
    assert!(stderr.contains("sha256 matches: 6 tokens"), "{stderr}");
}

/// A learning rate far too large sends the loss to NaN/inf: the run stops as diverged (in words and
/// in the JSON), keeps its best vectors in a valid file, and exits 1.
#[test]
fn a_diverging_run_stops_and_keeps_its_best_vectors() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let run = dir.cram(&["compress", "--model", &model, "--text", "text.txt", "--tokens", "6", "--lr", "1e30", "-o", "d.cram", "--json"]).expect_code(1);
    let m = run.json();
    assert_eq!(m["stop"], "diverged", "{m}");
    assert!(m["steps"].as_u64().unwrap() < 50, "{m}");
    assert!(run.stderr.contains("diverged"), "{}", run.stderr);
    let file = cram_core::format::CramFile::read(&dir.path("d.cram")).unwrap();
    assert!(file.memory.vectors.iter().all(|v| v.is_finite()));
}

/// `cram zip` / `cram unzip` on the tiny model: a lossless round trip, the same bytes on every run,
/// and damaged or foreign files refused with one error.
#[test]
fn zip_and_unzip_round_trip_deterministically() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let m = dir.cram(&["zip", "text.txt", "--model", &model, "--json"]).expect_code(0).json();
    assert!(m["code_bits"].as_u64().unwrap() > 0 && m["tokens"].as_u64().unwrap() > 5, "{m}");
    let first = std::fs::read(dir.path("text.txt.lmz")).unwrap();
    dir.cram(&["zip", "text.txt", "--model", &model, "-o", "again.lmz"]).expect_code(0);
    // The same code on every run (the metadata's key order may vary, as safetensors writes a map).
    let code = |b: &[u8]| cram_core::lmzip::LmzFile::from_bytes(b, "f").unwrap().code;
    assert_eq!(code(&std::fs::read(dir.path("again.lmz")).unwrap()), code(&first), "deterministic");
    let back = dir.cram(&["unzip", "text.txt.lmz", "--model", &model, "-o", "back.txt"]).expect_code(0);
    assert!(back.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(dir.path("back.txt")).unwrap(), TEXT);
    dir.write("cut.lmz", &first[..first.len() / 2]);
    dir.cram(&["unzip", "cut.lmz", "--model", &model]).expect_error("cut.lmz");
    dir.cram(&["unzip", "text.txt", "--model", &model]).expect_error("text.txt");
}

/// #37, 1: a `tokenizer.json` whose settings are serialised otherwise (ByteLevel's offsets untrimmed:
/// other JSON, the same ids, as a Hugging Face folder's tokenizer against its GGUF's) is the same
/// tokenizer: a file made with that folder decompresses with the GGUF twin and the other way round;
/// a tokenizer that splits otherwise (a space in front of every text) is refused.
#[test]
fn the_same_tokenizer_serialised_otherwise_is_the_same_and_another_is_refused() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let folder = tokenizer_variant(&dir, "untrimmed", |t| t["pre_tokenizer"]["pretokenizers"][1]["trim_offsets"] = false.into());
    let gguf = fixture("llama_gguf/tiny-llama.gguf").display().to_string();
    let mut args = vec!["compress", "--model", folder, "--text", "text.txt", "-o", "f.cram"];
    args.extend_from_slice(FAST);
    dir.cram(&args).expect_code(0);
    let run = dir.cram(&["decompress", "f.cram", "--model", &gguf]).expect_code(0);
    assert!(TEXT.starts_with(&run.stdout) && run.stdout.len() >= 10, "{:?}", run.stdout);
    let mut args = vec!["compress", "--model", &gguf, "--text", "text.txt", "-o", "g.cram"];
    args.extend_from_slice(FAST);
    dir.cram(&args).expect_code(0);
    assert_eq!(dir.cram(&["decompress", "g.cram", "--model", folder]).expect_code(0).stdout, run.stdout);
    let prefixed = tokenizer_variant(&dir, "prefixed", |t| t["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true.into());
    dir.cram(&["decompress", "f.cram", "--model", prefixed]).expect_error("another tokenizer");
}

/// #37, 2: every output path is checked before any work, and a failed write is worded as a write.
#[test]
fn output_paths_are_checked_before_any_work() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    dir.write("words.txt", "alpha\nbeta\ngamma\n");
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "--text", "text.txt", "-o", "nodir/sub/x.cram"];
    args.extend_from_slice(FAST);
    let run = dir.cram(&args).expect_error("cannot write nodir/sub/x.cram");
    assert!(!run.stderr.contains("step ") && !run.stderr.contains("cannot read"), "work was done first: {}", run.stderr);
    std::fs::create_dir(dir.path("afolder")).unwrap();
    dir.cram(&["compress", "--model", &model, "--text", "text.txt", "-o", "afolder"]).expect_error("it is a folder");
    compress_tiny(&dir, "t.cram");
    dir.cram(&["decompress", "t.cram", "--model", &model, "-o", "nodir/x.txt"]).expect_error("cannot write nodir/x.txt");
    dir.cram(&["zip", "text.txt", "--model", &model, "-o", "nodir/x.lmz"]).expect_error("cannot write nodir/x.lmz");
    dir.cram(&["data", "random-words", "--vocab", "words.txt", "--out", "nodir/w.jsonl"]).expect_error("cannot write nodir/w.jsonl");
    assert!(!dir.path("nodir").exists());
}

/// #37, 3: --max-steps bounds progressive cramming too (all its stages together).
#[test]
fn max_steps_bounds_progressive_cramming() {
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
        "8",
        "--method",
        "progressive",
        "--max-steps",
        "3",
        "-o",
        "p.cram",
        "--json",
    ]);
    let m = run.expect_code(1).json();
    assert_eq!(m["steps"], 3, "{m}");
    assert_eq!(m["stop"], "max_steps", "{m}");
}

/// #37, 6: standard input writes the file the help names.
#[test]
fn standard_input_writes_the_file_the_help_names() {
    let dir = Dir::new();
    let help = dir.cram(&["compress", "--help"]).expect_code(0).stdout;
    assert!(help.contains("stdin.cram") && !help.contains("text.cram"), "{help}");
    let model = tiny_model();
    let mut args = vec!["compress", "--model", &model, "-"];
    args.extend_from_slice(FAST);
    let run = dir.cram_stdin(&args, Some(TEXT)).expect_code(0);
    assert!(run.stdout.contains("wrote stdin.cram") && dir.path("stdin.cram").exists(), "{}", run.stdout);
}

/// #37, 13: the text file may be given positionally, as to zip and decompress.
#[test]
fn the_text_file_may_be_given_positionally() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let model = tiny_model();
    let mut args = vec!["compress", "text.txt", "--model", &model, "-o", "p.cram", "--json"];
    args.extend_from_slice(FAST);
    assert_eq!(dir.cram(&args).expect_code(0).json()["greedy_exact"], true);
    let a = dir.cram(&["score", "text.txt", "--model", &model, "--json"]).expect_code(0).json();
    let b = dir.cram(&["score", "--text", "text.txt", "--model", &model, "--json"]).expect_code(0).json();
    assert_eq!(a, b);
    dir.cram(&["score", "text.txt", "--text", "text.txt", "--model", &model]).expect_code(2);
    dir.cram(&["score", "--model", &model]).expect_code(2);
}

/// #37, 9: one wording per fault: a truncated file says so once, a .cram given to unzip and a .lmz
/// given to decompress say what they are, and `cram info` reads .lmz files.
#[test]
fn damaged_and_mistaken_files_say_what_they_are() {
    let dir = Dir::new();
    compress_tiny(&dir, "t.cram");
    let model = tiny_model();
    let bytes = std::fs::read(dir.path("t.cram")).unwrap();
    dir.write("cut.cram", &bytes[..bytes.len() - 10]);
    let run = dir.cram(&["decompress", "cut.cram", "--model", &model]).expect_error("cut.cram");
    assert_eq!(run.stderr.matches("truncated").count(), 1, "{}", run.stderr);
    let run = dir.cram(&["unzip", "t.cram", "--model", &model]).expect_error("this is a .cram file");
    assert!(!run.stderr.contains("not a valid .cram file") && run.stderr.contains("cram decompress"), "{}", run.stderr);
    dir.cram(&["zip", "text.txt", "--model", &model, "-o", "t.lmz"]).expect_code(0);
    dir.cram(&["decompress", "t.lmz", "--model", &model]).expect_error("this is a .lmz file");
    let info = dir.cram(&["info", "t.lmz"]).expect_code(0).stdout;
    assert!(info.contains("cram zip") && info.contains("tokens in"), "{info}");
    let json = dir.cram(&["info", "t.lmz", "--json"]).expect_code(0).json();
    assert_eq!(json["kind"], "lmz");
    assert!(dir.cram(&["info", "t.cram"]).expect_code(0).stdout.contains("cram compress"));
    let run = dir.cram(&["info", "text.txt"]).expect_error("not a .cram, .lmz, encoder or start file: it is plain text");
    assert!(run.stderr.contains("cram compress FILE") && !run.stderr.contains("header too large"), "{}", run.stderr);
}

/// #37, 12: `cram zip` says the file's size against the text's plainly, and the code's apart.
#[test]
fn zip_says_the_file_size_against_the_text_plainly() {
    let dir = Dir::new();
    dir.write("text.txt", TEXT);
    let out = dir.cram(&["zip", "text.txt", "--model", &tiny_model()]).expect_code(0).stdout;
    let file = std::fs::metadata(dir.path("text.txt.lmz")).unwrap().len();
    assert!(out.contains(&format!("{file} bytes, the text {} bytes", TEXT.len())), "{out}");
    assert!(out.contains("larger than the text") && out.contains("code alone"), "{out}");
    assert!(!out.contains("smaller than the UTF-8 text ("), "{out}");
}

/// #37: `cram zip` codes bytes that are not UTF-8 (a byte-level BPE has a token for every byte), and
/// `cram unzip` gives them back exactly.
#[test]
fn zip_codes_bytes_that_are_not_utf8() {
    let dir = Dir::new();
    let bytes: &[u8] = b"caf\xe9 \xff\xfe\x00 ok \xc3\xa9\xc3\n";
    dir.write("latin1.bin", bytes);
    let model = tiny_model();
    let m = dir.cram(&["zip", "latin1.bin", "--model", &model, "--json"]).expect_code(0).json();
    assert_eq!(m["utf8"], false, "{m}");
    assert_eq!(m["text_bytes"], bytes.len(), "{m}");
    dir.cram(&["unzip", "latin1.bin.lmz", "--model", &model, "-o", "back.bin"]).expect_code(0);
    assert_eq!(std::fs::read(dir.path("back.bin")).unwrap(), bytes);
    let piped = dir.cram_with(&["zip", "-", "--model", &model, "--json"], Some(bytes), &[]).expect_code(0).json();
    assert_eq!(piped["code_bits"], m["code_bits"]);
}

/// #37: `decompress --partial` prints what a file that is not exact decodes to (exit 1), marking the
/// tokens that differ from the crammed text when given it; without --partial it is refused.
#[test]
fn decompress_partial_shows_what_an_inexact_file_decodes_to() {
    let dir = Dir::new();
    dir.write("text.txt", "Alice was beginning to get very tired of sitting by her sister on the bank");
    let model = tiny_model();
    dir.cram(&["compress", "text.txt", "--model", &model, "--tokens", "10", "--max-steps", "2", "-o", "t.cram"]).expect_code(1);
    dir.cram(&["decompress", "t.cram", "--model", &model]).expect_error("does not match the stored sha256");
    let run = dir.cram(&["decompress", "t.cram", "--model", &model, "--partial", "--text", "text.txt"]).expect_code(1);
    assert!(!run.stdout.is_empty(), "{}", run.stderr);
    assert!(run.stderr.contains("not the crammed one") && run.stderr.contains("of 10 tokens as crammed") && run.stderr.contains('|'), "{}", run.stderr);
    // an exact file decodes as ever with --partial
    compress_tiny(&dir, "e.cram");
    let exact = dir.cram(&["decompress", "e.cram", "--model", &model, "--partial"]).expect_code(0);
    assert!(TEXT.starts_with(&exact.stdout) && exact.stderr.is_empty(), "{}", exact.stderr);
}

/// #37: without --model, `decompress` uses the hub id the file was made with (here from a Hugging
/// Face cache, offline); a file made with a local path names it.
#[test]
fn decompress_finds_the_model_the_file_names() {
    let dir = Dir::new();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo = dir.path("hf/hub/models--tiny-org--tiny-llama");
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(fixture("llama_gguf").join(f), snapshot.join(f)).unwrap();
    }
    let hf = dir.path("hf").display().to_string();
    let home = dir.path("cram-home").display().to_string();
    let env = [("HF_HOME", hf.as_str()), ("HF_HUB_OFFLINE", "1"), ("CRAM_HOME", home.as_str())];
    dir.write("text.txt", TEXT);
    let mut args = vec!["compress", "text.txt", "--model", "tiny-org/tiny-llama", "-o", "h.cram"];
    args.extend_from_slice(FAST);
    dir.cram_with(&args, None, &env).expect_code(0);
    let run = dir.cram_with(&["decompress", "h.cram"], None, &env).expect_code(0);
    assert!(TEXT.starts_with(&run.stdout) && run.stdout.len() >= 10, "{:?} {}", run.stdout, run.stderr);
    compress_tiny(&dir, "local.cram");
    let err = dir.cram_with(&["decompress", "local.cram"], None, &env).expect_error("--model").stderr;
    assert!(err.contains("llama_gguf"), "{err}");
}
