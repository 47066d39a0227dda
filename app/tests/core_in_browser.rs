//! The core (`cram-core`) on wasm32 inside a browser: headless Chromium driven by
//! `wasm-bindgen-test-runner` through chromedriver (`scripts/test-wasm.sh`; CI runs it). What the web
//! app relies on, checked below the page: a GGUF loads from bytes (tokenizer included), the Llama
//! and GPT-NeoX (Pythia's family) forward passes and their gradients w.r.t. the input embeddings
//! match transformers, and a text crams into
//! one vector and decodes back, through a `.cram` file, on burn's CPU backend and on WebGPU
//! (SwiftShader in CI). Everything is read back asynchronously, as WebGPU in a browser requires.
//!
//! These are tests of the core; they live in the app crate so that they are built with exactly the
//! app's dependency set: `trunk build --release` and this test then share every compiled dependency
//! (a test target of `cram-core` would rebuild burn and wgpu for wasm32 with other features).
//! Natively this file is empty.

#![cfg(target_arch = "wasm32")]

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use cram_core::cramming::{Cramming, Silent, TextJob};
use cram_core::format::CramFile;
use cram_core::load::gguf_checkpoint::GgufCheckpoint;
use cram_core::methods::CramConfig;
use cram_core::optim::adamw::AdamWConfig;
use cram_core::readback;
use cram_core::weights::Bytes;
use cram_core::weights::Weights;
use cram_core::{LoadedModel, Model};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The tiny Llama in GGUF form (permuted Q/K, quantised tensors, a BPE tokenizer in its metadata).
const TINY_GGUF: &[u8] = include_bytes!("../../core/tests/fixtures/llama_gguf/tiny-llama.gguf");
/// transformers' numbers for the same weights (`scripts/reference/make_fixtures.py`).
const REFERENCE: &[u8] = include_bytes!("../../core/tests/fixtures/llama_gguf/reference.safetensors");
/// A tiny GPT-NeoX (Pythia's family: fused QKV reordered by llama.cpp's converter, partial rotary,
/// parallel residual) in GGUF form, and transformers' numbers for it.
const NEOX_GGUF: &[u8] = include_bytes!("../../core/tests/fixtures/gpt_neox_gguf/tiny-gptneox.gguf");
const NEOX_REFERENCE: &[u8] = include_bytes!("../../core/tests/fixtures/gpt_neox_gguf/reference.safetensors");
const TEXT: &str = "Alice was beginning to get very tired of sitting";
/// As in the native reference tests.
const TOL: f32 = 1e-4;

fn load(device: &Device) -> LoadedModel {
    load_gguf("tiny-llama.gguf", TINY_GGUF, device)
}

fn load_gguf(name: &str, bytes: &[u8], device: &Device) -> LoadedModel {
    LoadedModel::from_gguf_bytes(name, Bytes::Owned(bytes.to_vec()), device, None).unwrap_or_else(|e| panic!("{name} loads from bytes: {e}"))
}

/// The network alone of a GGUF (the tiny NeoX fixture has no tokenizer in its metadata).
fn load_network(name: &str, bytes: &[u8], device: &Device) -> Model {
    let ckpt = GgufCheckpoint::from_bytes(name, Bytes::Owned(bytes.to_vec())).expect("the GGUF parses");
    Model::load(&ckpt.config().expect("its config"), &Weights::new(&ckpt, device)).expect("the network loads")
}

thread_local! {
    static WEBGPU: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
}

/// The WebGPU device. Its runtime initialises once per page, so the tests share it (as the app does).
async fn webgpu() -> Device {
    if let Some(device) = WEBGPU.with(|d| d.borrow().clone()) {
        return device;
    }
    let device = Device::wgpu_options().init_async().await.expect("a WebGPU adapter (Chromium with --enable-unsafe-webgpu)");
    WEBGPU.with(|d| *d.borrow_mut() = Some(device.clone()));
    device
}

fn reference(file: &[u8], name: &str) -> (Vec<usize>, Vec<f32>) {
    let st = safetensors::SafeTensors::deserialize(file).expect("reference parses");
    let view = st.tensor(name).expect("reference tensor");
    let data = match view.dtype() {
        safetensors::Dtype::F32 => view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
        safetensors::Dtype::I64 => view.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
        other => panic!("unexpected dtype {other:?}"),
    };
    (view.shape().to_vec(), data)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Logits from ids and from embeddings, the loss and its gradient w.r.t. the embeddings, against
/// transformers: the tiny Llama.
async fn check_reference(device: Device) {
    check_reference_of(&load(&device).model, REFERENCE, device).await;
}

/// [`check_reference`] for a model and its reference file.
async fn check_reference_of(model: &Model, file: &[u8], device: Device) {
    let reference = |name: &str| reference(file, name);
    let (shape, ids) = reference("input_ids");
    let t = shape[1];
    let id_tensor = Tensor::<2, Int>::from_data(TensorData::new(ids.iter().map(|&x| x as i32).collect::<Vec<_>>(), [1, t]), &device);
    let logits = readback::floats(model.forward(id_tensor)).await.unwrap();
    let ids_diff = max_abs_diff(&logits, &reference("logits_ids").1);

    let (shape, embeds) = reference("inputs_embeds");
    let ad = device.clone().autodiff();
    let embeds = Tensor::<3>::from_data(TensorData::new(embeds, [1, t, shape[2]]), &ad).require_grad();
    let logits = model.forward_embeds(embeds.clone());
    let embeds_diff = max_abs_diff(&readback::floats(logits.clone().without_autodiff()).await.unwrap(), &reference("logits_embeds").1);

    let labels = reference("labels").1.iter().map(|&x| x as i32).collect::<Vec<_>>();
    let labels = Tensor::<3, Int>::from_data(TensorData::new(labels, [1, t, 1]), &device);
    let loss = log_softmax(logits, 2).gather(2, labels).neg().mean();
    let loss_value = readback::floats(loss.clone().without_autodiff()).await.unwrap()[0];
    let loss_diff = (loss_value - reference("loss").1[0]).abs();
    let grads = loss.backward();
    let grad = readback::floats(embeds.grad(&grads).expect("gradient reaches the embeddings")).await.unwrap();
    let grad_diff = max_abs_diff(&grad, &reference("grad_inputs_embeds").1);

    console_log!("{device:?}: max |diff| logits(ids) {ids_diff:.1e}, logits(embeds) {embeds_diff:.1e}, loss {loss_diff:.1e}, grad {grad_diff:.1e}");
    assert!(ids_diff < TOL, "logits from ids differ by {ids_diff}");
    assert!(embeds_diff < TOL, "logits from embeddings differ by {embeds_diff}");
    assert!(loss_diff < TOL, "loss differs by {loss_diff}");
    assert!(grad_diff < TOL, "gradient differs by {grad_diff}");
}

/// Crams the first 6 tokens of [`TEXT`] into one vector (the recipe of the CLI end-to-end tests),
/// decodes them greedily, and does it again through the bytes of a `.cram` file.
async fn check_round_trip(device: Device) {
    let lm = load(&device);
    let ids = lm.tokenizer.encode(TEXT).unwrap()[..6].to_vec();
    let cfg = CramConfig { adamw: AdamWConfig { lr: 0.1, ..Default::default() }, max_steps: 2000, ..Default::default() };
    let jobs = vec![TextJob { id: "alice".into(), ids: ids.clone(), seed_index: None, start: None }];
    let mut run = Cramming::new_async(&lm, cfg.clone(), jobs, 1).await.unwrap();
    while run.step_async(&lm, &mut Silent).await.unwrap() {}
    let outcome = run.into_outcomes().remove(0);
    console_log!("{device:?}: {} steps, greedy exact {}", outcome.metrics.steps, outcome.metrics.greedy_exact);
    assert!(outcome.metrics.greedy_exact, "the tiny model crams 6 tokens: {:?}", outcome.metrics);

    let decoded = outcome.memory.decode_async(&lm, &outcome.given_ids, ids.len(), None).await.unwrap();
    assert_eq!(decoded, ids, "greedy decoding from the vector");

    let bytes = CramFile::from_outcome(&lm, &cfg, &outcome).unwrap().to_bytes().unwrap();
    let text = CramFile::from_bytes(&bytes, "alice.cram").unwrap().decode_async(&lm).await.unwrap();
    assert_eq!(text, lm.tokenizer.decode(&ids).unwrap(), "the .cram file decodes to the text");
}

#[wasm_bindgen_test]
fn the_gguf_tokenizer_round_trips_in_wasm() {
    let lm = load(&Device::flex());
    let ids = lm.tokenizer.encode(TEXT).unwrap();
    assert!(ids.len() > 6, "{ids:?}");
    assert_eq!(lm.tokenizer.decode(&ids).unwrap(), TEXT);
}

#[wasm_bindgen_test]
async fn reference_on_the_wasm_cpu_backend() {
    check_reference(Device::flex()).await;
}

#[wasm_bindgen_test]
async fn reference_on_webgpu() {
    check_reference(webgpu().await).await;
}

#[wasm_bindgen_test]
async fn neox_reference_on_the_wasm_cpu_backend() {
    let device = Device::flex();
    check_reference_of(&load_network("tiny-gptneox.gguf", NEOX_GGUF, &device), NEOX_REFERENCE, device).await;
}

#[wasm_bindgen_test]
async fn neox_reference_on_webgpu() {
    let device = webgpu().await;
    check_reference_of(&load_network("tiny-gptneox.gguf", NEOX_GGUF, &device), NEOX_REFERENCE, device).await;
}

#[wasm_bindgen_test]
async fn cram_and_decode_on_the_wasm_cpu_backend() {
    check_round_trip(Device::flex()).await;
}

#[wasm_bindgen_test]
async fn cram_and_decode_on_webgpu() {
    check_round_trip(webgpu().await).await;
}
