//! The messages between the page and its compute side ([`crate::compute`], in the Web Worker or on
//! the page's thread): [`Request`]s, answered by [`Event`]s, and the data they carry, typed with the
//! core's own types (the method, why a run stopped). Both sides and the views read these; this module
//! uses nothing of the app but the model files [`crate::loading`] collects.

use cram_core::cramming::StopReason;
use cram_core::format::Decoded;
use cram_core::geometry::VectorGeometry;
use cram_core::methods::MethodName;
use cram_core::metrics::CramMetrics;
use serde::{Deserialize, Serialize};

use crate::loading::ModelFiles;

/// What the page asks of the compute side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Build the model from these files on the preferred device.
    Load { files: ModelFiles, device: DevicePreference },
    /// Drop the model (it is being loaded elsewhere).
    Forget,
    /// How many tokens `text` has with the model's tokenizer.
    CountTokens { text: String },
    /// Cram a text with a recipe.
    Run(Controls),
    /// Stop the running loop after its current step (answered by the run's own end).
    Stop,
    /// The last run as `.cram` bytes.
    Export,
    /// Start every run from this learned start (a `start.safetensors` of `cram start train`, checked
    /// against the loaded model), or from random again (`None`).
    UseStart {
        #[serde(with = "serde_bytes")]
        bytes: Option<Vec<u8>>,
    },
    /// Decode a `.cram` file.
    Import {
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
}

/// What the compute side answers. Each request ends with one of [`Event::is_last`]; a lost GPU comes
/// unasked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// Loading went on to this stage.
    Loading(String),
    /// The model is ready.
    Loaded(ModelInfo),
    /// A token count (None: no model, or the tokenizer refused the text).
    TokenCount(Option<usize>),
    /// A run started on these target token pieces.
    Started { pieces: Vec<String> },
    /// Steps since the last progress: their curve points and their rows token by token (the last
    /// row is the teacher-forced row shown now), and the run's steps per second so far.
    Progress { points: Vec<CurvePoint>, rows: Vec<StepRow>, steps_per_second: f64 },
    /// A live greedy decode: per target token what greedy decoding gives there, and the vectors.
    Greedy { step: usize, row: Vec<TokenMark>, heat: Vec<f32> },
    /// The optimisation ended; decoding from the best vectors.
    Decoding,
    /// The run ended (stopped by the person when `stopped`), with its greedy row.
    Finished { result: Box<RunResult>, greedy: Vec<TokenMark>, stopped: bool },
    /// The `.cram` bytes of [`Request::Export`].
    Exported(#[serde(with = "serde_bytes")] Vec<u8>),
    /// What the file of [`Request::Import`] decodes to (with why it is not the text crammed, when not).
    Imported(Decoded),
    /// The request is done (for requests that answer nothing else).
    Done,
    /// The request failed; one sentence for the person.
    Failed(String),
    /// The browser took the WebGPU device away (unasked); the model on it is gone.
    GpuLost(String),
}

impl Event {
    /// Whether this event ends its request.
    pub fn is_last(&self) -> bool {
        matches!(
            self,
            Event::Loaded(_) | Event::TokenCount(_) | Event::Finished { .. } | Event::Exported(_) | Event::Imported(_) | Event::Done | Event::Failed(_)
        )
    }
}

/// The page's recipe controls, as the compute side needs them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Controls {
    /// The method (one of core's list).
    pub method: MethodName,
    /// The rank of `lowdim` and `lora` (0 = the method's default).
    pub rank: usize,
    /// Number of vectors K.
    pub mem: usize,
    /// Learning rate.
    pub lr: f64,
    /// Most optimiser steps.
    pub max_steps: usize,
    /// The text to cram.
    pub text: String,
    /// Tokens to cram (0 = all).
    pub tokens: usize,
    /// Start from the learned start given by [`Request::UseStart`] (else from random).
    #[serde(default)]
    pub learned_start: bool,
}

/// Which device the person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DevicePreference {
    /// WebGPU when the browser has an adapter, else the CPU.
    Auto,
    /// The CPU backend (burn flex, single-threaded in the browser).
    Cpu,
}

impl DevicePreference {
    /// From the `<select>` value.
    pub fn parse(s: &str) -> Self {
        if s == "cpu" { Self::Cpu } else { Self::Auto }
    }
}

/// What the page shows about the loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Where it came from (file or URL).
    pub source: String,
    /// `llama` or `gpt_neox`.
    pub family: String,
    /// Width of one vector.
    pub hidden: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Layers.
    pub layers: usize,
    /// Context length.
    pub context: usize,
    /// The dtype of the file's weights.
    pub dtype: String,
    /// The device label shown on the page (`WebGPU` or `CPU (...)`).
    pub device: String,
    /// Whether the device is the GPU.
    pub gpu: bool,
    /// Whether the model computes in the Web Worker (else on the page's thread).
    pub in_worker: bool,
    /// Why there is no worker, when the page asked for one and computes itself instead.
    #[serde(default)]
    pub no_worker: Option<String>,
    /// Seconds the load took.
    pub seconds: f64,
}

/// One point of the live curves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Optimiser step (1-based).
    pub step: usize,
    /// Mean cross-entropy over the scored tokens.
    pub loss: f64,
    /// Teacher-forced accuracy.
    pub accuracy: f64,
}

/// The end of a run, as shown beside the original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The target text (the decoded target tokens).
    pub original: String,
    /// Token pieces of the target.
    pub original_tokens: Vec<String>,
    /// What greedy decoding from the vectors gives, as token pieces.
    pub decoded_tokens: Vec<String>,
    /// The decoded text.
    pub decoded: String,
    /// The CLI's measures, same field names.
    pub metrics: CramMetrics,
    /// The vectors, `[mem, d]` row-major.
    pub mem: Vec<f32>,
    /// Width of one vector.
    pub hidden: usize,
    /// Why the run stopped.
    pub stop: StopReason,
    /// The text's bits beside its codes (no `cram zip`, zstd or xz of the CLI in the browser).
    pub bits: cram_core::bits::BitAccount,
    /// The vectors beside the token embeddings (None for LoRA, which trains none).
    pub geometry: Option<Geometry>,
    /// zstd of the text at ruzstd's fastest level ([`crate::compute::zstd_fast_bits`]).
    pub zstd_bits: u64,
}

/// The crammed vectors beside the model's token embeddings: core's numbers, and the pieces of the
/// nearest tokens (`pieces[j][n]` is the piece of `vectors.nearest[j][n]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Norms, the embeddings' norm summary, the nearest tokens by cosine.
    pub vectors: VectorGeometry,
    /// The nearest tokens' pieces.
    pub pieces: Vec<Vec<String>>,
    /// The attention the text pays the vectors, layer by layer (None without attention: a Mamba).
    pub attention: Option<cram_core::geometry::VectorAttention>,
}

/// One step of a run, token by token (the lock-in picture and the replay draw these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Optimiser step (1-based).
    pub step: usize,
    /// Per target token, whether it was predicted right (teacher-forced).
    pub correct: Vec<bool>,
    /// Per target token, the probability the model gave it (teacher-forced).
    pub probabilities: Vec<f32>,
}

/// One target token as greedy decoding from the vectors gives it at its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMark {
    /// The decoded token's text.
    pub piece: String,
    /// Whether it is the target's token.
    pub right: bool,
}
