//! `cram info`: what a model is and how much one vector could hold; or what a `.cram`, `.lmz` or
//! encoder file is and holds.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use cram_core::format::CramFile;
use cram_core::lmzip::LmzFile;
use cram_core::metrics::theoretical_capacity_tokens;
use cram_core::weights::safetensors::read_header;

use crate::cli::InfoArgs;

pub fn run(args: InfoArgs) -> Result<ExitCode> {
    if let Some(path) = &args.file {
        return file_info(path, args.json);
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
        "device": lm.device_name,
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
        outln!("dtype        {} on {} (file: {})", lm.precision, lm.device_name, lm.identity.file_dtype);
        outln!("loaded in    {load_seconds:.1} s, peak host memory {}", peak.map_or("unknown on this OS".into(), |b| format!("{:.2} GB", b as f64 / 1e9)));
        outln!("capacity     {capacity:.0} tokens per vector (d * 16 / log2 V)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `cram info FILE`: what a `.cram`, `.lmz` or encoder file is and holds, from its metadata alone.
fn file_info(path: &Path, json: bool) -> Result<ExitCode> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let not_ours = |why: String| anyhow!("{name} is not a .cram, .lmz, encoder or start file: {why}");
    let (_, header) = read_header(&bytes).map_err(|why| {
        // every cram file is a safetensors container; a text file is the likeliest mistake
        let head = &bytes[..bytes.len().min(256)];
        // (a character cut by the 256-byte window still counts as text)
        let valid = match std::str::from_utf8(head) {
            Ok(t) => t.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => 0,
        };
        let text = valid > 0 && !head[..valid].contains(&0);
        if bytes.is_empty() {
            not_ours("it is empty".into())
        } else if text {
            not_ours("it is plain text (to cram a text: `cram compress FILE`; to code it: `cram zip FILE`)".into())
        } else {
            not_ours(format!("no safetensors header ({why})"))
        }
    })?;
    let meta = header.metadata().clone().unwrap_or_default();
    match meta.get("format").map(String::as_str) {
        Some("cram") => cram_file(path, &bytes, json),
        Some("cram-lmz") => lmz_file(path, &bytes, json),
        Some("cram-encoder") => encoder_file(path, &meta, json),
        Some("cram-start") => start_file(path, &meta, json),
        Some(other) => Err(not_ours(format!("its metadata `format` is `{other}`"))),
        None => Err(not_ours("a safetensors file without cram's metadata (a model's weights?)".into())),
    }
}

/// `cram info FILE.lmz`.
fn lmz_file(path: &Path, bytes: &[u8], json: bool) -> Result<ExitCode> {
    let f = LmzFile::from_bytes(bytes, &path.display().to_string())?;
    if json {
        let info = serde_json::json!({
            "file": path.display().to_string(),
            "kind": "lmz",
            "tokens": f.tokens,
            "code_bits": f.code_bits(),
            "prefix_ids": f.prefix_ids,
            "backend": f.backend,
            "dtype": f.precision,
            "model": f.model,
            "text_sha256": f.text_sha256,
        });
        outln!("{info}");
    } else {
        outln!("file         {} (a text coded by the model's probabilities: `cram zip`; `cram unzip` decodes it)", path.display());
        outln!("holds        {} tokens in {} bits of code ({:.2} bits per token)", f.tokens, f.code_bits(), f.code_bits() as f64 / f.tokens.max(1) as f64);
        outln!("coded on     {} (it decodes only there: float results differ between backends)", f.backend);
        model_lines(&f.model);
        outln!("text sha256  {}", f.text_sha256);
    }
    Ok(ExitCode::SUCCESS)
}

/// `cram info enc.safetensors`: the encoder's architecture and training, from the metadata.
fn encoder_file(path: &Path, meta: &std::collections::HashMap<String, String>, json: bool) -> Result<ExitCode> {
    let name = path.display().to_string();
    let field = |k: &str| -> Result<serde_json::Value> {
        let text = meta.get(k).ok_or_else(|| anyhow!("{name}: not a valid encoder file: metadata `{k}` is missing"))?;
        serde_json::from_str(text).with_context(|| format!("{name}: not a valid encoder file: metadata `{k}`"))
    };
    let (config, model, training) = (field("config")?, field("model")?, field("training")?);
    if json {
        let info = serde_json::json!({
            "file": name,
            "kind": "encoder",
            "config": config,
            "model": model,
            "training": training,
            "created_by": meta.get("created_by"),
        });
        outln!("{info}");
    } else {
        let model: cram_core::ModelIdentity = serde_json::from_value(model).with_context(|| format!("{name}: not a valid encoder file: metadata `model`"))?;
        outln!("file         {name} (an encoder: `cram encoder train`; `cram encoder eval --encoder` tests it, `--init FILE` starts cramming from it)");
        outln!("encoder      {}", compact(&config));
        outln!(
            "training     step {} of {}, data {}, test accuracy {}",
            training["step"],
            training["total_steps"],
            training["data"].as_str().unwrap_or("?"),
            training["test_accuracy"].as_f64().map_or("not measured yet".into(), |a| format!("{a:.4}"))
        );
        model_lines(&model);
    }
    Ok(ExitCode::SUCCESS)
}

/// `cram info start.safetensors`: the recipe a learned start is for and how it was trained, from the
/// metadata.
fn start_file(path: &Path, meta: &std::collections::HashMap<String, String>, json: bool) -> Result<ExitCode> {
    let name = path.display().to_string();
    let field = |k: &str| -> Result<serde_json::Value> {
        let text = meta.get(k).ok_or_else(|| anyhow!("{name}: not a valid start file: metadata `{k}` is missing"))?;
        serde_json::from_str(text).with_context(|| format!("{name}: not a valid start file: metadata `{k}`"))
    };
    let (model, training) = (field("model")?, field("training")?);
    if json {
        outln!("{}", serde_json::json!({ "file": name, "kind": "start", "model": model, "training": training, "created_by": meta.get("created_by") }));
        return Ok(ExitCode::SUCCESS);
    }
    let model: cram_core::ModelIdentity = serde_json::from_value(model).with_context(|| format!("{name}: not a valid start file: metadata `model`"))?;
    let t: cram_core::start::StartTraining =
        serde_json::from_value(training).with_context(|| format!("{name}: not a valid start file: metadata `training`"))?;
    outln!("file         {name} (a learned start: `cram start train`; `--init FILE` starts compress, capacity and compare from it)");
    outln!("recipe       {}, {} vector(s), lr {}", t.recipe.method.name(), t.recipe.mem, t.recipe.adamw.lr);
    outln!(
        "training     {} epoch(s) of {}, {} inner steps, meta lr {}, batch {}; {} chunks of {} tokens from {} ({} held out)",
        t.epochs_done,
        t.settings.epochs,
        t.settings.inner_steps,
        t.settings.meta_lr,
        t.settings.batch,
        t.split.chunks,
        t.split.tokens,
        t.data,
        t.split.test
    );
    for s in &t.history {
        let from = if s.epoch == 0 { "random start".to_string() } else { format!("after epoch {}", s.epoch) };
        outln!("held out     {from:<16} mean {:.1} steps to greedy-exact, {:.0}% exact within {}", s.mean_steps, 100.0 * s.exact, t.settings.eval_steps);
    }
    model_lines(&model);
    Ok(ExitCode::SUCCESS)
}

/// A JSON object as `key value, ...`.
fn compact(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(o) => o.iter().map(|(k, v)| format!("{k} {}", v.as_str().map_or(v.to_string(), str::to_string))).collect::<Vec<_>>().join(", "),
        None => v.to_string(),
    }
}

/// The model lines of a file's info.
fn model_lines(m: &cram_core::ModelIdentity) {
    outln!("model        {} from {} (file dtype {})", m.family, m.source, m.file_dtype);
    outln!(
        "             config {}, weights {}, tokenizer {}",
        short(&m.config_hash),
        short(&m.weights_fingerprint),
        short(m.tokenizer_behaviour.as_deref().unwrap_or(&m.tokenizer_fingerprint))
    );
}

/// `cram info FILE.cram`: the file's metadata, read without loading any model.
fn cram_file(path: &Path, bytes: &[u8], json: bool) -> Result<ExitCode> {
    let f = CramFile::from_bytes(bytes, &path.display().to_string())?;
    let holds = match &f.memory.lora {
        Some(lora) => format!("LoRA adapters of rank {} ({} tensors)", lora.rank, lora.tensors.len()),
        None => format!("{} vector(s) of {} floats", f.memory.k, f.width),
    };
    let m = &f.metrics;
    if json {
        let info = serde_json::json!({
            "file": path.display().to_string(),
            "kind": "cram",
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
            "shared_m": f.shared_m,
            "created_by": f.created_by,
            "metrics": f.metrics,
        });
        outln!("{info}");
    } else {
        outln!("file         {} (crammed vectors: `cram compress`; `cram decompress` decodes it)", path.display());
        outln!("holds        {holds}, {} tokens of text", f.tokens);
        outln!("method       {} ({:?} layout, {:?} protocol), made in {} by {}", f.method, f.layout, f.protocol, f.precision, f.created_by);
        if let Some(start) = &f.shared_m {
            outln!("shared m     from the learned start {} (held in the file too: it decodes alone)", short(start));
        }
        model_lines(&f.model);
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
