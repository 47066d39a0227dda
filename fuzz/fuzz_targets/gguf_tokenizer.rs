//! The tokenizer built from a GGUF file's `tokenizer.ggml.*` metadata, on arbitrary bytes; when it
//! builds, a short text is encoded and decoded.
#![no_main]

use cram_core::tokenizer::gguf::tokenizer_from_gguf;
use cram_core::weights::gguf::GgufFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::read(data) else { return };
    let Ok(tokenizer) = tokenizer_from_gguf(&file) else { return };
    let tokenizer = cram_core::tokenizer::Tokenizer::new(tokenizer);
    let _ = tokenizer.vocab_size();
    let _ = tokenizer.fingerprint();
    for text in ["Alice was beginning to get very tired, 1234 <|im_start|>\n\t é", ""] {
        if let Ok(ids) = tokenizer.encode(text) {
            let _ = tokenizer.decode(&ids);
        }
    }
    let _ = tokenizer.decode(&[0, 1, 2, u32::MAX]);
});
