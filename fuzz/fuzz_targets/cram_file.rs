//! `.cram` and `.lmz` files (both safetensors with metadata) on arbitrary bytes: each parser either
//! refuses the bytes or returns a file, which is written out again and re-read (the writers see
//! parsed, hostile values too); nothing may panic.
#![no_main]

use cram_core::format::CramFile;
use cram_core::lmzip::LmzFile;
use libfuzzer_sys::fuzz_target;

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
});
