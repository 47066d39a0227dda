//! The model families against Hugging Face transformers: logits from ids and from input embeddings,
//! and the gradient of a cross-entropy w.r.t. the input embeddings, on tiny random checkpoints made by
//! `scripts/reference/make_fixtures.py` (see tests/fixtures/README.md). Safetensors folders and GGUF
//! files of the same weights must give the same numbers.

mod common;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use common::*;

const TOL: f64 = 1e-4;

fn to_vec(t: Tensor<3>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Logits from ids, from embeddings, the loss and its gradient, all against the reference.
fn check_case(case: &str, file: Option<&str>) {
    let model = load_network(case, file);
    let r = reference(case);
    let ids = &r["input_ids"];
    let t = ids.shape[1];
    let device = cpu();

    let id_tensor = Tensor::<2, Int>::from_data(TensorData::new(ids.data.iter().map(|&x| x as i32).collect::<Vec<_>>(), [1, t]), &device);
    let logits = to_vec(model.forward(id_tensor));
    let diff = max_abs_diff(&logits, &r["logits_ids"].data);
    assert!(diff < TOL, "{case}: logits from ids differ by {diff}");

    let e = &r["inputs_embeds"];
    let d = e.shape[2];
    let ad = device.clone().autodiff();
    let embeds = Tensor::<3>::from_data(TensorData::new(e.data.iter().map(|&x| x as f32).collect::<Vec<_>>(), [1, t, d]), &ad).require_grad();
    let logits = model.forward_embeds(embeds.clone());
    let diff = max_abs_diff(&to_vec(logits.clone().without_autodiff()), &r["logits_embeds"].data);
    assert!(diff < TOL, "{case}: logits from embeddings differ by {diff}");

    let labels = Tensor::<3, Int>::from_data(TensorData::new(r["labels"].data.iter().map(|&x| x as i32).collect::<Vec<_>>(), [1, t, 1]), &device);
    let loss = log_softmax(logits, 2).gather(2, labels).neg().mean();
    let loss_value = loss.clone().without_autodiff().into_scalar::<f32>() as f64;
    assert!((loss_value - r["loss"].data[0]).abs() < TOL, "{case}: loss {loss_value} vs {}", r["loss"].data[0]);
    let grads = loss.backward();
    let grad = to_vec(embeds.grad(&grads).expect("gradient reaches the embeddings"));
    let diff = max_abs_diff(&grad, &r["grad_inputs_embeds"].data);
    assert!(diff < TOL, "{case}: gradient differs by {diff}");
}

#[test]
fn gpt_neox_parallel_residual() {
    check_case("gpt_neox", None);
}

#[test]
fn gpt_neox_sequential_residual() {
    check_case("gpt_neox_sequential", None);
}

#[test]
fn llama_gqa_tied_head() {
    check_case("llama_gqa_tied", None);
}

#[test]
fn llama_untied_head() {
    check_case("llama_untied", None);
}

#[test]
fn llama3_rope_scaling() {
    check_case("llama3_scaled", None);
}

#[test]
fn llama_quantised_values_from_safetensors() {
    check_case("llama_gguf", None);
}

#[test]
fn llama_gguf_with_permuted_qk_and_quantised_tensors() {
    check_case("llama_gguf", Some("tiny-llama.gguf"));
}

#[test]
fn gpt_neox_gguf_with_reordered_qkv() {
    check_case("gpt_neox_gguf", Some("tiny-gptneox.gguf"));
}

#[test]
fn gguf_and_safetensors_of_the_same_weights_share_a_fingerprint() {
    let a = load("llama_gguf", None);
    let b = load("llama_gguf", Some("tiny-llama.gguf"));
    assert_eq!(a.identity.weights_fingerprint, b.identity.weights_fingerprint);
    assert_eq!(a.identity.config_hash, b.identity.config_hash, "{:?} vs {:?}", a.config, b.config);
}

#[test]
fn gguf_tokenizer_equals_tokenizer_json() {
    let gguf = load("llama_gguf", Some("tiny-llama.gguf"));
    let json = load("llama_gguf", None);
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("llama_gguf/reference.json")).unwrap()).unwrap();
    let text = reference["text"].as_str().unwrap();
    let expected: Vec<u32> = reference["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    assert_eq!(gguf.tokenizer.encode(text).unwrap(), expected);
    assert_eq!(json.tokenizer.encode(text).unwrap(), expected);
    assert_eq!(gguf.tokenizer.decode(&expected).unwrap(), text);
}
