//! What is trained and how success is judged. The method of Kuratov et al. (2025): K trainable
//! vectors prepended to a frozen model at the input-embedding level, optimised per text; and the
//! variants that came after it ([`Method`]). Each method is one file ([`memory`], [`dense`],
//! [`lowdim`], [`lora`], [`progressive`], [`one_pass`]) implementing [`pieces::MethodImpl`]: the tensors it
//! trains, how they reach the model, what a `.cram` file keeps of them and how they start from given
//! vectors; `registry` maps each [`Method`] to its file; [`trainable`] is what they share.

pub mod dense;
pub mod lora;
pub mod lowdim;
pub mod memory;
pub mod one_pass;
pub mod pieces;
pub mod progressive;
mod registry;
pub mod trainable;

use serde::{Deserialize, Serialize};

pub use crate::error::{ConfigError, Setting};
use crate::load::LoadedModel;
use crate::models::ModelConfig;
use crate::models::lora::LoraTarget;
use crate::optim::adamw::AdamWConfig;
use crate::optim::schedule::Schedule;
use crate::{Error, Result};

/// What is trained for each text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Method {
    /// K memory vectors (Kuratov et al. 2025).
    #[default]
    Memory,
    /// The vectors pass through a trainable `Linear(d, d)` with bias, `p = W m + b`, trained jointly
    /// with them (the AIRI 2025 follow-up). Files store `p`.
    Dense,
    /// The vectors are an affine map of an r-dimensional code, `p = z A + c` with `z` `[K, r]`, `A`
    /// `[r, d]` and `c` `[d]` trained jointly (the low-dimensional reparameterisation of progressive
    /// cramming). Files store `p`.
    Lowdim {
        /// r.
        rank: usize,
    },
    /// Per-text LoRA adapters of rank r on the `targets` projections instead of memory vectors.
    Lora {
        /// r.
        rank: usize,
        /// The projections adapted in every layer.
        targets: Vec<LoraTarget>,
        /// The scale of the update is `alpha / r`.
        alpha: f64,
    },
    /// Memory vectors trained on a target that grows one token at a time from t_1, warm-starting the
    /// vectors and the optimiser; the first stage that does not converge within `steps_per_token`
    /// ends the text, and the last converged length is its horizon (progressive cramming, 2026).
    Progressive {
        /// The step budget of each added token.
        steps_per_token: usize,
    },
    /// Two vectors laid out `[e, m, ..., m]` over the whole text, no text token in the input; the
    /// text comes back from one forward pass (Mezentsev & Oseledets 2025; [`one_pass`]).
    OnePass {
        /// m, the vector repeated over the text, is shared by every text: taken from a learned
        /// one-pass start and never trained, so each text trains e alone (the paper's variant with a
        /// universal m). Absent (false) in older files.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        shared_m: bool,
    },
}

/// A [`Method`] by name, without its settings: what `--method` spells and `.cram` files record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodName {
    /// [`Method::Memory`].
    Memory,
    /// [`Method::Dense`].
    Dense,
    /// [`Method::Lowdim`].
    Lowdim,
    /// [`Method::Lora`].
    Lora,
    /// [`Method::Progressive`].
    Progressive,
    /// [`Method::OnePass`].
    OnePass,
}

impl MethodName {
    /// Every method, in the order the help lists them.
    pub const ALL: [MethodName; 6] =
        [MethodName::Memory, MethodName::Dense, MethodName::Lowdim, MethodName::Lora, MethodName::Progressive, MethodName::OnePass];

    /// The name (lower case, as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            MethodName::Memory => "memory",
            MethodName::Dense => "dense",
            MethodName::Lowdim => "lowdim",
            MethodName::Lora => "lora",
            MethodName::Progressive => "progressive",
            MethodName::OnePass => "one-pass",
        }
    }

    /// What it trains, in one line without any front end's words (the app lists these; the CLI's
    /// `--method` help adds its flags).
    pub fn summary(self) -> &'static str {
        match self {
            MethodName::Memory => "K trainable input vectors (Kuratov et al. 2025)",
            MethodName::Dense => "vectors through a trainable d×d layer, p = W m + b",
            MethodName::Lowdim => "vectors as an affine map of an r-dimensional trainable code",
            MethodName::Lora => "rank-r adapters on the attention projections instead of vectors",
            MethodName::Progressive => "vectors trained on a target grown one token at a time",
            MethodName::OnePass => "two vectors [e, m, ..., m] over the whole text; decoded in one forward pass",
        }
    }
}

impl std::fmt::Display for MethodName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MethodName {
    type Err = Error;

    /// A name as [`MethodName::as_str`] writes it; any other is an [`Error::Input`] listing them.
    fn from_str(name: &str) -> Result<Self> {
        MethodName::ALL
            .into_iter()
            .find(|m| m.as_str() == name)
            .ok_or_else(|| Error::Input(format!("unknown method `{name}`; choose memory, dense, lowdim, lora, progressive or one-pass")))
    }
}

impl Method {
    /// Which method it is, without its settings.
    pub fn kind(&self) -> MethodName {
        match self {
            Method::Memory => MethodName::Memory,
            Method::Dense => MethodName::Dense,
            Method::Lowdim { .. } => MethodName::Lowdim,
            Method::Lora { .. } => MethodName::Lora,
            Method::Progressive { .. } => MethodName::Progressive,
            Method::OnePass { .. } => MethodName::OnePass,
        }
    }

    /// The name used by `--method` and in results.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The method `name` (as `--method` spells it) with its defaults: lowdim rank 64; LoRA rank 1 on
    /// q, k, v, o with alpha = rank (a scale of 1); progressive 1000 steps per added token. `rank`
    /// replaces the default rank of lowdim and LoRA.
    pub fn with_defaults(name: &str, rank: Option<usize>) -> Result<Method> {
        Ok(match name.parse()? {
            MethodName::Memory => Method::Memory,
            MethodName::Dense => Method::Dense,
            MethodName::Lowdim => Method::Lowdim { rank: rank.unwrap_or(64) },
            MethodName::Lora => {
                let rank = rank.unwrap_or(1);
                Method::Lora { rank, targets: vec![LoraTarget::Q, LoraTarget::K, LoraTarget::V, LoraTarget::O], alpha: rank as f64 }
            }
            MethodName::Progressive => Method::Progressive { steps_per_token: 1000 },
            MethodName::OnePass => Method::OnePass { shared_m: false },
        })
    }

    /// The learning rate of the method's paper: 0.1 for progressive cramming, else 1e-2.
    pub fn default_lr(&self) -> f64 {
        if matches!(self, Method::Progressive { .. }) { 0.1 } else { 1e-2 }
    }

    /// Whether the method trains memory vectors (all but LoRA).
    pub fn uses_vectors(&self) -> bool {
        !matches!(self, Method::Lora { .. })
    }
}

/// A named starting point for the recipe: which method runs when none is named, and at what
/// learning rate. Naming a method (`--method`) gives that method's own paper defaults instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// The fewest steps to a greedy-exact text that cram measured on SmolLM2-135M (docs/measurements.md,
    /// "Steps to exact"): one vector through a trainable dense layer (`dense`, the file still holds one
    /// vector per K) at lr 0.1. The default under the greedy protocol.
    #[default]
    Fast,
    /// Kuratov et al. exactly: `memory` at lr 1e-2, constant, N(0, std of the embeddings).
    Paper,
}

impl Recipe {
    /// Every recipe, the default first.
    pub const ALL: [Recipe; 2] = [Recipe::Fast, Recipe::Paper];

    /// Its name (lower case, as serialised and as `--recipe` spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Recipe::Fast => "fast",
            Recipe::Paper => "paper",
        }
    }

    /// What it is, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            Recipe::Fast => "dense at lr 0.1, the fewest steps to a greedy-exact text",
            Recipe::Paper => "memory at lr 0.01, Kuratov et al. exactly",
        }
    }

    /// The method it runs.
    pub fn method(self) -> Method {
        match self {
            Recipe::Fast => Method::Dense,
            Recipe::Paper => Method::Memory,
        }
    }

    /// Its learning rate.
    pub fn lr(self) -> f64 {
        match self {
            Recipe::Fast => 0.1,
            Recipe::Paper => Method::Memory.default_lr(),
        }
    }
}

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

/// The token put in front of the memory in the sink layout: `<|endoftext|>` if the vocabulary has it,
/// else the model's BOS, else its EOS.
pub fn sink_token(lm: &LoadedModel) -> Result<u32> {
    if let Some(id) = lm.tokenizer.token_to_id("<|endoftext|>") {
        return Ok(id);
    }
    lm.config.bos_token_id().or_else(|| lm.config.eos_token_id()).ok_or(Error::Setting(ConfigError::NoSinkToken))
}

/// Tokens in front of the memory for `layout`.
pub fn prefix_ids(lm: &LoadedModel, layout: Layout) -> Result<Vec<u32>> {
    Ok(match layout {
        Layout::Paper => vec![],
        Layout::Sink => vec![sink_token(lm)?],
    })
}

/// Where the memory vectors start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VectorInit {
    /// N(0, std²) with the standard deviation of the embedding matrix (the paper) or `init_std`.
    #[default]
    Normal,
    /// Every vector at the mean of the text's own token embeddings (dense: the vectors m; lowdim
    /// keeps its code's normal start).
    TextMean,
    /// The vectors an encoder writes for the text ([`crate::encoder`]; dense starts at the identity,
    /// so that the model sees them as written).
    Encoder {
        /// The encoder file's fingerprint (sha256 of its bytes, first 16 hex digits), so results
        /// of different encoders are told apart.
        encoder: String,
    },
    /// Every trainable value at a learned start ([`crate::start`]: meta-trained over many texts so
    /// that a new one needs few steps), the same for every text.
    Learned {
        /// The start file's fingerprint (sha256 of its bytes, first 16 hex digits).
        start: String,
    },
}

impl VectorInit {
    /// Its name, as results files and messages give it.
    pub fn name(&self) -> &'static str {
        match self {
            VectorInit::Normal => "normal",
            VectorInit::TextMean => "text_mean",
            VectorInit::Encoder { .. } => "encoder",
            VectorInit::Learned { .. } => "learned",
        }
    }
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
    /// What is trained.
    #[serde(default)]
    pub method: Method,
    /// Number of memory vectors K (0 for LoRA, which trains no vectors).
    pub mem: usize,
    /// Input layout.
    pub layout: Layout,
    /// Success criterion.
    pub protocol: Protocol,
    /// AdamW settings.
    pub adamw: AdamWConfig,
    /// Most steps per text, for every method (progressive cramming: all its stages together).
    pub max_steps: usize,
    /// Give up after this many steps without a strict improvement of the best accuracy.
    pub patience: usize,
    /// Teacher-forced accuracy that counts as success under [`Protocol::Paper`].
    pub paper_threshold: f64,
    /// Seed of the vector initialisation.
    pub seed: u64,
    /// Standard deviation of the initial vectors; `None` = that of the input-embedding matrix.
    pub init_std: Option<f32>,
    /// How the learning rate changes with each text's step.
    #[serde(default)]
    pub schedule: Schedule,
    /// Where the memory vectors start.
    #[serde(default)]
    pub init: VectorInit,
    /// Activation checkpointing per decoder layer ([`crate::checkpoint`]): less memory, one more
    /// forward pass per step, the same gradients. How a step is computed, not what it computes, so
    /// it is not written out with the recipe (results with and without it belong together).
    #[serde(default, skip_serializing)]
    pub checkpoint: bool,
}

impl Default for CramConfig {
    fn default() -> Self {
        Self {
            method: Method::Memory,
            mem: 1,
            layout: Layout::Sink,
            protocol: Protocol::Greedy,
            adamw: AdamWConfig::default(),
            max_steps: 5000,
            patience: 2000,
            paper_threshold: 0.99,
            seed: 0,
            init_std: None,
            schedule: Schedule::Constant,
            init: VectorInit::Normal,
            checkpoint: false,
        }
    }
}

impl CramConfig {
    /// Rejects impossible settings with one clear reason.
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        use ConfigError::*;
        match &self.method {
            Method::Lora { rank, alpha, .. } => {
                if self.mem != 0 {
                    return Err(LoraWithVectors);
                }
                if *rank < 1 {
                    return Err(AtLeastOne(Setting::Rank));
                }
                if !(*alpha > 0.0 && alpha.is_finite()) {
                    return Err(NotPositive(Setting::LoraAlpha));
                }
                if self.layout == Layout::Paper {
                    return Err(LoraPaperLayout);
                }
                if self.checkpoint {
                    return Err(LoraCheckpoint);
                }
            }
            Method::Lowdim { rank } if *rank < 1 => return Err(AtLeastOne(Setting::Rank)),
            Method::OnePass { shared_m } => {
                if self.mem != 1 {
                    return Err(OnePassVectors);
                }
                if self.protocol != Protocol::Greedy {
                    return Err(OnePassPaperProtocol);
                }
                if *shared_m && !matches!(self.init, VectorInit::Learned { .. }) {
                    return Err(SharedMWithoutStart);
                }
            }
            Method::Progressive { steps_per_token } => {
                if *steps_per_token < 1 {
                    return Err(AtLeastOne(Setting::StepsPerToken));
                }
                if self.protocol != Protocol::Greedy {
                    return Err(ProgressivePaperProtocol);
                }
            }
            _ => {}
        }
        if self.method.uses_vectors() && self.mem < 1 {
            return Err(AtLeastOne(Setting::Mem));
        }
        if self.max_steps < 1 {
            return Err(AtLeastOne(Setting::MaxSteps));
        }
        if !(self.adamw.lr > 0.0 && self.adamw.lr.is_finite()) {
            return Err(NotPositive(Setting::Lr));
        }
        if !(0.0..1.0).contains(&self.adamw.beta1) || !(0.0..1.0).contains(&self.adamw.beta2) {
            return Err(Betas);
        }
        if self.adamw.eps.is_nan() || self.adamw.eps <= 0.0 || self.adamw.weight_decay < 0.0 {
            return Err(EpsOrWeightDecay);
        }
        if !(0.0..=1.0).contains(&self.paper_threshold) {
            return Err(PaperThreshold);
        }
        if self.init_std.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
            return Err(NotPositive(Setting::InitStd));
        }
        if self.init == VectorInit::TextMean && matches!(self.method, Method::Lowdim { .. } | Method::Lora { .. }) {
            return Err(TextMeanWithoutVectors);
        }
        if matches!(self.init, VectorInit::Encoder { .. }) && matches!(self.method, Method::Lowdim { .. } | Method::Lora { .. }) {
            return Err(EncoderWithoutVectors);
        }
        self.schedule.validate(self.adamw.lr).map_err(Schedule)
    }

    /// [`CramConfig::validate`] plus the checks that need the model: ranks within the widths.
    pub fn validate_for(&self, model: &ModelConfig) -> std::result::Result<(), ConfigError> {
        self.validate()?;
        let d = model.hidden_size();
        match &self.method {
            Method::Lowdim { rank } if *rank > d => Err(ConfigError::RankOverWidth { rank: *rank, width: d }),
            Method::Lora { rank, targets, .. } => {
                let sites = model.lora_sites(targets);
                if sites.is_empty() {
                    let has = |t: &LoraTarget| !model.lora_sites(&[*t]).is_empty();
                    return Err(ConfigError::TargetsNotInModel {
                        family: model.family().into(),
                        targets: targets.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(","),
                        available: LoraTarget::ALL.iter().filter(|t| has(t)).map(|t| t.as_str()).collect::<Vec<_>>().join(", "),
                    });
                }
                let narrowest = sites.iter().map(|s| s.fan_in.min(s.fan_out)).min().unwrap_or(d);
                if *rank > narrowest {
                    return Err(ConfigError::RankOverProjection { rank: *rank, narrowest });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recipe's one-line summary says the method and learning rate it sets, and its name parses
    /// back; every method has a summary in plain words.
    #[test]
    fn recipes_say_what_they_set() {
        for r in Recipe::ALL {
            let m = r.method().kind().as_str();
            assert!(r.summary().starts_with(&format!("{m} at lr {}", r.lr())), "{}: {}", r.as_str(), r.summary());
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(Recipe::ALL[0], Recipe::default());
        for m in MethodName::ALL {
            assert!(!m.summary().is_empty() && !m.summary().contains("--"), "{m}");
        }
    }

    /// Core words a setting by its plain name, never by a front end's flag.
    #[test]
    fn config_errors_in_plain_words() {
        let e = CramConfig { mem: 0, ..CramConfig::default() }.validate().unwrap_err();
        assert_eq!(e.to_string(), "mem must be at least 1");
        assert_eq!(Error::from(e.clone()).to_string(), "mem must be at least 1");
        let name = |s: Setting| if s == Setting::Mem { "vectors" } else { s.name() };
        assert_eq!(e.describe(name), "vectors must be at least 1");
        assert_eq!(ConfigError::LoraWithVectors.describe(name), "method lora trains adapters instead of memory vectors; drop vectors");
    }

    #[test]
    fn method_names_parse_back() {
        for m in MethodName::ALL {
            assert_eq!(m.as_str().parse::<MethodName>().unwrap(), m);
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
            assert_eq!(Method::with_defaults(m.as_str(), None).unwrap().kind(), m);
        }
        let e = "memroy".parse::<MethodName>().unwrap_err().to_string();
        assert!(e.contains("unknown method `memroy`; choose memory, dense, lowdim, lora, progressive or one-pass"), "{e}");
    }
}
