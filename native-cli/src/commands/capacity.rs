//! `cram capacity`: cram samples x lengths (x vector counts), one JSON line per run, resumable and
//! shardable; then the table, the two capacities and the plots. `cram merge` joins shards.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cram_core::LoadedModel;
use cram_core::bits::{BitAccount, TextCodes};
use cram_core::cramming::{CramOutcome, Observer, StepReport, StopReason, TextJob, cram_texts};
use cram_core::data::{Text, first_ids, load_texts_field, random_words};
use cram_core::encoder::Encoder;
use cram_core::methods::{CramConfig, Method};

use super::encoder::InitEncoder;
use crate::cli::{CapacityArgs, MergeArgs, SweepRunArgs, TextsArgs};
use crate::progress::Progress;
use crate::report::{self, Record};

/// Reads a results file; a last line cut short by a kill is dropped with a warning.
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lines: Vec<String> = std::io::BufReader::new(file).lines().collect::<std::io::Result<_>>()?;
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(mut r) => {
                // Lines written before the dtype was recorded were computed in f32.
                if let Some(run) = r.run.as_mut().and_then(|t| t.as_object_mut()) {
                    run.entry("dtype").or_insert_with(|| "f32".into());
                }
                out.push(r)
            }
            Err(_) if i + 1 == lines.len() => errln!("{}: ignoring an incomplete last line", path.display()),
            Err(e) => bail!("{}:{}: not a cram result line: {e}", path.display(), i + 1),
        }
    }
    Ok(out)
}

/// `"i/n"` → `(i, n)`.
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let parsed = s.split_once('/').and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => bail!("--shard {s:?}: expected i/n with 0 <= i < n, e.g. 0/4"),
    }
}

/// Appends each finished text to the results file as it comes, so a sweep can be resumed.
struct RecordWriter<'a> {
    lm: &'a LoadedModel,
    /// The tokens of each job by its id, for the bits of its text.
    ids: std::collections::HashMap<String, Vec<u32>>,
    /// The codes of each job's text (the same for every vector count and method), measured once.
    codes: std::collections::HashMap<String, TextCodes>,
    device: String,
    progress: Progress,
    /// What made the runs ([`report::run_tag`]), written on every line.
    tag: serde_json::Value,
    file: std::fs::File,
    error: Option<std::io::Error>,
    written: usize,
}

impl Observer for RecordWriter<'_> {
    fn on_step(&mut self, r: &StepReport) {
        self.progress.on_step(r);
    }
    fn on_done(&mut self, o: &CramOutcome) {
        self.progress.on_done(o);
        // A text cut short by a stop request is no result: the run is redone on resume, so the
        // table equals that of an uninterrupted sweep.
        if o.stop == StopReason::Interrupted {
            return;
        }
        let bits = match self.bits_of(o) {
            Ok(b) => Some(b),
            Err(e) => {
                errln!("warning: {}: cannot measure its bits: {e}", o.text_id);
                None
            }
        };
        let record = Record {
            bits,
            text_id: o.text_id.rsplit_once('@').map_or(o.text_id.as_str(), |(id, _)| id).to_string(),
            length: o.metrics.tokens,
            stop: o.stop.as_str().to_string(),
            metrics: o.metrics.clone(),
            run: Some(self.tag.clone()),
        };
        let line = serde_json::to_string(&record).expect("records serialise") + "\n";
        if let Err(e) = self.file.write_all(line.as_bytes()).and_then(|_| self.file.flush()) {
            self.error.get_or_insert(e);
        }
        self.written += 1;
    }
    fn stop_requested(&self) -> bool {
        self.progress.stop_requested()
    }
}

impl RecordWriter<'_> {
    /// The bits of the outcome's text and of its codes (`cram zip` of its tokens, zstd, xz), the
    /// codes measured once per text and length.
    fn bits_of(&mut self, o: &CramOutcome) -> Result<BitAccount> {
        let codes = match self.codes.get(&o.text_id) {
            Some(c) => *c,
            None => {
                let ids = self.ids.get(&o.text_id).context("a job the sweep did not plan")?;
                let c = TextCodes::measure(self.lm, ids, &self.device)?;
                self.codes.insert(o.text_id.clone(), c);
                c
            }
        };
        Ok(BitAccount::new(&codes, &o.memory, &o.metrics))
    }
}

/// The texts of a sweep, tokenized: from --data, or random words long enough for `max_len` tokens.
pub fn sweep_texts(lm: &LoadedModel, args: &TextsArgs, samples: usize, max_len: usize, seed: u64) -> Result<Vec<(String, Vec<u32>)>> {
    let texts: Vec<Text> = match (&args.data, &args.random_words) {
        (Some(d), _) => load_texts_field(d, &args.text_field)?,
        (None, Some(v)) => {
            let vocab = random_words::parse_vocab(&std::fs::read_to_string(v).with_context(|| format!("cannot read {}", v.display()))?);
            random_words::random_word_texts(&vocab, samples, max_len * 2, seed)?
        }
        (None, None) => bail!("give --data or --random-words"),
    };
    // Only as much of each text as the longest length needs (a long text's ids beyond it are not
    // the whole text's, and no run uses them).
    let texts: Vec<(String, Vec<u32>)> = texts
        .iter()
        .map(|t| {
            let (mut ids, _) = first_ids(&lm.tokenizer, &t.text, max_len)?;
            ids.truncate(max_len);
            Ok((t.id.clone(), ids))
        })
        .collect::<Result<_>>()?;
    Ok(texts)
}

/// Refuses a sweep none of whose texts is long enough for any of its lengths: no run is possible,
/// and an empty results file would look like a finished sweep.
pub fn check_texts(texts: &[(String, Vec<u32>)], lengths: &[usize]) -> Result<()> {
    let shortest = lengths.iter().copied().min().unwrap_or(0);
    let longest = texts.iter().map(|(_, ids)| ids.len()).max().unwrap_or(0);
    if longest < shortest {
        bail!(
            "no run is possible: the longest of the {} text(s) has {longest} tokens, fewer than the shortest length, {shortest}; give shorter --lengths or longer texts",
            texts.len()
        );
    }
    Ok(())
}

/// A sweep killed outright (`kill -9`, a node lost) may leave half a line at the end of its results
/// file; it is cut off before new lines are appended after it, so the file stays one JSON object per
/// line and the torn run is simply done again.
fn drop_torn_tail(file: &std::fs::File, out: &Path) -> Result<()> {
    let bytes = std::fs::read(out).with_context(|| format!("cannot read {}", out.display()))?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    errln!("{}: dropping an incomplete last line (a run cut short; it is done again)", out.display());
    file.set_len(keep as u64).with_context(|| format!("cannot repair {}", out.display()))
}

/// Checks the shape of a sweep: lengths, samples, batch.
pub fn check_sweep(lengths: &[usize], samples: usize, batch: usize) -> Result<()> {
    if lengths.is_empty() || lengths.contains(&0) {
        bail!("--lengths must be positive token counts, e.g. 16,32,64");
    }
    if samples == 0 {
        bail!("--samples must be at least 1");
    }
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    Ok(())
}

/// The texts a sweep runs at length `len`: the first `samples` of `texts` that are long enough
/// (with a warning when fewer are).
pub fn chosen_texts(texts: &[(String, Vec<u32>)], len: usize, samples: usize) -> Vec<&(String, Vec<u32>)> {
    let chosen: Vec<&(String, Vec<u32>)> = texts.iter().filter(|(_, ids)| ids.len() >= len).take(samples).collect();
    if chosen.len() < samples {
        errln!("warning: only {} text(s) have {len} tokens or more (asked for {samples})", chosen.len());
    }
    chosen
}

/// Whether run `index` of a sweep (in its fixed order) belongs to `shard` `(i, n)`: every n-th.
pub fn in_shard(shard: Option<(usize, usize)>, index: usize) -> bool {
    shard.is_none_or(|(i, n)| index % n == i)
}

/// One sweep of a method: each text of `texts` (the first `samples` long enough) at each length with
/// each vector count, appended to `run.out` as it finishes; runs already there are skipped. Returns
/// `false` when stopped by Ctrl-C or a signal.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    lm: &LoadedModel,
    cfg: &CramConfig,
    mems: &[usize],
    texts: &[(String, Vec<u32>)],
    lengths: &[usize],
    samples: usize,
    run: &SweepRunArgs,
    shard: Option<(usize, usize)>,
    device: &str,
    encoder: Option<&Encoder>,
) -> Result<bool> {
    let (batch, out, separate) = (run.batch, run.out.as_path(), run.separate);
    let method = cfg.method.name().to_string();
    let tag = report::run_tag(lm, cfg, device);
    // One writer per results file: a second cram on the same --out (two shards given one file) is
    // refused before it reads what is done, so no run is done twice and no line is torn.
    let file = std::fs::OpenOptions::new().create(true).append(true).open(out).with_context(|| format!("cannot write {}", out.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("{} is being written by another cram (shards of one sweep?): give each its own --out and join them with `cram merge`", out.display())
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", out.display())),
    }
    drop_torn_tail(&file, out)?;
    let existing = read_records(out)?;
    // Lines of the same method made otherwise (another model, recipe, device or version) would mix
    // into the same table: refuse, naming what differs.
    if let Some(other) = existing.iter().find(|r| r.metrics.method == method && r.run.as_ref() != Some(&tag))
        && !separate
    {
        let what = match &other.run {
            Some(t) => report::tag_differences(t, &tag).join(", "),
            None => "they were made by an older cram that did not record its model and recipe".into(),
        };
        bail!("{} holds {method} results made otherwise: {what}; give another --out, or --separate to keep both as separate groups", out.display());
    }
    let done: HashSet<_> = existing.iter().map(Record::key).collect();
    let tag_key = tag.to_string();
    // Every run of the sweep, in a fixed order; a shard takes every n-th.
    let mut plan: Vec<(usize, TextJob)> = Vec::new();
    let mut index = 0usize;
    for &mem in mems {
        // A run's random start comes from its place among this vector count's runs, whatever is
        // already done or left to other shards, so resumed and sharded sweeps equal uninterrupted ones.
        let mut place = 0usize;
        for &len in lengths {
            for (id, ids) in chosen_texts(texts, len, samples) {
                let mine = in_shard(shard, index);
                index += 1;
                if mine && !done.contains(&(id.clone(), len, mem, method.clone(), tag_key.clone())) {
                    plan.push((mem, TextJob { id: format!("{id}@{len}"), ids: ids[..len].to_vec(), seed_index: Some(place), start: None }));
                }
                place += 1;
            }
        }
    }
    if let Some(encoder) = encoder {
        let starts = encoder.vectors(lm, &plan.iter().map(|(_, j)| j.ids.as_slice()).collect::<Vec<_>>())?;
        for ((_, job), start) in plan.iter_mut().zip(starts) {
            job.start = Some(start);
        }
    }
    errln!("{method}: {} run(s) to do, {} result(s) already in {}", plan.len(), done.len(), out.display());
    let ids = plan.iter().map(|(_, j)| (j.id.clone(), j.ids.clone())).collect();
    let mut writer = RecordWriter {
        lm,
        ids,
        codes: Default::default(),
        device: device.to_string(),
        progress: Progress::with_total(plan.len(), cfg.max_steps),
        tag,
        file,
        error: None,
        written: 0,
    };
    let mut cfg = cfg.clone();
    for &mem in mems {
        let jobs: Vec<TextJob> = plan.iter().filter(|(m, _)| *m == mem).map(|(_, j)| j.clone()).collect();
        if jobs.is_empty() || writer.stop_requested() {
            continue;
        }
        cfg.mem = mem;
        cram_texts(lm, &cfg, &jobs, batch, &mut writer)?;
    }
    if let Some(e) = writer.error {
        return Err(e).with_context(|| format!("cannot append to {}", out.display()));
    }
    Ok(!writer.stop_requested())
}

/// Prints the table of `out` and writes its plots into `plot`.
pub fn report(out: &Path, plot: Option<&Path>, format: report::Format) -> Result<()> {
    let records = read_records(out)?;
    out!("{}", report::table_as(&report::rows(&records), format));
    if format != report::Format::Json {
        out!("{}", report::legend(&records));
    }
    if let Some(dir) = plot {
        for p in report::plots(&records, dir)? {
            errln!("wrote {}", p.display());
        }
    }
    Ok(())
}

pub fn run(args: CapacityArgs) -> Result<ExitCode> {
    // The recipe with the first vector count; the sweep runs each.
    let mems = args.recipe.mem.clone();
    let mut first = args.recipe.clone();
    first.mem = mems.as_ref().and_then(|m| m.first()).map(|&k| vec![k]);
    let mut cfg = super::compress::cram_config(&first)?;
    check_sweep(&args.lengths, args.samples, args.run.batch)?;
    let mems = match (&cfg.method, mems) {
        (Method::Lora { .. }, _) => vec![0],
        (_, Some(m)) if m.contains(&0) => bail!("--mem must be positive, e.g. 1,2,4"),
        (_, Some(m)) => m,
        (_, None) => vec![cfg.mem],
    };
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let max_len = *args.lengths.iter().max().expect("non-empty");
    super::check_output(&args.run.out)?;
    let lm = super::load_model(&args.model)?;
    let texts = sweep_texts(&lm, &args.texts, args.samples, max_len, args.recipe.seed)?;
    check_texts(&texts, &args.lengths)?;
    let init = InitEncoder::load(&args.recipe, &lm)?;
    if let Some(init) = &init {
        if mems.len() > 1 {
            bail!("an encoder writes a fixed number of vectors; --init with an encoder takes one --mem");
        }
        init.apply(&mut cfg)?;
    }
    let encoder = init.as_ref().map(|i| &i.encoder);
    let finished = sweep(&lm, &cfg, &mems, &texts, &args.lengths, args.samples, &args.run, shard, &args.model.device_name(), encoder)?;
    report(&args.run.out, args.run.plot.as_deref(), args.run.format)?;
    Ok(sweep_exit(finished, &args.run.out))
}

/// 0 when the sweep ran to its end; 1, with what to do, when a stop request (Ctrl-C, SIGTERM from
/// `scancel` or a preemption) ended it early: every finished line is in the results file.
pub fn sweep_exit(finished: bool, out: &Path) -> ExitCode {
    if finished {
        return ExitCode::SUCCESS;
    }
    errln!("stopped before the sweep finished; the finished runs are in {}: the same command resumes it", out.display());
    ExitCode::from(1)
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
