//! The GGUF reader on arbitrary bytes: header, every metadata value, every tensor info, and each
//! tensor dequantised when its f32 copy is small. Errors are fine; a panic, an abort or an
//! allocation the input cannot justify is a bug.
#![no_main]

use cram_core::weights::gguf::{GgufFile, GgufValue};
use libfuzzer_sys::fuzz_target;

/// Tensors whose f32 copy would be larger than this many elements are not dequantised.
const MAX_ELEMENTS: usize = 16 << 20;

/// Touches every value (arrays recursively) through the public accessors.
fn walk(value: &GgufValue) -> usize {
    let _ = (value.as_u64(), value.as_i64(), value.as_f64(), value.as_bool(), value.type_name());
    match value {
        GgufValue::String(s) => s.len(),
        GgufValue::Array(items) => items.iter().map(walk).sum::<usize>() + 1,
        _ => 1,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::read(data) else { return };
    let _ = (file.version(), file.alignment(), file.data_offset(), file.dominant_type_name());
    let meta = file.metadata();
    for (key, value) in meta.as_map() {
        std::hint::black_box(walk(value));
        // The typed accessors, as the loaders call them, on every key.
        let _ = meta.get_u64(key);
        let _ = meta.get_i64(key);
        let _ = meta.get_f64(key);
        let _ = meta.get_bool(key);
        let _ = meta.get_str(key);
        let _ = meta.get_str_array(key);
        let _ = meta.get_i32_array(key);
        let _ = meta.get_f32_array(key);
    }
    for info in file.tensors() {
        let _ = (info.n_elements(), info.byte_len(), info.ggml_type.name(), info.ggml_type.block_layout());
        let _ = file.tensor_info(&info.name);
        let _ = file.tensor_bytes(&info.name);
        if info.n_elements() < MAX_ELEMENTS
            && let Ok((shape, values)) = file.tensor_f32(&info.name)
        {
            assert_eq!(shape, info.shape);
            assert_eq!(values.len(), info.n_elements());
        }
    }
});
