//! Choosing where tensors live: the CPU (burn's `flex` backend, multi-threaded natively), wgpu
//! (Vulkan/Metal natively, WebGPU in the browser) or CUDA, the last two behind cargo features.

pub use burn::tensor::Device;
use burn::tensor::FloatDType;

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
            DeviceChoice::Cuda => cuda_device(),
            #[allow(unreachable_patterns)]
            other => Err(Error::Input(format!(
                "this build of cram has no {other:?} backend; rebuild cram with its cargo feature `{}`",
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

/// The first CUDA device, brought up with one tiny tensor so that a machine without a CUDA driver or
/// device gives one error here instead of a panic at the first real operation (burn initialises
/// CUDA lazily and panics when it cannot).
#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device> {
    use burn::tensor::{DeviceType, Tensor};
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probe = std::panic::catch_unwind(|| {
        if Device::enumerate(DeviceType::Cuda).is_empty() {
            return Err("no CUDA device found".to_string());
        }
        let device = Device::cuda(0);
        Tensor::<1>::zeros([1], &device).into_data();
        Ok(device)
    });
    std::panic::set_hook(quiet);
    match probe {
        Ok(Ok(device)) => Ok(device),
        Ok(Err(e)) => Err(Error::Device(e)),
        Err(panic) => {
            let why = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            Err(Error::Device(format!("CUDA is not usable here (no driver or device?): {}", why.lines().next().unwrap_or("unknown error"))))
        }
    }
}

/// In the browser: the lazily initialised default device (initialise it asynchronously first).
#[cfg(all(feature = "wgpu", target_family = "wasm"))]
fn wgpu_device() -> Result<Device> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

/// The dtype of the weights on the device, as the `--dtype` flag spells it. Whatever it is, the
/// trainable vectors, their gradients and the optimiser state are f32 (the paper's setup: bf16
/// autocast for the Llama family, an f32 memory vector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats (the CPU's default, and the reference).
    #[default]
    F32,
    /// bfloat16: the range of f32 with 8 bits of mantissa (Vulkan with bf16 arithmetic, CUDA).
    Bf16,
    /// IEEE half precision (WebGPU with `shader-f16`, Vulkan).
    F16,
}

impl Precision {
    /// The burn dtype.
    pub fn dtype(self) -> FloatDType {
        match self {
            Precision::F32 => FloatDType::F32,
            Precision::Bf16 => FloatDType::BF16,
            Precision::F16 => FloatDType::F16,
        }
    }

    /// The name `--dtype` takes and files record.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }

    /// Bytes per value.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::Bf16 | Precision::F16 => 2,
        }
    }

    /// The default on `device`: f32 on the CPU (bf16 there is converted to f32 for every product:
    /// slower, no smaller at run time); on a GPU bf16 where the device computes in it, else f32.
    pub fn default_for(device: &Device) -> Self {
        if is_cpu(device) || !device.supports_dtype(FloatDType::BF16) { Precision::F32 } else { Precision::Bf16 }
    }

    /// One clear error when `device` cannot compute in this dtype (many Vulkan drivers store bf16
    /// but have no bf16 arithmetic; WebGPU has no bf16 at all and f16 only with `shader-f16`).
    pub fn check(self, device: &Device) -> Result<()> {
        if device.supports_dtype(self.dtype()) {
            return Ok(());
        }
        let other = if device.supports_dtype(FloatDType::F16) { "f16 or f32" } else { "f32" };
        Err(Error::Setting(crate::error::ConfigError::DtypeUnsupported { dtype: self.to_string(), device: format!("{device:?}"), other }))
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" | "float32" => Ok(Precision::F32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "f16" | "float16" | "half" => Ok(Precision::F16),
            other => Err(Error::Input(format!("unknown dtype `{other}`; choose f32, bf16 or f16"))),
        }
    }
}

/// Whether `device` is burn's CPU backend (device equality ignores autodiff).
fn is_cpu(device: &Device) -> bool {
    *device == Device::flex()
}
