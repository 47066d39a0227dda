//! One-pass reconstruction (Mezentsev & Oseledets 2025) on the tiny fixtures: e and m laid out
//! `[e, m, ..., m]` are crammed until every position's argmax is its text token; the memory decodes
//! in exactly one forward pass (counted by `decode::forward_passes`), through a `.cram` file too,
//! which keeps the method; a file whose positions are not all right is refused with the share; with a
//! shared m, m stays the learned start's and each text trains e alone.

use crate::common;

use common::*;
use cram_core::cramming::{Silent, StopReason, TextJob, cram_texts};
use cram_core::decode::forward_passes;
use cram_core::encoder::training::split_chunks;
use cram_core::format::CramFile;
use cram_core::methods::{CramConfig, Layout, Method, MethodName, Protocol, VectorInit};
use cram_core::optim::adamw::AdamWConfig;

const TEXT: &str = "Alice was beginning to get very tired of sitting";

fn recipe(layout: Layout) -> CramConfig {
    CramConfig {
        method: Method::OnePass { shared_m: false },
        mem: 1,
        layout,
        adamw: AdamWConfig { lr: 0.1, ..Default::default() },
        max_steps: 2000,
        ..Default::default()
    }
}

fn job(ids: &[u32]) -> [TextJob; 1] {
    [TextJob { id: "t".into(), ids: ids.to_vec(), seed_index: None, start: None }]
}

/// Crammed on the tiny Llama (sink layout, the default), 8 tokens come back from one forward pass,
/// and the `.cram` file keeps the method and decodes the same way.
#[test]
fn one_pass_decodes_in_one_forward_pass() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = lm.tokenizer.encode(TEXT).unwrap()[..8].to_vec();
    let cfg = recipe(Layout::Sink);
    let out = cram_texts(&lm, &cfg, &job(&ids), 1, &mut Silent).unwrap().remove(0);
    assert_eq!(out.stop, StopReason::Success, "{:?}", out.metrics);
    assert!(out.metrics.greedy_exact && out.metrics.teacher_forced_accuracy == 1.0, "{:?}", out.metrics);
    assert_eq!(out.metrics.method, "one-pass");
    let d = lm.config.hidden_size();
    assert_eq!(out.metrics.trainable_parameters, 2 * d, "e and m");
    assert!(out.memory.one_pass && out.memory.k == 2 && out.memory.vectors.len() == 2 * d);

    let before = forward_passes();
    assert_eq!(out.memory.decode(&lm, &[], ids.len(), None).unwrap(), ids);
    assert_eq!(forward_passes() - before, 1, "one forward pass for the whole text");

    let file = CramFile::from_outcome(&lm, &cfg, &out).unwrap();
    let back = CramFile::from_bytes(&file.to_bytes().unwrap(), "op.cram").unwrap();
    assert_eq!(back.method, MethodName::OnePass);
    assert!(back.memory.one_pass);
    assert_eq!(back.memory, out.memory);
    let before = forward_passes();
    assert_eq!(back.decode(&lm).unwrap(), lm.tokenizer.decode(&ids).unwrap());
    assert_eq!(forward_passes() - before, 1, "decompress decodes in one forward pass");

    // The same vectors read token by token (as any other method's) do not give the text: the
    // layout is what decodes it.
    let mut greedy = out.memory.clone();
    greedy.one_pass = false;
    let before = forward_passes();
    let _ = greedy.decode(&lm, &[], ids.len(), None).unwrap();
    assert_eq!(forward_passes() - before, ids.len(), "greedy decoding runs one pass per token");
}

/// Without the sink (the paper's layout, e first) it converges too; texts of different lengths
/// crammed in one batch each come back whole.
#[test]
fn one_pass_without_sink_and_in_batches() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = lm.tokenizer.encode(TEXT).unwrap();
    let text = |id: &str, ids: &[u32]| TextJob { id: id.into(), ids: ids.to_vec(), seed_index: None, start: None };
    let texts = [text("a", &ids[..6]), text("b", &ids[2..10])];
    for (layout, batch) in [(Layout::Paper, 1), (Layout::Sink, 2)] {
        let outs = cram_texts(&lm, &recipe(layout), &texts, batch, &mut Silent).unwrap();
        for (out, text) in outs.iter().zip(&texts) {
            assert!(out.metrics.greedy_exact, "{layout:?} batch {batch}: {:?}", out.metrics);
            assert_eq!(out.memory.prefix_ids.len(), usize::from(layout == Layout::Sink));
            assert_eq!(out.memory.decode(&lm, &[], text.ids.len(), None).unwrap(), text.ids, "{layout:?}");
        }
    }
}

/// A file whose vectors do not get every position right is refused, with the share that is right.
#[test]
fn an_inexact_one_pass_file_reports_its_share_of_right_positions() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = lm.tokenizer.encode(TEXT).unwrap()[..10].to_vec();
    let cfg = CramConfig { max_steps: 2, ..recipe(Layout::Sink) };
    let out = cram_texts(&lm, &cfg, &job(&ids), 1, &mut Silent).unwrap().remove(0);
    assert!(!out.metrics.greedy_exact, "{:?}", out.metrics);
    let file = CramFile::from_outcome(&lm, &cfg, &out).unwrap();
    let err = file.decode(&lm).unwrap_err().to_string();
    let right = (out.metrics.teacher_forced_accuracy * 10.0).round() as usize;
    assert!(err.contains(&format!("{right} of 10 positions right")), "{err}");
    // what the web app's gallery and import show instead: the text it decodes to, and the same reason
    let any = cram_core::readback::sync(file.decode_any_async(&lm)).unwrap();
    assert_eq!(any.text, lm.tokenizer.decode(&file.decode_ids(&lm).unwrap()).unwrap());
    assert_ne!(any.text, lm.tokenizer.decode(&ids).unwrap());
    assert!(err.ends_with(any.mismatch.as_deref().unwrap()), "{err} / {:?}", any.mismatch);
}

/// Settings one-pass cannot take are one clear error each.
#[test]
fn one_pass_settings_are_checked() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let err = |cfg: CramConfig| cram_texts(&lm, &cfg, &job(&[5, 6, 7]), 1, &mut Silent).unwrap_err().to_string();
    assert!(err(CramConfig { mem: 2, ..recipe(Layout::Sink) }).contains("trains two vectors"));
    assert!(err(CramConfig { protocol: Protocol::Paper, ..recipe(Layout::Sink) }).contains("paper does not apply"));
}

/// The paper's universal proto-token: with a shared m (taken from a one-pass start meta-trained on
/// other texts) each text trains e alone. m stays exactly the start's, the trained values are d, the
/// file records the start's fingerprint and decodes in one forward pass; without a learned start the
/// recipe is refused.
#[test]
fn a_shared_m_stays_the_starts_and_each_text_trains_e() {
    use cram_core::start::{MetaSettings, random_start, reptile_epoch};
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let d = lm.config.hidden_size();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/eval/books.jsonl");
    let texts = cram_core::data::load_texts_field(&path, "text").unwrap();
    let books: Vec<(String, Vec<u32>)> = texts.iter().take(3).map(|t| (t.id.clone(), lm.tokenizer.encode(&t.text).unwrap())).collect();
    let split = split_chunks(&books, 6, 24, 0.25, 0).unwrap();
    let trained = recipe(Layout::Sink);
    let meta = MetaSettings { inner_steps: 10, meta_lr: 0.1, batch: 8, epochs: 2, seed: 0, eval_steps: 300 };
    let mut start = random_start(&lm, &trained, &split.train).unwrap();
    for epoch in 1..=meta.epochs {
        reptile_epoch(&lm, &trained, &meta, &mut start, &split.train, epoch, &mut Silent).unwrap().expect("not stopped");
    }
    let shared = CramConfig { method: Method::OnePass { shared_m: true }, init: VectorInit::Learned { start: "5eed".repeat(4) }, ..trained.clone() };
    let ids = lm.tokenizer.encode(TEXT).unwrap()[..6].to_vec();
    let jobs = [TextJob { id: "t".into(), ids: ids.clone(), seed_index: None, start: Some(start.clone()) }];
    let out = cram_texts(&lm, &shared, &jobs, 1, &mut Silent).unwrap().remove(0);
    assert!(out.metrics.greedy_exact, "{:?}", out.metrics);
    assert_eq!(out.metrics.trainable_parameters, d, "e alone");
    assert_eq!(out.params[d..], start[d..], "m is the start's");
    assert_ne!(out.params[..d], start[..d], "e was trained");
    assert_eq!(out.memory.vectors[d..], start[d..], "the memory holds the shared m beside e");

    let file = CramFile::from_outcome(&lm, &shared, &out).unwrap();
    assert_eq!(file.shared_m.as_deref(), Some("5eed5eed5eed5eed"));
    let back = CramFile::from_bytes(&file.to_bytes().unwrap(), "shared.cram").unwrap();
    assert_eq!(back.shared_m, file.shared_m, "the file records the start");
    let before = forward_passes();
    assert_eq!(back.decode(&lm).unwrap(), lm.tokenizer.decode(&ids).unwrap());
    assert_eq!(forward_passes() - before, 1, "it decodes alone, in one forward pass");

    // no learned start to take m from: refused, and a start is not meta-trained with m frozen
    let err = cram_texts(&lm, &CramConfig { init: VectorInit::Normal, ..shared.clone() }, &job(&ids), 1, &mut Silent).unwrap_err().to_string();
    assert!(err.contains("a shared m is taken from a learned start"), "{err}");
    let err = reptile_epoch(&lm, &shared, &meta, &mut start, &split.train, 1, &mut Silent).unwrap_err().to_string();
    assert!(err.contains("meta-trained with m trained per text"), "{err}");
}
