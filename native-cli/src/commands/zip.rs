//! `cram zip` / `cram unzip`: a text coded losslessly by the model's next-token probabilities
//! (`cram_core::lmzip`), and what that costs in bits beside the raw text.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cram_core::format::write_atomic;
use cram_core::lmzip::{self, LmzFile};
use cram_core::methods::sink_token;

use crate::cli::{UnzipArgs, ZipArgs};

pub fn zip(args: ZipArgs) -> Result<ExitCode> {
    let text = super::read_text(&args.file)?;
    let output = match &args.output {
        Some(o) => o.clone(),
        None if args.file.as_os_str() == "-" => PathBuf::from("stdin.lmz"),
        None => PathBuf::from(format!("{}.lmz", args.file.display())),
    };
    super::check_output(&output)?;
    let lm = super::load_model(&args.model)?;
    let ids = lm.tokenizer.encode(&text)?;
    let started = web_time::Instant::now();
    let file = lmzip::compress(&lm, &[sink_token(&lm)?], &ids, &args.model.device_name())?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes = file.to_bytes()?;
    write_atomic(&output, &bytes)?;
    let raw_bits = text.len() * 8;
    let report = serde_json::json!({
        "file": output.display().to_string(),
        "tokens": ids.len(),
        "text_bytes": text.len(),
        "code_bits": file.code_bits(),
        "file_bytes": bytes.len(),
        "bits_per_token": file.code_bits() as f64 / ids.len() as f64,
        "compression_ratio": raw_bits as f64 / file.code_bits() as f64,
        "seconds": seconds,
        "backend": file.backend,
    });
    if args.json {
        outln!("{report}");
    } else {
        outln!(
            "wrote {} ({} tokens, {} bytes of text): code {} bits = {:.2} bits/token, {:.1}x smaller than the UTF-8 text ({} bytes with metadata), {:.1}s",
            output.display(),
            ids.len(),
            text.len(),
            file.code_bits(),
            file.code_bits() as f64 / ids.len() as f64,
            raw_bits as f64 / file.code_bits() as f64,
            bytes.len(),
            seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn unzip(args: UnzipArgs) -> Result<ExitCode> {
    if let Some(path) = &args.output {
        super::check_output(path)?;
    }
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let file = LmzFile::from_bytes(&bytes, &args.file.display().to_string())?;
    let lm = super::load_model_or(&args.model, Some(file.precision))?;
    let text = lmzip::decompress(&lm, &file).with_context(|| args.file.display().to_string())?;
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes())?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
