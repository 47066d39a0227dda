//! One function per subcommand, and what they share: loading the model, reading the text.

mod bench;
mod capacity;
mod compare;
mod compress;
mod data;
mod decompress;
mod encoder;
mod info;
mod plan;
mod reproduce;
mod score;
mod zip;

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use cram_core::LoadedModel;
use cram_core::device::{DeviceChoice, Precision};

use crate::cli::{Cli, Command, DeviceArg, DtypeArg, ModelArgs};

/// Runs the subcommand.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Info(a) => info::run(a),
        Command::Score(a) => score::run(a),
        Command::Compress(a) => compress::run(a),
        Command::Decompress(a) => decompress::run(a),
        Command::Zip(a) => zip::zip(a),
        Command::Unzip(a) => zip::unzip(a),
        Command::Capacity(a) => capacity::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Merge(a) => capacity::merge(a),
        Command::Bench(a) => bench::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Data(a) => data::run(a),
        Command::Reproduce(a) => reproduce::run(a),
        Command::Encoder(c) => encoder::run(c),
    }
}

/// Loads the model named by `--model` on `--device`, its weights in `--dtype` (default: the device's,
/// see [`Precision::default_for`]).
pub fn load_model(args: &ModelArgs) -> Result<LoadedModel> {
    load_model_or(args, None)
}

/// [`load_model`], with `fallback` as the dtype when `--dtype` is not given (decompression decodes in
/// the dtype the file was made in).
pub fn load_model_or(args: &ModelArgs, fallback: Option<Precision>) -> Result<LoadedModel> {
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
    LoadedModel::load_as(&args.model, &device, precision).with_context(|| format!("cannot load model `{}`", args.model))
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
