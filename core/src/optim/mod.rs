//! The optimiser: PyTorch-exact AdamW on host vectors ([`adamw`]) and the learning-rate schedules
//! ([`schedule`]). A leaf: the cramming loop that drives it is [`crate::cramming`].

pub mod adamw;
pub mod schedule;
