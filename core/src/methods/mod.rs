//! What is trained and how success is judged. The method of Kuratov et al. (2025): K trainable
//! vectors prepended to a frozen model at the input-embedding level, optimised per text.

use serde::{Deserialize, Serialize};

use crate::optim::adamw::AdamWConfig;
use crate::{Error, Result};

/// Where the memory vectors sit in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `[mem, t_1..t_N]`: the paper's layout.
    Paper,
    /// `[sink, mem, t_1..t_N]`: a fixed sink token (the model's BOS or end-of-text) first, so the
    /// trainable vectors need not be the attention sink of Llama-family models (see method notes).
    #[default]
    Sink,
}

/// When a text counts as crammed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Greedy decoding from the vectors alone reproduces every token, t_1 included (the last memory
    /// position predicts t_1).
    #[default]
    Greedy,
    /// The paper: t_1 is given and not scored; teacher-forced accuracy >= 0.99 is success.
    Paper,
}

impl Protocol {
    /// Index of the first scored target: 0 (t_1 scored) or 1 (t_1 given).
    pub fn first_scored(self) -> usize {
        match self {
            Protocol::Greedy => 0,
            Protocol::Paper => 1,
        }
    }
}

/// The whole recipe of one cramming run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CramConfig {
    /// Number of memory vectors K.
    pub mem: usize,
    /// Input layout.
    pub layout: Layout,
    /// Success criterion.
    pub protocol: Protocol,
    /// AdamW settings.
    pub adamw: AdamWConfig,
    /// Most optimiser steps per text.
    pub max_steps: usize,
    /// Give up after this many steps without a strict improvement of the best accuracy.
    pub patience: usize,
    /// Teacher-forced accuracy that counts as success under [`Protocol::Paper`].
    pub paper_threshold: f64,
    /// Seed of the vector initialisation.
    pub seed: u64,
    /// Standard deviation of the initial vectors; `None` = that of the input-embedding matrix.
    pub init_std: Option<f32>,
}

impl Default for CramConfig {
    fn default() -> Self {
        Self {
            mem: 1,
            layout: Layout::Sink,
            protocol: Protocol::Greedy,
            adamw: AdamWConfig::default(),
            max_steps: 5000,
            patience: 2000,
            paper_threshold: 0.99,
            seed: 0,
            init_std: None,
        }
    }
}

impl CramConfig {
    /// Rejects impossible settings with one clear message.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Input(m.to_string()));
        if self.mem < 1 {
            return bad("--mem must be at least 1");
        }
        if self.max_steps < 1 {
            return bad("--max-steps must be at least 1");
        }
        if !(self.adamw.lr > 0.0 && self.adamw.lr.is_finite()) {
            return bad("--lr must be a positive number");
        }
        if !(0.0..1.0).contains(&self.adamw.beta1) || !(0.0..1.0).contains(&self.adamw.beta2) {
            return bad("--beta1 and --beta2 must be in [0, 1)");
        }
        if !(self.adamw.eps > 0.0) || self.adamw.weight_decay < 0.0 {
            return bad("--eps must be positive and --weight-decay not negative");
        }
        if !(0.0..=1.0).contains(&self.paper_threshold) {
            return bad("the accuracy threshold must be in [0, 1]");
        }
        if self.init_std.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
            return bad("--init-std must be a positive number");
        }
        Ok(())
    }
}
