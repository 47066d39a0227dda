//! The recipe flags and the loaded model resolved into one complete recipe (a [`CramConfig`]): the
//! flags are checked and given core's defaults before any model is loaded ([`draft`]); the start an
//! encoder file writes (`--init enc.safetensors`) is read once the model is ([`Draft::complete`]).
//! `cram compress`, `capacity` and `compare` all take their recipes from here.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cram_core::encoder::Encoder;
use cram_core::encoder::file::{EncoderFile, fingerprint};
use cram_core::methods::{CramConfig, Layout, Method, MethodName, Protocol, Recipe, VectorInit};
use cram_core::models::lora::parse_targets;
use cram_core::optim::adamw::AdamWConfig;
use cram_core::optim::schedule::Schedule;
use cram_core::{LoadedModel, ModelConfig};

use crate::cli::{InitArg, LayoutArg, ProtocolArg, RecipeArg, RecipeArgs, ScheduleArg};

/// The recipe of the flags before the model is loaded: complete but for the start of an encoder
/// file, which [`Draft::complete`] reads for the model.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The recipe; its `init` is the flags' unless `encoder` is given.
    cfg: CramConfig,
    /// The encoder file of `--init`, if it names one.
    encoder: Option<PathBuf>,
}

impl Draft {
    /// The method it trains.
    pub fn method(&self) -> &Method {
        &self.cfg.method
    }

    /// The number of vectors.
    pub fn mem(&self) -> usize {
        self.cfg.mem
    }

    /// Rejects a recipe the model cannot run (a LoRA target it lacks, a context too short, ...).
    pub fn validate_for(&self, config: &ModelConfig) -> Result<()> {
        Ok(self.cfg.validate_for(config)?)
    }

    /// The encoder of `--init` for `lm`, if it names one, read once for every recipe of a command.
    pub fn load_encoder(&self, lm: &LoadedModel) -> Result<Option<InitEncoder>> {
        let Some(path) = &self.encoder else { return Ok(None) };
        let (file, fingerprint) = read_encoder(path, lm).with_context(|| format!("cannot use the encoder {}", path.display()))?;
        Ok(Some(InitEncoder { encoder: file.encoder, fingerprint, path: path.clone() }))
    }

    /// The complete recipe: with the encoder of `--init` (from [`Draft::load_encoder`]), its start,
    /// once its vector count is checked.
    pub fn complete(self, encoder: Option<&InitEncoder>) -> Result<CramConfig> {
        let mut cfg = self.cfg;
        match (self.encoder, encoder) {
            (None, _) => {}
            (Some(_), None) => bail!("the encoder of --init was not read"),
            (Some(_), Some(init)) => {
                let k = init.encoder.config.mem;
                if k != cfg.mem {
                    bail!("{} writes {k} vector(s) per text; pass --mem {k}", init.path.display());
                }
                cfg.init = VectorInit::Encoder { encoder: init.fingerprint.clone() };
                cfg.validate()?;
            }
        }
        Ok(cfg)
    }
}

/// The encoder of `--init enc.safetensors`, read once per command: its vectors start each text.
pub struct InitEncoder {
    /// The encoder.
    pub encoder: Encoder,
    /// Its file's fingerprint, recorded in the recipe.
    fingerprint: String,
    path: PathBuf,
}

/// An encoder file for `lm`, and the fingerprint of its bytes.
pub fn read_encoder(path: &Path, lm: &LoadedModel) -> Result<(EncoderFile, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the encoder file {}", path.display()))?;
    let fingerprint = fingerprint(&bytes);
    Ok((EncoderFile::from_bytes(bytes, &path.display().to_string(), lm)?, fingerprint))
}

/// The recipe of the flags, checked before any model is loaded.
pub fn draft(r: &RecipeArgs) -> Result<Draft> {
    let protocol = match r.protocol {
        ProtocolArg::Greedy => Protocol::Greedy,
        ProtocolArg::Paper => Protocol::Paper,
    };
    let recipe = match (r.recipe, protocol) {
        (Some(RecipeArg::Fast), _) | (None, Protocol::Greedy) => Recipe::Fast,
        (Some(RecipeArg::Paper), _) | (None, Protocol::Paper) => Recipe::Paper,
    };
    let name = match r.method {
        Some(m) => m.0,
        None => recipe.method().kind(),
    };
    // Default layout: the paper's with its protocol; LoRA trains no vector, so it keeps the sink.
    let layout = match (r.layout, protocol, name) {
        (Some(LayoutArg::Paper), _, _) => Layout::Paper,
        (Some(LayoutArg::Sink), _, _) | (None, _, MethodName::Lora) | (None, Protocol::Greedy, _) => Layout::Sink,
        (None, Protocol::Paper, _) => Layout::Paper,
    };
    let only = |flag: &str, given: bool, methods: &str| -> Result<()> {
        if given {
            bail!("{flag} applies to --method {methods} only");
        }
        Ok(())
    };
    only("--rank", r.rank.is_some() && !matches!(name, MethodName::Lowdim | MethodName::Lora), "lowdim or lora")?;
    only("--targets", r.targets.is_some() && name != MethodName::Lora, "lora")?;
    only("--lora-alpha", r.lora_alpha.is_some() && name != MethodName::Lora, "lora")?;
    only("--steps-per-token", r.steps_per_token.is_some() && name != MethodName::Progressive, "progressive")?;
    let mut method = Method::with_defaults(name.as_str(), r.rank)?;
    match &mut method {
        Method::Lora { targets, alpha, .. } => {
            if let Some(t) = &r.targets {
                *targets = parse_targets(t)?;
            }
            if let Some(a) = r.lora_alpha {
                *alpha = a;
            }
        }
        Method::Progressive { steps_per_token } => {
            if let Some(s) = r.steps_per_token {
                *steps_per_token = s;
            }
        }
        _ => {}
    }
    let mem = match (&method, r.mem.as_deref()) {
        (Method::Lora { .. }, Some(_)) => bail!("--method lora trains adapters instead of memory vectors; drop --mem"),
        (Method::Lora { .. }, None) => 0,
        (_, None) => 1,
        (_, Some(&[k])) => k,
        (_, Some(_)) => bail!("--mem takes one number here; `cram capacity --mem 1,2,4` sweeps several"),
    };
    let lr = if r.method.is_some() { method.default_lr() } else { recipe.lr() };
    let schedule = match r.schedule {
        ScheduleArg::Constant => Schedule::Constant,
        ScheduleArg::Cosine => {
            let total = match method {
                Method::Progressive { steps_per_token } => steps_per_token,
                _ => r.max_steps,
            };
            Schedule::WarmupCosine { warmup: r.warmup, total, min_lr: r.min_lr }
        }
    };
    let cfg = CramConfig {
        method,
        mem,
        layout,
        protocol,
        adamw: AdamWConfig { lr: r.lr.unwrap_or(lr), beta1: r.beta1, beta2: r.beta2, weight_decay: r.weight_decay, eps: r.eps },
        max_steps: r.max_steps,
        patience: r.patience,
        paper_threshold: 0.99,
        seed: r.seed,
        init_std: r.init_std,
        schedule,
        // An encoder's start is known once its file is read ([`Draft::complete`]).
        init: match &r.init {
            InitArg::TextMean => VectorInit::TextMean,
            InitArg::Normal | InitArg::Encoder(_) => VectorInit::Normal,
        },
        checkpoint: r.checkpoint,
    };
    let encoder = match &r.init {
        InitArg::Encoder(path) => {
            // Checked with an encoder's start (the checks read its kind, not its fingerprint), so a
            // method that cannot start from one is refused before the model is loaded.
            CramConfig { init: VectorInit::Encoder { encoder: String::new() }, ..cfg.clone() }.validate()?;
            Some(path.clone())
        }
        _ => {
            cfg.validate()?;
            None
        }
    };
    Ok(Draft { cfg, encoder })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        recipe: RecipeArgs,
    }

    fn draft_of(flags: &[&str]) -> Result<Draft> {
        draft(&Flags::parse_from(std::iter::once("cram").chain(flags.iter().copied())).recipe)
    }

    #[test]
    fn the_flags_default_to_cores_recipe() {
        let cfg = draft_of(&[]).unwrap().complete(None).unwrap();
        let core = CramConfig::default();
        let fast = Recipe::Fast;
        assert_eq!(cfg.method, fast.method());
        assert_eq!(cfg.adamw, AdamWConfig { lr: fast.lr(), ..core.adamw });
        assert_eq!((cfg.mem, cfg.max_steps, cfg.patience, cfg.seed), (core.mem, core.max_steps, core.patience, core.seed));
        assert_eq!((cfg.layout, cfg.protocol, &cfg.init, &cfg.schedule), (core.layout, core.protocol, &core.init, &core.schedule));
        let paper = draft_of(&["--protocol", "paper"]).unwrap().complete(None).unwrap();
        assert_eq!((paper.method, paper.layout, paper.adamw.lr), (Recipe::Paper.method(), Layout::Paper, Recipe::Paper.lr()));
        let lora = draft_of(&["--method", "lora"]).unwrap();
        assert_eq!((lora.mem(), lora.method().kind()), (0, MethodName::Lora));
    }

    #[test]
    fn every_method_of_cores_list_is_a_method_flag() {
        for m in MethodName::ALL {
            let rank = if matches!(m, MethodName::Lowdim) { vec!["--rank", "4"] } else { vec![] };
            let d = draft_of(&[&["--method", m.as_str()], rank.as_slice()].concat()).unwrap();
            assert_eq!(d.method().kind(), m);
        }
    }

    #[test]
    fn an_encoder_start_is_complete_only_with_its_encoder() {
        let d = draft_of(&["--init", "enc.safetensors", "--method", "memory"]).unwrap();
        assert!(d.complete(None).unwrap_err().to_string().contains("not read"));
        let err = draft_of(&["--init", "enc.safetensors", "--method", "lora"]).unwrap_err();
        assert!(crate::errors::words(&err).contains("--init with an encoder sets the memory vectors"), "{err}");
    }
}
