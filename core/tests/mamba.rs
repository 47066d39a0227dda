//! What only Mamba has, against transformers' `MambaForCausalLM` (core/tests/fixtures/mamba): the scan
//! over a longer text than the shared reference cases (several chunks), greedy decoding with the
//! recurrent state giving transformers' `generate` tokens, and the chunked scan computing what the
//! sequential one computes, values and gradients, over three levels of chunks.

use crate::common::*;

use burn::tensor::{Int, Tensor, TensorData};
use cram_core::models::mamba::{MambaForCausalLM, ScanForm, linear_scan, linear_scan_sequential};
use cram_core::{Model, decode};

fn ids_of(r: &RefTensor) -> Vec<u32> {
    r.data.iter().map(|&v| v as u32).collect()
}

/// The 40-token reference: logits within 1e-4 of transformers' (five chunks of the scan), on the CPU
/// and, where there is an adapter, on wgpu.
#[test]
fn long_text_logits_match_transformers() {
    let r = reference("mamba");
    let ids = ids_of(&r["long_input_ids"]);
    let mut devices = vec![cpu()];
    #[cfg(feature = "wgpu")]
    devices.extend(wgpu_or_skip());
    for device in devices {
        let model = load_network("mamba", None, &device);
        let input = Tensor::<2, Int>::from_data(TensorData::new(ids.iter().map(|&i| i as i32).collect::<Vec<_>>(), [1, ids.len()]), &device);
        let logits = model.forward(input).into_data().try_to_vec::<f32>().unwrap();
        let diff = max_abs_diff(&logits, &r["long_logits"].data);
        eprintln!("mamba, 40 tokens on {device:?}: logits differ by {diff:.1e}");
        assert!(diff < 1e-4, "{device:?}: {diff}");
    }
}

/// Greedy decoding (the prompt, then one token per step with the recurrent state) gives the tokens
/// transformers' `generate` gives.
#[test]
fn greedy_decoding_with_the_recurrent_state_matches_generate() {
    let r = reference("mamba");
    let expected = ids_of(&r["greedy_ids"]);
    let model = load_network("mamba", None, &cpu());
    let prompt = decode::embed_ids(&model, &expected[..5]);
    let got = decode::greedy_decode(&model, prompt, expected.len() - 5, None, |_, _| {}).unwrap();
    assert_eq!(got, expected[5..]);
}

fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|i| ((((i as u64 + 1) * 2654435761 + seed * 97) % 1000) as f32 / 1000.0 - 0.5) * scale).collect()
}

/// The chunked scan over 600 positions (chunks of chunks of chunks) from a given state equals the
/// sequential one, and so do the gradients of a loss through it, with log-decays from mild to
/// strong (down to -20 a position, past the -15 the chunked form clamps at).
#[test]
fn chunked_scan_equals_the_sequential_scan_with_gradients() {
    let device = cpu().autodiff();
    let (b, t, i, n) = (1, 600, 3, 2);
    let tensor = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [b, t, i, n]), &device).require_grad();
    let log_a: Vec<f32> = values(1, b * t * i * n, 1.0).into_iter().map(|v| -((v + 0.5) * 2.0).powi(4) * 1.25).collect();
    assert!(log_a.iter().any(|&v| v < -15.0) && log_a.iter().any(|&v| v > -0.01));
    let u = values(2, b * t * i * n, 2.0);
    let h0 = values(3, b * i * n, 1.0);
    let run = |chunked: bool| {
        let (la, uu) = (tensor(log_a.clone()), tensor(u.clone()));
        let h = Tensor::<3>::from_data(TensorData::new(h0.clone(), [b, i, n]), &device).require_grad();
        let states =
            if chunked { linear_scan(la.clone(), uu.clone(), Some(h.clone())) } else { linear_scan_sequential(la.clone(), uu.clone(), Some(h.clone())) };
        let weights = Tensor::<4>::from_data(TensorData::new(values(4, b * t * i * n, 1.0), [b, t, i, n]), &device);
        let grads = (states.clone() * weights).sum().backward();
        let flat = |x: Option<Tensor<4>>| x.unwrap().into_data().try_to_vec::<f32>().unwrap();
        let flat3 = |x: Option<Tensor<3>>| x.unwrap().into_data().try_to_vec::<f32>().unwrap();
        (states.into_data().try_to_vec::<f32>().unwrap(), flat(la.grad(&grads)), flat(uu.grad(&grads)), flat3(h.grad(&grads)))
    };
    let (chunked, sequential) = (run(true), run(false));
    let close = |a: &[f32], b: &[f32], what: &str| {
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff <= 1e-5 * scale.max(1.0), "{what}: chunked and sequential differ by {diff} (largest {scale})");
    };
    close(&chunked.0, &sequential.0, "states");
    close(&chunked.1, &sequential.1, "gradient of the log-decays");
    close(&chunked.2, &sequential.2, "gradient of the inputs");
    close(&chunked.3, &sequential.3, "gradient of the initial state");
}

/// The whole model with either scan: the same logits and input gradient at 40 tokens.
#[test]
fn the_model_with_the_sequential_scan_is_the_same_model() {
    let device = cpu();
    let model = load_network("mamba", None, &device);
    let Model::Mamba(net) = &model else { panic!("not a Mamba") };
    let sequential = Model::Mamba(MambaForCausalLM::clone(net).with_scan(ScanForm::Sequential));
    let r = reference("mamba");
    let ids: Vec<i32> = r["long_input_ids"].data.iter().map(|&v| v as i32).collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, 40]), &device);
    let a = model.forward(input.clone()).into_data().try_to_vec::<f32>().unwrap();
    let b: Vec<f64> = sequential.forward(input).into_data().try_to_vec::<f32>().unwrap().into_iter().map(f64::from).collect();
    assert!(max_abs_diff(&a, &b) < 1e-4);
}
