//! `.cram`, `.lmz` and encoder files (all safetensors with metadata) on arbitrary bytes: each parser
//! either refuses the bytes or returns a file, which is written out again and re-read (the writers
//! see parsed, hostile values too); nothing may panic. Encoder files are read for the tiny Llama
//! fixture (loaded once), the model their seed was made with.
#![no_main]

use std::sync::OnceLock;

use cram_core::LoadedModel;
use cram_core::device::DeviceChoice;
use cram_core::encoder::file::EncoderFile;
use cram_core::format::CramFile;
use cram_core::lmzip::LmzFile;
use cram_core::weights::Bytes;
use libfuzzer_sys::fuzz_target;

const TINY_LLAMA: &[u8] = include_bytes!("../../core/tests/fixtures/llama_gguf/tiny-llama.gguf");
static MODEL: OnceLock<LoadedModel> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = CramFile::from_bytes(data, "fuzz.cram") {
        // What `cram info` shows without a model, and a round trip through the writer.
        let _ = format!("{:?}", file.model);
        if let Ok(bytes) = file.to_bytes() {
            let _ = CramFile::from_bytes(&bytes, "fuzz-roundtrip.cram");
        }
    }
    if let Ok(file) = LmzFile::from_bytes(data, "fuzz.lmz") {
        let _ = file.code_bits();
        if let Ok(bytes) = file.to_bytes() {
            let _ = LmzFile::from_bytes(&bytes, "fuzz-roundtrip.lmz");
        }
    }
    let lm = MODEL.get_or_init(|| {
        let device = DeviceChoice::Cpu.device().expect("the CPU device");
        LoadedModel::from_gguf_bytes("tiny-llama.gguf", Bytes::Owned(TINY_LLAMA.to_vec()), &device, None).expect("the tiny Llama fixture")
    });
    if let Ok(file) = EncoderFile::from_bytes(data.to_vec(), "fuzz-encoder.safetensors", lm) {
        if let Ok(bytes) = file.to_bytes() {
            let _ = EncoderFile::from_bytes(bytes, "fuzz-roundtrip.safetensors", lm);
        }
    }
});
