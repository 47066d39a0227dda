//! Picking and loading a model: a same-origin URL (the default model), a hub model id, or files from disk, the device
//! choice, a progress bar, and what was loaded.

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::{File, HtmlInputElement};

use futures_util::StreamExt;

use crate::backend::{self, Place};
use crate::loading::{self, DEFAULT_HUB_BASE, ModelFiles};
use crate::protocol::{DevicePreference, Event, ModelInfo, Request};
use crate::share::ModelRef;
use crate::state::{AppState, DEFAULT_MODEL_URL, LEARNED_START_URL, ModelStatus};
use crate::views::human_bytes;

/// Where the bytes come from.
pub(crate) enum Source {
    Url(String),
    Files(Vec<File>),
    /// A model id on a server laid out like the Hugging Face hub: `(base URL, id)`.
    Hub(String, String),
}

/// Seconds since the page opened (the performance clock).
pub(crate) fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now() / 1000.0).unwrap_or(0.0)
}

/// Fetches the bytes here on the page (progress, Cache Storage), then has the compute side at `place`
/// build the model; the other place forgets its model.
pub(crate) async fn load(state: AppState, source: Source, pref: DevicePreference, place: Place) {
    let started = now();
    // what a Share link names (see crate::share)
    let named = match &source {
        Source::Url(url) => ModelRef::Url(url.clone()),
        Source::Hub(base, id) => ModelRef::Hub { base: base.clone(), id: id.clone() },
        Source::Files(files) => ModelRef::Files(files.iter().map(File::name).collect::<Vec<_>>().join(", ")),
    };
    state.loaded_from.set(None);
    // the compute side drops its learned start with the model
    state.learned_start.set(false);
    let progress = |what: String| move |done: u64, total: Option<u64>| state.model.set(ModelStatus::Loading { what: what.clone(), done, total });
    // The worker, or why there is none: then the page computes itself and says why.
    let (place, no_worker) = match place {
        Place::Worker => match backend::start_worker() {
            Ok(()) => (Place::Worker, None),
            Err(why) => (Place::Page, Some(why)),
        },
        Place::Page => (Place::Page, None),
    };
    let files = match source {
        Source::Url(url) => {
            state.model.set(ModelStatus::Loading { what: format!("downloading {url}"), done: 0, total: None });
            let on = progress(format!("downloading {url}"));
            loading::fetch_cached(&url, &on).await.map(|(bytes, _)| ModelFiles::Gguf { name: url.clone(), bytes })
        }
        Source::Files(files) => {
            state.model.set(ModelStatus::Loading { what: "reading the files".into(), done: 0, total: None });
            loading::collect_files(files).await
        }
        Source::Hub(base, id) => {
            state.model.set(ModelStatus::Loading { what: format!("fetching {id}"), done: 0, total: None });
            let on =
                |file: &str, done: u64, total: Option<u64>| state.model.set(ModelStatus::Loading { what: format!("downloading {id}: {file}"), done, total });
            loading::fetch_hub(&base, &id, &on).await
        }
    };
    let files = match files {
        Ok(f) => f,
        Err(e) => return state.model.set(ModelStatus::Failed(e)),
    };
    let other = if place == Place::Worker { Place::Page } else { Place::Worker };
    if other == Place::Page || backend::start_worker().is_ok() {
        drop(backend::call(other, Request::Forget));
    }
    let mut events = backend::call(place, Request::Load { files, device: pref });
    while let Some(event) = events.next().await {
        match event {
            Event::Loading(what) => state.model.set(ModelStatus::Loading { what, done: 0, total: None }),
            Event::Loaded(info) => {
                tick_shipped_start(state, place).await;
                state.loaded_from.set(Some(named));
                return state.model.set(ModelStatus::Ready(ModelInfo { seconds: now() - started, no_worker, ..info }));
            }
            Event::Failed(e) => return state.model.set(ModelStatus::Failed(e)),
            _ => {}
        }
    }
    state.model.set(ModelStatus::Failed("the compute side went away".into()));
}

/// Once a model is loaded at `place`: the learned start shipped for the default model, ticked when
/// the compute side accepts it for this model, so that the default recipe on the default model starts
/// from it as `cram compress` does; for any other model (or without the file) the box stays unticked,
/// with nothing to say.
async fn tick_shipped_start(state: AppState, place: Place) {
    let Ok((bytes, _)) = loading::fetch_cached(LEARNED_START_URL, &|_, _| {}).await else { return };
    if let Event::Done = backend::ask(place, Request::UseStart { bytes: Some(bytes) }).await {
        state.learned_start.set(true);
    }
}

/// Hub ids the id field suggests: small models of the families the core loads, with a
/// `tokenizer.json` (the Pythia suite the design card names for the browser first).
const HUB_MODELS: &[&str] = &[
    "EleutherAI/pythia-14m",
    "EleutherAI/pythia-31m",
    "EleutherAI/pythia-70m",
    "EleutherAI/pythia-160m",
    "HuggingFaceTB/SmolLM2-135M",
    "HuggingFaceTB/SmolLM2-135M-Instruct",
    "Qwen/Qwen3-0.6B",
];

/// The model section.
#[component]
pub fn ModelPicker(state: AppState) -> impl IntoView {
    let url = RwSignal::new(DEFAULT_MODEL_URL.to_string());
    let hub_id = RwSignal::new("EleutherAI/pythia-70m".to_string());
    let hub_base = RwSignal::new(DEFAULT_HUB_BASE.to_string());
    let device = RwSignal::new("auto".to_string());
    let place = RwSignal::new("worker".to_string());
    let start = move |source: Source| spawn_local(load(state, source, DevicePreference::parse(&device.get_untracked()), Place::parse(&place.get_untracked())));
    let pick = move |ev: web_sys::Event| {
        let input: HtmlInputElement = event_target(&ev);
        let Some(list) = input.files() else { return };
        let files: Vec<File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        if !files.is_empty() {
            start(Source::Files(files));
        }
    };
    view! {
        <div class="row">
            <label>"Same-origin URL "
                <input type="text" size="44" data-testid="model-url" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev)) />
            </label>
            <button data-testid="load-url" disabled=move || state.busy()
                on:click=move |_| start(Source::Url(url.get_untracked()))>
                "Load"
            </button>
        </div>
        <div class="row">
            <label>"…or a hub model id "
                <input type="text" size="24" data-testid="hub-id" list="hub-models" prop:value=move || hub_id.get() on:input=move |ev| hub_id.set(event_target_value(&ev)) />
                <datalist id="hub-models">
                    {HUB_MODELS.iter().map(|id| view! { <option value=*id></option> }).collect_view()}
                </datalist>
            </label>
            <label>" from "
                <input type="text" size="28" data-testid="hub-base" title="A server laid out like the Hugging Face hub ({base}/{id}/resolve/main/{file}): the hub's address, a mirror, or a folder served with this page"
                    prop:value=move || hub_base.get() on:input=move |ev| hub_base.set(event_target_value(&ev)) />
            </label>
            <button data-testid="load-hub" disabled=move || state.busy()
                on:click=move |_| start(Source::Hub(hub_base.get_untracked(), hub_id.get_untracked()))>
                "Load"
            </button>
        </div>
        <div class="row">
            <label>"…or files from disk (a .gguf, or config.json + *.safetensors + tokenizer.json) "
                <input type="file" multiple data-testid="model-files" accept=".gguf,.json,.safetensors" on:change=pick disabled=move || state.busy() />
            </label>
        </div>
        <div class="row">
            <label>"Device "
                <select data-testid="device" on:change=move |ev| device.set(event_target_value(&ev))>
                    <option value="auto" selected>"WebGPU if the browser has it, else CPU"</option>
                    <option value="cpu">"CPU"</option>
                </select>
            </label>
            <label title="In a Web Worker the page stays responsive while a model loads and a run steps; on the page's own thread it waits between slices of work">"Compute "
                <select data-testid="place" on:change=move |ev| place.set(event_target_value(&ev))>
                    <option value="worker" selected>"in a Web Worker"</option>
                    <option value="page">"on the page's thread"</option>
                </select>
            </label>
        </div>
        <div data-testid="model-status" data-state=move || match state.model.get() {
            ModelStatus::Empty => "empty",
            ModelStatus::Loading { .. } => "loading",
            ModelStatus::Ready(_) => "ready",
            ModelStatus::Failed(_) => "failed",
        }>
            {move || match state.model.get() {
                ModelStatus::Empty => view! { <p class="muted">"No model yet. The default is SmolLM2-135M-Instruct (98 MB, cached after the first load)."</p> }.into_any(),
                ModelStatus::Loading { what, done, total } => view! {
                    <p>{what}" "{if done > 0 { human_bytes(done) } else { String::new() }}{total.map(|t| format!(" of {}", human_bytes(t))).unwrap_or_default()}</p>
                    <progress data-testid="load-progress" max={total.unwrap_or(0).max(1) as f64} value={done as f64}></progress>
                }.into_any(),
                ModelStatus::Ready(info) => view! { <ModelSummary info=info /> }.into_any(),
                ModelStatus::Failed(e) => view! { <p class="error" data-testid="model-error">{e}</p> }.into_any(),
            }}
        </div>
    }
}

/// What was loaded, and where it computes.
#[component]
fn ModelSummary(info: ModelInfo) -> impl IntoView {
    let capacity = cram_core::metrics::theoretical_capacity_tokens(info.hidden, info.vocab, 1);
    let device_class = if info.gpu { "device gpu" } else { "device cpu" };
    view! {
        <p>
            "Loaded " <code>{info.source.clone()}</code> " in " {format!("{:.1}", info.seconds)} " s: "
            {info.family.clone()} ", " {info.layers} " layers, d = " {info.hidden} ", vocabulary " {info.vocab}
            ", context " {info.context} ", weights " {info.dtype.clone()} "."
        </p>
        <p>"Computing on " <span class=device_class data-testid="device-label">{info.device.clone()}</span> ", "
            <span data-testid="place-label">{match (&info.no_worker, info.in_worker) {
                (_, true) => "in a Web Worker".to_string(),
                (Some(why), false) => format!("on the page's thread (no Web Worker: {why})"),
                (None, false) => "on the page's thread".to_string(),
            }}</span></p>
        <p class="muted">"One vector holds at most d·16 / log₂V = " {format!("{capacity:.0}")} " tokens (the theoretical capacity)."</p>
    }
}
