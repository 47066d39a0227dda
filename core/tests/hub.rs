//! The hub path against a real HTTP server on loopback: `owner/name` is downloaded into the HF cache
//! under `HF_HOME` from `HF_ENDPOINT` with `HF_TOKEN` sent, then found again with `HF_HUB_OFFLINE=1`.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use cram_core::LoadedModel;

/// Serves the files of the tiny Llama fixture as `/{owner}/{name}/resolve/{revision}/{file}`, with
/// the headers the hub sends (etag, x-repo-commit, ranges). Records the Authorization headers.
/// The server's address, the Authorization headers it saw, its thread and the server itself.
type Served = (String, Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>, Arc<tiny_http::Server>);

fn serve() -> Served {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
    let addr = format!("http://{}", server.server_addr().to_ip().expect("ip address"));
    let auth = Arc::new(Mutex::new(Vec::new()));
    let (s, a) = (server.clone(), auth.clone());
    let handle = std::thread::spawn(move || {
        for req in s.incoming_requests() {
            if let Some(h) = req.headers().iter().find(|h| h.field.equiv("Authorization")) {
                a.lock().unwrap().push(h.value.to_string());
            }
            let url = req.url().to_string();
            let file = url.rsplit('/').next().unwrap_or("").to_string();
            let ok_repo = url.starts_with("/tiny-org/tiny-llama/resolve/main/");
            let path = fixture("llama_gguf").join(&file);
            if !ok_repo || !path.is_file() {
                let _ = req.respond(tiny_http::Response::from_string("not found").with_status_code(404));
                continue;
            }
            let body = std::fs::read(&path).unwrap();
            let total = body.len();
            let range = req.headers().iter().find(|h| h.field.equiv("Range")).map(|h| h.value.to_string());
            let (start, end) = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")).and_then(|r| r.split_once('-')) {
                Some((a, b)) => (a.parse().unwrap_or(0), b.parse::<usize>().map(|e| e.min(total - 1)).unwrap_or(total - 1)),
                None => (0, total - 1),
            };
            let header = |k: &str, v: String| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap();
            let mut resp = tiny_http::Response::from_data(body[start..=end].to_vec())
                .with_header(header("etag", format!("\"{file}-etag-{total}\"")))
                .with_header(header("x-repo-commit", "0123456789abcdef0123456789abcdef01234567".into()));
            if range.is_some() {
                resp = resp.with_status_code(206).with_header(header("Content-Range", format!("bytes {start}-{end}/{total}")));
            }
            let _ = req.respond(resp);
        }
    });
    (addr, auth, handle, server)
}

#[test]
fn hub_download_then_offline() {
    let (endpoint, auth, handle, server) = serve();
    let home = tempfile::tempdir().unwrap();
    // This test binary has no other test, so changing the environment is safe.
    unsafe {
        std::env::set_var("HF_ENDPOINT", &endpoint);
        std::env::set_var("HF_HOME", home.path());
        std::env::set_var("HF_TOKEN", "hf_test_token");
        std::env::remove_var("HF_HUB_OFFLINE");
    }
    let online = LoadedModel::load("tiny-org/tiny-llama", &cpu()).expect("downloads from the loopback hub");
    let local = load("llama_gguf", None);
    assert_eq!(online.identity.weights_fingerprint, local.identity.weights_fingerprint);
    assert!(auth.lock().unwrap().iter().any(|h| h == "Bearer hf_test_token"), "the token is sent: {:?}", auth.lock().unwrap());
    assert!(home.path().join("hub/models--tiny-org--tiny-llama").is_dir(), "cached in the standard HF layout");

    // A missing repository is a clear hub error.
    let err = LoadedModel::load("tiny-org/no-such-model", &cpu()).unwrap_err().to_string();
    assert!(err.contains("tiny-org/no-such-model"), "{err}");

    // Offline: the server is gone, the cache answers.
    server.unblock();
    handle.join().unwrap();
    unsafe { std::env::set_var("HF_HUB_OFFLINE", "1") };
    let offline = LoadedModel::load("tiny-org/tiny-llama", &cpu()).expect("loads from the cache offline");
    assert_eq!(offline.identity.weights_fingerprint, local.identity.weights_fingerprint);
    let err = LoadedModel::load("tiny-org/other", &cpu()).unwrap_err().to_string();
    assert!(err.contains("HF_HUB_OFFLINE"), "{err}");
}
