//! `cram compare`: every method on the same texts at the same lengths, one results file, one table
//! (capacity, token gain, information gain, steps, seconds, trainable parameters) and the plots;
//! `--encoders` lists trained encoders beside them (each text through the encoder alone).

use std::process::ExitCode;

use anyhow::Result;
use cram_core::methods::MethodName;

use crate::cli::CompareArgs;
use crate::recipe::{self, read_encoder};
use crate::report;
use crate::results::read_records;
use crate::sweep::{SweepPlan, check_sweep, check_texts, encode_sweep, parse_shard, sweep, sweep_exit, sweep_texts};

pub fn run(args: CompareArgs) -> Result<ExitCode> {
    check_sweep(&args.lengths, args.samples, args.run.batch)?;
    if args.methods.is_empty() {
        anyhow::bail!("--methods names no method");
    }
    // Each method's recipe: the shared flags, with the method-specific ones only where they apply.
    let drafts = args
        .methods
        .iter()
        .map(|&method| {
            let mut r = args.recipe.clone();
            r.method = Some(method);
            let (lowrank, lora) = (matches!(method.0, MethodName::Lowdim | MethodName::Lora), method.0 == MethodName::Lora);
            r.rank = r.rank.filter(|_| lowrank);
            r.targets = r.targets.filter(|_| lora);
            r.lora_alpha = r.lora_alpha.filter(|_| lora);
            r.steps_per_token = r.steps_per_token.filter(|_| method.0 == MethodName::Progressive);
            r.shared_m &= method.0 == MethodName::OnePass;
            r.mem = r.mem.filter(|_| !lora);
            recipe::draft(&r)
        })
        .collect::<Result<Vec<_>>>()?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    super::check_output(&args.run.out)?;
    let lm = super::load_model(&args.model)?;
    let max_len = *args.lengths.iter().max().expect("non-empty");
    let texts = sweep_texts(&lm, &args.texts, args.samples, max_len, args.recipe.seed)?;
    check_texts(&texts, &args.lengths)?;
    for draft in &drafts {
        draft.validate_for(&lm.config)?;
    }
    // Every method starts from the same --init: its encoder is read once.
    let init = drafts[0].load_init(&lm)?;
    let configs = drafts.into_iter().map(|d| d.complete(init.as_ref())).collect::<Result<Vec<_>>>()?;
    let mut finished = true;
    // The sweep of each method and encoder: the same texts and lengths, with its one vector count.
    let plan = SweepPlan { texts: &texts, lengths: &args.lengths, samples: args.samples, mems: &[], shard };
    for path in &args.encoders {
        let (file, fingerprint) = read_encoder(path, &lm)?;
        let mems = [file.encoder.config.mem];
        encode_sweep(&lm, &file.encoder, &fingerprint, path, &SweepPlan { mems: &mems, ..plan }, &args.run)?;
    }
    for cfg in &configs {
        if !sweep(&lm, cfg, &SweepPlan { mems: &[cfg.mem], ..plan }, &args.run, init.as_ref())? {
            finished = false;
            break;
        }
    }
    report::print(&args.run.out, args.run.plot.as_deref(), args.run.format)?;
    outln!();
    let wide = args.run.format == report::Format::Wide;
    out!("{}", report::method_summary(&read_records(&args.run.out)?, wide));
    Ok(sweep_exit(finished, &args.run.out))
}
