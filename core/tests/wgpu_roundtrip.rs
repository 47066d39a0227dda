//! Cramming on wgpu end to end through the library (what `cram compress --device wgpu` and `cram
//! decompress --device wgpu` do): the tiny Llama GGUF crams 6 tokens into one vector on the wgpu
//! device, greedy decoding from that vector on wgpu gives the tokens back, and so does decoding it on
//! the CPU (a `.cram` file made on one device decompresses on another). Built only with
//! `--features wgpu`; skips without an adapter unless `CRAM_REQUIRE_WGPU=1`.

#![cfg(feature = "wgpu")]

use crate::common;

use common::*;
use cram_core::cramming::{Silent, TextJob, cram_texts};
use cram_core::methods::CramConfig;
use cram_core::optim::adamw::AdamWConfig;

#[test]
fn wgpu_cram_then_decode_gives_the_tokens_back() {
    let Some(device) = wgpu_or_skip() else { return };
    let lm = load_on("llama_gguf", Some("tiny-llama.gguf"), &device);
    let ids = lm.tokenizer.encode("Alice was beginning to get very tired of sitting").unwrap()[..6].to_vec();
    // The recipe of the CLI end-to-end tests: `--tokens 6 --lr 0.1 --max-steps 2000`.
    let cfg = CramConfig { adamw: AdamWConfig { lr: 0.1, ..Default::default() }, max_steps: 2000, ..Default::default() };
    let out = cram_texts(&lm, &cfg, &[TextJob { id: "alice".into(), ids: ids.clone(), seed_index: None, start: None }], 1, &mut Silent).unwrap().remove(0);
    eprintln!("wgpu: {} steps, greedy exact {}", out.metrics.steps, out.metrics.greedy_exact);
    assert!(out.metrics.greedy_exact, "the tiny model crams 6 tokens on wgpu: {:?}", out.metrics);

    let on_wgpu = out.memory.decode(&lm, &out.given_ids, ids.len(), None).unwrap();
    assert_eq!(on_wgpu, ids, "decoding on wgpu");
    let cpu_lm = load_on("llama_gguf", Some("tiny-llama.gguf"), &cpu());
    let on_cpu = out.memory.decode(&cpu_lm, &out.given_ids, ids.len(), None).unwrap();
    assert_eq!(on_cpu, ids, "decoding the wgpu vector on the CPU");
}
