//! README's figures are reproducible by the commands printed beside them (#37, 8): every table row of
//! README.md and docs/**/*.md that starts with a `cram plan ...` command is run, and the GB figures
//! of the row must be what the command prints (weights, activations and checkpointed, logits, total
//! and checkpointed, as `cram plan` rounds them).

use std::path::{Path, PathBuf};

use cram_tests::*;

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The numbers before each " GB" in `cells`, in order.
fn gigabytes(cells: &str) -> Vec<String> {
    let words: Vec<&str> = cells.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '|').filter(|w| !w.is_empty()).collect();
    words.windows(2).filter(|w| w[1] == "GB").map(|w| w[0].to_string()).collect()
}

#[test]
fn every_plan_figure_is_what_its_command_prints() {
    let mut files = vec![root().join("README.md")];
    markdown_files(&root().join("docs"), &mut files);
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for line in text.lines().filter(|l| l.starts_with("| `cram plan ")) {
            let command = line.split('`').nth(1).unwrap();
            let figures = gigabytes(line.splitn(3, '`').nth(2).unwrap());
            assert_eq!(figures.len(), 6, "{}: a plan row has 6 figures: {line}", file.display());
            let args: Vec<&str> = command.split_whitespace().skip(1).chain(["--json"]).collect();
            let out = std::process::Command::new(cram_bin()).args(&args).current_dir(root()).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{command}: {}", String::from_utf8_lossy(&out.stderr));
            let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let gb = |key: &str| format!("{:.2}", plan[key].as_u64().unwrap() as f64 / 1e9);
            let printed =
                ["weights_bytes", "activations_bytes", "activations_checkpointed_bytes", "logits_bytes", "total_bytes", "total_checkpointed_bytes"].map(gb);
            assert_eq!(figures, printed, "{}: `{command}` prints other figures than its row: {line}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 2, "README's plan rows were not found");
}
