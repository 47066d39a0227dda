//! Training and testing an encoder on chunks of text: a seeded train/test split, one AdamW step over
//! a batch of training chunks at a time (the frozen decoder's cross-entropy, plus the VAE's KL
//! term), and the test-time measures with the field names of every other method's results.

use burn::tensor::Tensor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Encoder, Mode};
use crate::cramming::scores::{baseline, read_scores, score_tensors, target_logits, text_inputs, text_logits};
use crate::error::{ConfigError, Setting};
use crate::load::LoadedModel;
use crate::memory::{Memory, prefix_then_vectors};
use crate::methods::{CramConfig, Layout, prefix_ids};
use crate::metrics::CramMetrics;
use crate::optim::adamw::{AdamW, AdamWConfig};
use crate::readback;
use crate::{Error, Result};

/// One chunk of text: a name and exactly `tokens` token ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// `<text id>#<window>`.
    pub id: String,
    /// Its ids.
    pub ids: Vec<u32>,
}

/// How the chunks were made and split, as encoder files record it (so that a test runs on the
/// chunks training held out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSpec {
    /// Tokens per chunk, N.
    pub tokens: usize,
    /// Chunks used in all.
    pub chunks: usize,
    /// Of which held out for testing.
    pub test: usize,
    /// Seed of the shuffle.
    pub seed: u64,
    /// sha256 of the test chunks' ids: the same data gives the same test set.
    pub test_sha256: String,
}

/// Training and test chunks.
#[derive(Debug, Clone)]
pub struct Split {
    /// What the encoder learns from.
    pub train: Vec<Chunk>,
    /// Held out.
    pub test: Vec<Chunk>,
    /// How they were made.
    pub spec: SplitSpec,
}

/// Cuts every text into consecutive windows of `tokens` tokens (a book gives many, a short text
/// none), shuffles them with `seed`, keeps `chunks` of them and holds the last `test_fraction` out
/// (at least one each side).
pub fn split_chunks(texts: &[(String, Vec<u32>)], tokens: usize, chunks: usize, test_fraction: f64, seed: u64) -> Result<Split> {
    if tokens < 1 {
        return Err(ConfigError::AtLeastOne(Setting::Tokens).into());
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(ConfigError::NotBetweenZeroAndOne(Setting::TestFraction).into());
    }
    if chunks < 2 {
        return Err(ConfigError::TooFewChunksAsked.into());
    }
    let mut all: Vec<Chunk> =
        texts.iter().flat_map(|(id, ids)| ids.chunks_exact(tokens).enumerate().map(move |(w, c)| Chunk { id: format!("{id}#{w}"), ids: c.to_vec() })).collect();
    all.shuffle(&mut StdRng::seed_from_u64(seed));
    if all.len() < chunks {
        return Err(ConfigError::TooFewChunks { have: all.len(), tokens, asked: chunks }.into());
    }
    all.truncate(chunks);
    let test = ((chunks as f64 * test_fraction).round() as usize).clamp(1, chunks - 1);
    let test_chunks = all.split_off(chunks - test);
    let spec = SplitSpec { tokens, chunks, test, seed, test_sha256: ids_sha256(&test_chunks) };
    Ok(Split { train: all, test: test_chunks, spec })
}

/// sha256 over the chunks' ids, in order.
fn ids_sha256(chunks: &[Chunk]) -> String {
    let mut h = Sha256::new();
    for c in chunks {
        for id in &c.ids {
            h.update(id.to_le_bytes());
        }
        h.update(u32::MAX.to_le_bytes());
    }
    crate::tokenizer::hex(&h.finalize())
}

/// How training runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// AdamW settings (constant learning rate).
    pub adamw: AdamWConfig,
    /// Chunks per step.
    pub batch: usize,
    /// Passes over the training chunks.
    pub epochs: usize,
    /// Seed of the batches' order and the noise (dropout, the VAE's samples).
    pub seed: u64,
}

/// What one training step measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StepScores {
    /// Steps done (1 after the first).
    pub step: usize,
    /// The epoch the step belonged to (from 0).
    pub epoch: usize,
    /// The loss: mean cross-entropy per token plus beta times the KL term.
    pub loss: f64,
    /// Mean cross-entropy per token (nats).
    pub ce: f64,
    /// The VAE's KL term (nats, per text); `None` for an AE.
    pub kl: Option<f64>,
    /// Teacher-forced accuracy over the batch's tokens.
    pub accuracy: f64,
}

/// An encoder being trained: its optimiser and where it stands.
pub struct EncoderTraining {
    /// The encoder.
    pub encoder: Encoder,
    /// Its AdamW state.
    pub opt: AdamW,
    /// Steps done.
    pub step: usize,
    /// How it runs.
    pub settings: TrainSettings,
    train: Vec<Chunk>,
    prefix: Vec<u32>,
}

impl EncoderTraining {
    /// Training of `encoder` on `train` from step `step` with optimiser `opt` (fresh, or a
    /// checkpoint's).
    pub fn new(lm: &LoadedModel, encoder: Encoder, opt: AdamW, step: usize, settings: TrainSettings, train: Vec<Chunk>) -> Result<Self> {
        if settings.batch < 1 || settings.epochs < 1 {
            return Err(ConfigError::BothAtLeastOne(Setting::Batch, Setting::Epochs).into());
        }
        if encoder.config.regularised && encoder.config.layers > 1 && settings.batch < 2 {
            return Err(ConfigError::BatchNormBatch.into());
        }
        if train.is_empty() {
            return Err(Error::Input("no training chunks".into()));
        }
        if !(settings.adamw.lr > 0.0 && settings.adamw.lr.is_finite()) {
            return Err(ConfigError::NotPositive(Setting::Lr).into());
        }
        let prefix = prefix_ids(lm, Layout::Sink)?;
        Ok(Self { encoder, opt, step, settings, train, prefix })
    }

    /// Steps per pass over the training chunks.
    pub fn steps_per_epoch(&self) -> usize {
        self.train.len().div_ceil(self.settings.batch)
    }

    /// Steps of the whole run.
    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch() * self.settings.epochs
    }

    /// Whether every step is done.
    pub fn finished(&self) -> bool {
        self.step >= self.total_steps()
    }

    /// The chunks of step `step`: each epoch shuffles the training chunks with the seed and the
    /// epoch, so a resumed run takes the batches an uninterrupted one does.
    fn batch_of(&self, step: usize) -> Vec<&[u32]> {
        let spe = self.steps_per_epoch();
        let (epoch, within) = (step / spe, step % spe);
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(self.settings.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        order.iter().skip(within * self.settings.batch).take(self.settings.batch).map(|&i| self.train[i].ids.as_slice()).collect()
    }

    /// One optimiser step on the next batch.
    pub fn step(&mut self, lm: &LoadedModel) -> Result<StepScores> {
        readback::sync(self.step_async(lm))
    }

    /// [`EncoderTraining::step`], reading back asynchronously.
    pub async fn step_async(&mut self, lm: &LoadedModel) -> Result<StepScores> {
        let batch = self.batch_of(self.step);
        let (b, n) = (batch.len(), batch[0].len());
        let ad = lm.device.clone().without_autodiff().autodiff();
        let leaves = self.encoder.leaves(&ad, true);
        let mut rng = StdRng::seed_from_u64(self.settings.seed ^ 0x5EED ^ (self.step as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let encoded = self.encoder.forward(lm, &leaves, &batch, &mut Mode::Train(&mut rng))?;
        let prefix = prefix_then_vectors(&lm.model, &self.prefix, b, Some(encoded.vectors), true)?;
        let p = prefix.dims()[1];
        let hidden = lm.model.hidden_states(text_inputs(&lm.model, prefix, &batch));
        let (loss_sum, nll, hits) = score_tensors(target_logits(&lm.model, hidden, p, 0, n), &batch, 0);
        let ce = loss_sum.div_scalar(b as f64);
        let loss = match &encoded.kl {
            Some(kl) => ce + kl.clone().mul_scalar(self.encoder.config.beta),
            None => ce,
        };
        let grads = loss.backward();
        let per_piece = leaves
            .iter()
            .map(|leaf| match leaf.grad(&grads) {
                Some(g) => g.reshape([1i64, -1]),
                None => Tensor::<2>::zeros(leaf.dims(), &lm.device.clone().without_autodiff()).reshape([1i64, -1]),
            })
            .collect();
        let grad = readback::floats(Tensor::cat(per_piece, 1)).await?;
        let scores = read_scores(nll, hits, &batch, 0).await?;
        let kl = match encoded.kl {
            Some(kl) => Some(readback::floats(kl.without_autodiff()).await?[0] as f64),
            None => None,
        };
        let mut stats = Vec::new();
        for (m, v) in encoded.batch_stats {
            stats.push((readback::floats(m.without_autodiff()).await?, readback::floats(v.without_autodiff()).await?));
        }
        let tokens = (b * n) as f64;
        let ce = scores.nll.iter().flatten().sum::<f64>() / tokens;
        let accuracy = scores.right.iter().flatten().filter(|&&r| r).count() as f64 / tokens;
        let loss = ce + kl.unwrap_or(0.0) * self.encoder.config.beta;
        if !loss.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            return Err(ConfigError::EncoderDiverged { step: self.step + 1 }.into());
        }
        let lr = self.settings.adamw.lr;
        self.opt.step(&self.settings.adamw, lr, &mut self.encoder.params, &grad);
        self.encoder.update_running(&stats, b);
        let epoch = self.step / self.steps_per_epoch();
        self.step += 1;
        Ok(StepScores { step: self.step, epoch, loss, ce, kl, accuracy })
    }
}

/// What the encoder does for each of `chunks` at test time, `batch` at a time: the vectors it writes
/// (VAE: `mu`), the teacher-forced accuracy and cross-entropy of the text after them, and with
/// `greedy`, greedy decoding from them alone (`greedy_exact`, and `greedy_accuracy`: the share of
/// positions where the decoded token is the text's). `steps` is 0: nothing is optimised per text.
/// `each` hears every chunk as it is done (progress, results written as they come); the encoder's
/// weights go to the device once.
pub async fn evaluate_async(
    encoder: &Encoder,
    lm: &LoadedModel,
    chunks: &[Chunk],
    batch: usize,
    greedy: bool,
    each: &mut dyn FnMut(&str, &CramMetrics),
) -> Result<Vec<(String, CramMetrics)>> {
    let prefix = prefix_ids(lm, Layout::Sink)?;
    let plain = lm.device.clone().without_autodiff();
    let leaves = encoder.leaves(&plain, false);
    let k = encoder.config.mem;
    let d = lm.config.hidden_size();
    let mut out = Vec::with_capacity(chunks.len());
    for group in chunks.chunks(batch.max(1)) {
        let started = web_time::Instant::now();
        let ids: Vec<&[u32]> = group.iter().map(|c| c.ids.as_slice()).collect();
        let encoded = encoder.forward::<StdRng>(lm, &leaves, &ids, &mut Mode::Eval)?;
        let vectors = readback::floats(encoded.vectors.clone()).await?;
        let input = prefix_then_vectors(&lm.model, &prefix, ids.len(), Some(encoded.vectors), false)?;
        let (_, nll, hits) = score_tensors(text_logits(&lm.model, input, &ids, 0), &ids, 0);
        let scores = read_scores(nll, hits, &ids, 0).await?;
        for (row, chunk) in group.iter().enumerate() {
            let memory = Memory { prefix_ids: prefix.clone(), k, vectors: vectors[row * k * d..(row + 1) * k * d].to_vec(), lora: None };
            let decoded = if greedy { memory.decode_async(lm, &[], chunk.ids.len(), None).await? } else { vec![] };
            let greedy_right = decoded.iter().zip(&chunk.ids).filter(|(a, b)| a == b).count();
            let (ce_without, right_without) = baseline(lm, &CramConfig::default(), &chunk.ids).await?;
            let n = chunk.ids.len();
            let right = scores.right[row].iter().filter(|&&r| r).count();
            let mut m = CramMetrics::new(
                n,
                k,
                0,
                started.elapsed().as_secs_f64() / group.len() as f64,
                n,
                right,
                right_without,
                decoded == chunk.ids,
                ce_without,
                scores.nll[row].iter().sum(),
                d,
                lm.config.vocab_size(),
            );
            m.method = encoder.config.method_name();
            m.trainable_parameters = 0;
            m.greedy_accuracy = greedy.then_some(greedy_right as f64 / n as f64);
            each(&chunk.id, &m);
            out.push((chunk.id.clone(), m));
        }
    }
    Ok(out)
}

/// [`evaluate_async`], blocking.
pub fn evaluate(
    encoder: &Encoder,
    lm: &LoadedModel,
    chunks: &[Chunk],
    batch: usize,
    greedy: bool,
    each: &mut dyn FnMut(&str, &CramMetrics),
) -> Result<Vec<(String, CramMetrics)>> {
    readback::sync(evaluate_async(encoder, lm, chunks, batch, greedy, each))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_seeded_and_holds_out_a_fraction() {
        let texts = vec![("a".to_string(), (0..40).collect::<Vec<u32>>()), ("b".to_string(), (100..125).collect())];
        // 10 windows of 4 from a, 6 from b (one token left over)
        let s = split_chunks(&texts, 4, 10, 0.2, 7).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (8, 2));
        assert!(s.train.iter().chain(&s.test).all(|c| c.ids.len() == 4));
        let again = split_chunks(&texts, 4, 10, 0.2, 7).unwrap();
        assert_eq!(again.test, s.test);
        assert_eq!(again.spec, s.spec);
        let other = split_chunks(&texts, 4, 10, 0.2, 8).unwrap();
        assert_ne!(other.spec.test_sha256, s.spec.test_sha256);
        assert!(split_chunks(&texts, 4, 17, 0.2, 7).unwrap_err().to_string().contains("16 chunk(s)"));
    }
}
