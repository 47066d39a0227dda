//! `cram decompress`: greedy decoding from the stored vectors alone, checked against the stored hash.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use cram_core::format::{CramFile, text_sha256, write_atomic};
use cram_core::optim::trainer::decode_text;

use crate::cli::DecompressArgs;

pub fn run(args: DecompressArgs) -> Result<ExitCode> {
    let file = CramFile::read(&args.file)?;
    let lm = super::load_model(&args.model)?;
    file.check_model(&lm.identity)?;
    if file.memory.k > 0 && file.width != lm.config.hidden_size() {
        bail!("{}: vectors of width {} do not fit a model of width {}", args.file.display(), file.width, lm.config.hidden_size());
    }
    let ids = decode_text(&lm, &file.memory, &file.given_ids, file.tokens, None)?;
    let text = lm.tokenizer.decode(&ids)?;
    if text_sha256(&text) != file.text_sha256 {
        bail!(
            "{}: the decoded text does not match the stored sha256: the vectors do not reproduce the text (was it crammed completely? compress reports greedy-exact)",
            args.file.display()
        );
    }
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
