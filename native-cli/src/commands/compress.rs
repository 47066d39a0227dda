//! `cram compress`: one text into K vectors, written as a `.cram` file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cram_core::format::{CramFile, text_sha256};
use cram_core::methods::{CramConfig, Layout, Protocol};
use cram_core::optim::adamw::AdamWConfig;
use cram_core::optim::trainer::{StopReason, TextJob, cram_texts};

use crate::cli::{CompressArgs, LayoutArg, ProtocolArg, RecipeArgs};
use crate::progress::Progress;

/// The checked recipe of the flags.
pub fn cram_config(r: &RecipeArgs) -> Result<CramConfig> {
    let protocol = match r.protocol {
        ProtocolArg::Greedy => Protocol::Greedy,
        ProtocolArg::Paper => Protocol::Paper,
    };
    let layout = match (r.layout, protocol) {
        (Some(LayoutArg::Paper), _) | (None, Protocol::Paper) => Layout::Paper,
        (Some(LayoutArg::Sink), _) | (None, Protocol::Greedy) => Layout::Sink,
    };
    let cfg = CramConfig {
        mem: r.mem,
        layout,
        protocol,
        adamw: AdamWConfig { lr: r.lr, beta1: r.beta1, beta2: r.beta2, weight_decay: r.weight_decay, eps: r.eps },
        max_steps: r.max_steps,
        patience: r.patience,
        paper_threshold: 0.99,
        seed: r.seed,
        init_std: r.init_std,
    };
    cfg.validate()?;
    Ok(cfg)
}

pub fn run(args: CompressArgs) -> Result<ExitCode> {
    let cfg = cram_config(&args.recipe)?;
    let text = super::read_text(&args.text)?;
    let output = match &args.output {
        Some(o) => o.clone(),
        None if args.text.as_os_str() == "-" => PathBuf::from("stdin.cram"),
        None => args.text.with_extension("cram"),
    };
    let lm = super::load_model(&args.model)?;
    let ids = super::tokens_of(&lm, &text, args.tokens)?;
    let target = lm.tokenizer.decode(&ids)?;
    let name = args.text.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "stdin".into());
    let jobs = [TextJob { id: name, ids }];
    let mut progress = Progress::new();
    let outcome = cram_texts(&lm, &cfg, &jobs, 1, &mut progress)?.pop().context("no result")?;
    let file = CramFile {
        method: outcome.metrics.method.clone(),
        layout: cfg.layout,
        protocol: cfg.protocol,
        prefix_ids: outcome.prefix_ids.clone(),
        given_ids: outcome.given_ids.clone(),
        mem: outcome.mem.clone(),
        mem_shape: [cfg.mem, lm.config.hidden_size()],
        tokens: outcome.ids.len(),
        model: lm.identity.clone(),
        text_sha256: text_sha256(&target),
        metrics: outcome.metrics.clone(),
        created_by: format!("cram {}", cram_core::VERSION),
    };
    file.write(&output)?;
    let m = &outcome.metrics;
    if args.json {
        println!("{}", serde_json::to_string(m)?);
    } else {
        println!("wrote {} ({} tokens in {} vector(s) of {} floats)", output.display(), m.tokens, m.mem, lm.config.hidden_size());
        println!("steps {}  seconds {:.1}  teacher-forced accuracy {:.4}  greedy-exact {}", m.steps, m.seconds, m.teacher_forced_accuracy, m.greedy_exact);
        println!(
            "token gain {:.1}  information gain {:.1} bits  capacity utilisation {:.3} of {:.0} tokens",
            m.token_gain, m.information_gain_bits, m.capacity_utilization, m.theoretical_capacity_tokens
        );
    }
    let ok = match cfg.protocol {
        Protocol::Greedy => m.greedy_exact,
        Protocol::Paper => outcome.stop == StopReason::Success,
    };
    if !ok {
        eprintln!("the text did not cram completely ({:?}); the file keeps the best vectors found", outcome.stop);
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
