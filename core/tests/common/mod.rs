//! Shared helpers of the integration tests: fixture paths and reference tensors.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::Device;
use cram_core::LoadedModel;

/// `core/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A reference tensor: shape and values (ids converted to f64 exactly).
pub struct RefTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// All tensors of a `reference.safetensors`.
pub fn reference(case: &str) -> HashMap<String, RefTensor> {
    let bytes = std::fs::read(fixture(case).join("reference.safetensors")).expect("reference file");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let data: Vec<f64> = match view.dtype() {
                safetensors::Dtype::F32 => view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
                safetensors::Dtype::I64 => view.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
                other => panic!("unexpected dtype {other:?}"),
            };
            (name, RefTensor { shape: view.shape().to_vec(), data })
        })
        .collect()
}

/// The CPU device.
pub fn cpu() -> Device {
    Device::flex()
}

/// Loads a fixture model folder (or file inside it) on the CPU.
pub fn load(case: &str, file: Option<&str>) -> LoadedModel {
    load_on(case, file, &cpu())
}

/// Loads a fixture model folder (or file inside it) on `device`.
pub fn load_on(case: &str, file: Option<&str>, device: &Device) -> LoadedModel {
    let path = match file {
        Some(f) => fixture(case).join(f),
        None => fixture(case),
    };
    LoadedModel::load_path(&path, device).unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
}

/// The wgpu device, when this build has the `wgpu` feature and the machine an adapter (Mesa's
/// lavapipe counts). Without an adapter the caller should skip, with a message, unless
/// `CRAM_REQUIRE_WGPU=1`, where the absence is a failure (CI installs lavapipe and sets it).
pub fn wgpu_or_skip() -> Option<Device> {
    device_or_skip(cram_core::device::DeviceChoice::Wgpu, "CRAM_REQUIRE_WGPU")
}

/// The first CUDA device (cargo feature `cuda`), as [`wgpu_or_skip`] with `CRAM_REQUIRE_CUDA=1`.
pub fn cuda_or_skip() -> Option<Device> {
    device_or_skip(cram_core::device::DeviceChoice::Cuda, "CRAM_REQUIRE_CUDA")
}

fn device_or_skip(choice: cram_core::device::DeviceChoice, require: &str) -> Option<Device> {
    match choice.device() {
        Ok(device) => Some(device),
        Err(e) if std::env::var(require).is_ok_and(|v| v == "1") => panic!("{require}=1 but {e}"),
        Err(e) => {
            eprintln!("skipping the {choice:?} test: {e}");
            None
        }
    }
}

/// Only the network of a fixture on `device`: a folder (config.json + model.safetensors) or a GGUF
/// file in it. The tiny random checkpoints have no tokenizer, so this skips the tokenizer.
pub fn load_network(case: &str, file: Option<&str>, device: &Device) -> cram_core::Model {
    load_network_as(case, file, device, cram_core::device::Precision::F32)
}

/// [`load_network`] with the weights in `precision` on the device.
pub fn load_network_as(case: &str, file: Option<&str>, device: &Device, precision: cram_core::device::Precision) -> cram_core::Model {
    use cram_core::load::gguf_checkpoint::GgufCheckpoint;
    use cram_core::weights::{Weights, safetensors::SafetensorsFile};
    let dir = fixture(case);
    match file {
        Some(f) => {
            let ckpt = GgufCheckpoint::open(&dir.join(f)).expect("gguf parses");
            cram_core::Model::load(&ckpt.config().expect("config"), &Weights::new(&ckpt, device).with_dtype(precision.dtype())).expect("model loads")
        }
        None => {
            let config = cram_core::ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).expect("config");
            let st = SafetensorsFile::open(&dir.join("model.safetensors")).expect("safetensors parses");
            cram_core::Model::load(&config, &Weights::new(&st, device).with_dtype(precision.dtype())).expect("model loads")
        }
    }
}

/// Largest absolute difference; panics on a length mismatch.
pub fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (*x as f64 - y).abs()).fold(0.0, f64::max)
}

/// The real default model, if present. In CI (CI=true) its absence is a failure.
pub fn smollm2_path() -> Option<PathBuf> {
    let path = cram_core::aliases::alias_path(cram_core::aliases::DEFAULT_MODEL).expect("the default model is an alias");
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{} is missing in CI: run bash scripts/fetch-default-model.sh", path.display());
    }
    eprintln!("skipping: {} not found (bash scripts/fetch-default-model.sh fetches it)", path.display());
    None
}
