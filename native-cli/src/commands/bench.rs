//! `cram bench`: seconds per optimiser step and texts x steps per second for lengths x batch sizes,
//! on book chunks built into the binary; `--reference` runs the PyTorch + transformers implementation
//! of the same recipe on the same token ids in the same run and prints the ratio.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cram_core::cramming::{Observer, StepReport, TextJob, cram_texts};
use cram_core::data::jsonl;
use cram_core::methods::CramConfig;
use serde::Serialize;

use crate::cli::{BenchArgs, ScanArg};
use cram_core::models::mamba::ScanForm;

/// The evaluation book chunks (data/eval/books.jsonl), so the benchmark needs no files.
const BOOKS: &str = include_str!("../../../data/eval/books.jsonl");

/// Timestamps of the first text's steps.
struct Clock {
    times: Vec<web_time::Instant>,
}

impl Observer for Clock {
    fn on_step(&mut self, r: &StepReport) {
        if r.text == 0 {
            self.times.push(web_time::Instant::now());
        }
    }
}

#[derive(Debug, Serialize)]
struct BenchRow {
    implementation: &'static str,
    dtype: &'static str,
    checkpoint: bool,
    length: usize,
    batch: usize,
    steps: usize,
    seconds_per_step: f64,
    texts_steps_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pytorch_seconds_per_step: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    speedup_vs_pytorch: Option<f64>,
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if args.steps == 0 || args.lengths.is_empty() || args.batch.is_empty() || args.lengths.contains(&0) || args.batch.contains(&0) {
        bail!("--steps, --lengths and --batch must be positive");
    }
    let random = args.model.model.ends_with(".json") && std::path::Path::new(&args.model.model).is_file();
    let mut lm = if random { super::random_model(&args.model)? } else { super::load_model(&args.model)? };
    let form = match args.scan {
        ScanArg::Chunked => ScanForm::Chunked,
        ScanArg::Sequential => ScanForm::Sequential,
    };
    if !lm.set_scan(form) && args.scan != ScanArg::Chunked {
        bail!("--scan applies to a Mamba; a {} has no scan", lm.config.family());
    }
    let ids: Vec<Vec<u32>> = if random {
        // random weights have no real tokenizer: texts of pseudo-random ids, as many as the books
        let (vocab, longest) = (lm.config.vocab_size() as u64, *args.lengths.iter().max().expect("non-empty"));
        (0..16u64).map(|t| (0..longest as u64).map(|i| ((i * 2_654_435_761 + t * 40_503 + 7) % vocab) as u32).collect()).collect()
    } else {
        let texts = jsonl::parse_jsonl(BOOKS, "data/eval/books.jsonl", "books")?;
        texts.iter().map(|t| lm.tokenizer.encode(&t.text)).collect::<cram_core::Result<_>>()?
    };
    let max_b = *args.batch.iter().max().expect("non-empty");
    let mut rows = Vec::new();
    let mut ids_used: Vec<Vec<u32>> = Vec::new();
    for &len in &args.lengths {
        let chosen: Vec<&Vec<u32>> = ids.iter().filter(|i| i.len() >= len).take(max_b).collect();
        if chosen.len() < max_b {
            bail!("only {} built-in texts have {len} tokens; use shorter --lengths", chosen.len());
        }
        ids_used.extend(chosen.iter().map(|i| i[..len].to_vec()));
        for &b in &args.batch {
            let jobs: Vec<TextJob> = chosen[..b]
                .iter()
                .enumerate()
                .map(|(i, ids)| TextJob { id: format!("bench{i}"), ids: ids[..len].to_vec(), seed_index: None, start: None })
                .collect();
            let cfg = CramConfig { max_steps: args.steps + 1, patience: usize::MAX, checkpoint: args.checkpoint, ..Default::default() };
            let mut clock = Clock { times: vec![] };
            cram_texts(&lm, &cfg, &jobs, b, &mut clock)?;
            if clock.times.len() < 2 {
                bail!("the text converged during the benchmark; use longer --lengths");
            }
            let spent = clock.times.last().expect("two").duration_since(clock.times[0]).as_secs_f64();
            let per_step = spent / (clock.times.len() - 1) as f64;
            errln!("length {len} batch {b}: {per_step:.4} s/step");
            rows.push(BenchRow {
                implementation: "cram",
                dtype: lm.precision.name(),
                checkpoint: args.checkpoint,
                length: len,
                batch: b,
                steps: clock.times.len() - 1,
                seconds_per_step: per_step,
                texts_steps_per_second: b as f64 / per_step,
                pytorch_seconds_per_step: None,
                speedup_vs_pytorch: None,
            });
        }
    }
    if args.reference {
        let source = if random { args.model.model.clone() } else { lm.identity.source.clone() };
        let reference = run_reference(&args, &source, &ids_used)?;
        for row in &mut rows {
            if let Some(r) = reference.iter().find(|r| r["length"] == row.length && r["batch"] == row.batch) {
                let s = r["seconds_per_step"].as_f64().unwrap_or(f64::NAN);
                row.pytorch_seconds_per_step = Some(s);
                row.speedup_vs_pytorch = Some(s / row.seconds_per_step);
            }
        }
    }
    if args.json {
        for r in &rows {
            outln!("{}", serde_json::to_string(r)?);
        }
    } else {
        outln!("{:>7} {:>6} {:>12} {:>16} {:>14} {:>10}", "length", "batch", "s/step", "texts*steps/s", "pytorch s/step", "speed-up");
        for r in &rows {
            let pt = r.pytorch_seconds_per_step.map_or("-".into(), |s| format!("{s:.4}"));
            let up = r.speedup_vs_pytorch.map_or("-".into(), |s| format!("{s:.2}x"));
            outln!("{:>7} {:>6} {:>12.4} {:>16.2} {:>14} {:>10}", r.length, r.batch, r.seconds_per_step, r.texts_steps_per_second, pt, up);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs scripts/reference/bench_reference.sh (from the current folder or `$CRAM_REPO`) on the same ids.
fn run_reference(args: &BenchArgs, model_path: &str, ids: &[Vec<u32>]) -> Result<Vec<serde_json::Value>> {
    let repo = std::env::var_os("CRAM_REPO").map(std::path::PathBuf::from).unwrap_or_else(|| ".".into());
    let script = repo.join("scripts/reference/bench_reference.sh");
    if !script.exists() {
        bail!("--reference needs {} (run from the repository root or set CRAM_REPO)", script.display());
    }
    let dir = std::env::temp_dir().join(format!("cram-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ids_file = dir.join("ids.json");
    // The token ids cram ran on, per length in the order given; the script takes, for each length,
    // the first texts that are long enough, which are the same ones.
    std::fs::write(&ids_file, serde_json::to_string(ids)?)?;
    let join = |v: &[usize]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
    let autocast = if args.reference_autocast { ", under torch.autocast bf16" } else { "" };
    errln!("running the PyTorch reference ({} threads{autocast})...", args.reference_threads);
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["--model", model_path, "--ids"])
        .arg(&ids_file)
        .args(["--lengths", &join(&args.lengths), "--batch", &join(&args.batch), "--steps", &args.steps.to_string()])
        .args(["--threads", &args.reference_threads.to_string(), "--warmup", "1"])
        .args(if args.reference_autocast { &["--autocast", "bf16"][..] } else { &[] })
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run the reference script")?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        bail!("the reference script failed ({}); see its output above", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}
