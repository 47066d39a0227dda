//! The results file of the sweeps (`cram capacity`, `cram compare`, `cram encoder eval --out`): one
//! JSON line per run ([`Record`]), each with what made it ([`RunTag`]), read back by resumption,
//! `cram merge` and the reports.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result, bail};
use cram_core::bits::BitAccount;
use cram_core::device::Precision;
use cram_core::methods::CramConfig;
use cram_core::metrics::CramMetrics;
use serde::{Deserialize, Serialize};

use crate::model::Model;

/// One line of a results file: which text, at which length, and its metrics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// The text's id.
    pub text_id: String,
    /// Tokens it was truncated to.
    pub length: usize,
    /// Why it stopped (`success`, `max_steps`, `patience`, `interrupted`).
    pub stop: String,
    /// The measures of `cram compress --json`.
    #[serde(flatten)]
    pub metrics: CramMetrics,
    /// What made it: the model, the recipe and cram's version ([`RunTag`]); absent in files of
    /// cram versions before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunTag>,
    /// The text's tokens beside its alternatives in bits ([`BitAccount`]); absent in files of cram
    /// versions before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<BitAccount>,
}

/// The key that identifies a run in resumption and merging (see [`Record::key`]).
pub type RunKey = (String, usize, usize, String, String);

impl Record {
    /// The key that identifies a run in resumption and merging: the text, its length, the vectors,
    /// the method, and what made it, so that results of another model or recipe are never taken
    /// for the same run.
    pub fn key(&self) -> RunKey {
        (self.text_id.clone(), self.length, self.metrics.mem, self.metrics.method.clone(), RunTag::key_of(self.run.as_ref()))
    }
}

/// What a results line records of the run that made it. The fields are in alphabetical order, the
/// order in which the lines have always held them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunTag {
    /// cram's version.
    pub cram: String,
    /// The device (`cpu`, `vulkan`, ...).
    pub device: String,
    /// The dtype of the weights; lines written before it was recorded were computed in f32.
    #[serde(default)]
    pub dtype: Precision,
    /// The fingerprint of the encoder file, for the lines of an encoder alone (`cram compare
    /// --encoders`, `cram encoder eval --out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<String>,
    /// The model's identity: its weights' fingerprint, as `.cram` files hold it.
    pub model: String,
    /// The whole recipe but the vector count (a sweep's axis), for the lines of cramming. Kept as
    /// the JSON object it was written as: files of older versions hold recipes of other shapes,
    /// and [`RunTag::differences`] names the fields that differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<serde_json::Map<String, serde_json::Value>>,
}

impl RunTag {
    /// The tag of the runs of `cfg` on `lm`.
    pub fn of_recipe(lm: &Model, cfg: &CramConfig) -> Self {
        let mut recipe = match serde_json::to_value(cfg).expect("configs serialise") {
            serde_json::Value::Object(m) => m,
            other => unreachable!("a recipe serialises as an object, not {other}"),
        };
        recipe.remove("mem");
        Self { recipe: Some(recipe), ..Self::base(lm) }
    }

    /// The tag of the runs of the encoder file of `fingerprint` on `lm`.
    pub fn of_encoder(lm: &Model, fingerprint: &str) -> Self {
        Self { encoder: Some(fingerprint.to_string()), ..Self::base(lm) }
    }

    fn base(lm: &Model) -> Self {
        Self {
            cram: env!("CARGO_PKG_VERSION").to_string(),
            device: lm.device_name.clone(),
            dtype: lm.precision,
            encoder: None,
            model: lm.identity.weights_fingerprint.clone(),
            recipe: None,
        }
    }

    /// The tag as one string, for keys and grouping; the empty string for no tag.
    pub fn key_of(tag: Option<&Self>) -> String {
        tag.map_or(String::new(), |t| serde_json::to_string(t).expect("tags serialise"))
    }

    /// The parts of `self` (there) and `other` (here) that differ (`recipe.adamw`, `model`, ...), for a message.
    pub fn differences(&self, other: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let fields = [
            ("model", self.model == other.model),
            ("device", self.device == other.device),
            ("dtype", self.dtype == other.dtype),
            ("cram", self.cram == other.cram),
            ("encoder", self.encoder == other.encoder),
        ];
        out.extend(fields.iter().filter(|(_, same)| !same).map(|(name, _)| name.to_string()));
        if let (Some(ra), Some(rb)) = (&self.recipe, &other.recipe) {
            let keys: std::collections::BTreeSet<&String> = ra.keys().chain(rb.keys()).collect();
            for k in keys {
                if ra.get(k) != rb.get(k) {
                    out.push(format!(
                        "recipe.{k} ({} here, {} there)",
                        rb.get(k).map_or("none".into(), |v| v.to_string()),
                        ra.get(k).map_or("none".into(), |v| v.to_string())
                    ));
                }
            }
        }
        out
    }
}

/// Reads a results file; a last line cut short by a kill is dropped with a warning.
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lines: Vec<String> = std::io::BufReader::new(file).lines().collect::<std::io::Result<_>>()?;
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() => errln!("{}: ignoring an incomplete last line", path.display()),
            Err(e) => bail!("{}:{}: not a cram result line: {e}", path.display(), i + 1),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_reads_back_as_written_and_an_old_line_without_dtype_is_f32() {
        let line = r#"{"cram":"0.1.0","device":"cpu","model":"abc","recipe":{"max_steps":5,"seed":0}}"#;
        let tag: RunTag = serde_json::from_str(line).unwrap();
        assert_eq!(tag.dtype, Precision::F32);
        assert_eq!(tag.encoder, None);
        let again = serde_json::to_string(&tag).unwrap();
        assert_eq!(again, r#"{"cram":"0.1.0","device":"cpu","dtype":"f32","model":"abc","recipe":{"max_steps":5,"seed":0}}"#);
        let mut other = tag.clone();
        other.recipe.as_mut().unwrap().insert("max_steps".into(), 9.into());
        other.device = "vulkan".into();
        assert_eq!(tag.differences(&other), ["device", "recipe.max_steps (9 here, 5 there)"]);
        assert!(RunTag::key_of(None).is_empty());
    }
}
