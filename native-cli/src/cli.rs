//! The command line, as clap derive structs: raw flags here, checked values in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cram_core::methods::{CramConfig, MethodName};
use cram_core::optim::adamw::AdamWConfig;

/// Cram a text into a few input vectors of a frozen language model, and get it back.
#[derive(Debug, Parser)]
#[command(name = "cram", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a model's family, size and the theoretical capacity of one vector; or, given a .cram,
    /// .lmz, encoder or start file, what it is, what it holds and what made it.
    Info(InfoArgs),
    /// Score a text with the model alone: NLL and next-token accuracy.
    Score(ScoreArgs),
    /// Compress a text into K vectors and write a .cram file.
    Compress(CompressArgs),
    /// Decode a .cram file back into its text.
    Decompress(DecompressArgs),
    /// Compress a text losslessly with the model's own next-token probabilities (LM arithmetic
    /// coding, as LLMZip): the yardstick in bits for a crammed vector.
    Zip(ZipArgs),
    /// Decode a .lmz file made by `cram zip`.
    Unzip(UnzipArgs),
    /// Cram many texts at many lengths (and vector counts): the capacity table and plots.
    Capacity(CapacityArgs),
    /// Run every method on the same texts: one table of capacity, gains, steps, time and parameters.
    Compare(CompareArgs),
    /// Join results files of a sharded sweep, dropping duplicates.
    Merge(MergeArgs),
    /// Time optimiser steps per length and batch size, optionally against PyTorch.
    Bench(BenchArgs),
    /// The memory of one optimiser step from the model's config alone, and whether it fits.
    Plan(PlanArgs),
    /// Make evaluation texts: book chunks or random words.
    #[command(subcommand)]
    Data(DataCommand),
    /// Run the papers' protocols on the shipped data for the default model: measured against
    /// expected values with tolerance bands (data/reproduce/expected.json); run from the repository root.
    Reproduce(ReproduceArgs),
    /// Train and test encoders that write a text's vectors in one pass (the AE/VAE of the AIRI
    /// follow-up); `--init enc.safetensors` starts cramming from their vectors.
    #[command(subcommand)]
    Encoder(EncoderCommand),
    /// Meta-train a start (Reptile over many texts) from which a new text crams in a few steps;
    /// `--init start.safetensors` starts compress, capacity and compare from it.
    #[command(subcommand)]
    Start(StartCommand),
}

#[derive(Debug, Subcommand)]
pub enum StartCommand {
    /// Meta-train a start for a recipe on chunks of texts (a seeded train/test split), measuring
    /// the held-out chunks' steps to greedy-exact after every epoch; the output file is also the
    /// checkpoint: Ctrl-C keeps it, --resume continues it.
    Train(StartTrainArgs),
}

#[derive(Debug, Args)]
pub struct StartTrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The recipe the start is for (method, vectors, layout, learning rate of the inner steps, ...).
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Texts: a text file, a folder of .txt files (books), JSON Lines or a parquet table with a
    /// `text` field; each is cut into consecutive chunks of --tokens tokens.
    #[arg(long)]
    pub data: PathBuf,
    /// The field of each JSON record that holds its text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Tokens per chunk.
    #[arg(long, default_value_t = 32)]
    pub tokens: usize,
    /// Chunks used in all (shuffled with --seed), of which --test-fraction are held out.
    #[arg(long, default_value_t = 256)]
    pub chunks: usize,
    /// The share of chunks held out, measured after every epoch.
    #[arg(long, default_value_t = 0.0625)]
    pub test_fraction: f64,
    /// Steps each chunk takes from the start per outer step (Reptile's inner loop).
    #[arg(long, default_value_t = 10)]
    pub inner_steps: usize,
    /// How far the start moves toward the chunks' trained values after each batch (Reptile's
    /// epsilon; 1 moves it all the way).
    #[arg(long, default_value_t = 0.1)]
    pub meta_lr: f64,
    /// Chunks per outer step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Passes over the training chunks (default 4; with --resume, the saved run's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Most steps per held-out chunk when the start is measured.
    #[arg(long, default_value_t = 100)]
    pub eval_steps: usize,
    /// The start file (safetensors), written after every epoch and on Ctrl-C.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the training saved in --out (its recipe, split and settings; --epochs may extend it).
    #[arg(long)]
    pub resume: bool,
    /// One JSON line per epoch instead of the text lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EncoderCommand {
    /// Train an encoder on chunks of texts (a seeded train/test split), with progress; the output
    /// file is also the checkpoint: Ctrl-C keeps it, --resume continues it.
    Train(EncoderTrainArgs),
    /// Test an encoder on the chunks its training held out: teacher-forced and greedy accuracy
    /// with the field names of every method's results (--out appends them to a results file, so
    /// `cram compare` and `cram merge --table` list the encoder beside the methods).
    Eval(EncoderEvalArgs),
}

#[derive(Debug, Args)]
pub struct EncoderTrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Texts: a text file, a folder of .txt files (books), JSON Lines or a parquet table with a
    /// `text` field; each is cut into consecutive chunks of --tokens tokens.
    #[arg(long)]
    pub data: PathBuf,
    /// The field of each JSON record that holds its text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Tokens per chunk, N.
    #[arg(long)]
    pub tokens: usize,
    /// Chunks used in all (shuffled with --seed), of which --test-fraction are held out.
    #[arg(long, default_value_t = 1000)]
    pub chunks: usize,
    /// The share of chunks held out for testing (AIRI: 8:2).
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// ae (the head writes the vectors) or vae (mu and log sigma², sampled, plus beta·KL).
    #[arg(long, value_enum, default_value = "ae")]
    pub kind: EncoderKindArg,
    /// Linear layers of the head (AIRI: 1 or 4).
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Regularise the head: BatchNorm on its hidden layers and Dropout (--dropout).
    #[arg(long)]
    pub reg: bool,
    /// How the encoder's states become one vector: last (token), mean, or attention (a learned query).
    #[arg(long, value_enum, default_value = "mean")]
    pub pooling: PoolingArg,
    /// Rank of the LoRA adapters (on every projection) the encoder's copy of the model trains;
    /// the default adaptation, rank 8.
    #[arg(long, conflicts_with = "encoder_full")]
    pub encoder_lora: Option<usize>,
    /// Train a full-rank update of every projection instead (full fine-tuning of the linear
    /// layers; for small models).
    #[arg(long)]
    pub encoder_full: bool,
    /// Vectors written per text, K.
    #[arg(long, default_value_t = 1)]
    pub mem: usize,
    /// The weight of the VAE's KL term (added to the mean cross-entropy per token); default 1e-3.
    #[arg(long)]
    pub beta: Option<f64>,
    /// Dropout probability with --reg.
    #[arg(long, default_value_t = 0.1)]
    pub dropout: f64,
    /// AdamW learning rate (constant).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Chunks per step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Passes over the training chunks (default 10; with --resume, the saved run's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seed of the split, the initialisation, the batches and the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The encoder file (safetensors), written after every epoch and on Ctrl-C.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the training saved in --out (its architecture, split and settings; --epochs may
    /// extend it).
    #[arg(long)]
    pub resume: bool,
    /// One JSON line per epoch instead of the text lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EncoderEvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The encoder file.
    #[arg(long)]
    pub encoder: PathBuf,
    /// The texts training split (default: the --data recorded in the encoder file); the test
    /// chunks are made again and checked against the file's record of them.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Chunks encoded at once.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Append one result line per test chunk to this results file (the format of `cram capacity`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How the table is printed: text (80 columns), wide (every column), md, csv or json.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::report::Format,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EncoderKindArg {
    /// Autoencoder.
    Ae,
    /// Variational autoencoder.
    Vae,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PoolingArg {
    /// The last token's state.
    Last,
    /// The mean over the tokens.
    Mean,
    /// Attention with a learned query.
    Attention,
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Only the checks that finish in minutes.
    #[arg(long)]
    pub quick: bool,
    /// Where the runs write their results (resumed when run again).
    #[arg(long, default_value = "results/reproduce")]
    pub out: PathBuf,
    /// Other expectations than the shipped ones (the same JSON layout).
    #[arg(long)]
    pub expectations: Option<PathBuf>,
    /// One JSON line per measure instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub texts: TextsArgs,
    /// Text lengths in tokens.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128")]
    pub lengths: Vec<usize>,
    /// Texts per length.
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    #[command(flatten)]
    pub run: SweepRunArgs,
    /// Run only slice i of n (0-based), e.g. 3/8 for one job of a SLURM array.
    #[arg(long)]
    pub shard: Option<String>,
    #[command(flatten)]
    pub recipe: RecipeArgs,
}

/// How a sweep runs and where its results go.
#[derive(Debug, Args)]
pub struct SweepRunArgs {
    /// Texts optimised at once.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Results file (JSON lines); an existing file is resumed.
    #[arg(long)]
    pub out: PathBuf,
    /// Write SVG plots into this folder.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// How the table is printed: text (80 columns), wide (the text table with every column), md
    /// (Markdown), csv or json (one row per line); means come
    /// with their 95 % confidence half-width.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::report::Format,
    /// Results of the same method made otherwise (another model, recipe, dtype or device) already
    /// in --out: keep both, as separate groups of the tables and plots, instead of refusing.
    #[arg(long)]
    pub separate: bool,
}

/// Where the texts of a sweep come from.
#[derive(Debug, Args)]
pub struct TextsArgs {
    /// Texts: a text file, a folder of .txt files, JSON Lines (.jsonl or .json; a .json array too)
    /// or a parquet table (.parquet, as Hugging Face `datasets` write them), with a `text` field.
    #[arg(long, required_unless_present = "random_words")]
    pub data: Option<PathBuf>,
    /// The field of each JSON record that holds its text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Instead of --data: random-word texts drawn from this word list (one word per line).
    #[arg(long, conflicts_with = "data")]
    pub random_words: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub texts: TextsArgs,
    /// Text lengths in tokens.
    #[arg(long = "tokens", value_delimiter = ',', default_value = "16,32")]
    pub lengths: Vec<usize>,
    /// Texts per length.
    #[arg(long, default_value_t = 4)]
    pub samples: usize,
    /// The methods to run, each on the same texts.
    #[arg(long, value_enum, value_delimiter = ',', default_value = ALL_METHODS.as_str())]
    pub methods: Vec<MethodArg>,
    /// Encoder files (`cram encoder train`) to list beside the methods: each text at each length
    /// through the encoder alone (no step), as `encoder-ae` / `encoder-vae` lines.
    #[arg(long, value_delimiter = ',')]
    pub encoders: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub run: SweepRunArgs,
    /// Run only slice i of n (0-based) of every method's runs, e.g. 3/8 for one job of a SLURM
    /// array; `cram merge` joins the shards' files.
    #[arg(long)]
    pub shard: Option<String>,
    /// The recipe; --method is ignored (see --methods), --rank applies to lowdim and lora.
    #[command(flatten)]
    pub recipe: RecipeArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results files to join.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The joined file.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Print the table of the joined results.
    #[arg(long)]
    pub table: bool,
    /// How --table prints: text (80 columns), wide (every column), md, csv or json.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::report::Format,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The model (as everywhere), or a config.json file: random weights of its architecture (speed and
    /// memory at a real model's shapes, nothing downloaded; the texts are then random token ids).
    #[command(flatten)]
    pub model: ModelArgs,
    /// Mamba's scan: in chunks (the default) or one position at a time (transformers' slow path).
    #[arg(long, value_enum, default_value = "chunked")]
    pub scan: ScanArg,
    /// Text lengths in tokens.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    pub lengths: Vec<usize>,
    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub batch: Vec<usize>,
    /// Timed steps per configuration (after one untimed warm-up step).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Also run the PyTorch + transformers reference (scripts/reference/bench_reference.sh) and print the ratio.
    #[arg(long)]
    pub reference: bool,
    /// Threads of the reference (PyTorch) run.
    #[arg(long, default_value_t = 1)]
    pub reference_threads: usize,
    /// Run the reference's forward pass under `torch.autocast("cpu", torch.bfloat16)`: PyTorch's own
    /// bf16 on the CPU, beside `--dtype bf16`.
    #[arg(long, requires = "reference")]
    pub reference_autocast: bool,
    /// Time steps with per-layer activation checkpointing (one more forward pass per step).
    #[arg(long)]
    pub checkpoint: bool,
    /// Print JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// How a Mamba runs its selective scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanArg {
    /// Chunks of cumulative sums: a number of tensor operations that does not grow with the text.
    Chunked,
    /// One position at a time, as transformers' pure-PyTorch path.
    Sequential,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A config.json, a model folder, a .gguf file (metadata only) or an alias.
    #[arg(long, short, default_value = cram_core::aliases::DEFAULT_MODEL)]
    pub model: String,
    /// Text tokens per text.
    #[arg(long)]
    pub tokens: usize,
    /// Memory vectors per text.
    #[arg(long, default_value_t = 1)]
    pub mem: usize,
    /// Texts optimised at once.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Format of the weights and activations: f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// What is trained (the default recipe's method).
    #[arg(long, value_enum, default_value = "dense")]
    pub method: MethodArg,
    /// Rank of --method lowdim or lora.
    #[arg(long)]
    pub rank: Option<usize>,
    /// Input layout (sink puts one token in front of the memory).
    #[arg(long, value_enum, default_value = "sink")]
    pub layout: LayoutArg,
    /// The device's memory in GB (default: this machine's available RAM).
    #[arg(long)]
    pub device_memory: Option<f64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Chunks of books as the paper made them: a random run of whole sentences, second half kept.
    Books(BooksArgs),
    /// Texts of words drawn uniformly from a word list.
    RandomWords(RandomWordsArgs),
}

#[derive(Debug, Args)]
pub struct BooksArgs {
    /// Folder of .txt books.
    #[arg(long)]
    pub books: PathBuf,
    /// Chunks per book.
    #[arg(long, default_value_t = 4)]
    pub chunks_per_book: usize,
    /// Use only the first M books (by file name).
    #[arg(long)]
    pub books_limit: Option<usize>,
    /// Words of each chunk's kept (second) half, at least.
    #[arg(long, default_value_t = 400)]
    pub words: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// JSONL output.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RandomWordsArgs {
    /// Word list, one word per line.
    #[arg(long)]
    pub vocab: PathBuf,
    /// Number of texts.
    #[arg(long, default_value_t = 32)]
    pub count: usize,
    /// Words per text.
    #[arg(long, default_value_t = 400)]
    pub words: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// JSONL output.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Wgpu,
    Cuda,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DtypeArg {
    F32,
    Bf16,
    F16,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A .gguf file, a Hugging Face folder, a hub id (owner/name[@revision]) or an alias.
    #[arg(long, short, default_value = cram_core::aliases::DEFAULT_MODEL)]
    pub model: String,
    /// Where to compute.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// The dtype of the weights on the device; the memory vectors, their gradients and the
    /// optimiser stay f32 (the paper's mixed precision). Default: f32 on the CPU; on a GPU bf16
    /// where the device computes in it, else f32.
    #[arg(long, value_enum)]
    pub dtype: Option<DtypeArg>,
}

impl ModelArgs {
    /// The device as `--device` spells it.
    pub fn device_name(&self) -> String {
        self.device.to_possible_value().expect("every device has a name").get_name().to_string()
    }
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A .cram, .lmz, encoder or start file: print what it holds and what made it instead (no model is
    /// loaded).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// One text and how much of it: the flags `score` and `compress` share.
#[derive(Debug, Args)]
pub struct TextArg {
    /// The text file (`-` = standard input); --text FILE says the same.
    #[arg(value_name = "FILE", required_unless_present = "text", conflicts_with = "text")]
    pub file: Option<PathBuf>,
    /// The text file (`-` = standard input), as a flag.
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// Use only the first N tokens of the text.
    #[arg(long)]
    pub tokens: Option<usize>,
}

impl TextArg {
    /// The text file, given positionally or with --text.
    pub fn path(&self) -> &std::path::Path {
        self.file.as_deref().or(self.text.as_deref()).expect("clap requires the text file")
    }
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub input: TextArg,
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

/// A named recipe.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RecipeArg {
    /// dense at lr 0.1: the fewest steps to a greedy-exact text.
    Fast,
    /// memory at lr 1e-2: Kuratov et al. exactly.
    Paper,
}

/// Where the memory vectors start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitArg {
    /// N(0, std²): the paper's.
    Normal,
    /// The mean of the text's token embeddings.
    TextMean,
    /// A file: an encoder (from `cram encoder train`: the vectors it writes for the text) or a
    /// learned start (from `cram start train`: every trained value, the same for every text).
    File(PathBuf),
}

impl std::str::FromStr for InitArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "normal" => Self::Normal,
            "text-mean" => Self::TextMean,
            "" => return Err("give normal, text-mean, an encoder file or a start file".into()),
            path => Self::File(PathBuf::from(path)),
        })
    }
}

/// How the learning rate changes with the step.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ScheduleArg {
    /// The same rate at every step.
    Constant,
    /// Linear warmup, then a cosine decay.
    Cosine,
}

/// What is trained per text: a method of core's list ([`MethodName::ALL`]), so that a new method
/// is a `--method` value with no line here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodArg(pub MethodName);

/// The help of each `--method` value (a method without a line here is listed without one).
const METHOD_HELP: &[(MethodName, &str)] = &[
    (MethodName::Memory, "K memory vectors (the paper)"),
    (MethodName::Dense, "Vectors through a trainable Linear(d, d) with bias, p = W m + b"),
    (MethodName::Lowdim, "Vectors as an affine map of an r-dimensional trainable code (needs --rank)"),
    (MethodName::Lora, "Per-text LoRA adapters instead of vectors (--rank, --targets)"),
    (MethodName::Progressive, "Vectors trained on a target grown one token at a time; reports the horizon"),
    (MethodName::OnePass, "Two vectors laid out [e, m, ..., m] over the whole text; decodes in one forward pass"),
];

impl MethodArg {
    /// Every method, in core's order.
    pub fn all() -> Vec<Self> {
        MethodName::ALL.into_iter().map(Self).collect()
    }
}

/// Every method, as `--methods` takes them: `memory,dense,...`.
static ALL_METHODS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| MethodName::ALL.map(MethodName::as_str).join(","));

impl ValueEnum for MethodArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::LazyLock<Vec<MethodArg>> = std::sync::LazyLock::new(MethodArg::all);
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let value = clap::builder::PossibleValue::new(self.0.as_str());
        Some(match METHOD_HELP.iter().find(|(m, _)| *m == self.0) {
            Some((_, help)) => value.help(*help),
            None => value,
        })
    }
}

/// The recipe: `--recipe` sets the method and learning rate, the other flags override it.
#[derive(Debug, Clone, Args)]
pub struct RecipeArgs {
    /// Starting point: fast (dense at lr 0.1, the fewest steps to a greedy-exact text; the default
    /// with --protocol greedy) or paper (memory at lr 1e-2, Kuratov et al.; the default with
    /// --protocol paper). --method gives that method's own defaults instead.
    #[arg(long, value_enum)]
    pub recipe: Option<RecipeArg>,
    /// What is trained per text (default: the recipe's).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// Number of memory vectors K (default 1; not with --method lora). `cram capacity` takes a list
    /// to sweep, e.g. 1,2,4,8,16 (the paper's Figure 4).
    #[arg(long, visible_alias = "mems", value_delimiter = ',')]
    pub mem: Option<Vec<usize>>,
    /// Rank of --method lowdim (default 64) or --method lora (default 1).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Projections --method lora adapts in every layer, from q,k,v,o,mlp (default q,k,v,o).
    #[arg(long)]
    pub targets: Option<String>,
    /// LoRA alpha: the update is scaled by alpha / rank (default: the rank, a scale of 1).
    #[arg(long)]
    pub lora_alpha: Option<f64>,
    /// Step budget of each added token (--method progressive).
    #[arg(long)]
    pub steps_per_token: Option<usize>,
    /// Success criterion.
    #[arg(long, value_enum, default_value = "greedy")]
    pub protocol: ProtocolArg,
    /// Input layout (default: sink for the greedy protocol, paper for the paper protocol).
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// AdamW learning rate (default: the recipe's; with --method, that method's paper's: 1e-2, or
    /// 0.1 for progressive).
    #[arg(long)]
    pub lr: Option<f64>,
    /// AdamW beta1.
    #[arg(long, default_value_t = AdamWConfig::default().beta1)]
    pub beta1: f64,
    /// AdamW beta2.
    #[arg(long, default_value_t = AdamWConfig::default().beta2)]
    pub beta2: f64,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = AdamWConfig::default().weight_decay)]
    pub weight_decay: f64,
    /// AdamW epsilon.
    #[arg(long, default_value_t = AdamWConfig::default().eps)]
    pub eps: f64,
    /// Most steps per text, for every method (progressive: all its stages together, each stage also
    /// bounded by --steps-per-token).
    #[arg(long, default_value_t = CramConfig::default().max_steps)]
    pub max_steps: usize,
    /// Give up after this many steps without a better accuracy.
    #[arg(long, default_value_t = CramConfig::default().patience)]
    pub patience: usize,
    /// Standard deviation of the initial vectors (default: that of the embedding matrix).
    #[arg(long)]
    pub init_std: Option<f32>,
    /// One-pass only: m, the vector repeated over the text, is shared by every text (the paper's
    /// universal proto-token): taken from the learned one-pass start of --init (`cram start train
    /// --method one-pass`) and never trained, so each text trains e alone (d values). The .cram file
    /// holds m beside e and decodes alone; it records the start's fingerprint.
    #[arg(long)]
    pub shared_m: bool,
    /// Where the vectors start: normal (N(0, std²), the paper's), text-mean (the mean of the
    /// text's own token embeddings), an encoder file from `cram encoder train` (the vectors it
    /// writes for the text; dense starts at the identity), or a learned start from `cram start
    /// train` (every trained value, meta-trained over many texts for this model and recipe).
    /// Default: normal, except that the default recipe on the default model starts from the
    /// learned start shipped with cram (data/start/smollm2-135m-fast.safetensors).
    #[arg(long)]
    pub init: Option<InitArg>,
    /// Learning-rate schedule: constant (the paper's), or cosine (linear warmup, then a cosine
    /// decay to --min-lr at --max-steps; progressive cramming restarts it at every added token and
    /// ends it at --steps-per-token).
    #[arg(long, value_enum, default_value = "constant")]
    pub schedule: ScheduleArg,
    /// Warmup steps of --schedule cosine.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// Final learning rate of --schedule cosine.
    #[arg(long, default_value_t = 1e-3)]
    pub min_lr: f64,
    /// Seed of the initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Activation checkpointing per decoder layer: keeps only each layer's input and recomputes the
    /// layer in the backward pass (one more forward pass per step, much less memory for long texts
    /// on large models; `cram plan` shows both). The same gradients; not with --method lora.
    #[arg(long)]
    pub checkpoint: bool,
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub input: TextArg,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Output file (default: the text file's name with .cram, or stdin.cram for standard input).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ZipArgs {
    /// The text file (`-` = standard input).
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// The .lmz file to write (default: FILE.lmz, or stdin.lmz for standard input).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UnzipArgs {
    /// The .lmz file.
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Write the text here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecompressArgs {
    /// The .cram file.
    pub file: PathBuf,
    /// The model (default: the one the file names, where it was made with an alias or hub id; else
    /// the default model). A .gguf file, a Hugging Face folder, a hub id or an alias.
    #[arg(long, short)]
    pub model: Option<String>,
    /// Where to compute.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// The dtype of the weights on the device (default: the one the file was made in).
    #[arg(long, value_enum)]
    pub dtype: Option<DtypeArg>,
    /// Write the text here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print what the file decodes to even when it is not the crammed text (a run that did not
    /// cram completely); standard error then marks the tokens that differ from the ones crammed,
    /// where the file knows them, and the exit status is 1.
    #[arg(long)]
    pub partial: bool,
    /// With --partial: the text that was crammed, whose tokens the decoded ones are compared with.
    #[arg(long, requires = "partial", value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// One JSON line instead of the text: the text (unless -o writes it), whether it is the one
    /// crammed, the forward passes decoding took (one for one-pass files, one per token else) and
    /// its seconds (the model loaded before).
    #[arg(long)]
    pub json: bool,
}
