//! # cram-app
//!
//! The browser face of cram: load a model, cram a text into a few input vectors, watch it converge,
//! get the text back, and move `.cram` files to and from the CLI. A thin UI over `cram-core`:
//!
//! - [`state`]: the page's signals ([`state::AppState`]) and the data they hold.
//! - [`loading`]: model bytes from a same-origin URL (Cache Storage), a hub id or picked files.
//! - [`protocol`]: the requests and events between the page and its compute side, typed.
//! - [`compute`]: everything that touches the model (load, run, export, import), answering requests
//!   with events; [`engine`]: its device (WebGPU first, CPU fallback) and model.
//! - [`backend`]: where the compute side runs: a Web Worker (default) or the page's own thread.
//! - [`run`]: one compression run as the page sees it, feeding the live views; Stop.
//! - [`cram_io`]: `.cram` export and import, byte-compatible with `cram compress` / `decompress`;
//!   [`share`]: a `.cram` sent as a link (in the URL fragment), with the model it needs named.
//! - [`views`]: the components.
#![cfg(target_arch = "wasm32")]

pub mod backend;
pub mod compute;
pub mod cram_io;
pub mod engine;
pub mod loading;
pub mod protocol;
pub mod run;
pub mod share;
pub mod state;
pub mod views;

pub use views::App;

/// Installs the panic hooks and mounts [`App`] on the page's `<body>`; in the app's Web Worker (the same
/// module, started by [`backend::start_worker`]) starts answering the page instead.
pub fn start() {
    if engine::in_worker() {
        std::panic::set_hook(Box::new(|info| {
            console_error_panic_hook::hook(info);
            backend::worker_stopped(&info.to_string());
        }));
        return backend::register_worker();
    }
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_fatal(&info.to_string());
    }));
    leptos::mount::mount_to_body(App);
}

/// Shows an unrecoverable error (a panic: a bug, a GPU that refused the work) in the page's `#fatal` box,
/// which lives outside the Leptos tree so it works when the app itself is gone.
fn show_fatal(message: &str) {
    let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("fatal")) else {
        return;
    };
    let hint = if message.contains("Device") || message.contains("device") || message.contains("wgpu") {
        "The GPU device was lost or refused the work. Reload the page, or load the model on the CPU."
    } else {
        "Reload the page to start again."
    };
    el.set_text_content(Some(&format!("The app stopped: {message}. {hint}")));
    let _ = el.remove_attribute("hidden");
}
