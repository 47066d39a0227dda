//! Sending crammed vectors as a link, for workshops: the `.cram` bytes (what Export writes) ride in
//! the URL fragment, base64url, with the model they need named beside them:
//! `…/#cram=<base64url>&url=<same-origin URL>` (or `&hub=<id>&base=<hub base>`, or `&files=<names>`
//! for a model read from disk). The fragment never reaches a server. Opening such a link loads the
//! named model and decodes the vectors, as importing the file does ([`crate::compute`]'s import checks
//! that the file belongs to the loaded model). A file whose link would be longer than
//! [`MAX_LINK_CHARS`] is offered as a file instead.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The longest link Share makes; a one-vector `.cram` of a 576-wide model is about 5 000
/// characters, and browsers and chat programs pass links far longer than this.
pub const MAX_LINK_CHARS: usize = 32_000;

/// Where the page got its model, as a link names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// A same-origin URL (the page's default model, `models/...`).
    Url(String),
    /// A model id on a server laid out like the hub.
    Hub { base: String, id: String },
    /// Files read from disk (their names): the person opening the link must pick them.
    Files(String),
}

impl ModelRef {
    /// What the page calls it in a sentence.
    pub fn describe(&self) -> String {
        match self {
            ModelRef::Url(url) => url.clone(),
            ModelRef::Hub { id, .. } => id.clone(),
            ModelRef::Files(names) => format!("the files {names}"),
        }
    }

    fn query(&self) -> String {
        let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
        match self {
            ModelRef::Url(url) => format!("url={}", enc(url)),
            ModelRef::Hub { base, id } => format!("hub={}&base={}", enc(id), enc(base)),
            ModelRef::Files(names) => format!("files={}", enc(names)),
        }
    }
}

/// What a link carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// The `.cram` file's bytes.
    pub bytes: Vec<u8>,
    /// The model they need (None: the link names none).
    pub model: Option<ModelRef>,
}

/// The link to this page that carries `bytes` for `model`, or why there is none (too long: send the
/// file).
pub fn link(bytes: &[u8], model: &ModelRef) -> Result<String, String> {
    let location = web_sys::window().map(|w| w.location()).ok_or("no window")?;
    let here = format!("{}{}{}", location.origin().unwrap_or_default(), location.pathname().unwrap_or_default(), location.search().unwrap_or_default());
    let link = format!("{here}#cram={}&{}", URL_SAFE_NO_PAD.encode(bytes), model.query());
    if link.len() > MAX_LINK_CHARS {
        return Err(format!(
            "this .cram ({} bytes) makes a link of {} characters, longer than {MAX_LINK_CHARS}: send the file instead (it was downloaded)",
            bytes.len(),
            link.len()
        ));
    }
    Ok(link)
}

/// The shared file in a page's fragment (`location.hash`, with or without its `#`): `None` when the
/// fragment carries none, an error in one sentence when it is damaged.
pub fn parse(hash: &str) -> Option<Result<Shared, String>> {
    let fragment = hash.strip_prefix('#').unwrap_or(hash);
    let fields: Vec<(&str, &str)> = fragment.split('&').filter_map(|kv| kv.split_once('=')).collect();
    let field = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let data = field("cram")?;
    let dec = |s: &str| js_sys::decode_uri_component(s).ok().map(String::from);
    Some((|| {
        let bytes = URL_SAFE_NO_PAD
            .decode(data.trim_end_matches('='))
            .map_err(|e| format!("this link's .cram is damaged ({e}): ask for the link again, or for the file"))?;
        let model = if let Some(url) = field("url") {
            Some(ModelRef::Url(dec(url).ok_or("this link's model URL is damaged")?))
        } else if let Some(id) = field("hub") {
            let base = field("base").and_then(dec).unwrap_or_else(|| crate::loading::DEFAULT_HUB_BASE.to_string());
            Some(ModelRef::Hub { base, id: dec(id).ok_or("this link's hub id is damaged")? })
        } else {
            field("files").and_then(dec).map(ModelRef::Files)
        };
        Ok(Shared { bytes, model })
    })())
}
