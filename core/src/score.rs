//! How well a model predicts a text on its own (no memory): mean NLL and next-token accuracy, the
//! numbers of `cram score` and the baseline of every cramming result.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use serde::Serialize;

use crate::models::Model;
use crate::{Error, Result};

/// The result of [`score_text`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextScore {
    /// Tokens scored over (positions 1..N-1 predict tokens 2..N).
    pub tokens: usize,
    /// Mean negative log-likelihood of tokens 2..N, nats.
    pub nll_nats_per_token: f64,
    /// The same in bits.
    pub nll_bits_per_token: f64,
    /// Share of tokens 2..N that are the argmax of the previous position.
    pub next_token_accuracy: f64,
}

/// Scores `ids` (at least 2 tokens) with plain next-token prediction.
pub fn score_text(model: &Model, ids: &[u32]) -> Result<TextScore> {
    let n = ids.len();
    if n < 2 {
        return Err(Error::Input(format!("scoring needs at least 2 tokens, the text has {n}")));
    }
    let device = model.embedding_matrix().device();
    let input: Vec<i32> = ids[..n - 1].iter().map(|&i| i as i32).collect();
    let target: Vec<i32> = ids[1..].iter().map(|&i| i as i32).collect();
    let logits = model.forward(Tensor::<2, Int>::from_data(TensorData::new(input, [1, n - 1]), &device));
    let targets = Tensor::<3, Int>::from_data(TensorData::new(target, [1, n - 1, 1]), &device);
    let right = logits.clone().argmax(2).equal(targets.clone()).int().sum().into_scalar::<i64>();
    let nll = log_softmax(logits, 2).gather(2, targets).neg().mean().into_scalar::<f32>() as f64;
    Ok(TextScore { tokens: n, nll_nats_per_token: nll, nll_bits_per_token: nll * std::f64::consts::LOG2_E, next_token_accuracy: right as f64 / (n - 1) as f64 })
}
