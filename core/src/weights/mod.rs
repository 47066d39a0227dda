//! Where weights come from. A [`TensorSource`] hands out f32 tensors by their Hugging Face name,
//! whatever the file: safetensors (one file or shards), GGUF (dequantised, names mapped, llama.cpp's
//! Q/K permutation undone). Models load through [`Weights`], a view of a source at a name prefix.

pub mod gguf;
pub mod gguf_view;
#[cfg(feature = "native")]
pub mod hub;
pub mod names;
pub mod random;
pub mod safetensors;

use burn::tensor::{Device, FloatDType, Tensor, TensorData};

use crate::{Error, Result};

/// A tensor in host memory, row-major, converted to f32.
#[derive(Debug, Clone)]
pub struct HostTensor {
    /// Row-major shape, PyTorch order.
    pub shape: Vec<usize>,
    /// The values.
    pub data: Vec<f32>,
}

/// Bytes of a weight file: memory-mapped natively, owned in the browser.
pub enum Bytes {
    /// Bytes in memory.
    Owned(Vec<u8>),
    /// A memory-mapped file.
    #[cfg(feature = "native")]
    Mapped(memmap2::Mmap),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            #[cfg(feature = "native")]
            Bytes::Mapped(m) => m,
        }
    }
}

impl Bytes {
    /// Tells the OS that `range` of a memory-mapped file is read and done with: its pages leave this
    /// process's resident memory (they are read from the file again if ever touched). Loading calls
    /// it after converting each weight, so a model streams through host memory one tensor at a
    /// time instead of staying mapped in whole beside its copy on the device. A no-op for owned bytes.
    pub fn release(&self, range: std::ops::Range<usize>) {
        #[cfg(all(feature = "native", unix))]
        if let Bytes::Mapped(map) = self
            && range.end <= map.len()
            && range.start < range.end
        {
            // SAFETY: the map is a read-only file mapping; MADV_DONTNEED only drops its pages from
            // this process, and any later read faults them in from the unchanged file.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, range.start, range.end - range.start) };
        }
        #[cfg(not(all(feature = "native", unix)))]
        let _ = range;
    }

    /// Memory-maps `path` (natively); the file must not change while it is mapped.
    #[cfg(feature = "native")]
    pub fn map(path: &std::path::Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: weight files are read-only inputs; cram never writes them while mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Ok(Bytes::Mapped(map))
    }
}

/// Anything that hands out weights by Hugging Face tensor name.
pub trait TensorSource {
    /// The tensor called `name`, or `None` when the source has no such tensor.
    fn tensor(&self, name: &str) -> Result<Option<HostTensor>>;

    /// The tensor called `name` when the model expects `shape`: what [`Weights`] asks. A file
    /// ignores the shape (it is checked afterwards); [`random::RandomWeights`] makes it.
    fn tensor_of_shape(&self, name: &str, shape: &[usize]) -> Result<Option<HostTensor>> {
        let _ = shape;
        self.tensor(name)
    }
}

/// A [`TensorSource`] seen at a name prefix, with the device tensors are made on and the dtype they
/// are stored in there (the candle `VarBuilder` idea).
#[derive(Clone)]
pub struct Weights<'a> {
    source: &'a dyn TensorSource,
    prefix: String,
    device: Device,
    dtype: FloatDType,
    /// The dtype the linear layers keep their weights in: `dtype`, unless the CPU's bf16 kernels
    /// multiply bf16 weights with everything else in f32 ([`Weights::with_dtype`]).
    linear_dtype: FloatDType,
}

impl<'a> Weights<'a> {
    /// The root view of `source`; tensors are created on `device` in f32.
    pub fn new(source: &'a dyn TensorSource, device: &Device) -> Self {
        Self { source, prefix: String::new(), device: device.clone(), dtype: FloatDType::F32, linear_dtype: FloatDType::F32 }
    }

    /// The same view, storing tensors on the device in `dtype` (bf16/f16 weights on a GPU). bf16
    /// on a CPU whose kernels multiply in bf16 (AVX-512 BF16) keeps the linear layers' weights and
    /// products in bf16 and every other tensor in f32, as `torch.autocast` splits them: burn's CPU
    /// backend is slower in bf16 than in f32 for everything but the products.
    pub fn with_dtype(self, dtype: FloatDType) -> Self {
        if dtype == FloatDType::BF16 && crate::kernels::kernel_for(&self.device, dtype).is_some() {
            return Self { dtype: FloatDType::F32, linear_dtype: dtype, ..self };
        }
        Self { dtype, linear_dtype: dtype, ..self }
    }

    /// The view one level down: `pp("layers.0")`.
    pub fn pp(&self, name: impl std::fmt::Display) -> Self {
        let prefix = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        Self { prefix, ..self.clone() }
    }

    /// The device tensors are made on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The dtype the linear layers keep their weights in.
    pub fn linear_dtype(&self) -> FloatDType {
        self.linear_dtype
    }

    /// A device tensor in this view's dtype from f32 host values. Each weight is converted on its
    /// own, so the host holds at most one weight in f32 at a time.
    pub fn upload<const D: usize>(&self, data: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        Tensor::<D>::from_data(TensorData::new(data, shape), &self.device).cast(self.dtype)
    }

    fn full_name(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) }
    }

    /// Whether the source has `name` under this prefix.
    pub fn contains(&self, name: &str) -> Result<bool> {
        Ok(self.source.tensor(&self.full_name(name))?.is_some())
    }

    /// The host tensor `name`, checked against `shape`.
    pub fn host(&self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        let full = self.full_name(name);
        let t = self.source.tensor_of_shape(&full, shape)?.ok_or_else(|| Error::MissingTensor { name: full.clone() })?;
        if t.shape != shape {
            return Err(Error::ShapeMismatch { name: full, expected: shape.to_vec(), got: t.shape });
        }
        Ok(t)
    }

    /// The tensor `name` of rank `D` on the device, checked against `shape`.
    pub fn get<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Tensor<D>> {
        let t = self.host(name, &shape)?;
        Ok(self.upload(t.data, shape))
    }
}

/// Row-major `[rows, cols]` to `[cols, rows]`.
pub(crate) fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for (r, row) in data.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}
