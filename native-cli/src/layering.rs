//! The layers of the `cram` command, leaves first: a module may use the modules before it in
//! [`LAYERS`], never one after it, so that no import circle forms among them (issue #31), as
//! `core/tests/layering.rs` holds core to its order.
//!
//! The test reads every `native-cli/src/**/*.rs` but the crate root (`main.rs`, which declares the
//! modules and dispatches to the commands: above all of them), finds each `crate::` and `super::`
//! path in code (comments left out, `use crate::{a, b::c}` groups item by item; a `super::` inside
//! a file's `mod tests` is the file's own module) and fails naming the file and the path that
//! reaches a module later in the order. A file belongs to the longest entry its module path starts
//! with.

use std::path::{Path, PathBuf};

/// The modules, leaves first, each with why it sits where it does.
const LAYERS: &[(&str, &str)] = &[
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
    ("sweep", "the sweep engine (plan, shards, resumable results): cli's sweep flags, progress, results"),
    ("recipe", "the flags and the loaded model resolved into a complete recipe: cli, core"),
    ("commands", "what the subcommands share: loading the model, checking outputs, reading texts"),
    ("commands::encoder", "`cram encoder train|eval`: recipe, report, results"),
    ("commands::compress", "`cram compress`: recipe, progress"),
    ("commands::capacity", "`cram capacity` and `cram merge`: recipe, sweep, report"),
    ("commands::compare", "`cram compare`: recipe, sweep, report, the encoder files of commands::encoder"),
    ("commands::bench", "`cram bench`: core, host_memory"),
    ("commands::data", "`cram data`: core"),
    ("commands::decompress", "`cram decompress`: core"),
    ("commands::info", "`cram info`: core"),
    ("commands::plan", "`cram plan`: core"),
    ("commands::reproduce", "`cram reproduce`: runs cram itself"),
    ("commands::score", "`cram score`: core"),
    ("commands::zip", "`cram zip|unzip`: core"),
    ("layering", "this test: reads the sources, uses none of them"),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("native-cli/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `report/tables.rs` → `["report", "tables"]`; `commands/mod.rs` → `["commands"]`.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under native-cli/src");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "main" {
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

/// Every module path that `file` (the module `me`) reaches by `crate::` or `super::`, with the
/// path as written.
fn reached(code: &str, me: &[String]) -> Vec<(Vec<String>, String)> {
    let tests_at = code.find("mod tests {").unwrap_or(code.len());
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", None), ("super::", Some(()))] {
        for (at, _) in code.match_indices(prefix) {
            // `crate::` inside `$crate::` or an identifier is not a path of this crate
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
                continue;
            }
            let tail = &code[at + prefix.len()..];
            let written: String = tail.chars().take_while(|c| !c.is_whitespace() && *c != ';' && *c != '(').collect();
            let root: Vec<String> = match base {
                None => Vec::new(),
                // a file's `mod tests` is inside the file's module: its `super` is the module
                Some(()) if at > tests_at => me.to_vec(),
                Some(()) => me[..me.len().saturating_sub(1)].to_vec(),
            };
            for p in paths(tail) {
                out.push((root.iter().cloned().chain(p).collect(), format!("{prefix}{written}")));
            }
        }
    }
    out
}

#[test]
fn every_module_uses_only_the_modules_before_it() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for file in &files {
        let me = module_path(file);
        if me.is_empty() {
            continue;
        }
        let mine = layer_of(&me).unwrap_or_else(|| panic!("{}: module {} is in no layer of LAYERS", file.display(), me.join("::")));
        let code = code_only(&std::fs::read_to_string(file).expect("a readable source file"));
        for (target, written) in reached(&code, &me) {
            checked += 1;
            if let Some(theirs) = layer_of(&target)
                && theirs > mine
            {
                wrong.push(format!("{}: `{written}` reaches {}, a layer after {}", file.display(), LAYERS[theirs].0, LAYERS[mine].0));
            }
        }
    }
    assert!(checked > 50, "only {checked} paths found: is the parser broken?");
    assert!(wrong.is_empty(), "imports against the order of LAYERS:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_paths_groups_and_supers() {
    let me = vec!["commands".to_string(), "compress".to_string()];
    let code = "use crate::{cli::A, report::{self, B}};\nuse super::encoder::X;\nfn f() { super::load_model(); }\nmod tests {\n use super::*;\n}";
    let targets: Vec<String> = reached(code, &me).into_iter().map(|(p, _)| p.join("::")).collect();
    assert_eq!(targets, ["cli::A", "report::self", "report::B", "commands::encoder::X", "commands::load_model", "commands::compress"]);
    assert_eq!(layer_of(&["report".into(), "tables".into(), "Format".into()]), Some(5));
    assert_eq!(layer_of(&["sweep".into()]), Some(10));
}
