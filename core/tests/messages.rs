//! Core speaks no front end's language: no message of cram-core names a flag of the CLI (`--mem`),
//! since the app shows the same messages to people who have no flags. Errors about a setting are
//! typed (`cram_core::Error::Setting`, a `ConfigError` naming a `Setting`) and each front end words
//! them: the CLI with its flags, the app with its controls.
//!
//! The test reads every `core/src/**/*.rs` and fails, naming the file and the line, where code
//! (comments left out) holds `--` before a letter. The one exception is the shell command that
//! fetches the default model (pip's `--no-deps`), which the message gives to be run as written.
//! `Error::Setting`'s own words are checked variant by variant in `core/src/error.rs`.

use std::path::{Path, PathBuf};

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

/// The line without its `//` comment (a `//` inside a string literal is kept).
fn code_of(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '/' if !in_string && line[i..].starts_with("//") => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Whether `code` holds a flag: `--` followed by a letter.
fn names_a_flag(code: &str) -> bool {
    code.match_indices("--").any(|(i, _)| code[i + 2..].starts_with(|c: char| c.is_ascii_alphabetic()))
}

#[test]
fn no_core_message_names_a_flag() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        let shown = file.strip_prefix(&src).expect("under core/src").display().to_string();
        for (n, line) in text.lines().enumerate() {
            let code = code_of(line);
            if names_a_flag(code) && !(shown == "aliases.rs" && code.contains("pip download --no-deps")) {
                problems.push(format!("{shown}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(files.len() > 50, "only {} files under core/src", files.len());
    assert!(problems.is_empty(), "core names a front end's flag (make it a typed error, see core/src/error.rs):\n{}", problems.join("\n"));
}

#[test]
fn the_scan_sees_flags_in_code_not_in_comments() {
    assert!(names_a_flag(code_of(r#"return Err(Error::Input("--batch must be at least 1".into())); // --x"#)));
    assert!(!names_a_flag(code_of("/// Sets `--mem`.")));
    assert!(!names_a_flag(code_of(r#"let url = "https://x"; // see --mem"#)));
    assert!(!names_a_flag(code_of("let x = a - -1; // ---")));
}
