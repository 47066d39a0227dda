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
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause: source }
    }
}
