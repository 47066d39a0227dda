//! The gallery: `.cram` files that `cram compress` made for the default model (`app/gallery/`, made
//! by `scripts/app-gallery.sh`, served as `gallery/`), each decoded on a click without training, so a
//! class on slow laptops still explores: a sentence, a limerick, random words, a paragraph at the edge
//! of what one vector holds, and one that did not cram completely, with what it decodes to instead.

use std::collections::HashMap;

use cram_core::format::Decoded;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;

use super::model_picker::{Source, load, now};
use super::result::decode;
use crate::backend::Place;
use crate::loading;
use crate::protocol::DevicePreference;
use crate::share::ModelRef;
use crate::state::{AppState, ModelStatus};

/// Where the page finds the gallery's list.
pub const GALLERY_URL: &str = "gallery/gallery.json";

/// `gallery.json`, as `scripts/app-gallery.sh` writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Gallery {
    /// The same-origin URL of the model the files were made with.
    pub model: String,
    /// How the files were made.
    pub made_by: String,
    /// The files.
    pub entries: Vec<GalleryEntry>,
}

/// One `.cram` file of the gallery.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GalleryEntry {
    /// Its name (also the test id).
    pub name: String,
    /// What the page calls it.
    pub title: String,
    /// What it shows.
    pub about: String,
    /// The file, beside `gallery.json`.
    pub file: String,
    /// The text that was crammed.
    pub text: String,
    /// Whether the file gives that text back.
    pub exact: bool,
    /// Its tokens.
    pub tokens: usize,
    /// The optimiser steps it took.
    pub steps: usize,
    /// The `cram` command that made it.
    pub made_with: String,
}

/// A click's outcome.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Decoding,
    Done { decoded: Decoded, seconds: f64 },
    Failed(String),
}

/// The gallery's list, or why there is none (a page served without `gallery/`).
async fn fetch_gallery() -> Result<Gallery, String> {
    let bytes = loading::fetch_fresh(GALLERY_URL).await?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{GALLERY_URL}: {e}"))
}

/// Decodes one file: loads the gallery's model first when another (or none) is loaded.
async fn decode_entry(state: AppState, model: String, entry: GalleryEntry) -> Result<(Decoded, f64), String> {
    let wanted = ModelRef::Url(model.clone());
    if state.info().is_none() || state.loaded_from.get_untracked().as_ref() != Some(&wanted) {
        load(state, Source::Url(model.clone()), DevicePreference::Auto, Place::Worker).await;
        if state.info().is_none() {
            let why = match state.model.get_untracked() {
                ModelStatus::Failed(e) => e,
                _ => "it did not load".into(),
            };
            return Err(format!("the gallery's model {model} did not load: {why}"));
        }
    }
    let bytes = loading::fetch_fresh(&format!("gallery/{}", entry.file)).await?;
    let started = now();
    let decoded = decode(state, &entry.file, bytes).await?;
    Ok((decoded, now() - started))
}

/// The gallery card: each file with a Decode button; the text it decodes to, how long that took, and
/// whether it is the text crammed.
#[component]
pub fn GalleryView(state: AppState) -> impl IntoView {
    let gallery: RwSignal<Option<Result<Gallery, String>>> = RwSignal::new(None);
    let outcomes: RwSignal<HashMap<String, Outcome>> = RwSignal::new(HashMap::new());
    spawn_local(async move { gallery.set(Some(fetch_gallery().await)) });
    let decoding = move || outcomes.with(|o| o.values().any(|x| *x == Outcome::Decoding));
    let click = move |model: String, entry: GalleryEntry| {
        let name = entry.name.clone();
        outcomes.update(|o| drop(o.insert(name.clone(), Outcome::Decoding)));
        spawn_local(async move {
            let outcome = match decode_entry(state, model, entry).await {
                Ok((decoded, seconds)) => Outcome::Done { decoded, seconds },
                Err(e) => Outcome::Failed(e),
            };
            outcomes.update(|o| drop(o.insert(name, outcome)));
        });
    };
    move || match gallery.get() {
        None => view! { <p class="muted">"Looking for the gallery…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="muted" data-testid="gallery-missing">"No gallery with this page (" {e} ")."</p> }.into_any(),
        Some(Ok(g)) => {
            let model = g.model.clone();
            view! {
                <p class="muted">"Vectors crammed earlier for " <code>{g.model.clone()}</code> " (" {g.made_by.clone()} "). "
                    "Decoding one needs no training: the model reads the vectors and writes the text, token by token."</p>
                <div data-testid="gallery">
                {g.entries.into_iter().map(|entry| {
                    let name = entry.name.clone();
                    let (model, clicked) = (model.clone(), entry.clone());
                    let outcome = {
                        let name = name.clone();
                        move || outcomes.with(|o| o.get(&name).cloned())
                    };
                    let made = if entry.exact {
                        format!("{} tokens, crammed in {} steps", entry.tokens, entry.steps)
                    } else {
                        format!("{} tokens, stopped after {} steps before it was exact", entry.tokens, entry.steps)
                    };
                    view! {
                        <div class="gallery-entry" data-testid=format!("gallery-{name}")>
                            <div class="row">
                                <b>{entry.title.clone()}</b>
                                <span class="muted" title=entry.made_with.clone()>{entry.about.clone()} " · " {made}</span>
                                <button data-testid=format!("gallery-decode-{name}") disabled=move || state.busy() || decoding()
                                    on:click=move |_| click(model.clone(), clicked.clone())>"Decode"</button>
                            </div>
                            {move || outcome().map(|o| match o {
                                Outcome::Decoding => view! { <p class="muted">"Decoding…"</p> }.into_any(),
                                Outcome::Failed(e) => view! { <p class="error" data-testid="gallery-error">{e}</p> }.into_any(),
                                Outcome::Done { decoded, seconds } => view! {
                                    <p>"Decoded in " <span data-testid="gallery-seconds">{format!("{seconds:.1}")}</span> " s: "
                                        <span class="text" data-testid=format!("gallery-decoded-{}", entry.name)>{decoded.text.clone()}</span></p>
                                    {match decoded.mismatch {
                                        None => view! { <p class="good" data-testid="gallery-verdict" data-exact="true">"The text that was crammed, every token."</p> }.into_any(),
                                        Some(_) => view! {
                                            <p class="error" data-testid="gallery-verdict" data-exact="false">"Not the text that was crammed, which was:"</p>
                                            <p class="text">{entry.text.clone()}</p>
                                        }.into_any(),
                                    }}
                                }.into_any(),
                            })}
                        </div>
                    }
                }).collect_view()}
                </div>
            }
            .into_any()
        }
    }
}
