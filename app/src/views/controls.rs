//! The text box and the recipe (the core's recipes and methods, by their lists, so a new method
//! appears here with no line of this file): tokens, vectors, recipe (fast or paper), method, learning rate, step
//! budget; Compress, Compare (two methods side by side) and Stop.

use cram_core::methods::{MethodName, Recipe};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::protocol::{Event, Request};
use crate::state::{AppState, LEARNED_START_URL, RunPhase};
use crate::{backend, loading, run};

/// A number input bound to a signal; bad input keeps the old value.
#[component]
fn NumberField<T>(label: &'static str, testid: &'static str, value: RwSignal<T>, step: &'static str) -> impl IntoView
where
    T: std::str::FromStr + std::fmt::Display + Clone + Send + Sync + 'static,
{
    view! {
        <label>{label}" "
            <input type="number" step=step data-testid=testid prop:value=move || value.get().to_string()
                on:change=move |ev| { if let Ok(v) = event_target_value(&ev).trim().parse::<T>() { value.set(v) } } />
        </label>
    }
}

/// Ticks or unticks "learned start": the start's bytes (fetched here, kept in Cache Storage) go to
/// the compute side, which checks them against the loaded model; a start for another model is one
/// sentence and the box stays unticked.
async fn use_learned_start(state: AppState, on: bool) {
    let bytes = if on {
        match loading::fetch_cached(LEARNED_START_URL, &|_, _| {}).await {
            Ok((bytes, _)) => Some(bytes),
            Err(e) => {
                state.learned_start.set(false);
                return state.error.set(Some(format!("the learned start: {e}")));
            }
        }
    } else {
        None
    };
    match backend::ask(run::place(&state), Request::UseStart { bytes }).await {
        Event::Done => {
            state.error.set(None);
            state.learned_start.set(on);
        }
        Event::Failed(e) => {
            state.learned_start.set(false);
            state.error.set(Some(e));
        }
        other => state.error.set(Some(format!("learned start: unexpected answer {other:?}"))),
    }
}

/// The controls section.
#[component]
pub fn Controls(state: AppState) -> impl IntoView {
    // The compute side counts (it has the tokenizer); an answer to an older text is dropped.
    let token_count = RwSignal::new(None::<usize>);
    let asked = RwSignal::new(0u64);
    Effect::new(move |_| {
        let text = state.text.get();
        if state.info().is_none() {
            return token_count.set(None);
        }
        asked.update(|n| *n += 1);
        let mine = asked.get_untracked();
        spawn_local(async move {
            if let Event::TokenCount(n) = backend::ask(run::place(&state), Request::CountTokens { text }).await
                && asked.get_untracked() == mine
            {
                token_count.set(n);
            }
        });
    });
    view! {
        <textarea rows="4" data-testid="text" prop:value=move || state.text.get() on:input=move |ev| state.text.set(event_target_value(&ev))></textarea>
        <p class="muted">{move || {
            match token_count.get() { Some(n) => format!("{n} tokens with this model's tokenizer"), None => "load a model to count tokens".into() }
        }}</p>
        <div class="row">
            <NumberField label="tokens (0 = all)" testid="tokens" value=state.tokens step="1" />
            <NumberField label="vectors" testid="mem" value=state.mem step="1" />
            <NumberField label="learning rate" testid="lr" value=state.lr step="any" />
            <NumberField label="max steps" testid="max-steps" value=state.max_steps step="1" />
            <NumberField label="rank (lowdim, lora; 0 = default)" testid="rank" value=state.rank step="1" />
            <label title="a starting point: sets the method and the learning rate">"recipe "
                <select data-testid="recipe" on:change=move |ev| {
                    if let Some(recipe) = Recipe::ALL.into_iter().find(|r| r.as_str() == event_target_value(&ev)) {
                        state.method.set(recipe.method().kind());
                        state.lr.set(recipe.lr());
                    }
                }>
                    {Recipe::ALL.map(|r| view! { <option value=r.as_str()>{format!("{}: {}", r.as_str(), r.summary())}</option> }).collect_view()}
                </select>
            </label>
            <label>"method "
                <select data-testid="method" on:change=move |ev| if let Ok(m) = event_target_value(&ev).parse() { state.method.set(m) }>
                    {MethodName::ALL.map(|m| view! {
                        <option value=m.as_str() selected=move || state.method.get() == m>{format!("{m}: {}", m.summary())}</option>
                    }).collect_view()}
                </select>
            </label>
            <label title="start from values meta-trained over many texts for the default model and recipe (cram start train): fewer steps. Ticked when the default model loads; another method or vector count starts from random">
                <input type="checkbox" data-testid="learned-start" prop:checked=move || state.learned_start.get()
                    disabled=move || state.busy() || state.info().is_none()
                    on:change=move |ev| spawn_local(use_learned_start(state, event_target_checked(&ev))) />
                " learned start"
            </label>
            <label>"compare with "
                <select data-testid="compare-method" on:change=move |ev| state.compare_with.set(event_target_value(&ev).parse().ok())>
                    <option value="">"(none)"</option>
                    {MethodName::ALL.map(|m| view! { <option value=m.as_str()>{m.as_str()}</option> }).collect_view()}
                </select>
            </label>
        </div>
        <div class="row">
            <button class="primary" data-testid="compress"
                disabled=move || state.busy() || state.info().is_none()
                on:click=move |_| spawn_local(run::compress(state))>"Compress"</button>
            <button data-testid="capacity-run" title="the same text crammed at 4, 8, 16, ... tokens with this recipe, until a length does not come back exact: the paper's capacity figure, live"
                disabled=move || state.busy() || state.info().is_none()
                on:click=move |_| spawn_local(run::capacity(state))>"Capacity experiment"</button>
            <button data-testid="compare" title="the chosen method, then the one to compare with, on the same text"
                disabled=move || state.busy() || state.info().is_none() || state.compare_with.get().is_none()
                on:click=move |_| spawn_local(run::compare(state))>"Compare side by side"</button>
            <button data-testid="stop" disabled=move || state.phase.get() != RunPhase::Running on:click=move |_| run::request_stop(state)>"Stop"</button>
            <span data-testid="run-state" data-state=move || state.phase.get().as_str()>{move || match state.phase.get() {
                RunPhase::Idle => String::new(),
                RunPhase::Running => format!("running · {:.1} steps/s", state.steps_per_second.get()),
                RunPhase::Decoding => "decoding from the vectors…".into(),
                RunPhase::Done => "done".into(),
                RunPhase::Stopped => "stopped: the best vectors so far are kept".into(),
                RunPhase::Failed => "failed".into(),
            }}</span>
        </div>
        {move || state.error.get().map(|e| view! { <p class="error" data-testid="error">{e}</p> })}
    }
}
