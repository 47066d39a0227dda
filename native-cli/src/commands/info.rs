//! `cram info`: what a model is and how much one vector could hold.

use std::process::ExitCode;

use anyhow::Result;
use cram_core::format::CramFile;
use cram_core::metrics::theoretical_capacity_tokens;

use crate::cli::InfoArgs;

pub fn run(args: InfoArgs) -> Result<ExitCode> {
    if let Some(path) = &args.file {
        return cram_file(path, args.json);
    }
    let started = web_time::Instant::now();
    let lm = super::load_model(&args.model)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let peak = crate::host_memory::peak_bytes();
    let c = &lm.config;
    let capacity = theoretical_capacity_tokens(c.hidden_size(), c.vocab_size(), 1);
    let info = serde_json::json!({
        "model": args.model.model,
        "family": c.family(),
        "layers": c.num_layers(),
        "d_model": c.hidden_size(),
        "vocab": c.vocab_size(),
        "context": c.max_position_embeddings(),
        "parameters": c.parameters(),
        "device": args.model.device_name(),
        "dtype": lm.precision,
        "file_dtype": lm.identity.file_dtype,
        "load_seconds": load_seconds,
        "peak_host_memory_bytes": peak,
        "theoretical_capacity_tokens": capacity,
        "config_hash": lm.identity.config_hash,
        "weights_fingerprint": lm.identity.weights_fingerprint,
        "tokenizer_fingerprint": lm.identity.tokenizer_fingerprint,
        "tokenizer_behaviour": lm.identity.tokenizer_behaviour,
    });
    if args.json {
        outln!("{info}");
    } else {
        outln!("model        {}", args.model.model);
        outln!("family       {}", c.family());
        outln!("layers       {}", c.num_layers());
        outln!("d_model      {}", c.hidden_size());
        outln!("vocab        {}", c.vocab_size());
        outln!("context      {}", c.max_position_embeddings());
        outln!("parameters   {:.1}M", c.parameters() as f64 / 1e6);
        outln!("dtype        {} on {} (file: {})", lm.precision, args.model.device_name(), lm.identity.file_dtype);
        outln!("loaded in    {load_seconds:.1} s, peak host memory {}", peak.map_or("unknown on this OS".into(), |b| format!("{:.2} GB", b as f64 / 1e9)));
        outln!("capacity     {capacity:.0} tokens per vector (d * 16 / log2 V)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `cram info FILE.cram`: the file's metadata, read without loading any model.
fn cram_file(path: &std::path::Path, json: bool) -> Result<ExitCode> {
    let f = CramFile::read(path)?;
    let holds = match &f.memory.lora {
        Some(lora) => format!("LoRA adapters of rank {} ({} tensors)", lora.rank, lora.tensors.len()),
        None => format!("{} vector(s) of {} floats", f.memory.k, f.width),
    };
    let m = &f.metrics;
    if json {
        let info = serde_json::json!({
            "file": path.display().to_string(),
            "method": f.method,
            "layout": f.layout,
            "protocol": f.protocol,
            "tokens": f.tokens,
            "mem": f.memory.k,
            "width": f.width,
            "prefix_ids": f.memory.prefix_ids,
            "given_ids": f.given_ids,
            "dtype": f.precision,
            "model": f.model,
            "text_sha256": f.text_sha256,
            "created_by": f.created_by,
            "metrics": f.metrics,
        });
        outln!("{info}");
    } else {
        outln!("file         {}", path.display());
        outln!("holds        {holds}, {} tokens of text", f.tokens);
        outln!("method       {} ({:?} layout, {:?} protocol), made in {} by {}", f.method, f.layout, f.protocol, f.precision, f.created_by);
        outln!("model        {} from {} (file dtype {})", f.model.family, f.model.source, f.model.file_dtype);
        outln!(
            "             config {}, weights {}, tokenizer {}",
            short(&f.model.config_hash),
            short(&f.model.weights_fingerprint),
            short(&f.model.tokenizer_fingerprint)
        );
        outln!(
            "result       {} steps, teacher-forced accuracy {:.4}, greedy-exact {}, information gain {:.1} bits",
            m.steps,
            m.teacher_forced_accuracy,
            m.greedy_exact,
            m.information_gain_bits
        );
        outln!("text sha256  {}", f.text_sha256);
    }
    Ok(ExitCode::SUCCESS)
}

/// The first 12 hex digits of a hash, enough for a person to compare.
fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
