//! Safetensors weights: one `model.safetensors` or shards listed in `model.safetensors.index.json`.
//! f16 and bf16 are converted to f32 on load; the file itself is memory-mapped natively.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, Metadata};

use super::{Bytes, HostTensor, TensorSource};
use crate::{Error, Result};

/// One safetensors file, parsed once; tensors are converted when asked for.
pub struct SafetensorsFile {
    name: String,
    bytes: Bytes,
    data_start: usize,
    metadata: Metadata,
}

impl SafetensorsFile {
    /// Parses the header of `bytes`; `name` is used in error messages.
    pub fn from_bytes(name: impl Into<String>, bytes: Bytes) -> Result<Self> {
        let name = name.into();
        let (header_len, metadata) = read_header(bytes.as_ref()).map_err(|message| Error::Safetensors { path: name.clone(), message })?;
        Ok(Self { name, bytes, data_start: 8 + header_len, metadata })
    }

    /// Memory-maps and parses `path`.
    #[cfg(feature = "native")]
    pub fn open(path: &std::path::Path) -> Result<Self> {
        Self::from_bytes(path.display().to_string(), Bytes::map(path)?)
    }

    /// The names of all tensors in the file.
    pub fn names(&self) -> Vec<String> {
        self.metadata.tensors().into_keys().collect()
    }

    /// The `__metadata__` string map of the header.
    pub fn user_metadata(&self) -> HashMap<String, String> {
        self.metadata.metadata().clone().unwrap_or_default()
    }
}

impl TensorSource for SafetensorsFile {
    fn tensor(&self, name: &str) -> Result<Option<HostTensor>> {
        let Some(info) = self.metadata.info(name) else { return Ok(None) };
        let bad = |message: String| Error::Safetensors { path: self.name.clone(), message };
        let (start, end) = info.data_offsets;
        let raw = self
            .bytes
            .as_ref()
            .get(self.data_start + start..self.data_start + end)
            .ok_or_else(|| bad(format!("tensor `{name}` lies outside the file (truncated?)")))?;
        let data = match info.dtype {
            Dtype::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => raw.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => raw.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::F64 => raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32).collect(),
            other => return Err(bad(format!("tensor `{name}` has dtype {other:?}; cram reads F32, F16, BF16 and F64 weights"))),
        };
        self.bytes.release(self.data_start + start..self.data_start + end);
        Ok(Some(HostTensor { shape: info.shape.clone(), data }))
    }
}

/// The header of a safetensors file (its length and metadata), as `safetensors::SafeTensors::read_metadata`
/// gives it, after checking every tensor's end offset against the length of the file: safetensors 0.8
/// adds the offsets up unchecked, so a crafted header overflows there (the fuzzing reproducer
/// `core/tests/fixtures/fuzz/cram_file-offsets-overflow.bin`). Call it before `SafeTensors::deserialize`.
pub fn read_header(bytes: &[u8]) -> std::result::Result<(usize, Metadata), String> {
    let header_len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    if let Some(n) = header_len.and_then(|n| usize::try_from(n).ok())
        && let Some(header) = 8usize.checked_add(n).and_then(|end| bytes.get(8..end))
    {
        /// The one field checked here; the rest (metadata strings included) is skipped unparsed. A
        /// header this does not parse is left to `read_metadata`, which is stricter.
        #[derive(serde::Deserialize)]
        struct Entry {
            data_offsets: Option<(u64, u64)>,
        }
        let data_len = (bytes.len() - 8 - n) as u64;
        let entries: HashMap<String, Entry> = serde_json::from_slice(header).unwrap_or_default();
        for (name, entry) in entries.iter().filter(|(name, _)| *name != "__metadata__") {
            if let Some((_, end)) = entry.data_offsets.filter(|&(_, end)| end > data_len) {
                return Err(format!("tensor `{name}` ends at byte {end} of a {data_len}-byte data section (truncated or corrupt)"));
            }
        }
    }
    safetensors::SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())
}

/// Several safetensors shards seen as one source (`model.safetensors.index.json`).
pub struct ShardedSafetensors {
    shards: Vec<SafetensorsFile>,
}

impl ShardedSafetensors {
    /// Joins `shards`; a name is looked up in each in turn.
    pub fn new(shards: Vec<SafetensorsFile>) -> Self {
        Self { shards }
    }
}

impl TensorSource for ShardedSafetensors {
    fn tensor(&self, name: &str) -> Result<Option<HostTensor>> {
        for shard in &self.shards {
            if let Some(t) = shard.tensor(name)? {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }
}

/// The shard file names listed in a `model.safetensors.index.json`.
pub fn shard_files(index_json: &str, path: &str) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: HashMap<String, String>,
    }
    let index: Index = serde_json::from_str(index_json).map_err(|e| Error::Safetensors { path: path.to_string(), message: format!("bad shard index: {e}") })?;
    let mut files: Vec<String> = index.weight_map.into_values().collect();
    files.sort();
    files.dedup();
    Ok(files)
}
