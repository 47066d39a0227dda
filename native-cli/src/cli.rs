//! The command line, as clap derive structs: raw flags here, checked values in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Cram a text into a few input vectors of a frozen language model, and get it back.
#[derive(Debug, Parser)]
#[command(name = "cram", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a model's family, size and the theoretical capacity of one vector.
    Info(InfoArgs),
    /// Score a text with the model alone: NLL and next-token accuracy.
    Score(ScoreArgs),
    /// Compress a text into K vectors and write a .cram file.
    Compress(CompressArgs),
    /// Decode a .cram file back into its text.
    Decompress(DecompressArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Wgpu,
    Cuda,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A .gguf file, a Hugging Face folder, a hub id (owner/name[@revision]) or an alias.
    #[arg(long, short, default_value = cram_core::load::DEFAULT_MODEL)]
    pub model: String,
    /// Where to compute.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The text file (`-` = standard input).
    #[arg(long)]
    pub text: PathBuf,
    /// Score only the first N tokens.
    #[arg(long)]
    pub tokens: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LayoutArg {
    /// [mem, text]: the paper's layout.
    Paper,
    /// [sink token, mem, text]: frees the vectors from being the attention sink.
    Sink,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProtocolArg {
    /// Greedy decoding from the vectors alone gives back every token, the first included.
    Greedy,
    /// The paper's: the first token is given; teacher-forced accuracy >= 0.99 is success.
    Paper,
}

/// The recipe; defaults are the paper's.
#[derive(Debug, Args)]
pub struct RecipeArgs {
    /// Number of memory vectors K.
    #[arg(long, default_value_t = 1)]
    pub mem: usize,
    /// Success criterion.
    #[arg(long, value_enum, default_value = "greedy")]
    pub protocol: ProtocolArg,
    /// Input layout (default: sink for the greedy protocol, paper for the paper protocol).
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 1e-2)]
    pub lr: f64,
    /// AdamW beta1.
    #[arg(long, default_value_t = 0.9)]
    pub beta1: f64,
    /// AdamW beta2.
    #[arg(long, default_value_t = 0.9)]
    pub beta2: f64,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// AdamW epsilon.
    #[arg(long, default_value_t = 1e-8)]
    pub eps: f64,
    /// Most optimiser steps per text.
    #[arg(long, default_value_t = 5000)]
    pub max_steps: usize,
    /// Give up after this many steps without a better accuracy.
    #[arg(long, default_value_t = 2000)]
    pub patience: usize,
    /// Standard deviation of the initial vectors (default: that of the embedding matrix).
    #[arg(long)]
    pub init_std: Option<f32>,
    /// Seed of the initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The text file (`-` = standard input).
    #[arg(long)]
    pub text: PathBuf,
    /// Compress only the first N tokens.
    #[arg(long)]
    pub tokens: Option<usize>,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Output file (default: the text file's name with .cram, or text.cram for standard input).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DecompressArgs {
    /// The .cram file.
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Write the text here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}
