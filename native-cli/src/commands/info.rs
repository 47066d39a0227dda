//! `cram info`: what a model is and how much one vector could hold.

use std::process::ExitCode;

use anyhow::Result;
use cram_core::metrics::theoretical_capacity_tokens;

use crate::cli::InfoArgs;

pub fn run(args: InfoArgs) -> Result<ExitCode> {
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
        outln!(
            "loaded in    {load_seconds:.1} s, peak host memory {}",
            peak.map_or("unknown on this OS".into(), |b| format!("{:.2} GB", b as f64 / 1e9))
        );
        outln!("capacity     {capacity:.0} tokens per vector (d * 16 / log2 V)");
    }
    Ok(ExitCode::SUCCESS)
}
