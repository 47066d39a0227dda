//! `cram plan`: the memory of one optimiser step, from the architecture alone, and whether it fits.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cram_core::ModelConfig;
use cram_core::methods::Method;
use cram_core::plan::{MemoryPlan, PlanRequest, plan};

use crate::cli::{LayoutArg, PlanArgs};

/// The architecture of `spec`: a `config.json`, a folder holding one, a `.gguf` file (its metadata
/// only; no tensor is read) or an alias such as `smollm2-135m`.
fn config_of(spec: &str) -> Result<ModelConfig> {
    let alias = cram_core::aliases::alias_path(spec);
    let path = alias.as_deref().unwrap_or(Path::new(spec));
    let path = if path.is_dir() { path.join("config.json") } else { path.to_path_buf() };
    if !path.exists() {
        bail!("{}: no such file (cram plan takes a config.json, a model folder or a .gguf file)", path.display());
    }
    if path.extension().is_some_and(|e| e == "gguf") {
        let gguf = cram_core::load::gguf_checkpoint::GgufCheckpoint::open(&path)?;
        return Ok(gguf.config()?);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    ModelConfig::from_json(&text).with_context(|| format!("{} is not a model config", path.display()))
}

/// Memory this machine has available, from /proc/meminfo (Linux).
fn available_ram() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

pub fn run(args: PlanArgs) -> Result<ExitCode> {
    let config = config_of(&args.model)?;
    let method = Method::with_defaults(args.method.0.as_str(), args.rank)?;
    let mem = if method.uses_vectors() { args.mem } else { 0 };
    let prefix = match args.layout {
        LayoutArg::Sink => 1,
        LayoutArg::Paper => 0,
    };
    let request = PlanRequest { tokens: args.tokens, mem, prefix, batch: args.batch, dtype: args.dtype.parse()?, method };
    let p: MemoryPlan = plan(&config, &request)?;
    let (budget, source) = match args.device_memory {
        Some(g) => (Some((g * 1e9) as u64), "--device-memory"),
        None => (available_ram(), "available RAM"),
    };
    let fits = |total: u64| budget.map(|b| total <= b);
    if args.json {
        let mut v = serde_json::to_value(&p)?;
        v["model"] = args.model.clone().into();
        v["tokens"] = args.tokens.into();
        v["batch"] = args.batch.into();
        v["dtype"] = args.dtype.clone().into();
        v["budget_bytes"] = budget.into();
        v["fits"] = fits(p.total_bytes).into();
        v["fits_checkpointed"] = fits(p.total_checkpointed_bytes).into();
        outln!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} ({}, {} layers, d {}), {} tokens x {} text(s), {} weights and activations",
        args.model,
        config.family(),
        config.num_layers(),
        config.hidden_size(),
        args.tokens,
        args.batch,
        args.dtype
    );
    outln!("  positions per text      {}", p.positions);
    outln!("  weights                 {}", gb(p.weights_bytes));
    outln!("  activations             {}  (checkpointed per layer: {})", gb(p.activations_bytes), gb(p.activations_checkpointed_bytes));
    outln!("  logits and CE (f32)     {}", gb(p.logits_bytes));
    outln!("  optimiser (f32, host)   {}", gb(p.optimizer_bytes));
    outln!("  total                   {}  (checkpointed: {})", gb(p.total_bytes), gb(p.total_checkpointed_bytes));
    match budget {
        Some(b) => {
            let word = |f: Option<bool>| if f == Some(true) { "fits" } else { "does not fit" };
            outln!("  {} ({source}): {} without checkpointing, {} with", gb(b), word(fits(p.total_bytes)), word(fits(p.total_checkpointed_bytes)));
        }
        None => outln!("  give --device-memory GB to check whether it fits"),
    }
    Ok(ExitCode::SUCCESS)
}
