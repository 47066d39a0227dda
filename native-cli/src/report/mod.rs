//! Results as people read them: the statistics of a results file ([`statistics`]: its cells, their
//! means and spread, the two capacities), its tables ([`tables`]) and its SVG plots ([`plots`]).

pub mod plots;
pub mod statistics;
pub mod tables;

pub use plots::plots;
pub use statistics::rows;
pub use tables::{Format, legend, method_summary, table_as};

use std::path::Path;

use anyhow::Result;

use crate::results::read_records;

/// Prints the table of the results file `out` in `format` and writes its plots into `plot`.
pub fn print(out: &Path, plot: Option<&Path>, format: Format) -> Result<()> {
    let records = read_records(out)?;
    out!("{}", table_as(&rows(&records), format));
    if format != Format::Json {
        out!("{}", legend(&records));
    }
    if let Some(dir) = plot {
        for p in plots(&records, dir)? {
            errln!("wrote {}", p.display());
        }
    }
    Ok(())
}
