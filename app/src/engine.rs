//! The compute side the views never touch directly: the device (WebGPU first, the CPU as a clearly
//! labelled fallback) and the loaded model. Each JavaScript realm (the page, the Web Worker) is
//! single-threaded, so both live in thread-locals of the realm that computes ([`crate::compute`]).

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::Device;
use cram_core::LoadedModel;

use crate::protocol::DevicePreference;

/// A device and how the page names it.
#[derive(Clone)]
pub struct ChosenDevice {
    /// The device.
    pub device: Device,
    /// Whether it is the GPU.
    pub gpu: bool,
    /// The largest buffer the GPU binds (`min(maxStorageBufferBindingSize, maxBufferSize)` of the
    /// adapter, whose limits burn requests); None on the CPU.
    pub max_buffer_bytes: Option<u64>,
    /// The label shown on the page.
    pub label: String,
}

thread_local! {
    static GPU: RefCell<Option<(Device, Option<u64>)>> = const { RefCell::new(None) };
    /// Why the browser took the WebGPU device away, once it has (see [`watch_gpu_loss`]).
    static GPU_LOST: RefCell<Option<String>> = const { RefCell::new(None) };
    static MODEL: RefCell<Option<Rc<LoadedModel>>> = const { RefCell::new(None) };
}

/// The device for `pref`. The WebGPU runtime can be initialised once per page, so it is kept.
pub async fn choose_device(pref: DevicePreference) -> ChosenDevice {
    let cpu = |why: &str| ChosenDevice { device: Device::flex(), gpu: false, max_buffer_bytes: None, label: format!("CPU ({why})") };
    if pref == DevicePreference::Cpu {
        return cpu("chosen; single-threaded wasm");
    }
    if let Some(why) = gpu_lost() {
        return cpu(&format!("fallback: the GPU device was lost ({why}); reload the page to use WebGPU again"));
    }
    let gpu = |device: Device, max_buffer_bytes: Option<u64>| ChosenDevice { device, gpu: true, max_buffer_bytes, label: "WebGPU".into() };
    if let Some((device, max)) = GPU.with(|g| g.borrow().clone()) {
        return gpu(device, max);
    }
    match Device::wgpu_options().init_async().await {
        Ok(device) => {
            let max = adapter_max_buffer_bytes().await;
            GPU.with(|g| *g.borrow_mut() = Some((device.clone(), max)));
            gpu(device, max)
        }
        Err(e) => cpu(&format!("fallback: this browser has no usable WebGPU adapter ({e})")),
    }
}

/// `min(maxStorageBufferBindingSize, maxBufferSize)` of the browser's default WebGPU adapter (burn
/// requests the adapter's own limits), or None when it cannot be read.
async fn adapter_max_buffer_bytes() -> Option<u64> {
    use js_sys::{Promise, Reflect};
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    // `navigator` of the page or of the worker.
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let gpu = Reflect::get(&navigator, &"gpu".into()).ok().filter(|g| !g.is_undefined())?;
    let request: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into()).ok()?.dyn_into().ok()?;
    let promise: Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = JsFuture::from(promise).await.ok().filter(|a| !a.is_null())?;
    let limits = Reflect::get(&adapter, &"limits".into()).ok()?;
    let limit = |name: &str| Reflect::get(&limits, &name.into()).ok().and_then(|v| v.as_f64());
    let bytes = limit("maxStorageBufferBindingSize")?.min(limit("maxBufferSize")?);
    Some(bytes as u64)
}

/// Why the WebGPU device was lost, if it was.
pub fn gpu_lost() -> Option<String> {
    GPU_LOST.with(|l| l.borrow().clone())
}

/// What the page says once the WebGPU device is gone.
pub fn gpu_lost_message(why: &str) -> String {
    format!("The GPU device was lost ({why}). Load the model again: it will run on the CPU. Reload the page to use WebGPU again.")
}

/// Whether this realm is a Web Worker (it has no `window`).
pub fn in_worker() -> bool {
    web_sys::window().is_none()
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
// Forwards the `lost` promise of every WebGPU device this realm (the page or the worker) requests as a
// `cram-gpu-lost` event on the global scope. Called once per realm, before any device is requested.
export function forward_device_loss() {
  if (!globalThis.GPUAdapter || globalThis.GPUAdapter.prototype.cramForwardsLoss) return;
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    device.lost.then((info) => dispatchEvent(new CustomEvent('cram-gpu-lost', { detail: `${info.reason}: ${info.message}` })));
    return device;
  };
  GPUAdapter.prototype.cramForwardsLoss = true;
}
"#)]
extern "C" {
    fn forward_device_loss();
}

/// Calls `on_lost(why)` when the browser takes the WebGPU device away (a driver reset, a GPU that went
/// away, a page that used too much of it). Every device this realm requests forwards its `lost`
/// promise as a `cram-gpu-lost` event; from then on [`choose_device`] falls back to the CPU (a WebGPU
/// runtime cannot be set up twice in one realm). `on_lost` drops a model that lived on the GPU
/// ([`forget_model`]).
pub fn watch_gpu_loss(on_lost: impl Fn(String) + 'static) {
    use wasm_bindgen::JsCast;
    forward_device_loss();
    let global: web_sys::EventTarget = js_sys::global().unchecked_into();
    gloo_events::EventListener::new(&global, "cram-gpu-lost", move |event| {
        let detail = event.dyn_ref::<web_sys::CustomEvent>().and_then(|e| e.detail().as_string());
        let why = detail.map(|d| d.trim_end_matches('.').to_string()).unwrap_or_else(|| "no reason given".into());
        GPU_LOST.with(|l| *l.borrow_mut() = Some(why.clone()));
        on_lost(why);
    })
    .forget();
}

/// Keeps `lm` as the page's model.
pub fn set_model(lm: LoadedModel) {
    MODEL.with(|m| *m.borrow_mut() = Some(Rc::new(lm)));
}

/// Drops the page's model (its device is gone).
pub fn forget_model() {
    MODEL.with(|m| *m.borrow_mut() = None);
}

/// The page's model, if one is loaded.
pub fn model() -> Option<Rc<LoadedModel>> {
    MODEL.with(|m| m.borrow().clone())
}
