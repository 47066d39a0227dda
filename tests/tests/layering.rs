//! The layers of each crate, leaves first: a module may use the modules before it in its crate's
//! list, never one after it, so that no import circle forms (issues #19 and #31) and each module can
//! be read, tested and changed knowing only what is below it. DEVELOPERS.md gives the same orders.
//!
//! One check for the three crates (cram-core, the `cram` command, the web app): it reads every
//! `*.rs` of the crate's `src/` but the crate root (which declares the modules: every one it
//! declares must have a place in the list), finds each `crate::` and `super::` path in code
//! (comments left out, `use crate::{a, b::c}` groups item by item, a `super::` inside a file's
//! `mod tests` meaning the file's own module, the root's re-exports such as `crate::Error` taken to
//! the module they come from) and fails naming the file and the path that reaches a module later in
//! the order. An entry with a path (`weights::gguf`) is a layer of its own inside its parent; a file
//! belongs to the longest entry its module path starts with; a parent module comes after the
//! children it uses (`report`) or before the children that use what it holds (`views`). Test code is
//! held to the same order.

use std::path::{Path, PathBuf};

/// A crate's layers.
struct Layering {
    /// The crate's folder in the workspace.
    dir: &'static str,
    /// Its modules, leaves first, each with why it sits where it does.
    layers: &'static [(&'static str, &'static str)],
    /// What its root defines or re-exports, and from which module (`""`: the root itself, open to
    /// every module: a macro, a version string).
    root_items: &'static [(&'static str, &'static str)],
    /// The fewest paths the check must find in the crate (a parser that sees nothing checks nothing).
    least_paths: usize,
}

const CORE: Layering = Layering {
    dir: "core",
    layers: &[
        ("aliases", "the local model aliases and cram's cache folder: std only, so tests anywhere find the default model"),
        ("weights::gguf", "the GGUF parser, with its own error type: uses nothing of the crate"),
        ("error", "the crate's one error type; wraps the GGUF parser's error"),
        ("device", "backends and the weights' dtype: error only"),
        ("readback", "tensors back to the host, blocking or async: error only"),
        ("metrics", "the paper's measures: arithmetic on counts"),
        ("optim", "AdamW and learning-rate schedules on host vectors: a leaf"),
        ("kernels", "frozen-weight matrix products on the CPU (packed once, AVX-512/AVX2), a burn autodiff op: a leaf"),
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
        ("start", "a learned start, meta-trained with the loop (Reptile) over encoder training's chunks; its file as format writes"),
        ("lmzip", "lossless coding by the model's probabilities; hashes texts as format does"),
        ("bits", "a crammed text beside its codes in bits: lmzip's code, metrics, memory, the methods' sink"),
        ("geometry", "crammed vectors beside the token embeddings, and the attention paid them: models, memory, decode, readback"),
        ("data", "texts and their token ids under a loaded model"),
    ],
    root_items: &[
        ("Error", "error"),
        ("Result", "error"),
        ("LoadedModel", "load"),
        ("ModelIdentity", "load"),
        ("Model", "models"),
        ("ModelConfig", "models"),
        ("VERSION", ""),
    ],
    least_paths: 100,
};

const CLI: Layering = Layering {
    dir: "native-cli",
    layers: &[
        ("host_memory", "the process's resident memory, for `cram bench`: std only"),
        ("progress", "progress bars and the stop flag, as core's observer: nothing of the crate"),
        ("model", "core's loaded model with its device's name: core only"),
        ("results", "the results file: its lines (`Record`), their run tags, reading it back: the model"),
        ("report::statistics", "cells of a results file, their means, spread and capacities: results"),
        ("report::tables", "the tables of the statistics, in each format: statistics"),
        ("report::plots", "the SVG plots of the statistics: statistics"),
        ("report", "the table and plots of a results file: its parts, results"),
        ("cli", "the flags (clap): report's table formats"),
        ("errors", "core's typed errors worded with the flags: core only"),
        ("recipe", "the flags and the loaded model resolved into a complete recipe: cli, core; with the file of --init (an encoder or a learned start)"),
        ("sweep", "the sweep engine (plan, shards, resumable results): cli's sweep flags, progress, results, recipe's --init file"),
        ("commands", "what the subcommands share: loading the model, checking outputs, reading texts"),
        ("commands::encoder", "`cram encoder train|eval`: recipe, report, results"),
        ("commands::compress", "`cram compress`: recipe, progress"),
        ("commands::capacity", "`cram capacity` and `cram merge`: recipe, sweep, report"),
        ("commands::compare", "`cram compare`: recipe, sweep, report, the encoder files of commands::encoder"),
        ("commands::start", "`cram start train`: recipe, progress"),
        ("commands::bench", "`cram bench`: core, host_memory"),
        ("commands::data", "`cram data`: core"),
        ("commands::decompress", "`cram decompress`: core"),
        ("commands::info", "`cram info`: core"),
        ("commands::plan", "`cram plan`: core"),
        ("commands::reproduce", "`cram reproduce`: runs cram itself"),
        ("commands::score", "`cram score`: core"),
        ("commands::zip", "`cram zip|unzip`: core"),
    ],
    root_items: &[("outln", ""), ("out", ""), ("errln", "")],
    least_paths: 40,
};

const APP: Layering = Layering {
    dir: "app",
    layers: &[
        ("loading", "model bytes from a same-origin URL (Cache Storage), a hub id or picked files: web APIs only"),
        ("protocol", "the typed requests and events between the page and its compute side: core's types, loading's files"),
        ("share", "a `.cram` as a link, with the model named: loading's hub base"),
        ("engine", "the compute side's device and model: the protocol's device choice"),
        ("compute", "everything that touches the model, answering requests with events: engine, loading, protocol"),
        ("backend", "where the compute side runs (Web Worker or the page): compute, protocol"),
        ("state", "the page's signals: the protocol's data, share's links"),
        ("run", "one compression as the page sees it: backend, state"),
        ("cram_io", "`.cram` downloads: loading's errors"),
        ("views", "the page and what its components share: everything below"),
        ("views::bits", "the bit chart"),
        ("views::live", "the token strip, curves and heat strip"),
        ("views::lockin", "how the text locks in, and the replay: live's rows"),
        ("views::compare", "methods side by side: live's drawing"),
        ("views::capacity", "the capacity experiment's plot: live's sizes"),
        ("views::controls", "the text and the recipe: run, backend"),
        ("views::model_picker", "loading a model: backend, loading, share"),
        ("views::result", "the reconstruction, export, Share, import: the model picker (a link loads its model)"),
        ("views::gallery", "the gallery's files decoded on a click: the model picker, result's decoding"),
        ("views::geometry", "what the vectors are beside the token embeddings"),
        ("views::teach", "the guided walk: the bit chart"),
    ],
    root_items: &[("start", "")],
    least_paths: 40,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `report/tables.rs` → `["report", "tables"]`; `commands/mod.rs` → `["commands"]`; the crate
/// root (`lib.rs`, `main.rs`) → `[]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

impl Layering {
    /// The index of the longest entry `path` starts with.
    fn layer_of(&self, path: &[String]) -> Option<usize> {
        self.layers
            .iter()
            .enumerate()
            .filter(|(_, (entry, _))| {
                let entry: Vec<&str> = entry.split("::").collect();
                entry.len() <= path.len() && entry.iter().zip(path).all(|(a, b)| a == b)
            })
            .max_by_key(|(_, (entry, _))| entry.split("::").count())
            .map(|(i, _)| i)
    }

    /// What is wrong with the crate's layering (nothing: empty), and how many paths were checked.
    fn problems(&self) -> (Vec<String>, usize) {
        let src = root().join(self.dir).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.sort();
        let (mut problems, mut checked) = (Vec::new(), 0);
        for file in &files {
            let rel = file.strip_prefix(&src).expect("under src");
            let shown = format!("{}/src/{}", self.dir, rel.display());
            let code = code_only(&std::fs::read_to_string(file).expect("a readable source file"));
            let me = module_path(rel);
            if me.is_empty() {
                // the root declares the modules: each needs a place
                for name in declared_modules(&code) {
                    if self.layer_of(std::slice::from_ref(&name)).is_none_or(|i| self.layers[i].0 != name) {
                        problems.push(format!("{shown}: module `{name}` has no place in the layers of {}", self.dir));
                    }
                }
                continue;
            }
            let Some(mine) = self.layer_of(&me) else {
                problems.push(format!("{shown}: module `{}` has no place in the layers of {}", me.join("::"), self.dir));
                continue;
            };
            for (target, written) in reached(&code, &me) {
                checked += 1;
                let theirs = match target.first().and_then(|first| self.root_items.iter().find(|(item, _)| item == first)) {
                    Some((_, "")) => continue,
                    Some((_, from)) => self.layer_of(&[from.to_string()]),
                    None if target.is_empty() => continue,
                    None => self.layer_of(&target),
                };
                match theirs {
                    None => problems.push(format!("{shown}: `{written}` names a module that has no place in the layers of {}", self.dir)),
                    Some(t) if t > mine => {
                        problems.push(format!("{shown} ({}): `{written}` reaches {}, a layer after it", self.layers[mine].0, self.layers[t].0))
                    }
                    Some(_) => {}
                }
            }
        }
        (problems, checked)
    }

    fn check(&self) {
        let (problems, checked) = self.problems();
        assert!(checked >= self.least_paths, "{}: only {checked} paths found: is the parser broken?", self.dir);
        assert!(problems.is_empty(), "imports against the layers of {}:\n{}", self.dir, problems.join("\n"));
    }
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

/// The modules a crate root declares (`mod x;`, `pub mod x;`).
fn declared_modules(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod "))?;
            rest.strip_suffix(';').map(str::to_string)
        })
        .collect()
}

/// The `::`-separated identifiers at the start of `s` (`a::b::C, ...` → `["a", "b", "C"]`); a
/// `{` group gives each of its items.
fn paths(s: &str) -> Vec<Vec<String>> {
    let mut head = Vec::new();
    let mut rest = s;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            return items(group).into_iter().flat_map(paths).map(|tail| head.iter().cloned().chain(tail).collect()).collect();
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end > 0 {
            head.push(rest[..end].to_string());
        }
        match rest[end..].strip_prefix("::") {
            Some(after) => rest = after,
            None => return vec![head],
        }
    }
}

/// The comma-separated items of a `{` group (its text after the `{`), up to its `}`.
fn items(group: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.into_iter().map(str::trim).filter(|item| !item.is_empty()).collect()
}

/// Every module path that `code` (the module `me`) reaches by `crate::` or `super::`, from the
/// crate root, with the path as written.
fn reached(code: &str, me: &[String]) -> Vec<(Vec<String>, String)> {
    let tests_at = code.find("mod tests {").unwrap_or(code.len());
    let mut out = Vec::new();
    for (prefix, is_super) in [("crate::", false), ("super::", true)] {
        for (at, _) in code.match_indices(prefix) {
            // `crate::` inside `$crate::`, `cram_crate::` or `a::crate::` is not a path of this crate
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
                continue;
            }
            let tail = &code[at + prefix.len()..];
            let written: String = tail.chars().take_while(|c| !c.is_whitespace() && *c != ';' && *c != '(').collect();
            let base: Vec<String> = match is_super {
                false => Vec::new(),
                // a file's `mod tests` is inside the file's module: its `super` is the module
                true if at > tests_at => me.to_vec(),
                true => me[..me.len().saturating_sub(1)].to_vec(),
            };
            for p in paths(tail) {
                let p: Vec<String> = p.into_iter().filter(|s| s != "self").collect();
                out.push((base.iter().cloned().chain(p).collect(), format!("{prefix}{written}")));
            }
        }
    }
    out
}

#[test]
fn core_modules_use_only_the_layers_before_them() {
    CORE.check();
}

#[test]
fn the_cram_commands_modules_use_only_the_layers_before_them() {
    CLI.check();
}

#[test]
fn the_web_apps_modules_use_only_the_layers_before_them() {
    APP.check();
}

#[test]
fn the_check_sees_paths_groups_supers_and_reexports() {
    let me = vec!["commands".to_string(), "compress".to_string()];
    let code = code_only(
        "use crate::{cli::A, report::{self, B}};\n// crate::sweep\nuse super::encoder::X;\nfn f() { super::load_model(); }\nmod tests {\n use super::*;\n}",
    );
    let targets: Vec<String> = reached(&code, &me).into_iter().map(|(p, _)| p.join("::")).collect();
    assert_eq!(targets, ["cli::A", "report", "report::B", "commands::encoder::X", "commands::load_model", "commands::compress"]);
    assert_eq!(CLI.layer_of(&["report".into(), "tables".into(), "Format".into()]).map(|i| CLI.layers[i].0), Some("report::tables"));
    assert_eq!(CORE.layer_of(&["weights".into(), "gguf".into(), "GgufFile".into()]).map(|i| CORE.layers[i].0), Some("weights::gguf"));
    assert_eq!(CORE.layer_of(&["weights".into(), "safetensors".into()]).map(|i| CORE.layers[i].0), Some("weights"));
    assert_eq!(declared_modules("pub mod a;\nmod b;\n#[cfg(test)]\nmod tests {\n}"), ["a", "b"]);
}

/// A path against the order is caught and named (the check would pass a crate it cannot read).
#[test]
fn an_import_against_the_order_is_named() {
    let me = vec!["loading".to_string()];
    let code = code_only("use crate::views::App;");
    let (target, written) = reached(&code, &me).remove(0);
    let (mine, theirs) = (APP.layer_of(&me).unwrap(), APP.layer_of(&target).unwrap());
    assert!(theirs > mine && written == "crate::views::App", "{target:?}");
}
