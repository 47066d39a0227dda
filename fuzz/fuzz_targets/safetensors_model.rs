//! A Hugging Face model folder on arbitrary bytes. The input is split in two: the first two bytes
//! (little endian) are the length of a `config.json`, which follows; the rest is `model.safetensors`.
//! Parsed as the loader parses them (config, safetensors header, every tensor converted to f32),
//! then the same parsed file loaded whole as a model with the tiny Llama fixture's fixed
//! `tokenizer.json` (parsed once: the tokenizer is not what this target fuzzes, and parsing it per
//! input cost most of each run). The seeds (fuzz/seeds.py) are models of width 8 with its vocabulary.
#![no_main]

use std::sync::OnceLock;

use cram_core::device::{DeviceChoice, Precision};
use cram_core::tokenizer::Tokenizer;
use cram_core::weights::safetensors::{SafetensorsFile, ShardedSafetensors};
use cram_core::weights::{Bytes, TensorSource};
use cram_core::{LoadedModel, ModelConfig};
use libfuzzer_sys::fuzz_target;

const TOKENIZER_JSON: &[u8] = include_bytes!("../../core/tests/fixtures/llama_gguf/tokenizer.json");
static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else { return };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (config, weights) = rest.split_at(len);
    let config = String::from_utf8_lossy(config);

    let parsed = ModelConfig::from_json(&config);
    let Ok(file) = SafetensorsFile::from_bytes("model.safetensors", Bytes::Owned(weights.to_vec())) else { return };
    let _ = file.user_metadata();
    for name in file.names() {
        if let Ok(Some(t)) = file.tensor(&name) {
            std::hint::black_box(t.data.len());
        }
    }
    let Ok(parsed) = parsed else { return };
    let device = DeviceChoice::Cpu.device().expect("the CPU device");
    let tokenizer = TOKENIZER.get_or_init(|| Tokenizer::from_json_bytes(TOKENIZER_JSON, "tokenizer.json").expect("the fixture's tokenizer")).clone();
    let source = ShardedSafetensors::new(vec![file]);
    let _ = LoadedModel::build(parsed, &source, tokenizer, &device, "fuzz", "safetensors", None, Precision::F32);
});
