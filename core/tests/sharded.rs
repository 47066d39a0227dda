//! A checkpoint in shards (`model.safetensors.index.json`, as Llama-3.1-8B ships in four) loads to the
//! same model as the single file: the tiny Llama fixture is split into three bf16 shards here, and
//! its logits, identity and tokenizer must match the single-file model's with the same bf16 values.

use crate::common;

use std::collections::{BTreeMap, HashMap};

use burn::tensor::{Int, Tensor, TensorData};
use common::*;
use cram_core::LoadedModel;
use safetensors::tensor::{Dtype, TensorView};

/// Writes `tensors` (name → shape, f32 values) as bf16 safetensors into `dir`: one file, or shards
/// with an index.
fn write_bf16(dir: &std::path::Path, tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, shards: usize) {
    let bf16 = |v: &[f32]| v.iter().flat_map(|x| half::bf16::from_f32(*x).to_le_bytes()).collect::<Vec<u8>>();
    let names: Vec<&String> = tensors.keys().collect();
    let per = names.len().div_ceil(shards);
    let mut weight_map = HashMap::new();
    for (i, chunk) in names.chunks(per).enumerate() {
        let file = if shards == 1 { "model.safetensors".to_string() } else { format!("model-{:05}-of-{shards:05}.safetensors", i + 1) };
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = chunk.iter().map(|n| ((*n).clone(), tensors[*n].0.clone(), bf16(&tensors[*n].1))).collect();
        let views: Vec<(String, TensorView)> = bytes.iter().map(|(n, s, b)| (n.clone(), TensorView::new(Dtype::BF16, s.clone(), b).unwrap())).collect();
        std::fs::write(dir.join(&file), safetensors::tensor::serialize(views, None).unwrap()).unwrap();
        for n in chunk {
            weight_map.insert((*n).clone(), file.clone());
        }
    }
    if shards > 1 {
        let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
        std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    }
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(fixture("llama_gguf").join(f), dir.join(f)).unwrap();
    }
}

#[test]
fn a_sharded_bf16_checkpoint_loads_like_the_single_file() {
    let bytes = std::fs::read(fixture("llama_gguf/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), Dtype::F32);
            let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect();
    let (single, sharded) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_bf16(single.path(), &tensors, 1);
    write_bf16(sharded.path(), &tensors, 3);
    assert!(sharded.path().join("model-00003-of-00003.safetensors").exists());

    let a = LoadedModel::load_path(single.path(), &cpu()).unwrap();
    let b = LoadedModel::load_path(sharded.path(), &cpu()).unwrap();
    assert_eq!(a.identity.weights_fingerprint, b.identity.weights_fingerprint);
    assert_eq!(a.identity.config_hash, b.identity.config_hash);
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i32, 5, 9, 2, 7], [1, 5]), &cpu());
    let la = a.model.forward(ids.clone()).into_data().try_to_vec::<f32>().unwrap();
    let lb = b.model.forward(ids).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(la, lb, "the same weights give the same logits");

    // A shard the index names but the folder lacks is one clear error.
    std::fs::remove_file(sharded.path().join("model-00002-of-00003.safetensors")).unwrap();
    let err = LoadedModel::load_path(sharded.path(), &cpu()).unwrap_err().to_string();
    assert!(err.contains("model-00002-of-00003.safetensors") && err.contains("missing"), "{err}");
}
