//! Which file implements each [`Method`]: one line per method.
//!
//! A new method is its own file `methods/<name>.rs` (a struct implementing [`MethodImpl`]: its
//! pieces, what they feed the model, and optionally its adapters and warm start) plus its line
//! here. It also needs, in `methods/mod.rs`, its `pub mod` line, its [`Method`] variant (with its
//! settings, and their checks in `CramConfig::validate` if it has any) and its name
//! ([`crate::methods::MethodName`]: the variant and its arms in `ALL`, `as_str`, `kind` and
//! `Method::with_defaults`); and in the app, its list (`METHODS` in `app/src/compute.rs`). The
//! CLI's `--method` takes its values from `MethodName::ALL` (a help line in `METHOD_HELP`,
//! `native-cli/src/cli.rs`, is optional).

use crate::methods::pieces::MethodImpl;
use crate::methods::{Method, dense, lora, lowdim, memory, one_pass, progressive};
use crate::models::ModelConfig;

/// The implementation of `method` with `k` vectors on a model of `config`; `std` is the scale of
/// the memory vectors at initialisation.
pub(crate) fn implementation(method: &Method, k: usize, config: &ModelConfig, std: f32) -> Box<dyn MethodImpl> {
    match method {
        Method::Memory => Box::new(memory::MemoryVectors::new(k, config, std)),
        Method::Dense => Box::new(dense::Dense::new(k, config, std)),
        Method::Lowdim { rank } => Box::new(lowdim::Lowdim::new(*rank, k, config, std)),
        Method::Lora { rank, targets, alpha } => Box::new(lora::Adapters::new(*rank, targets, *alpha, config)),
        Method::Progressive { .. } => Box::new(progressive::Progressive::new(k, config, std)),
        Method::OnePass { shared_m } => Box::new(one_pass::OnePass::new(config, std, *shared_m)),
    }
}
