//! The sweep engine of `cram capacity` and `cram compare`: the plan of a sweep (texts x lengths x
//! vector counts, in a fixed order, every n-th run to a shard), its runs appended to the results
//! file as they finish (resumable: runs already there are skipped), the same for an encoder alone,
//! and the exit status of a sweep cut short.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cram_core::bits::{BitAccount, TextCodes};
use cram_core::cramming::{CramOutcome, Observer, StepReport, StopReason, TextJob, cram_texts};
use cram_core::data::{Text, first_ids, load_texts_field, random_words};
use cram_core::encoder::Encoder;
use cram_core::encoder::training::{Chunk, evaluate};
use cram_core::methods::CramConfig;

use crate::cli::{SweepRunArgs, TextsArgs};
use crate::model::Model;
use crate::progress::Progress;
use crate::recipe::InitFile;
use crate::results::{Record, RunKey, RunTag, read_records};

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
    lm: &'a Model,
    /// The tokens of each job by its id, for the bits of its text.
    ids: HashMap<String, Vec<u32>>,
    /// The codes of each job's text (the same for every vector count and method), measured once.
    codes: HashMap<String, TextCodes>,
    progress: Progress,
    /// What made the runs, written on every line.
    tag: RunTag,
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
                let c = TextCodes::measure(self.lm, ids, &self.lm.device_name)?;
                self.codes.insert(o.text_id.clone(), c);
                c
            }
        };
        Ok(BitAccount::new(&codes, &o.memory, &o.metrics))
    }
}

/// The texts of a sweep, tokenized: from --data, or random words long enough for `max_len` tokens.
pub fn sweep_texts(lm: &Model, args: &TextsArgs, samples: usize, max_len: usize, seed: u64) -> Result<Vec<(String, Vec<u32>)>> {
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

/// The shape of a sweep: its texts, its lengths, how many texts per length, its vector counts and
/// the shard this process runs.
#[derive(Clone, Copy)]
pub struct SweepPlan<'a> {
    pub texts: &'a [(String, Vec<u32>)],
    pub lengths: &'a [usize],
    pub samples: usize,
    pub mems: &'a [usize],
    pub shard: Option<(usize, usize)>,
}

/// One run of a sweep's plan: a text cut to a length, into a vector count.
pub struct PlannedRun<'a> {
    pub mem: usize,
    pub length: usize,
    pub text_id: &'a str,
    /// The text's first `length` ids.
    pub ids: &'a [u32],
    /// Its place among the runs of its vector count (shards and finished runs included): its
    /// random start comes from it, so resumed and sharded sweeps equal uninterrupted ones.
    pub place: usize,
}

impl<'a> SweepPlan<'a> {
    /// The runs of this shard, in the sweep's fixed order: each vector count, each length, the
    /// first `samples` texts long enough (a shard takes every n-th of them).
    pub fn runs(&self) -> Vec<PlannedRun<'a>> {
        let mut out = Vec::new();
        let mut index = 0usize;
        for &mem in self.mems {
            let mut place = 0usize;
            for &length in self.lengths {
                for (id, ids) in chosen_texts(self.texts, length, self.samples) {
                    if in_shard(self.shard, index) {
                        out.push(PlannedRun { mem, length, text_id: id, ids: &ids[..length], place });
                    }
                    index += 1;
                    place += 1;
                }
            }
        }
        out
    }
}

impl PlannedRun<'_> {
    /// The run's key in a results file ([`Record::key`]) for `method` made as `tag` says.
    fn key(&self, method: &str, tag_key: &str) -> RunKey {
        (self.text_id.to_string(), self.length, self.mem, method.to_string(), tag_key.to_string())
    }
}

/// Opens the results file `out` for appending, as its one writer: a second cram on the same --out
/// (two shards given one file) is refused before it reads what is done, so no run is done twice
/// and no line is torn. A torn last line is cut off first.
fn open_results(out: &Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(out).with_context(|| format!("cannot write {}", out.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("{} is being written by another cram (shards of one sweep?): give each its own --out and join them with `cram merge`", out.display())
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", out.display())),
    }
    drop_torn_tail(&file, out)?;
    Ok(file)
}

/// One sweep of a method: each run of `plan` crammed as `cfg` says (with its vector count),
/// appended to `run.out` as it finishes; runs already there are skipped. `init`: the file of `--init`
/// (an encoder whose vectors start each text, or a learned start). Returns `false` when stopped by
/// Ctrl-C or a signal.
pub fn sweep(lm: &Model, cfg: &CramConfig, plan: &SweepPlan, run: &SweepRunArgs, init: Option<&InitFile>) -> Result<bool> {
    let (batch, out, separate) = (run.batch, run.out.as_path(), run.separate);
    let method = cfg.method.name().to_string();
    let tag = RunTag::of_recipe(lm, cfg);
    let file = open_results(out)?;
    let existing = read_records(out)?;
    // Lines of the same method made otherwise (another model, recipe, device or version) would mix
    // into the same table: refuse, naming what differs.
    if let Some(other) = existing.iter().find(|r| r.metrics.method == method && r.run.as_ref() != Some(&tag))
        && !separate
    {
        let what = match &other.run {
            Some(t) => t.differences(&tag).join(", "),
            None => "they were made by an older cram that did not record its model and recipe".into(),
        };
        bail!("{} holds {method} results made otherwise: {what}; give another --out, or --separate to keep both as separate groups", out.display());
    }
    let done: HashSet<_> = existing.iter().map(Record::key).collect();
    let tag_key = RunTag::key_of(Some(&tag));
    let mut jobs: Vec<(usize, TextJob)> = plan
        .runs()
        .into_iter()
        .filter(|r| !done.contains(&r.key(&method, &tag_key)))
        .map(|r| (r.mem, TextJob { id: format!("{}@{}", r.text_id, r.length), ids: r.ids.to_vec(), seed_index: Some(r.place), start: None }))
        .collect();
    if let Some(init) = init {
        let starts = init.starts(lm, &jobs.iter().map(|(_, j)| j.ids.as_slice()).collect::<Vec<_>>())?;
        for ((_, job), start) in jobs.iter_mut().zip(starts) {
            job.start = Some(start);
        }
    }
    errln!("{method}: {} run(s) to do, {} result(s) already in {}", jobs.len(), done.len(), out.display());
    let ids = jobs.iter().map(|(_, j)| (j.id.clone(), j.ids.clone())).collect();
    let mut writer =
        RecordWriter { lm, ids, codes: Default::default(), progress: Progress::with_total(jobs.len(), cfg.max_steps), tag, file, error: None, written: 0 };
    let mut cfg = cfg.clone();
    for &mem in plan.mems {
        let batch_jobs: Vec<TextJob> = jobs.iter().filter(|(m, _)| *m == mem).map(|(_, j)| j.clone()).collect();
        if batch_jobs.is_empty() || writer.stop_requested() {
            continue;
        }
        cfg.mem = mem;
        cram_texts(lm, &cfg, &batch_jobs, batch, &mut writer)?;
    }
    if let Some(e) = writer.error {
        return Err(e).with_context(|| format!("cannot append to {}", out.display()));
    }
    Ok(!writer.stop_requested())
}

/// `cram compare --encoders`: the texts of `plan` through an encoder alone (its file at `path`, of
/// `fingerprint`), appended to the results file as the encoder's lines; those already there (a
/// resumed comparison) are not done again. The plan's vector counts are the encoder's one.
pub fn encode_sweep(lm: &Model, encoder: &Encoder, fingerprint: &str, path: &Path, plan: &SweepPlan, run: &SweepRunArgs) -> Result<()> {
    let tag = RunTag::of_encoder(lm, fingerprint);
    let method = encoder.config.method_name();
    let done: HashSet<_> = if run.out.exists() { read_records(&run.out)?.iter().map(Record::key).collect() } else { HashSet::new() };
    let tag_key = RunTag::key_of(Some(&tag));
    // Per length, the texts of this shard not done yet: one batch of one length at a time.
    let mut by_length: Vec<(usize, Vec<Chunk>)> = Vec::new();
    for r in plan.runs().into_iter().filter(|r| !done.contains(&r.key(&method, &tag_key))) {
        let chunk = Chunk { id: r.text_id.to_string(), ids: r.ids.to_vec() };
        match by_length.last_mut() {
            Some((length, chunks)) if *length == r.length => chunks.push(chunk),
            _ => by_length.push((r.length, vec![chunk])),
        }
    }
    errln!("{method} ({}): {} text(s) to encode", path.display(), by_length.iter().map(|(_, c)| c.len()).sum::<usize>());
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open(&run.out).with_context(|| format!("cannot write {}", run.out.display()))?;
    let mut written = Ok(());
    for (length, chunks) in &by_length {
        // Each line is appended as its text is done, so an interrupted comparison keeps them.
        evaluate(encoder, lm, chunks, run.batch, true, &mut |id, metrics| {
            let record =
                Record { text_id: id.to_string(), length: *length, stop: "encoded".into(), metrics: metrics.clone(), run: Some(tag.clone()), bits: None };
            let line = serde_json::to_string(&record).expect("records serialise") + "\n";
            if written.is_ok() {
                written = out.write_all(line.as_bytes());
            }
        })?;
    }
    written.with_context(|| format!("cannot write {}", run.out.display()))
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
