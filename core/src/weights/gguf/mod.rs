//! A self-contained, panic-free reader for GGUF model files.
//!
//! The layout follows the GGUF specification in ggml's `docs/gguf.md` (versions 2 and 3,
//! little endian; version 3 only added big-endian files, which are not supported):
//!
//! ```text
//! magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//! kv_count    x (string key, u32 value type, value)
//! tensor_count x (string name, u32 n_dims, n_dims x u64 dim (innermost first), u32 ggml type, u64 offset)
//! padding to `general.alignment` (default 32)
//! tensor data; each tensor at `data section start + offset`
//! ```
//!
//! Strings are a `u64` byte length followed by UTF-8 bytes; arrays are a `u32` element type,
//! a `u64` count and the elements (arrays may nest).
//!
//! [`GgufFile`] parses the header out of any byte storage the caller owns (`Vec<u8>`, `&[u8]`,
//! a memory map, ...) and keeps that storage; tensor data is only read on demand by
//! [`GgufFile::tensor_f32`], which dequantises F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
//! Q4_K, Q5_K and Q6_K exactly like ggml's `dequantize_row_*` (bit for bit). Shapes are
//! reported row-major (outermost first, like PyTorch), i.e. the reverse of GGUF's dims.
//!
//! Every input is untrusted: malformed, truncated or hostile files give a [`GgufError`],
//! never a panic, and allocations are bounded by the file's size.

mod dequantize;
mod header;
#[cfg(test)]
mod tests;
mod types;

pub use types::GgmlType;

use std::collections::BTreeMap;
use std::fmt;

use header::Header;

/// Result type of this module.
pub type Result<T, E = GgufError> = std::result::Result<T, E>;

/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Deepest array-of-array nesting accepted (guards the recursive value parser's stack).
const MAX_NESTING: u32 = 16;

/// Everything that can go wrong reading a GGUF file or building something from it.
#[allow(missing_docs)] // variant fields are self-describing and shown in the messages
#[derive(thiserror::Error, Debug)]
pub enum GgufError {
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file: magic bytes are {0:02x?} ({text:?}), expected \"GGUF\"", text = String::from_utf8_lossy(.0))]
    BadMagic([u8; 4]),
    /// A GGUF version other than 2 or 3 (version 1 used 32-bit counts).
    #[error("unsupported GGUF version {0} (supported: 2 and 3)")]
    UnsupportedVersion(u32),
    /// The file ends before a field it declares.
    #[error("GGUF file truncated while reading {what} at byte offset {offset}: need {needed} bytes, {available} left")]
    Truncated { what: String, offset: usize, needed: u64, available: usize },
    /// A count that cannot possibly fit in the rest of the file.
    #[error("corrupt GGUF header: {count} {what} declared at byte offset {offset}, but only {available} bytes are left")]
    AbsurdCount { what: &'static str, count: u64, offset: usize, available: usize },
    /// A string that is not valid UTF-8.
    #[error("invalid UTF-8 in {what} at byte offset {offset}")]
    InvalidUtf8 { what: String, offset: usize },
    /// A metadata value type id outside the spec (0..=12).
    #[error("metadata key {key:?} has unknown value type id {type_id} (byte offset {offset})")]
    UnknownValueType { key: String, type_id: u32, offset: usize },
    /// Arrays nested deeper than this reader accepts.
    #[error("metadata key {key:?} nests arrays deeper than {MAX_NESTING} levels")]
    NestingTooDeep { key: String },
    /// The same metadata key or tensor name appears twice.
    #[error("duplicate {what} {name:?}")]
    Duplicate { what: &'static str, name: String },
    /// `general.alignment` is not a power of two.
    #[error("invalid general.alignment {0}: must be a non-zero power of two")]
    BadAlignment(u64),
    /// A tensor description that makes no sense (too many dims, overflowing sizes, ...).
    #[error("tensor {name:?}: {reason}")]
    InvalidTensor { name: String, reason: String },
    /// A tensor whose ggml type this reader cannot decode.
    #[error("tensor {name:?} has unsupported type {ggml_type}")]
    UnsupportedTensorType { name: String, ggml_type: GgmlType },
    /// A tensor whose data lies (partly) outside the file.
    #[error("tensor {name:?} data (bytes {start}..{end}) is out of bounds: the file has {file_len} bytes")]
    TensorOutOfBounds { name: String, start: u64, end: u64, file_len: usize },
    /// No tensor of that name.
    #[error("missing tensor {0:?}")]
    MissingTensor(String),
    /// No metadata key of that name.
    #[error("missing metadata key {0:?}")]
    MissingKey(String),
    /// A metadata value of another type than the caller needs.
    #[error("metadata key {key:?} has type {found}, expected {expected}")]
    WrongType { key: String, expected: &'static str, found: String },
    /// `tokenizer.ggml.model` names a tokenizer this crate cannot build.
    #[error("Unsupported tokenizer model {0:?} (only \"gpt2\", byte-level BPE, is supported)")]
    UnsupportedTokenizer(String),
    /// The tokenizer metadata is inconsistent, or the `tokenizers` crate rejected it.
    #[error("invalid tokenizer metadata: {0}")]
    InvalidTokenizer(String),
}

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum GgufValue {
    /// GGUF value type 0.
    U8(u8),
    /// GGUF value type 1.
    I8(i8),
    /// GGUF value type 2.
    U16(u16),
    /// GGUF value type 3.
    I16(i16),
    /// GGUF value type 4.
    U32(u32),
    /// GGUF value type 5.
    I32(i32),
    /// GGUF value type 10.
    U64(u64),
    /// GGUF value type 11.
    I64(i64),
    /// GGUF value type 6.
    F32(f32),
    /// GGUF value type 12.
    F64(f64),
    /// GGUF value type 7.
    Bool(bool),
    /// GGUF value type 8 (UTF-8, `u64` length prefix).
    String(String),
    /// GGUF value type 9: elements of one type (possibly arrays).
    Array(Vec<GgufValue>),
}

impl GgufValue {
    /// Any integer value that is non-negative, as `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i128().and_then(|v| u64::try_from(v).ok())
    }

    /// Any integer value that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// Any numeric value (integer or float), as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(f64::from(v)),
            Self::F64(v) => Some(v),
            _ => self.as_i128().map(|v| v as f64),
        }
    }

    /// The value of a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The text of a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of an `Array`.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The GGUF name of this value's type, e.g. `"u32"` or `"array"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "u8",
            Self::I8(_) => "i8",
            Self::U16(_) => "u16",
            Self::I16(_) => "i16",
            Self::U32(_) => "u32",
            Self::I32(_) => "i32",
            Self::U64(_) => "u64",
            Self::I64(_) => "i64",
            Self::F32(_) => "f32",
            Self::F64(_) => "f64",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Array(_) => "array",
        }
    }

    fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Self::U8(v) => v.into(),
            Self::I8(v) => v.into(),
            Self::U16(v) => v.into(),
            Self::I16(v) => v.into(),
            Self::U32(v) => v.into(),
            Self::I32(v) => v.into(),
            Self::U64(v) => v.into(),
            Self::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// Type name for error messages; arrays show their first element's type.
    fn describe(&self) -> String {
        match self.as_array().and_then(<[_]>::first) {
            Some(first) => format!("array of {}", first.describe()),
            None => self.type_name().to_owned(),
        }
    }
}

/// The metadata key/value pairs of a GGUF file, with typed accessors whose errors name the key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GgufMetadata(BTreeMap<String, GgufValue>);

impl From<BTreeMap<String, GgufValue>> for GgufMetadata {
    fn from(map: BTreeMap<String, GgufValue>) -> Self {
        Self(map)
    }
}

impl GgufMetadata {
    /// The underlying map, sorted by key.
    pub fn as_map(&self) -> &BTreeMap<String, GgufValue> {
        &self.0
    }

    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.0.get(key)
    }

    /// `key` as `T`, erroring with the key name if missing or of another type.
    fn typed<'a, T>(&'a self, key: &str, expected: &'static str, convert: impl FnOnce(&'a GgufValue) -> Option<T>) -> Result<T> {
        let value = self.get(key).ok_or_else(|| GgufError::MissingKey(key.to_owned()))?;
        convert(value).ok_or_else(|| GgufError::WrongType { key: key.to_owned(), expected, found: value.describe() })
    }

    /// A non-negative integer of any width.
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.typed(key, "non-negative integer", GgufValue::as_u64)
    }

    /// A signed integer of any width.
    pub fn get_i64(&self, key: &str) -> Result<i64> {
        self.typed(key, "integer", GgufValue::as_i64)
    }

    /// Any number, as `f64`.
    pub fn get_f64(&self, key: &str) -> Result<f64> {
        self.typed(key, "number", GgufValue::as_f64)
    }

    /// A boolean.
    pub fn get_bool(&self, key: &str) -> Result<bool> {
        self.typed(key, "bool", GgufValue::as_bool)
    }

    /// A string.
    pub fn get_str(&self, key: &str) -> Result<&str> {
        self.typed(key, "string", GgufValue::as_str)
    }

    /// An array of any element type.
    pub fn get_array(&self, key: &str) -> Result<&[GgufValue]> {
        self.typed(key, "array", GgufValue::as_array)
    }

    /// An array of strings.
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>> {
        self.typed(key, "array of string", |v| v.as_array()?.iter().map(GgufValue::as_str).collect())
    }

    /// An array of integers that all fit an `i32`.
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>> {
        self.typed(key, "array of i32", |v| v.as_array()?.iter().map(|x| i32::try_from(x.as_i64()?).ok()).collect())
    }

    /// An array of numbers, as `f32` (e.g. `tokenizer.ggml.scores`).
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>> {
        self.typed(key, "array of f32", |v| v.as_array()?.iter().map(|x| x.as_f64().map(|f| f as f32)).collect())
    }
}

/// Where a tensor is and how it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Row-major shape, outermost first (GGUF's dims reversed): ggml's `[576, 49152]`
    /// `token_embd.weight` is `[49152, 576]`, as in PyTorch.
    pub shape: Vec<usize>,
    /// Element type.
    pub ggml_type: GgmlType,
    /// Byte offset of the data, relative to the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements (product of the shape; 1 for a scalar).
    pub fn n_elements(&self) -> usize {
        // Checked not to overflow when the header was parsed.
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).unwrap_or(usize::MAX)
    }

    /// Size of the data in bytes, if the type is known and the shape fits whole blocks.
    pub fn byte_len(&self) -> Result<usize> {
        let (block_elems, block_bytes) =
            self.ggml_type.block_layout().ok_or_else(|| GgufError::UnsupportedTensorType { name: self.name.clone(), ggml_type: self.ggml_type })?;
        let row = self.shape.last().copied().unwrap_or(1);
        if row % block_elems != 0 {
            return Err(self.invalid(format!("row length {row} is not a multiple of the {} block size {block_elems}", self.ggml_type.name())));
        }
        (self.n_elements() / block_elems).checked_mul(block_bytes).ok_or_else(|| self.invalid("byte size overflows".into()))
    }

    fn invalid(&self, reason: String) -> GgufError {
        GgufError::InvalidTensor { name: self.name.clone(), reason }
    }
}

/// A parsed GGUF file over caller-owned bytes `S` (`Vec<u8>`, `&[u8]`, a memory map, ...).
#[derive(Clone)]
pub struct GgufFile<S> {
    storage: S,
    version: u32,
    metadata: GgufMetadata,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    data_offset: u64,
}

impl<S: AsRef<[u8]>> GgufFile<S> {
    /// Parses the header (metadata and tensor infos) of the GGUF file in `storage`.
    ///
    /// Tensor data is not touched until asked for; out-of-bounds tensors are reported then.
    pub fn read(storage: S) -> Result<Self> {
        let header = Header::parse(storage.as_ref())?;
        Ok(Self {
            storage,
            version: header.version,
            metadata: header.metadata,
            tensors: header.tensors,
            alignment: header.alignment,
            data_offset: header.data_offset,
        })
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// All metadata.
    pub fn metadata(&self) -> &GgufMetadata {
        &self.metadata
    }

    /// Data alignment (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute byte offset of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// The storage this file was parsed from.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// Tensor names in file order.
    pub fn tensor_names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|t| t.name.as_str())
    }

    /// The info of tensor `name`, if present.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Like [`Self::tensor_info`], but a missing tensor is an error.
    fn require_tensor(&self, name: &str) -> Result<&TensorInfo> {
        self.tensor_info(name).ok_or_else(|| GgufError::MissingTensor(name.to_owned()))
    }

    /// Name of the ggml type holding the most elements, e.g. `"Q4_1"` for a "Q4_1" model
    /// whose norms are F32 (`"none"` without tensors).
    pub fn dominant_type_name(&self) -> String {
        let mut elements: BTreeMap<u32, usize> = BTreeMap::new();
        for t in &self.tensors {
            let n = elements.entry(t.ggml_type.0).or_default();
            *n = n.saturating_add(t.n_elements());
        }
        let dominant = elements.into_iter().max_by_key(|&(_, n)| n);
        dominant.map_or("none", |(id, _)| GgmlType(id).name()).to_owned()
    }

    /// The raw (possibly quantised) bytes of tensor `name`, bounds-checked.
    pub fn tensor_bytes(&self, name: &str) -> Result<&[u8]> {
        let info = self.require_tensor(name)?;
        let bytes = self.storage.as_ref();
        let len = info.byte_len()? as u64;
        let start = self.data_offset.checked_add(info.offset);
        let end = start.and_then(|s| s.checked_add(len));
        let slice = start.zip(end).and_then(|(s, e)| bytes.get(usize::try_from(s).ok()?..usize::try_from(e).ok()?));
        slice.ok_or_else(|| GgufError::TensorOutOfBounds {
            name: name.to_owned(),
            start: start.unwrap_or(u64::MAX),
            end: end.unwrap_or(u64::MAX),
            file_len: bytes.len(),
        })
    }

    /// Tensor `name` dequantised to `f32`, with its row-major shape.
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let info = self.require_tensor(name)?;
        let unsupported = || GgufError::UnsupportedTensorType { name: name.to_owned(), ggml_type: info.ggml_type };
        if !info.ggml_type.is_dequantizable() {
            return Err(unsupported());
        }
        let bytes = self.tensor_bytes(name)?;
        let mut out = vec![0.0; info.n_elements()];
        dequantize::dequantize(info.ggml_type, bytes, &mut out).ok_or_else(unsupported)?;
        Ok((info.shape.clone(), out))
    }

    /// Shorthand for `self.metadata().get(key)`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.get(key)
    }

    /// Shorthand for [`GgufMetadata::get_u64`].
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.metadata.get_u64(key)
    }

    /// Shorthand for [`GgufMetadata::get_f64`].
    pub fn get_f64(&self, key: &str) -> Result<f64> {
        self.metadata.get_f64(key)
    }

    /// Shorthand for [`GgufMetadata::get_str`].
    pub fn get_str(&self, key: &str) -> Result<&str> {
        self.metadata.get_str(key)
    }

    /// Shorthand for [`GgufMetadata::get_str_array`].
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>> {
        self.metadata.get_str_array(key)
    }

    /// Shorthand for [`GgufMetadata::get_i32_array`].
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>> {
        self.metadata.get_i32_array(key)
    }
}

impl<S: AsRef<[u8]>> fmt::Debug for GgufFile<S> {
    /// Summarises instead of dumping the (possibly huge) storage and vocabulary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.version)
            .field("bytes", &self.storage.as_ref().len())
            .field("metadata_keys", &self.metadata.0.len())
            .field("tensors", &self.tensors.len())
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .finish()
    }
}
