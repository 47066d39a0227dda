//! The recipe flags and the loaded model resolved into one complete recipe (a [`CramConfig`]): the
//! flags are checked and given core's defaults before any model is loaded ([`draft`]); the start of
//! `--init FILE` (the vectors an encoder file writes, or a learned start from `cram start train`) is
//! read once the model is ([`Draft::load_init`], [`Draft::complete`]). The default recipe with no
//! `--init` starts from the learned start that ships for the default model ([`SHIPPED_START`]) when
//! the loaded model is that model, and from random otherwise.
//! `cram compress`, `capacity` and `compare` all take their recipes from here.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cram_core::encoder::Encoder;
use cram_core::encoder::file::{EncoderFile, fingerprint};
use cram_core::methods::{CramConfig, Layout, Method, MethodName, Protocol, Recipe, VectorInit};
use cram_core::models::lora::parse_targets;
use cram_core::optim::adamw::AdamWConfig;
use cram_core::optim::schedule::Schedule;
use cram_core::start::StartFile;
use cram_core::{LoadedModel, ModelConfig};

use crate::cli::{InitArg, LayoutArg, ProtocolArg, RecipeArg, RecipeArgs, ScheduleArg};

/// The learned start shipped for the default model (SmolLM2-135M-Instruct, Q4_1) and the default
/// recipe (`fast`): `data/start/smollm2-135m-fast.safetensors`, made by `scripts/start-smollm2.sh`
/// (docs/measurements.md, "A learned start on SmolLM2-135M"). Built into the binary, so that it
/// needs no repository at run time.
pub const SHIPPED_START: (&str, &[u8]) = ("data/start/smollm2-135m-fast.safetensors", include_bytes!("../../data/start/smollm2-135m-fast.safetensors"));

/// The recipe of the flags before the model is loaded: complete but for the start of `--init
/// FILE`, which [`Draft::complete`] reads for the model.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The recipe; its `init` is the flags' unless `file` is given.
    cfg: CramConfig,
    /// Where the texts start when it is a file.
    file: Option<StartSource>,
}

/// The file a recipe starts from: the one `--init` names, read once, or the shipped start.
#[derive(Debug, Clone)]
struct StartSource {
    path: PathBuf,
    bytes: Vec<u8>,
    /// [`SHIPPED_START`], chosen by default: used only if it is for the loaded model and fits the
    /// recipe; else the texts start from random.
    shipped: bool,
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

    /// The file of `--init` for `lm`, if it names one (an encoder or a learned start), parsed from the
    /// bytes the draft read, once for every recipe of a command.
    pub fn load_init(&self, lm: &LoadedModel) -> Result<Option<InitFile>> {
        let Some(StartSource { path, bytes, shipped }) = &self.file else { return Ok(None) };
        let (name, fingerprint) = (path.display().to_string(), fingerprint(bytes));
        if *shipped {
            let Ok(start) = StartFile::from_bytes(bytes.clone(), &name, lm) else { return Ok(None) };
            if start.check_recipe(&self.cfg, &name).is_err() {
                return Ok(None);
            }
            errln!("starting from the learned start shipped for this model ({name}; --init normal starts from random)");
            return Ok(Some(InitFile::Start { start: Box::new(start), fingerprint, path: path.clone() }));
        }
        if StartFile::is_start(bytes) {
            let start = StartFile::from_bytes(bytes.clone(), &name, lm).with_context(|| format!("cannot use the start {name}"))?;
            return Ok(Some(InitFile::Start { start: Box::new(start), fingerprint, path: path.clone() }));
        }
        let file = EncoderFile::from_bytes(bytes.clone(), &name, lm).with_context(|| format!("cannot use the encoder {name}"))?;
        Ok(Some(InitFile::Encoder { encoder: file.encoder, fingerprint, path: path.clone() }))
    }

    /// The complete recipe: with the file of `--init` (from [`Draft::load_init`]), its start, once
    /// the file is checked against the recipe (an encoder's vector count; the recipe a learned start
    /// was trained for).
    pub fn complete(self, init: Option<&InitFile>) -> Result<CramConfig> {
        let mut cfg = self.cfg;
        match (self.file, init) {
            (None, _) => {}
            // the shipped start is not for this model (or recipe): random, as --init normal
            (Some(StartSource { shipped: true, .. }), None) => {}
            (Some(_), None) => bail!("the file of --init was not read"),
            (Some(_), Some(InitFile::Encoder { encoder, fingerprint, path })) => {
                let k = encoder.config.mem;
                if k != cfg.mem {
                    bail!("{} writes {k} vector(s) per text; pass --mem {k}", path.display());
                }
                cfg.init = VectorInit::Encoder { encoder: fingerprint.clone() };
                cfg.validate()?;
            }
            (Some(_), Some(InitFile::Start { start, fingerprint, path })) => {
                start.check_recipe(&cfg, &path.display().to_string())?;
                cfg.init = VectorInit::Learned { start: fingerprint.clone() };
                cfg.validate()?;
            }
        }
        Ok(cfg)
    }
}

/// The file of `--init FILE`, read once per command: where each text starts.
pub enum InitFile {
    /// An encoder (`cram encoder train`): the vectors it writes for each text.
    Encoder {
        /// The encoder.
        encoder: Encoder,
        /// Its file's fingerprint, recorded in the recipe.
        fingerprint: String,
        path: PathBuf,
    },
    /// A learned start (`cram start train`): the same values for every text (boxed: its record is
    /// far larger than an encoder's handle).
    Start { start: Box<StartFile>, fingerprint: String, path: PathBuf },
}

impl InitFile {
    /// Where each of `texts` starts, in the order given.
    pub fn starts(&self, lm: &LoadedModel, texts: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        match self {
            InitFile::Encoder { encoder, .. } => Ok(encoder.vectors(lm, texts)?),
            InitFile::Start { start, .. } => Ok(vec![start.params.clone(); texts.len()]),
        }
    }
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
    only("--shared-m", r.shared_m && name != MethodName::OnePass, "one-pass")?;
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
        Method::OnePass { shared_m } => *shared_m = r.shared_m,
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
        // The start of a file is known once it is read ([`Draft::complete`]).
        init: match &r.init {
            Some(InitArg::TextMean) => VectorInit::TextMean,
            Some(InitArg::Normal | InitArg::File(_)) | None => VectorInit::Normal,
        },
        checkpoint: r.checkpoint,
    };
    // The shipped start is for the default recipe exactly: no method, vector count or file named.
    let default_recipe = r.method.is_none() && r.mem.is_none() && recipe == Recipe::Fast;
    let file = match &r.init {
        None if default_recipe => {
            cfg.validate()?;
            let (path, bytes) = SHIPPED_START;
            Some(StartSource { path: PathBuf::from(path), bytes: bytes.to_vec(), shipped: true })
        }
        Some(InitArg::File(path)) => {
            // An encoder's start is checked now (the checks read its kind, not its fingerprint), so
            // a method that cannot start from one is refused before the model is loaded; a learned
            // start (any method) once it is read.
            let bytes = std::fs::read(path).with_context(|| format!("cannot read the --init file {}", path.display()))?;
            let init = if StartFile::is_start(&bytes) { VectorInit::Learned { start: String::new() } } else { VectorInit::Encoder { encoder: String::new() } };
            CramConfig { init, ..cfg.clone() }.validate()?;
            Some(StartSource { path: path.clone(), bytes, shipped: false })
        }
        _ => {
            cfg.validate()?;
            None
        }
    };
    Ok(Draft { cfg, file })
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
    fn only_the_default_recipe_starts_from_the_shipped_start() {
        let shipped = |flags: &[&str]| draft_of(flags).unwrap().file.is_some_and(|f| f.shipped);
        assert!(shipped(&[]));
        assert!(shipped(&["--lr", "0.05", "--max-steps", "20"]), "the learning rate and budget may differ");
        for other in
            [&["--init", "normal"][..], &["--init", "text-mean"], &["--method", "dense"], &["--mem", "1"], &["--recipe", "paper"], &["--protocol", "paper"]]
        {
            assert!(!shipped(other), "{other:?}");
        }
        // The shipped start is not read for a model it was not made for: the recipe starts from random
        let cfg = draft_of(&[]).unwrap().complete(None).unwrap();
        assert_eq!(cfg.init, VectorInit::Normal);
        let (name, bytes) = SHIPPED_START;
        assert!(StartFile::is_start(bytes), "{name} is a start file");
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
        let enc = std::env::temp_dir().join(format!("cram-recipe-test-{}.safetensors", std::process::id()));
        std::fs::write(&enc, b"not a start: read as an encoder").unwrap();
        let enc = enc.to_str().unwrap();
        let d = draft_of(&["--init", enc, "--method", "memory"]).unwrap();
        assert!(d.complete(None).unwrap_err().to_string().contains("not read"));
        let err = draft_of(&["--init", enc, "--method", "lora"]).unwrap_err();
        assert!(crate::errors::words(&err).contains("--init with an encoder sets the memory vectors"), "{err}");
        std::fs::remove_file(enc).unwrap();
        let missing = draft_of(&["--init", "no-such-file.safetensors"]).unwrap_err();
        assert!(missing.to_string().contains("cannot read the --init file no-such-file.safetensors"), "{missing}");
    }
}
