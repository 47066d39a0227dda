//! `cram decompress`: greedy decoding from the stored vectors alone, checked against the stored hash.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cram_core::format::{CramFile, write_atomic};

use crate::cli::DecompressArgs;

pub fn run(args: DecompressArgs) -> Result<ExitCode> {
    if let Some(path) = &args.output {
        super::check_output(path)?;
    }
    let file = CramFile::read(&args.file)?;
    let lm = super::load_model_or(&args.model, Some(file.precision))?;
    let text = file.decode(&lm).with_context(|| args.file.display().to_string())?;
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
