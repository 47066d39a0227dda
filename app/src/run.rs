//! One compression run, from the text box to the result: tokenise, step the optimiser
//! ([`cram_core::cramming::Cramming`]) while an [`Observer`] feeds the live views, decode
//! greedily from the best memory, and keep what export needs. Reads are asynchronous (WebGPU cannot
//! block), and the loop yields to the browser every few milliseconds so the page repaints and the Stop
//! button is heard mid-run.

use std::cell::{Cell, RefCell};

use cram_core::LoadedModel;
use cram_core::cramming::{CramOutcome, Cramming, Observer, StepReport, TextJob};
use cram_core::methods::{CramConfig, Method, Setting};
use cram_core::optim::adamw::AdamWConfig;
use leptos::prelude::*;

use crate::engine;
use crate::state::{AppState, ComparedRun, CurvePoint, RunPhase, RunResult};

/// The methods the page offers, `(value, label)`; each maps to a [`Method`] in [`method`].
pub const METHODS: &[(&str, &str)] = &[
    ("memory", "memory: K trainable input vectors (Kuratov et al. 2025)"),
    ("dense", "dense: vectors through a trainable d×d layer"),
    ("lowdim", "lowdim: vectors from an r-dimensional code"),
    ("lora", "lora: rank-r adapters on q, k, v, o instead of vectors"),
    ("progressive", "progressive: the target grows one token at a time"),
];

/// The [`Method`] of a select value, with the CLI's defaults for its parameters (`rank` 0 = default);
/// a name the core does not know is an error, not silently the memory method.
pub fn method(name: &str, rank: usize) -> Result<Method, String> {
    Method::with_defaults(name, (rank > 0).then_some(rank)).map_err(|e| e.to_string())
}

/// Curve points kept; older ones are thinned so long runs stay cheap to draw.
const MAX_CURVE_POINTS: usize = 600;
/// The longest the loop computes before it lets the browser repaint.
const SLICE_SECONDS: f64 = 0.03;
/// Least time between two live greedy decodes; they also wait at least [`GREEDY_COST_FACTOR`] times as
/// long as the last one took, so that they cost the optimisation at most a fifth of its time.
const GREEDY_EVERY_SECONDS: f64 = 1.0;
const GREEDY_COST_FACTOR: f64 = 4.0;
thread_local! {
    static STOP: Cell<bool> = const { Cell::new(false) };
    /// Counts runs; a run whose number is no longer current was abandoned ([`abandon_run`]) and leaves
    /// the page alone.
    static RUN: Cell<u64> = const { Cell::new(0) };
    /// What export needs from the last run: its recipe and outcome.
    static LAST: RefCell<Option<(CramConfig, CramOutcome)>> = const { RefCell::new(None) };
}

/// Asks the running loop to stop after the current step.
pub fn request_stop() {
    STOP.with(|s| s.set(true));
}

/// Gives up the running loop at once (its device is gone): it stops after the current step, and
/// whatever it finishes with is not shown.
pub fn abandon_run() {
    request_stop();
    RUN.with(|r| r.set(r.get() + 1));
}

fn current(run: u64) -> bool {
    RUN.with(|r| r.get() == run)
}

/// The recipe and outcome of the last finished run.
pub fn last_run() -> Option<(CramConfig, CramOutcome)> {
    LAST.with(|l| l.borrow().clone())
}

/// Lets the browser run its event loop once (a zero-delay timeout).
pub async fn yield_to_browser() {
    gloo_timers::future::TimeoutFuture::new(0).await;
}

fn now_seconds() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now() / 1000.0).unwrap_or(0.0)
}

/// Feeds the live views from the loop's reports.
struct LiveObserver {
    state: AppState,
    started: f64,
}

impl Observer for LiveObserver {
    fn on_step(&mut self, r: &StepReport) {
        let point = CurvePoint { step: r.step, loss: r.loss, accuracy: r.right as f64 / r.scored.max(1) as f64 };
        self.state.curve.update(|c| {
            c.push(point);
            if c.len() > MAX_CURVE_POINTS {
                // Keep every other point of the older half.
                let half = c.len() / 2;
                let mut kept: Vec<CurvePoint> = c[..half].iter().step_by(2).copied().collect();
                kept.extend_from_slice(&c[half..]);
                *c = kept;
            }
        });
        self.state.correct.set(r.correct.to_vec());
        let elapsed = now_seconds() - self.started;
        if elapsed > 0.0 {
            self.state.steps_per_second.set(r.step as f64 / elapsed);
        }
    }

    fn on_done(&mut self, outcome: &CramOutcome) {
        self.state.heat.set(outcome.memory.vectors.clone());
    }

    fn stop_requested(&self) -> bool {
        STOP.with(|s| s.get())
    }
}

/// The recipe from the page's controls.
pub fn recipe(state: &AppState) -> Result<CramConfig, String> {
    recipe_for(state, &state.method.get_untracked())
}

/// The recipe from the page's controls with the method `name`.
pub fn recipe_for(state: &AppState, name: &str) -> Result<CramConfig, String> {
    let method = method(name, state.rank.get_untracked())?;
    let cfg = CramConfig {
        mem: if method.uses_vectors() { state.mem.get_untracked() } else { 0 },
        method,
        adamw: AdamWConfig { lr: state.lr.get_untracked(), ..AdamWConfig::default() },
        max_steps: state.max_steps.get_untracked(),
        ..CramConfig::default()
    };
    // With a model loaded, the checks that need it too (a rank within the widths), in the page's words.
    match engine::model() {
        Some(lm) => cfg.validate_for(&lm.config),
        None => cfg.validate(),
    }
    .map_err(|e| e.describe(control_name))?;
    Ok(cfg)
}

/// What the page calls a setting of the recipe: its control's label, or the CLI's flag where the page
/// has no control for it.
fn control_name(setting: Setting) -> &'static str {
    match setting {
        Setting::Mem => "vectors",
        Setting::Lr => "learning rate",
        Setting::MaxSteps => "max steps",
        Setting::Rank => "rank",
        other => other.flag(),
    }
}

/// The token ids of the text box, cut to the tokens control (0 = all).
pub fn target_ids(lm: &LoadedModel, text: &str, tokens: usize) -> Result<Vec<u32>, String> {
    use cram_core::data::TargetError;
    cram_core::data::target_ids(lm, text, (tokens > 0).then_some(tokens)).map_err(|e| match e {
        TargetError::Empty => "type a text to cram first".into(),
        TargetError::ZeroTokens => "choose at least 1 token".into(),
        TargetError::MoreThanText { has, .. } => format!("the text has only {has} tokens; lower the token count"),
        TargetError::OverContext { tokens, context } => format!("the text has {tokens} tokens; the model's context is {context}; lower the token count"),
        TargetError::Tokenizer(e) => e,
    })
}

/// Token pieces for the strip and the diff.
pub fn pieces(lm: &LoadedModel, ids: &[u32]) -> Vec<String> {
    ids.iter().map(|&id| lm.tokenizer.decode(&[id]).unwrap_or_else(|_| format!("<{id}>"))).collect()
}

/// Greedy decoding from the run's current vectors, compared token by token with the target: the
/// greedy row of the token strip, and the vectors for the heat strip.
async fn show_greedy(lm: &LoadedModel, run: &Cramming, target: &[u32], state: AppState) -> Result<(), String> {
    let Some((memory, given)) = run.current_memory(0) else { return Ok(()) };
    let decoded = memory.decode_async(lm, given, target.len(), None).await.map_err(|e| e.to_string())?;
    let row = pieces(lm, &decoded).into_iter().zip(decoded.iter().zip(target)).map(|(piece, (d, t))| (piece, d == t)).collect();
    state.greedy.set(row);
    state.heat.set(memory.vectors);
    Ok(())
}

/// The optimisation, one step at a time, yielding to the browser between slices of work and decoding
/// greedily from time to time for the live views.
async fn optimise(lm: &LoadedModel, cfg: CramConfig, job: TextJob, obs: &mut LiveObserver) -> Result<CramOutcome, String> {
    let err = |e: cram_core::Error| e.to_string();
    yield_to_browser().await;
    let target = job.ids.clone();
    let mut run = Cramming::new_async(lm, cfg, vec![job], 1).await.map_err(err)?;
    let mut slice = now_seconds();
    let (mut last_greedy, mut greedy_cost) = (slice, 0.0);
    while run.step_async(lm, obs).await.map_err(err)? {
        if now_seconds() - last_greedy > GREEDY_EVERY_SECONDS.max(GREEDY_COST_FACTOR * greedy_cost) {
            let t0 = now_seconds();
            show_greedy(lm, &run, &target, obs.state).await?;
            last_greedy = now_seconds();
            greedy_cost = last_greedy - t0;
        }
        if now_seconds() - slice > SLICE_SECONDS {
            yield_to_browser().await;
            slice = now_seconds();
        }
    }
    run.into_outcomes().pop().ok_or_else(|| "the run produced no result".to_string())
}

/// Runs one compression of the text box with the page's controls.
pub async fn compress(state: AppState) {
    state.compared.set(vec![]);
    compress_with(state, &state.method.get_untracked(), false).await;
}

/// Methods side by side: the chosen method, then the one to compare with, on the same text with the
/// same controls; each finished run joins [`AppState::compared`] (curves, measures, greedy row),
/// which the side-by-side view draws together. A stop or a failure ends the comparison.
pub async fn compare(state: AppState) {
    let (first, second) = (state.method.get_untracked(), state.compare_with.get_untracked());
    if second.is_empty() {
        state.error.set(Some("choose a method to compare with".into()));
        return;
    }
    state.compared.set(vec![]);
    for name in [first, second] {
        if !compress_with(state, &name, true).await {
            return;
        }
    }
}

/// One compression with the method `name`; `true` when it ran to its end (not stopped, not failed).
/// With `compared`, the finished run joins the comparison.
async fn compress_with(state: AppState, name: &str, compared: bool) -> bool {
    let Some(lm) = engine::model() else {
        state.error.set(Some("load a model first".into()));
        return false;
    };
    state.reset_run();
    STOP.with(|s| s.set(false));
    let run = RUN.with(|r| {
        r.set(r.get() + 1);
        r.get()
    });
    let fail = |e: String| {
        if current(run) {
            state.error.set(Some(e));
            state.phase.set(RunPhase::Failed);
        }
        false
    };
    let prepared = recipe_for(&state, name).and_then(|cfg| Ok((cfg, target_ids(&lm, &state.text.get_untracked(), state.tokens.get_untracked())?)));
    let (cfg, ids) = match prepared {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    state.pieces.set(pieces(&lm, &ids));
    state.phase.set(RunPhase::Running);
    let job = TextJob { id: "page".into(), ids: ids.clone(), seed_index: None, start: None };
    let mut obs = LiveObserver { state, started: now_seconds() };
    let outcome = match optimise(&lm, cfg.clone(), job, &mut obs).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    if !current(run) {
        return false;
    }
    let stopped = STOP.with(|s| s.get());
    state.phase.set(RunPhase::Decoding);
    yield_to_browser().await;
    let target = &outcome.ids;
    let decoded_ids = match outcome.memory.decode_async(&lm, &outcome.given_ids, target.len(), None).await {
        Ok(ids) => ids,
        Err(e) => return fail(format!("decoding failed: {e}")),
    };
    if !current(run) {
        return false;
    }
    state.greedy.set(pieces(&lm, &decoded_ids).into_iter().zip(decoded_ids.iter().zip(target)).map(|(p, (d, t))| (p, d == t)).collect());
    let original = lm.tokenizer.decode(target).unwrap_or_default();
    let decoded = lm.tokenizer.decode(&decoded_ids).unwrap_or_default();
    let stop = outcome.stop.as_str().to_string();
    let bits = cram_core::bits::BitAccount::new(&cram_core::bits::TextCodes::text_only(original.len()), &outcome.memory, &outcome.metrics);
    let zstd_bits = crate::views::zstd_fast_bits(&original);
    state.result.set(Some(RunResult {
        bits,
        zstd_bits,
        original,
        original_tokens: pieces(&lm, target),
        decoded_tokens: pieces(&lm, &decoded_ids),
        decoded,
        metrics: outcome.metrics.clone(),
        mem: outcome.memory.vectors.clone(),
        hidden: lm.config.hidden_size(),
        stop: stop.clone(),
    }));
    state.heat.set(outcome.memory.vectors.clone());
    if compared {
        let run = ComparedRun {
            method: name.to_string(),
            curve: state.curve.get_untracked(),
            metrics: outcome.metrics.clone(),
            greedy: state.greedy.get_untracked(),
            stop: stop.clone(),
        };
        state.compared.update(|c| c.push(run));
    }
    LAST.with(|l| *l.borrow_mut() = Some((cfg, outcome)));
    state.phase.set(if stopped { RunPhase::Stopped } else { RunPhase::Done });
    !stopped
}
