//! The end of a run: the reconstruction beside the original with differing tokens marked, the CLI's
//! metrics (same field names), `.cram` export; and the import of a `.cram` file.

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::HtmlInputElement;

use crate::compute::{Event, Request};
use crate::state::{AppState, RunResult};
use crate::{backend, cram_io, loading, run};

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

/// The last run as a `.cram` download (written by the compute side, as `cram compress` writes it).
async fn export(state: AppState) -> Result<(), String> {
    match backend::ask(run::place(&state), Request::Export).await {
        Event::Exported(bytes) => cram_io::download(&bytes, "page.cram"),
        Event::Failed(e) => Err(e),
        other => Err(format!("export: unexpected answer {other:?}")),
    }
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
                        format!("Not exact ({}): the marked tokens differ; more steps, a higher learning rate or more vectors may help.", r.stop)
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
                <button data-testid="export" on:click=move |_| spawn_local(async move { if let Err(e) = export(state).await { state.error.set(Some(e)) } })>"Export .cram"</button>
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
                match backend::ask(run::place(&state), Request::Import { name: file.name(), bytes }).await {
                    Event::Imported(text) => Ok(text),
                    Event::Failed(e) => Err(e),
                    other => Err(format!("import: unexpected answer {other:?}")),
                }
            }
            .await;
            match result {
                Ok(text) => state.imported.set(Some(text)),
                Err(e) => state.error.set(Some(e)),
            }
        });
    };
    view! {
        <div class="row">
            <label>"Import a .cram file " <input type="file" accept=".cram" data-testid="import" on:change=pick /></label>
        </div>
        {move || state.imported.get().map(|t| view! { <p>"Decoded: " <span class="text" data-testid="imported">{t}</span></p> })}
    }
}
