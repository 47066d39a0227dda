//! The page's entry point: installs the panic hook and mounts [`cram_app::App`].
#[cfg(target_arch = "wasm32")]
fn main() {
    cram_app::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("cram-app runs in the browser: build it with `trunk build --release` (see docs/browser.md)");
}
