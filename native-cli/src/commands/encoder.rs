//! `cram encoder train|eval`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};
use cram_core::LoadedModel;
use cram_core::cramming::embedding_std;
use cram_core::data::load_texts_field;
use cram_core::encoder::file::{EncoderFile, TrainingRecord};
use cram_core::encoder::training::{EncoderTraining, Split, SplitSpec, TrainSettings, evaluate, split_chunks};
use cram_core::encoder::{Adaptation, Encoder, EncoderConfig, EncoderKind, Pooling};
use cram_core::optim::adamw::{AdamW, AdamWConfig};
use cram_core::readback::sync;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{EncoderCommand, EncoderEvalArgs, EncoderKindArg, EncoderTrainArgs, PoolingArg};
use crate::recipe::read_encoder;
use crate::report;
use crate::results::{Record, RunTag};

pub fn run(command: EncoderCommand) -> Result<ExitCode> {
    match command {
        EncoderCommand::Train(a) => train(a),
        EncoderCommand::Eval(a) => eval(a),
    }
}

/// The chunks of `data` split as `spec` records, checked to be the ones the encoder was tested on.
fn split_again(lm: &LoadedModel, data: &Path, field: &str, spec: &SplitSpec) -> Result<Split> {
    let split = split_chunks(&tokenized(lm, data, field)?, spec.tokens, spec.chunks, spec.test as f64 / spec.chunks as f64, spec.seed)?;
    if split.spec.test_sha256 != spec.test_sha256 {
        bail!("the test chunks of {} differ from those the encoder was trained beside (other texts, or another tokenizer?)", data.display());
    }
    Ok(split)
}

fn tokenized(lm: &LoadedModel, data: &Path, field: &str) -> Result<Vec<(String, Vec<u32>)>> {
    let texts = load_texts_field(data, field)?;
    texts.iter().map(|t| Ok((t.id.clone(), lm.tokenizer.encode(&t.text)?))).collect()
}

fn train(args: EncoderTrainArgs) -> Result<ExitCode> {
    let exists = args.out.exists();
    match (exists, args.resume) {
        (true, false) => bail!("{} exists: --resume continues its training, or give another --out", args.out.display()),
        (false, true) => bail!("--resume: {} does not exist", args.out.display()),
        _ => {}
    }
    if args.epochs == Some(0) {
        bail!("--epochs must be at least 1");
    }
    super::check_output(&args.out)?;
    let fresh = if args.resume { None } else { Some(config_of(&args)?) };
    let lm = super::load_model(&args.model)?;
    let (encoder, opt, step, settings, data, field, split) = match fresh {
        None => {
            let file = EncoderFile::read(&args.out, &lm)?;
            let t = file.training;
            let split = split_again(&lm, Path::new(&t.data), &t.text_field, &t.split)?;
            let mut settings = t.settings;
            settings.epochs = args.epochs.unwrap_or(settings.epochs);
            let opt = file.optimiser.unwrap_or_else(|| AdamW::new(file.encoder.len()));
            errln!("resuming {} at step {} of {} (its architecture, split and settings)", args.out.display(), t.step, t.total_steps);
            (file.encoder, opt, t.step, settings, t.data, t.text_field, split)
        }
        Some(config) => {
            let context = lm.config.max_position_embeddings();
            if args.tokens + config.mem + 1 > context {
                bail!("--tokens {} + {} vector(s) + the sink exceed the model's context of {context}", args.tokens, config.mem);
            }
            let split = split_chunks(&tokenized(&lm, &args.data, &args.text_field)?, args.tokens, args.chunks, args.test_fraction, args.seed)?;
            let std = sync(embedding_std(&lm.model))?;
            let encoder = Encoder::new(config, &lm.config, std, args.seed)?;
            let opt = AdamW::new(encoder.len());
            let settings = TrainSettings {
                adamw: AdamWConfig { lr: args.lr, ..Default::default() },
                batch: args.batch,
                epochs: args.epochs.unwrap_or(10),
                seed: args.seed,
            };
            (encoder, opt, 0, settings, args.data.display().to_string(), args.text_field.clone(), split)
        }
    };
    let mut run = EncoderTraining::new(&lm, encoder, opt, step, settings, split.train.clone())?;
    let (total, per_epoch) = (run.total_steps(), run.steps_per_epoch());
    errln!(
        "{}: {} values trained; {} training and {} test chunks of {} tokens; {} step(s) per epoch, {total} in all",
        run.encoder.config.method_name(),
        run.encoder.len(),
        split.train.len(),
        split.test.len(),
        split.spec.tokens,
        per_epoch
    );
    let save = |run: &EncoderTraining, test_accuracy: Option<f64>| -> Result<()> {
        let training = TrainingRecord {
            settings: run.settings.clone(),
            split: split.spec.clone(),
            data: data.clone(),
            text_field: field.clone(),
            step: run.step,
            total_steps: run.total_steps(),
            test_accuracy,
        };
        let file = EncoderFile {
            encoder: run.encoder.clone(),
            model: lm.identity.clone(),
            training,
            optimiser: Some(run.opt.clone()),
            created_by: format!("cram {}", cram_core::VERSION),
        };
        file.write(&args.out).with_context(|| format!("cannot write {}", args.out.display()))
    };
    let stop = crate::progress::stop_flag("stopping: saving the encoder as it is");
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(ProgressStyle::with_template("step {pos}/{len} {msg} [{elapsed_precise}, ETA {eta}] {wide_bar}").expect("valid template"));
        bar.set_position(run.step as u64);
        bar
    });
    let started = web_time::Instant::now();
    let (mut loss_sum, mut right_sum, mut seen) = (0.0, 0.0, 0usize);
    let mut test_accuracy = None;
    while !run.finished() {
        if stop.load(Ordering::SeqCst) {
            save(&run, test_accuracy)?;
            if let Some(b) = &bar {
                b.abandon();
            }
            errln!("stopped at step {} of {total}; {} holds it: `--resume` continues", run.step, args.out.display());
            return Ok(ExitCode::from(1));
        }
        let s = run.step(&lm)?;
        loss_sum += s.loss;
        right_sum += s.accuracy;
        seen += 1;
        let msg = format!("epoch {}  loss {:.4}  accuracy {:.3}{}", s.epoch + 1, s.loss, s.accuracy, s.kl.map_or(String::new(), |kl| format!("  KL {kl:.1}")));
        match &bar {
            Some(b) => {
                b.set_position(s.step as u64);
                b.set_message(msg);
            }
            None if s.step % 50 == 0 => errln!("step {}/{total} {msg} [{:.0}s]", s.step, started.elapsed().as_secs_f64()),
            None => {}
        }
        if s.step % per_epoch == 0 || run.finished() {
            let test = evaluate(&run.encoder, &lm, &split.test, run.settings.batch, false, &mut |_, _| {})?;
            let n = test.len().max(1) as f64;
            let accuracy = test.iter().map(|(_, m)| m.teacher_forced_accuracy).sum::<f64>() / n;
            let ce = test.iter().map(|(_, m)| m.ce_with_mem_nats / m.tokens as f64).sum::<f64>() / n;
            test_accuracy = Some(accuracy);
            save(&run, test_accuracy)?;
            let line = serde_json::json!({
                "epoch": s.epoch + 1,
                "step": s.step,
                "train_loss": loss_sum / seen.max(1) as f64,
                "train_accuracy": right_sum / seen.max(1) as f64,
                "test_accuracy": accuracy,
                "test_ce_per_token": ce,
                "seconds": started.elapsed().as_secs_f64(),
            });
            if args.json {
                outln!("{line}");
            } else {
                let text = format!(
                    "epoch {}: train loss {:.4}, accuracy {:.3}; test accuracy {accuracy:.3}, CE {ce:.3} nats/token; saved {}",
                    s.epoch + 1,
                    loss_sum / seen.max(1) as f64,
                    right_sum / seen.max(1) as f64,
                    args.out.display()
                );
                match &bar {
                    Some(b) => b.suspend(|| outln!("{text}")),
                    None => outln!("{text}"),
                }
            }
            (loss_sum, right_sum, seen) = (0.0, 0.0, 0);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    errln!("done: {}; `cram encoder eval --encoder {}` measures greedy decoding on the test chunks", args.out.display(), args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// The architecture the flags name.
fn config_of(args: &EncoderTrainArgs) -> Result<EncoderConfig> {
    let config = EncoderConfig {
        kind: match args.kind {
            EncoderKindArg::Ae => EncoderKind::Ae,
            EncoderKindArg::Vae => EncoderKind::Vae,
        },
        layers: args.layers,
        regularised: args.reg,
        pooling: match args.pooling {
            PoolingArg::Last => Pooling::Last,
            PoolingArg::Mean => Pooling::Mean,
            PoolingArg::Attention => Pooling::Attention,
        },
        adaptation: if args.encoder_full { Adaptation::Full } else { Adaptation::Lora { rank: args.encoder_lora.unwrap_or(8) } },
        mem: args.mem,
        beta: args.beta.unwrap_or(EncoderConfig::default().beta),
        dropout: args.dropout,
    };
    config.validate()?;
    if args.tokens < 1 {
        bail!("--tokens must be at least 1");
    }
    if args.kind == EncoderKindArg::Ae && args.beta.is_some() {
        bail!("--beta weighs the VAE's KL term; it applies to --kind vae only");
    }
    Ok(config)
}

fn eval(args: EncoderEvalArgs) -> Result<ExitCode> {
    let lm = super::load_model(&args.model)?;
    let (file, fingerprint) = read_encoder(&args.encoder, &lm)?;
    let tag = RunTag::of_encoder(&lm, &fingerprint);
    let t = &file.training;
    let data = args.data.clone().unwrap_or_else(|| t.data.clone().into());
    let split = split_again(&lm, &data, &t.text_field, &t.split)?;
    let bar = std::io::stderr().is_terminal().then(|| ProgressBar::new(split.test.len() as u64));
    let results = evaluate(&file.encoder, &lm, &split.test, args.batch, true, &mut |_, _| {
        if let Some(b) = &bar {
            b.inc(1);
        }
    })?;
    let records: Vec<Record> = results
        .into_iter()
        .map(|(id, metrics)| Record { text_id: id, length: t.split.tokens, stop: "encoded".into(), metrics, run: Some(tag.clone()), bits: None })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(out) = &args.out {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(out).with_context(|| format!("cannot write {}", out.display()))?;
        let lines: String = records.iter().map(|r| serde_json::to_string(r).expect("records serialise") + "\n").collect();
        f.write_all(lines.as_bytes()).with_context(|| format!("cannot write {}", out.display()))?;
        errln!("appended {} result line(s) to {}", records.len(), out.display());
    }
    out!("{}", report::table_as(&report::rows(&records), args.format));
    if matches!(args.format, report::Format::Text | report::Format::Wide) {
        let n = records.len().max(1) as f64;
        let greedy = records.iter().filter_map(|r| r.metrics.greedy_accuracy).sum::<f64>() / n;
        let tf = records.iter().map(|r| r.metrics.teacher_forced_accuracy).sum::<f64>() / n;
        outln!(
            "{} on {} test chunks of {} tokens: teacher-forced accuracy {tf:.3}, greedy accuracy {greedy:.3}, {} of {} greedy-exact",
            file.encoder.config.method_name(),
            records.len(),
            t.split.tokens,
            records.iter().filter(|r| r.metrics.greedy_exact).count(),
            records.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
