//! Bad input never panics: a GGUF model, a safetensors model and a `.cram` file, cut short at many
//! points and with single bits flipped at many places, each either load (a flip in a weight's
//! value is still a model) or give an error, never a panic or an allocation the file cannot back.
//! Seeded, so a failure names an offset that reproduces.

use crate::common;

use burn::tensor::Device;
use common::*;
use cram_core::LoadedModel;
use cram_core::format::CramFile;
use cram_core::weights::Bytes;

/// Cut points: every byte of the first 4 KiB (headers, metadata, tensor infos), then `n` more spread
/// over the rest.
fn cuts(len: usize, n: usize) -> Vec<usize> {
    let head = len.min(4096);
    (0..head).chain((0..n).map(|i| head + (len - head) * i / n.max(1))).collect()
}

/// Seeded flips: (byte offset, bit), two thirds of them in the first 4 KiB.
fn flips(len: usize, n: usize, seed: u64) -> Vec<(usize, u8)> {
    let mut x = seed;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let span = if i % 3 == 2 { len } else { len.min(4096) };
            ((next() % span as u64) as usize, (next() % 8) as u8)
        })
        .collect()
}

/// Runs `load` on every variant of `bytes`; a panic fails with the variant's description.
fn never_panics(bytes: &[u8], what: &str, load: impl Fn(Vec<u8>) -> bool + std::panic::RefUnwindSafe) {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut loaded = 0;
    let mut refused = 0;
    let mut panics = Vec::new();
    let mut variants: Vec<(String, Vec<u8>)> = cuts(bytes.len(), 200).into_iter().map(|c| (format!("cut at {c}"), bytes[..c].to_vec())).collect();
    for (at, bit) in flips(bytes.len(), 600, 0x5eed_cafe) {
        let mut b = bytes.to_vec();
        b[at] ^= 1 << bit;
        variants.push((format!("bit {bit} of byte {at} flipped"), b));
    }
    for (how, b) in variants {
        match std::panic::catch_unwind(|| load(b)) {
            Ok(true) => loaded += 1,
            Ok(false) => refused += 1,
            Err(_) => panics.push(how),
        }
    }
    std::panic::set_hook(quiet);
    eprintln!("{what}: {loaded} variants loaded, {refused} refused with an error, {} panicked", panics.len());
    assert!(panics.is_empty(), "{what} panicked when {}", panics.join("; "));
}

#[test]
fn a_damaged_gguf_model_is_an_error_not_a_panic() {
    let bytes = std::fs::read(fixture("llama_gguf/tiny-llama.gguf")).unwrap();
    never_panics(&bytes, "tiny-llama.gguf", |b| LoadedModel::from_gguf_bytes("damaged.gguf", Bytes::Owned(b), &Device::flex(), None).is_ok());
}

#[test]
fn a_damaged_safetensors_model_is_an_error_not_a_panic() {
    let dir = fixture("llama_gguf");
    let (config, tokenizer) = (std::fs::read_to_string(dir.join("config.json")).unwrap(), std::fs::read(dir.join("tokenizer.json")).unwrap());
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    never_panics(&bytes, "model.safetensors", |b| {
        LoadedModel::from_hf_bytes("damaged", &config, &tokenizer, vec![("model.safetensors".into(), Bytes::Owned(b))], &Device::flex(), None).is_ok()
    });
}

#[test]
fn a_damaged_cram_file_is_an_error_not_a_panic() {
    use cram_core::cramming::{Silent, TextJob, cram_texts};
    use cram_core::methods::CramConfig;
    use cram_core::optim::adamw::AdamWConfig;
    let lm = load("llama_gguf", None);
    let cfg = CramConfig { adamw: AdamWConfig { lr: 0.1, ..Default::default() }, max_steps: 300, ..Default::default() };
    let ids = lm.tokenizer.encode("Alice was beginning").unwrap();
    let outcome = cram_texts(&lm, &cfg, &[TextJob { id: "t".into(), ids, seed_index: None, start: None }], 1, &mut Silent).unwrap().remove(0);
    let bytes = CramFile::from_outcome(&lm, &cfg, &outcome).unwrap().to_bytes().unwrap();
    // A damaged file either is refused, or (a flipped bit in a vector) decodes to some text or is
    // refused by the sha256 check; either way no panic.
    never_panics(&bytes, "a .cram file", |b| CramFile::from_bytes(&b, "damaged.cram").is_ok_and(|file| file.decode(&lm).is_ok()));
}

/// A tiny file that claims more than it holds (2^40 metadata entries or tensors, a string of 2^60
/// bytes, a tensor of 100 GB) is refused from its sizes, before anything that large is allocated.
#[test]
fn counts_and_sizes_beyond_the_file_are_refused_before_allocating() {
    let gguf = |tensors: u64, kvs: u64, rest: &[u8]| {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(tensors.to_le_bytes());
        b.extend(kvs.to_le_bytes());
        b.extend_from_slice(rest);
        b.resize(1024, 0);
        b
    };
    // one metadata entry whose key claims 2^60 bytes
    let long_key = [(1u64 << 60).to_le_bytes().as_slice(), b"general.architecture"].concat();
    // one tensor info: name "w", 2 dims of 2^20 x 2^20... (f32: 4 TiB), at offset 0
    let mut huge_tensor = Vec::new();
    huge_tensor.extend(1u64.to_le_bytes());
    huge_tensor.extend(b"w");
    huge_tensor.extend(2u32.to_le_bytes());
    huge_tensor.extend((1u64 << 20).to_le_bytes());
    huge_tensor.extend((1u64 << 20).to_le_bytes());
    huge_tensor.extend(0u32.to_le_bytes());
    huge_tensor.extend(0u64.to_le_bytes());
    // the tensor's data is bounds-checked against the file before its f32 copy is allocated
    let file = cram_core::weights::gguf::GgufFile::read(gguf(1, 0, &huge_tensor)).expect("the header itself is well formed");
    let err = file.tensor_f32("w").unwrap_err().to_string();
    assert!(err.contains("out of bounds"), "{err}");
    for (what, bytes) in [("2^40 metadata entries", gguf(0, 1 << 40, &[])), ("2^40 tensors", gguf(1 << 40, 0, &[])), ("a 2^60-byte key", gguf(0, 1, &long_key))]
    {
        let err = cram_core::load::gguf_checkpoint::GgufCheckpoint::from_bytes("claims.gguf", Bytes::Owned(bytes))
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"))
            .to_string();
        eprintln!("{what}: {err}");
        assert!(err.contains("claims.gguf"), "{what}: {err}");
    }
    // safetensors: a header length of 2^40
    let mut st = (1u64 << 40).to_le_bytes().to_vec();
    st.resize(1024, b' ');
    assert!(cram_core::weights::safetensors::SafetensorsFile::from_bytes("claims.safetensors", Bytes::Owned(st)).is_err());
}

/// Inputs the fuzzers' authors built while fuzzing (core/tests/fixtures/fuzz/README.md): a GGUF
/// checkpoint with a 0-dim fused QKV tensor and ones claiming 2^63 heads are refused, not a panic.
#[test]
fn fuzz_reproducers_of_gguf_checkpoints_are_refused() {
    for name in ["gguf_checkpoint-qkv-scalar.bin", "gguf_checkpoint-llama-heads-overflow.bin", "gguf_checkpoint-neox-heads-overflow.bin"] {
        let bytes = std::fs::read(fixture("fuzz").join(name)).unwrap();
        let loaded = std::panic::catch_unwind(|| {
            LoadedModel::from_gguf_bytes(name, Bytes::Owned(bytes.clone()), &Device::flex(), None).is_ok()
                | cram_core::load::gguf_checkpoint::GgufCheckpoint::from_bytes(name, Bytes::Owned(bytes)).is_ok_and(|c| {
                    use cram_core::weights::TensorSource;
                    ["gpt_neox.layers.0.attention.query_key_value.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"]
                        .iter()
                        .all(|t| c.tensor(t).is_ok())
                })
        });
        assert!(matches!(loaded, Ok(false)), "{name}: {}", if loaded.is_ok() { "accepted" } else { "panicked" });
    }
}

/// A config with 2^32 heads of 2^32 dims (a fuzzing reproducer: u16 config length, config.json,
/// safetensors) is refused by the config's checks, not an overflow in the attention's shapes.
#[test]
fn a_config_whose_head_sizes_overflow_is_refused() {
    let bytes = std::fs::read(fixture("fuzz").join("safetensors_model-heads-overflow.bin")).unwrap();
    let n = u16::from_le_bytes([bytes[0], bytes[1]]) as usize;
    let (config, weights) = (std::str::from_utf8(&bytes[2..2 + n]).unwrap(), bytes[2 + n..].to_vec());
    let tokenizer = std::fs::read(fixture("llama_gguf").join("tokenizer.json")).unwrap();
    let Err(err) = LoadedModel::from_hf_bytes("heads", config, &tokenizer, vec![("model.safetensors".into(), Bytes::Owned(weights))], &Device::flex(), None)
    else {
        panic!("accepted")
    };
    let err = err.to_string();
    assert!(err.contains("head"), "{err}");
}

/// A safetensors header whose tensors' offsets add up to 2^64 - 8 (a fuzzing reproducer) is refused
/// by the `.cram`, `.lmz` and safetensors-model readers alike, not an overflow inside safetensors.
#[test]
fn a_safetensors_header_whose_offsets_overflow_is_refused() {
    use cram_core::lmzip::LmzFile;
    use cram_core::weights::safetensors::SafetensorsFile;
    let bytes = std::fs::read(fixture("fuzz").join("cram_file-offsets-overflow.bin")).unwrap();
    let errors = std::panic::catch_unwind(|| {
        [
            CramFile::from_bytes(&bytes, "x.cram").err().map(|e| e.to_string()),
            LmzFile::from_bytes(&bytes, "x.lmz").err().map(|e| e.to_string()),
            SafetensorsFile::from_bytes("x.safetensors", Bytes::Owned(bytes.clone())).err().map(|e| e.to_string()),
        ]
    });
    let errors = errors.expect("a reader panicked");
    for error in errors {
        let error = error.expect("accepted");
        assert!(error.contains("data section"), "{error}");
    }
}
