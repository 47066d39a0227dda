//! The compute side of the page: everything that touches the model, as [`Request`]s answered by
//! [`Event`]s. It runs in a dedicated Web Worker (the default: the page never stalls) or on the page's
//! own thread (see [`crate::backend`]); the code is the same in both, and the device and the model live
//! in [`crate::engine`]'s thread-locals of whichever realm runs it.
//!
//! A run tokenises the text, steps the optimiser ([`cram_core::cramming::Cramming`]), sends the curves
//! in batches (one [`Event::Progress`] per slice of work), decodes greedily from time to time for the
//! live views, and ends with the reconstruction and the measures. Reads are asynchronous (WebGPU
//! cannot block), and the loop yields every few milliseconds so that Stop is heard mid-run.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cram_core::LoadedModel;
use cram_core::cramming::{CramOutcome, Cramming, Observer, StepReport, TextJob};
use cram_core::format::Decoded;
use cram_core::methods::{CramConfig, Method, MethodName, Setting, VectorInit};
use cram_core::optim::adamw::AdamWConfig;
use cram_core::start::StartFile;
use web_time::Instant;

use crate::engine;
use crate::loading::{self, ModelFiles};
use crate::protocol::{Controls, CurvePoint, DevicePreference, Event, Geometry, ModelInfo, Request, RunResult, StepRow, TokenMark};

/// The [`Method`] `name` with the CLI's defaults for its parameters (`rank` 0 = default).
pub fn method(name: MethodName, rank: usize) -> Result<Method, String> {
    Method::with_defaults(name.as_str(), (rank > 0).then_some(rank)).map_err(|e| e.to_string())
}

/// The nearest tokens listed for each vector.
const NEAREST_TOKENS: usize = 5;

/// zstd of `text` as the browser can make it: ruzstd's fastest level (about zstd -1; the CLI's
/// `zstd -19` needs the C library), the whole frame.
pub fn zstd_fast_bits(text: &str) -> u64 {
    8 * ruzstd::encoding::compress_to_vec(text.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest).len() as u64
}

/// The longest the loop computes before it yields (to hear Stop, and on the page to repaint) and sends
/// its progress.
const SLICE_SECONDS: f64 = 0.03;
/// Least time between two live greedy decodes; they also wait at least [`GREEDY_COST_FACTOR`] times as
/// long as the last one took, so that they cost the optimisation at most a fifth of its time.
const GREEDY_EVERY_SECONDS: f64 = 1.0;
const GREEDY_COST_FACTOR: f64 = 4.0;

thread_local! {
    static STOP: Cell<bool> = const { Cell::new(false) };
    /// What export needs from the last run: its recipe and outcome.
    static LAST: RefCell<Option<(CramConfig, CramOutcome)>> = const { RefCell::new(None) };
    /// The learned start of [`Request::UseStart`], with its file's fingerprint.
    static START: RefCell<Option<(Rc<StartFile>, String)>> = const { RefCell::new(None) };
}

/// Where the answers to one request go.
pub type Emit = Rc<dyn Fn(Event)>;

/// Answers `request`, sending its events to `emit` (the last one ends it; see [`Event::is_last`]).
pub async fn handle(request: Request, emit: Emit) {
    let last = match request {
        Request::Load { files, device } => load(files, device, &emit).await.map(Event::Loaded),
        Request::Forget => {
            engine::forget_model();
            Ok(Event::Done)
        }
        Request::CountTokens { text } => Ok(Event::TokenCount(engine::model().and_then(|lm| lm.tokenizer.encode(&text).ok()).map(|ids| ids.len()))),
        Request::Run(controls) => run(controls, &emit).await,
        Request::Stop => {
            STOP.with(|s| s.set(true));
            Ok(Event::Done)
        }
        Request::Export => export().map(Event::Exported),
        Request::UseStart { bytes } => use_start(bytes).map(|()| Event::Done),
        Request::Import { name, bytes } => import(&name, &bytes).await.map(Event::Imported),
    };
    emit(last.unwrap_or_else(Event::Failed));
}

/// Watches for the browser taking the WebGPU device away: the model on it is dropped, a run on it
/// stopped, and `emit` told why (see [`engine::watch_gpu_loss`]).
pub fn watch_gpu_loss(emit: Emit) {
    engine::watch_gpu_loss(move |why| {
        engine::forget_model();
        STOP.with(|s| s.set(true));
        emit(Event::GpuLost(why));
    });
}

/// Builds the model, on the device `pref` asks for.
async fn load(files: ModelFiles, pref: DevicePreference, emit: &Emit) -> Result<ModelInfo, String> {
    let started = Instant::now();
    engine::forget_model();
    START.with(|s| *s.borrow_mut() = None);
    emit(Event::Loading("choosing the device".into()));
    let device = engine::choose_device(pref).await;
    emit(Event::Loading(format!("building the model on {}", device.label)));
    yield_now().await;
    let built = loading::build(files, &device.device, device.max_buffer_bytes);
    // A WebGPU device lost while the model was built (reported at the next turn of the event loop) is
    // said as the loss, whatever the build gave: a model on a dead device would only fail later, at
    // the first readback of a run.
    gloo_timers::future::TimeoutFuture::new(0).await;
    if let Some(why) = engine::gpu_lost().filter(|_| device.gpu) {
        return Err(engine::gpu_lost_message(&why));
    }
    let lm = built?;
    let c = &lm.config;
    let info = ModelInfo {
        source: lm.identity.source.clone(),
        family: lm.identity.family.clone(),
        hidden: c.hidden_size(),
        vocab: c.vocab_size(),
        layers: c.num_layers(),
        context: c.max_position_embeddings(),
        dtype: lm.identity.file_dtype.clone(),
        device: device.label.clone(),
        gpu: device.gpu,
        in_worker: engine::in_worker(),
        no_worker: None,
        seconds: started.elapsed().as_secs_f64(),
    };
    engine::set_model(lm);
    Ok(info)
}

/// The recipe of the controls, checked against the loaded model (a rank within the widths), in the
/// page's words.
pub fn recipe(c: &Controls) -> Result<CramConfig, String> {
    let method = method(c.method, c.rank)?;
    let cfg = CramConfig {
        mem: if method.uses_vectors() { c.mem } else { 0 },
        method,
        adamw: AdamWConfig { lr: c.lr, ..AdamWConfig::default() },
        max_steps: c.max_steps,
        ..CramConfig::default()
    };
    match engine::model() {
        Some(lm) => cfg.validate_for(&lm.config),
        None => cfg.validate(),
    }
    .map_err(|e| e.describe(control_name))?;
    Ok(cfg)
}

/// What the page calls a setting: its control's label, or core's plain name where the page has no
/// control for it.
fn control_name(setting: Setting) -> &'static str {
    match setting {
        Setting::Mem => "vectors",
        Setting::Lr => "learning rate",
        Setting::MaxSteps => "max steps",
        Setting::Rank => "rank",
        other => other.name(),
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

/// Greedy decoding compared token by token with the target: the piece and whether it is right.
fn greedy_row(lm: &LoadedModel, decoded: &[u32], target: &[u32]) -> Vec<TokenMark> {
    pieces(lm, decoded).into_iter().zip(decoded.iter().zip(target)).map(|(piece, (d, t))| TokenMark { piece, right: d == t }).collect()
}

/// Collects the loop's reports between two progress events.
struct Batcher {
    points: Vec<CurvePoint>,
    rows: Vec<StepRow>,
    started: Instant,
    steps: usize,
}

impl Observer for Batcher {
    fn on_step(&mut self, r: &StepReport) {
        self.points.push(CurvePoint { step: r.step, loss: r.loss, accuracy: r.right as f64 / r.scored.max(1) as f64 });
        self.rows.push(StepRow { step: r.step, correct: r.correct.to_vec(), probabilities: r.probabilities.iter().map(|&p| p as f32).collect() });
        self.steps = r.step;
    }

    fn stop_requested(&self) -> bool {
        STOP.with(|s| s.get())
    }
}

impl Batcher {
    /// The steps since the last call, as one event (None when there were none).
    fn progress(&mut self) -> Option<Event> {
        if self.points.is_empty() {
            return None;
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let steps_per_second = if seconds > 0.0 { self.steps as f64 / seconds } else { 0.0 };
        Some(Event::Progress { points: std::mem::take(&mut self.points), rows: std::mem::take(&mut self.rows), steps_per_second })
    }
}

/// One compression: the optimisation, then greedy decoding from the best vectors; the last event is
/// [`Event::Finished`].
async fn run(controls: Controls, emit: &Emit) -> Result<Event, String> {
    let lm = engine::model().ok_or("load a model first")?;
    STOP.with(|s| s.set(false));
    let mut cfg = recipe(&controls)?;
    let ids = target_ids(&lm, &controls.text, controls.tokens)?;
    let mut job = TextJob { id: "page".into(), ids, seed_index: None, start: None };
    if controls.learned_start {
        let (start, fingerprint) = START.with(|s| s.borrow().clone()).ok_or("no learned start is loaded: tick \"learned start\" again")?;
        // a recipe it was not trained for (another method or vector count) starts from random, as
        // `cram compress` does with the shipped start
        if start.check_recipe(&cfg, "the learned start").is_ok() {
            cfg.init = VectorInit::Learned { start: fingerprint };
            job.start = Some(start.params.clone());
        }
    }
    emit(Event::Started { pieces: pieces(&lm, &job.ids) });
    let outcome = optimise(&lm, cfg.clone(), job, emit).await?;
    let stopped = STOP.with(|s| s.get());
    emit(Event::Decoding);
    yield_now().await;
    let target = &outcome.ids;
    let decoded_ids = outcome.memory.decode_async(&lm, &outcome.given_ids, target.len(), None).await.map_err(|e| format!("decoding failed: {e}"))?;
    let original = lm.tokenizer.decode(target).unwrap_or_default();
    let decoded = lm.tokenizer.decode(&decoded_ids).unwrap_or_default();
    let bits = cram_core::bits::BitAccount::new(&cram_core::bits::TextCodes::text_only(original.len()), &outcome.memory, &outcome.metrics);
    let zstd_bits = zstd_fast_bits(&original);
    // what the vectors are, beside the token embeddings (LoRA has none)
    let geometry = match outcome.memory.k {
        0 => None,
        _ => match cram_core::geometry::vector_geometry_async(&lm.model, &outcome.memory.vectors, NEAREST_TOKENS).await {
            Ok(vectors) => {
                let pieces = vectors.nearest.iter().map(|near| pieces(&lm, &near.iter().map(|n| n.id).collect::<Vec<_>>())).collect();
                let attention = cram_core::geometry::attention_to_vectors_async(&lm, &outcome.memory, target).await.ok().flatten();
                Some(Geometry { vectors, pieces, attention })
            }
            Err(_) => None,
        },
    };
    let result = RunResult {
        geometry,
        bits,
        zstd_bits,
        original,
        original_tokens: pieces(&lm, target),
        decoded_tokens: pieces(&lm, &decoded_ids),
        decoded,
        metrics: outcome.metrics.clone(),
        mem: outcome.memory.vectors.clone(),
        hidden: lm.config.hidden_size(),
        stop: outcome.stop,
    };
    let greedy = greedy_row(&lm, &decoded_ids, target);
    LAST.with(|l| *l.borrow_mut() = Some((cfg, outcome)));
    Ok(Event::Finished { result: Box::new(result), greedy, stopped })
}

/// The optimisation, one step at a time, yielding between slices of work (and sending their
/// progress), and decoding greedily from time to time for the live views.
async fn optimise(lm: &LoadedModel, cfg: CramConfig, job: TextJob, emit: &Emit) -> Result<CramOutcome, String> {
    let err = |e: cram_core::Error| match e {
        cram_core::Error::Setting(c) => c.describe(control_name),
        other => other.to_string(),
    };
    yield_now().await;
    let target = job.ids.clone();
    let mut run = Cramming::new_async(lm, cfg, vec![job], 1).await.map_err(err)?;
    let mut obs = Batcher { points: vec![], rows: vec![], started: Instant::now(), steps: 0 };
    let mut slice = Instant::now();
    let (mut last_greedy, mut greedy_cost) = (Instant::now(), 0.0);
    while run.step_async(lm, &mut obs).await.map_err(err)? {
        if last_greedy.elapsed().as_secs_f64() > GREEDY_EVERY_SECONDS.max(GREEDY_COST_FACTOR * greedy_cost) {
            let t0 = Instant::now();
            if let Some((memory, given)) = run.current_memory(0) {
                let decoded = memory.decode_async(lm, given, target.len(), None).await.map_err(err)?;
                emit(Event::Greedy { step: obs.steps, row: greedy_row(lm, &decoded, &target), heat: memory.vectors });
            }
            last_greedy = Instant::now();
            greedy_cost = (last_greedy - t0).as_secs_f64();
        }
        if slice.elapsed().as_secs_f64() > SLICE_SECONDS {
            obs.progress().into_iter().for_each(|e| emit(e));
            yield_now().await;
            slice = Instant::now();
        }
    }
    obs.progress().into_iter().for_each(|e| emit(e));
    run.into_outcomes().pop().ok_or_else(|| "the run produced no result".to_string())
}

/// The last run as the bytes `cram compress` writes.
fn export() -> Result<Vec<u8>, String> {
    let lm = engine::model().ok_or("no model")?;
    let (cfg, outcome) = LAST.with(|l| l.borrow().clone()).ok_or("no run to export")?;
    let file = cram_core::format::CramFile::from_outcome(&lm, &cfg, &outcome).map_err(|e| e.to_string())?;
    file.to_bytes().map_err(|e| e.to_string())
}

/// Keeps a learned start for the runs that ask for it (checked against the loaded model), or drops it.
fn use_start(bytes: Option<Vec<u8>>) -> Result<(), String> {
    let Some(bytes) = bytes else {
        START.with(|s| *s.borrow_mut() = None);
        return Ok(());
    };
    let lm = engine::model().ok_or("load a model first")?;
    let fingerprint = cram_core::encoder::file::fingerprint(&bytes);
    let start = StartFile::from_bytes(bytes, "the learned start", &lm).map_err(|e| e.to_string())?;
    START.with(|s| *s.borrow_mut() = Some((Rc::new(start), fingerprint)));
    Ok(())
}

/// Decodes a `.cram` file with the loaded model: what it decodes to (and why that is not the text
/// crammed, for a file that did not cram completely), or why it cannot be decoded (the checks of
/// `cram decompress`: not a `.cram`, another model).
async fn import(name: &str, bytes: &[u8]) -> Result<Decoded, String> {
    let lm = engine::model().ok_or("load the model the file was made with first")?;
    yield_now().await;
    let file = cram_core::format::CramFile::from_bytes(bytes, name).map_err(|e| e.to_string())?;
    file.decode_any_async(&lm).await.map_err(|e| format!("{name}: {e}"))
}

/// Lets the event loop run once: a message to ourselves through a `MessageChannel`, which (unlike a
/// zero-delay timeout, clamped to 4 ms when nested) costs microseconds, on the page and in a worker.
/// One channel per thread, kept for the page's life; each waiting yield is resolved in turn.
pub async fn yield_now() {
    use std::collections::VecDeque;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    struct Channel {
        channel: web_sys::MessageChannel,
        waiting: Rc<RefCell<VecDeque<js_sys::Function>>>,
        _on_message: Closure<dyn FnMut()>,
    }
    thread_local! {
        static CHANNEL: Option<Channel> = web_sys::MessageChannel::new().ok().map(|channel| {
            let waiting: Rc<RefCell<VecDeque<js_sys::Function>>> = Rc::default();
            let queue = waiting.clone();
            let on_message = Closure::<dyn FnMut()>::new(move || {
                if let Some(resolve) = queue.borrow_mut().pop_front() {
                    let _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
                }
            });
            channel.port1().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            Channel { channel, waiting, _on_message: on_message }
        });
    }
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        CHANNEL.with(|c| match c {
            Some(c) if c.channel.port2().post_message(&wasm_bindgen::JsValue::NULL).is_ok() => c.waiting.borrow_mut().push_back(resolve),
            _ => drop(resolve.call0(&wasm_bindgen::JsValue::UNDEFINED)),
        })
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
