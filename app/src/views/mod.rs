//! The components of the page, top to bottom: the model picker, the gallery, the controls, the live views (and
//! methods side by side, how the text locks in, the capacity experiment), the result, the `.cram` import, and the teaching walk.

mod bits;
mod capacity;
mod compare;
mod controls;
mod gallery;
mod geometry;
mod live;
mod lockin;
mod model_picker;
mod result;
mod teach;

use leptos::prelude::*;

use crate::protocol::Event;
use crate::state::{AppState, ModelStatus, RunPhase};
use crate::{backend, engine, run};

pub use bits::BitChart;
pub use capacity::CapacityPlot;
pub use compare::SideBySide;
pub use controls::Controls;
pub use gallery::GalleryView;
pub use geometry::VectorGeometryView;
pub use live::{Curves, HeatStrip, TokenStrip};
pub use lockin::LockIn;
pub use model_picker::ModelPicker;
pub use result::{CramImport, Reconstruction, open_link};
pub use teach::Teaching;

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    backend::on_unasked(move |event| {
        if let Event::GpuLost(why) = event {
            on_gpu_lost(state, &why);
        }
    });
    // Started at once, so that the worker's wasm is ready by the time a model is loaded.
    let _ = backend::start_worker();
    // A Share link: load the model it names and decode the vectors it carries.
    leptos::task::spawn_local(open_link(state));
    view! {
        <header>
            <h1>"cram"</h1>
            <p class="lead">"Cram a text into the input vectors of a frozen language model, and get it back by greedy decoding from those vectors alone."</p>
            <button class="link" data-testid="teach-toggle" on:click=move |_| state.teaching.update(|t| *t = !*t)>
                {move || if state.teaching.get() { "Close the guided walk" } else { "Guided walk: how does this work?" }}
            </button>
        </header>
        <Teaching state=state />
        <section class="card">
            <h2>"1. Model"</h2>
            <ModelPicker state=state />
        </section>
        <section class="card">
            <h2>"Gallery: decode vectors crammed earlier"</h2>
            <GalleryView state=state />
        </section>
        <section class="card">
            <h2>"2. Text and recipe"</h2>
            <Controls state=state />
        </section>
        <section class="card">
            <h2>"3. Cramming"</h2>
            <TokenStrip pieces=state.pieces correct=state.correct greedy=state.greedy method=state.method />
            <Curves curve=state.curve steps_per_second=state.steps_per_second />
            <HeatStrip heat=state.heat width=Signal::derive(move || state.info().map_or(1, |i| i.hidden)) />
            <LockIn state=state />
            <SideBySide state=state />
            <CapacityPlot points=state.capacity running=state.capacity_running />
        </section>
        <section class="card">
            <h2>"4. Back again"</h2>
            <Reconstruction state=state />
            <VectorGeometryView result=state.result />
            <BitChart result=state.result />
            <CramImport state=state />
        </section>
        <footer>"cram-core " {cram_core::VERSION} " · Kuratov et al., \"Cramming 1568 Tokens into a Single Vector and Back Again\" (ACL 2025)"</footer>
    }
}

/// The browser took the WebGPU device away (in the worker or on the page; the compute side has dropped
/// the model and stopped its run): the page says why and what to do (load again, on the CPU), and
/// stays usable.
fn on_gpu_lost(state: AppState, why: &str) {
    let on_gpu = matches!(state.model.get_untracked(), ModelStatus::Ready(info) if info.gpu);
    if !on_gpu {
        return;
    }
    let message = engine::gpu_lost_message(why);
    state.model.set(ModelStatus::Failed(message.clone()));
    // A run on the device is abandoned; one that failed on it (a readback can fail before the loss
    // is reported) is explained by the loss.
    let phase = state.phase.get_untracked();
    if matches!(phase, RunPhase::Running | RunPhase::Decoding) {
        run::abandon_run();
    }
    if matches!(phase, RunPhase::Running | RunPhase::Decoding | RunPhase::Failed) {
        state.error.set(Some(message));
        state.phase.set(RunPhase::Failed);
    }
}

/// `1234567` → `1.2 MB`.
pub fn human_bytes(n: u64) -> String {
    if n >= 1_000_000 { format!("{:.1} MB", n as f64 / 1e6) } else { format!("{:.0} kB", n as f64 / 1e3) }
}
