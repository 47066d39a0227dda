//! Encoders (AE/VAE, the AIRI 2025 follow-up) on the tiny fixtures:
//! - an encoder learns a small set of texts: after training, the vectors it writes make the frozen
//!   decoder reproduce them (teacher-forced), with both adaptations and both kinds;
//! - the VAE's KL term equals a hand computation;
//! - the encoder file round-trips, resumes with its optimiser, and is refused by another model;
//! - an encoder's vectors start per-text cramming (memory and dense), and a start that already
//!   reproduces the text needs one step.

use crate::common;

use common::*;
use cram_core::cramming::{Silent, StopReason, TextJob, cram_texts};
use cram_core::encoder::file::{EncoderFile, TrainingRecord};
use cram_core::encoder::training::{Chunk, EncoderTraining, TrainSettings, evaluate, split_chunks};
use cram_core::encoder::{Adaptation, Encoder, EncoderConfig, EncoderKind, Mode, Pooling};
use cram_core::methods::{CramConfig, Method, VectorInit};
use cram_core::optim::adamw::{AdamW, AdamWConfig};
use rand::rngs::StdRng;

const TEXTS: [&str; 4] = [
    "Alice was beginning to get very tired of sitting",
    "It was the best of times, it was the worst of times",
    "Call me Ishmael. Some years ago, never mind how long",
    "In a hole in the ground there lived a hobbit. Not a nasty",
];

fn chunks(lm: &cram_core::LoadedModel, n: usize) -> Vec<Chunk> {
    TEXTS.iter().enumerate().map(|(i, t)| Chunk { id: format!("t{i}"), ids: lm.tokenizer.encode(t).unwrap()[..n].to_vec() }).collect()
}

fn floats<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    cram_core::readback::sync(cram_core::readback::floats(t)).unwrap()
}

fn settings(lr: f64, batch: usize, epochs: usize) -> TrainSettings {
    TrainSettings { adamw: AdamWConfig { lr, ..Default::default() }, batch, epochs, seed: 3 }
}

fn mean_accuracy(lm: &cram_core::LoadedModel, encoder: &Encoder, texts: &[Chunk]) -> f64 {
    let results = evaluate(encoder, lm, texts, 2, false, &mut |_, _| {}).unwrap();
    results.iter().map(|(_, m)| m.teacher_forced_accuracy).sum::<f64>() / results.len() as f64
}

#[test]
fn an_encoder_learns_a_small_set_of_texts() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let texts = chunks(&lm, 6);
    let cases = [
        (EncoderConfig { adaptation: Adaptation::Lora { rank: 4 }, pooling: Pooling::Last, ..Default::default() }, 0.8),
        (EncoderConfig { kind: EncoderKind::Vae, layers: 4, pooling: Pooling::Attention, adaptation: Adaptation::Full, beta: 1e-4, ..Default::default() }, 0.8),
        // BatchNorm's running statistics and Dropout make test time differ from training (as in
        // PyTorch): less is asked of the regularised head on so few texts
        (EncoderConfig { layers: 4, regularised: true, pooling: Pooling::Mean, adaptation: Adaptation::Lora { rank: 4 }, ..Default::default() }, 0.5),
    ];
    for (config, least) in cases {
        let encoder = Encoder::new(config.clone(), &lm.config, 0.02, 1).unwrap();
        let before = mean_accuracy(&lm, &encoder, &texts);
        let opt = AdamW::new(encoder.len());
        let mut run = EncoderTraining::new(&lm, encoder, opt, 0, settings(1e-2, 4, 600), texts.clone()).unwrap();
        let mut last = None;
        while !run.finished() {
            last = Some(run.step(&lm).unwrap());
        }
        let last = last.unwrap();
        assert_eq!(last.kl.is_some(), config.kind == EncoderKind::Vae);
        let after = mean_accuracy(&lm, &run.encoder, &texts);
        assert!(after >= least && after > before + 0.4, "{config:?}: teacher-forced accuracy {before:.3} -> {after:.3}, last step {last:?}");
        let results = evaluate(&run.encoder, &lm, &texts, 3, true, &mut |_, _| {}).unwrap();
        assert_eq!(results[0].1.method, format!("encoder-{}", config.kind.name()));
        assert_eq!(results[0].1.steps, 0);
        assert!(results.iter().all(|(_, m)| m.greedy_accuracy.is_some()));
    }
}

/// An encoder over a copy of a Mamba: its LoRA adapts the Mamba's own projections (in_proj, x_proj,
/// dt_proj, out_proj), and it learns the texts as over a transformer.
#[test]
fn an_encoder_over_a_mamba_learns_its_texts() {
    let lm = load("mamba", None);
    // 2 tokens: one vector of this tiny random Mamba holds about that many (docs/correctness.md)
    let texts = chunks(&lm, 2);
    let encoder =
        Encoder::new(EncoderConfig { adaptation: Adaptation::Lora { rank: 4 }, pooling: Pooling::Last, ..Default::default() }, &lm.config, 0.02, 1).unwrap();
    let modules: std::collections::BTreeSet<&str> = lm.config.lora_sites(&cram_core::models::lora::LoraTarget::ALL).iter().map(|s| s.module).collect();
    assert_eq!(modules, ["dt_proj", "in_proj", "out_proj", "x_proj"].into_iter().collect());
    let before = mean_accuracy(&lm, &encoder, &texts);
    let mut run = EncoderTraining::new(&lm, encoder.clone(), AdamW::new(encoder.len()), 0, settings(1e-2, 4, 400), texts.clone()).unwrap();
    while !run.finished() {
        run.step(&lm).unwrap();
    }
    let after = mean_accuracy(&lm, &run.encoder, &texts);
    // 0.000 -> 0.750 when written
    assert!(after >= 0.6 && after > before + 0.4, "teacher-forced accuracy {before:.3} -> {after:.3}");
}

#[test]
fn the_vae_kl_term_is_the_hand_computation() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let config = EncoderConfig { kind: EncoderKind::Vae, mem: 2, ..Default::default() };
    let mut encoder = Encoder::new(config, &lm.config, 0.02, 1).unwrap();
    // head: zero weights, mu bias 0.5, log-variance bias -1 (and values that vary per position)
    let d = lm.config.hidden_size();
    let mut offset = 0;
    let pieces: Vec<(String, usize)> = encoder.pieces().iter().map(|p| (p.name.clone(), p.shape[0] * p.shape[1])).collect();
    for (name, len) in pieces {
        let values = &mut encoder.params[offset..offset + len];
        match name.as_str() {
            "head.0.weight" | "head.0.logvar.weight" => values.fill(0.0),
            "head.0.bias" => values.iter_mut().enumerate().for_each(|(i, v)| *v = 0.5 + (i % 3) as f32 * 0.1),
            "head.0.logvar.bias" => values.iter_mut().enumerate().for_each(|(i, v)| *v = -1.0 + (i % 5) as f32 * 0.2),
            _ => {}
        }
        offset += len;
    }
    let ids = chunks(&lm, 5);
    let batch: Vec<&[u32]> = ids.iter().map(|c| c.ids.as_slice()).collect();
    let leaves = encoder.leaves(&lm.device, false);
    let encoded = encoder.forward::<StdRng>(&lm, &leaves, &batch, &mut Mode::Eval).unwrap();
    let kl = floats(encoded.kl.unwrap())[0] as f64;
    let expect: f64 = (0..2 * d)
        .map(|i| {
            let mu = 0.5 + (i % 3) as f64 * 0.1;
            let lv = -1.0 + (i % 5) as f64 * 0.2;
            -0.5 * (1.0 + lv - mu * mu - lv.exp())
        })
        .sum();
    assert!((kl - expect).abs() < 1e-3 * expect, "KL {kl} against the hand computation {expect}");
    // at test time the VAE writes mu
    let v = floats(encoded.vectors);
    assert!((v[0] - 0.5).abs() < 1e-6 && (v[1] - 0.6).abs() < 1e-6, "{:?}", &v[..3]);
}

#[test]
fn the_encoder_file_round_trips_and_is_refused_by_another_model() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let config = EncoderConfig { layers: 4, regularised: true, ..Default::default() };
    let encoder = Encoder::new(config, &lm.config, 0.02, 1).unwrap();
    let texts = chunks(&lm, 6);
    let mut run = EncoderTraining::new(&lm, encoder, AdamW::new(0), 0, settings(1e-3, 2, 1), texts.clone()).unwrap();
    run.opt = AdamW::new(run.encoder.len());
    run.step(&lm).unwrap();
    let split = split_chunks(&[("x".into(), texts.iter().flat_map(|c| c.ids.clone()).collect())], 6, 4, 0.25, 0).unwrap();
    let file = EncoderFile {
        encoder: run.encoder.clone(),
        model: lm.identity.clone(),
        training: TrainingRecord {
            settings: run.settings.clone(),
            split: split.spec,
            data: "texts".into(),
            text_field: "text".into(),
            step: 1,
            total_steps: 2,
            test_accuracy: None,
        },
        optimiser: Some(run.opt.clone()),
        created_by: "test".into(),
    };
    let bytes = file.to_bytes().unwrap();
    let back = EncoderFile::from_bytes(bytes.clone(), "enc.safetensors", &lm).unwrap();
    assert_eq!(back.encoder.params, run.encoder.params);
    assert_eq!(back.encoder.running, run.encoder.running);
    assert_ne!(back.encoder.running[0].0, vec![0.0; lm.config.hidden_size()], "the step moved the running mean");
    assert_eq!(back.optimiser.unwrap().state(), run.opt.state());
    assert_eq!(back.training, file.training);
    let mut other = lm.clone();
    other.identity.weights_fingerprint = "another".into();
    let err = EncoderFile::from_bytes(bytes.clone(), "enc.safetensors", &other).err().unwrap().to_string();
    assert!(err.contains("was made with another"), "{err}");
    let err = EncoderFile::from_bytes(bytes[..bytes.len() / 2].to_vec(), "enc.safetensors", &lm).err().unwrap().to_string();
    assert!(err.contains("enc.safetensors"), "{err}");
}

#[test]
fn encoder_vectors_start_cramming() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = chunks(&lm, 6).remove(0).ids;
    let base = CramConfig { max_steps: 800, adamw: AdamWConfig { lr: 0.1, ..Default::default() }, ..Default::default() };
    let cold = cram_texts(&lm, &base, &[TextJob { id: "cold".into(), ids: ids.clone(), seed_index: None, start: None }], 1, &mut Silent).unwrap().remove(0);
    assert_eq!(cold.stop, StopReason::Success);
    assert!(cold.metrics.steps > 1);
    // vectors that already reproduce the text: one step, with memory and with dense (at the identity)
    for method in [Method::Memory, Method::Dense] {
        let cfg = CramConfig { method: method.clone(), init: VectorInit::Encoder { encoder: "test".into() }, ..base.clone() };
        let job = TextJob { id: "warm".into(), ids: ids.clone(), seed_index: None, start: Some(cold.memory.vectors.clone()) };
        let warm = cram_texts(&lm, &cfg, &[job], 1, &mut Silent).unwrap().remove(0);
        assert_eq!((warm.stop, warm.metrics.steps), (StopReason::Success, 1), "{method:?}");
        assert_eq!(warm.memory.vectors, cold.memory.vectors, "{method:?}");
    }
    // a start of the wrong size, or none under an encoder recipe, is refused
    let cfg = CramConfig { init: VectorInit::Encoder { encoder: "test".into() }, ..base.clone() };
    let short = TextJob { id: "s".into(), ids: ids.clone(), seed_index: None, start: Some(vec![0.0; 3]) };
    assert!(cram_texts(&lm, &cfg, &[short], 1, &mut Silent).is_err());
    let none = TextJob { id: "n".into(), ids, seed_index: None, start: None };
    assert!(cram_texts(&lm, &cfg, &[none], 1, &mut Silent).is_err());
}
