//! A learned start ([`cram_core::start`]) on the tiny Llama: meta-trained with Reptile on texts that
//! share what a start can learn (one opening, then a word of the paper's vocabulary), held-out texts
//! need fewer steps from it than from the random start; its file round-trips and refuses another
//! model and another recipe; the loop checks a start's length.

use crate::common::*;
use cram_core::cramming::{Cramming, Silent, TextJob, cram_texts};
use cram_core::encoder::training::split_chunks;
use cram_core::methods::{CramConfig, Method, VectorInit};
use cram_core::optim::adamw::AdamWConfig;
use cram_core::start::{MetaSettings, StartFile, StartTraining, measure, random_start, reptile_epoch};

/// The default recipe (`fast`: dense at lr 0.1).
fn recipe() -> CramConfig {
    CramConfig { method: Method::Dense, adamw: AdamWConfig { lr: 0.1, ..Default::default() }, ..CramConfig::default() }
}

fn books(lm: &cram_core::LoadedModel) -> Vec<(String, Vec<u32>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/eval/books.jsonl");
    let texts = cram_core::data::load_texts_field(&path, "text").unwrap();
    texts.iter().take(3).map(|t| (t.id.clone(), lm.tokenizer.encode(&t.text).unwrap())).collect()
}

fn settings() -> MetaSettings {
    MetaSettings { inner_steps: 10, meta_lr: 0.1, batch: 8, epochs: 3, seed: 0, eval_steps: 300 }
}

/// 64 texts "Alice was beginning to get <word>", the words spread over the paper's vocabulary.
fn openings(lm: &cram_core::LoadedModel) -> Vec<(String, Vec<u32>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/vocab_100k.txt");
    let vocab = std::fs::read_to_string(path).unwrap();
    let words: Vec<&str> = vocab.lines().map(str::trim).filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphabetic())).take(3000).collect();
    (0..64).map(|i| (format!("opening{i}"), lm.tokenizer.encode(&format!("Alice was beginning to get {}", words[i * 41 % words.len()])).unwrap())).collect()
}

#[test]
fn held_out_texts_need_fewer_steps_from_a_learned_start() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let split = split_chunks(&openings(&lm), 6, 64, 0.25, 0).unwrap();
    let (cfg, meta) = (recipe(), settings());
    let random = measure(&lm, &cfg, None, &split.test, meta.eval_steps, meta.batch, &mut Silent).unwrap();
    let mut start = random_start(&lm, &cfg, &split.train).unwrap();
    let first = start.clone();
    for epoch in 1..=meta.epochs {
        reptile_epoch(&lm, &cfg, &meta, &mut start, &split.train, epoch, &mut Silent).unwrap().expect("not stopped");
        let learned = measure(&lm, &cfg, Some(&start), &split.test, meta.eval_steps, meta.batch, &mut Silent).unwrap();
        eprintln!(
            "epoch {epoch}: {:.1} steps ({:.0}% exact) from the learned start, {:.1} ({:.0}%) from random",
            learned.mean_steps,
            100.0 * learned.exact,
            random.mean_steps,
            100.0 * random.exact
        );
        assert!(
            learned.mean_steps < 0.8 * random.mean_steps && learned.exact >= random.exact,
            "held out after epoch {epoch}: {:.1} steps ({:.0}% exact) from the learned start, {:.1} ({:.0}%) from random",
            learned.mean_steps,
            100.0 * learned.exact,
            random.mean_steps,
            100.0 * random.exact
        );
    }
    assert_ne!(start, first, "the start moved");
}

#[test]
fn a_start_file_round_trips_and_refuses_what_it_was_not_made_for() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let split = split_chunks(&books(&lm), 6, 12, 0.25, 0).unwrap();
    let cfg = recipe();
    let params = random_start(&lm, &cfg, &split.train).unwrap();
    let training = StartTraining {
        recipe: cfg.clone(),
        settings: settings(),
        split: split.spec.clone(),
        data: "books.jsonl".into(),
        text_field: "text".into(),
        epochs_done: 0,
        history: vec![],
    };
    let file = StartFile { params: params.clone(), model: lm.identity.clone(), training, created_by: "test".into() };
    let bytes = file.to_bytes(&lm).unwrap();
    assert!(StartFile::is_start(&bytes) && !StartFile::is_start(b"not safetensors"));
    let back = StartFile::from_bytes(bytes.clone(), "s.safetensors", &lm).unwrap();
    assert_eq!((back.params, back.training), (params.clone(), file.training.clone()));
    let other = load("pythia_tokenizer", None);
    let err = StartFile::from_bytes(bytes, "s.safetensors", &other).unwrap_err().to_string();
    assert!(err.contains("start") && err.contains("another model"), "{err}");
    let err = file.check_recipe(&CramConfig { method: Method::Memory, mem: 2, ..cfg.clone() }, "s.safetensors").unwrap_err().to_string();
    assert_eq!(err, "s.safetensors starts a recipe with method dense (not memory), 1 vector(s) (not 2)");
    file.check_recipe(&CramConfig { adamw: AdamWConfig { lr: 0.01, ..cfg.adamw }, max_steps: 7, ..cfg.clone() }, "s").unwrap();

    // the loop starts every value from it, and checks its length
    let learned = CramConfig { init: VectorInit::Learned { start: "f".into() }, max_steps: 1, ..cfg.clone() };
    let job = |start: Vec<f32>| vec![TextJob { id: "t".into(), ids: split.test[0].ids.clone(), seed_index: None, start: Some(start) }];
    let mut run = Cramming::new(&lm, learned.clone(), job(params.clone()), 1).unwrap();
    assert_eq!(run.initial_params(&lm).unwrap(), std::slice::from_ref(&params));
    let err = Cramming::new(&lm, learned.clone(), job(params[1..].to_vec()), 1).err().unwrap().to_string();
    assert!(err.contains(&format!("the start holds {} values; the {} values dense trains", params.len() - 1, params.len())), "{err}");
    let err = Cramming::new(&lm, cfg.clone(), job(params.clone()), 1).err().unwrap().to_string();
    assert!(err.contains("the text has start values, but the recipe's init is `normal`"), "{err}");
    let out = cram_texts(&lm, &learned, &job(params.clone()), 1, &mut Silent).unwrap();
    assert_eq!(out[0].params.len(), params.len());
}
