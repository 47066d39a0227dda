//! The page's state: plain data in signals, and the few methods that change it. Components read what
//! they show and write through these methods, so the run loop and the views share one picture.

use leptos::prelude::*;

use cram_core::cramming::StopReason;
use cram_core::methods::{CramConfig, MethodName, Recipe};
use cram_core::metrics::CramMetrics;

use crate::protocol::{CurvePoint, ModelInfo, RunResult, StepRow, TokenMark};
use crate::share::{ModelRef, Shared};
use cram_core::format::Decoded;

/// Where the app stands with the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ModelStatus {
    /// Nothing loaded yet.
    #[default]
    Empty,
    /// Bytes arriving or weights being built: `(what, done bytes, total bytes if known)`.
    Loading { what: String, done: u64, total: Option<u64> },
    /// A model is ready.
    Ready(ModelInfo),
    /// Loading failed; the message says why.
    Failed(String),
}

/// Where a compression run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunPhase {
    /// No run yet.
    #[default]
    Idle,
    /// Optimising.
    Running,
    /// Checking the result by greedy decoding.
    Decoding,
    /// Finished (successfully or not: see the result).
    Done,
    /// Stopped by the user; the best vectors so far are kept.
    Stopped,
    /// Failed with an error.
    Failed,
}

impl RunPhase {
    /// The value of the `data-state` attribute the tests wait on.
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Idle => "idle",
            RunPhase::Running => "running",
            RunPhase::Decoding => "decoding",
            RunPhase::Done => "done",
            RunPhase::Stopped => "stopped",
            RunPhase::Failed => "failed",
        }
    }
}

/// One finished run of a side-by-side comparison of methods on the same text.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparedRun {
    /// The method.
    pub method: MethodName,
    /// Its curves.
    pub curve: Vec<CurvePoint>,
    /// Its measures.
    pub metrics: CramMetrics,
    /// Greedy decoding from its vectors, token by token.
    pub greedy: Vec<TokenMark>,
    /// Why it stopped.
    pub stop: StopReason,
}

/// One length of the capacity experiment: the same passage crammed at `tokens` tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapacityPoint {
    /// The length crammed.
    pub tokens: usize,
    /// Teacher-forced accuracy at the end.
    pub accuracy: f64,
    /// Whether greedy decoding gave every token back.
    pub exact: bool,
    /// Optimiser steps it took.
    pub steps: usize,
}

/// All signals of the page; `Copy`, so closures take it by value.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The model.
    pub model: RwSignal<ModelStatus>,
    /// The run phase.
    pub phase: RwSignal<RunPhase>,
    /// The text to cram.
    pub text: RwSignal<String>,
    /// Tokens to cram (0 = all).
    pub tokens: RwSignal<usize>,
    /// Number of vectors K.
    pub mem: RwSignal<usize>,
    /// Learning rate.
    pub lr: RwSignal<f64>,
    /// Most optimiser steps.
    pub max_steps: RwSignal<usize>,
    /// Whether runs start from the learned start ([`LEARNED_START_URL`], given to the compute side).
    pub learned_start: RwSignal<bool>,
    /// The method.
    pub method: RwSignal<MethodName>,
    /// The rank of `lowdim` and `lora` (0 = the method's default).
    pub rank: RwSignal<usize>,
    /// The target's token pieces while running.
    pub pieces: RwSignal<Vec<String>>,
    /// Per target token, right at the last step (teacher-forced).
    pub correct: RwSignal<Vec<bool>>,
    /// Per target token, what greedy decoding from the current vectors gives at its place (its piece,
    /// and whether it is the target's); refreshed every second or so while running.
    pub greedy: RwSignal<Vec<TokenMark>>,
    /// The curves.
    pub curve: RwSignal<Vec<CurvePoint>>,
    /// The run's steps token by token (thinned like the curves), for the lock-in picture and replay.
    pub history: RwSignal<Vec<StepRow>>,
    /// The live greedy decodes of the run, each with the step it was made at.
    pub greedy_history: RwSignal<Vec<(usize, Vec<TokenMark>)>>,
    /// The step of the run being replayed (an index into `history`; None: the latest).
    pub replay: RwSignal<Option<usize>>,
    /// Steps per second of the run so far.
    pub steps_per_second: RwSignal<f64>,
    /// The latest vectors, for the heat strip (`[mem, d]`).
    pub heat: RwSignal<Vec<f32>>,
    /// The result of the last run.
    pub result: RwSignal<Option<RunResult>>,
    /// The last error of a run, export or import.
    pub error: RwSignal<Option<String>>,
    /// What the last imported `.cram` file decoded to.
    pub imported: RwSignal<Option<Decoded>>,
    /// Whether the teaching walk is open.
    pub teaching: RwSignal<bool>,
    /// The method run after the chosen one by Compare (None: none chosen).
    pub compare_with: RwSignal<Option<MethodName>>,
    /// The runs of the last comparison, in the order they ran.
    pub compared: RwSignal<Vec<ComparedRun>>,
    /// The capacity experiment's lengths so far, shortest first.
    pub capacity: RwSignal<Vec<CapacityPoint>>,
    /// Whether the capacity experiment is running.
    pub capacity_running: RwSignal<bool>,
    /// Where the loaded model came from, as a Share link names it.
    pub loaded_from: RwSignal<Option<ModelRef>>,
    /// The last run's Share link.
    pub share_link: RwSignal<Option<String>>,
    /// A `.cram` that came with the page's link, not yet decoded (see [`crate::share`]).
    pub shared: RwSignal<Option<Shared>>,
}

/// The example text of the page.
pub const DEFAULT_TEXT: &str = "The quick brown fox jumps over the lazy dog.";
/// The default model, served next to the app (see `scripts/app-build.sh`).
pub const DEFAULT_MODEL_URL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The learned start of the default model and recipe (`data/start/`, `cram start train`), served
/// next to the app: fewer steps per text.
pub const LEARNED_START_URL: &str = "starts/smollm2-135m-fast.safetensors";

impl AppState {
    /// Fresh state with the page's defaults.
    pub fn new() -> Self {
        Self {
            model: RwSignal::new(ModelStatus::Empty),
            phase: RwSignal::new(RunPhase::Idle),
            text: RwSignal::new(DEFAULT_TEXT.to_string()),
            tokens: RwSignal::new(0),
            mem: RwSignal::new(1),
            lr: RwSignal::new(Recipe::default().lr()),
            max_steps: RwSignal::new(CramConfig::default().max_steps),
            learned_start: RwSignal::new(false),
            method: RwSignal::new(Recipe::default().method().kind()),
            rank: RwSignal::new(0),
            pieces: RwSignal::new(vec![]),
            correct: RwSignal::new(vec![]),
            greedy: RwSignal::new(vec![]),
            curve: RwSignal::new(vec![]),
            history: RwSignal::new(vec![]),
            greedy_history: RwSignal::new(vec![]),
            replay: RwSignal::new(None),
            steps_per_second: RwSignal::new(0.0),
            heat: RwSignal::new(vec![]),
            result: RwSignal::new(None),
            error: RwSignal::new(None),
            imported: RwSignal::new(None),
            teaching: RwSignal::new(false),
            compare_with: RwSignal::new(None),
            compared: RwSignal::new(vec![]),
            capacity: RwSignal::new(vec![]),
            capacity_running: RwSignal::new(false),
            loaded_from: RwSignal::new(None),
            share_link: RwSignal::new(None),
            shared: RwSignal::new(None),
        }
    }

    /// Clears what a new run replaces.
    pub fn reset_run(&self) {
        self.correct.set(vec![]);
        self.greedy.set(vec![]);
        self.curve.set(vec![]);
        self.history.set(vec![]);
        self.greedy_history.set(vec![]);
        self.replay.set(None);
        self.steps_per_second.set(0.0);
        self.heat.set(vec![]);
        self.result.set(None);
        self.error.set(None);
        self.share_link.set(None);
    }

    /// The loaded model's info, if any.
    pub fn info(&self) -> Option<ModelInfo> {
        match self.model.get() {
            ModelStatus::Ready(info) => Some(info),
            _ => None,
        }
    }

    /// Whether a run is under way.
    pub fn busy(&self) -> bool {
        matches!(self.phase.get(), RunPhase::Running | RunPhase::Decoding)
            || matches!(self.model.get(), ModelStatus::Loading { .. })
            || self.capacity_running.get()
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}
