//! Results as tables: the per-cell table in each `--format`, the bits of each cell beside its
//! alternatives, the capacities, the one-line-per-method summary of `cram compare`, and the legend
//! of files holding several runs of a method.

use std::collections::BTreeMap;

use cram_core::metrics::CramMetrics;

use super::statistics::{BitMeans, Row, capacities, groups, rows};
use crate::results::{Record, RunTag};

/// How a table is printed: aligned text that fits 80 columns, the full text table (`wide`), a
/// Markdown table, CSV, or JSON lines (one row each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The main columns, in 80 columns.
    #[default]
    Text,
    /// Every column as text (wider than 80 columns).
    Wide,
    /// A Markdown table.
    Md,
    /// CSV with every column, standard deviations included.
    Csv,
    /// JSON lines, one row each.
    Json,
}

/// For files that hold several runs of a method: one line per run after the first, naming what
/// differs from run [1]. Empty otherwise.
pub fn legend(records: &[Record]) -> String {
    let labels = groups(records);
    let mut first: BTreeMap<&str, &RunTag> = BTreeMap::new();
    let mut out = String::new();
    let mut shown = std::collections::BTreeSet::new();
    for (r, label) in records.iter().zip(&labels) {
        let (Some(tag), true) = (&r.run, label.ends_with(']')) else { continue };
        let base = *first.entry(r.metrics.method.as_str()).or_insert(tag);
        if shown.insert(label.clone()) && !std::ptr::eq(base, tag) && base != tag {
            out += &format!("{label}: differs from {} [1] in {}\n", r.metrics.method, base.differences(tag).join(", "));
        }
    }
    out
}

/// A CSV field of an optional number: empty when absent.
fn csv_opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// The table in `format`. Means come with the half-width of their 95 % confidence interval (`±`);
/// CSV and JSON also carry the standard deviations.
pub fn table_as(rows: &[Row], format: Format) -> String {
    match format {
        Format::Text => compact_table(rows),
        Format::Wide => table(rows),
        Format::Json => rows.iter().map(|r| serde_json::to_string(r).expect("rows serialise") + "\n").collect(),
        Format::Csv => {
            let mut s = String::from(
                "method,mem,length,texts,trainable_parameters,mean_accuracy,accuracy_std,accuracy_ci95,greedy_exact_share,mean_token_gain,token_gain_std,token_gain_ci95,mean_information_gain_bits,information_gain_bits_std,information_gain_bits_ci95,mean_steps,steps_std,steps_ci95,mean_seconds,mean_horizon,mean_raw_bits,mean_vector_bits_16,mean_vector_bits_32,mean_zstd_bits,mean_xz_bits,mean_lm_zip_bits,mean_lm_ce_bits\n",
            );
            for r in rows {
                let bits: Vec<String> = match &r.bits {
                    Some(b) => b.columns().iter().map(|(_, v)| v.map_or(String::new(), |v| v.to_string())).collect(),
                    None => vec![String::new(); 7],
                };
                s += &format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    r.method,
                    r.mem,
                    r.length,
                    r.texts,
                    r.trainable_parameters,
                    r.mean_accuracy,
                    csv_opt(r.accuracy.std),
                    csv_opt(r.accuracy.ci95),
                    r.greedy_exact_share,
                    r.mean_token_gain,
                    csv_opt(r.token_gain.std),
                    csv_opt(r.token_gain.ci95),
                    r.mean_information_gain_bits,
                    csv_opt(r.information_gain_bits.std),
                    csv_opt(r.information_gain_bits.ci95),
                    r.mean_steps,
                    csv_opt(r.steps.std),
                    csv_opt(r.steps.ci95),
                    r.mean_seconds,
                    r.mean_horizon.map_or(String::new(), |h| h.to_string()),
                    bits.join(",")
                );
            }
            s
        }
        Format::Md => {
            let mut s = String::from(
                "| method | mem | length | texts | accuracy | greedy-exact | token gain | info gain (bits) | steps | seconds | horizon |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
            );
            for r in rows {
                s += &format!(
                    "| {} | {} | {} | {} | {:.4}{} | {:.2} | {:.1}{} | {:.1}{} | {:.0}{} | {:.1} | {} |\n",
                    r.method,
                    r.mem,
                    r.length,
                    r.texts,
                    r.mean_accuracy,
                    r.accuracy.pm(4),
                    r.greedy_exact_share,
                    r.mean_token_gain,
                    r.token_gain.pm(1),
                    r.mean_information_gain_bits,
                    r.information_gain_bits.pm(1),
                    r.mean_steps,
                    r.steps.pm(0),
                    r.mean_seconds,
                    r.mean_horizon.map_or("-".to_string(), |h| format!("{h:.1}")),
                );
            }
            s += "\n";
            s += &capacity_lines(rows, false);
            s + &bit_table(rows, true)
        }
    }
}

/// The mean bits of each cell beside its alternatives, each with its ratio against the text
/// (`4.2x` = 4.2 times smaller than the UTF-8 text); empty when no row recorded bits.
pub fn bit_table(rows: &[Row], markdown: bool) -> String {
    let with_bits: Vec<(&Row, &BitMeans)> = rows.iter().filter_map(|r| r.bits.as_ref().map(|b| (r, b))).collect();
    let Some((_, first)) = with_bits.first() else { return String::new() };
    let headers: Vec<&str> = first.columns().iter().map(|(h, _)| *h).collect();
    let cell = |bits: Option<f64>, raw: f64| bits.map_or("-".to_string(), |b| format!("{b:.0} ({:.2}x)", raw / b));
    let mut s = String::from("\nbits per text (x: times smaller than the UTF-8 text)\n");
    if markdown {
        s += &format!("\n| method | mem | length | {} |\n|---|---|---|{}\n", headers.join(" | "), "---|".repeat(headers.len()));
        for (r, b) in &with_bits {
            let cells: Vec<String> = b.columns().iter().map(|(_, v)| cell(*v, b.raw_bits)).collect();
            s += &format!("| {} | {} | {} | {} |\n", r.method, r.mem, r.length, cells.join(" | "));
        }
    } else {
        s += &format!("{:<11} {:>4}  {:>6}", "method", "mem", "length");
        for h in &headers {
            s += &format!("  {h:>17}");
        }
        s += "\n";
        for (r, b) in &with_bits {
            s += &format!("{:<11} {:>4}  {:>6}", r.method, r.mem, r.length);
            for (_, v) in b.columns() {
                s += &format!("  {:>17}", cell(v, b.raw_bits));
            }
            s += "\n";
        }
    }
    s
}

/// The table as text; `±` is the half-width of the mean's 95 % confidence interval.
pub fn table(rows: &[Row]) -> String {
    let mut s =
        String::from("method       mem  length  texts          accuracy  greedy-exact    token gain   info gain (bits)         steps  seconds  horizon\n");
    for r in rows {
        s += &format!(
            "{:<11} {:>4}  {:>6}  {:>5}  {:>8.4}{:<9}  {:>12.2}  {:>6.1}{:<8}  {:>9.1}{:<9}  {:>5.0}{:<8}  {:>7.1}  {:>7}\n",
            r.method,
            r.mem,
            r.length,
            r.texts,
            r.mean_accuracy,
            r.accuracy.pm(4),
            r.greedy_exact_share,
            r.mean_token_gain,
            r.token_gain.pm(1),
            r.mean_information_gain_bits,
            r.information_gain_bits.pm(1),
            r.mean_steps,
            r.steps.pm(0),
            r.mean_seconds,
            r.mean_horizon.map_or("-".to_string(), |h| format!("{h:.1}")),
        );
    }
    s + &capacity_lines(rows, false) + &bit_table(rows, false)
}

/// One line per method and vector count with its two capacities; `short`: in two lines each, to fit
/// 80 columns.
fn capacity_lines(rows: &[Row], short: bool) -> String {
    let mut s = String::new();
    let shortest = rows.iter().map(|r| r.length).min().unwrap_or(0);
    for ((method, mem), (paper, greedy)) in capacities(rows) {
        let what = if method == "lora" { "lora adapters".to_string() } else { format!("{method} with {mem} vector(s)") };
        if short {
            let show = |c: Option<usize>| c.map_or(format!("under {shortest} tokens"), |c| format!("{c} tokens"));
            s += &format!("capacity of {what}:\n  {} (accuracy >= 0.99), {} (every text greedy-exact)\n", show(paper), show(greedy));
        } else {
            let show = |c: Option<usize>| c.map_or("below the shortest length".to_string(), |c| format!("{c} tokens"));
            s += &format!("capacity of {what}: {} (mean accuracy >= 0.99), {} (every text greedy-exact)\n", show(paper), show(greedy));
        }
    }
    s
}

/// The table in 80 columns: the accuracy, greedy-exact share, token gain and steps of each cell
/// (`±` the half-width of the mean's 95 % confidence interval), the capacities, and the bits of the
/// text, its vectors and `cram zip`; `--format wide` prints every column.
pub fn compact_table(rows: &[Row]) -> String {
    let line = |cells: [&str; 8]| {
        let [method, mem, length, texts, accuracy, exact, gain, steps] = cells;
        format!("{method:<11} {mem:>3} {length:>6} {texts:>5}  {accuracy:<15} {exact:>5}  {gain:<13} {steps}").trim_end().to_string() + "\n"
    };
    let mut s = line(["method", "mem", "length", "texts", "accuracy", "exact", "token gain", "steps"]);
    for r in rows {
        s += &line([
            &r.method,
            &r.mem.to_string(),
            &r.length.to_string(),
            &r.texts.to_string(),
            &format!("{:.4}{}", r.mean_accuracy, r.accuracy.pm(3)),
            &format!("{:.2}", r.greedy_exact_share),
            &format!("{:.1}{}", r.mean_token_gain, r.token_gain.pm(1)),
            &format!("{:.0}{}", r.mean_steps, r.steps.pm(0)),
        ]);
    }
    let intervals = if rows.iter().any(|r| r.accuracy.ci95.is_some()) { "±: 95 % confidence; " } else { "" };
    s += &format!("exact: share greedy-exact; {intervals}--format wide: every column\n");
    s += &capacity_lines(rows, true);
    s + &compact_bit_table(rows)
}

/// [`bit_table`] in 80 columns: the text, its 16-bit vectors and `cram zip`.
fn compact_bit_table(rows: &[Row]) -> String {
    let with_bits: Vec<(&Row, &BitMeans)> = rows.iter().filter_map(|r| r.bits.as_ref().map(|b| (r, b))).collect();
    if with_bits.is_empty() {
        return String::new();
    }
    let cell = |bits: Option<f64>, raw: f64| bits.map_or("-".to_string(), |b| format!("{b:.0} ({:.2}x)", raw / b));
    let mut s = String::from("\nbits per text (x: times smaller than the UTF-8 text)\n");
    s += &format!("{:<11} {:>3} {:>6}  {:>10}  {:>17}  {:>17}\n", "method", "mem", "length", "text", "vectors 16-bit", "cram zip");
    for (r, b) in &with_bits {
        s += &format!(
            "{:<11} {:>3} {:>6}  {:>10.0}  {:>17}  {:>17}\n",
            r.method,
            r.mem,
            r.length,
            b.raw_bits,
            cell(Some(b.vector_bits_16), b.raw_bits),
            cell(b.lm_zip_bits, b.raw_bits)
        );
    }
    s
}

/// One line per method: its trainable parameters, both capacities, and its means over all lengths
/// (what `cram compare` prints); in 80 columns unless `wide` (then also the information gain,
/// seconds and horizon).
pub fn method_summary(records: &[Record], wide: bool) -> String {
    let rows = rows(records);
    let caps = capacities(&rows);
    let mut s = if wide {
        String::from("method       trainable  capacity (acc>=0.99)  capacity (greedy)  token gain  info gain (bits)    steps  seconds  horizon\n")
    } else {
        String::from("method       trainable  capacity (acc>=.99)  capacity (greedy)  tok gain   steps\n")
    };
    let labels = groups(records);
    let mut methods: Vec<&str> = labels.iter().map(|l| l.as_str()).collect();
    methods.sort();
    methods.dedup();
    for method in methods {
        let rs: Vec<&CramMetrics> = records.iter().zip(&labels).filter(|(_, l)| *l == method).map(|(r, _)| &r.metrics).collect();
        let n = rs.len() as f64;
        let mean = |f: &dyn Fn(&CramMetrics) -> f64| rs.iter().map(|m| f(m)).sum::<f64>() / n;
        let show = |c: Option<usize>| c.map_or("-".to_string(), |c| c.to_string());
        let (paper, greedy) = caps.iter().filter(|((m, _), _)| m == method).map(|(_, c)| *c).fold((None, None), |a, c| (a.0.max(c.0), a.1.max(c.1)));
        let horizons: Vec<f64> = rs.iter().filter_map(|m| m.horizon.map(|h| h as f64)).collect();
        let trainable = rs.iter().map(|m| m.trainable_parameters).max().unwrap_or(0);
        if !wide {
            s += &format!(
                "{:<11} {:>10}  {:>19}  {:>17}  {:>8.1}  {:>6.0}\n",
                method,
                trainable,
                show(paper),
                show(greedy),
                mean(&|m| m.token_gain),
                mean(&|m| m.steps as f64)
            );
            continue;
        }
        s += &format!(
            "{:<11} {:>10}  {:>20}  {:>17}  {:>10.1}  {:>16.1}  {:>7.0}  {:>7.1}  {:>7}\n",
            method,
            trainable,
            show(paper),
            show(greedy),
            mean(&|m| m.token_gain),
            mean(&|m| m.information_gain_bits),
            mean(&|m| m.steps as f64),
            mean(&|m| m.seconds),
            if horizons.is_empty() { "-".to_string() } else { format!("{:.1}", horizons.iter().sum::<f64>() / horizons.len() as f64) },
        );
    }
    s
}
