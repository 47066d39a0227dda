//! What README.md and the guides in docs/ print must stay true of the binary:
//! - every `cram plan ...` command in them runs, and every figure in GB printed beside it (in its
//!   table row, its code line or its paragraph) is one that the command prints;
//! - README's two newcomer commands exist as written (their scripts, and what README says they run),
//!   and every `cram ...` line of the code blocks names a subcommand that takes those flags;
//! - every relative link in README.md, DEVELOPERS.md and docs/*.md points at a file that exists, and
//!   at a heading of it where the link names one.
//!
//! `cram plan` reads configs only (data/configs/), so this is quick; the plans of the default model
//! (`--model smollm2-135m`, read from its GGUF's metadata) run where it is fetched.

use std::path::{Path, PathBuf};
use std::process::Command;

use cram_tests::*;

/// README.md and every guide in docs/, as (path relative to the root, text).
fn docs() -> Vec<(String, String)> {
    let mut files = vec!["README.md".to_string()];
    let mut guides: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs/ entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    guides.sort();
    files.extend(guides);
    files.into_iter().map(|f| (f.clone(), std::fs::read_to_string(root().join(&f)).unwrap_or_else(|e| panic!("{f}: {e}")))).collect()
}

/// Runs `cram args...` from the repository root, as the docs' commands are written.
fn cram_at_root(args: &[String]) -> Run {
    let out = Command::new(cram_bin()).args(args).current_dir(root()).output().expect("cram runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A piece of a document where a command and the figures beside it sit together: one table row
/// (without the columns of measured values), one line of a code block, or one paragraph or list item.
struct Context {
    file: String,
    line: usize,
    text: String,
    /// In a code block: commands are whole lines, not `code spans`.
    code: bool,
}

fn contexts(file: &str, text: &str) -> Vec<Context> {
    let mut out = Vec::new();
    let mut in_code = false;
    let mut header: Option<Vec<String>> = None;
    let mut para: Option<Context> = None;
    let flush = |para: &mut Option<Context>, out: &mut Vec<Context>| out.extend(para.take());
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let t = line.trim();
        if t.starts_with("```") {
            flush(&mut para, &mut out);
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push(Context { file: file.into(), line: line_no, text: line.into(), code: true });
            continue;
        }
        if t.starts_with('|') {
            flush(&mut para, &mut out);
            let cells: Vec<String> = t.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
            match &header {
                None => header = Some(cells),
                Some(_) if cells.iter().all(|c| c.chars().all(|ch| matches!(ch, '-' | ':' | ' '))) => {}
                Some(h) => {
                    // measured values stand beside a plan in some tables; only the plan's figures are its own
                    let kept: Vec<&str> =
                        cells.iter().enumerate().filter(|(j, _)| !h.get(*j).is_some_and(|name| name.contains("measured"))).map(|(_, c)| c.as_str()).collect();
                    out.push(Context { file: file.into(), line: line_no, text: kept.join(" | "), code: false });
                }
            }
            continue;
        }
        header = None;
        let starts_item = t.starts_with("- ") || t.split_once(". ").is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if t.is_empty() || t.starts_with('#') || starts_item {
            flush(&mut para, &mut out);
        }
        if t.is_empty() {
            continue;
        }
        if t.starts_with('#') {
            out.push(Context { file: file.into(), line: line_no, text: t.into(), code: false });
            continue;
        }
        match &mut para {
            Some(p) => {
                p.text.push(' ');
                p.text.push_str(t);
            }
            None => para = Some(Context { file: file.into(), line: line_no, text: t.into(), code: false }),
        }
    }
    flush(&mut para, &mut out);
    out
}

/// The `cram plan` commands of a context, each with where it starts in the text and its arguments
/// after `cram`.
fn plan_commands(ctx: &Context) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    if ctx.code {
        let t = ctx.text.trim_start();
        if t.starts_with("cram plan ") {
            let start = ctx.text.len() - t.len();
            let cmd = t.split(" #").next().unwrap_or(t);
            found.push((start, cmd.split_whitespace().skip(1).map(String::from).collect()));
        }
        return found;
    }
    // `code spans`: the text between every other backtick
    let ticks: Vec<usize> = ctx.text.match_indices('`').map(|(i, _)| i).collect();
    for pair in ticks.chunks(2) {
        if let [a, b] = pair {
            let span = &ctx.text[a + 1..*b];
            if span.starts_with("cram plan ") {
                found.push((*a, span.split_whitespace().skip(1).map(String::from).collect()));
            }
        }
    }
    found
}

/// A command written with placeholders (`--tokens N`, `[--mem K]`, `<name>`) is a usage line, not a run.
fn is_concrete(args: &[String]) -> bool {
    let placeholder = args.iter().any(|a| a.contains(['<', '>', '[', ']', '|']) || a.contains("..."));
    let tokens_numeric = args.iter().position(|a| a == "--tokens").and_then(|i| args.get(i + 1)).is_some_and(|n| n.parse::<usize>().is_ok());
    !placeholder && tokens_numeric
}

/// Every "12.34 GB" in `text`, with where it starts.
fn gb_figures(text: &str) -> Vec<(usize, String)> {
    let mut figures = Vec::new();
    for (at, _) in text.match_indices(" GB") {
        let before = &text[..at];
        let len: usize = before.chars().rev().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',').map(char::len_utf8).sum();
        let number = &before[before.len() - len..];
        if number.contains('.') && number.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            figures.push((at - number.len(), number.replace(',', "")));
        }
    }
    figures
}

#[test]
fn every_plan_figure_in_the_docs_is_what_its_command_prints() {
    let have_default_model = default_model().is_some();
    let mut checked = Vec::new();
    for (file, text) in docs() {
        for ctx in contexts(&file, &text) {
            let commands: Vec<(usize, Vec<String>)> = plan_commands(&ctx).into_iter().filter(|(_, args)| is_concrete(args)).collect();
            if commands.is_empty() {
                continue;
            }
            let figures = gb_figures(&ctx.text);
            for (k, (start, args)) in commands.iter().enumerate() {
                let model = args.iter().position(|a| a == "--model").and_then(|i| args.get(i + 1));
                let needs_default_model = model.is_none_or(|m| m == cram_core::aliases::DEFAULT_MODEL);
                if needs_default_model && !have_default_model {
                    continue;
                }
                // the figures after this command and before the next; the first command also owns those before it
                let end = commands.get(k + 1).map_or(usize::MAX, |c| c.0);
                let mine: Vec<&String> = figures.iter().filter(|(at, _)| (k == 0 || *at > *start) && *at < end).map(|(_, f)| f).collect();
                let run = cram_at_root(args);
                assert_eq!(run.code, 0, "{}:{}: `cram {}` failed:\n{}", ctx.file, ctx.line, args.join(" "), run.stderr);
                let printed: Vec<String> = gb_figures(&run.stdout).into_iter().map(|(_, f)| f).collect();
                for f in &mine {
                    assert!(
                        printed.contains(f),
                        "{}:{}: {f} GB is printed beside `cram {}`, which prints {printed:?}:\n{}",
                        ctx.file,
                        ctx.line,
                        args.join(" "),
                        run.stdout
                    );
                }
                checked.push((ctx.file.clone(), ctx.line, args.join(" "), mine.len()));
            }
        }
    }
    // the docs hold plans with figures: README's headline, gpu.md's tables; none may go unseen
    let with_figures = |file: &str| checked.iter().filter(|c| c.0 == file && c.3 > 0).count();
    assert!(with_figures("README.md") >= 1, "README.md has no checked plan figure: {checked:?}");
    assert!(with_figures("docs/gpu.md") >= 10, "docs/gpu.md has fewer checked plans than expected: {checked:?}");
    let table1 = checked.iter().find(|c| c.2.contains("llama-3.1-8b.json --tokens 1568 --dtype bf16 --layout paper --method memory") && c.0 == "docs/gpu.md");
    assert!(table1.is_some_and(|c| c.3 >= 2), "the paper's headline plan in docs/gpu.md is not checked: {checked:?}");
}

/// The text of README's section `title`, up to the next `## ` heading.
fn section<'a>(readme: &'a str, title: &str) -> &'a str {
    let start = readme.find(&format!("\n## {title}\n")).unwrap_or_else(|| panic!("README.md has no section `## {title}`"));
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    &rest[..end]
}

/// The lines of the code blocks in `text`.
fn code_lines(text: &str) -> Vec<&str> {
    let mut in_code = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if in_code {
            lines.push(line);
        }
    }
    lines
}

#[test]
fn readme_two_commands_exist_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let two = section(&readme, "The two commands");
    let scripts: Vec<&str> = code_lines(two).iter().filter_map(|l| l.trim().strip_prefix("bash ")).collect();
    assert_eq!(scripts, ["scripts/demo.sh", "scripts/test.sh"], "README's two commands");
    for s in &scripts {
        assert!(root().join(s).is_file(), "README's command `bash {s}`: {s} is missing");
    }
    // what README says each one does
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "bash scripts/test.sh"), "README says CI (.ci/run) runs `bash scripts/test.sh`:\n{ci}");
    // the cram lines README says demo.sh runs: the same subcommand, flags and input files there
    let demo = std::fs::read_to_string(root().join("scripts/demo.sh")).unwrap();
    let runs: Vec<&str> = code_lines(two).iter().filter_map(|l| l.trim().strip_prefix("cram ")).collect();
    assert_eq!(runs.len(), 2, "README shows the demo's compress and decompress: {runs:?}");
    for run in runs {
        let cmd = run.split(" #").next().unwrap().trim();
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let inputs: Vec<&str> = words[1..].iter().copied().filter(|w| w.starts_with('-') || root().join(w).is_file()).collect();
        assert!(
            demo.lines().any(|l| l.contains(&format!("\" {} ", words[0])) && inputs.iter().all(|w| l.contains(w))),
            "README says scripts/demo.sh runs `cram {cmd}`; it does not:\n{demo}"
        );
    }
    assert!(root().join("examples/hello.txt").is_file());
}

/// The help of `cram path...`.
fn help(path: &[&str]) -> String {
    let mut args: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    args.push("--help".into());
    let run = cram_at_root(&args);
    assert_eq!(run.code, 0, "`cram {}` failed:\n{}", args.join(" "), run.stderr);
    run.stdout
}

/// Whether `help` lists `flag` (`--mem` and not only `--mems`).
fn lists_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let before_ok = i == 0 || !help[..i].ends_with(|c: char| c.is_alphanumeric() || c == '-');
        let after_ok = !help[i + flag.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_');
        before_ok && after_ok
    })
}

/// The `cram ...` commands of the code blocks in `text`, continuation lines (`\`) joined, comments cut.
fn cram_lines(text: &str) -> Vec<String> {
    let mut joined = Vec::new();
    let mut pending = String::new();
    for line in code_lines(text) {
        let line = line.split(" #").next().unwrap().trim();
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                joined.push(std::mem::take(&mut pending));
            }
        }
    }
    joined.into_iter().filter_map(|l| l.strip_prefix("cram ").map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))).collect()
}

#[test]
fn every_cram_line_of_the_docs_names_a_subcommand_with_those_flags() {
    let mut readme_subcommands = Vec::new();
    for (file, text) in docs() {
        for cmd in cram_lines(&text) {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            // the subcommand, and the next word where it has subcommands of its own (`data books`, `encoder train`)
            let mut path = vec![words[0]];
            let mut h = help(&path);
            if h.contains("\nCommands:") {
                path.push(words[1]);
                h = help(&path);
            }
            for word in &words[path.len()..] {
                let flag = word.trim_matches(['[', ']', '(', ')']).split('=').next().unwrap();
                if flag.starts_with('-') && flag.len() > 1 {
                    assert!(lists_flag(&h, flag), "{file}: `cram {cmd}`: `cram {} --help` has no {flag}:\n{h}", path.join(" "));
                }
            }
            if file == "README.md" {
                readme_subcommands.push(path.join(" "));
            }
        }
    }
    let tour = [
        "info",
        "score",
        "compress",
        "decompress",
        "capacity",
        "compare",
        "merge",
        "bench",
        "zip",
        "unzip",
        "plan",
        "data books",
        "encoder train",
        "encoder eval",
    ];
    for sub in tour {
        assert!(readme_subcommands.iter().any(|s| s == sub), "README's tour of the commands leaves out `cram {sub}`: {readme_subcommands:?}");
    }
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn headings(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn relative_links_in_the_docs_point_at_files_and_headings_that_exist() {
    let mut files: Vec<(String, String)> = docs();
    files.push(("DEVELOPERS.md".into(), std::fs::read_to_string(root().join("DEVELOPERS.md")).unwrap()));
    let mut links = 0;
    for (file, text) in &files {
        let dir: PathBuf = Path::new(file).parent().map(Path::to_path_buf).unwrap_or_default();
        for (i, _) in text.match_indices("](") {
            let target = text[i + 2..].split(')').next().unwrap();
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let resolved = if path.is_empty() { root().join(file) } else { root().join(&dir).join(path) };
            assert!(resolved.exists(), "{file}: the link ({target}) points at {}, which does not exist", resolved.display());
            if !anchor.is_empty() {
                let linked = std::fs::read_to_string(&resolved).unwrap();
                assert!(headings(&linked).iter().any(|h| h == anchor), "{file}: the link ({target}) names no heading of {path}: {:?}", headings(&linked));
            }
            links += 1;
        }
    }
    assert!(links >= 10, "only {links} links found");
}

#[test]
fn the_figure_finder_sees_tables_code_and_paragraphs() {
    let doc = "| run | total | measured peak |\n|---|---|---|\n| `cram plan --model m --tokens 4` | 1.00 GB | 2.00 GB |\n\n```sh\ncram plan --model m --tokens 5   # 3.00 GB\n```\n\nA plan, `cram plan\n--model m --tokens 6`: 4.00 GB; `cram plan --model m --tokens N` is usage.\n";
    let found: Vec<(Vec<String>, Vec<String>)> = contexts("x.md", doc)
        .iter()
        .flat_map(|c| plan_commands(c).into_iter().filter(|(_, a)| is_concrete(a)).map(|(_, a)| (a, gb_figures(&c.text).into_iter().map(|(_, f)| f).collect())))
        .collect();
    let tokens: Vec<&str> = found.iter().map(|(a, _)| a[4].as_str()).collect();
    assert_eq!(tokens, ["4", "5", "6"]);
    assert_eq!(found[0].1, ["1.00"], "the measured column is not the plan's");
    assert_eq!(found[1].1, ["3.00"]);
    assert_eq!(found[2].1, ["4.00"]);
    assert_eq!(gb_figures("1,234.50 GB and 80 GB"), [(0, "1234.50".to_string())]);
    assert_eq!(slug("Planning a large run (`cram plan`)"), "planning-a-large-run-cram-plan");
}
