//! `cram capacity`: cram samples x lengths (x vector counts), one JSON line per run, resumable and
//! shardable; then the table, the two capacities and the plots. `cram merge` joins shards.

use std::collections::HashSet;
use std::process::ExitCode;

use anyhow::{Result, bail};
use cram_core::methods::Method;

use crate::cli::{CapacityArgs, MergeArgs};
use crate::recipe;
use crate::report;
use crate::results::read_records;
use crate::sweep::{SweepPlan, check_sweep, check_texts, parse_shard, sweep, sweep_exit, sweep_texts};

pub fn run(args: CapacityArgs) -> Result<ExitCode> {
    // The recipe with the first vector count; the sweep runs each.
    let mems = args.recipe.mem.clone();
    let mut first = args.recipe.clone();
    first.mem = mems.as_ref().and_then(|m| m.first()).map(|&k| vec![k]);
    let draft = recipe::draft(&first)?;
    check_sweep(&args.lengths, args.samples, args.run.batch)?;
    let mems = match (draft.method(), mems) {
        (Method::Lora { .. }, _) => vec![0],
        (_, Some(m)) if m.contains(&0) => bail!("--mem must be positive, e.g. 1,2,4"),
        (_, Some(m)) => m,
        (_, None) => vec![draft.mem()],
    };
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let max_len = *args.lengths.iter().max().expect("non-empty");
    super::check_output(&args.run.out)?;
    let lm = super::load_model(&args.model)?;
    let texts = sweep_texts(&lm, &args.texts, args.samples, max_len, args.recipe.seed)?;
    check_texts(&texts, &args.lengths)?;
    let init = draft.load_init(&lm)?;
    if init.is_some() && mems.len() > 1 {
        bail!("an encoder writes, and a learned start holds, a fixed number of vectors; --init with a file takes one --mem");
    }
    let cfg = draft.complete(init.as_ref())?;
    let plan = SweepPlan { texts: &texts, lengths: &args.lengths, samples: args.samples, mems: &mems, shard };
    let finished = sweep(&lm, &cfg, &plan, &args.run, init.as_ref())?;
    report::print(&args.run.out, args.run.plot.as_deref(), args.run.format)?;
    Ok(sweep_exit(finished, &args.run.out))
}

pub fn merge(args: MergeArgs) -> Result<ExitCode> {
    super::check_output(&args.output)?;
    let mut seen = HashSet::new();
    let mut out = String::new();
    let mut all = Vec::new();
    for input in &args.inputs {
        for r in read_records(input)? {
            if seen.insert(r.key()) {
                out += &(serde_json::to_string(&r)? + "\n");
                all.push(r);
            }
        }
    }
    cram_core::format::write_atomic(&args.output, out.as_bytes())?;
    errln!("{} result(s) from {} file(s) into {}", all.len(), args.inputs.len(), args.output.display());
    if args.table {
        out!("{}", report::table_as(&report::rows(&all), args.format));
        if args.format != report::Format::Json {
            out!("{}", report::legend(&all));
        }
    }
    Ok(ExitCode::SUCCESS)
}
