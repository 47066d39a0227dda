//! The compute side the views never touch directly: the device (WebGPU first, the CPU as a clearly
//! labelled fallback) and the loaded model. The page is single-threaded, so both live in a
//! thread-local rather than in (thread-safe) signals.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::Device;
use cram_core::LoadedModel;

/// Which device the person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePreference {
    /// WebGPU when the browser has an adapter, else the CPU.
    Auto,
    /// The CPU backend (burn flex, single-threaded in the browser).
    Cpu,
}

impl DevicePreference {
    /// From the `<select>` value.
    pub fn parse(s: &str) -> Self {
        if s == "cpu" { Self::Cpu } else { Self::Auto }
    }
}

/// A device and how the page names it.
#[derive(Clone)]
pub struct ChosenDevice {
    /// The device.
    pub device: Device,
    /// Whether it is the GPU.
    pub gpu: bool,
    /// The label shown on the page.
    pub label: String,
}

thread_local! {
    static GPU: RefCell<Option<Device>> = const { RefCell::new(None) };
    static MODEL: RefCell<Option<Rc<LoadedModel>>> = const { RefCell::new(None) };
}

/// The device for `pref`. The WebGPU runtime can be initialised once per page, so it is kept.
pub async fn choose_device(pref: DevicePreference) -> ChosenDevice {
    let cpu = |why: &str| ChosenDevice { device: Device::flex(), gpu: false, label: format!("CPU ({why})") };
    if pref == DevicePreference::Cpu {
        return cpu("chosen; single-threaded wasm");
    }
    if let Some(device) = GPU.with(|g| g.borrow().clone()) {
        return ChosenDevice { device, gpu: true, label: "WebGPU".into() };
    }
    match Device::wgpu_options().init_async().await {
        Ok(device) => {
            GPU.with(|g| *g.borrow_mut() = Some(device.clone()));
            ChosenDevice { device, gpu: true, label: "WebGPU".into() }
        }
        Err(e) => cpu(&format!("fallback: this browser has no usable WebGPU adapter ({e})")),
    }
}

/// Keeps `lm` as the page's model.
pub fn set_model(lm: LoadedModel) {
    MODEL.with(|m| *m.borrow_mut() = Some(Rc::new(lm)));
}

/// The page's model, if one is loaded.
pub fn model() -> Option<Rc<LoadedModel>> {
    MODEL.with(|m| m.borrow().clone())
}
