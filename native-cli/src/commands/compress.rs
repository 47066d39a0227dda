//! `cram compress`: one text into K vectors, written as a `.cram` file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cram_core::bits::{BitAccount, TextCodes};
use cram_core::cramming::{StopReason, TextJob, cram_texts};
use cram_core::format::CramFile;
use cram_core::methods::{Method, Protocol};

use crate::cli::CompressArgs;
use crate::progress::Progress;
use crate::recipe;

pub fn run(args: CompressArgs) -> Result<ExitCode> {
    let draft = recipe::draft(&args.recipe)?;
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
    let init = draft.load_init(&lm)?;
    let cfg = draft.complete(init.as_ref())?;
    let start = match &init {
        Some(init) => init.starts(&lm, &[&ids])?.pop(),
        None => None,
    };
    let jobs = [TextJob { id: name, ids, seed_index: None, start }];
    let mut progress = Progress::new();
    let outcome = cram_texts(&lm, &cfg, &jobs, 1, &mut progress)?.pop().context("no result")?;
    let file = CramFile::from_outcome(&lm, &cfg, &outcome)?;
    file.write(&output)?;
    let m = &outcome.metrics;
    let bits = BitAccount::new(&TextCodes::measure(&lm, &jobs[0].ids, &lm.device_name)?, &outcome.memory, m);
    if args.json {
        let mut line = serde_json::to_value(m)?;
        line["bits"] = serde_json::to_value(&bits)?;
        line["dtype"] = lm.precision.name().into();
        line["stop"] = serde_json::to_value(outcome.stop)?;
        line["device"] = lm.device_name.as_str().into();
        line["init"] = cfg.init.name().into();
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
            lm.device_name
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
