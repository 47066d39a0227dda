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
    /// The device, or a clear error when this build lacks the backend.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            DeviceChoice::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
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
