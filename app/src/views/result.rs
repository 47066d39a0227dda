//! The end of a run: the reconstruction beside the original with differing tokens marked, the CLI's
//! metrics (same field names), `.cram` export and Share (a link that carries it); the import of a
//! `.cram` file, and of the one a link brought.

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::HtmlInputElement;

use super::model_picker::{Source, load};
use crate::backend::Place;
use crate::protocol::{DevicePreference, Event, Request, RunResult};
use crate::share::{self, ModelRef};
use crate::state::{AppState, ModelStatus};
use crate::{backend, cram_io, loading, run};
use cram_core::format::Decoded;

/// Token pieces with the ones that differ from `other` marked.
fn marked(tokens: &[String], other: &[String]) -> impl IntoView + use<> {
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let class = if other.get(i) == Some(t) { "tok same" } else { "tok diff" };
            view! { <span class=class>{t.replace('\n', "⏎")}</span> }
        })
        .collect_view()
}

/// The last run's `.cram` bytes (written by the compute side, as `cram compress` writes them).
async fn exported(state: AppState) -> Result<Vec<u8>, String> {
    match backend::ask(run::place(&state), Request::Export).await {
        Event::Exported(bytes) => Ok(bytes),
        Event::Failed(e) => Err(e),
        other => Err(format!("export: unexpected answer {other:?}")),
    }
}

/// The last run as a `.cram` download.
async fn export(state: AppState) -> Result<(), String> {
    cram_io::download(&exported(state).await?, "page.cram")
}

/// The last run as a link that carries its `.cram` and names the model ([`crate::share`]); a file
/// too large for a link is downloaded instead, and the page says so.
async fn share(state: AppState) -> Result<(), String> {
    let bytes = exported(state).await?;
    let model = state.loaded_from.get_untracked().ok_or("load a model first")?;
    match share::link(&bytes, &model) {
        Ok(link) => {
            state.share_link.set(Some(link));
            Ok(())
        }
        Err(too_long) => {
            cram_io::download(&bytes, "page.cram")?;
            Err(too_long)
        }
    }
}

/// Decodes the `.cram` that came with the page's link with the loaded model; the text shows where an
/// imported file's does, a file for another model gets the import's sentence.
async fn decode_shared(state: AppState) {
    let Some(shared) = state.shared.get_untracked() else { return };
    state.imported.set(None);
    match decode(state, "the link's .cram", shared.bytes).await {
        Ok(decoded) => {
            state.shared.set(None);
            state.imported.set(Some(decoded));
        }
        Err(e) => state.error.set(Some(e)),
    }
}

/// What `.cram` bytes decode to with the loaded model (asked of the compute side), or why they
/// cannot be decoded, in one sentence naming `name`.
pub(crate) async fn decode(state: AppState, name: &str, bytes: Vec<u8>) -> Result<Decoded, String> {
    match backend::ask(run::place(&state), Request::Import { name: name.to_string(), bytes }).await {
        Event::Imported(decoded) => Ok(decoded),
        Event::Failed(e) => Err(e),
        other => Err(format!("import: unexpected answer {other:?}")),
    }
}

/// Opens the page's own link, if it carries a `.cram`: loads the model it names (on the default
/// device, in the worker), then decodes. A damaged link, a model that does not load or a file for
/// another model each get one sentence.
pub async fn open_link(state: AppState) {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    let shared = match share::parse(&hash) {
        None => return,
        Some(Err(e)) => return state.error.set(Some(e)),
        Some(Ok(shared)) => shared,
    };
    let model = shared.model.clone();
    state.shared.set(Some(shared));
    let source = match &model {
        Some(ModelRef::Url(url)) => Source::Url(url.clone()),
        Some(ModelRef::Hub { base, id }) => Source::Hub(base.clone(), id.clone()),
        Some(ModelRef::Files(names)) => {
            return state.error.set(Some(format!(
                "this link's vectors were made with a model read from disk ({names}): load those files, then press \"Decode the link's vectors\""
            )));
        }
        None => return state.error.set(Some("this link names no model: load the one it was made with, then press \"Decode the link's vectors\"".into())),
    };
    load(state, source, DevicePreference::parse("auto"), Place::Worker).await;
    if state.info().is_none() {
        let why = match state.model.get_untracked() {
            ModelStatus::Failed(e) => e,
            _ => "it did not load".into(),
        };
        let name = model.map(|m| m.describe()).unwrap_or_default();
        return state.error.set(Some(format!("the link's model {name} did not load: {why}")));
    }
    decode_shared(state).await;
}

/// Original and reconstruction, metrics, export.
#[component]
pub fn Reconstruction(state: AppState) -> impl IntoView {
    view! {
        {move || state.result.get().map(|r: RunResult| {
            let exact = r.decoded == r.original;
            let metrics = serde_json::to_value(&r.metrics).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
            view! {
                <div class="compare">
                    <div><h3>"Original"</h3><p class="text" data-testid="original">{r.original.clone()}</p>
                        <div class="strip">{marked(&r.original_tokens, &r.decoded_tokens)}</div></div>
                    <div><h3>"Decoded from the vectors alone"</h3><p class="text" data-testid="reconstruction">{r.decoded.clone()}</p>
                        <div class="strip">{marked(&r.decoded_tokens, &r.original_tokens)}</div></div>
                </div>
                <p data-testid="verdict" data-exact={exact.to_string()} class={if exact { "good" } else { "error" }}>
                    {if exact { "Exact: every token came back.".to_string() } else {
                        format!("Not exact ({}): the marked tokens differ; more steps, a higher learning rate or more vectors may help.", r.stop.as_str())
                    }}
                </p>
                <table class="metrics" data-testid="metrics">
                    <tr><th>"field"</th><th>"value"</th></tr>
                    {metrics.into_iter().map(|(k, v)| {
                        let shown = match v.as_f64() { Some(x) if v.is_f64() => format!("{x:.4}"), _ => v.to_string() };
                        view! { <tr><td><code>{k}</code></td><td>{shown}</td></tr> }
                    }).collect_view()}
                </table>
                <p class="muted">"The field names are those of " <code>"cram compress --json"</code> "."</p>
                <div class="row">
                    <button data-testid="export" on:click=move |_| spawn_local(async move { if let Err(e) = export(state).await { state.error.set(Some(e)) } })>"Export .cram"</button>
                    <button data-testid="share" title="a link that carries the vectors: whoever opens it gets the model loaded and the text decoded"
                        on:click=move |_| spawn_local(async move { if let Err(e) = share(state).await { state.error.set(Some(e)) } })>"Share as a link"</button>
                </div>
                {move || state.share_link.get().map(|link| view! {
                    <p>"Send this link: the page it opens loads "
                        <code>{state.loaded_from.get().map(|m| m.describe()).unwrap_or_default()}</code>
                        " and decodes the vectors (" {link.len()} " characters; the vectors ride in the part after #, which no server sees)."</p>
                    <input type="text" readonly size="70" data-testid="share-link" prop:value=link on:focus=move |ev| {
                        let input: HtmlInputElement = event_target(&ev);
                        input.select();
                    } />
                })}
            }
        })}
    }
}

/// Import a `.cram` file (from this page or from `cram compress`) and decode it.
#[component]
pub fn CramImport(state: AppState) -> impl IntoView {
    let pick = move |ev: web_sys::Event| {
        let input: HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|l| l.get(0)) else { return };
        spawn_local(async move {
            state.imported.set(None);
            let result = async {
                if state.info().is_none() {
                    return Err("load the model the file was made with first".to_string());
                }
                let bytes = loading::read_file(&file).await?;
                decode(state, &file.name(), bytes).await
            }
            .await;
            match result {
                Ok(decoded) => state.imported.set(Some(decoded)),
                Err(e) => state.error.set(Some(e)),
            }
        });
    };
    view! {
        <div class="row">
            <label>"Import a .cram file " <input type="file" accept=".cram" data-testid="import" on:change=pick /></label>
        </div>
        {move || state.shared.get().map(|shared| view! {
            <p>"This page's link brought a .cram (" {shared.bytes.len()} " bytes)"
                {shared.model.map(|m| format!(" for {}", m.describe()))} ". "
                <button data-testid="share-decode" disabled=move || state.busy() || state.info().is_none()
                    on:click=move |_| spawn_local(decode_shared(state))>"Decode the link's vectors"</button></p>
        })}
        {move || state.imported.get().map(|d| view! {
            <p>"Decoded: " <span class="text" data-testid="imported">{d.text}</span></p>
            {d.mismatch.map(|why| view! { <p class="error" data-testid="imported-mismatch">"Not the text that was crammed: " {why}</p> })}
        })}
    }
}
