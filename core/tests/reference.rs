//! The model families against Hugging Face transformers: logits from ids and from input embeddings,
//! and the gradient of a cross-entropy w.r.t. the input embeddings, on tiny random checkpoints made by
//! `scripts/reference/make_fixtures.py` (see tests/fixtures/README.md). Safetensors folders and GGUF
//! files of the same weights must give the same numbers. Every case runs on the CPU, and on wgpu too
//! when the crate is built with `--features wgpu` (`cargo test -p cram-core --features wgpu --test
//! reference wgpu::`).

mod common;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use common::*;

const TOL: f64 = 1e-4;

fn to_vec(t: Tensor<3>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Logits from ids, from embeddings, the loss and its gradient on `device`, all against the
/// reference. `None` (no wgpu adapter) skips.
fn check_case(device: Option<Device>, case: &str, file: Option<&str>) {
    let Some(device) = device else { return };
    let model = load_network(case, file, &device);
    let r = reference(case);
    let ids = &r["input_ids"];
    let t = ids.shape[1];

    let id_tensor = Tensor::<2, Int>::from_data(TensorData::new(ids.data.iter().map(|&x| x as i32).collect::<Vec<_>>(), [1, t]), &device);
    let logits = to_vec(model.forward(id_tensor));
    let ids_diff = max_abs_diff(&logits, &r["logits_ids"].data);

    let e = &r["inputs_embeds"];
    let d = e.shape[2];
    let ad = device.clone().autodiff();
    let embeds = Tensor::<3>::from_data(TensorData::new(e.data.iter().map(|&x| x as f32).collect::<Vec<_>>(), [1, t, d]), &ad).require_grad();
    let logits = model.forward_embeds(embeds.clone());
    let embeds_diff = max_abs_diff(&to_vec(logits.clone().without_autodiff()), &r["logits_embeds"].data);

    let labels = Tensor::<3, Int>::from_data(TensorData::new(r["labels"].data.iter().map(|&x| x as i32).collect::<Vec<_>>(), [1, t, 1]), &device);
    let loss = log_softmax(logits, 2).gather(2, labels).neg().mean();
    let loss_value = loss.clone().without_autodiff().into_scalar::<f32>() as f64;
    let loss_diff = (loss_value - r["loss"].data[0]).abs();
    let grads = loss.backward();
    let grad = to_vec(embeds.grad(&grads).expect("gradient reaches the embeddings"));
    let grad_diff = max_abs_diff(&grad, &r["grad_inputs_embeds"].data);
    let grad_scale = r["grad_inputs_embeds"].data.iter().fold(0.0f64, |m, g| m.max(g.abs()));

    eprintln!("{case} on {device:?}: max |diff| logits(ids) {ids_diff:.1e}, logits(embeds) {embeds_diff:.1e}, loss {loss_diff:.1e}, grad {grad_diff:.1e} (largest |grad| {grad_scale:.1e})");
    assert!(ids_diff < TOL, "{case}: logits from ids differ by {ids_diff}");
    assert!(embeds_diff < TOL, "{case}: logits from embeddings differ by {embeds_diff}");
    assert!(loss_diff < TOL, "{case}: loss {loss_value} vs {}", r["loss"].data[0]);
    assert!(grad_diff < TOL, "{case}: gradient differs by {grad_diff}");
}

/// One test per fixture case, each on the device `$device` gives (an `Option<Device>`).
macro_rules! reference_cases {
    ($device:expr) => {
        use super::check_case;

        #[test]
        fn gpt_neox_parallel_residual() {
            check_case($device, "gpt_neox", None);
        }

        #[test]
        fn gpt_neox_sequential_residual() {
            check_case($device, "gpt_neox_sequential", None);
        }

        #[test]
        fn llama_gqa_tied_head() {
            check_case($device, "llama_gqa_tied", None);
        }

        #[test]
        fn llama_untied_head() {
            check_case($device, "llama_untied", None);
        }

        #[test]
        fn llama3_rope_scaling() {
            check_case($device, "llama3_scaled", None);
        }

        #[test]
        fn llama_quantised_values_from_safetensors() {
            check_case($device, "llama_gguf", None);
        }

        #[test]
        fn llama_gguf_with_permuted_qk_and_quantised_tensors() {
            check_case($device, "llama_gguf", Some("tiny-llama.gguf"));
        }

        #[test]
        fn gpt_neox_gguf_with_reordered_qkv() {
            check_case($device, "gpt_neox_gguf", Some("tiny-gptneox.gguf"));
        }
    };
}

/// burn's `flex` CPU backend.
mod cpu {
    reference_cases!(Some(crate::common::cpu()));
}

/// wgpu (Vulkan; Mesa's lavapipe on a machine without a GPU). Skips without an adapter unless
/// `CRAM_REQUIRE_WGPU=1`.
#[cfg(feature = "wgpu")]
mod wgpu {
    reference_cases!(crate::common::wgpu_or_skip());
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
