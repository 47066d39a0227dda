//! SVG plots of a results file: accuracy against length; cross-entropy without against with memory
//! (the paper's Figure 3); capacity against the number of vectors (its Figure 4); bits per text.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::statistics::{BitMeans, Row, capacities, rows};
use crate::results::Record;

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
    use cram_core::bits::BitAccount;
    use cram_core::bits::TextCodes;
    use cram_core::memory::Memory;
    use cram_core::metrics::CramMetrics;

    /// A result line of a text of `length` tokens crammed into `mem` vectors of the tiny model.
    fn record(id: &str, length: usize, mem: usize, right: usize, exact: bool) -> Record {
        let metrics = CramMetrics::new(length, mem, 40 + right, 1.5, length, right, 1, exact, 3.0 + length as f64 / 10.0, 0.5, 64, 384);
        let memory = Memory { prefix_ids: vec![0], k: mem, vectors: vec![0.0; 64 * mem], lora: None, one_pass: false };
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
