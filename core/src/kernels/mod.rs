//! CPU kernels for what cramming does to a model whose weights never change.
//!
//! - [`packed`]: matrix products against a matrix packed once into its micro-kernel's layout
//!   (AVX-512 or AVX2 + FMA, chosen at run time), threads splitting the output's columns.
//! - [`frozen_linear`]: a linear layer's forward and input-gradient products on those kernels, as
//!   one autodiff operation of burn's CPU backend; [`crate::models`]' `Linear` uses it on the CPU
//!   in f32, and in bf16 where the CPU has AVX-512 BF16 (`CRAM_CPU_KERNELS=off` turns it off).

pub mod frozen_linear;
pub mod packed;

pub use frozen_linear::{FrozenLinear, kernel_for};
pub use packed::{Isa, PackedMatrix};
