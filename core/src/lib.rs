//! # cram-core
//!
//! Cram a text into a few input vectors of a frozen language model and get it back (Kuratov et al.,
//! "Cramming 1568 Tokens into a Single Vector and Back Again", ACL 2025).
//!
//! - [`models`]: the model families (GPT-NeoX/Pythia, Llama/SmolLM2/Llama-3) behind one [`Model`].
//! - [`weights`]: safetensors, GGUF and the Hugging Face hub as one [`weights::TensorSource`].
//! - [`tokenizer`]: `tokenizer.json` or GGUF metadata, the same on every target.
//! - [`load`]: one `--model` string to a [`LoadedModel`]; [`aliases`]: local model names and the cache folder.
//! - [`methods`], [`optim`]: what is trained, AdamW and the learning-rate schedules.
//! - [`cramming`]: the loop that crams texts, the same for every family and method ([`cramming::cram_texts`]).
//! - [`checkpoint`]: activation checkpointing per decoder layer, for long texts on large models.
//! - [`encoder`]: trained encoders (AE/VAE) that write a text's vectors in one pass; their vectors
//!   also start per-text cramming. [`start`]: a learned start, meta-trained over many texts (Reptile)
//!   so that a new text needs few steps.
//! - [`metrics`], [`decode`], [`format`]: the paper's measures, greedy decoding, `.cram` files.
//! - [`bits`]: a crammed text beside its alternatives in bits (the text, the vectors, the model's
//!   code, zstd and xz); [`geometry`]: crammed vectors beside the token embeddings (norms, nearest
//!   tokens by cosine).
//! - [`lmzip`]: lossless compression by the model's own probabilities (`cram zip`), the yardstick in bits.
//! - [`data`]: texts from files, folders and JSONL; book chunks and random-word texts as in the paper.
//! - [`device`]: choosing CPU, wgpu or CUDA at run time; [`kernels`]: frozen-weight matrix products
//!   on the CPU (weights packed once, AVX-512/AVX2), under the families' linear layers.

pub mod aliases;
pub mod bits;
pub mod checkpoint;
pub mod cramming;
pub mod data;
pub mod decode;
pub mod device;
pub mod encoder;
pub mod error;
pub mod format;
pub mod geometry;
pub mod kernels;
pub mod lmzip;
pub mod load;
pub mod memory;
pub mod methods;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod plan;
pub mod readback;
pub mod score;
pub mod start;
pub mod tokenizer;
pub mod weights;

pub use error::{Error, Result};
pub use load::{LoadedModel, ModelIdentity};
pub use models::{Model, ModelConfig};

/// The version written into `.cram` files.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
