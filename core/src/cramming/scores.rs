//! Teacher-forced scoring of texts after a prefix (sink, memory): the inputs, the logits of the
//! scored targets, the loss and what the host reads back of it.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use crate::Result;
use crate::decode::embed_ids;
use crate::load::LoadedModel;
use crate::methods::{CramConfig, Layout, sink_token};
use crate::models::Model;
use crate::readback;

/// The model's inputs for texts padded to one length: `prefix` (`[B, P, d]`), then t_1..t_{n-1}
/// (the output before t_i predicts t_i).
///
/// # Shapes
/// prefix `[B, P, d]` → `[B, P + n_max - 1, d]`
pub(crate) fn text_inputs(model: &Model, prefix: Tensor<3>, texts: &[&[u32]]) -> Tensor<3> {
    let n_max = texts.iter().map(|t| t.len()).max().unwrap_or(0);
    let b = prefix.dims()[0];
    let mut x = vec![prefix];
    if n_max > 1 {
        let ids: Vec<i32> = texts.iter().flat_map(|t| (0..n_max - 1).map(move |i| t.get(i).copied().unwrap_or(0) as i32)).collect();
        let device = model.embedding_matrix().device();
        x.push(model.embed(Tensor::<2, Int>::from_data(TensorData::new(ids, [b, n_max - 1]), &device)));
    }
    Tensor::cat(x, 1)
}

/// Logits of the text targets `first..n_max` from the final hidden states of [`text_inputs`] after a
/// prefix of `p` positions.
///
/// # Shapes
/// hidden `[B, P + n_max - 1, d]` → `[B, n_max - first, vocab]`
pub(crate) fn target_logits(model: &Model, hidden: Tensor<3>, p: usize, first: usize, n_max: usize) -> Tensor<3> {
    model.lm_head(hidden.narrow(1, p + first - 1, n_max - first))
}

/// Logits of the text targets `first..n` after `prefix` (`[B, P, d]`), for texts padded to one length.
///
/// # Shapes
/// prefix `[B, P, d]` → `[B, n_max - first, vocab]`
pub(crate) fn text_logits(model: &Model, prefix: Tensor<3>, texts: &[&[u32]], first: usize) -> Tensor<3> {
    let n_max = texts.iter().map(|t| t.len()).max().unwrap_or(0);
    let p = prefix.dims()[1];
    target_logits(model, model.hidden_states(text_inputs(model, prefix, texts)), p, first, n_max)
}

/// Per text: negative log-likelihood of each target `first..n` and whether the argmax is right.
pub(crate) struct Scores {
    pub(crate) nll: Vec<Vec<f64>>,
    pub(crate) right: Vec<Vec<bool>>,
}

/// The loss tensor (Σ_texts mean NLL) and the tensors the host reads: per-position NLL and hits.
pub(crate) fn score_tensors(logits: Tensor<3>, texts: &[&[u32]], first: usize) -> (Tensor<1>, Tensor<2>, Tensor<3, burn::tensor::Bool>) {
    let [b, n, _] = logits.dims();
    let device = logits.device().without_autodiff();
    let targets: Vec<i32> = texts.iter().flat_map(|t| (first..first + n).map(move |i| t.get(i).copied().unwrap_or(0) as i32)).collect();
    let weights: Vec<f32> = texts
        .iter()
        .flat_map(|t| {
            let scored = t.len().saturating_sub(first).max(1) as f32;
            (first..first + n).map(move |i| if i < t.len() { 1.0 / scored } else { 0.0 })
        })
        .collect();
    let targets = Tensor::<3, Int>::from_data(TensorData::new(targets, [b, n, 1]), &device);
    let weights = Tensor::<2>::from_data(TensorData::new(weights, [b, n]), &device);
    let hits = logits.clone().argmax(2).equal(targets.clone());
    let nll = log_softmax(logits, 2).gather(2, targets).neg().reshape([b, n]);
    let loss = (nll.clone() * weights).sum();
    (loss, nll, hits)
}

/// Reads the scores of [`score_tensors`] back, cut to each text's length.
pub(crate) async fn read_scores(nll: Tensor<2>, hits: Tensor<3, burn::tensor::Bool>, texts: &[&[u32]], first: usize) -> Result<Scores> {
    let n = nll.dims()[1];
    let nll_host = readback::floats(nll.without_autodiff()).await?;
    let eq = readback::bools(hits).await?;
    let mut scores = Scores { nll: vec![], right: vec![] };
    for (row, t) in texts.iter().enumerate() {
        let len = t.len().saturating_sub(first);
        scores.nll.push(nll_host[row * n..row * n + len].iter().map(|&v| v as f64).collect());
        scores.right.push(eq[row * n..row * n + len].to_vec());
    }
    Ok(scores)
}

/// Σ NLL and tokens right of `ids` (targets `first..`) after `input` (`[1, P, d]`), no gradient.
pub(crate) async fn evaluate(model: &Model, input: Tensor<3>, ids: &[u32], first: usize) -> Result<(f64, usize)> {
    if ids.len() <= first {
        return Ok((0.0, 0));
    }
    let (_, nll, hits) = score_tensors(text_logits(model, input, &[ids], first), &[ids], first);
    let s = read_scores(nll, hits, &[ids], first).await?;
    Ok((s.nll[0].iter().sum(), s.right[0].iter().filter(|&&r| r).count()))
}

/// Σ NLL and tokens right of a text without memory. With a sink layout, or when t_1 is scored, the
/// input is `[sink, t_1..]` (the model's natural start of text); else `[t_1..]`, scoring from t_2.
pub(crate) async fn baseline(lm: &LoadedModel, cfg: &CramConfig, ids: &[u32]) -> Result<(f64, usize)> {
    let first = cfg.protocol.first_scored();
    if cfg.layout == Layout::Sink || first == 0 {
        evaluate(&lm.model, embed_ids(&lm.model, &[sink_token(lm)?]), ids, first).await
    } else {
        evaluate(&lm.model, embed_ids(&lm.model, &ids[..1]), &ids[1..], first - 1).await
    }
}
