//! `cram decompress`: greedy decoding from the stored vectors alone, checked against the stored hash
//! (or, with `--partial`, shown whatever it is).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cram_core::aliases::{ALIASES, DEFAULT_MODEL, alias_path};
use cram_core::format::{CramFile, text_sha256, write_atomic};

use crate::cli::{DecompressArgs, ModelArgs};

pub fn run(args: DecompressArgs) -> Result<ExitCode> {
    if let Some(path) = &args.output {
        super::check_output(path)?;
    }
    let file = CramFile::read(&args.file)?;
    let model = match &args.model {
        Some(m) => m.clone(),
        None => model_of(&file)?,
    };
    let model_args = ModelArgs { model, device: args.device, dtype: args.dtype };
    let lm = super::load_model_or(&model_args, Some(file.precision))?;
    let what = args.file.display().to_string();
    let (passes, started) = (cram_core::decode::forward_passes(), std::time::Instant::now());
    let (text, exact) = if args.partial {
        let ids = file.decode_ids(&lm).with_context(|| what.clone())?;
        let text = lm.tokenizer.decode(&ids)?;
        let exact = text_sha256(&text) == file.text_sha256;
        if !exact {
            errln!("{what}: the decoded text is not the crammed one (its sha256 differs); it is printed as decoded");
            if let Some(original) = &args.text {
                errln!("{}", marked(&lm, &ids, &super::read_text(original)?)?);
            }
        }
        (text, exact)
    } else {
        (file.decode(&lm).with_context(|| what.clone())?, true)
    };
    let (seconds, passes) = (started.elapsed().as_secs_f64(), cram_core::decode::forward_passes() - passes);
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes())?,
        None if !args.json => super::print_text(text.as_bytes())?,
        None => {}
    }
    if args.json {
        // the decoding alone (the model loaded before): one pass for one-pass, one per token else
        let line = serde_json::json!({
            "file": what, "method": file.method, "tokens": file.tokens, "exact": exact,
            "forward_passes": passes, "decode_seconds": seconds, "device": lm.device_name, "dtype": lm.precision.name(),
            "text": if args.output.is_none() { Some(&text) } else { None },
        });
        outln!("{line}");
    }
    Ok(if exact { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The model a file names: the alias or hub id it was loaded by, found from where it was loaded
/// (an alias's file in cram's cache, a snapshot in the Hugging Face cache); the default model for a
/// file made with it. A file made with a local path is an error that names it.
fn model_of(file: &CramFile) -> Result<String> {
    let source = Path::new(&file.model.source);
    if let Some((alias, _, _)) = ALIASES.iter().find(|(a, _, _)| alias_path(a).is_some_and(|p| p == source)) {
        return Ok(alias.to_string());
    }
    // `<hub cache>/models--owner--name/snapshots/<commit>`
    let hub = source.components().filter_map(|c| c.as_os_str().to_str()).find_map(|c| c.strip_prefix("models--")?.split_once("--"));
    if let Some((owner, name)) = hub {
        return Ok(format!("{owner}/{name}"));
    }
    let default = alias_path(DEFAULT_MODEL).is_some_and(|p| p.file_name() == source.file_name());
    if default {
        return Ok(DEFAULT_MODEL.to_string());
    }
    bail!("this file was made with the model at `{}`; pass that model (or the same model in another format) with --model", file.model.source)
}

/// The decoded tokens with those that differ from `original`'s marked `[decoded|crammed]`, and how
/// many agree.
fn marked(lm: &cram_core::LoadedModel, ids: &[u32], original: &str) -> Result<String> {
    let want = lm.tokenizer.encode(original)?;
    let piece = |id: u32| lm.tokenizer.decode(&[id]).unwrap_or_else(|_| format!("<{id}>"));
    let mut out = String::new();
    let mut right = 0;
    for (i, &id) in ids.iter().enumerate() {
        match want.get(i) {
            Some(&w) if w == id => {
                right += 1;
                out += &piece(id);
            }
            Some(&w) => out += &format!("[{}|{}]", piece(id), piece(w)),
            None => out += &format!("[{}|]", piece(id)),
        }
    }
    Ok(format!("{right} of {} tokens as crammed; the others as [decoded|crammed]:\n{out}", ids.len()))
}
