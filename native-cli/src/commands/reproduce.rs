//! `cram reproduce`: the papers' protocols on the shipped data for the default model, measured
//! against expected values with tolerance bands. The expectations (`data/reproduce/expected.json`,
//! built into the binary) give each check as the `cram` command that measured it; reproduce runs that
//! very command (this binary, its output as JSON), reads the measure from the JSON row it printed, and
//! prints measured beside expected. Sweeps write into `--out` and resume there, so an interrupted full
//! run picks up where it stopped.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::cli::ReproduceArgs;

/// The expectations shipped with cram.
const EXPECTED: &str = include_str!("../../../data/reproduce/expected.json");

/// A file of expectations.
#[derive(Debug, Deserialize)]
struct Expectations {
    /// The model the values were measured on (the default model).
    model: String,
    checks: Vec<Check>,
}

/// One run and what it must measure.
#[derive(Debug, Deserialize)]
struct Check {
    /// What the run reproduces, in words.
    name: String,
    /// Part of `--quick`.
    quick: bool,
    /// The `cram` arguments (after `cram`, before the model flags); `{out}` is replaced by a path
    /// under `--out`.
    args: Vec<String>,
    /// What measured the expected values: the command, the commit, the machine.
    measured_by: String,
    expect: Vec<Expect>,
}

/// One measure of a check's output and its band.
#[derive(Debug, Deserialize)]
struct Expect {
    /// For sweeps, the table row: its method, vectors and length.
    #[serde(default)]
    row: Option<RowKey>,
    /// A JSON pointer into the row or the printed object (`/mean_steps`, `/bits/lm_zip_bits`).
    what: String,
    expected: f64,
    low: f64,
    high: f64,
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct RowKey {
    method: String,
    mem: usize,
    length: usize,
}

/// A line of the report (`--json`).
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    check: &'a str,
    row: Option<&'a RowKey>,
    what: &'a str,
    measured: Option<f64>,
    expected: f64,
    low: f64,
    high: f64,
    ok: bool,
}

pub fn run(args: ReproduceArgs) -> Result<ExitCode> {
    let text = match &args.expectations {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => EXPECTED.to_string(),
    };
    let expectations: Expectations = serde_json::from_str(&text).context("the expectations are not valid")?;
    let checks: Vec<&Check> = expectations.checks.iter().filter(|c| c.quick || !args.quick).collect();
    if !Path::new("data/eval/books.jsonl").exists() {
        bail!("cram reproduce reads the shipped data (data/eval/books.jsonl, data/vocab_100k.txt): run it from the repository root");
    }
    if args.model.model != expectations.model {
        errln!("warning: the expected values were measured on {}; this runs {}", expectations.model, args.model.model);
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let cram = std::env::current_exe().context("cannot find the cram binary")?;
    let mut outcomes = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        errln!("== [{}/{}] {}", i + 1, checks.len(), check.name);
        let printed = run_check(&cram, check, &args)?;
        for e in &check.expect {
            let measured = measure(&printed, e);
            let ok = measured.is_some_and(|m| m >= e.low && m <= e.high);
            outcomes.push(Outcome { check: &check.name, row: e.row.as_ref(), what: &e.what, measured, expected: e.expected, low: e.low, high: e.high, ok });
        }
    }
    print_report(&outcomes, &checks, args.json);
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if failed > 0 {
        errln!("{failed} of {} measures fell outside their bands", outcomes.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a check's command and returns the JSON objects it printed.
fn run_check(cram: &Path, check: &Check, args: &ReproduceArgs) -> Result<Vec<serde_json::Value>> {
    let slug: String = check.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let out: PathBuf = args.out.join(slug);
    let mut cmd: Vec<String> = check.args.iter().map(|a| a.replace("{out}", &out.display().to_string())).collect();
    cmd.extend(["--model".to_string(), args.model.model.clone(), "--device".to_string(), args.model.device_name()]);
    if let Some(d) = &args.model.dtype {
        use clap::ValueEnum;
        cmd.extend(["--dtype".to_string(), d.to_possible_value().expect("every dtype has a name").get_name().to_string()]);
    }
    errln!("cram {}", cmd.join(" "));
    let output =
        Command::new(cram).args(&cmd).stdout(Stdio::piped()).stderr(Stdio::inherit()).output().with_context(|| format!("cannot run {}", cram.display()))?;
    // Exit 1 (a text did not cram completely) is a measurement, not an error; 2 and signals are.
    if !matches!(output.status.code(), Some(0 | 1)) {
        bail!("`cram {}` failed ({})", cmd.join(" "), output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).filter(|v| v.is_object()).collect())
}

/// The measure `e` asks for in the printed objects: the row it names, else the last object.
fn measure(printed: &[serde_json::Value], e: &Expect) -> Option<f64> {
    let object = match &e.row {
        Some(key) => printed.iter().find(|v| serde_json::from_value::<RowKey>((*v).clone()).ok().as_ref() == Some(key))?,
        None => printed.last()?,
    };
    let value = object.pointer(&e.what)?;
    value.as_f64().or_else(|| value.as_bool().map(|b| f64::from(u8::from(b))))
}

fn print_report(outcomes: &[Outcome], checks: &[&Check], json: bool) {
    if json {
        for o in outcomes {
            outln!("{}", serde_json::to_string(o).expect("outcomes serialise"));
        }
        return;
    }
    out!("{}", report_text(outcomes, checks));
}

/// The report as text in 80 columns: each check's name, then a line per measure (what, measured,
/// ok or OUTSIDE) with its expected value and band indented below; last, what measured each check,
/// wrapped.
fn report_text(outcomes: &[Outcome], checks: &[&Check]) -> String {
    let what = |o: &Outcome| match o.row {
        Some(r) => format!("{} {}x{}: {}", r.method, r.mem, r.length, o.what.trim_start_matches('/')),
        None => o.what.trim_start_matches('/').to_string(),
    };
    let width = outcomes.iter().map(|o| what(o).len()).max().unwrap_or(0).min(WIDTH - 25);
    let mut s = String::new();
    let mut check = "";
    for o in outcomes {
        if o.check != check {
            check = o.check;
            s += &wrap(check, "", WIDTH);
        }
        let measured = o.measured.map_or("missing".to_string(), |m| format!("{m:.3}"));
        s += &format!("  {:<width$}  {:>12}  {}\n", what(o), measured, if o.ok { "ok" } else { "OUTSIDE" });
        s += &format!("      expected {}, band [{}, {}]\n", o.expected, o.low, o.high);
    }
    s += "\n";
    for c in checks {
        s += &wrap(&format!("{}: measured by {}", c.name, c.measured_by), "    ", WIDTH);
    }
    s
}

/// The report's width: an 80-column terminal.
const WIDTH: usize = 80;

/// `text` broken into lines of at most `width` characters at spaces (a longer word stands alone),
/// the lines after the first indented by `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let fits = line.chars().count() + 1 + word.chars().count() <= width;
        if line.is_empty() || !fits {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line = if lines.is_empty() { word.to_string() } else { format!("{indent}{word}") };
        } else {
            line.push(' ');
            line.push_str(word);
        }
    }
    lines.push(line);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #37: the report fits an 80-column terminal, every measure of every shipped check included
    /// (the longest names and the widest bands), and keeps what it says: measured, expected, band.
    #[test]
    fn the_report_fits_80_columns() {
        let e: Expectations = serde_json::from_str(EXPECTED).unwrap();
        let checks: Vec<&Check> = e.checks.iter().collect();
        let outcomes: Vec<Outcome> = checks
            .iter()
            .flat_map(|c| c.expect.iter().map(move |x| (c, x)))
            .map(|(c, x)| Outcome {
                check: &c.name,
                row: x.row.as_ref(),
                what: &x.what,
                measured: Some(x.expected * 1.01),
                expected: x.expected,
                low: x.low,
                high: x.high,
                ok: true,
            })
            .collect();
        let text = report_text(&outcomes, &checks);
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{} columns: {line:?}", line.chars().count());
        }
        for (o, x) in outcomes.iter().zip(checks.iter().flat_map(|c| &c.expect)) {
            assert!(text.contains(&format!("expected {}, band [{}, {}]", x.expected, x.low, x.high)), "{}", o.what);
            assert!(text.contains(&format!("{:.3}", o.measured.unwrap())), "{}", o.what);
        }
        for c in &checks {
            assert!(text.contains(&c.name), "{}", c.name);
        }
        assert_eq!(wrap("a bb ccc", "  ", 4), "a bb\n  ccc\n");
    }

    /// The shipped expectations parse, every check has measures with ordered bands, and `--quick`
    /// keeps some.
    #[test]
    fn the_shipped_expectations_are_well_formed() {
        let e: Expectations = serde_json::from_str(EXPECTED).unwrap();
        assert_eq!(e.model, cram_core::aliases::DEFAULT_MODEL);
        assert!(e.checks.iter().any(|c| c.quick) && e.checks.iter().any(|c| !c.quick));
        for c in &e.checks {
            assert!(!c.expect.is_empty() && !c.measured_by.contains("PENDING"), "{}", c.name);
            for x in &c.expect {
                assert!(x.low <= x.expected && x.expected <= x.high, "{}: {}", c.name, x.what);
            }
        }
    }
}
