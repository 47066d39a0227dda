//! The optimiser: PyTorch-exact AdamW on host vectors, and the cramming loop ([`trainer`]) that is
//! the same for every model family.

pub mod adamw;
pub mod schedule;
pub mod trainer;
