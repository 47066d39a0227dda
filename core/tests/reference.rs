//! The model families against Hugging Face transformers: logits from ids and from input embeddings,
//! and the gradient of a cross-entropy w.r.t. the input embeddings, on tiny random checkpoints made by
//! `scripts/reference/make_fixtures.py` (see tests/fixtures/README.md). Safetensors folders and GGUF
//! files of the same weights must give the same numbers. Every case runs on the CPU, and on wgpu too
//! when the crate is built with `--features wgpu` (`cargo test -p cram-core --features wgpu --test
//! all reference::wgpu::`).

use crate::common;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use common::*;
use cram_core::device::Precision;

/// The f32 tolerance: absolute, against transformers in f32.
const TOL: f64 = 1e-4;

/// What bf16/f16 may cost, per tensor: transformers' own error in that dtype against its f32 result
/// (`fixtures/reduced_precision.json`, made by `scripts/reference/reduced_precision.py`: max |x -
/// x_f32| / max |x_f32|), at most twice over, plus half a unit in the last place of the dtype (2^-9
/// for bf16, 2^-12 for f16). cram rounds at other points than PyTorch, so its error is of the same
/// size but not the same; the numbers each case prints show how close it is.
fn reduced_tolerance(case: &str, precision: Precision, tensor: &str) -> f64 {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("reduced_precision.json")).unwrap()).unwrap();
    let (name, half_ulp) = match precision {
        Precision::Bf16 => ("bf16", 2f64.powi(-9)),
        Precision::F16 => ("f16", 2f64.powi(-12)),
        Precision::F32 => unreachable!("f32 is checked against TOL"),
    };
    let theirs = json["cases"][case][name][tensor].as_f64().unwrap_or_else(|| panic!("no {name} {tensor} for {case} in reduced_precision.json"));
    // Known gaps, the two cases past twice: OPT's input gradient in bf16 is that sensitive to rounding
    // order. Transformers itself, with each bias added after the product is rounded to bf16 instead
    // of in one fused step, is 0.089 off f32 for pre-LN instead of 0.046 (post-LN 0.014 instead of
    // 0.042). cram on the CPU: with burn's bf16 (no AVX-512 BF16, or CRAM_CPU_KERNELS=off) pre-LN is
    // 0.117 off; with the bf16 kernels (torch.autocast's split: bf16 products, the rest in f32) pre-LN
    // is 0.040 and post-LN 0.089, their logits and loss closer to f32 than transformers' bf16.
    let sensitive = [("opt", Precision::Bf16, "grad_inputs_embeds"), ("opt_350m_style", Precision::Bf16, "grad_inputs_embeds")];
    let factor = if sensitive.contains(&(case, precision, tensor)) { 3.0 } else { 2.0 };
    factor * theirs + half_ulp
}

fn to_vec(t: Tensor<3>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// `max |a - b|`, in f32 absolute, else relative to `max |b|`.
fn diff(a: &[f32], b: &[f64], precision: Precision) -> f64 {
    let scale = if precision == Precision::F32 { 1.0 } else { b.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-12) };
    max_abs_diff(a, b) / scale
}

/// Logits from ids, from embeddings, the loss and its gradient on `device`, all against the
/// reference, with the weights in `precision` and, with `checkpoint`, the gradient through per-layer
/// activation checkpointing. `None` (no wgpu adapter) skips, and so does a device that cannot
/// compute in `precision`.
fn check_case_as(device: Option<Device>, case: &str, file: Option<&str>, precision: Precision, checkpoint: bool) {
    let Some(device) = device else { return };
    if let Err(e) = precision.check(&device) {
        eprintln!("skipping {case} in {precision}: {e}");
        return;
    }
    let model = load_network_as(case, file, &device, precision);
    let r = reference(case);
    let ids = &r["input_ids"];
    let t = ids.shape[1];

    let id_tensor = Tensor::<2, Int>::from_data(TensorData::new(ids.data.iter().map(|&x| x as i32).collect::<Vec<_>>(), [1, t]), &device);
    let logits = to_vec(model.forward(id_tensor));
    let ids_diff = diff(&logits, &r["logits_ids"].data, precision);

    let e = &r["inputs_embeds"];
    let d = e.shape[2];
    let ad = device.clone().autodiff();
    let embeds = Tensor::<3>::from_data(TensorData::new(e.data.iter().map(|&x| x as f32).collect::<Vec<_>>(), [1, t, d]), &ad).require_grad();
    let labels = Tensor::<3, Int>::from_data(TensorData::new(r["labels"].data.iter().map(|&x| x as i32).collect::<Vec<_>>(), [1, t, 1]), &device);
    let (grads, (logits, loss_value)) = cram_core::checkpoint::backward(&model, embeds.clone(), checkpoint, |hidden| {
        let logits = model.lm_head(hidden);
        let loss = log_softmax(logits.clone(), 2).gather(2, labels).neg().mean();
        let loss_value = loss.clone().without_autodiff().into_scalar::<f32>() as f64;
        (loss, (logits.without_autodiff(), loss_value))
    });
    let embeds_diff = diff(&to_vec(logits), &r["logits_embeds"].data, precision);
    let loss_diff = diff(&[loss_value as f32], &r["loss"].data, precision);
    let grad = to_vec(grads.iter().find_map(|g| embeds.grad(g)).expect("gradient reaches the embeddings"));
    let grad_diff = diff(&grad, &r["grad_inputs_embeds"].data, precision);
    let grad_scale = r["grad_inputs_embeds"].data.iter().fold(0.0f64, |m, g| m.max(g.abs()));

    let how = if precision == Precision::F32 { "max |diff|" } else { "max |diff| / max |reference|" };
    eprintln!(
        "{case} on {device:?} in {precision}{}: {how} logits(ids) {ids_diff:.1e}, logits(embeds) {embeds_diff:.1e}, loss {loss_diff:.1e}, grad {grad_diff:.1e} (largest |grad| {grad_scale:.1e})",
        if checkpoint { " with checkpointing" } else { "" }
    );
    let tol = |tensor: &str| if precision == Precision::F32 { TOL } else { reduced_tolerance(case, precision, tensor) };
    assert!(ids_diff < tol("logits_ids"), "{case}: logits from ids differ by {ids_diff} (allowed {})", tol("logits_ids"));
    assert!(embeds_diff < tol("logits_embeds"), "{case}: logits from embeddings differ by {embeds_diff} (allowed {})", tol("logits_embeds"));
    assert!(loss_diff < tol("loss"), "{case}: loss {loss_value} vs {} (allowed {})", r["loss"].data[0], tol("loss"));
    assert!(grad_diff < tol("grad_inputs_embeds"), "{case}: gradient differs by {grad_diff} (allowed {})", tol("grad_inputs_embeds"));
}

/// One test per fixture case, each on the device `$device` gives (an `Option<Device>`).
macro_rules! reference_cases {
    ($device:expr) => {
        reference_cases!($device, cram_core::device::Precision::F32, false);
    };
    ($device:expr, $precision:expr, $checkpoint:expr) => {
        fn check_case(device: Option<burn::tensor::Device>, case: &str, file: Option<&str>) {
            super::check_case_as(device, case, file, $precision, $checkpoint);
        }

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

        #[test]
        fn qwen2_qkv_biases() {
            check_case($device, "qwen2", None);
        }

        #[test]
        fn qwen2_gguf() {
            check_case($device, "qwen2", Some("tiny-qwen2.gguf"));
        }

        #[test]
        fn qwen3_per_head_qk_norm() {
            check_case($device, "qwen3", None);
        }

        #[test]
        fn qwen3_gguf() {
            check_case($device, "qwen3", Some("tiny-qwen3.gguf"));
        }

        #[test]
        fn olmo_parameter_free_layer_norm_and_clip_qkv() {
            check_case($device, "olmo", None);
        }

        #[test]
        fn olmo_gguf_with_permuted_qk() {
            check_case($device, "olmo", Some("tiny-olmo.gguf"));
        }

        #[test]
        fn olmo2_norms_after_the_sublayers() {
            check_case($device, "olmo2", None);
        }

        #[test]
        fn olmo2_gguf() {
            check_case($device, "olmo2", Some("tiny-olmo2.gguf"));
        }

        #[test]
        fn opt_pre_layer_norm() {
            check_case($device, "opt", None);
        }

        #[test]
        fn opt_post_layer_norm_with_projections() {
            check_case($device, "opt_350m_style", None);
        }

        #[test]
        fn gemma3_sliding_window_shorter_than_the_text() {
            check_case($device, "gemma3", None);
        }

        #[test]
        fn mamba_selective_scan_without_attention() {
            check_case($device, "mamba", None);
        }

        #[test]
        fn mamba_gguf_with_a_stored_as_minus_exp() {
            check_case($device, "mamba", Some("tiny-mamba.gguf"));
        }
    };
}

/// burn's `flex` CPU backend.
mod cpu {
    reference_cases!(Some(crate::common::cpu()));
}

/// The CPU with per-layer activation checkpointing: the same gradients as without.
mod cpu_checkpoint {
    reference_cases!(Some(crate::common::cpu()), cram_core::device::Precision::F32, true);
}

/// The CPU with bf16 weights (the CPU backend converts them to f32 for every product).
mod cpu_bf16 {
    reference_cases!(Some(crate::common::cpu()), cram_core::device::Precision::Bf16, false);
}

/// The CPU with f16 weights.
mod cpu_f16 {
    reference_cases!(Some(crate::common::cpu()), cram_core::device::Precision::F16, false);
}

/// wgpu (Vulkan; Mesa's lavapipe on a machine without a GPU). Skips without an adapter unless
/// `CRAM_REQUIRE_WGPU=1`.
#[cfg(feature = "wgpu")]
mod wgpu {
    reference_cases!(crate::common::wgpu_or_skip());
}

/// wgpu with checkpointing.
#[cfg(feature = "wgpu")]
mod wgpu_checkpoint {
    reference_cases!(crate::common::wgpu_or_skip(), cram_core::device::Precision::F32, true);
}

/// wgpu with f16 weights, where the adapter computes in f16 (lavapipe does).
#[cfg(feature = "wgpu")]
mod wgpu_f16 {
    reference_cases!(crate::common::wgpu_or_skip(), cram_core::device::Precision::F16, false);
}

/// wgpu with bf16 weights, where the adapter computes in bf16.
#[cfg(feature = "wgpu")]
mod wgpu_bf16 {
    reference_cases!(crate::common::wgpu_or_skip(), cram_core::device::Precision::Bf16, false);
}

/// CUDA (cargo feature `cuda`; `bash scripts/gpu-check.sh --cuda` runs these): f32, checkpointed,
/// bf16 and f16. Skips without a CUDA device unless `CRAM_REQUIRE_CUDA=1`.
#[cfg(feature = "cuda")]
mod cuda {
    reference_cases!(crate::common::cuda_or_skip());
}

#[cfg(feature = "cuda")]
mod cuda_checkpoint {
    reference_cases!(crate::common::cuda_or_skip(), cram_core::device::Precision::F32, true);
}

#[cfg(feature = "cuda")]
mod cuda_bf16 {
    reference_cases!(crate::common::cuda_or_skip(), cram_core::device::Precision::Bf16, false);
}

#[cfg(feature = "cuda")]
mod cuda_f16 {
    reference_cases!(crate::common::cuda_or_skip(), cram_core::device::Precision::F16, false);
}

#[test]
fn gguf_and_safetensors_of_the_same_weights_share_a_fingerprint() {
    let a = load("llama_gguf", None);
    let b = load("llama_gguf", Some("tiny-llama.gguf"));
    assert_eq!(a.identity.weights_fingerprint, b.identity.weights_fingerprint);
    assert_eq!(a.identity.config_hash, b.identity.config_hash, "{:?} vs {:?}", a.config, b.config);
}

/// The GGUF twins of the Qwen and OLMo cases describe the same architecture as their config.json: the
/// canonical configs (what `.cram` files hash) are equal.
#[test]
fn gguf_twins_of_the_new_families_describe_the_same_architecture() {
    for (case, file) in
        [("qwen2", "tiny-qwen2.gguf"), ("qwen3", "tiny-qwen3.gguf"), ("olmo", "tiny-olmo.gguf"), ("olmo2", "tiny-olmo2.gguf"), ("mamba", "tiny-mamba.gguf")]
    {
        let dir = fixture(case);
        let gguf = cram_core::load::gguf_checkpoint::GgufCheckpoint::open(&dir.join(file)).unwrap().config().unwrap();
        let hf = cram_core::ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(gguf.family(), case);
        assert_eq!(gguf.canonical_json(), hf.canonical_json());
    }
}

/// Qwen2 and Qwen3: the tokenizer from `tokenizer.json` and from the GGUF (pre-tokenizer `qwen2`:
/// digits one by one) both give the ids of the `tokenizers` library on a text of prose, code, digits
/// and non-Latin scripts; folder and GGUF load as the same model (config hash and weights fingerprint).
#[test]
fn qwen_tokenizers_and_gguf_twins_match() {
    for (case, file) in [("qwen2", "tiny-qwen2.gguf"), ("qwen3", "tiny-qwen3.gguf")] {
        let gguf = load(case, Some(file));
        let json = load(case, None);
        let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture(case).join("reference.json")).unwrap()).unwrap();
        let text = reference["text"].as_str().unwrap();
        let expected: Vec<u32> = reference["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(json.tokenizer.encode(text).unwrap(), expected, "{case}: tokenizer.json");
        assert_eq!(gguf.tokenizer.encode(text).unwrap(), expected, "{case}: GGUF");
        assert_eq!(gguf.tokenizer.decode(&expected).unwrap(), text, "{case}");
        assert_eq!(gguf.identity.config_hash, json.identity.config_hash, "{case}: {:?} vs {:?}", gguf.config, json.config);
        assert_eq!(gguf.identity.weights_fingerprint, json.identity.weights_fingerprint, "{case}");
    }
}

/// Pythia's own tokenizer (the gpt-neox-20b BPE, also OLMo's base) gives transformers' ids on a text
/// of prose, code, digits and non-Latin scripts, and decodes them back; the tiny NeoX of Pythia's
/// vocabulary loads with it (the browser's Pythia model).
#[test]
fn pythia_tokenizer_matches_transformers() {
    let lm = load("pythia_tokenizer", None);
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("pythia_tokenizer").join("reference.json")).unwrap()).unwrap();
    let text = reference["text"].as_str().unwrap();
    let expected: Vec<u32> = reference["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    assert_eq!(lm.tokenizer.encode(text).unwrap(), expected);
    assert_eq!(lm.tokenizer.decode(&expected).unwrap(), text);
    assert_eq!((lm.config.family(), lm.config.vocab_size(), lm.identity.file_dtype.as_str()), ("gpt_neox", 50304, "safetensors"));
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
