//! The methods beyond plain memory vectors, on the tiny fixtures:
//! - LoRA adapters act exactly as the merged weight `W + scale · (A B)ᵀ` would (PEFT's merge), on every
//!   target of both families, GPT-NeoX's fused query_key_value parts included;
//! - every method crams a few tokens, and the memory it gives decodes them back greedily;
//! - progressive cramming reports a horizon that greedy decoding confirms.

use crate::common;

use std::collections::HashMap;

use burn::tensor::{Int, Tensor, TensorData};
use common::*;
use cram_core::cramming::{Cramming, Silent, StopReason, TextJob, cram_texts};
use cram_core::memory::LoraWeights;
use cram_core::methods::{CramConfig, Method, MethodName};
use cram_core::models::lora::{Lora, LoraSet, LoraTarget};
use cram_core::optim::adamw::AdamWConfig;
use cram_core::weights::safetensors::SafetensorsFile;
use cram_core::weights::{HostTensor, TensorSource, Weights};
use cram_core::{Model, ModelConfig};
use rand::{Rng, SeedableRng};

/// A safetensors file with some tensors replaced.
struct Overlay<'a> {
    base: &'a SafetensorsFile,
    replaced: HashMap<String, HostTensor>,
}

impl TensorSource for Overlay<'_> {
    fn tensor(&self, name: &str) -> cram_core::Result<Option<HostTensor>> {
        match self.replaced.get(name) {
            Some(t) => Ok(Some(HostTensor { shape: t.shape.clone(), data: t.data.clone() })),
            None => self.base.tensor(name),
        }
    }
}

/// Where the delta of `module` in `layer` goes in the checkpoint: the weight name, and for GPT-NeoX's
/// q/k/v the part (0, 1, 2) of each head's rows in the fused `query_key_value`.
fn checkpoint_place(config: &ModelConfig, layer: usize, module: &str) -> (String, Option<usize>) {
    match config {
        // Llama and the families with its checkpoint names (Qwen2, Qwen3, OLMo, OLMo-2, Gemma 3)
        ModelConfig::Llama(_) | ModelConfig::Qwen2(_) | ModelConfig::Qwen3(_) | ModelConfig::Olmo(_) | ModelConfig::Olmo2(_) | ModelConfig::Gemma3(_) => {
            let group = if module.ends_with("_proj") && ["gate_proj", "up_proj", "down_proj"].contains(&module) { "mlp" } else { "self_attn" };
            (format!("model.layers.{layer}.{group}.{module}.weight"), None)
        }
        ModelConfig::Opt(_) => {
            let group = if module.starts_with("fc") { "" } else { "self_attn." };
            (format!("model.decoder.layers.{layer}.{group}{module}.weight"), None)
        }
        ModelConfig::GptNeox(_) => {
            let base = format!("gpt_neox.layers.{layer}");
            match module {
                "query" | "key" | "value" => {
                    (format!("{base}.attention.query_key_value.weight"), Some(["query", "key", "value"].iter().position(|m| *m == module).unwrap()))
                }
                "dense" => (format!("{base}.attention.dense.weight"), None),
                other => (format!("{base}.mlp.{other}.weight"), None),
            }
        }
        ModelConfig::Mamba(_) => (format!("backbone.layers.{layer}.mixer.{module}.weight"), None),
    }
}

fn lora_matches_merged_weights(case: &str) {
    let dir = fixture(case);
    let config = ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let st = SafetensorsFile::open(&dir.join("model.safetensors")).unwrap();
    let device = cpu();
    let model = Model::load(&config, &Weights::new(&st, &device)).unwrap();
    // each family takes the targets it has (Mamba's in_proj .. out_proj, the others' q .. mlp)
    let targets = LoraTarget::ALL;
    let (rank, scale) = (2, 0.5);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut set = LoraSet::default();
    let mut replaced: HashMap<String, HostTensor> = HashMap::new();
    for site in config.lora_sites(&targets) {
        let a: Vec<f32> = (0..site.fan_in * rank).map(|_| rng.random_range(-0.3..0.3)).collect();
        let b: Vec<f32> = (0..rank * site.fan_out).map(|_| rng.random_range(-0.3..0.3)).collect();
        // The merged weight, PyTorch layout [out, in]: W[o][i] += scale * Σ_r A[i][r] B[r][o].
        let (name, part) = checkpoint_place(&config, site.layer, site.module);
        let w = replaced.entry(name.clone()).or_insert_with(|| st.tensor(&name).unwrap().unwrap());
        let in_width = w.shape[1];
        for o in 0..site.fan_out {
            let row = match (part, &config) {
                // fused rows per head: [heads, 3, head_dim]
                (Some(p), ModelConfig::GptNeox(c)) => {
                    let hd = c.head_dim();
                    (o / hd) * 3 * hd + p * hd + o % hd
                }
                _ => o,
            };
            for i in 0..site.fan_in {
                let delta: f32 = (0..rank).map(|r| a[i * rank + r] * b[r * site.fan_out + o]).sum();
                w.data[row * in_width + i] += scale as f32 * delta;
            }
        }
        let tensor = |data: Vec<f32>, rows, cols| Tensor::<3>::from_data(TensorData::new(data, [1, rows, cols]), &device);
        set.adapters.push((site.clone(), Lora { a: tensor(a, site.fan_in, rank), b: Some(tensor(b, rank, site.fan_out)), scale }));
    }
    let merged = Model::load(&config, &Weights::new(&Overlay { base: &st, replaced }, &device)).unwrap();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i32, 5, 9, 2, 7, 3], [1, 6]), &device);
    let with_adapters = model.with_lora(&set).forward(ids.clone()).into_data().try_to_vec::<f32>().unwrap();
    let with_merged: Vec<f64> = merged.forward(ids.clone()).into_data().try_to_vec::<f32>().unwrap().into_iter().map(f64::from).collect();
    let plain: Vec<f64> = model.forward(ids).into_data().try_to_vec::<f32>().unwrap().into_iter().map(f64::from).collect();
    let diff = max_abs_diff(&with_adapters, &with_merged);
    assert!(diff < 1e-4, "{case}: adapters and merged weights differ by {diff}");
    assert!(max_abs_diff(&with_adapters, &plain) > 1e-2, "{case}: the adapters changed nothing");
}

#[test]
fn lora_equals_merged_weights_llama() {
    lora_matches_merged_weights("llama_gqa_tied");
}

#[test]
fn lora_equals_merged_weights_gpt_neox_fused_qkv() {
    lora_matches_merged_weights("gpt_neox");
}

#[test]
fn lora_equals_merged_weights_qwen2_with_qkv_biases() {
    lora_matches_merged_weights("qwen2");
}

#[test]
fn lora_equals_merged_weights_qwen3_with_qk_norms() {
    lora_matches_merged_weights("qwen3");
}

#[test]
fn lora_equals_merged_weights_olmo_with_clip_qkv() {
    lora_matches_merged_weights("olmo");
}

#[test]
fn lora_equals_merged_weights_olmo2() {
    lora_matches_merged_weights("olmo2");
}

#[test]
fn lora_equals_merged_weights_mamba() {
    lora_matches_merged_weights("mamba");
}

#[test]
fn lora_equals_merged_weights_gemma3() {
    lora_matches_merged_weights("gemma3");
}

#[test]
fn lora_equals_merged_weights_opt_post_layer_norm() {
    lora_matches_merged_weights("opt_350m_style");
}

const TEXT: &str = "Alice was beginning to get very tired of sitting";

fn recipe(method: Method, mem: usize) -> CramConfig {
    CramConfig { method, mem, adamw: AdamWConfig { lr: 0.1, ..Default::default() }, max_steps: 1500, ..Default::default() }
}

#[test]
fn every_method_crams_and_decodes_back() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = lm.tokenizer.encode(TEXT).unwrap()[..6].to_vec();
    let d = lm.config.hidden_size();
    let lora = Method::Lora { rank: 2, targets: vec![LoraTarget::Q, LoraTarget::V], alpha: 2.0 };
    let cases = [
        (Method::Memory, 1, d),
        (Method::Dense, 1, d + d * d + d),
        (Method::Lowdim { rank: 4 }, 1, 4 + 4 * d + d),
        (lora, 0, lm.config.lora_sites(&[LoraTarget::Q, LoraTarget::V]).iter().map(|s| 2 * (s.fan_in + s.fan_out)).sum()),
        (Method::Progressive { steps_per_token: 400 }, 1, d),
    ];
    for (method, mem, params) in cases {
        let name = method.name();
        let cfg = recipe(method.clone(), mem);
        let out = cram_texts(&lm, &cfg, &[TextJob { id: name.into(), ids: ids.clone(), seed_index: None, start: None }], 1, &mut Silent).unwrap().remove(0);
        assert_eq!(out.stop, StopReason::Success, "{name}: {:?}", out.metrics);
        assert!(out.metrics.greedy_exact, "{name}: {:?}", out.metrics);
        assert_eq!(out.metrics.method, name);
        assert_eq!(out.metrics.trainable_parameters, params, "{name}");
        let back = out.memory.decode(&lm, &[], ids.len(), None).unwrap();
        assert_eq!(back, ids, "{name}: decoding the memory does not give the tokens back");
        if let Method::Progressive { .. } = method {
            assert_eq!(out.metrics.horizon, Some(ids.len()));
        }
        assert_eq!(out.memory.lora.is_some(), name == "lora");
    }
}

/// What the app's live views decode from between steps: the memory of a text still running, moved by
/// every step, with the tokens the decoder is given; none before the first step or once it is done.
#[test]
fn a_running_text_shows_its_current_memory() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = lm.tokenizer.encode(TEXT).unwrap()[..6].to_vec();
    let cfg = recipe(Method::Memory, 1);
    let mut run = Cramming::new(&lm, cfg.clone(), vec![TextJob { id: "live".into(), ids: ids.clone(), seed_index: None, start: None }], 1).unwrap();
    assert!(run.current_memory(0).is_none(), "no memory before the first step");
    let mut seen: Vec<Vec<f32>> = Vec::new();
    while run.step(&lm, &mut Silent).unwrap() {
        if let Some((memory, given)) = run.current_memory(0) {
            assert_eq!(given, &ids[..cfg.protocol.first_scored()]);
            assert_eq!(memory.vectors.len(), lm.config.hidden_size());
            seen.push(memory.vectors);
        }
    }
    assert!(run.current_memory(0).is_none(), "a finished text has no live memory");
    let out = run.into_outcomes().remove(0);
    assert!(out.metrics.greedy_exact, "{:?}", out.metrics);
    // Every step but the one that finishes the text leaves a live memory, each different.
    assert_eq!(seen.len() + 1, out.metrics.steps);
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "a step did not move the vector");
}

#[test]
fn progressive_stops_at_the_first_stage_that_fails_and_its_horizon_decodes() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = lm.tokenizer.encode(TEXT).unwrap()[..12].to_vec();
    // A budget too small for the whole text: the horizon is what greedy decoding reproduces.
    let cfg = recipe(Method::Progressive { steps_per_token: 25 }, 1);
    let out = cram_texts(&lm, &cfg, &[TextJob { id: "p".into(), ids: ids.clone(), seed_index: None, start: None }], 1, &mut Silent).unwrap().remove(0);
    let horizon = out.metrics.horizon.expect("progressive reports a horizon");
    assert_eq!(out.stop, StopReason::StageBudget, "{:?}", out.metrics);
    assert!(horizon >= 1 && horizon < ids.len(), "horizon {horizon}");
    assert!(!out.metrics.greedy_exact);
    assert_eq!(out.ids, ids[..horizon]);
    let back = out.memory.decode(&lm, &[], horizon, None).unwrap();
    assert_eq!(back, ids[..horizon]);
}

#[test]
fn lora_weights_round_trip_through_a_cram_file() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = lm.tokenizer.encode(TEXT).unwrap()[..5].to_vec();
    let cfg = recipe(Method::Lora { rank: 1, targets: vec![LoraTarget::Q, LoraTarget::Mlp], alpha: 1.0 }, 0);
    let out = cram_texts(&lm, &cfg, &[TextJob { id: "l".into(), ids: ids.clone(), seed_index: None, start: None }], 1, &mut Silent).unwrap().remove(0);
    let file = cram_core::format::CramFile::from_outcome(&lm, &cfg, &out).unwrap();
    let bytes = file.to_bytes().unwrap();
    let back = cram_core::format::CramFile::from_bytes(&bytes, "mem").unwrap();
    assert_eq!(back.method, MethodName::Lora);
    // a method this cram does not know is one clear error (the name replaced in place, same length)
    let at = bytes.windows(15).position(|w| w == br#""method":"lora""#).expect("the method in the metadata");
    let mut unknown = bytes.clone();
    unknown[at + 10..at + 14].copy_from_slice(b"lorb");
    let err = cram_core::format::CramFile::from_bytes(&unknown, "mem").unwrap_err().to_string();
    assert!(err.contains("metadata `method` is `lorb`, not memory, dense, lowdim, lora, progressive or one-pass"), "{err}");
    let (a, b): (&LoraWeights, &LoraWeights) = (file.memory.lora.as_ref().unwrap(), back.memory.lora.as_ref().unwrap());
    assert_eq!((a.rank, &a.targets, a.alpha), (b.rank, &b.targets, b.alpha));
    let mut sorted = a.tensors.clone();
    sorted.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(sorted, b.tensors);
    assert_eq!(back.memory.k, 0);
    assert_eq!(back.memory.decode(&lm, &[], ids.len(), None).unwrap(), ids);
}

#[test]
fn impossible_methods_are_clear_errors() {
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let d = lm.config.hidden_size();
    let job = [TextJob { id: "x".into(), ids: vec![5, 6, 7], seed_index: None, start: None }];
    let err = |cfg: CramConfig| cram_texts(&lm, &cfg, &job, 1, &mut Silent).unwrap_err().to_string();
    let lora = |rank| Method::Lora { rank, targets: vec![LoraTarget::Q], alpha: 1.0 };
    assert!(err(recipe(lora(1), 1)).contains("drop mem"), "core names the setting plainly; the CLI words it --mem");
    assert!(err(recipe(lora(d + 1), 0)).contains("larger than"));
    assert!(err(recipe(Method::Lowdim { rank: d + 1 }, 1)).contains("larger than the model width"));
    assert!(err(recipe(Method::Lowdim { rank: 0 }, 1)).contains("rank must be at least 1"));
    let mut paper = recipe(Method::Progressive { steps_per_token: 10 }, 1);
    paper.protocol = cram_core::methods::Protocol::Paper;
    assert!(err(paper).contains("greedy by construction"));
}

/// Each step reports, per text token, the probability the model gives it (teacher-forced): the
/// loss is the mean of `-ln p` over the scored tokens, and under the paper's protocol the unscored
/// first token reports 1.
#[test]
fn each_step_reports_the_probability_of_every_token() {
    struct Probe(Vec<(f64, Vec<bool>, Vec<f64>)>);
    impl cram_core::cramming::Observer for Probe {
        fn on_step(&mut self, r: &cram_core::cramming::StepReport) {
            self.0.push((r.loss, r.correct.to_vec(), r.probabilities.to_vec()));
        }
    }
    let lm = load("llama_gguf", Some("tiny-llama.gguf"));
    let ids = lm.tokenizer.encode("Alice was beginning to get very tired of sitting").unwrap()[..6].to_vec();
    for protocol in [cram_core::methods::Protocol::Greedy, cram_core::methods::Protocol::Paper] {
        let first = protocol.first_scored();
        let cfg = CramConfig { method: Method::Dense, protocol, adamw: AdamWConfig { lr: 0.1, ..Default::default() }, max_steps: 30, ..Default::default() };
        let mut probe = Probe(vec![]);
        cram_texts(&lm, &cfg, &[TextJob { id: "t".into(), ids: ids.clone(), seed_index: None, start: None }], 1, &mut probe).unwrap();
        assert!(!probe.0.is_empty());
        for (loss, correct, p) in &probe.0 {
            assert_eq!((p.len(), correct.len()), (ids.len(), ids.len()));
            assert!(p[..first].iter().all(|&v| v == 1.0), "{p:?}");
            assert!(p.iter().all(|&v| v > 0.0 && v <= 1.0), "{p:?}");
            let mean = p[first..].iter().map(|v| -v.ln()).sum::<f64>() / (ids.len() - first) as f64;
            assert!((mean - loss).abs() < 1e-6 * loss.max(1.0), "mean -ln p {mean} against the loss {loss}");
        }
        // the last steps have most tokens right, each at a probability above 1/vocab
        let (_, correct, p) = probe.0.last().unwrap();
        assert!(correct.iter().zip(p).filter(|(c, _)| **c).all(|(_, &v)| v > 1.0 / lm.config.vocab_size() as f64));
    }
}
