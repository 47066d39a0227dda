//! Parsing everything before the tensor data: magic, version, metadata and tensor infos, through a
//! bounds-checked cursor whose counts and lengths are checked against the bytes left.

use std::collections::{BTreeMap, BTreeSet};

use super::{GgmlType, GgufError, GgufMetadata, GgufValue, MAX_DIMS, MAX_NESTING, Result, TensorInfo};

const MAGIC: [u8; 4] = *b"GGUF";
pub(super) const DEFAULT_ALIGNMENT: u64 = 32;

/// The owned result of parsing everything before the tensor data.
pub(super) struct Header {
    pub(super) version: u32,
    pub(super) metadata: GgufMetadata,
    pub(super) tensors: Vec<TensorInfo>,
    pub(super) alignment: u64,
    pub(super) data_offset: u64,
}

impl Header {
    pub(super) fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let magic = r.array::<4>(|| "magic".into())?;
        if magic != MAGIC {
            return Err(GgufError::BadMagic(magic));
        }
        let version = r.u32(|| "version".into())?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let n_tensors = r.u64(|| "tensor count".into())?;
        let n_kv = r.u64(|| "metadata count".into())?;
        // Smallest possible tensor info: empty name (8) + n_dims (4) + type (4) + offset (8).
        let n_tensors = r.bounded_count(n_tensors, 24, "tensors")?;
        // Smallest possible key/value: empty key (8) + type (4) + one-byte value (1).
        let n_kv = r.bounded_count(n_kv, 13, "metadata entries")?;

        let mut map = BTreeMap::new();
        for _ in 0..n_kv {
            let key = r.string(|| "metadata key".into())?;
            let value = r.typed_value(&key, 0)?;
            if map.contains_key(&key) {
                return Err(GgufError::Duplicate { what: "metadata key", name: key });
            }
            map.insert(key, value);
        }
        let metadata = GgufMetadata(map);

        let mut tensors = Vec::with_capacity(n_tensors);
        let mut names = BTreeSet::new();
        for _ in 0..n_tensors {
            let info = r.tensor_info()?;
            if !names.insert(info.name.clone()) {
                return Err(GgufError::Duplicate { what: "tensor name", name: info.name });
            }
            tensors.push(info);
        }

        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(_) => metadata.get_u64("general.alignment")?,
        };
        if !alignment.is_power_of_two() {
            return Err(GgufError::BadAlignment(alignment));
        }
        let data_offset = (r.pos as u64).checked_next_multiple_of(alignment).ok_or(GgufError::BadAlignment(alignment))?;
        Ok(Self { version, metadata, tensors, alignment, data_offset })
    }
}

/// A bounds-checked little-endian cursor. Invariant: `pos <= buf.len()`.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn truncated(&self, what: String, needed: u64) -> GgufError {
        GgufError::Truncated { what, offset: self.pos, needed, available: self.remaining() }
    }

    /// The next `n` bytes; `what` names the field for the error message.
    fn take(&mut self, n: u64, what: impl FnOnce() -> String) -> Result<&'a [u8]> {
        let end = usize::try_from(n).ok().and_then(|n| self.pos.checked_add(n));
        match end.and_then(|end| self.buf.get(self.pos..end)) {
            Some(bytes) => {
                self.pos += bytes.len();
                Ok(bytes)
            }
            None => Err(self.truncated(what(), n)),
        }
    }

    fn array<const N: usize>(&mut self, what: impl FnOnce() -> String) -> Result<[u8; N]> {
        match self.buf.get(self.pos..).and_then(<[u8]>::first_chunk::<N>) {
            Some(&bytes) => {
                self.pos += N;
                Ok(bytes)
            }
            None => Err(self.truncated(what(), N as u64)),
        }
    }

    fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: impl FnOnce() -> String) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn string(&mut self, what: impl Fn() -> String) -> Result<String> {
        let len = self.u64(&what)?;
        let start = self.pos;
        let bytes = self.take(len, &what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::InvalidUtf8 { what: what(), offset: start })
    }

    /// `count` as `usize` if `count` items of at least `min_size` bytes fit in the rest.
    fn bounded_count(&self, count: u64, min_size: u64, what: &'static str) -> Result<usize> {
        let fits = count.checked_mul(min_size).is_some_and(|n| n <= self.remaining() as u64);
        match usize::try_from(count) {
            Ok(count) if fits => Ok(count),
            _ => Err(GgufError::AbsurdCount { what, count, offset: self.pos, available: self.remaining() }),
        }
    }

    /// A `u32` value type followed by a value of that type.
    fn typed_value(&mut self, key: &str, depth: u32) -> Result<GgufValue> {
        let type_id = self.u32(|| format!("value type of metadata key {key:?}"))?;
        self.value(type_id, key, depth)
    }

    /// A value of GGUF value type `type_id` (0..=12).
    fn value(&mut self, type_id: u32, key: &str, depth: u32) -> Result<GgufValue> {
        let what = || format!("value of metadata key {key:?}");
        Ok(match type_id {
            0 => GgufValue::U8(u8::from_le_bytes(self.array(what)?)),
            1 => GgufValue::I8(i8::from_le_bytes(self.array(what)?)),
            2 => GgufValue::U16(u16::from_le_bytes(self.array(what)?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array(what)?)),
            4 => GgufValue::U32(u32::from_le_bytes(self.array(what)?)),
            5 => GgufValue::I32(i32::from_le_bytes(self.array(what)?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array(what)?)),
            7 => GgufValue::Bool(u8::from_le_bytes(self.array(what)?) != 0),
            8 => GgufValue::String(self.string(what)?),
            9 => self.array_value(key, depth)?,
            10 => GgufValue::U64(u64::from_le_bytes(self.array(what)?)),
            11 => GgufValue::I64(i64::from_le_bytes(self.array(what)?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array(what)?)),
            _ => {
                let offset = self.pos.saturating_sub(4);
                return Err(GgufError::UnknownValueType { key: key.to_owned(), type_id, offset });
            }
        })
    }

    /// The body of an array value: element type, count, elements.
    fn array_value(&mut self, key: &str, depth: u32) -> Result<GgufValue> {
        if depth >= MAX_NESTING {
            return Err(GgufError::NestingTooDeep { key: key.to_owned() });
        }
        let what = || format!("array header of metadata key {key:?}");
        let elem_type = self.u32(what)?;
        let count = self.u64(what)?;
        let min_size = match elem_type {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            8 | 10..=12 => 8,
            9 => 12,
            // Unknown element types are reported by `value` below (or accepted if empty).
            _ => 1,
        };
        let count = self.bounded_count(count, min_size, "array elements")?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.value(elem_type, key, depth + 1)?);
        }
        Ok(GgufValue::Array(items))
    }

    fn tensor_info(&mut self) -> Result<TensorInfo> {
        let name = self.string(|| "tensor name".into())?;
        let n_dims = self.u32(|| format!("dimension count of tensor {name:?}"))?;
        if n_dims > MAX_DIMS {
            let reason = format!("{n_dims} dimensions (at most {MAX_DIMS} allowed)");
            return Err(GgufError::InvalidTensor { name, reason });
        }
        let mut shape = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let dim = self.u64(|| format!("dimensions of tensor {name:?}"))?;
            let dim =
                usize::try_from(dim).map_err(|_| GgufError::InvalidTensor { name: name.clone(), reason: format!("dimension {dim} does not fit in memory") })?;
            shape.push(dim);
        }
        shape.reverse(); // GGUF lists dims innermost first; we store row-major.
        if shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).is_none() {
            let reason = format!("element count of shape {shape:?} overflows");
            return Err(GgufError::InvalidTensor { name, reason });
        }
        let ggml_type = GgmlType(self.u32(|| format!("type of tensor {name:?}"))?);
        let offset = self.u64(|| format!("data offset of tensor {name:?}"))?;
        Ok(TensorInfo { name, shape, ggml_type, offset })
    }
}
