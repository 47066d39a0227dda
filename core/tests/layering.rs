//! The layers of cram-core, leaves first: a module may use the modules before it in [`LAYERS`],
//! never one after it (issue #19), so that each can be read, tested and changed knowing only what
//! is below it. DEVELOPERS.md lists the same order.
//!
//! The test reads every `core/src/**/*.rs`, finds each `crate::` path in code (comments left out,
//! `use crate::{a, b::c}` groups item by item, the root's re-exports such as `crate::Error` taken
//! to the module they come from) and fails naming the file and the import that reaches a module
//! later in the order. An entry with a path (`weights::gguf`) is a layer of its own inside its
//! parent; a file belongs to the longest entry its module path starts with. Test code is held to
//! the same order (no exemption). `super::` paths stay inside one module and are not checked.

use std::path::{Path, PathBuf};

/// The modules, leaves first, each with why it sits where it does.
const LAYERS: &[(&str, &str)] = &[
    ("aliases", "the local model aliases and cram's cache folder: std only, so tests anywhere find the default model"),
    ("weights::gguf", "the GGUF parser, with its own error type: uses nothing of the crate"),
    ("error", "the crate's one error type; wraps the GGUF parser's error"),
    ("device", "backends and the weights' dtype: error only"),
    ("readback", "tensors back to the host, blocking or async: error only"),
    ("metrics", "the paper's measures: arithmetic on counts"),
    ("optim", "AdamW and learning-rate schedules on host vectors: a leaf"),
    ("tokenizer", "tokenizer.json or GGUF metadata: the GGUF parser"),
    ("weights", "safetensors, GGUF names, the hub, the `Weights` view: parsers, no model code"),
    ("models", "the families and their shared layers, built from `Weights`"),
    ("load", "a model string to a `LoadedModel`: weights, models, tokenizer, device"),
    ("decode", "greedy decoding with a `Model`"),
    ("score", "per-token NLL of a text under a `Model`"),
    ("checkpoint", "activation checkpointing over a `Model`'s layers"),
    ("memory", "what a crammed text decodes from, and decoding it: decode, load"),
    ("methods::pieces", "a text's trainable pieces and the trait each method implements: memory's LoRA weights"),
    ("methods", "what is trained, how success is judged, one file per method (pieces, one another): memory, optim's settings, the model's sink"),
    ("methods::registry", "a method's file from its `Method`: the methods"),
    ("methods::trainable", "the flat per-text vector of a method and its tensors: the registry, memory, readback"),
    ("plan", "the memory plan of a run: methods over model configs"),
    ("cramming", "the loop: methods, optim, memory, checkpoint, metrics"),
    ("format", "`.cram` files of cramming's outcomes"),
    ("encoder", "trained encoders of texts into memory vectors: the loop's scores, methods, optim, memory, format's atomic writes"),
    ("lmzip", "lossless coding by the model's probabilities; hashes texts as format does"),
    ("bits", "a crammed text beside its codes in bits: lmzip's code, metrics, memory, the methods' sink"),
    ("data", "texts and their token ids under a loaded model"),
];

/// What the crate root re-exports, and from which module (`""`: the root itself, open to all).
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Error", "error"),
    ("Result", "error"),
    ("LoadedModel", "load"),
    ("ModelIdentity", "load"),
    ("Model", "models"),
    ("ModelConfig", "models"),
    ("VERSION", ""),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("core/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `weights/gguf/mod.rs` → `["weights", "gguf"]`; `lib.rs` → `[]`.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under core/src");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The index in [`LAYERS`] of the longest entry `path` starts with.
fn layer_of(path: &[String]) -> Option<usize> {
    LAYERS
        .iter()
        .enumerate()
        .filter(|(_, (entry, _))| {
            let entry: Vec<&str> = entry.split("::").collect();
            entry.len() <= path.len() && entry.iter().zip(path).all(|(a, b)| a == b)
        })
        .max_by_key(|(_, (entry, _))| entry.len())
        .map(|(i, _)| i)
}

/// The text with `//` and `/* */` comments blanked out (doc comments too: their links are not imports).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The first two segments of a path (`weights::gguf::GgufFile` → `["weights", "gguf"]`).
fn head(path: &str) -> Vec<String> {
    let first = ident(path.trim_start());
    let mut segments = vec![first.to_string()];
    if let Some(rest) = path.trim_start()[first.len()..].strip_prefix("::") {
        segments.push(ident(rest).to_string());
    }
    segments
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn flatten(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else { return vec![path.trim().to_string()] };
    let (prefix, body) = (&path[..open], &path[open + 1..path.rfind('}').unwrap_or(path.len())]);
    let (mut depth, mut start, mut items) = (0, 0, Vec::new());
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items.into_iter().flat_map(flatten).map(|item| format!("{}{item}", prefix.trim())).collect()
}

/// Every path after `crate::` in `code` (a group gives one path per item).
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // `cram_crate::`, not `crate::`
        }
        let rest = &code[at + "crate::".len()..];
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| match c {
                '{' => {
                    depth += 1;
                    false
                }
                '}' => {
                    depth -= 1;
                    depth < 0
                }
                c => depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':'),
            })
            .map_or(rest.len(), |(i, _)| i);
        paths.extend(flatten(&rest[..end]));
    }
    paths.into_iter().filter(|p| !p.is_empty()).collect()
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    let mut problems = Vec::new();
    for line in code_only(&lib).lines() {
        if let Some(name) = line.trim().strip_prefix("pub mod ").and_then(|r| r.strip_suffix(';'))
            && layer_of(&[name.to_string()]).is_none_or(|i| LAYERS[i].0 != name)
        {
            problems.push(format!("lib.rs: module `{name}` has no place in LAYERS (core/tests/layering.rs)"));
        }
    }
    let mut checked = 0;
    for file in &files {
        let module = module_path(file);
        if module.is_empty() {
            continue; // lib.rs: declares and re-exports
        }
        let shown = file.strip_prefix(src()).expect("under core/src").display().to_string();
        let Some(own) = layer_of(&module) else {
            problems.push(format!("{shown}: module `{}` has no place in LAYERS", module.join("::")));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a source file");
        for path in crate_paths(&code_only(&text)) {
            checked += 1;
            let segments = head(&path);
            let target = match ROOT_ITEMS.iter().find(|(item, _)| *item == segments[0]) {
                Some((_, "")) => continue,
                Some((_, from)) => layer_of(&[from.to_string()]),
                None => layer_of(&segments),
            };
            match target {
                None => problems.push(format!("{shown}: `crate::{path}` names a module that has no place in LAYERS")),
                Some(t) if t > own => {
                    problems.push(format!("{shown} ({}) imports `crate::{path}` ({}), which comes after it in LAYERS", LAYERS[own].0, LAYERS[t].0))
                }
                Some(_) => {}
            }
        }
    }
    assert!(checked > 100, "only {checked} `crate::` paths found: is the parser broken?");
    assert!(problems.is_empty(), "the layering of cram-core is broken:\n{}", problems.join("\n"));
}

#[test]
fn the_parser_sees_groups_paths_and_skips_comments() {
    let code = code_only("use crate::{Error, weights::{Bytes, gguf::GgufFile}};\n// crate::cramming\nlet x = crate::models::Model::load(); /* crate::data */");
    assert_eq!(crate_paths(&code), ["Error", "weights::Bytes", "weights::gguf::GgufFile", "models::Model::load"]);
    assert_eq!(layer_of(&head("weights::gguf::GgufFile")).map(|i| LAYERS[i].0), Some("weights::gguf"));
    assert_eq!(layer_of(&["weights".into(), "safetensors".into()]).map(|i| LAYERS[i].0), Some("weights"));
}
