//! Results as people read them: the per-length table of a capacity sweep, the two capacities, and
//! SVG plots (accuracy against length; cross-entropy without against with memory, the paper's
//! Figure 3; capacity against the number of vectors, its Figure 4).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use cram_core::metrics::CramMetrics;
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
}

/// Sample standard deviation and 95 % confidence half-width of a mean; 0 for one value.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Spread {
    pub std: f64,
    pub ci95: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n < 2 {
            return Self { std: 0.0, ci95: 0.0 };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        Self { std, ci95: t_975(n - 1) * std / (n as f64).sqrt() }
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (a table to 30, then the normal's).
fn t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
        2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    T.get(df.wrapping_sub(1)).copied().unwrap_or(1.960)
}

/// How a table is printed: aligned text, a Markdown table, CSV, or JSON lines (one row each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Md,
    Csv,
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
        Format::Text => table(rows),
        Format::Json => rows.iter().map(|r| serde_json::to_string(r).expect("rows serialise") + "\n").collect(),
        Format::Csv => {
            let mut s = String::from(
                "method,mem,length,texts,mean_accuracy,accuracy_std,accuracy_ci95,greedy_exact_share,mean_token_gain,token_gain_std,token_gain_ci95,mean_information_gain_bits,information_gain_bits_std,information_gain_bits_ci95,mean_steps,steps_std,steps_ci95,mean_seconds,mean_horizon\n",
            );
            for r in rows {
                s += &format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    r.method,
                    r.mem,
                    r.length,
                    r.texts,
                    r.mean_accuracy,
                    r.accuracy.std,
                    r.accuracy.ci95,
                    r.greedy_exact_share,
                    r.mean_token_gain,
                    r.token_gain.std,
                    r.token_gain.ci95,
                    r.mean_information_gain_bits,
                    r.information_gain_bits.std,
                    r.information_gain_bits.ci95,
                    r.mean_steps,
                    r.steps.std,
                    r.steps.ci95,
                    r.mean_seconds,
                    r.mean_horizon.map_or(String::new(), |h| h.to_string())
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
                    "| {} | {} | {} | {} | {:.4} ± {:.4} | {:.2} | {:.1} ± {:.1} | {:.1} ± {:.1} | {:.0} ± {:.0} | {:.1} | {} |\n",
                    r.method,
                    r.mem,
                    r.length,
                    r.texts,
                    r.mean_accuracy,
                    r.accuracy.ci95,
                    r.greedy_exact_share,
                    r.mean_token_gain,
                    r.token_gain.ci95,
                    r.mean_information_gain_bits,
                    r.information_gain_bits.ci95,
                    r.mean_steps,
                    r.steps.ci95,
                    r.mean_seconds,
                    r.mean_horizon.map_or("-".to_string(), |h| format!("{h:.1}")),
                );
            }
            s
        }
    }
}

/// The table as text; `±` is the half-width of the mean's 95 % confidence interval.
pub fn table(rows: &[Row]) -> String {
    let mut s =
        String::from("method       mem  length  texts          accuracy  greedy-exact    token gain   info gain (bits)         steps  seconds  horizon\n");
    for r in rows {
        s += &format!(
            "{:<11} {:>4}  {:>6}  {:>5}  {:>8.4} ± {:<6.4}  {:>12.2}  {:>6.1} ± {:<5.1}  {:>9.1} ± {:<6.1}  {:>5.0} ± {:<5.0}  {:>7.1}  {:>7}\n",
            r.method,
            r.mem,
            r.length,
            r.texts,
            r.mean_accuracy,
            r.accuracy.ci95,
            r.greedy_exact_share,
            r.mean_token_gain,
            r.token_gain.ci95,
            r.mean_information_gain_bits,
            r.information_gain_bits.ci95,
            r.mean_steps,
            r.steps.ci95,
            r.mean_seconds,
            r.mean_horizon.map_or("-".to_string(), |h| format!("{h:.1}")),
        );
    }
    for ((method, mem), (paper, greedy)) in capacities(rows) {
        let show = |c: Option<usize>| c.map_or("below the shortest length".to_string(), |c| format!("{c} tokens"));
        let what = if method == "lora" { "lora adapters".to_string() } else { format!("{method} with {mem} vector(s)") };
        s += &format!("capacity of {what}: {} (mean accuracy >= 0.99), {} (every text greedy-exact)\n", show(paper), show(greedy));
    }
    s
}

/// One line per method: its trainable parameters, both capacities, and its means over all lengths
/// (what `cram compare` prints).
pub fn method_summary(records: &[Record]) -> String {
    let rows = rows(records);
    let caps = capacities(&rows);
    let mut s = String::from("method       trainable  capacity (acc>=0.99)  capacity (greedy)  token gain  info gain (bits)    steps  seconds  horizon\n");
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
        s += &format!(
            "{:<11} {:>10}  {:>20}  {:>17}  {:>10.1}  {:>16.1}  {:>7.0}  {:>7.1}  {:>7}\n",
            method,
            rs.iter().map(|m| m.trainable_parameters).max().unwrap_or(0),
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

/// Writes `accuracy.svg`, `ce.svg` and, when several vector counts were run, `vectors.svg` into `dir`.
pub fn plots(records: &[Record], dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let rows = rows(records);
    let mut written = vec![];
    let max_len = rows.iter().map(|r| r.length).max().unwrap_or(1) as f64;
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
        let root = SVGBackend::new(&path, (720, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Reconstruction against text length", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((1f64..max_len * 1.1).log_scale(), 0f64..1.05)?;
        chart.configure_mesh().x_desc("tokens").y_desc("share").draw()?;
        for (i, (method, mem)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let mine = |r: &&Row| r.mem == *mem && r.method == *method;
            let pts: Vec<(f64, f64)> = rows.iter().filter(mine).map(|r| (r.length as f64, r.mean_accuracy)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(format!("teacher-forced accuracy, {}", label(method, *mem)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
            let greedy: Vec<(f64, f64)> = rows.iter().filter(mine).map(|r| (r.length as f64, r.greedy_exact_share)).collect();
            let dashed = color.mix(0.5);
            chart
                .draw_series(LineSeries::new(greedy, dashed.stroke_width(2)))?
                .label(format!("greedy-exact share, {}", label(method, *mem)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], dashed.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::LowerLeft).draw()?;
        root.present()?;
    }
    written.push(path);

    let path = dir.join("ce.svg");
    {
        let max_ce = records.iter().map(|r| r.metrics.ce_without_mem_nats).fold(1.0, f64::max) * 1.05;
        let root = SVGBackend::new(&path, (560, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Cross-entropy of each text (nats)", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..max_ce, 0f64..max_ce)?;
        chart.configure_mesh().x_desc("without memory").y_desc("with memory").draw()?;
        chart.draw_series(LineSeries::new(vec![(0.0, 0.0), (max_ce, max_ce)], BLACK.mix(0.3)))?;
        for (i, (method, mem)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(
                    records
                        .iter()
                        .filter(|r| r.metrics.mem == *mem && r.metrics.method == *method)
                        .map(|r| Circle::new((r.metrics.ce_without_mem_nats, r.metrics.ce_with_mem_nats), 3, color.filled())),
                )?
                .label(label(method, *mem))
                .legend(move |(x, y)| Circle::new((x + 8, y), 3, color.filled()));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::UpperLeft).draw()?;
        root.present()?;
    }
    written.push(path);

    if methods.len() == 1 && mems.len() > 1 {
        let path = dir.join("vectors.svg");
        let caps: BTreeMap<usize, (Option<usize>, Option<usize>)> = capacities(&rows).into_iter().map(|((_, mem), c)| (mem, c)).collect();
        let max_mem = *mems.last().unwrap_or(&1) as f64;
        let max_cap = caps.values().filter_map(|c| c.0.or(c.1)).max().unwrap_or(1) as f64;
        let root = SVGBackend::new(&path, (600, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Capacity against the number of vectors", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..max_mem * 1.1, 0f64..max_cap * 1.1)?;
        chart.configure_mesh().x_desc("vectors").y_desc("tokens").draw()?;
        for (which, label, color) in [(0usize, "mean accuracy >= 0.99", BLUE), (1, "every text greedy-exact", RED)] {
            let pts: Vec<(f64, f64)> = caps.iter().filter_map(|(m, c)| if which == 0 { c.0 } else { c.1 }.map(|v| (*m as f64, v as f64))).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        root.present()?;
        drop(chart);
        drop(root);
        written.push(path);
    }
    Ok(written)
}
