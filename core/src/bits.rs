//! Where a crammed text stands in bits. The seeds place cramming between text compressors (LLMZip,
//! FineZip: a model's probabilities drive an arithmetic coder, losslessly) and prompt compressors
//! (Gist, ICAE, 500xCompressor). One [`BitAccount`] per crammed text puts side by side, for the same
//! tokens:
//!
//! - the text itself in UTF-8 (`raw_bits`);
//! - the trained values in 16-bit floats (the paper's capacity counts these) and in 32-bit floats
//!   (what a `.cram` file stores);
//! - the model's cross-entropy of the tokens without memory (`lm_ce_bits`): what an ideal arithmetic
//!   coder driven by the same model spends, and the real code of `cram zip` (`lm_zip_bits`);
//! - general-purpose compressors on the same UTF-8 text: zstd at level 19 and xz at preset 9e, whole
//!   frames with their headers, as the command-line tools write them (natively only).
//!
//! Every `ratio_*` field is `raw_bits / that many bits`: above 1 is smaller than the text.

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::load::LoadedModel;
use crate::memory::Memory;
use crate::metrics::CramMetrics;

/// The bits of one crammed text and of its alternatives; field names as in `cram compress --json`
/// (under `bits`) and in `cram capacity` result lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BitAccount {
    /// UTF-8 bytes of the tokens crammed (decoded).
    pub text_bytes: usize,
    /// `8 × text_bytes`.
    pub raw_bits: u64,
    /// The values decoding reads, as a `.cram` file holds them ([`stored_values`]: the K × d memory
    /// vectors whatever trained them, or the LoRA adapters), at 16 bits each.
    pub vector_bits_16: u64,
    /// The same at 32 bits each (the f32 values of a `.cram` file).
    pub vector_bits_32: u64,
    /// The model's cross-entropy of the scored tokens without memory, in bits.
    pub lm_ce_bits: f64,
    /// The code of `cram zip` for the same tokens (sink in front), in bits; `None` where not measured.
    #[serde(default)]
    pub lm_zip_bits: Option<u64>,
    /// `zstd -19` of the UTF-8 text, the whole frame; `None` where not measured (the browser).
    #[serde(default)]
    pub zstd_bits: Option<u64>,
    /// `xz -9e` of the UTF-8 text, the whole `.xz` stream; `None` where not measured (the browser).
    #[serde(default)]
    pub xz_bits: Option<u64>,
    /// `raw_bits / vector_bits_16`.
    pub ratio_vectors_16: f64,
    /// `raw_bits / vector_bits_32`.
    pub ratio_vectors_32: f64,
    /// `raw_bits / lm_ce_bits`.
    pub ratio_lm_ce: f64,
    /// `raw_bits / lm_zip_bits`.
    #[serde(default)]
    pub ratio_lm_zip: Option<f64>,
    /// `raw_bits / zstd_bits`.
    #[serde(default)]
    pub ratio_zstd: Option<f64>,
    /// `raw_bits / xz_bits`.
    #[serde(default)]
    pub ratio_xz: Option<f64>,
}

/// What a text costs on its own, whatever crammed it: its UTF-8 bytes and its codes. A sweep measures
/// this once per text and length and reuses it for every vector count and method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextCodes {
    /// UTF-8 bytes of the tokens (decoded).
    pub text_bytes: usize,
    /// `cram zip` of the tokens (sink in front), in bits; `None` where not measured.
    pub lm_zip_bits: Option<u64>,
    /// `zstd -19` of the UTF-8 text, in bits; `None` in the browser.
    pub zstd_bits: Option<u64>,
    /// `xz -9e` of the UTF-8 text, in bits; `None` in the browser.
    pub xz_bits: Option<u64>,
}

impl TextCodes {
    /// The text alone: no code measured (the browser has neither `cram zip` nor the C compressors).
    pub fn text_only(text_bytes: usize) -> Self {
        Self { text_bytes, lm_zip_bits: None, zstd_bits: None, xz_bits: None }
    }

    /// The codes of `ids`: the text decoded from them, its zstd and xz sizes (natively), and the real
    /// `cram zip` code on `lm` (one forward step per token; `backend` as `cram zip` records it). A
    /// model with no token to put in front of the text has no `cram zip` code (not an error).
    pub fn measure(lm: &LoadedModel, ids: &[u32], backend: &str) -> Result<Self> {
        let text = lm.tokenizer.decode(ids)?;
        let lm_zip_bits = match crate::methods::sink_token(lm) {
            Ok(sink) => Some(crate::lmzip::compress(lm, &[sink], ids, backend)?.code_bits() as u64),
            Err(_) => None,
        };
        let (zstd_bits, xz_bits) = general_purpose_bits(text.as_bytes());
        Ok(Self { text_bytes: text.len(), lm_zip_bits, zstd_bits, xz_bits })
    }
}

impl BitAccount {
    /// The account of a text with `codes` crammed into `memory` with `metrics`.
    pub fn new(codes: &TextCodes, memory: &Memory, metrics: &CramMetrics) -> Self {
        let TextCodes { text_bytes, lm_zip_bits, zstd_bits, xz_bits } = *codes;
        let raw_bits = 8 * text_bytes as u64;
        let values = stored_values(memory) as u64;
        let lm_ce_bits = metrics.ce_without_mem_nats * std::f64::consts::LOG2_E;
        let ratio = |bits: f64| if bits > 0.0 { raw_bits as f64 / bits } else { f64::INFINITY };
        Self {
            text_bytes,
            raw_bits,
            vector_bits_16: values * 16,
            vector_bits_32: values * 32,
            lm_ce_bits,
            lm_zip_bits,
            zstd_bits,
            xz_bits,
            ratio_vectors_16: ratio((values * 16) as f64),
            ratio_vectors_32: ratio((values * 32) as f64),
            ratio_lm_ce: ratio(lm_ce_bits),
            ratio_lm_zip: lm_zip_bits.map(|b| ratio(b as f64)),
            ratio_zstd: zstd_bits.map(|b| ratio(b as f64)),
            ratio_xz: xz_bits.map(|b| ratio(b as f64)),
        }
    }

    /// The rows of a bit table: (what, bits).
    pub fn rows(&self) -> Vec<(&'static str, Option<f64>)> {
        vec![
            ("text (UTF-8)", Some(self.raw_bits as f64)),
            ("vectors, 32-bit", Some(self.vector_bits_32 as f64)),
            ("vectors, 16-bit", Some(self.vector_bits_16 as f64)),
            ("zstd -19", self.zstd_bits.map(|b| b as f64)),
            ("xz -9e", self.xz_bits.map(|b| b as f64)),
            ("cram zip (LM coder)", self.lm_zip_bits.map(|b| b as f64)),
            ("LM cross-entropy", Some(self.lm_ce_bits)),
        ]
    }
}

/// The values a crammed text is kept in: its memory vectors and adapters (the prefix tokens are the
/// model's own).
pub fn stored_values(memory: &Memory) -> usize {
    memory.vectors.len() + memory.lora.as_ref().map_or(0, |l| l.tensors.iter().map(|(_, _, v)| v.len()).sum())
}

/// zstd level 19 and xz preset 9e of `bytes`, in bits of the whole frame/stream; `None` where the
/// compressors are not built in (the browser).
pub fn general_purpose_bits(bytes: &[u8]) -> (Option<u64>, Option<u64>) {
    #[cfg(feature = "native")]
    {
        use std::io::Write;
        // The command-line tool's frame: level 19 with the content checksum (`zstd -19` writes one).
        let zstd = zstd::bulk::Compressor::new(19)
            .and_then(|mut c| {
                c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
                c.compress(bytes)
            })
            .ok()
            .map(|c| 8 * c.len() as u64);
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 9 | liblzma::stream::PRESET_EXTREME);
        let xz = xz.write_all(bytes).and_then(|_| xz.finish()).ok().map(|c| 8 * c.len() as u64);
        (zstd, xz)
    }
    #[cfg(not(feature = "native"))]
    {
        let _ = bytes;
        (None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(ce_nats: f64) -> CramMetrics {
        CramMetrics::new(10, 1, 5, 1.0, 10, 10, 2, true, ce_nats, 0.5, 576, 49152)
    }

    #[test]
    fn an_account_counts_sixteen_and_thirty_two_bits_per_value_and_ce_in_bits() {
        let memory = Memory { prefix_ids: vec![0], k: 1, vectors: vec![0.0; 576], lora: None, one_pass: false };
        let codes = TextCodes { text_bytes: 100, lm_zip_bits: Some(256), zstd_bits: Some(800), xz_bits: None };
        let a = BitAccount::new(&codes, &memory, &metrics(2.0 * std::f64::consts::LN_2 * 100.0));
        assert_eq!(a.raw_bits, 800);
        assert_eq!(a.vector_bits_16, 576 * 16);
        assert_eq!(a.vector_bits_32, 576 * 32);
        assert!((a.lm_ce_bits - 200.0).abs() < 1e-9, "{}", a.lm_ce_bits);
        assert!((a.ratio_lm_ce - 4.0).abs() < 1e-9);
        assert_eq!(a.ratio_lm_zip, Some(800.0 / 256.0));
        assert_eq!(a.ratio_zstd, Some(1.0));
        assert_eq!(a.ratio_xz, None);
        let json = serde_json::to_value(&a).unwrap();
        for field in ["raw_bits", "vector_bits_16", "vector_bits_32", "lm_ce_bits", "lm_zip_bits", "zstd_bits", "xz_bits", "ratio_vectors_16", "ratio_lm_zip"] {
            assert!(json.get(field).is_some(), "{field} missing from {json}");
        }
        assert_eq!(serde_json::from_value::<BitAccount>(json).unwrap(), a);
    }

    #[cfg(feature = "native")]
    #[test]
    fn zstd_and_xz_sizes_are_the_command_line_tools_frames() {
        // A repetitive text compresses well below its size; an empty one costs the frame headers.
        // The sizes `zstd -19 -c` (1.5.4) and `xz -9e -c` (5.4.1) write for this 960-byte text.
        let text = "the cat sat on the mat. ".repeat(40);
        assert_eq!(general_purpose_bits(text.as_bytes()), (Some(8 * 46), Some(8 * 96)));
        // xz's empty stream is 32 bytes: small texts pay the headers, as with the tools.
        assert_eq!(general_purpose_bits(b"").1, Some(8 * 32));
    }
}
