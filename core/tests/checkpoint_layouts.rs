//! The other tensor layouts a family's checkpoints come in on the hub, on the tiny fixtures renamed:
//! OPT's `decoder.*` (the facebook/opt-* checkpoints were saved from `OPTModel`) and Gemma 3's
//! multimodal `language_model.model.*` (transformers 4) and `model.language_model.*` (transformers 5).
//! Each loads to the same logits as the fixture's own `model.*` names.

use crate::common;

use burn::tensor::{Int, Tensor, TensorData};
use common::*;
use cram_core::weights::safetensors::SafetensorsFile;
use cram_core::weights::{HostTensor, TensorSource, Weights};
use cram_core::{Model, ModelConfig};

/// The fixture's tensors stored under another prefix.
struct Renamed<'a> {
    base: &'a SafetensorsFile,
    /// (stored prefix, fixture prefix)
    prefixes: (&'a str, &'a str),
}

impl TensorSource for Renamed<'_> {
    fn tensor(&self, name: &str) -> cram_core::Result<Option<HostTensor>> {
        let (stored, original) = self.prefixes;
        match name.strip_prefix(stored) {
            Some(rest) => self.base.tensor(&format!("{original}{rest}")),
            None => Ok(None),
        }
    }
}

fn logits(case: &str, prefixes: Option<(&str, &str)>) -> Vec<f32> {
    let dir = fixture(case);
    let config = ModelConfig::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let st = SafetensorsFile::open(&dir.join("model.safetensors")).unwrap();
    let device = cpu();
    let model = match prefixes {
        Some(prefixes) => Model::load(&config, &Weights::new(&Renamed { base: &st, prefixes }, &device)),
        None => Model::load(&config, &Weights::new(&st, &device)),
    }
    .unwrap_or_else(|e| panic!("{case} with {prefixes:?}: {e}"));
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i32, 5, 9, 2, 7, 3], [1, 6]), &device);
    model.forward(ids).into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn opt_loads_from_decoder_names() {
    assert_eq!(logits("opt_350m_style", Some(("decoder.", "model.decoder."))), logits("opt_350m_style", None));
}

#[test]
fn gemma3_loads_from_the_multimodal_names() {
    let plain = logits("gemma3", None);
    assert_eq!(logits("gemma3", Some(("language_model.model.", "model."))), plain);
    assert_eq!(logits("gemma3", Some(("model.language_model.", "model."))), plain);
}
