//! Reading tensors back to the host. Every read is async at heart: WebGPU in the browser cannot
//! block, so the optimiser loop and greedy decoding are written as `async` functions over these
//! reads, and their blocking forms run them to completion with [`sync`] (CPU, Vulkan, CUDA; and the
//! CPU backend in the browser, whose reads are ready at once).

use burn::tensor::{Bool, Int, Tensor};

use crate::{Error, Result};

/// The values of a float tensor as `f32`.
pub async fn floats<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.into_data_async().await.map_err(|e| Error::Device(format!("{e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Device(format!("{e:?}")))
}

/// The values of an int tensor as `i64`.
pub async fn ints<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<i64>> {
    let data = t.into_data_async().await.map_err(|e| Error::Device(format!("{e:?}")))?;
    data.convert::<i64>().try_into_vec::<i64>().map_err(|e| Error::Device(format!("{e:?}")))
}

/// The values of a bool tensor.
pub async fn bools<const D: usize>(t: Tensor<D, Bool>) -> Result<Vec<bool>> {
    let data = t.into_data_async().await.map_err(|e| Error::Device(format!("{e:?}")))?;
    data.convert::<bool>().try_into_vec::<bool>().map_err(|e| Error::Device(format!("{e:?}")))
}

/// Runs `f` to completion, blocking; on a device that cannot block (WebGPU) a clear error instead.
pub fn sync<T>(f: impl Future<Output = Result<T>>) -> Result<T> {
    burn::tensor::try_read_sync(f).unwrap_or_else(|| Err(Error::Device("this device cannot block on reads (WebGPU); use the async API".into())))
}
