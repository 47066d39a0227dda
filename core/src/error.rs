//! The one error type of `cram-core`. Every message names the file, tensor or key at fault.

use std::path::PathBuf;

/// Everything that can go wrong in `cram-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read. (The OS error is part of the message, not a `source`: error
    /// chains printed with `{:#}` would say it twice.)
    #[error("cannot read {path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// A weight the model needs is not in the checkpoint.
    #[error("the checkpoint has no tensor `{name}`")]
    MissingTensor {
        /// The Hugging Face name of the tensor.
        name: String,
    },
    /// A weight has another shape than the config implies.
    #[error("tensor `{name}` has shape {got:?}, the config implies {expected:?}")]
    ShapeMismatch {
        /// The tensor.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the checkpoint.
        got: Vec<usize>,
    },
    /// A model architecture cram does not implement.
    #[error("unsupported architecture `{0}` (cram knows GPT-NeoX/Pythia and Llama/SmolLM2/Llama-3)")]
    UnsupportedArch(String),
    /// A config value that cannot work.
    #[error("invalid config: {0}")]
    Config(String),
    /// A safetensors file that cannot be parsed.
    #[error("{path}: not a valid safetensors file: {message}")]
    Safetensors {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A GGUF file that cannot be parsed or holds something unsupported.
    #[error("{path}: {cause}")]
    Gguf {
        /// The file.
        path: String,
        /// What is wrong (in the message, not a `source`, so that it is printed once).
        cause: crate::weights::gguf::GgufError,
    },
    /// A tokenizer that cannot be loaded or does not fit the model.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A model string that names nothing cram can load.
    #[error("{0}")]
    ModelNotFound(String),
    /// Downloading from the Hugging Face hub failed.
    #[error("hub: {0}")]
    Hub(String),
    /// Invalid input from the user: an empty text, an impossible option.
    #[error("{0}")]
    Input(String),
    /// A `.cram` file that is corrupt or of an unknown version.
    #[error("{path}: not a valid .cram file: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A `.cram` file made with another model or tokenizer.
    #[error("{0}")]
    FingerprintMismatch(String),
    /// A tensor operation failed on the device.
    #[error("device: {0}")]
    Device(String),
    /// A setting a person gave cannot work. Its `Display` names the settings plainly
    /// ([`Setting::name`]); a front end words it with its own names through [`ConfigError::describe`]
    /// (the CLI its flags, the app its controls). Core's messages name no front end's flag.
    #[error("{0}")]
    Setting(ConfigError),
}

/// A setting a person gives (of the recipe, an encoder's training, the model, the data), as a
/// [`ConfigError`] names it. Each front end has its own name for it (the CLI its flag, the app its
/// control); [`Setting::name`] is a plain one, with no front end's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// The method ([`crate::methods::CramConfig::method`]).
    Method,
    /// The number of memory vectors K.
    Mem,
    /// The rank of lowdim or LoRA.
    Rank,
    /// LoRA's alpha.
    LoraAlpha,
    /// Progressive cramming's steps per added token.
    StepsPerToken,
    /// The input layout.
    Layout,
    /// The success criterion.
    Protocol,
    /// Activation checkpointing.
    Checkpoint,
    /// The step budget per text.
    MaxSteps,
    /// The learning rate.
    Lr,
    /// AdamW's beta1.
    Beta1,
    /// AdamW's beta2.
    Beta2,
    /// AdamW's epsilon.
    Eps,
    /// AdamW's weight decay.
    WeightDecay,
    /// The standard deviation of the initial vectors.
    InitStd,
    /// Where the vectors start.
    Init,
    /// Texts crammed (or trained on) at once.
    Batch,
    /// The model to load.
    Model,
    /// Tokens per text or chunk.
    Tokens,
    /// An encoder's layers.
    Layers,
    /// The rank of an encoder's LoRA adaptation.
    EncoderLora,
    /// The weight of a VAE encoder's KL term.
    Beta,
    /// An encoder's dropout.
    Dropout,
    /// The share of chunks held out for testing.
    TestFraction,
    /// The number of chunks.
    Chunks,
    /// Passes over the training chunks.
    Epochs,
    /// An encoder's regularised head (BatchNorm and Dropout).
    Reg,
    /// The projections LoRA adapts.
    Targets,
    /// The field or column of a data set that holds the text.
    TextField,
    /// The dtype of the weights on the device.
    Dtype,
}

impl Setting {
    /// Every setting.
    pub const ALL: [Setting; 30] = [
        Setting::Method,
        Setting::Mem,
        Setting::Rank,
        Setting::LoraAlpha,
        Setting::StepsPerToken,
        Setting::Layout,
        Setting::Protocol,
        Setting::Checkpoint,
        Setting::MaxSteps,
        Setting::Lr,
        Setting::Beta1,
        Setting::Beta2,
        Setting::Eps,
        Setting::WeightDecay,
        Setting::InitStd,
        Setting::Init,
        Setting::Batch,
        Setting::Model,
        Setting::Tokens,
        Setting::Layers,
        Setting::EncoderLora,
        Setting::Beta,
        Setting::Dropout,
        Setting::TestFraction,
        Setting::Chunks,
        Setting::Epochs,
        Setting::Reg,
        Setting::Targets,
        Setting::TextField,
        Setting::Dtype,
    ];

    /// A plain name for it, as core's messages use it.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Method => "method",
            Setting::Mem => "mem",
            Setting::Rank => "rank",
            Setting::LoraAlpha => "lora alpha",
            Setting::StepsPerToken => "steps per token",
            Setting::Layout => "layout",
            Setting::Protocol => "protocol",
            Setting::Checkpoint => "checkpointing",
            Setting::MaxSteps => "max steps",
            Setting::Lr => "learning rate",
            Setting::Beta1 => "beta1",
            Setting::Beta2 => "beta2",
            Setting::Eps => "eps",
            Setting::WeightDecay => "weight decay",
            Setting::InitStd => "init std",
            Setting::Init => "init",
            Setting::Batch => "batch",
            Setting::Model => "model",
            Setting::Tokens => "tokens",
            Setting::Layers => "layers",
            Setting::EncoderLora => "encoder lora rank",
            Setting::Beta => "beta",
            Setting::Dropout => "dropout",
            Setting::TestFraction => "test fraction",
            Setting::Chunks => "chunks",
            Setting::Epochs => "epochs",
            Setting::Reg => "reg",
            Setting::Targets => "targets",
            Setting::TextField => "text field",
            Setting::Dtype => "dtype",
        }
    }
}

/// Why a setting a person gave cannot work (a recipe's `validate`, an encoder's, the data, the
/// model). Front ends word it for their users with [`ConfigError::describe`], naming the settings
/// their way; `Display` (and [`Error::Setting`], which carries it) names them by [`Setting::name`].
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// A count (K, a rank, a step budget) is 0.
    AtLeastOne(Setting),
    /// A number that must be positive and finite is not.
    NotPositive(Setting),
    /// LoRA with memory vectors (K > 0).
    LoraWithVectors,
    /// LoRA in the paper layout, which would leave nothing in front of the text.
    LoraPaperLayout,
    /// LoRA with activation checkpointing, which only recomputes gradients w.r.t. the inputs.
    LoraCheckpoint,
    /// Progressive cramming under the paper's protocol.
    ProgressivePaperProtocol,
    /// One-pass with K other than 1: it trains its own two vectors, e and m.
    OnePassVectors,
    /// One-pass under the paper's protocol: every position is scored, t_1 included.
    OnePassPaperProtocol,
    /// One-pass with a shared m, but no learned one-pass start to take m from.
    SharedMWithoutStart,
    /// AdamW's betas are not in [0, 1).
    Betas,
    /// AdamW's epsilon is not positive, or its weight decay is negative.
    EpsOrWeightDecay,
    /// The paper protocol's accuracy threshold is not in [0, 1].
    PaperThreshold,
    /// The text-mean start with a method that trains no vectors directly (lowdim, LoRA).
    TextMeanWithoutVectors,
    /// An encoder's start with a method that trains no vectors directly (lowdim, LoRA).
    EncoderWithoutVectors,
    /// The learning-rate schedule does not fit (its own message).
    Schedule(String),
    /// A lowdim rank above the model width.
    RankOverWidth {
        /// The rank asked for.
        rank: usize,
        /// The model width d.
        width: usize,
    },
    /// A LoRA rank above the narrowest adapted projection.
    RankOverProjection {
        /// The rank asked for.
        rank: usize,
        /// The smaller side of the narrowest adapted projection.
        narrowest: usize,
    },
    /// Both counts must be at least 1 (one of them is not).
    BothAtLeastOne(Setting, Setting),
    /// A number that must be finite and at least 0 is not.
    Negative(Setting),
    /// A share that must be in [0, 1) is not.
    NotBelowOne(Setting),
    /// A share that must lie strictly between 0 and 1 does not.
    NotBetweenZeroAndOne(Setting),
    /// Fewer than two chunks: one is needed to train on and one to test.
    TooFewChunksAsked,
    /// The data holds fewer chunks than asked for.
    TooFewChunks {
        /// Chunks the data gives.
        have: usize,
        /// Tokens per chunk.
        tokens: usize,
        /// Chunks asked for.
        asked: usize,
    },
    /// An encoder's BatchNorm (regularised, more than one layer) with batches of 1.
    BatchNormBatch,
    /// An encoder's training diverged: the loss or its gradient became NaN or infinite.
    EncoderDiverged {
        /// The step at which it did (1 = the first).
        step: usize,
    },
    /// The sink layout on a model with no token to use as a sink.
    NoSinkToken,
    /// A setting that must name something is empty (the model).
    Empty(Setting),
    /// The LoRA targets name no projection.
    NoTargets,
    /// The LoRA targets name no projection of this model's family (attention targets on a Mamba).
    TargetsNotInModel {
        /// The family (`model_type`).
        family: String,
        /// The targets given.
        targets: String,
        /// The targets the family has.
        available: String,
    },
    /// A line of a JSONL data set has no text field of that name.
    NoTextField {
        /// The file and line.
        place: String,
        /// The field asked for.
        field: String,
    },
    /// A parquet data set has no text column of that name.
    NoTextColumn {
        /// The file.
        file: String,
        /// The column asked for.
        field: String,
        /// Its columns, comma-separated.
        columns: String,
    },
    /// The device cannot compute in the weights' dtype.
    DtypeUnsupported {
        /// The dtype asked for.
        dtype: String,
        /// The device.
        device: String,
        /// The dtypes it can compute in.
        other: &'static str,
    },
    /// An encoder file given where a `.cram` file is expected.
    EncoderFileNotCram {
        /// The file.
        path: String,
    },
}

impl ConfigError {
    /// The message, with each setting called what `name` calls it.
    pub fn describe(&self, name: impl Fn(Setting) -> &'static str) -> String {
        use Setting::*;
        match self {
            ConfigError::AtLeastOne(s) => format!("{} must be at least 1", name(*s)),
            ConfigError::NotPositive(s) => format!("{} must be a positive number", name(*s)),
            ConfigError::LoraWithVectors => format!("{} lora trains adapters instead of memory vectors; drop {}", name(Method), name(Mem)),
            ConfigError::LoraPaperLayout => {
                format!("{} lora trains no vector, so the paper layout [mem, text] has nothing in front of the text; use {} sink", name(Method), name(Layout))
            }
            ConfigError::LoraCheckpoint => format!(
                "{} recomputes the layers for gradients w.r.t. the model's inputs; {} lora trains inside the layers (use memory, dense, lowdim or progressive)",
                name(Checkpoint),
                name(Method)
            ),
            ConfigError::ProgressivePaperProtocol => {
                format!("{} progressive is greedy by construction (t_1 included); {} paper does not apply", name(Method), name(Protocol))
            }
            ConfigError::OnePassVectors => {
                format!("{} one-pass trains two vectors, e once and m over the rest of the text; drop {}", name(Method), name(Mem))
            }
            ConfigError::OnePassPaperProtocol => {
                format!("{} one-pass scores every position of the text (t_1 included); {} paper does not apply", name(Method), name(Protocol))
            }
            ConfigError::SharedMWithoutStart => {
                format!("a shared m is taken from a learned start trained for {} one-pass; give one as {}", name(Method), name(Init))
            }
            ConfigError::Betas => format!("{} and {} must be in [0, 1)", name(Beta1), name(Beta2)),
            ConfigError::EpsOrWeightDecay => format!("{} must be positive and {} not negative", name(Eps), name(WeightDecay)),
            ConfigError::PaperThreshold => "the accuracy threshold must be in [0, 1]".into(),
            ConfigError::TextMeanWithoutVectors => format!("{} text-mean sets the memory vectors; lowdim and lora train none directly", name(Init)),
            ConfigError::EncoderWithoutVectors => {
                format!("{} with an encoder sets the memory vectors; lowdim and lora train none directly (use memory, dense or progressive)", name(Init))
            }
            ConfigError::Schedule(message) => message.clone(),
            ConfigError::RankOverWidth { rank, width } => format!("{} {rank} is larger than the model width d = {width}", name(Rank)),
            ConfigError::RankOverProjection { rank, narrowest } => {
                format!("{} {rank} is larger than the narrowest adapted projection ({narrowest})", name(Rank))
            }
            ConfigError::BothAtLeastOne(a, b) => format!("{} and {} must be at least 1", name(*a), name(*b)),
            ConfigError::Negative(s) => format!("{} must be a number of at least 0", name(*s)),
            ConfigError::NotBelowOne(s) => format!("{} must be in [0, 1)", name(*s)),
            ConfigError::NotBetweenZeroAndOne(s) => format!("{} must be between 0 and 1", name(*s)),
            ConfigError::TooFewChunksAsked => format!("{} must be at least 2 (one to train on, one to test)", name(Chunks)),
            ConfigError::TooFewChunks { have, tokens, asked } => {
                format!("the data gives {have} chunk(s) of {tokens} tokens; {} asks for {asked}", name(Chunks))
            }
            ConfigError::BatchNormBatch => format!("BatchNorm ({} with more than one layer) needs {} 2 or more", name(Reg), name(Batch)),
            ConfigError::EncoderDiverged { step } => format!(
                "training diverged at step {step} (the loss or its gradient became NaN or infinite); the last checkpoint is kept: try a lower {}",
                name(Lr)
            ),
            ConfigError::NoSinkToken => format!("the model has no <|endoftext|>, BOS or EOS token to use as a sink; use {} paper", name(Layout)),
            ConfigError::Empty(s) => format!("{} is empty", name(*s)),
            ConfigError::NoTargets => format!("{} names no projection; choose from q, k, v, o, mlp", name(Targets)),
            ConfigError::TargetsNotInModel { family, targets, available } => {
                format!("{} {targets} names no projection of a {family} model; its projections: {available}", name(Targets))
            }
            ConfigError::NoTextField { place, field } => format!("{place}: no \"{field}\" field ({} names another)", name(TextField)),
            ConfigError::NoTextColumn { file, field, columns } => {
                format!("{file}: no column \"{field}\" (it has {columns}; {} names another)", name(TextField))
            }
            ConfigError::DtypeUnsupported { dtype, device, other } => {
                format!("device: this device cannot compute in {dtype} ({device}); use {} {other}", name(Dtype))
            }
            ConfigError::EncoderFileNotCram { path } => format!("{path}: this is an encoder file, not a .cram file"),
        }
    }
}

impl std::fmt::Display for ConfigError {
    /// Core's words: settings by [`Setting::name`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(Setting::name))
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Setting(e)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause: source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every setting error as core words it: no front end's flag (`--...`) in any. The match lists
    /// every variant, so a new one does not compile here until it is given a case below.
    #[test]
    fn setting_errors_name_no_flag() {
        use ConfigError::*;
        let mut errors = vec![
            LoraWithVectors,
            LoraPaperLayout,
            LoraCheckpoint,
            ProgressivePaperProtocol,
            OnePassVectors,
            OnePassPaperProtocol,
            SharedMWithoutStart,
            Betas,
            EpsOrWeightDecay,
            PaperThreshold,
            TextMeanWithoutVectors,
            EncoderWithoutVectors,
            Schedule("the cosine must end after the warmup (10 steps), not at step 10".into()),
            RankOverWidth { rank: 2, width: 1 },
            RankOverProjection { rank: 2, narrowest: 1 },
            TooFewChunksAsked,
            TooFewChunks { have: 1, tokens: 2, asked: 3 },
            BatchNormBatch,
            EncoderDiverged { step: 1 },
            NoSinkToken,
            NoTargets,
            TargetsNotInModel { family: "mamba".into(), targets: "q,v".into(), available: "in_proj, x_proj".into() },
            NoTextField { place: "a.jsonl:1".into(), field: "text".into() },
            NoTextColumn { file: "a.parquet".into(), field: "text".into(), columns: "id".into() },
            DtypeUnsupported { dtype: "bf16".into(), device: "Cpu".into(), other: "f32" },
            EncoderFileNotCram { path: "enc.safetensors".into() },
        ];
        for s in Setting::ALL {
            errors.extend([AtLeastOne(s), NotPositive(s), Negative(s), NotBelowOne(s), NotBetweenZeroAndOne(s), Empty(s), BothAtLeastOne(s, s)]);
        }
        let mut seen = std::collections::HashSet::new();
        for e in errors {
            seen.insert(match &e {
                AtLeastOne(_) => 0,
                NotPositive(_) => 1,
                LoraWithVectors => 2,
                LoraPaperLayout => 3,
                LoraCheckpoint => 4,
                ProgressivePaperProtocol => 5,
                Betas => 6,
                EpsOrWeightDecay => 7,
                PaperThreshold => 8,
                TextMeanWithoutVectors => 9,
                EncoderWithoutVectors => 10,
                Schedule(_) => 11,
                RankOverWidth { .. } => 12,
                RankOverProjection { .. } => 13,
                BothAtLeastOne(..) => 14,
                Negative(_) => 15,
                NotBelowOne(_) => 16,
                NotBetweenZeroAndOne(_) => 17,
                TooFewChunksAsked => 18,
                TooFewChunks { .. } => 19,
                BatchNormBatch => 20,
                EncoderDiverged { .. } => 21,
                NoSinkToken => 22,
                Empty(_) => 23,
                NoTargets => 24,
                NoTextField { .. } => 25,
                NoTextColumn { .. } => 26,
                DtypeUnsupported { .. } => 27,
                EncoderFileNotCram { .. } => 28,
                OnePassVectors => 29,
                OnePassPaperProtocol => 30,
                TargetsNotInModel { .. } => 31,
                SharedMWithoutStart => 32,
            });
            let text = Error::Setting(e.clone()).to_string();
            assert!(!text.contains("--"), "{e:?} reads {text:?}");
            assert_eq!(text, e.describe(Setting::name));
        }
        assert_eq!(seen.len(), 33, "every variant is constructed above");
        let names: std::collections::HashSet<_> = Setting::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Setting::ALL.len(), "each setting has its own name");
    }
}
