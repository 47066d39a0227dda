//! Getting a model into the page: bytes from a same-origin URL (streamed with progress and kept in
//! Cache Storage, so a reload is instant) or from files picked on disk (a `.gguf`, or `config.json` +
//! `*.safetensors` + `tokenizer.json`), then [`cram_core::LoadedModel`] on the chosen device. Errors
//! come back as one sentence for a person: not a model, unsupported architecture, too large.

use burn::tensor::Device;
use cram_core::LoadedModel;
use cram_core::weights::Bytes;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, Response};

/// The Cache Storage bucket that keeps downloaded models.
const CACHE_NAME: &str = "cram-models-v1";

/// The most bytes one model file may have: wasm32 addresses 4 GiB, and the dequantised f32 weights
/// plus the file itself must fit in it.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Where hub model ids are fetched from unless the page is told otherwise: a folder served with the
/// page and laid out like the hub (`hub/{owner}/{name}/resolve/main/...`). Type the hub's own address (what `HF_ENDPOINT` names for the CLI) in
/// the page to fetch from the hub itself; cram names no host in its code.
pub const DEFAULT_HUB_BASE: &str = "hub";

/// The first bytes of every GGUF file.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// What to load, as the page collected it (and sends to the worker: the bytes cross as
/// `Uint8Array`s).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ModelFiles {
    /// One GGUF file.
    Gguf {
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// A Hugging Face folder's files.
    HuggingFace {
        name: String,
        config: String,
        #[serde(with = "serde_bytes")]
        tokenizer: Vec<u8>,
        shards: Vec<Shard>,
    },
}

/// One `*.safetensors` file of a Hugging Face folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// Its file name.
    pub name: String,
    /// Its bytes.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// A JS error as text.
pub fn js_error(e: JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

fn window() -> Result<web_sys::Window, String> {
    web_sys::window().ok_or_else(|| "no window".to_string())
}

/// Reads a response body chunk by chunk, reporting `(done, total)` bytes.
async fn read_body(resp: &Response, total: Option<u64>, on_progress: &dyn Fn(u64, Option<u64>)) -> Result<Vec<u8>, String> {
    let body = resp.body().ok_or("the response has no body")?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut out: Vec<u8> = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(js_error)?;
        if Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(js_error)?.unchecked_into();
        let start = out.len();
        out.resize(start + value.length() as usize, 0);
        value.copy_to(&mut out[start..]);
        if out.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(out.len() as u64));
        }
        on_progress(out.len() as u64, total);
    }
    Ok(out)
}

fn too_large(bytes: u64) -> String {
    format!(
        "the model is too large for the browser: {:.0} MB (at most {:.0} MB; its f32 weights must fit in 4 GiB of wasm memory and the GPU's buffer limits); pick a smaller model",
        bytes as f64 / 1e6,
        MAX_FILE_BYTES as f64 / 1e6
    )
}

fn content_length(resp: &Response) -> Option<u64> {
    resp.headers().get("content-length").ok().flatten().and_then(|v| v.parse().ok())
}

/// Why a fetch failed: the server's status, or no answer at all, or the body.
pub enum FetchError {
    /// The server answered with this status (404, 401, ...).
    Status(u16, String),
    /// No answer: offline, a wrong address, or CORS.
    Network(String),
    /// The answer could not be read or is too large.
    Body(String),
}

impl FetchError {
    /// One sentence naming `url`.
    pub fn sentence(&self, url: &str) -> String {
        match self {
            Self::Status(code, text) => format!("{url}: the server answered {code} {text}"),
            Self::Network(e) => format!("{url}: {e}"),
            Self::Body(e) => e.clone(),
        }
    }
}

/// The bytes at a same-origin `url`, from Cache Storage when they are there, else fetched (with
/// progress) and then cached. Returns `(bytes, from_cache)`.
pub async fn fetch_cached(url: &str, on_progress: &dyn Fn(u64, Option<u64>)) -> Result<(Vec<u8>, bool), String> {
    fetch_cached_or(url, on_progress).await.map_err(|e| e.sentence(url))
}

/// [`fetch_cached`] with the reason of a failure kept apart.
pub async fn fetch_cached_or(url: &str, on_progress: &dyn Fn(u64, Option<u64>)) -> Result<(Vec<u8>, bool), FetchError> {
    let win = window().map_err(FetchError::Body)?;
    // Cache Storage exists only in secure contexts (https, localhost); without it we just fetch.
    let cache: Option<web_sys::Cache> = match win.caches() {
        Ok(caches) => JsFuture::from(caches.open(CACHE_NAME)).await.ok().map(|c| c.unchecked_into()),
        Err(_) => None,
    };
    if let Some(cache) = &cache
        && let Ok(hit) = JsFuture::from(cache.match_with_str(url)).await
        && let Some(resp) = hit.dyn_ref::<Response>()
    {
        let total = content_length(resp);
        if let Ok(bytes) = read_body(resp, total, on_progress).await
            && total.is_none_or(|t| t == bytes.len() as u64)
        {
            return Ok((bytes, true));
        }
    }
    let resp: Response = JsFuture::from(win.fetch_with_str(url)).await.map_err(|e| FetchError::Network(js_error(e)))?.unchecked_into();
    if !resp.ok() {
        return Err(FetchError::Status(resp.status(), resp.status_text()));
    }
    let total = content_length(&resp);
    if let Some(t) = total
        && t > MAX_FILE_BYTES
    {
        return Err(FetchError::Body(too_large(t)));
    }
    let bytes = read_body(&resp, total, on_progress).await.map_err(FetchError::Body)?;
    if let Some(cache) = &cache {
        // Best effort: a full quota only costs the next reload a download.
        let init = web_sys::ResponseInit::new();
        let headers = web_sys::Headers::new().map_err(|e| FetchError::Body(js_error(e)))?;
        let _ = headers.set("content-length", &bytes.len().to_string());
        init.set_headers_headers(&headers);
        let copy = Uint8Array::from(bytes.as_slice());
        if let Ok(stored) = Response::new_with_opt_buffer_source_and_init(Some(copy.unchecked_ref::<js_sys::Object>()), &init) {
            let _ = JsFuture::from(cache.put_with_str(url, &stored)).await;
        }
    }
    Ok((bytes, false))
}

/// The bytes at a same-origin `url`, fetched each time (small files that a rebuild may change: the
/// gallery), or one sentence naming `url`.
pub async fn fetch_fresh(url: &str) -> Result<Vec<u8>, String> {
    let win = window()?;
    let resp: Response = JsFuture::from(win.fetch_with_str(url)).await.map_err(|e| format!("{url}: {}", js_error(e)))?.unchecked_into();
    if !resp.ok() {
        return Err(FetchError::Status(resp.status(), resp.status_text()).sentence(url));
    }
    read_body(&resp, content_length(&resp), &|_, _| {}).await
}

/// A Hugging Face model by its id (`owner/name`, or `owner/name@revision`) from `base`, a server laid
/// out like the hub (`{base}/{id}/resolve/{revision}/{file}`: the hub itself, a mirror, or a local
/// folder served with the page): `config.json`, `tokenizer.json` and `model.safetensors` (or the shards
/// of `model.safetensors.index.json`), each kept in Cache Storage. `on_progress(file, done, total)`.
/// A missing model, a gated one, a network error and a model without safetensors each get a sentence.
pub async fn fetch_hub(base: &str, id: &str, on_progress: &dyn Fn(&str, u64, Option<u64>)) -> Result<ModelFiles, String> {
    let (repo, revision) = id.trim().split_once('@').unwrap_or((id.trim(), "main"));
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !matches!(repo.split_once('/'), Some((owner, name)) if valid(owner) && valid(name)) || !valid(revision) {
        return Err(format!("`{id}` is not a hub model id: give owner/name, e.g. EleutherAI/pythia-70m (a revision after @)"));
    }
    let base = base.trim().trim_end_matches('/');
    let url = |file: &str| format!("{base}/{repo}/resolve/{revision}/{file}");
    let get = async |file: &str| fetch_cached_or(&url(file), &|done, total| on_progress(file, done, total)).await.map(|(bytes, _)| bytes);
    let explain = |file: &str, e: FetchError| match e {
        FetchError::Status(404, _) if file == "config.json" => format!("{repo}: no such model at {base} ({} is not found)", url(file)),
        FetchError::Status(401 | 403, _) => {
            format!("{repo} is gated or private: {} needs a login; accept its license on the hub and download its files, then pick them from disk", url(file))
        }
        FetchError::Network(e) => format!("cannot reach {base} for {repo} ({e}): offline, a wrong base URL, or a server that does not allow this page (CORS)"),
        other => other.sentence(&url(file)),
    };
    let config = get("config.json").await.map_err(|e| explain("config.json", e))?;
    let config = String::from_utf8(config).map_err(|_| format!("{}: config.json is not UTF-8 text", url("config.json")))?;
    let tokenizer = get("tokenizer.json").await.map_err(|e| explain("tokenizer.json", e))?;
    let shards = match get("model.safetensors").await {
        Ok(bytes) => vec![Shard { name: "model.safetensors".to_string(), bytes }],
        Err(FetchError::Status(404, _)) => {
            let index = match get("model.safetensors.index.json").await {
                Ok(index) => String::from_utf8(index).map_err(|_| "model.safetensors.index.json is not UTF-8 text".to_string())?,
                Err(FetchError::Status(404, _)) => {
                    return Err(format!(
                        "{repo} has no safetensors weights at {base} (model.safetensors or its index); cram reads safetensors, not pytorch_model.bin"
                    ));
                }
                Err(e) => return Err(explain("model.safetensors.index.json", e)),
            };
            let mut shards = Vec::new();
            for file in cram_core::weights::safetensors::shard_files(&index, &url("model.safetensors.index.json")).map_err(|e| e.to_string())? {
                let bytes = get(&file).await.map_err(|e| explain(&file, e))?;
                shards.push(Shard { name: file, bytes });
            }
            shards
        }
        Err(e) => return Err(explain("model.safetensors", e)),
    };
    Ok(ModelFiles::HuggingFace { name: repo.to_string(), config, tokenizer, shards })
}

/// The bytes of a file picked on disk.
pub async fn read_file(file: &File) -> Result<Vec<u8>, String> {
    if file.size() as u64 > MAX_FILE_BYTES {
        return Err(format!("{}: {}", file.name(), too_large(file.size() as u64)));
    }
    let buf = JsFuture::from(file.array_buffer()).await.map_err(|e| format!("{}: {}", file.name(), js_error(e)))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// Sorts picked files into a GGUF or a Hugging Face folder, with a clear message when they are
/// neither.
pub async fn collect_files(files: Vec<File>) -> Result<ModelFiles, String> {
    let names: Vec<String> = files.iter().map(|f| f.name()).collect();
    if let Some(f) = files.iter().find(|f| f.name().ends_with(".gguf")) {
        return Ok(ModelFiles::Gguf { name: f.name(), bytes: read_file(f).await? });
    }
    let find = |n: &str| files.iter().find(|f| f.name() == n);
    let shards: Vec<&File> = files.iter().filter(|f| f.name().ends_with(".safetensors")).collect();
    match (find("config.json"), find("tokenizer.json"), shards.is_empty()) {
        (Some(c), Some(t), false) => {
            let config = String::from_utf8(read_file(c).await?).map_err(|_| "config.json is not UTF-8 text".to_string())?;
            let tokenizer = read_file(t).await?;
            let mut out = Vec::new();
            for s in shards {
                out.push(Shard { name: s.name(), bytes: read_file(s).await? });
            }
            Ok(ModelFiles::HuggingFace { name: "picked folder".into(), config, tokenizer, shards: out })
        }
        (Some(_), _, _) | (_, Some(_), _) | (_, _, false) => {
            Err(format!("a Hugging Face model needs config.json, tokenizer.json and the *.safetensors files together; you picked {}", names.join(", ")))
        }
        _ => Err(format!("not a model: {} (pick a .gguf file, or config.json + *.safetensors + tokenizer.json)", names.join(", "))),
    }
}

/// Builds the model on `device`, turning core errors into sentences for the page. `max_buffer_bytes`:
/// the WebGPU adapter's largest buffer (None on the CPU).
pub fn build(files: ModelFiles, device: &Device, max_buffer_bytes: Option<u64>) -> Result<LoadedModel, String> {
    match files {
        ModelFiles::Gguf { name, bytes } => {
            if bytes.len() < 4 || &bytes[..4] != GGUF_MAGIC {
                return Err(format!("{name} is not a model: a .gguf file starts with the bytes `GGUF`"));
            }
            LoadedModel::from_gguf_bytes(&name, Bytes::Owned(bytes), device, max_buffer_bytes).map_err(|e| explain(&name, e))
        }
        ModelFiles::HuggingFace { name, config, tokenizer, shards } => {
            let shards = shards.into_iter().map(|s| (s.name, Bytes::Owned(s.bytes))).collect();
            LoadedModel::from_hf_bytes(&name, &config, &tokenizer, shards, device, max_buffer_bytes).map_err(|e| explain(&name, e))
        }
    }
}

/// One sentence for a core error.
fn explain(name: &str, e: cram_core::Error) -> String {
    use cram_core::Error as E;
    match e {
        E::UnsupportedArch(arch) => format!("{name}: unsupported architecture `{arch}`; cram runs Llama/SmolLM2/Llama-3 and GPT-NeoX/Pythia models"),
        E::Safetensors { .. } | E::Gguf { .. } => format!("{name} is not a model cram can read: {e}"),
        other => other.to_string(),
    }
}
