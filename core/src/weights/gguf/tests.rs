//! The reader against gguf-py's fixtures and hand-made damaged files.

use super::header::DEFAULT_ALIGNMENT;
use super::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gguf_quants/quants.gguf");

fn fixture() -> GgufFile<Vec<u8>> {
    let bytes = std::fs::read(FIXTURE).expect("fixture quants.gguf (see its README)");
    GgufFile::read(bytes).expect("fixture parses")
}

#[test]
fn every_quant_type_matches_gguf_py_bitwise() {
    let file = fixture();
    let cases = [
        ("f32", GgmlType::F32, vec![4, 256]),
        ("f16", GgmlType::F16, vec![4, 256]),
        ("bf16", GgmlType::BF16, vec![4, 256]),
        ("q8_0", GgmlType::Q8_0, vec![2, 3, 64]),
        ("q4_0", GgmlType::Q4_0, vec![4, 256]),
        ("q4_1", GgmlType::Q4_1, vec![4, 256]),
        ("q5_0", GgmlType::Q5_0, vec![4, 256]),
        ("q5_1", GgmlType::Q5_1, vec![4, 256]),
        ("q4_k", GgmlType::Q4_K, vec![2, 512]),
        ("q5_k", GgmlType::Q5_K, vec![2, 512]),
        ("q6_k", GgmlType::Q6_K, vec![2, 512]),
    ];
    for (name, ty, shape) in cases {
        let info = file.tensor_info(name).unwrap();
        assert_eq!((info.ggml_type, &info.shape), (ty, &shape), "{name}");
        let (got_shape, got) = file.tensor_f32(name).unwrap();
        let (want_shape, want) = file.tensor_f32(&format!("{name}.expected")).unwrap();
        assert_eq!(got_shape, want_shape, "{name}");
        let mismatch = got.iter().zip(&want).position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(mismatch, None, "{name}: first mismatch {mismatch:?}");
        assert!(got.iter().all(|v| v.is_finite()), "{name}");
    }
    assert_eq!(file.tensors().len(), 2 * 11);
}

#[test]
fn fixture_metadata_of_every_value_type() {
    let file = fixture();
    assert_eq!(file.version(), 3);
    assert_eq!(file.alignment(), 64);
    let debug = format!("{file:?}");
    assert!(debug.contains("tensors: 22") && debug.len() < 200, "{debug}");
    assert_eq!(file.data_offset() % 64, 0);
    let m = file.metadata();
    assert_eq!(m.get_str("general.architecture").unwrap(), "test");
    assert_eq!(m.get("test.u8"), Some(&GgufValue::U8(200)));
    assert_eq!(m.get("test.i8"), Some(&GgufValue::I8(-100)));
    assert_eq!(m.get("test.u16"), Some(&GgufValue::U16(60000)));
    assert_eq!(m.get("test.i16"), Some(&GgufValue::I16(-30000)));
    assert_eq!(m.get_u64("test.u32").unwrap(), 4_000_000_000);
    assert_eq!(m.get_i64("test.i32").unwrap(), -2_000_000_000);
    assert_eq!(m.get_u64("test.u64").unwrap(), 1_000_000_000_000_000_000);
    assert_eq!(m.get_i64("test.i64").unwrap(), -1_000_000_000_000_000_000);
    assert_eq!(m.get_f64("test.f32").unwrap(), 1.5);
    assert_eq!(m.get_f64("test.f64").unwrap(), -2.25);
    assert_eq!(m.get_f64("test.u8").unwrap(), 200.0);
    assert!(m.get_bool("test.bool").unwrap());
    assert_eq!(m.get_str("test.string").unwrap(), "naïve ✓");
    assert_eq!(m.get_i32_array("test.i32_array").unwrap(), [1, -2, 3]);
    assert_eq!(m.get_str_array("test.str_array").unwrap(), ["a", "bc", ""]);
    assert_eq!(m.get_f32_array("test.u64_array").unwrap(), [1.0, 1099511627776.0]);
    let nested = m.get_array("test.nested_array").unwrap();
    let nested: Vec<Vec<i32>> = nested.iter().map(|a| a.as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i32).collect()).collect();
    assert_eq!(nested, [vec![1, 2], vec![3]]);
}

#[test]
fn metadata_errors_name_the_key() {
    let file = fixture();
    let err = file.get_u64("no.such.key").unwrap_err();
    assert!(matches!(&err, GgufError::MissingKey(k) if k == "no.such.key"), "{err}");
    let err = file.get_u64("test.i8").unwrap_err().to_string();
    assert!(err.contains("test.i8") && err.contains("i8"), "{err}");
    let err = file.get_str_array("test.i32_array").unwrap_err().to_string();
    assert!(err.contains("test.i32_array") && err.contains("array of i32"), "{err}");
    let err = file.get_i32_array("test.u32").unwrap_err().to_string();
    assert!(err.contains("u32"), "{err}");
    let err = file.tensor_f32("nope").unwrap_err();
    assert!(matches!(err, GgufError::MissingTensor(_)));
}

#[test]
fn version_2_is_read_like_version_3() {
    // v2 and v3 share the layout (v3 only allows big-endian files), so patch the field.
    let mut bytes = std::fs::read(FIXTURE).unwrap();
    bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
    let v2 = GgufFile::read(bytes).unwrap();
    let v3 = fixture();
    assert_eq!(v2.version(), 2);
    assert_eq!(v2.metadata(), v3.metadata());
    assert_eq!(v2.tensors(), v3.tensors());
    assert_eq!(v2.tensor_f32("q4_k").unwrap(), v3.tensor_f32("q4_k").unwrap());
}

/// Builds a GGUF byte stream (v3, default alignment) for error-path tests.
fn write_gguf(kvs: &[(&str, GgufValue)], tensors: &[(&str, &[u64], GgmlType, &[u8])]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    }
    fn type_id(v: &GgufValue) -> u32 {
        match v {
            GgufValue::U8(_) => 0,
            GgufValue::I8(_) => 1,
            GgufValue::U16(_) => 2,
            GgufValue::I16(_) => 3,
            GgufValue::U32(_) => 4,
            GgufValue::I32(_) => 5,
            GgufValue::F32(_) => 6,
            GgufValue::Bool(_) => 7,
            GgufValue::String(_) => 8,
            GgufValue::Array(_) => 9,
            GgufValue::U64(_) => 10,
            GgufValue::I64(_) => 11,
            GgufValue::F64(_) => 12,
        }
    }
    fn value(out: &mut Vec<u8>, v: &GgufValue) {
        match v {
            GgufValue::U8(x) => out.extend(x.to_le_bytes()),
            GgufValue::I8(x) => out.extend(x.to_le_bytes()),
            GgufValue::U16(x) => out.extend(x.to_le_bytes()),
            GgufValue::I16(x) => out.extend(x.to_le_bytes()),
            GgufValue::U32(x) => out.extend(x.to_le_bytes()),
            GgufValue::I32(x) => out.extend(x.to_le_bytes()),
            GgufValue::U64(x) => out.extend(x.to_le_bytes()),
            GgufValue::I64(x) => out.extend(x.to_le_bytes()),
            GgufValue::F32(x) => out.extend(x.to_le_bytes()),
            GgufValue::F64(x) => out.extend(x.to_le_bytes()),
            GgufValue::Bool(x) => out.push(u8::from(*x)),
            GgufValue::String(s) => string(out, s),
            GgufValue::Array(items) => {
                out.extend(items.first().map_or(0, type_id).to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|item| value(out, item));
            }
        }
    }
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((kvs.len() as u64).to_le_bytes());
    for (key, v) in kvs {
        string(&mut out, key);
        out.extend(type_id(v).to_le_bytes());
        value(&mut out, v);
    }
    let mut offset = 0u64;
    for (name, dims, ty, data) in tensors {
        string(&mut out, name);
        out.extend((dims.len() as u32).to_le_bytes());
        dims.iter().for_each(|d| out.extend(d.to_le_bytes()));
        out.extend(ty.0.to_le_bytes());
        out.extend(offset.to_le_bytes());
        offset = (offset + data.len() as u64).next_multiple_of(DEFAULT_ALIGNMENT);
    }
    for (_, _, _, data) in tensors {
        out.resize((out.len() as u64).next_multiple_of(DEFAULT_ALIGNMENT) as usize, 0);
        out.extend(*data);
    }
    out
}

/// A small valid file: metadata of several kinds and two tensors.
fn small_file() -> Vec<u8> {
    let f32s: Vec<u8> = (0..8).flat_map(|i| (i as f32 * 0.5).to_le_bytes()).collect();
    let q8: Vec<u8> = [0x00, 0x3c].into_iter().chain((0..32).map(|i| i as u8)).collect();
    write_gguf(
        &[
            ("general.architecture", GgufValue::String("llama".into())),
            ("a.list", GgufValue::Array(vec![GgufValue::String("x".into()); 3])),
            ("a.nested", GgufValue::Array(vec![GgufValue::Array(vec![GgufValue::I32(7)])])),
            ("a.f", GgufValue::F32(0.25)),
        ],
        &[("w", &[4, 2], GgmlType::F32, &f32s), ("q", &[32], GgmlType::Q8_0, &q8)],
    )
}

#[test]
fn synthetic_file_roundtrip() {
    let file = GgufFile::read(small_file()).unwrap();
    assert_eq!(file.alignment(), 32);
    assert_eq!(file.tensor_names().collect::<Vec<_>>(), ["w", "q"]);
    let (shape, w) = file.tensor_f32("w").unwrap();
    assert_eq!(shape, [2, 4]);
    assert_eq!(w, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]);
    let (shape, q) = file.tensor_f32("q").unwrap();
    assert_eq!(shape, [32]);
    assert_eq!(q, (0..32).map(|i| i as f32).collect::<Vec<_>>());
    // Borrowed storage works the same.
    let bytes = small_file();
    assert_eq!(GgufFile::read(&bytes[..]).unwrap().tensor_f32("w").unwrap().1, w);
}

/// Parses and decodes every tensor; any error is fine, a panic is not.
fn parse_all(bytes: &[u8]) -> Result<()> {
    let file = GgufFile::read(bytes)?;
    for name in file.tensor_names() {
        file.tensor_f32(name)?;
    }
    Ok(())
}

#[test]
fn truncation_always_errors() {
    for bytes in [small_file(), std::fs::read(FIXTURE).unwrap()] {
        assert!(parse_all(&bytes).is_ok());
        let file = GgufFile::read(&bytes[..]).unwrap();
        let data_end = file.tensors().iter().map(|t| file.data_offset() + t.offset + t.byte_len().unwrap() as u64).max().unwrap();
        let header_end = file.data_offset() as usize;
        let cuts = (0..header_end).chain((header_end..bytes.len()).step_by(97));
        for cut in cuts {
            let result = parse_all(&bytes[..cut]);
            assert!(result.is_err() || cut as u64 >= data_end, "cut at {cut} parsed");
        }
    }
}

#[test]
fn corrupted_headers_never_panic() {
    let bytes = small_file();
    let header_end = GgufFile::read(&bytes[..]).unwrap().data_offset() as usize;
    for pos in 0..header_end {
        for patch in [0x00, 0xFF, 0x7F, 0x80, bytes[pos] ^ 0x01, bytes[pos].wrapping_add(1)] {
            let mut bad = bytes.clone();
            bad[pos] = patch;
            let _ = parse_all(&bad);
        }
    }
    // Every 8-byte field overwritten with an absurd value.
    for pos in 0..header_end.saturating_sub(8) {
        for huge in [u64::MAX, 1 << 60, 1_000_000_000_000_000_000, u32::MAX as u64 + 1] {
            let mut bad = bytes.clone();
            bad[pos..pos + 8].copy_from_slice(&huge.to_le_bytes());
            let _ = parse_all(&bad);
        }
    }
}

#[test]
fn specific_errors_are_descriptive() {
    let good = small_file();
    let err = |bytes: &[u8]| GgufFile::read(bytes).unwrap_err();

    let e = err(b"GGML\x03\0\0\0");
    assert!(matches!(e, GgufError::BadMagic(m) if &m == b"GGML"), "{e}");
    assert!(e.to_string().contains("not a GGUF file"), "{e}");

    let mut v1 = good.clone();
    v1[4] = 1;
    assert!(matches!(err(&v1), GgufError::UnsupportedVersion(1)));

    let mut many = good.clone();
    many[8..16].copy_from_slice(&1_000_000_000_000_000_000u64.to_le_bytes());
    let e = err(&many);
    assert!(matches!(e, GgufError::AbsurdCount { what: "tensors", .. }), "{e}");

    let no_tensors = write_gguf(&[("general.name", GgufValue::String("x".into()))], &[]);
    let e = err(&no_tensors[..40]);
    assert!(matches!(&e, GgufError::Truncated { offset: 32, needed: 12, .. }), "{e}");
    assert!(e.to_string().contains("truncated while reading metadata key"), "{e}");

    let e = GgufFile::read(&good[..good.len() - 1]).unwrap().tensor_f32("q").unwrap_err();
    assert!(matches!(&e, GgufError::TensorOutOfBounds { name, .. } if name == "q"), "{e}");

    let bad_utf8 = write_gguf(&[("k", GgufValue::String("\u{e9}".into()))], &[]);
    let mut bad_utf8 = bad_utf8;
    let at = bad_utf8.len() - 1;
    bad_utf8[at] = 0xFF;
    assert!(matches!(err(&bad_utf8), GgufError::InvalidUtf8 { .. }));

    let unsupported = write_gguf(&[], &[("t", &[256], GgmlType(10), &[0; 84])]);
    let e = GgufFile::read(unsupported).unwrap().tensor_f32("t").unwrap_err();
    assert!(e.to_string().contains("\"t\" has unsupported type Q2_K (type id 10)"), "{e}");

    let ragged = write_gguf(&[], &[("t", &[16], GgmlType::Q8_0, &[0; 34])]);
    let e = GgufFile::read(ragged).unwrap().tensor_f32("t").unwrap_err();
    assert!(matches!(e, GgufError::InvalidTensor { .. }), "{e}");

    let align = write_gguf(&[("general.alignment", GgufValue::U32(3))], &[]);
    assert!(matches!(err(&align), GgufError::BadAlignment(3)));

    let dup = write_gguf(&[("k", GgufValue::U8(1)), ("k", GgufValue::U8(2))], &[]);
    assert!(matches!(err(&dup), GgufError::Duplicate { .. }));

    let mut deep = GgufValue::U8(0);
    for _ in 0..=MAX_NESTING {
        deep = GgufValue::Array(vec![deep]);
    }
    assert!(matches!(err(&write_gguf(&[("k", deep)], &[])), GgufError::NestingTooDeep { .. }));
}

// ---- the real model, when present ----------------------------------------------------

fn smollm2_path() -> Option<std::path::PathBuf> {
    let path = crate::aliases::alias_path(crate::aliases::DEFAULT_MODEL)?;
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} not present", path.display());
        None
    }
}

#[test]
fn smollm2_matches_gguf_py() {
    let Some(path) = smollm2_path() else { return };
    let file = GgufFile::read(std::fs::read(path).unwrap()).unwrap();
    assert_eq!(file.version(), 3);
    assert_eq!(file.tensors().len(), 272);
    assert_eq!(file.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(file.get_u64("llama.embedding_length").unwrap(), 576);
    assert_eq!(file.dominant_type_name(), "Q4_1");
    // (tensor, type, shape, first 4 values of row 0, last 2 values) as f32 bits, from
    // gguf.quants.dequantize in gguf-py 0.19.0.
    type Case = (&'static str, GgmlType, [usize; 2], [u32; 4], [u32; 2]);
    let cases: [Case; 3] = [
        ("token_embd.weight", GgmlType::Q8_0, [49152, 576], [0xbdda3400, 0x3d071400, 0x3d456c00, 0xbcbb0800], [0xbdf58b00, 0xbd2ad000]),
        ("blk.0.attn_q.weight", GgmlType::Q4_1, [576, 576], [0xbdc54000, 0x3e212000, 0xbdc54000, 0xbf3b0000], [0xbe197000, 0xbe830000]),
        ("blk.0.ffn_down.weight", GgmlType::Q4_1, [576, 1536], [0xbea96000, 0x3eb13000, 0x3d9a4000, 0xbeeeb000], [0xbdb89800, 0xbe39b800]),
    ];
    for (name, ty, shape, head, tail) in cases {
        assert_eq!(file.tensor_info(name).unwrap().ggml_type, ty, "{name}");
        let (got_shape, values) = file.tensor_f32(name).unwrap();
        assert_eq!(got_shape, shape, "{name}");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&values[..4]), head, "{name}");
        assert_eq!(bits(&values[values.len() - 2..]), tail, "{name}");
    }
}

#[test]
fn smollm2_dequantises_quickly() {
    let Some(path) = smollm2_path() else { return };
    let bytes = std::fs::read(path).unwrap();
    let start = std::time::Instant::now();
    let file = GgufFile::read(&bytes[..]).unwrap();
    let parsed = start.elapsed();
    let mut n = 0;
    for name in file.tensor_names() {
        n += file.tensor_f32(name).unwrap().1.len();
    }
    eprintln!("SmolLM2: header {parsed:?}, {n} values dequantised in {:?}", start.elapsed());
    assert_eq!(n, 134_515_008);
}
