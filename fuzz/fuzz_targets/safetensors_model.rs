//! A Hugging Face model folder on arbitrary bytes. The input is split in two: the first two bytes
//! (little endian) are the length of a `config.json`, which follows; the rest is `model.safetensors`.
//! Parsed as the loader parses them (config, safetensors header, every tensor converted to f32),
//! then loaded whole as a model with the tiny Llama fixture's fixed `tokenizer.json`.
#![no_main]

use cram_core::device::DeviceChoice;
use cram_core::weights::safetensors::SafetensorsFile;
use cram_core::weights::{Bytes, TensorSource};
use cram_core::{LoadedModel, ModelConfig};
use libfuzzer_sys::fuzz_target;

const TOKENIZER_JSON: &[u8] = include_bytes!("../../core/tests/fixtures/llama_gguf/tokenizer.json");

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else { return };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (config, weights) = rest.split_at(len);
    let config = String::from_utf8_lossy(config);

    let parsed = ModelConfig::from_json(&config);
    if let Ok(file) = SafetensorsFile::from_bytes("fuzz.safetensors", Bytes::Owned(weights.to_vec())) {
        let _ = file.user_metadata();
        for name in file.names() {
            if let Ok(Some(t)) = file.tensor(&name) {
                std::hint::black_box(t.data.len());
            }
        }
    }
    if parsed.is_err() {
        return;
    }
    let device = DeviceChoice::Cpu.device().expect("the CPU device");
    let shards = vec![("model.safetensors".to_string(), Bytes::Owned(weights.to_vec()))];
    let _ = LoadedModel::from_hf_bytes("fuzz", &config, TOKENIZER_JSON, shards, &device, None);
});
