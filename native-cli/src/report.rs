//! Results as people read them: the per-length table of a capacity sweep, the two capacities, and
//! SVG plots (accuracy against length; cross-entropy without against with memory, the paper's
//! Figure 3; capacity against the number of vectors, its Figure 4).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use cram_core::bits::BitAccount;
use cram_core::metrics::CramMetrics;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// One line of a results file: which text, at which length, and its metrics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// The text's id.
    pub text_id: String,
    /// Tokens it was truncated to.
    pub length: usize,
    /// Why it stopped (`success`, `max_steps`, `patience`, `interrupted`).
    pub stop: String,
    /// The measures of `cram compress --json`.
    #[serde(flatten)]
    pub metrics: CramMetrics,
    /// What made it: the model, the recipe and cram's version ([`run_tag`]); absent in files of
    /// cram versions before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<serde_json::Value>,
    /// The text's tokens beside its alternatives in bits ([`BitAccount`]); absent in files of cram
    /// versions before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<BitAccount>,
}

impl Record {
    /// The key that identifies a run in resumption and merging: the text, its length, the vectors,
    /// the method, and what made it, so that results of another model or recipe are never taken
    /// for the same run.
    pub fn key(&self) -> (String, usize, usize, String, String) {
        let run = self.run.as_ref().map_or(String::new(), |r| r.to_string());
        (self.text_id.clone(), self.length, self.metrics.mem, self.metrics.method.clone(), run)
    }
}

/// What a results line records of the run that made it: the model's identity (its weights'
/// fingerprint, as `.cram` files hold it), the whole recipe but the vector count (a sweep's axis),
/// the device and cram's version.
pub fn run_tag(lm: &cram_core::LoadedModel, cfg: &cram_core::methods::CramConfig, device: &str) -> serde_json::Value {
    let mut recipe = serde_json::to_value(cfg).expect("configs serialise");
    if let Some(r) = recipe.as_object_mut() {
        r.remove("mem");
    }
    serde_json::json!({
        "model": lm.identity.weights_fingerprint,
        "recipe": recipe,
        "device": device,
        "dtype": lm.precision,
        "cram": env!("CARGO_PKG_VERSION"),
    })
}

/// The parts of two run tags that differ (`recipe.adamw`, `model`, ...), for a message.
pub fn tag_differences(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["model", "device", "dtype", "cram"] {
        if a.get(key) != b.get(key) {
            out.push(key.to_string());
        }
    }
    let (ra, rb) = (a.get("recipe").and_then(|r| r.as_object()), b.get("recipe").and_then(|r| r.as_object()));
    if let (Some(ra), Some(rb)) = (ra, rb) {
        let keys: std::collections::BTreeSet<&String> = ra.keys().chain(rb.keys()).collect();
        for k in keys {
            if ra.get(k) != rb.get(k) {
                out.push(format!(
                    "recipe.{k} ({} here, {} there)",
                    rb.get(k).map_or("none".into(), |v| v.to_string()),
                    ra.get(k).map_or("none".into(), |v| v.to_string())
                ));
            }
        }
    }
    out
}

/// Mean measures of the texts of one (method, vectors, length) cell.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub method: String,
    pub mem: usize,
    pub length: usize,
    pub texts: usize,
    pub mean_accuracy: f64,
    pub greedy_exact_share: f64,
    pub mean_token_gain: f64,
    pub mean_information_gain_bits: f64,
    pub mean_steps: f64,
    pub mean_seconds: f64,
    pub trainable_parameters: usize,
    /// Progressive cramming: the mean horizon.
    pub mean_horizon: Option<f64>,
    /// Spread of the cell's texts: sample standard deviation and the half-width of a 95 %
    /// confidence interval of the mean (Student's t), for the accuracy, gains and steps.
    pub accuracy: Spread,
    pub token_gain: Spread,
    pub information_gain_bits: Spread,
    pub steps: Spread,
    /// Mean bits of the cell's texts and of their alternatives, where the results recorded them.
    pub bits: Option<BitMeans>,
}

/// Means over a cell's texts of their [`BitAccount`]s; a ratio is the mean text's bits over the mean
/// bits of that code. Absent codes (not measured) stay `None`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BitMeans {
    pub raw_bits: f64,
    pub vector_bits_16: f64,
    pub vector_bits_32: f64,
    pub lm_ce_bits: f64,
    pub lm_zip_bits: Option<f64>,
    pub zstd_bits: Option<f64>,
    pub xz_bits: Option<f64>,
}

impl BitMeans {
    /// The means of `accounts`; `None` when there are none.
    pub fn of(accounts: &[&BitAccount]) -> Option<Self> {
        let n = accounts.len() as f64;
        let mean = |f: &dyn Fn(&BitAccount) -> f64| accounts.iter().map(|a| f(a)).sum::<f64>() / n;
        let mean_of_all = |f: &dyn Fn(&BitAccount) -> Option<u64>| {
            let values: Option<Vec<u64>> = accounts.iter().map(|a| f(a)).collect();
            values.map(|v| v.iter().sum::<u64>() as f64 / n)
        };
        (!accounts.is_empty()).then(|| Self {
            raw_bits: mean(&|a| a.raw_bits as f64),
            vector_bits_16: mean(&|a| a.vector_bits_16 as f64),
            vector_bits_32: mean(&|a| a.vector_bits_32 as f64),
            lm_ce_bits: mean(&|a| a.lm_ce_bits),
            lm_zip_bits: mean_of_all(&|a| a.lm_zip_bits),
            zstd_bits: mean_of_all(&|a| a.zstd_bits),
            xz_bits: mean_of_all(&|a| a.xz_bits),
        })
    }

    /// The columns of the bit tables: (header, mean bits).
    pub fn columns(&self) -> [(&'static str, Option<f64>); 7] {
        [
            ("text", Some(self.raw_bits)),
            ("vectors 16-bit", Some(self.vector_bits_16)),
            ("vectors 32-bit", Some(self.vector_bits_32)),
            ("zstd -19", self.zstd_bits),
            ("xz -9e", self.xz_bits),
            ("cram zip", self.lm_zip_bits),
            ("LM CE", Some(self.lm_ce_bits)),
        ]
    }
}

/// Sample standard deviation and 95 % confidence half-width of a mean; undefined (`None`, null in
/// JSON, empty in CSV, not printed in tables) for one value.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Spread {
    pub std: Option<f64>,
    pub ci95: Option<f64>,
}

impl Spread {
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n < 2 {
            return Self { std: None, ci95: None };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        Self { std: Some(std), ci95: Some(t_975(n - 1) * std / (n as f64).sqrt()) }
    }

    /// ` ± x` with `decimals`, or nothing for one value.
    fn pm(&self, decimals: usize) -> String {
        self.ci95.map_or(String::new(), |c| format!(" ± {c:.decimals$}"))
    }
}

/// A CSV field of an optional number: empty when absent.
fn csv_opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (a table to 30, then the normal's).
fn t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
        2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    T.get(df.wrapping_sub(1)).copied().unwrap_or(1.960)
}

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

/// The group of each record in tables and plots: its method, and where one file holds runs of a
/// method made otherwise (another model, recipe, dtype, device; `--separate`), the method with the
/// number of its run, `memory [2]`, in the order the runs first appear. [`legend`] says what differs.
pub fn groups(records: &[Record]) -> Vec<String> {
    let mut runs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in records {
        let tag = r.run.as_ref().map_or(String::new(), |t| t.to_string());
        let seen = runs.entry(r.metrics.method.as_str()).or_default();
        if !seen.contains(&tag) {
            seen.push(tag);
        }
    }
    records
        .iter()
        .map(|r| {
            let seen = &runs[r.metrics.method.as_str()];
            if seen.len() < 2 {
                return r.metrics.method.clone();
            }
            let tag = r.run.as_ref().map_or(String::new(), |t| t.to_string());
            format!("{} [{}]", r.metrics.method, seen.iter().position(|t| *t == tag).expect("seen above") + 1)
        })
        .collect()
}

/// For files that hold several runs of a method: one line per run after the first, naming what
/// differs from run [1]. Empty otherwise.
pub fn legend(records: &[Record]) -> String {
    let labels = groups(records);
    let mut first: BTreeMap<&str, &serde_json::Value> = BTreeMap::new();
    let mut out = String::new();
    let mut shown = std::collections::BTreeSet::new();
    for (r, label) in records.iter().zip(&labels) {
        let (Some(tag), true) = (&r.run, label.ends_with(']')) else { continue };
        let base = *first.entry(r.metrics.method.as_str()).or_insert(tag);
        if shown.insert(label.clone()) && !std::ptr::eq(base, tag) && base != tag {
            out += &format!("{label}: differs from {} [1] in {}\n", r.metrics.method, tag_differences(base, tag).join(", "));
        }
    }
    out
}

/// Rows grouped by method (and run, see [`groups`]), vectors, then length.
pub fn rows(records: &[Record]) -> Vec<Row> {
    let mut groups: BTreeMap<(String, usize, usize), Vec<&Record>> = BTreeMap::new();
    for (r, label) in records.iter().zip(self::groups(records)) {
        groups.entry((label, r.metrics.mem, r.length)).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((method, mem, length), rs)| {
            let n = rs.len() as f64;
            let mean = |f: &dyn Fn(&CramMetrics) -> f64| rs.iter().map(|r| f(&r.metrics)).sum::<f64>() / n;
            let horizons: Vec<f64> = rs.iter().filter_map(|r| r.metrics.horizon.map(|h| h as f64)).collect();
            let spread = |f: &dyn Fn(&CramMetrics) -> f64| Spread::of(&rs.iter().map(|r| f(&r.metrics)).collect::<Vec<_>>());
            Row {
                method,
                mem,
                length,
                texts: rs.len(),
                mean_accuracy: mean(&|m| m.teacher_forced_accuracy),
                greedy_exact_share: mean(&|m| f64::from(u8::from(m.greedy_exact))),
                mean_token_gain: mean(&|m| m.token_gain),
                mean_information_gain_bits: mean(&|m| m.information_gain_bits),
                mean_steps: mean(&|m| m.steps as f64),
                mean_seconds: mean(&|m| m.seconds),
                trainable_parameters: rs.iter().map(|r| r.metrics.trainable_parameters).max().unwrap_or(0),
                mean_horizon: (!horizons.is_empty()).then(|| horizons.iter().sum::<f64>() / horizons.len() as f64),
                accuracy: spread(&|m| m.teacher_forced_accuracy),
                token_gain: spread(&|m| m.token_gain),
                information_gain_bits: spread(&|m| m.information_gain_bits),
                steps: spread(&|m| m.steps as f64),
                bits: BitMeans::of(&rs.iter().filter_map(|r| r.bits.as_ref()).collect::<Vec<_>>()).filter(|_| rs.iter().all(|r| r.bits.is_some())),
            }
        })
        .collect()
}

/// The paper's capacity (largest length with mean accuracy >= 0.99) and the greedy one (largest
/// length where every text is greedy-exact), for each method and number of vectors.
pub fn capacities(rows: &[Row]) -> BTreeMap<(String, usize), (Option<usize>, Option<usize>)> {
    let mut out: BTreeMap<(String, usize), (Option<usize>, Option<usize>)> = BTreeMap::new();
    for r in rows {
        let e = out.entry((r.method.clone(), r.mem)).or_default();
        if r.mean_accuracy >= 0.99 {
            e.0 = e.0.max(Some(r.length));
        }
        if r.greedy_exact_share >= 1.0 {
            e.1 = e.1.max(Some(r.length));
        }
    }
    out
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

/// The x axis of the plots against length (or vector count): one evenly spaced column per value
/// that the results hold, labelled with it, so that every value has its tick, one value sits in the
/// middle, and a doubling sweep is spaced as on a log axis.
struct Columns {
    values: Vec<usize>,
}

impl Columns {
    fn of(values: impl IntoIterator<Item = usize>) -> Self {
        let mut values: Vec<usize> = values.into_iter().collect();
        values.sort_unstable();
        values.dedup();
        Self { values }
    }

    /// Where `v` is drawn.
    fn x(&self, v: usize) -> f64 {
        self.values.iter().position(|&x| x == v).unwrap_or(0) as f64
    }

    /// The axis: half a column of margin on each side.
    fn range(&self) -> std::ops::Range<f64> {
        -0.5..self.values.len().max(1) as f64 - 0.5
    }

    /// Key points to ask for: every half column, so that each column's centre is one.
    fn key_points(&self) -> usize {
        2 * self.values.len().max(1) + 1
    }

    /// The label of a key point: its value at a column's centre, nothing between columns.
    fn label(&self, x: f64) -> String {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        self.values.get(i as usize).map_or(String::new(), |v| v.to_string())
    }
}

/// A number's label on an axis of counts: the integer where the key point is one, else nothing (so
/// that 0.5 steps never print "0" twice).
fn integer_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 { format!("{v:.0}") } else { String::new() }
}

/// A tick label of a value on an axis `span` wide, with as many decimals as the span needs (so
/// that neighbouring ticks never print the same).
fn tick(v: f64, span: f64) -> String {
    let decimals = (1.0 - span.max(1e-9).log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// How a legend entry is drawn: a point, a line with points, or a paler line with crosses.
#[derive(Clone, Copy)]
enum Mark {
    Point,
    LineAndPoint,
    Cross,
}

/// One legend entry.
struct Key {
    label: String,
    color: RGBAColor,
    mark: Mark,
}

/// Width of the legend panel right of a plot: enough for its longest label.
fn legend_width(keys: &[Key]) -> u32 {
    let longest = keys.iter().map(|k| k.label.chars().count()).max().unwrap_or(0) as u32;
    50 + 7 * longest
}

/// The legend, in its own panel right of the plot (never over the data): a box with one entry per
/// line.
fn draw_legend(area: &DrawingArea<SVGBackend<'_>, Shift>, keys: &[Key]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let (w, _) = area.dim_in_pixel();
    let (top, step) = (40i32, 20i32);
    let bottom = top + step * keys.len() as i32;
    area.draw(&Rectangle::new([(6, top - 14), (w as i32 - 6, bottom - 6)], BLACK.stroke_width(1)))?;
    for (i, k) in keys.iter().enumerate() {
        let y = top + step * i as i32;
        let line = |style: ShapeStyle| PathElement::new(vec![(14, y), (38, y)], style);
        match k.mark {
            Mark::Point => area.draw(&Circle::new((26, y), 3, k.color.filled()))?,
            Mark::LineAndPoint => {
                area.draw(&line(k.color.stroke_width(2)))?;
                area.draw(&Circle::new((26, y), 3, k.color.filled()))?;
            }
            Mark::Cross => {
                area.draw(&line(k.color.mix(0.5).stroke_width(2)))?;
                area.draw(&Cross::new((26, y), 4, k.color.stroke_width(2)))?;
            }
        }
        area.draw(&Text::new(k.label.clone(), (46, y - 7), ("sans-serif", 13)))?;
    }
    Ok(())
}

/// A plot's drawing areas: the chart left, its legend right, `height` high.
fn canvas<'a>(path: &'a Path, chart_width: u32, height: u32, keys: &[Key]) -> Result<(DrawingArea<SVGBackend<'a>, Shift>, DrawingArea<SVGBackend<'a>, Shift>)> {
    let root = SVGBackend::new(path, (chart_width + legend_width(keys), height)).into_drawing_area();
    root.fill(&WHITE)?;
    Ok(root.split_horizontally(chart_width))
}

/// Writes `accuracy.svg`, `ce.svg`, when several vector counts were run `vectors.svg`, and when the
/// results recorded bits `bits.svg` into `dir`. Axes come from the data (one column per length or
/// vector count, each with its tick), and legends sit right of the data.
pub fn plots(records: &[Record], dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let rows = rows(records);
    let mut written = vec![];
    let lengths = Columns::of(rows.iter().map(|r| r.length));
    // One series per (method, vectors).
    let series: Vec<(String, usize)> = capacities(&rows).into_keys().collect();
    let methods: std::collections::BTreeSet<&str> = series.iter().map(|(m, _)| m.as_str()).collect();
    let label = |method: &str, mem: usize| match (methods.len(), method) {
        (_, "lora") => "lora".to_string(),
        (1, _) => format!("{mem} vector(s)"),
        _ => format!("{method}, {mem} vector(s)"),
    };
    let mems: Vec<usize> = series.iter().map(|(_, mem)| *mem).collect();

    let path = dir.join("accuracy.svg");
    {
        let mut keys = Vec::new();
        for (i, (method, mem)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            keys.push(Key { label: format!("teacher-forced accuracy, {}", label(method, *mem)), color, mark: Mark::LineAndPoint });
            keys.push(Key { label: format!("greedy-exact share, {}", label(method, *mem)), color, mark: Mark::Cross });
        }
        let (left, right) = canvas(&path, 560, 440, &keys)?;
        let mut chart = ChartBuilder::on(&left)
            .caption("Reconstruction against text length", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lengths.range(), 0f64..1.05)?;
        chart
            .configure_mesh()
            .x_labels(lengths.key_points())
            .x_label_formatter(&|x| lengths.label(*x))
            .y_labels(12)
            .y_label_formatter(&|y| format!("{y:.1}"))
            .x_desc("tokens")
            .y_desc("share of texts / tokens")
            .draw()?;
        for (i, (method, mem)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let mine = |r: &&Row| r.mem == *mem && r.method == *method;
            let pts: Vec<(f64, f64)> = rows.iter().filter(mine).map(|r| (lengths.x(r.length), r.mean_accuracy)).collect();
            chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?;
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
            let greedy: Vec<(f64, f64)> = rows.iter().filter(mine).map(|r| (lengths.x(r.length), r.greedy_exact_share)).collect();
            chart.draw_series(LineSeries::new(greedy.clone(), color.mix(0.5).stroke_width(2)))?;
            chart.draw_series(greedy.iter().map(|p| Cross::new(*p, 4, color.stroke_width(2))))?;
        }
        draw_legend(&right, &keys)?;
        left.present()?;
    }
    written.push(path);

    let path = dir.join("ce.svg");
    {
        let keys: Vec<Key> = series
            .iter()
            .enumerate()
            .map(|(i, (method, mem))| Key { label: label(method, *mem), color: Palette99::pick(i).to_rgba(), mark: Mark::Point })
            .collect();
        let max_ce = records.iter().map(|r| r.metrics.ce_without_mem_nats.max(r.metrics.ce_with_mem_nats)).fold(0.0, f64::max).max(0.1) * 1.05;
        let (left, right) = canvas(&path, 520, 520, &keys)?;
        let mut chart = ChartBuilder::on(&left)
            .caption("Cross-entropy of each text (nats)", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..max_ce, 0f64..max_ce)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| tick(*x, max_ce))
            .y_label_formatter(&|y| tick(*y, max_ce))
            .x_desc("without memory")
            .y_desc("with memory")
            .draw()?;
        chart.draw_series(LineSeries::new(vec![(0.0, 0.0), (max_ce, max_ce)], BLACK.mix(0.3)))?;
        for (i, (method, mem)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart.draw_series(
                records
                    .iter()
                    .filter(|r| r.metrics.mem == *mem && r.metrics.method == *method)
                    .map(|r| Circle::new((r.metrics.ce_without_mem_nats, r.metrics.ce_with_mem_nats), 3, color.filled())),
            )?;
        }
        draw_legend(&right, &keys)?;
        left.present()?;
    }
    written.push(path);

    if methods.len() == 1 && mems.len() > 1 {
        let path = dir.join("vectors.svg");
        let caps: BTreeMap<usize, (Option<usize>, Option<usize>)> = capacities(&rows).into_iter().map(|((_, mem), c)| (mem, c)).collect();
        let counts = Columns::of(caps.keys().copied());
        let max_cap = caps.values().flat_map(|c| [c.0, c.1]).flatten().max().unwrap_or(1).max(1) as f64;
        let lines = [(0usize, "capacity, mean accuracy >= 0.99", BLUE.to_rgba()), (1, "capacity, every text greedy-exact", RED.to_rgba())];
        let keys: Vec<Key> = lines.iter().map(|(_, label, color)| Key { label: label.to_string(), color: *color, mark: Mark::LineAndPoint }).collect();
        let (left, right) = canvas(&path, 520, 420, &keys)?;
        let mut chart = ChartBuilder::on(&left)
            .caption("Capacity against the number of vectors", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(counts.range(), 0f64..max_cap * 1.1)?;
        chart
            .configure_mesh()
            .x_labels(counts.key_points())
            .x_label_formatter(&|x| counts.label(*x))
            .y_label_formatter(&|y| integer_label(*y))
            .x_desc("vectors")
            .y_desc("tokens")
            .draw()?;
        for (which, _, color) in lines {
            let pts: Vec<(f64, f64)> = caps.iter().filter_map(|(m, c)| if which == 0 { c.0 } else { c.1 }.map(|v| (counts.x(*m), v as f64))).collect();
            chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?;
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
        }
        draw_legend(&right, &keys)?;
        left.present()?;
        drop(chart);
        drop((left, right));
        written.push(path);
    }

    if rows.iter().any(|r| r.bits.is_some()) {
        let path = dir.join("bits.svg");
        bits_plot(&rows, &series, &label, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// One code of a text in [`bits_plot`]: its mean bits in a cell, where measured.
type Code = fn(&BitMeans) -> Option<f64>;
/// One line of [`bits_plot`]: its name, colour and (length, bits) points.
type Line = (String, RGBAColor, Vec<(usize, f64)>);

/// `bits.svg`: bits against length (one column per length; bits on a log axis labelled at powers of
/// ten): the text, zstd, xz, `cram zip` and the model's cross-entropy (means over the texts of each
/// length), and the 16-bit vectors of each series.
fn bits_plot(rows: &[Row], series: &[(String, usize)], label: &dyn Fn(&str, usize) -> String, path: &Path) -> Result<()> {
    let mut by_length: BTreeMap<usize, Vec<&BitMeans>> = BTreeMap::new();
    for r in rows {
        if let Some(b) = &r.bits {
            by_length.entry(r.length).or_default().push(b);
        }
    }
    // The codes of the text alone (the same texts in every series), then each series' vectors: every
    // line once, as (name, colour, points).
    let codes: [(&str, RGBAColor, Code); 5] = [
        ("text (UTF-8)", BLACK.to_rgba(), |b| Some(b.raw_bits)),
        ("zstd -19", RGBColor(150, 150, 150).to_rgba(), |b| b.zstd_bits),
        ("xz -9e", RGBColor(110, 110, 110).to_rgba(), |b| b.xz_bits),
        ("cram zip (LM coder)", RGBColor(0, 140, 70).to_rgba(), |b| b.lm_zip_bits),
        ("LM cross-entropy", RGBColor(0, 140, 70).mix(0.5), |b| Some(b.lm_ce_bits)),
    ];
    let mut lines: Vec<Line> = Vec::new();
    for (name, color, code) in codes {
        let pts: Vec<(usize, f64)> = by_length
            .iter()
            .filter_map(|(len, bs)| {
                let values: Option<Vec<f64>> = bs.iter().map(|b| code(b)).collect();
                values.map(|v| (*len, v.iter().sum::<f64>() / v.len() as f64))
            })
            .collect();
        if !pts.is_empty() {
            lines.push((name.to_string(), color, pts));
        }
    }
    for (i, (method, mem)) in series.iter().enumerate() {
        let pts = rows.iter().filter(|r| r.method == *method && r.mem == *mem).filter_map(|r| r.bits.as_ref().map(|b| (r.length, b.vector_bits_16))).collect();
        lines.push((format!("16-bit vectors, {}", label(method, *mem)), Palette99::pick(i + 3).to_rgba(), pts));
    }
    let lengths = Columns::of(by_length.keys().copied());
    // log10 of the bits, over whole decades so that at least two powers of ten are labelled
    let all = lines.iter().flat_map(|(_, _, pts)| pts.iter().map(|p| p.1)).filter(|v| *v > 0.0);
    let (lo, hi) = all.fold((f64::MAX, 1f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (lo.min(hi).log10().floor(), hi.log10().ceil().max(lo.min(hi).log10().floor() + 1.0));
    let keys: Vec<Key> = lines.iter().map(|(name, color, _)| Key { label: name.clone(), color: *color, mark: Mark::LineAndPoint }).collect();
    let (left, right) = canvas(path, 560, 460, &keys)?;
    let mut chart = ChartBuilder::on(&left)
        .caption("Bits of each text and of its codes", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(lengths.range(), lo..hi)?;
    let decades = (hi - lo).round() as usize;
    chart
        .configure_mesh()
        .x_labels(lengths.key_points())
        .x_label_formatter(&|x| lengths.label(*x))
        .y_labels(decades + 1)
        .y_label_formatter(&|y| if (y - y.round()).abs() < 1e-6 { format!("{:.0}", 10f64.powf(y.round())) } else { String::new() })
        .x_desc("tokens")
        .y_desc("bits (log scale)")
        .draw()?;
    for (_, color, pts) in lines {
        let pts: Vec<(f64, f64)> = pts.iter().filter(|p| p.1 > 0.0).map(|&(len, bits)| (lengths.x(len), bits.log10())).collect();
        chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
    }
    draw_legend(&right, &keys)?;
    left.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cram_core::bits::TextCodes;
    use cram_core::memory::Memory;

    /// A result line of a text of `length` tokens crammed into `mem` vectors of the tiny model.
    fn record(id: &str, length: usize, mem: usize, right: usize, exact: bool) -> Record {
        let metrics = CramMetrics::new(length, mem, 40 + right, 1.5, length, right, 1, exact, 3.0 + length as f64 / 10.0, 0.5, 64, 384);
        let memory = Memory { prefix_ids: vec![0], k: mem, vectors: vec![0.0; 64 * mem], lora: None };
        let codes = TextCodes { text_bytes: 4 * length, lm_zip_bits: Some(20 * length as u64), zstd_bits: Some(300), xz_bits: Some(400) };
        Record { text_id: id.into(), length, stop: "success".into(), bits: Some(BitAccount::new(&codes, &memory, &metrics)), metrics, run: None }
    }

    /// The attributes `names` of every `<tag ...>` in `svg`, and the text after the tag up to `<`.
    fn elements(svg: &str, tag: &str, names: &[&str]) -> Vec<(Vec<f64>, String)> {
        svg.split(&format!("<{tag} "))
            .skip(1)
            .map(|rest| {
                let head = &rest[..rest.find('>').unwrap()];
                let attr = |n: &str| {
                    let start = head.find(&format!(" {n}=\"")).or_else(|| head.starts_with(&format!("{n}=\"")).then_some(0)).unwrap();
                    let value = head[start..].split('"').nth(1).unwrap();
                    value.parse::<f64>().unwrap()
                };
                let body = rest[rest.find('>').unwrap() + 1..].split('<').next().unwrap().trim().to_string();
                (names.iter().map(|n| attr(n)).collect(), body)
            })
            .collect()
    }

    /// Checks one plot: its tick labels along each axis are distinct, every label of `want` is
    /// there, the data points are not all in one place, and no data point lies in the legend's box.
    fn check_plot(svg: &str, want: &[&str], min_distinct_x: usize) {
        let texts = elements(svg, "text", &["x", "y"]);
        for w in want {
            assert!(texts.iter().any(|(_, t)| t == w), "no label {w:?} in\n{svg}");
        }
        // labels on one row (the x axis) or one column (the y axis) never repeat
        for axis in 0..2 {
            let mut by_line: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
            for (pos, t) in &texts {
                by_line.entry(pos[axis] as i64).or_default().push(t);
            }
            for labels in by_line.values() {
                let mut seen = std::collections::BTreeSet::new();
                for l in labels.iter().filter(|l| !l.is_empty()) {
                    assert!(seen.insert(*l), "label {l:?} twice on one axis in\n{svg}");
                }
            }
        }
        // the legend's box: the one rectangle drawn as an outline
        let outlines: Vec<&str> = svg.split("<rect ").skip(1).filter(|r| r[..r.find('>').unwrap()].contains("fill=\"none\"")).collect();
        assert_eq!(outlines.len(), 1, "one legend box in\n{svg}");
        let legend = &elements(&format!("<rect {}", outlines[0]), "rect", &["x", "y", "width", "height"])[0].0;
        let circles: Vec<Vec<f64>> = elements(svg, "circle", &["cx", "cy"]).into_iter().map(|(a, _)| a).collect();
        let inside = |c: &Vec<f64>| c[0] >= legend[0] && c[0] <= legend[0] + legend[2] && c[1] >= legend[1] && c[1] <= legend[1] + legend[3];
        let data: Vec<&Vec<f64>> = circles.iter().filter(|c| !inside(c)).collect();
        for c in circles.iter().filter(|c| inside(c)) {
            assert_eq!(c[0], legend[0] - 6.0 + 26.0, "a data point inside the legend box {legend:?}: {c:?}");
        }
        assert!(data.iter().all(|c| c[0] < legend[0]), "the legend is right of every point");
        let xs: std::collections::BTreeSet<i64> = data.iter().map(|c| c[0] as i64).collect();
        assert!(xs.len() >= min_distinct_x, "{} distinct point positions, wanted {min_distinct_x}:\n{svg}", xs.len());
    }

    #[test]
    fn plots_have_data_axes_readable_ticks_and_legends_beside_the_data() {
        let dir = std::env::temp_dir().join(format!("cram-plots-{}", std::process::id()));
        // a small sweep: lengths 8 and 16, one and two vectors, two texts each
        let mut records = Vec::new();
        for (i, len) in [8, 16].into_iter().enumerate() {
            for mem in [1, 2] {
                records.push(record("a", len, mem, len - i, i == 0));
                records.push(record("b", len, mem, len - 2 * i, i == 0));
            }
        }
        let written = plots(&records, &dir).unwrap();
        let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().to_string()).collect();
        assert_eq!(names, ["accuracy.svg", "ce.svg", "vectors.svg", "bits.svg"]);
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
        check_plot(&read("accuracy.svg"), &["8", "16", "0.0", "1.0"], 2);
        check_plot(&read("ce.svg"), &[], 2);
        check_plot(&read("vectors.svg"), &["1", "2"], 2);
        check_plot(&read("bits.svg"), &["8", "16", "100", "1000"], 2);
        // the points of length 8 and 16 spread over the plot, not crowded into its right third
        let acc = read("accuracy.svg");
        let xs: Vec<f64> = elements(&acc, "circle", &["cx"]).into_iter().map(|(a, _)| a[0]).filter(|x| *x < 560.0).collect();
        let (lo, hi) = xs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        assert!(lo < 250.0 && hi > 350.0, "points from {lo} to {hi}");
        // one length: the points sit in the middle with their tick, not in a corner
        let one: Vec<Record> = records.iter().filter(|r| r.length == 16).cloned().collect();
        plots(&one, &dir).unwrap();
        let acc = read("accuracy.svg");
        check_plot(&acc, &["16"], 1);
        for x in elements(&acc, "circle", &["cx"]).into_iter().map(|(a, _)| a[0]).filter(|x| *x < 560.0) {
            assert!((200.0..400.0).contains(&x), "a point at x = {x}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
