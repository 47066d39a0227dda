//! The statistics of a results file: its records grouped into cells (method and run, vectors,
//! length), each cell's means with their spread (standard deviation, 95 % confidence interval of the
//! mean), its mean bits, and the two capacities of each method and vector count.

use std::collections::BTreeMap;

use cram_core::bits::BitAccount;
use cram_core::metrics::CramMetrics;
use serde::Serialize;

use crate::results::{Record, RunTag};

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
    pub fn pm(&self, decimals: usize) -> String {
        self.ci95.map_or(String::new(), |c| format!(" ± {c:.decimals$}"))
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

/// The group of each record in tables and plots: its method, and where one file holds runs of a
/// method made otherwise (another model, recipe, dtype, device; `--separate`), the method with the
/// number of its run, `memory [2]`, in the order the runs first appear. [`legend`] says what differs.
pub fn groups(records: &[Record]) -> Vec<String> {
    let mut runs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in records {
        let tag = RunTag::key_of(r.run.as_ref());
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
            let tag = RunTag::key_of(r.run.as_ref());
            format!("{} [{}]", r.metrics.method, seen.iter().position(|t| *t == tag).expect("seen above") + 1)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A result line of `method` with `mem` vectors at `length` tokens: its accuracy and whether it
    /// was greedy-exact.
    fn record(method: &str, mem: usize, length: usize, right: usize, exact: bool) -> impl FnOnce(Option<BitAccount>) -> Record {
        let mut metrics = CramMetrics::new(length, mem, 10 * right, 1.5, length, right, 0, exact, 3.0, 0.5, 64, 384);
        metrics.method = method.into();
        move |bits| Record { text_id: format!("t{right}"), length, stop: "success".into(), metrics, run: None, bits }
    }

    #[test]
    fn the_spread_of_one_value_is_none_and_of_several_the_sample_std_and_students_interval() {
        assert_eq!(Spread::of(&[]), Spread { std: None, ci95: None });
        assert_eq!(Spread::of(&[0.7]), Spread { std: None, ci95: None });
        assert_eq!(Spread::of(&[0.7]).pm(2), "");
        // 1, 3: mean 2, sample std sqrt(2), t(1) = 12.706, half-width 12.706 * sqrt(2) / sqrt(2)
        let s = Spread::of(&[1.0, 3.0]);
        assert!((s.std.unwrap() - 2f64.sqrt()).abs() < 1e-12, "{s:?}");
        assert!((s.ci95.unwrap() - 12.706).abs() < 1e-9, "{s:?}");
        assert_eq!(s.pm(1), " ± 12.7");
        // equal values: no spread
        assert_eq!(Spread::of(&[2.0; 5]), Spread { std: Some(0.0), ci95: Some(0.0) });
        assert_eq!(t_975(1), 12.706);
        assert_eq!(t_975(30), 2.042);
        assert_eq!(t_975(31), 1.960);
        assert_eq!(t_975(1000), 1.960);
    }

    #[test]
    fn rows_are_the_means_of_each_cell_and_capacities_the_longest_lengths_that_pass() {
        let records = vec![
            record("memory", 1, 8, 8, true),
            record("memory", 1, 8, 6, false),
            record("memory", 1, 16, 16, true),
            record("memory", 2, 8, 8, true),
            record("dense", 1, 8, 4, false),
        ]
        .into_iter()
        .map(|r| r(None))
        .collect::<Vec<_>>();
        let rows = rows(&records);
        let cells: Vec<(&str, usize, usize, usize)> = rows.iter().map(|r| (r.method.as_str(), r.mem, r.length, r.texts)).collect();
        assert_eq!(cells, [("dense", 1, 8, 1), ("memory", 1, 8, 2), ("memory", 1, 16, 1), ("memory", 2, 8, 1)]);
        let cell = &rows[1];
        assert_eq!(cell.mean_accuracy, (1.0 + 6.0 / 8.0) / 2.0);
        assert_eq!(cell.greedy_exact_share, 0.5);
        assert_eq!(cell.mean_steps, 70.0);
        assert!(cell.accuracy.ci95.is_some());
        assert_eq!(rows[0].accuracy.ci95, None, "one text: no interval");
        assert_eq!(rows[0].mean_horizon, None);
        assert_eq!(cell.bits, None, "no record measured bits");
        let caps = capacities(&rows);
        assert_eq!(caps[&("memory".to_string(), 1)], (Some(16), Some(16)));
        assert_eq!(caps[&("memory".to_string(), 2)], (Some(8), Some(8)));
        assert_eq!(caps[&("dense".to_string(), 1)], (None, None));
    }

    #[test]
    fn runs_of_a_method_made_otherwise_are_separate_groups() {
        let lm_tag =
            |device: &str| RunTag { cram: "0".into(), device: device.into(), dtype: Default::default(), encoder: None, model: "m".into(), recipe: None };
        let mut records: Vec<Record> = (0..3).map(|i| record("memory", 1, 8, 8 - i, true)(None)).collect();
        records[0].run = Some(lm_tag("cpu"));
        records[1].run = Some(lm_tag("wgpu"));
        records[2].run = Some(lm_tag("cpu"));
        assert_eq!(groups(&records), ["memory [1]", "memory [2]", "memory [1]"]);
        records[1].run = Some(lm_tag("cpu"));
        assert_eq!(groups(&records), ["memory", "memory", "memory"]);
    }

    #[test]
    fn bit_means_are_none_without_accounts() {
        assert_eq!(BitMeans::of(&[]), None);
    }
}
