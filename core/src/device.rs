//! Choosing where tensors live: the CPU (burn's `flex` backend, multi-threaded natively), wgpu
//! (Vulkan/Metal natively, WebGPU in the browser) or CUDA, the last two behind cargo features.

use burn::tensor::Device;

use crate::{Error, Result};

/// A device choice, as the `--device` flag spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// burn's `flex` CPU backend.
    #[default]
    Cpu,
    /// wgpu: Vulkan, Metal or WebGPU (cargo feature `wgpu`).
    Wgpu,
    /// CUDA (cargo feature `cuda`).
    Cuda,
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "wgpu" | "vulkan" | "gpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda),
            other => Err(Error::Input(format!("unknown device `{other}`; choose cpu, wgpu or cuda"))),
        }
    }
}

impl DeviceChoice {
    /// The device, or a clear error when this build lacks the backend or (wgpu) the machine has no
    /// adapter.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            DeviceChoice::Wgpu => wgpu_device(),
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => Err(Error::Input(format!(
                "this build of cram has no {other:?} backend; rebuild with `--features {}`",
                format!("{other:?}").to_lowercase()
            ))),
        }
    }
}

/// The default wgpu adapter, brought up once per process. Initialising it eagerly (rather than
/// letting the first tensor operation do it) turns a machine without an adapter into an error
/// instead of a panic deep inside a kernel launch. Native only: in the browser the device must be
/// initialised with `Device::wgpu_options().init_async().await`.
#[cfg(all(feature = "wgpu", not(target_family = "wasm")))]
fn wgpu_device() -> Result<Device> {
    static WGPU: std::sync::OnceLock<std::result::Result<Device, String>> = std::sync::OnceLock::new();
    WGPU.get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string())).clone().map_err(|e| {
        Error::Device(format!(
            "no wgpu adapter: {e} (without a GPU, Mesa's lavapipe gives a CPU Vulkan adapter: \
             apt-get install mesa-vulkan-drivers libvulkan1)"
        ))
    })
}

/// In the browser: the lazily initialised default device (initialise it asynchronously first).
#[cfg(all(feature = "wgpu", target_family = "wasm"))]
fn wgpu_device() -> Result<Device> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}
