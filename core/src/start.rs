//! A learned start (`start.safetensors`): the values every text's trainable pieces start from,
//! meta-trained over many texts so that a new text needs only a few steps from it (as GradMem,
//! Kuratov et al. 2026, learns its initialisation). `cram start train` makes one; `--init
//! start.safetensors` starts `compress`, `capacity` and `compare` from it ([`VectorInit::Learned`]).
//!
//! The meta-training is first-order, Reptile (Nichol, Achiam & Schulman 2018): from the start θ,
//! each text of a batch takes `inner_steps` steps of the recipe itself (the loop of
//! [`crate::cramming`], its AdamW and learning rate) to its own θ_i, and the start moves toward their
//! mean, θ ← θ + ε (mean_i θ_i − θ). Nothing but the recipe's own steps is differentiated, so it
//! works for every method and family the loop does: for `dense`, θ is the vector m, the layer W and
//! the bias b together.
//!
//! The file holds θ under the method's piece names, the recipe it was trained for (a recipe with
//! another method, vector count, layout or protocol is refused), the model's identity (a start made
//! with one model is refused by another, as `.cram` files are) and how it was trained, epoch by
//! epoch: it is also the checkpoint a run resumes from. Written atomically.

use std::collections::HashMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::cramming::{Observer, TextJob, cram_texts};
use crate::encoder::training::{Chunk, SplitSpec};
use crate::format::MetaFile;
use crate::load::{LoadedModel, ModelIdentity};
use crate::methods::pieces::spans;
use crate::methods::trainable::Trainable;
use crate::methods::{CramConfig, Method, VectorInit};
use crate::weights::TensorSource;
use crate::{Error, Result};

const FORMAT: &str = "cram-start";
const FORMAT_VERSION: u32 = 1;

/// How a start is meta-trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaSettings {
    /// Steps each text takes from the start (the inner loop: the recipe's AdamW).
    pub inner_steps: usize,
    /// How far the start moves toward the mean of the texts' values after each batch (Reptile's
    /// ε; 1 moves it all the way).
    pub meta_lr: f64,
    /// Texts per outer step.
    pub batch: usize,
    /// Passes over the training texts.
    pub epochs: usize,
    /// Seed of the first start and of the batches' order.
    pub seed: u64,
    /// Most steps per held-out text when the start is measured after each epoch.
    pub eval_steps: usize,
}

/// The held-out texts crammed from a start, with at most `eval_steps` steps each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartScores {
    /// Epochs of meta-training behind the start (0: the recipe's random start).
    pub epoch: usize,
    /// Mean steps to greedy-exact (a text that is not exact within the budget counts the budget).
    pub mean_steps: f64,
    /// Share of the texts greedy-exact within the budget.
    pub exact: f64,
    /// Mean teacher-forced accuracy at the end.
    pub accuracy: f64,
    /// Mean teacher-forced accuracy of the training texts after their inner steps (none for epoch 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    /// Seconds of meta-training so far.
    pub seconds: f64,
}

/// How a start was trained, and how far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartTraining {
    /// The recipe it starts (its `init` is the random one it was trained from).
    pub recipe: CramConfig,
    /// The meta-training's settings.
    pub settings: MetaSettings,
    /// The chunks and their split.
    pub split: SplitSpec,
    /// Where the chunks came from (`--data`).
    pub data: String,
    /// The JSON field that held each record's text.
    pub text_field: String,
    /// Epochs done.
    pub epochs_done: usize,
    /// The held-out measure before training and after each epoch.
    pub history: Vec<StartScores>,
}

/// A learned start with what it was made for and how.
#[derive(Debug, Clone)]
pub struct StartFile {
    /// Every trainable value of one text, flat in the order of the recipe's pieces.
    pub params: Vec<f32>,
    /// The model it starts.
    pub model: ModelIdentity,
    /// Its training.
    pub training: StartTraining,
    /// The program that wrote it.
    pub created_by: String,
}

/// The recipe that meta-training runs per text: the given one, from the start, for `inner_steps`.
fn inner_recipe(recipe: &CramConfig, steps: usize) -> CramConfig {
    CramConfig { init: VectorInit::Learned { start: String::new() }, max_steps: steps, patience: steps, ..recipe.clone() }
}

/// The trainable pieces of `recipe` on `lm`.
fn trainable(recipe: &CramConfig, lm: &LoadedModel) -> Result<Trainable> {
    Trainable::new(&recipe.method, recipe.mem, &lm.config, 1.0)
}

/// A fresh start for `recipe`: the values the recipe's random start gives (its seed), which the
/// meta-training moves from. The first text's random start, so epoch 0 measures the recipe as it is.
pub fn random_start(lm: &LoadedModel, recipe: &CramConfig, texts: &[Chunk]) -> Result<Vec<f32>> {
    let first = texts.first().ok_or_else(|| Error::Input("no texts to start from".into()))?;
    let probe = CramConfig { max_steps: 1, patience: 1, ..recipe.clone() };
    let job = TextJob { id: first.id.clone(), ids: first.ids.clone(), seed_index: None, start: None };
    let mut run = crate::cramming::Cramming::new(lm, probe, vec![job], 1)?;
    Ok(run.initial_params(lm)?.remove(0))
}

/// Crams `texts` from `start` (None: the recipe's random start) with at most `steps` steps each:
/// the held-out measure of a start.
pub fn measure(
    lm: &LoadedModel,
    recipe: &CramConfig,
    start: Option<&[f32]>,
    texts: &[Chunk],
    steps: usize,
    batch: usize,
    obs: &mut dyn Observer,
) -> Result<StartScores> {
    let cfg = match start {
        Some(_) => inner_recipe(recipe, steps),
        None => CramConfig { max_steps: steps, patience: steps, ..recipe.clone() },
    };
    let jobs: Vec<TextJob> =
        texts.iter().map(|c| TextJob { id: c.id.clone(), ids: c.ids.clone(), seed_index: None, start: start.map(<[f32]>::to_vec) }).collect();
    let out = cram_texts(lm, &cfg, &jobs, batch, obs)?;
    let n = out.len().max(1) as f64;
    Ok(StartScores {
        epoch: 0,
        mean_steps: out.iter().map(|o| if o.metrics.greedy_exact { o.metrics.steps } else { steps } as f64).sum::<f64>() / n,
        exact: out.iter().filter(|o| o.metrics.greedy_exact).count() as f64 / n,
        accuracy: out.iter().map(|o| o.metrics.teacher_forced_accuracy).sum::<f64>() / n,
        train_accuracy: None,
        seconds: 0.0,
    })
}

/// One epoch of Reptile over `train` (in an order drawn from the seed and the epoch): `start`
/// moves toward each batch's trained values. Returns the training texts' mean teacher-forced
/// accuracy after their inner steps, or `None` when the observer asked to stop (the start is then
/// as the last whole batch left it).
pub fn reptile_epoch(
    lm: &LoadedModel,
    recipe: &CramConfig,
    settings: &MetaSettings,
    start: &mut [f32],
    train: &[Chunk],
    epoch: usize,
    obs: &mut dyn Observer,
) -> Result<Option<f64>> {
    if matches!(recipe.method, Method::OnePass { shared_m: true }) {
        // e would never move: it is frozen in the inner steps
        return Err(Error::Input("a one-pass start is meta-trained with m trained per text; a shared m is then taken from it".into()));
    }
    let cfg = inner_recipe(recipe, settings.inner_steps);
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(settings.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    let (mut accuracy, mut seen) = (0.0, 0usize);
    for batch in order.chunks(settings.batch.max(1)) {
        if obs.stop_requested() {
            return Ok(None);
        }
        let jobs: Vec<TextJob> =
            batch.iter().map(|&i| TextJob { id: train[i].id.clone(), ids: train[i].ids.clone(), seed_index: Some(i), start: Some(start.to_vec()) }).collect();
        let out = cram_texts(lm, &cfg, &jobs, batch.len(), obs)?;
        if obs.stop_requested() {
            return Ok(None);
        }
        reptile_update(start, out.iter().map(|o| o.params.as_slice()), settings.meta_lr);
        accuracy += out.iter().map(|o| o.metrics.teacher_forced_accuracy).sum::<f64>();
        seen += out.len();
    }
    Ok(Some(accuracy / seen.max(1) as f64))
}

/// θ ← θ + ε (mean_i θ_i − θ).
pub fn reptile_update<'a>(start: &mut [f32], trained: impl Iterator<Item = &'a [f32]>, meta_lr: f64) {
    let mut sum = vec![0.0f64; start.len()];
    let mut n = 0usize;
    for t in trained {
        for (s, v) in sum.iter_mut().zip(t) {
            *s += *v as f64;
        }
        n += 1;
    }
    if n == 0 {
        return;
    }
    for (theta, s) in start.iter_mut().zip(sum) {
        *theta += (meta_lr * (s / n as f64 - *theta as f64)) as f32;
    }
}

/// Metadata values are JSON.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("metadata serialises")
}

impl StartFile {
    /// Serialises to safetensors bytes: each piece under its name (`mem`, `dense.weight`, ...).
    pub fn to_bytes(&self, lm: &LoadedModel) -> Result<Vec<u8>> {
        let t = trainable(&self.training.recipe, lm)?;
        if t.len() != self.params.len() {
            return Err(Error::Input(format!("a start of {} values for a recipe of {}", self.params.len(), t.len())));
        }
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
        meta.insert("model".to_string(), json(&self.model));
        meta.insert("training".to_string(), json(&self.training));
        meta.insert("created_by".to_string(), self.created_by.clone());
        let tensors: Vec<(String, Vec<usize>, &[f32])> = spans(t.pieces()).map(|(p, span)| (p.name.clone(), p.shape.to_vec(), &self.params[span])).collect();
        crate::format::f32_safetensors(&tensors, meta, "the start")
    }

    /// Whether safetensors bytes are a start file (rather than an encoder): its `format`.
    pub fn is_start(bytes: &[u8]) -> bool {
        crate::weights::safetensors::read_header(bytes)
            .is_ok_and(|(_, header)| header.metadata().as_ref().and_then(|m| m.get("format")).map(String::as_str) == Some(FORMAT))
    }

    /// Parses safetensors bytes (`name` is used in messages) for `lm`: a start made with another
    /// model is refused.
    pub fn from_bytes(bytes: Vec<u8>, name: &str, lm: &LoadedModel) -> Result<Self> {
        let file = MetaFile::open(bytes, name, FORMAT, FORMAT_VERSION, "a start file", "not a start from `cram start train`")?;
        let bad = |message: String| file.bad(message);
        let model: ModelIdentity = file.parse("model")?;
        model.check_same(&lm.identity, "start", "use")?;
        let training: StartTraining = file.parse("training")?;
        let t = trainable(&training.recipe, lm).map_err(|e| bad(e.to_string()))?;
        let mut params = Vec::with_capacity(t.len());
        for p in t.pieces() {
            let v = file.file.tensor(&p.name)?.ok_or_else(|| bad(format!("no tensor `{}`", p.name)))?;
            if v.shape[..] != p.shape[..] {
                return Err(bad(format!("tensor `{}` has shape {:?}, the recipe implies {:?}", p.name, v.shape, p.shape)));
            }
            if v.data.iter().any(|x| !x.is_finite()) {
                return Err(bad(format!("tensor `{}` holds values that are not finite", p.name)));
            }
            params.extend(v.data);
        }
        Ok(Self { params, model, training, created_by: file.get("created_by")? })
    }

    /// Refuses a recipe this start was not trained for: another method (or its settings), vector
    /// count, layout or protocol. The learning rate, the budget and the rest may differ.
    pub fn check_recipe(&self, cfg: &CramConfig, name: &str) -> Result<()> {
        let r = &self.training.recipe;
        // serde's names: `sink`, `greedy`, a method with its settings as JSON
        let word = |v: serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        let mut differ = vec![];
        // a one-pass start serves one-pass with a shared m too: its m is the one shared
        let shares_e = |trained: &Method, used: &Method| matches!((trained, used), (Method::OnePass { .. }, Method::OnePass { shared_m: true }));
        if r.method != cfg.method && !shares_e(&r.method, &cfg.method) {
            let (a, b) = if r.method.name() != cfg.method.name() {
                (r.method.name().to_string(), cfg.method.name().to_string())
            } else {
                (json(&r.method), json(&cfg.method))
            };
            differ.push(format!("method {a} (not {b})"));
        }
        if r.mem != cfg.mem {
            differ.push(format!("{} vector(s) (not {})", r.mem, cfg.mem));
        }
        if r.layout != cfg.layout {
            differ.push(format!("the {} layout (not {})", word(serde_json::json!(r.layout)), word(serde_json::json!(cfg.layout))));
        }
        if r.protocol != cfg.protocol {
            differ.push(format!("the {} protocol (not {})", word(serde_json::json!(r.protocol)), word(serde_json::json!(cfg.protocol))));
        }
        if differ.is_empty() {
            return Ok(());
        }
        Err(Error::Input(format!("{name} starts a recipe with {}", differ.join(", "))))
    }

    /// Reads a start file for `lm`.
    #[cfg(feature = "native")]
    pub fn read(path: &std::path::Path, lm: &LoadedModel) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(bytes, &path.display().to_string(), lm)
    }

    /// Writes the file atomically: a reader (or a run killed while writing) sees the old file or the
    /// whole new one.
    #[cfg(feature = "native")]
    pub fn write(&self, path: &std::path::Path, lm: &LoadedModel) -> Result<()> {
        crate::format::write_atomic(path, &self.to_bytes(lm)?)
    }
}

#[cfg(test)]
mod tests {
    use super::reptile_update;

    #[test]
    fn reptile_moves_the_start_toward_the_mean() {
        let mut start = vec![0.0f32, 1.0];
        let a = [2.0f32, 1.0];
        let b = [4.0f32, 3.0];
        reptile_update(&mut start, [a.as_slice(), b.as_slice()].into_iter(), 0.5);
        assert_eq!(start, [1.5, 1.5]);
        reptile_update(&mut start, std::iter::empty(), 0.5);
        assert_eq!(start, [1.5, 1.5], "no texts, no move");
        reptile_update(&mut start, [a.as_slice()].into_iter(), 1.0);
        assert_eq!(start, a);
    }
}
