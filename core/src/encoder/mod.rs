//! Encoders: a network that reads a text and writes its memory vectors in one forward pass, instead of
//! optimising them for each text (the AE and VAE of the AIRI 2025 follow-up to Kuratov et al.).
//!
//! A trainable copy of the frozen model reads the text: LoRA adapters shared by every text (the
//! practical default on CPUs), or a full-rank update of every projection (`W + ΔW`, for small
//! models). Its final hidden states are pooled (the last token's, the mean, or attention with a
//! learned query) and an MLP of 1 or 4 linear layers (GELU between; BatchNorm and Dropout when
//! regularised) maps them to the K vectors the frozen decoder reads after the sink:
//! `[sink, mem_1..mem_K, t_1..t_N]`, every text token scored (the greedy protocol).
//!
//! The VAE predicts `mu` and `log sigma²`, samples `z = mu + sigma · eps` in training and adds
//! `beta · KL(N(mu, sigma²) || N(0, I))` (summed over the vector values, averaged over the texts)
//! to the mean cross-entropy per token; at test time it writes `mu`.
//!
//! - [`EncoderConfig`]: the architecture, as encoder files record it.
//! - [`Encoder`]: its parameters (one flat `f32` vector cut into named pieces, as a method's) and
//!   the forward pass.
//! - [`training`]: the train/test split, one optimiser step over a batch, the evaluation.
//! - [`file`]: the encoder file, which is also the training checkpoint.

pub mod file;
pub mod training;

use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, FloatDType, Int, Tensor, TensorData};
use rand::Rng;
use rand_distr::{Bernoulli, Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Setting};
use crate::load::LoadedModel;
use crate::methods::pieces::{Init, Piece, init_values, spans};
use crate::models::ModelConfig;
use crate::models::lora::{Lora, LoraSet, LoraSite, LoraTarget};
use crate::{Error, Result};

/// Autoencoder or variational autoencoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    /// The head writes the vectors.
    Ae,
    /// The head writes `mu` and `log sigma²`; training samples and adds the KL term.
    Vae,
}

impl EncoderKind {
    /// `ae` or `vae`.
    pub fn name(self) -> &'static str {
        match self {
            EncoderKind::Ae => "ae",
            EncoderKind::Vae => "vae",
        }
    }
}

/// How the encoder's hidden states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The last token's state (it has read the whole text).
    Last,
    /// The mean over the tokens.
    Mean,
    /// Weights `softmax(h · q / sqrt(d))` over the tokens with a learned query `q` (starting at
    /// zero, so at the mean).
    Attention,
}

/// What of the encoder's copy of the model is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Adaptation {
    /// LoRA adapters of rank `rank` (scale 1, B at zero) on every projection, shared by all texts.
    Lora {
        /// r.
        rank: usize,
    },
    /// A full-rank update `ΔW` (starting at zero) of every projection: full fine-tuning of the
    /// linear layers, for small models. Norms and embeddings stay frozen.
    Full,
}

/// The architecture of an encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    /// AE or VAE.
    pub kind: EncoderKind,
    /// Linear layers of the head (AIRI: 1 or 4); hidden layers are `d` wide.
    pub layers: usize,
    /// BatchNorm on the hidden layers and Dropout (`dropout`) after them; with one layer, Dropout
    /// on the pooled state.
    pub regularised: bool,
    /// How the hidden states are pooled.
    pub pooling: Pooling,
    /// What of the model copy is trained.
    pub adaptation: Adaptation,
    /// Vectors written per text, K.
    pub mem: usize,
    /// The weight of the VAE's KL term.
    pub beta: f64,
    /// Dropout probability when regularised.
    pub dropout: f64,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            kind: EncoderKind::Ae,
            layers: 1,
            regularised: false,
            pooling: Pooling::Mean,
            adaptation: Adaptation::Lora { rank: 8 },
            mem: 1,
            beta: 1e-3,
            dropout: 0.1,
        }
    }
}

impl EncoderConfig {
    /// Rejects impossible settings with one clear message.
    pub fn validate(&self) -> Result<()> {
        let bad = |e: ConfigError| Err(Error::Setting(e));
        if self.layers < 1 {
            return bad(ConfigError::AtLeastOne(Setting::Layers));
        }
        if self.mem < 1 {
            return bad(ConfigError::AtLeastOne(Setting::Mem));
        }
        if let Adaptation::Lora { rank: 0 } = self.adaptation {
            return bad(ConfigError::AtLeastOne(Setting::EncoderLora));
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return bad(ConfigError::Negative(Setting::Beta));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(ConfigError::NotBelowOne(Setting::Dropout));
        }
        Ok(())
    }

    /// The method name in results: `encoder-ae` or `encoder-vae`.
    pub fn method_name(&self) -> String {
        format!("encoder-{}", self.kind.name())
    }
}

/// The projections the encoder's copy adapts: all of them (each family has its own among these).
const TARGETS: [LoraTarget; 9] = LoraTarget::ALL;

/// An encoder: its config, its pieces and their values, and the running statistics of its
/// BatchNorms.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// The architecture.
    pub config: EncoderConfig,
    /// Width of the model.
    d: usize,
    pieces: Vec<Piece>,
    sites: Vec<LoraSite>,
    /// The values of every piece, one after the other.
    pub params: Vec<f32>,
    /// Per hidden layer of a regularised head, the BatchNorm's running mean and variance (`[d]`
    /// each), used at test time.
    pub running: Vec<(Vec<f32>, Vec<f32>)>,
}

/// Train: sample (VAE), drop out, normalise by the batch; Eval: none of that.
pub enum Mode<'a, R: Rng> {
    /// Training, drawing noise from the generator.
    Train(&'a mut R),
    /// Test time.
    Eval,
}

/// What the forward pass gives.
pub struct Encoded {
    /// The vectors the decoder reads, `[B, K, d]` (f32).
    pub vectors: Tensor<3>,
    /// The VAE's KL term, averaged over the texts (`[1]`); `None` for an AE.
    pub kl: Option<Tensor<1>>,
    /// In training, each BatchNorm's batch mean and (biased) variance, `[1, d]` each.
    pub batch_stats: Vec<(Tensor<2>, Tensor<2>)>,
}

const BATCH_NORM_EPS: f64 = 1e-5;
/// PyTorch's BatchNorm momentum.
const BATCH_NORM_MOMENTUM: f32 = 0.1;

impl Encoder {
    /// A fresh encoder of `config` for a model of `model`, drawn with `seed`; `embedding_std` (the
    /// spread of the model's input embeddings) sets the scale of the vectors it starts writing.
    pub fn new(config: EncoderConfig, model: &ModelConfig, embedding_std: f32, seed: u64) -> Result<Self> {
        let mut encoder = Self::pieces_of(config, model, embedding_std.max(1e-6))?;
        encoder.params = init_values(&encoder.pieces, &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed))?;
        Ok(encoder)
    }

    /// The pieces of `config` on `model`, values empty (to be filled from a file).
    pub(crate) fn shaped(config: EncoderConfig, model: &ModelConfig) -> Result<Self> {
        Self::pieces_of(config, model, 1.0)
    }

    /// The pieces, and how they start for embeddings of spread `embedding_std`.
    fn pieces_of(config: EncoderConfig, model: &ModelConfig, embedding_std: f32) -> Result<Self> {
        config.validate()?;
        let d = model.hidden_size();
        let linear = |fan_in: usize| Init::Uniform(1.0 / (fan_in as f32).sqrt());
        let sites = model.lora_sites(&TARGETS);
        let mut pieces = Vec::new();
        for s in &sites {
            let name = format!("encoder.{}", s.name());
            match config.adaptation {
                Adaptation::Lora { rank } => {
                    pieces.push(Piece::new(format!("{name}.a"), [s.fan_in, rank], linear(s.fan_in)));
                    pieces.push(Piece::new(format!("{name}.b"), [rank, s.fan_out], Init::Zeros));
                }
                Adaptation::Full => pieces.push(Piece::new(format!("{name}.delta"), [s.fan_in, s.fan_out], Init::Zeros)),
            }
        }
        if config.pooling == Pooling::Attention {
            pieces.push(Piece::new("pool.query", [1, d], Init::Zeros));
        }
        let out = config.mem * d;
        for i in 0..config.layers - 1 {
            pieces.push(Piece::new(format!("head.{i}.weight"), [d, d], linear(d)));
            pieces.push(Piece::new(format!("head.{i}.bias"), [1, d], linear(d)));
            if config.regularised {
                pieces.push(Piece::new(format!("head.{i}.norm.weight"), [1, d], Init::Constant(1.0)));
                pieces.push(Piece::new(format!("head.{i}.norm.bias"), [1, d], Init::Zeros));
            }
        }
        // The last layer starts writing vectors at the spread of the input embeddings (as the
        // paper's random start), for states of unit scale: U(±std·sqrt(3/d)), no bias.
        let last = config.layers - 1;
        pieces.push(Piece::new(format!("head.{last}.weight"), [d, out], Init::Uniform(embedding_std * (3.0 / d as f32).sqrt())));
        pieces.push(Piece::new(format!("head.{last}.bias"), [1, out], Init::Zeros));
        if config.kind == EncoderKind::Vae {
            pieces.push(Piece::new(format!("head.{last}.logvar.weight"), [d, out], linear(d)));
            // sigma starts at the spread of the embeddings too
            pieces.push(Piece::new(format!("head.{last}.logvar.bias"), [1, out], Init::Constant(2.0 * embedding_std.ln())));
        }
        let hidden = if config.regularised { config.layers - 1 } else { 0 };
        Ok(Self { config, d, pieces, sites, params: Vec::new(), running: vec![(vec![0.0; d], vec![1.0; d]); hidden] })
    }

    /// Trained values in all.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(Piece::len).sum()
    }

    /// Whether nothing is trained (never for a valid config).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pieces, in the order of [`Encoder::params`].
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// One `[rows, cols]` tensor per piece on `device`; with `grad`, leaves that take gradients.
    pub fn leaves(&self, device: &Device, grad: bool) -> Vec<Tensor<2>> {
        spans(&self.pieces)
            .map(|(p, span)| {
                let t = Tensor::<2>::from_data(TensorData::new(self.params[span].to_vec(), p.shape), device);
                if grad { t.require_grad() } else { t }
            })
            .collect()
    }

    /// The vectors of texts of one length (`ids`, B texts of N tokens): the encoder's model copy
    /// reads them, the states are pooled, the head writes K vectors per text. `leaves` are those of
    /// [`Encoder::leaves`].
    pub fn forward<R: Rng>(&self, lm: &LoadedModel, leaves: &[Tensor<2>], ids: &[&[u32]], mode: &mut Mode<R>) -> Result<Encoded> {
        let (b, n) = (ids.len(), ids.first().map_or(0, |t| t.len()));
        if b == 0 || n == 0 || ids.iter().any(|t| t.len() != n) {
            return Err(Error::Input("an encoder batch needs texts of one length, at least one token".into()));
        }
        let d = self.d;
        let mut leaf = leaves.iter();
        let mut next = || leaf.next().expect("one leaf per piece").clone();

        // The model copy with the encoder's adapters (batch 1: shared by every text).
        let mut set = LoraSet::default();
        for site in &self.sites {
            let lora = match self.config.adaptation {
                Adaptation::Lora { .. } => Lora { a: next().unsqueeze(), b: Some(next().unsqueeze()), scale: 1.0 },
                Adaptation::Full => Lora { a: next().unsqueeze(), b: None, scale: 1.0 },
            };
            set.adapters.push((site.clone(), lora));
        }
        let copy = lm.model.with_lora(&set);
        let device = lm.device.clone().without_autodiff();
        let flat: Vec<i32> = ids.iter().flat_map(|t| t.iter().map(|&i| i as i32)).collect();
        let embeds = lm.model.embed(Tensor::<2, Int>::from_data(TensorData::new(flat, [b, n]), &device));
        let hidden = copy.hidden_states(embeds).cast(FloatDType::F32);

        // Pooling to [B, d].
        let pooled = match self.config.pooling {
            Pooling::Last => hidden.narrow(1, n - 1, 1).reshape([b, d]),
            Pooling::Mean => hidden.mean_dim(1).reshape([b, d]),
            Pooling::Attention => {
                let query = next().reshape([1, d, 1]);
                let weights = softmax(hidden.clone().matmul(query).div_scalar((d as f64).sqrt()), 1);
                (hidden * weights).sum_dim(1).reshape([b, d])
            }
        };

        // The head.
        let train = matches!(mode, Mode::Train(_));
        let p = self.config.dropout;
        let dropout = |x: Tensor<2>, mode: &mut Mode<R>| -> Result<Tensor<2>> {
            match mode {
                Mode::Train(rng) if self.config.regularised && p > 0.0 => {
                    let keep = Bernoulli::new(1.0 - p).map_err(|e| Error::Input(e.to_string()))?;
                    let [rows, cols] = x.dims();
                    let mask: Vec<f32> = (0..rows * cols).map(|_| if keep.sample(&mut **rng) { (1.0 / (1.0 - p)) as f32 } else { 0.0 }).collect();
                    Ok(x * Tensor::<2>::from_data(TensorData::new(mask, [rows, cols]), &device))
                }
                _ => Ok(x),
            }
        };
        let mut x = if self.config.layers == 1 { dropout(pooled, mode)? } else { pooled };
        let mut batch_stats = Vec::new();
        for i in 0..self.config.layers - 1 {
            x = x.matmul(next()) + next();
            if self.config.regularised {
                let (scale, shift) = (next(), next());
                let (mean, var) = if train {
                    let mean = x.clone().mean_dim(0);
                    let var = (x.clone() - mean.clone()).square().mean_dim(0);
                    batch_stats.push((mean.clone(), var.clone()));
                    (mean, var)
                } else {
                    let (m, v) = &self.running[i];
                    (Tensor::<2>::from_data(TensorData::new(m.clone(), [1, d]), &device), Tensor::<2>::from_data(TensorData::new(v.clone(), [1, d]), &device))
                };
                x = (x - mean) / var.add_scalar(BATCH_NORM_EPS).sqrt() * scale + shift;
            }
            x = dropout(gelu(x), mode)?;
        }
        let mu = x.clone().matmul(next()) + next();
        let (vectors, kl) = match self.config.kind {
            EncoderKind::Ae => (mu, None),
            EncoderKind::Vae => {
                let logvar = x.matmul(next()) + next();
                // KL(N(mu, sigma²) || N(0, 1)) = -1/2 Σ (1 + log sigma² - mu² - sigma²), per text
                let kl = (logvar.clone().add_scalar(1.0) - mu.clone().square() - logvar.clone().exp()).sum_dim(1).mul_scalar(-0.5).mean().reshape([1]);
                let z = match mode {
                    Mode::Train(rng) => {
                        let [rows, cols] = mu.dims();
                        let eps: Vec<f32> = (0..rows * cols).map(|_| StandardNormal.sample(&mut **rng)).collect();
                        mu + logvar.mul_scalar(0.5).exp() * Tensor::<2>::from_data(TensorData::new(eps, [rows, cols]), &device)
                    }
                    Mode::Eval => mu,
                };
                (z, Some(kl))
            }
        };
        Ok(Encoded { vectors: vectors.reshape([b, self.config.mem, d]), kl, batch_stats })
    }

    /// Folds the batch statistics of a training step into the running ones, as PyTorch's
    /// BatchNorm1d does (the variance unbiased, momentum 0.1).
    pub fn update_running(&mut self, batch_stats: &[(Vec<f32>, Vec<f32>)], batch: usize) {
        let unbias = if batch > 1 { batch as f32 / (batch - 1) as f32 } else { 1.0 };
        for ((rm, rv), (m, v)) in self.running.iter_mut().zip(batch_stats) {
            for (r, x) in rm.iter_mut().zip(m) {
                *r = (1.0 - BATCH_NORM_MOMENTUM) * *r + BATCH_NORM_MOMENTUM * x;
            }
            for (r, x) in rv.iter_mut().zip(v) {
                *r = (1.0 - BATCH_NORM_MOMENTUM) * *r + BATCH_NORM_MOMENTUM * x * unbias;
            }
        }
    }

    /// The K vectors (`[K, d]` row-major) the encoder writes for each of `texts` (any lengths), at
    /// test time; its weights go to the device once for all of them.
    pub async fn vectors_async(&self, lm: &LoadedModel, texts: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let leaves = self.leaves(&lm.device.clone().without_autodiff(), false);
        let mut out = Vec::with_capacity(texts.len());
        for ids in texts {
            let encoded = self.forward::<rand::rngs::StdRng>(lm, &leaves, &[ids], &mut Mode::Eval)?;
            out.push(crate::readback::floats(encoded.vectors).await?);
        }
        Ok(out)
    }

    /// [`Encoder::vectors_async`], blocking.
    pub fn vectors(&self, lm: &LoadedModel, texts: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        crate::readback::sync(self.vectors_async(lm, texts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ModelConfig {
        ModelConfig::from_json(r#"{"model_type":"llama","vocab_size":32,"hidden_size":8,"intermediate_size":12,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1}"#).unwrap()
    }

    #[test]
    fn pieces_follow_the_config() {
        let names = |c: EncoderConfig| Encoder::shaped(c, &tiny()).unwrap().pieces.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        let ae = names(EncoderConfig { adaptation: Adaptation::Lora { rank: 2 }, ..Default::default() });
        // 2 layers x (q, k, v, o, gate, up, down) x (a, b), then one head layer
        assert_eq!(ae.len(), 2 * 7 * 2 + 2);
        assert_eq!(&ae[ae.len() - 2..], ["head.0.weight", "head.0.bias"]);
        let vae = names(EncoderConfig {
            kind: EncoderKind::Vae,
            layers: 4,
            regularised: true,
            pooling: Pooling::Attention,
            adaptation: Adaptation::Full,
            ..Default::default()
        });
        assert_eq!(vae.len(), 2 * 7 + 1 + 3 * 4 + 4);
        assert!(vae.contains(&"pool.query".to_string()) && vae.contains(&"head.2.norm.weight".to_string()) && vae.contains(&"head.3.logvar.bias".to_string()));
        let e = Encoder::shaped(EncoderConfig { mem: 2, ..Default::default() }, &tiny()).unwrap();
        assert_eq!(e.pieces.last().unwrap().shape, [1, 16], "K x d outputs");
    }

    #[test]
    fn bad_settings_are_refused() {
        for c in [
            EncoderConfig { layers: 0, ..Default::default() },
            EncoderConfig { mem: 0, ..Default::default() },
            EncoderConfig { beta: -1.0, ..Default::default() },
        ] {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }

    #[test]
    fn running_statistics_follow_pytorch() {
        let mut e = Encoder::shaped(EncoderConfig { layers: 2, regularised: true, ..Default::default() }, &tiny()).unwrap();
        e.update_running(&[(vec![1.0; 8], vec![2.0; 8])], 3);
        // 0.9 * 0 + 0.1 * 1; 0.9 * 1 + 0.1 * 2 * 3/2
        assert!((e.running[0].0[0] - 0.1).abs() < 1e-6 && (e.running[0].1[0] - 1.2).abs() < 1e-6, "{:?}", e.running[0]);
    }
}
