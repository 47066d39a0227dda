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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use half::{bf16, f16};

/// Result type of this module.
pub type Result<T, E = GgufError> = std::result::Result<T, E>;

const MAGIC: [u8; 4] = *b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
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

/// A ggml tensor element type, by its numeric id in `ggml.h`'s `enum ggml_type`.
///
/// The associated constants name the types this reader can dequantise; any other id is still
/// representable (and named in messages via [`GgmlType::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GgmlType(pub u32);

#[allow(missing_docs)]
impl GgmlType {
    pub const F32: Self = Self(0);
    pub const F16: Self = Self(1);
    pub const Q4_0: Self = Self(2);
    pub const Q4_1: Self = Self(3);
    pub const Q5_0: Self = Self(6);
    pub const Q5_1: Self = Self(7);
    pub const Q8_0: Self = Self(8);
    pub const Q4_K: Self = Self(12);
    pub const Q5_K: Self = Self(13);
    pub const Q6_K: Self = Self(14);
    pub const BF16: Self = Self(30);
}

/// `(id, name, elements per block, bytes per block)` for every type ggml defines.
const GGML_TYPES: &[(u32, &str, usize, usize)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
];

impl GgmlType {
    fn entry(self) -> Option<&'static (u32, &'static str, usize, usize)> {
        GGML_TYPES.iter().find(|e| e.0 == self.0)
    }

    /// ggml's name for the type (`"Q4_K"`), or `"unknown"`.
    pub fn name(self) -> &'static str {
        self.entry().map_or("unknown", |e| e.1)
    }

    /// `(elements per block, bytes per block)`, if the type is known.
    pub fn block_layout(self) -> Option<(usize, usize)> {
        self.entry().map(|e| (e.2, e.3))
    }

    /// Whether [`GgufFile::tensor_f32`] can dequantise this type.
    pub fn is_dequantizable(self) -> bool {
        dequantize(self, &[], &mut []).is_some()
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (type id {})", self.name(), self.0)
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
        dequantize(info.ggml_type, bytes, &mut out).ok_or_else(unsupported)?;
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

// ---------------------------------------------------------------------------------------------
// Header parsing

/// The owned result of parsing everything before the tensor data.
struct Header {
    version: u32,
    metadata: GgufMetadata,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    data_offset: u64,
}

impl Header {
    fn parse(bytes: &[u8]) -> Result<Self> {
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

// ---------------------------------------------------------------------------------------------
// Dequantisation: one function per ggml block layout, mirroring ggml-quants.c.

/// Dequantises `src` (whole blocks of `ty`) into `dst`; `None` if `ty` is not supported.
///
/// The caller guarantees `src.len() / block_bytes == dst.len() / block_elems`; surplus on
/// either side is ignored, never read out of bounds.
fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Option<()> {
    match ty {
        GgmlType::F32 => blocks(src, dst, |b: &[u8; 4], [y]: &mut [f32; 1]| *y = f32::from_le_bytes(*b)),
        GgmlType::F16 => blocks(src, dst, |&b: &[u8; 2], [y]: &mut [f32; 1]| *y = f16::from_le_bytes(b).to_f32()),
        GgmlType::BF16 => blocks(src, dst, |&b: &[u8; 2], [y]: &mut [f32; 1]| *y = bf16::from_le_bytes(b).to_f32()),
        GgmlType::Q8_0 => blocks(src, dst, q8_0),
        GgmlType::Q4_0 => blocks(src, dst, q4_0),
        GgmlType::Q4_1 => blocks(src, dst, q4_1),
        GgmlType::Q5_0 => blocks(src, dst, q5_0),
        GgmlType::Q5_1 => blocks(src, dst, q5_1),
        GgmlType::Q4_K => blocks(src, dst, q4_k),
        GgmlType::Q5_K => blocks(src, dst, q5_k),
        GgmlType::Q6_K => blocks(src, dst, q6_k),
        _ => return None,
    }
    Some(())
}

/// Applies `decode` to each `B`-byte block of `src` and `N`-element block of `dst`.
fn blocks<const B: usize, const N: usize>(src: &[u8], dst: &mut [f32], decode: impl Fn(&[u8; B], &mut [f32; N])) {
    let (src, _) = src.as_chunks::<B>();
    let (dst, _) = dst.as_chunks_mut::<N>();
    for (block, out) in src.iter().zip(dst) {
        decode(block, out);
    }
}

fn f16_at(lo: u8, hi: u8) -> f32 {
    f16::from_le_bytes([lo, hi]).to_f32()
}

/// `{ f16 d; i8 qs[32] }`: `y = d * q`.
fn q8_0(&[d0, d1, ref qs @ ..]: &[u8; 34], y: &mut [f32; 32]) {
    let d = f16_at(d0, d1);
    for (y, &q) in y.iter_mut().zip(qs) {
        *y = f32::from(q as i8) * d;
    }
}

/// Splits 16 bytes of nibbles into elements 0..16 (low nibbles) and 16..32 (high nibbles).
fn nibbles(qs: &[u8; 16], y: &mut [f32; 32], f: impl Fn(usize, u8, u8) -> (f32, f32)) {
    let (lo, hi) = y.split_at_mut(16);
    for (j, ((lo, hi), &q)) in lo.iter_mut().zip(hi).zip(qs).enumerate() {
        (*lo, *hi) = f(j, q & 0x0F, q >> 4);
    }
}

/// `{ f16 d; u8 qs[16] }`: `y = (nibble - 8) * d`.
fn q4_0(&[d0, d1, ref qs @ ..]: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(d0, d1);
    let v = |q: u8| f32::from(q as i8 - 8) * d;
    nibbles(qs, y, |_, lo, hi| (v(lo), v(hi)));
}

/// `{ f16 d, m; u8 qs[16] }`: `y = nibble * d + m`.
fn q4_1(&[d0, d1, m0, m1, ref qs @ ..]: &[u8; 20], y: &mut [f32; 32]) {
    let (d, m) = (f16_at(d0, d1), f16_at(m0, m1));
    let v = |q: u8| f32::from(q) * d + m;
    nibbles(qs, y, |_, lo, hi| (v(lo), v(hi)));
}

/// The fifth bits of Q5 element `j` (low half) and `j + 16` (high half), as `0` or `16`.
fn fifth_bits(qh: u32, j: usize) -> (u8, u8) {
    (((qh >> j) << 4 & 0x10) as u8, ((qh >> (j + 12)) & 0x10) as u8)
}

/// `{ f16 d; u32 qh; u8 qs[16] }`: `y = ((nibble | bit4) - 16) * d`.
fn q5_0(&[d0, d1, h0, h1, h2, h3, ref qs @ ..]: &[u8; 22], y: &mut [f32; 32]) {
    let (d, qh) = (f16_at(d0, d1), u32::from_le_bytes([h0, h1, h2, h3]));
    let v = |q: u8| f32::from(q as i8 - 16) * d;
    nibbles(qs, y, |j, lo, hi| {
        let (h_lo, h_hi) = fifth_bits(qh, j);
        (v(lo | h_lo), v(hi | h_hi))
    });
}

/// `{ f16 d, m; u32 qh; u8 qs[16] }`: `y = (nibble | bit4) * d + m`.
fn q5_1(&[d0, d1, m0, m1, h0, h1, h2, h3, ref qs @ ..]: &[u8; 24], y: &mut [f32; 32]) {
    let (d, m, qh) = (f16_at(d0, d1), f16_at(m0, m1), u32::from_le_bytes([h0, h1, h2, h3]));
    let v = |q: u8| f32::from(q) * d + m;
    nibbles(qs, y, |j, lo, hi| {
        let (h_lo, h_hi) = fifth_bits(qh, j);
        (v(lo | h_lo), v(hi | h_hi))
    });
}

/// ggml's `get_scale_min_k4`: 6-bit scale and min of sub-block `j` (0..8) from 12 packed bytes.
fn scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 { (q[j] & 63, q[j + 4] & 63) } else { ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)) }
}

/// Scale and min of each of the 8 sub-blocks of 32 of a Q4_K/Q5_K super-block.
fn k4_scales(d: f32, dmin: f32, scales: &[u8; 12]) -> [(f32, f32); 8] {
    std::array::from_fn(|j| {
        let (sc, m) = scale_min_k4(j, scales);
        (d * f32::from(sc), dmin * f32::from(m))
    })
}

/// `{ f16 d, dmin; u8 scales[12]; u8 qs[128] }`, 256 elements in 4 groups of 64: low nibbles of
/// 32 bytes give sub-block 2g, high nibbles sub-block 2g+1; `y = d*sc * q - dmin*m`.
fn q4_k(&[d0, d1, m0, m1, ref rest @ ..]: &[u8; 144], y: &mut [f32; 256]) {
    let Some((scales, qs)) = rest.split_first_chunk::<12>() else {
        return;
    };
    let sub = k4_scales(f16_at(d0, d1), f16_at(m0, m1), scales);
    let groups = y.as_chunks_mut::<64>().0.iter_mut().zip(qs.as_chunks::<32>().0);
    for ((y, qs), &[(d1, m1), (d2, m2)]) in groups.zip(sub.as_chunks::<2>().0) {
        let (lo, hi) = y.split_at_mut(32);
        for ((lo, hi), &q) in lo.iter_mut().zip(hi).zip(qs) {
            *lo = d1 * f32::from(q & 0xF) - m1;
            *hi = d2 * f32::from(q >> 4) - m2;
        }
    }
}

/// `{ f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }`: like Q4_K plus a fifth bit per
/// element, bit 2g (low nibbles) / 2g+1 (high nibbles) of `qh[l]` for group g.
fn q5_k(&[d0, d1, m0, m1, ref rest @ ..]: &[u8; 176], y: &mut [f32; 256]) {
    let Some((scales, rest)) = rest.split_first_chunk::<12>() else {
        return;
    };
    let Some((qh, qs)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let sub = k4_scales(f16_at(d0, d1), f16_at(m0, m1), scales);
    let groups = y.as_chunks_mut::<64>().0.iter_mut().zip(qs.as_chunks::<32>().0);
    for (g, ((y, qs), &[(d1, m1), (d2, m2)])) in groups.zip(sub.as_chunks::<2>().0).enumerate() {
        let (lo, hi) = y.split_at_mut(32);
        for (((lo, hi), &q), &h) in lo.iter_mut().zip(hi).zip(qs).zip(qh) {
            let h_lo = (h >> (2 * g) & 1) << 4;
            let h_hi = (h >> (2 * g + 1) & 1) << 4;
            *lo = d1 * f32::from((q & 0xF) | h_lo) - m1;
            *hi = d2 * f32::from((q >> 4) | h_hi) - m2;
        }
    }
}

/// `{ u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }`, 256 elements in 2 halves of 128. In a
/// half, element `l + 32k` (l < 32, k < 4) takes its low 4 bits from `ql[l + 32(k&1)]` (low
/// nibble for k < 2, else high), its top 2 bits from bits 2k..2k+2 of `qh[l]`, and scale
/// `scales[l/16 + 2k]`; `y = d * scale * (q - 32)`.
fn q6_k(block: &[u8; 210], y: &mut [f32; 256]) {
    let Some((ql, rest)) = block.split_first_chunk::<128>() else {
        return;
    };
    let Some((qh, rest)) = rest.split_first_chunk::<64>() else {
        return;
    };
    let &[ref scales @ .., d0, d1] = rest else {
        return;
    };
    let d = f16_at(d0, d1);
    let halves = y.as_chunks_mut::<128>().0.iter_mut();
    let halves = halves.zip(ql.as_chunks::<64>().0).zip(qh.as_chunks::<32>().0).zip(scales.as_chunks::<8>().0);
    for (((y, ql), qh), sc) in halves {
        let sc: [f32; 8] = sc.map(|s| d * f32::from(s as i8));
        for l in 0..32 {
            let h = qh[l];
            let q = [
                (ql[l] & 0xF) | ((h & 3) << 4),
                (ql[l + 32] & 0xF) | (((h >> 2) & 3) << 4),
                (ql[l] >> 4) | (((h >> 4) & 3) << 4),
                (ql[l + 32] >> 4) | (((h >> 6) & 3) << 4),
            ];
            for (k, q) in q.into_iter().enumerate() {
                y[l + 32 * k] = sc[l / 16 + 2 * k] * f32::from(q as i8 - 32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        let path = crate::load::alias_path(crate::load::DEFAULT_MODEL)?;
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
}
