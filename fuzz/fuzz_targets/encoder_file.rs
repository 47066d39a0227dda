//! Encoder files (`cram encoder train`; safetensors with metadata) on arbitrary bytes, read for the
//! tiny Llama fixture (loaded once), the model the seed was made with: the parser either refuses the
//! bytes or returns a file, which is written out again and re-read; nothing may panic.
#![no_main]

use std::sync::OnceLock;

use cram_core::LoadedModel;
use cram_core::device::DeviceChoice;
use cram_core::encoder::file::EncoderFile;
use cram_core::weights::Bytes;
use libfuzzer_sys::fuzz_target;

const TINY_LLAMA: &[u8] = include_bytes!("../../core/tests/fixtures/llama_gguf/tiny-llama.gguf");
static MODEL: OnceLock<LoadedModel> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let lm = MODEL.get_or_init(|| {
        let device = DeviceChoice::Cpu.device().expect("the CPU device");
        LoadedModel::from_gguf_bytes("tiny-llama.gguf", Bytes::Owned(TINY_LLAMA.to_vec()), &device, None).expect("the tiny Llama fixture")
    });
    if let Ok(file) = EncoderFile::from_bytes(data.to_vec(), "fuzz-encoder.safetensors", lm)
        && let Ok(bytes) = file.to_bytes()
    {
        let _ = EncoderFile::from_bytes(bytes, "fuzz-roundtrip.safetensors", lm);
    }
});
