//! `cram zip` / `cram unzip`: a text coded losslessly by the model's next-token probabilities
//! (`cram_core::lmzip`), and what that costs in bits beside the raw text.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cram_core::format::write_atomic;
use cram_core::lmzip::{self, LmzFile};
use cram_core::methods::sink_token;

use crate::cli::{UnzipArgs, ZipArgs};

/// The bytes of a file, or of standard input for `-`: any bytes (a byte-level BPE codes them all),
/// but not none.
fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>> {
    let stdin = path.as_os_str() == "-";
    let bytes = if stdin {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).context("cannot read standard input")?;
        b
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    if bytes.is_empty() {
        bail!("{}: the text is empty", if stdin { "standard input".into() } else { path.display().to_string() });
    }
    Ok(bytes)
}

pub fn zip(args: ZipArgs) -> Result<ExitCode> {
    let text = read_bytes(&args.file)?;
    let output = match &args.output {
        Some(o) => o.clone(),
        None if args.file.as_os_str() == "-" => PathBuf::from("stdin.lmz"),
        None => PathBuf::from(format!("{}.lmz", args.file.display())),
    };
    super::check_output(&output)?;
    let lm = super::load_model(&args.model)?;
    let ids = lm.tokenizer.encode_bytes(&text).with_context(|| args.file.display().to_string())?;
    let started = web_time::Instant::now();
    let file = lmzip::compress(&lm, &[sink_token(&lm)?], &ids, &lm.device_name)?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes = file.to_bytes()?;
    write_atomic(&output, &bytes)?;
    let raw_bits = text.len() * 8;
    let code_bytes = file.code_bits().div_ceil(8);
    let report = serde_json::json!({
        "file": output.display().to_string(),
        "tokens": ids.len(),
        "text_bytes": text.len(),
        "utf8": std::str::from_utf8(&text).is_ok(),
        "code_bits": file.code_bits(),
        "file_bytes": bytes.len(),
        "bits_per_token": file.code_bits() as f64 / ids.len() as f64,
        "compression_ratio": raw_bits as f64 / file.code_bits() as f64,
        "file_ratio": text.len() as f64 / bytes.len() as f64,
        "seconds": seconds,
        "backend": file.backend,
    });
    if args.json {
        outln!("{report}");
    } else {
        // The file against the text, plainly; then the code alone (what the model's probabilities
        // cost, without the file's metadata).
        let file_vs_text = if bytes.len() <= text.len() {
            format!("{:.1}x smaller than the text", text.len() as f64 / bytes.len() as f64)
        } else {
            format!("{:.1}x larger than the text: the metadata outweighs a short text", bytes.len() as f64 / text.len() as f64)
        };
        outln!("wrote {}: {} bytes, the text {} bytes ({} tokens): the file is {file_vs_text}", output.display(), bytes.len(), text.len(), ids.len());
        let code_vs_text = if file.code_bits() <= raw_bits {
            format!("{:.1}x smaller than the text", raw_bits as f64 / file.code_bits() as f64)
        } else {
            format!("{:.1}x larger than the text", file.code_bits() as f64 / raw_bits as f64)
        };
        outln!(
            "code alone  {} bits ({code_bytes} bytes) = {:.2} bits/token, {code_vs_text}; {:.1}s",
            file.code_bits(),
            file.code_bits() as f64 / ids.len() as f64,
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
    let text = lmzip::decompress_bytes(&lm, &file).with_context(|| args.file.display().to_string())?;
    match &args.output {
        Some(path) => write_atomic(path, &text)?,
        None => super::print_text(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}
