//! `cram start train`: a learned start, meta-trained with Reptile over chunks of texts
//! ([`cram_core::start`]), measured on held-out chunks before training and after every epoch.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use cram_core::LoadedModel;
use cram_core::cramming::{Observer, StepReport};
use cram_core::encoder::training::{Split, split_chunks};
use cram_core::start::{MetaSettings, StartFile, StartScores, StartTraining, measure, random_start, reptile_epoch};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{InitArg, StartCommand, StartTrainArgs};
use crate::recipe;

pub fn run(command: StartCommand) -> Result<ExitCode> {
    match command {
        StartCommand::Train(a) => train(a),
    }
}

/// Steps of every chunk, as a bar (or a line every 200 steps without a terminal); Ctrl-C asks the
/// loop to stop after its current step.
struct StartProgress {
    bar: Option<ProgressBar>,
    steps: u64,
    stop: Arc<AtomicBool>,
    started: web_time::Instant,
    what: String,
}

impl StartProgress {
    fn new(total: u64, stop: Arc<AtomicBool>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(ProgressStyle::with_template("steps {pos}/{len} {msg} [{elapsed_precise}, ETA {eta}] {wide_bar}").expect("valid template"));
            bar
        });
        Self { bar, steps: 0, stop, started: web_time::Instant::now(), what: String::new() }
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| outln!("{line}")),
            None => outln!("{line}"),
        }
    }
}

impl Observer for StartProgress {
    fn on_step(&mut self, r: &StepReport) {
        self.steps += 1;
        match &self.bar {
            Some(b) => {
                b.set_position(self.steps);
                b.set_message(format!("{}: loss {:.3}", self.what, r.loss));
            }
            None if self.steps.is_multiple_of(200) => {
                errln!("{} steps, {}: loss {:.3} [{:.0}s]", self.steps, self.what, r.loss, self.started.elapsed().as_secs_f64())
            }
            None => {}
        }
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn tokenized(lm: &LoadedModel, data: &Path, field: &str) -> Result<Vec<(String, Vec<u32>)>> {
    let texts = cram_core::data::load_texts_field(data, field)?;
    texts.iter().map(|t| Ok((t.id.clone(), lm.tokenizer.encode(&t.text)?))).collect()
}

/// One line of a measure: text, or JSON with `--json`.
fn report(progress: &StartProgress, scores: &StartScores, json: bool, out: &Path) {
    if json {
        outln!("{}", serde_json::to_string(scores).expect("scores serialise"));
        return;
    }
    let from = if scores.epoch == 0 { "the random start".to_string() } else { format!("the start after epoch {}", scores.epoch) };
    let train = scores.train_accuracy.map_or(String::new(), |a| format!("training chunks' accuracy after the inner steps {a:.3}; "));
    progress.println(&format!(
        "{train}held out, from {from}: mean {:.1} steps to greedy-exact, {:.0}% exact, accuracy {:.3} [{:.0}s]{}",
        scores.mean_steps,
        100.0 * scores.exact,
        scores.accuracy,
        scores.seconds,
        if scores.epoch > 0 { format!("; saved {}", out.display()) } else { String::new() }
    ));
}

fn train(args: StartTrainArgs) -> Result<ExitCode> {
    if args.epochs == Some(0) {
        bail!("--epochs must be at least 1");
    }
    if args.recipe.shared_m {
        bail!("a one-pass start is trained with m per text (drop --shared-m); `--shared-m --init START` then shares its m");
    }
    if !matches!(args.recipe.init, None | Some(InitArg::Normal)) {
        bail!("a start is trained from the recipe's random start: drop --init (--resume continues a start)");
    }
    for (flag, value) in [("--inner-steps", args.inner_steps), ("--batch", args.batch), ("--eval-steps", args.eval_steps)] {
        if value == 0 {
            bail!("{flag} must be at least 1");
        }
    }
    if !(args.meta_lr > 0.0 && args.meta_lr <= 1.0) {
        bail!("--meta-lr must be in (0, 1], not {}", args.meta_lr);
    }
    match (args.out.exists(), args.resume) {
        (true, false) => bail!("{} exists: --resume continues its training, or give another --out", args.out.display()),
        (false, true) => bail!("--resume: {} does not exist", args.out.display()),
        _ => {}
    }
    super::check_output(&args.out)?;
    let draft = recipe::draft(&args.recipe)?;
    let lm = super::load_model(&args.model)?;
    draft.validate_for(&lm.config)?;
    let (mut file, split) = if args.resume {
        let file = StartFile::read(&args.out, &lm)?;
        let t = &file.training;
        let split = split_chunks(
            &tokenized(&lm, Path::new(&t.data), &t.text_field)?,
            t.split.tokens,
            t.split.chunks,
            t.split.test as f64 / t.split.chunks as f64,
            t.split.seed,
        )?;
        if split.spec.test_sha256 != t.split.test_sha256 {
            bail!("the held-out chunks of {} differ from those the start was trained beside (other texts, or another tokenizer?)", t.data);
        }
        errln!("resuming {} after epoch {} (its recipe, split and settings)", args.out.display(), t.epochs_done);
        (file, split)
    } else {
        let recipe = draft.complete(None)?;
        let split: Split = split_chunks(&tokenized(&lm, &args.data, &args.text_field)?, args.tokens, args.chunks, args.test_fraction, args.recipe.seed)?;
        let settings = MetaSettings {
            inner_steps: args.inner_steps,
            meta_lr: args.meta_lr,
            batch: args.batch,
            epochs: args.epochs.unwrap_or(4),
            seed: args.recipe.seed,
            eval_steps: args.eval_steps,
        };
        let params = random_start(&lm, &recipe, &split.train)?;
        let training = StartTraining {
            recipe,
            settings,
            split: split.spec.clone(),
            data: args.data.display().to_string(),
            text_field: args.text_field.clone(),
            epochs_done: 0,
            history: vec![],
        };
        (StartFile { params, model: lm.identity.clone(), training, created_by: format!("cram {}", cram_core::VERSION) }, split)
    };
    if let Some(e) = args.epochs {
        file.training.settings.epochs = e;
    }
    let settings = file.training.settings.clone();
    let recipe = file.training.recipe.clone();
    let epochs_left = settings.epochs.saturating_sub(file.training.epochs_done);
    let total = (epochs_left * split.train.len() * settings.inner_steps + (epochs_left + 1) * split.test.len() * settings.eval_steps) as u64;
    errln!(
        "{}: a start of {} values; {} training and {} held-out chunks of {} tokens; {} inner step(s), meta lr {}, batch {}, {} epoch(s) to do",
        recipe.method.name(),
        file.params.len(),
        split.train.len(),
        split.test.len(),
        split.spec.tokens,
        settings.inner_steps,
        settings.meta_lr,
        settings.batch,
        epochs_left
    );
    let stop = crate::progress::stop_flag("stopping: saving the start as it is");
    let mut progress = StartProgress::new(total, stop);
    let started = web_time::Instant::now();
    let seconds_before = file.training.history.last().map_or(0.0, |s| s.seconds);
    let seconds = |started: &web_time::Instant| seconds_before + started.elapsed().as_secs_f64();
    let save = |file: &StartFile| file.write(&args.out, &lm).with_context(|| format!("cannot write {}", args.out.display()));
    if file.training.history.is_empty() {
        progress.what = "held out, from the random start".into();
        let scores = measure(&lm, &recipe, None, &split.test, settings.eval_steps, settings.batch, &mut progress)?;
        report(&progress, &scores, args.json, &args.out);
        file.training.history.push(scores);
    }
    while file.training.epochs_done < settings.epochs {
        let epoch = file.training.epochs_done + 1;
        progress.what = format!("epoch {epoch}");
        let Some(train_accuracy) = reptile_epoch(&lm, &recipe, &settings, &mut file.params, &split.train, epoch, &mut progress)? else {
            save(&file)?;
            if let Some(b) = &progress.bar {
                b.abandon();
            }
            errln!("stopped in epoch {epoch}; {} holds the start as the last whole batch left it: `--resume` continues", args.out.display());
            return Ok(ExitCode::from(1));
        };
        progress.what = format!("held out, after epoch {epoch}");
        let mut scores = measure(&lm, &recipe, Some(&file.params), &split.test, settings.eval_steps, settings.batch, &mut progress)?;
        scores.epoch = epoch;
        scores.train_accuracy = Some(train_accuracy);
        scores.seconds = seconds(&started);
        file.training.epochs_done = epoch;
        file.training.history.push(scores.clone());
        save(&file)?;
        report(&progress, &scores, args.json, &args.out);
    }
    if let Some(b) = progress.bar {
        b.finish_and_clear();
    }
    errln!("done: {}; `--init {}` starts compress, capacity and compare from it", args.out.display(), args.out.display());
    Ok(ExitCode::SUCCESS)
}
