//! `cram compress`: one text into K vectors, written as a `.cram` file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use cram_core::bits::{BitAccount, TextCodes};
use cram_core::cramming::{StopReason, TextJob, cram_texts};
use cram_core::format::CramFile;
use cram_core::methods::{CramConfig, Layout, Method, Protocol, Recipe, VectorInit};
use cram_core::models::lora::parse_targets;
use cram_core::optim::adamw::AdamWConfig;
use cram_core::optim::schedule::Schedule;

use super::encoder::InitEncoder;
use crate::cli::{CompressArgs, InitArg, LayoutArg, MethodArg, ProtocolArg, RecipeArg, RecipeArgs, ScheduleArg};
use crate::progress::Progress;

/// The checked recipe of the flags.
pub fn cram_config(r: &RecipeArgs) -> Result<CramConfig> {
    let protocol = match r.protocol {
        ProtocolArg::Greedy => Protocol::Greedy,
        ProtocolArg::Paper => Protocol::Paper,
    };
    let recipe = match (r.recipe, protocol) {
        (Some(RecipeArg::Fast), _) | (None, Protocol::Greedy) => Recipe::Fast,
        (Some(RecipeArg::Paper), _) | (None, Protocol::Paper) => Recipe::Paper,
    };
    let method_arg = match r.method {
        Some(m) => m,
        None => MethodArg::from_str(recipe.method().name(), false).map_err(|e| anyhow::anyhow!(e))?,
    };
    // Default layout: the paper's with its protocol; LoRA trains no vector, so it keeps the sink.
    let layout = match (r.layout, protocol, method_arg) {
        (Some(LayoutArg::Paper), _, _) => Layout::Paper,
        (Some(LayoutArg::Sink), _, _) | (None, _, MethodArg::Lora) | (None, Protocol::Greedy, _) => Layout::Sink,
        (None, Protocol::Paper, _) => Layout::Paper,
    };
    let only = |flag: &str, given: bool, methods: &str| -> Result<()> {
        if given {
            bail!("{flag} applies to --method {methods} only");
        }
        Ok(())
    };
    only("--rank", r.rank.is_some() && !matches!(method_arg, MethodArg::Lowdim | MethodArg::Lora), "lowdim or lora")?;
    only("--targets", r.targets.is_some() && method_arg != MethodArg::Lora, "lora")?;
    only("--lora-alpha", r.lora_alpha.is_some() && method_arg != MethodArg::Lora, "lora")?;
    only("--steps-per-token", r.steps_per_token.is_some() && method_arg != MethodArg::Progressive, "progressive")?;
    let name = method_arg.to_possible_value().expect("every method has a name").get_name().to_string();
    let mut method = Method::with_defaults(&name, r.rank)?;
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
        init: match &r.init {
            InitArg::Normal => VectorInit::Normal,
            InitArg::TextMean => VectorInit::TextMean,
            // The file is read once the model is loaded; `InitEncoder::apply` fills its fingerprint in.
            InitArg::Encoder(_) => VectorInit::Encoder { encoder: String::new() },
        },
        checkpoint: r.checkpoint,
    };
    cfg.validate()?;
    Ok(cfg)
}

pub fn run(args: CompressArgs) -> Result<ExitCode> {
    let mut cfg = cram_config(&args.recipe)?;
    let input = args.input.path();
    let text = super::read_text(input)?;
    let output = match &args.output {
        Some(o) => o.clone(),
        None if input.as_os_str() == "-" => PathBuf::from("stdin.cram"),
        None => input.with_extension("cram"),
    };
    super::check_output(&output)?;
    let lm = super::load_model(&args.model)?;
    let ids = super::tokens_of(&lm, &text, args.input.tokens)?;
    let name = input.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "stdin".into());
    let start = match InitEncoder::load(&args.recipe, &lm)? {
        Some(init) => {
            init.apply(&mut cfg)?;
            init.encoder.vectors(&lm, &[&ids])?.pop()
        }
        None => None,
    };
    let jobs = [TextJob { id: name, ids, seed_index: None, start }];
    let mut progress = Progress::new();
    let outcome = cram_texts(&lm, &cfg, &jobs, 1, &mut progress)?.pop().context("no result")?;
    let file = CramFile::from_outcome(&lm, &cfg, &outcome)?;
    file.write(&output)?;
    let m = &outcome.metrics;
    let bits = BitAccount::new(&TextCodes::measure(&lm, &jobs[0].ids, &args.model.device_name())?, &outcome.memory, m);
    if args.json {
        let mut line = serde_json::to_value(m)?;
        line["bits"] = serde_json::to_value(&bits)?;
        line["dtype"] = lm.precision.name().into();
        line["stop"] = serde_json::to_value(outcome.stop)?;
        line["device"] = args.model.device_name().into();
        outln!("{line}");
    } else {
        let holder = match cfg.method {
            Method::Lora { rank, .. } => format!("rank-{rank} LoRA adapters ({} values)", m.trainable_parameters),
            _ => format!("{} vector(s) of {} floats, {} values trained", m.mem, lm.config.hidden_size(), m.trainable_parameters),
        };
        outln!("wrote {} ({} tokens in {holder})", output.display(), m.tokens);
        outln!(
            "method {}  steps {}  seconds {:.1}  teacher-forced accuracy {:.4}  greedy-exact {}  ({} on {})",
            m.method,
            m.steps,
            m.seconds,
            m.teacher_forced_accuracy,
            m.greedy_exact,
            lm.precision,
            args.model.device_name()
        );
        if let Some(h) = m.horizon {
            outln!("horizon {h} of {} tokens (the file holds those {h})", m.tokens);
        }
        outln!(
            "token gain {:.1}  information gain {:.1} bits  capacity utilisation {:.3} of {:.0} tokens",
            m.token_gain,
            m.information_gain_bits,
            m.capacity_utilization,
            m.theoretical_capacity_tokens
        );
        outln!("bits of these {} tokens ({} bytes of UTF-8), and x: times smaller than the text", m.tokens, bits.text_bytes);
        for (what, b) in bits.rows() {
            if let Some(b) = b {
                outln!("  {what:<21} {b:>10.0}  {:>7.2}x", bits.raw_bits as f64 / b);
            }
        }
    }
    let ok = match cfg.protocol {
        Protocol::Greedy => m.greedy_exact && outcome.ids.len() == m.tokens,
        Protocol::Paper => outcome.stop == StopReason::Success,
    };
    if !ok {
        errln!("the text did not cram completely ({}); the file keeps the best vectors found", outcome.stop);
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
