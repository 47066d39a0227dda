//! The Hugging Face hub (native only): `owner/name[@revision]` is downloaded into the standard HF
//! cache with `hf-hub`, which honours `HF_ENDPOINT` and `HF_HOME`; `HF_TOKEN` (or the cached token)
//! authenticates, and `HF_HUB_OFFLINE=1` uses the cache alone.

use std::path::PathBuf;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use crate::{Error, Result};

/// Files of a model repository that cram needs, in the order they are fetched.
const FILES: &[&str] = &["config.json", "tokenizer.json"];

/// Downloads (or finds in the cache) a model's `config.json`, `tokenizer.json` and safetensors weights;
/// returns the snapshot folder.
pub fn download_model(spec: &str) -> Result<PathBuf> {
    let (id, revision) = match spec.split_once('@') {
        Some((id, rev)) => (id.to_string(), rev.to_string()),
        None => (spec.to_string(), "main".to_string()),
    };
    let repo = Repo::with_revision(id.clone(), RepoType::Model, revision.clone());
    let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    let cache = Cache::from_env();
    type Getter = Box<dyn Fn(&str) -> Result<PathBuf>>;
    let get: Getter = if offline {
        let cached = cache.repo(repo.clone());
        Box::new(move |f: &str| cached.get(f).ok_or_else(|| Error::Hub(format!("{id}@{revision}: `{f}` is not in the cache and HF_HUB_OFFLINE is set"))))
    } else {
        let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty()).or_else(|| cache.token());
        let api = ApiBuilder::from_env()
            .with_token(token)
            .with_progress(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .build()
            .map_err(|e| Error::Hub(e.to_string()))?;
        let api_repo = api.repo(repo);
        let what = format!("{id}@{revision}");
        Box::new(move |f: &str| api_repo.get(f).map_err(|e| Error::Hub(format!("{what}: cannot fetch `{f}`: {e}"))))
    };
    let mut config = None;
    for f in FILES {
        let p = get(f)?;
        if *f == "config.json" {
            config = Some(p);
        }
    }
    let dir = config.and_then(|p| p.parent().map(PathBuf::from)).ok_or_else(|| Error::Hub("no snapshot folder".into()))?;
    match get("model.safetensors") {
        Ok(_) => {}
        Err(single) => {
            let index = get("model.safetensors.index.json").map_err(|_| single)?;
            let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
            for shard in crate::weights::safetensors::shard_files(&text, &index.display().to_string())? {
                get(&shard)?;
            }
        }
    }
    Ok(dir)
}
