//! The bits of the text on the page beside its codes, as a bar chart (the same account as
//! `cram compress` prints, `cram_core::bits`): the UTF-8 text, the crammed vectors at 16 and 32
//! bits, the model's cross-entropy (what its arithmetic code costs) and zstd. Bars are on a log
//! scale: the vectors are often a hundred times the model's code.

use leptos::prelude::*;

use crate::protocol::RunResult;

/// The chart of the last run's text (`result`), or nothing before a run.
#[component]
pub fn BitChart(result: RwSignal<Option<RunResult>>) -> impl IntoView {
    move || {
        result.get().map(|r: RunResult| {
            let b = &r.bits;
            let rows: Vec<(&str, f64)> = vec![
                ("text (UTF-8)", b.raw_bits as f64),
                ("vectors, 32-bit", b.vector_bits_32 as f64),
                ("vectors, 16-bit", b.vector_bits_16 as f64),
                ("zstd (fastest level)", r.zstd_bits as f64),
                ("LM cross-entropy", b.lm_ce_bits),
            ];
            // Log scale from half the smallest value to the largest, so that a factor of two is
            // the same length anywhere and the smallest bar is still seen.
            let lo = rows.iter().map(|(_, v)| *v).fold(f64::MAX, f64::min).max(1.0) / 2.0;
            let hi = rows.iter().map(|(_, v)| *v).fold(lo * 2.0, f64::max);
            let raw = b.raw_bits as f64;
            view! {
                <div class="bits" data-testid="bit-chart">
                    <h3>"This text in bits"</h3>
                    {rows.into_iter().map(|(what, bits)| {
                        let width = 100.0 * (bits.max(lo) / lo).ln() / (hi / lo).ln();
                        view! {
                            <div class="bit-row" data-what=what data-bits=format!("{bits:.1}")>
                                <span class="bit-label">{what}</span>
                                <span class="bit-track"><span class="bit-bar" style=format!("width: {width:.1}%")></span></span>
                                <span class="bit-value">{format!("{bits:.0} bits ({:.2}x)", raw / bits.max(1e-9))}</span>
                            </div>
                        }
                    }).collect_view()}
                    <p class="muted">"x: times smaller than the UTF-8 text (log-scale bars). The vectors give the text back by greedy decoding; the model's own arithmetic code (" <code>"cram zip"</code> ") costs about its cross-entropy."</p>
                </div>
            }
        })
    }
}
