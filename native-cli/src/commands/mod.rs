//! One module per subcommand (the crate root dispatches to them), and what they share: loading the
//! model, checking an output path, reading the text.

pub mod bench;
pub mod capacity;
pub mod compare;
pub mod compress;
pub mod data;
pub mod decompress;
pub mod encoder;
pub mod info;
pub mod plan;
pub mod reproduce;
pub mod score;
pub mod start;
pub mod zip;

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use cram_core::LoadedModel;
use cram_core::device::{DeviceChoice, Precision};

use crate::cli::{DeviceArg, DtypeArg, ModelArgs};
use crate::model::Model;

/// Loads the model named by `--model` on `--device`, its weights in `--dtype` (default: the device's,
/// see [`Precision::default_for`]).
pub fn load_model(args: &ModelArgs) -> Result<Model> {
    load_model_or(args, None)
}

/// [`load_model`], with `fallback` as the dtype when `--dtype` is not given (decompression decodes in
/// the dtype the file was made in).
pub fn load_model_or(args: &ModelArgs, fallback: Option<Precision>) -> Result<Model> {
    load_on_device(args, fallback, |device, precision| {
        LoadedModel::load_as(&args.model, device, precision).with_context(|| format!("cannot load model `{}`", args.model))
    })
}

/// Random weights of the architecture of the config.json `args.model` names, on its device.
pub fn random_model(args: &ModelArgs) -> Result<Model> {
    let text = std::fs::read_to_string(&args.model).with_context(|| format!("cannot read {}", args.model))?;
    let config = cram_core::ModelConfig::from_json(&text).with_context(|| format!("{} is not a model's config.json", args.model))?;
    config.validate().with_context(|| format!("cannot build {}", args.model))?;
    load_on_device(args, None, |device, precision| {
        LoadedModel::random(config, device, precision).with_context(|| format!("cannot build random weights for {}", args.model))
    })
}

/// `load` on the device `--device` names, in the dtype for it (`--dtype`, else `fallback`, else
/// the device's default).
fn load_on_device<F>(args: &ModelArgs, fallback: Option<Precision>, load: F) -> Result<Model>
where
    F: FnOnce(&cram_core::device::Device, Precision) -> Result<LoadedModel>,
{
    let choice = match args.device {
        DeviceArg::Cpu => DeviceChoice::Cpu,
        DeviceArg::Wgpu => DeviceChoice::Wgpu,
        DeviceArg::Cuda => DeviceChoice::Cuda,
    };
    let device = choice.device()?;
    let precision = match args.dtype {
        Some(DtypeArg::F32) => Precision::F32,
        Some(DtypeArg::Bf16) => Precision::Bf16,
        Some(DtypeArg::F16) => Precision::F16,
        None => fallback.unwrap_or_else(|| Precision::default_for(&device)),
    };
    Ok(Model::new(load(&device, precision)?, args.device_name()))
}

/// Checks, before any work, that a file can be written at `path`: its folder exists and takes a new
/// file, and `path` is no folder. (The file itself is written at the end, atomically.)
pub fn check_output(path: &Path) -> Result<()> {
    let shown = path.display();
    if path.is_dir() {
        bail!("cannot write {shown}: it is a folder");
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("cannot write {shown}: there is no folder {}", dir.display());
    }
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().to_string());
    let probe = dir.join(format!(".{name}.check-{}", std::process::id()));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&probe).with_context(|| format!("cannot write {shown}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes a decoded text to standard output as it is; on a terminal, a newline after a text that has
/// none, so that the shell's prompt does not run on from it (a pipe or a file gets the exact bytes).
pub fn print_text(bytes: &[u8]) -> Result<()> {
    use std::io::{IsTerminal, Write};
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    if out.is_terminal() && !bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Reads a text file, or standard input for `-`; an empty text is an error.
pub fn read_text(path: &Path) -> Result<String> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read standard input")?;
        s
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))?
    };
    if text.trim().is_empty() {
        bail!("{}: the text is empty", if path.as_os_str() == "-" { "standard input".into() } else { path.display().to_string() });
    }
    Ok(text)
}

/// The ids of `text`, cut to `--tokens` when given (more tokens than the text has is an error).
pub fn tokens_of(lm: &LoadedModel, text: &str, tokens: Option<usize>) -> Result<Vec<u32>> {
    use cram_core::data::TargetError;
    cram_core::data::target_ids(lm, text, tokens).map_err(|e| match e {
        TargetError::Empty => anyhow!("the text is empty"),
        TargetError::ZeroTokens => anyhow!("--tokens must be at least 1"),
        TargetError::MoreThanText { asked, has } => anyhow!("--tokens {asked} is more than the text has ({has} tokens)"),
        TargetError::OverContext { tokens, context } => anyhow!("the text has {tokens} tokens; the model's context is {context}; pass --tokens"),
        TargetError::Tokenizer(e) => anyhow!(e),
    })
}
