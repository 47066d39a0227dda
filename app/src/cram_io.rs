//! `.cram` files in the browser, byte-compatible with the CLI: the compute side writes
//! [`cram_core::format::CramFile::from_outcome`] (what `cram compress` writes), offered here as a
//! download; import ([`crate::compute`]) parses a file, checks that it belongs to the loaded model and
//! decodes it greedily against the stored sha256, as `cram decompress` does.

use wasm_bindgen::JsCast;

use crate::loading::js_error;

/// Offers `bytes` as a download called `name`.
pub fn download(bytes: &[u8], name: &str) -> Result<(), String> {
    let array = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&array, &opts).map_err(js_error)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = doc.create_element("a").map_err(js_error)?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}
