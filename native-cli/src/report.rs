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
}

impl Record {
    /// The key that identifies a run in resumption and merging.
    pub fn key(&self) -> (String, usize, usize, String) {
        (self.text_id.clone(), self.length, self.metrics.mem, self.metrics.method.clone())
    }
}

/// Mean measures of the texts of one (vectors, length) cell.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub mem: usize,
    pub length: usize,
    pub texts: usize,
    pub mean_accuracy: f64,
    pub greedy_exact_share: f64,
    pub mean_token_gain: f64,
    pub mean_information_gain_bits: f64,
    pub mean_steps: f64,
}

/// Rows grouped by vectors then length.
pub fn rows(records: &[Record]) -> Vec<Row> {
    let mut groups: BTreeMap<(usize, usize), Vec<&Record>> = BTreeMap::new();
    for r in records {
        groups.entry((r.metrics.mem, r.length)).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((mem, length), rs)| {
            let n = rs.len() as f64;
            let mean = |f: &dyn Fn(&CramMetrics) -> f64| rs.iter().map(|r| f(&r.metrics)).sum::<f64>() / n;
            Row {
                mem,
                length,
                texts: rs.len(),
                mean_accuracy: mean(&|m| m.teacher_forced_accuracy),
                greedy_exact_share: mean(&|m| f64::from(u8::from(m.greedy_exact))),
                mean_token_gain: mean(&|m| m.token_gain),
                mean_information_gain_bits: mean(&|m| m.information_gain_bits),
                mean_steps: mean(&|m| m.steps as f64),
            }
        })
        .collect()
}

/// The paper's capacity (largest length with mean accuracy >= 0.99) and the greedy one (largest
/// length where every text is greedy-exact), for each number of vectors.
pub fn capacities(rows: &[Row]) -> BTreeMap<usize, (Option<usize>, Option<usize>)> {
    let mut out: BTreeMap<usize, (Option<usize>, Option<usize>)> = BTreeMap::new();
    for r in rows {
        let e = out.entry(r.mem).or_default();
        if r.mean_accuracy >= 0.99 {
            e.0 = e.0.max(Some(r.length));
        }
        if r.greedy_exact_share >= 1.0 {
            e.1 = e.1.max(Some(r.length));
        }
    }
    out
}

/// The table as text.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from("  mem  length  texts  accuracy  greedy-exact  token gain  info gain (bits)    steps\n");
    for r in rows {
        s += &format!(
            "{:>5}  {:>6}  {:>5}  {:>8.4}  {:>12.2}  {:>10.1}  {:>16.1}  {:>7.0}\n",
            r.mem, r.length, r.texts, r.mean_accuracy, r.greedy_exact_share, r.mean_token_gain, r.mean_information_gain_bits, r.mean_steps
        );
    }
    for (mem, (paper, greedy)) in capacities(rows) {
        let show = |c: Option<usize>| c.map_or("below the shortest length".to_string(), |c| format!("{c} tokens"));
        s += &format!("capacity with {mem} vector(s): {} (mean accuracy >= 0.99), {} (every text greedy-exact)\n", show(paper), show(greedy));
    }
    s
}

/// Writes `accuracy.svg`, `ce.svg` and, when several vector counts were run, `vectors.svg` into `dir`.
pub fn plots(records: &[Record], dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let rows = rows(records);
    let mut written = vec![];
    let max_len = rows.iter().map(|r| r.length).max().unwrap_or(1) as f64;
    let mems: Vec<usize> = capacities(&rows).keys().copied().collect();

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
        for (i, mem) in mems.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = rows.iter().filter(|r| r.mem == *mem).map(|r| (r.length as f64, r.mean_accuracy)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(format!("teacher-forced accuracy, {mem} vector(s)"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
            let greedy: Vec<(f64, f64)> = rows.iter().filter(|r| r.mem == *mem).map(|r| (r.length as f64, r.greedy_exact_share)).collect();
            let dashed = color.mix(0.5);
            chart
                .draw_series(LineSeries::new(greedy, dashed.stroke_width(2)))?
                .label(format!("greedy-exact share, {mem} vector(s)"))
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
        for (i, mem) in mems.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(
                    records
                        .iter()
                        .filter(|r| r.metrics.mem == *mem)
                        .map(|r| Circle::new((r.metrics.ce_without_mem_nats, r.metrics.ce_with_mem_nats), 3, color.filled())),
                )?
                .label(format!("{mem} vector(s)"))
                .legend(move |(x, y)| Circle::new((x + 8, y), 3, color.filled()));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::UpperLeft).draw()?;
        root.present()?;
    }
    written.push(path);

    if mems.len() > 1 {
        let path = dir.join("vectors.svg");
        let caps = capacities(&rows);
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
            let pts: Vec<(f64, f64)> = caps
                .iter()
                .filter_map(|(m, c)| if which == 0 { c.0 } else { c.1 }.map(|v| (*m as f64, v as f64)))
                .collect();
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
