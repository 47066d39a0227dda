//! Methods side by side (as `cram compare` in the terminal): the runs of the last comparison with
//! their loss curves on one axis, a table of their measures, and each one's greedy row.

use leptos::prelude::*;

use super::live::{H, W, marked, polyline_to, token_row};
use crate::state::AppState;

/// The colours of the compared runs, in order.
const COLOURS: [&str; 4] = ["#1f6fd1", "#d1431f", "#2a9d4b", "#8e44ad"];

/// The side-by-side view; empty until a comparison has a finished run.
#[component]
pub fn SideBySide(state: AppState) -> impl IntoView {
    move || {
        let runs = state.compared.get();
        if runs.is_empty() {
            return ().into_any();
        }
        let last = runs.iter().filter_map(|r| r.curve.last().map(|p| p.step)).max().unwrap_or(1);
        let top = runs.iter().flat_map(|r| r.curve.iter().map(|p| p.loss)).fold(1e-9, f64::max);
        let lines = runs
            .iter()
            .zip(COLOURS.iter().cycle())
            .map(|(r, colour)| {
                view! { <polyline data-testid="compare-curve" data-method=r.method.as_str() fill="none" stroke=*colour stroke-width="2" points=polyline_to(&r.curve, |p| p.loss, top, last) /> }
            })
            .collect_view();
        let rows = runs
            .iter()
            .zip(COLOURS.iter().cycle())
            .map(|(r, colour)| {
                let m = &r.metrics;
                view! {
                    <tr data-testid="compare-row" data-method=r.method.as_str() data-exact=m.greedy_exact.to_string()>
                        <td><span style=format!("color:{colour}")>"■ "</span>{r.method.as_str()}</td>
                        <td>{m.steps}</td>
                        <td>{format!("{:.3}", m.teacher_forced_accuracy)}</td>
                        <td>{if m.greedy_exact { "yes" } else { "no" }}</td>
                        <td>{format!("{:.1}", m.information_gain_bits)}</td>
                        <td>{m.trainable_parameters}</td>
                        <td>{format!("{:.1}", m.seconds)}</td>
                        <td>{r.stop.as_str()}</td>
                    </tr>
                }
            })
            .collect_view();
        let strips = runs.iter().map(|r| token_row(format!("{} (greedy)", r.method), "compare-strip", marked(&r.greedy))).collect_view();
        view! {
            <div data-testid="side-by-side">
                <h3>"Side by side"</h3>
                <svg viewBox=format!("0 0 {W} {H}") width="100%" height="150" preserveAspectRatio="none" data-testid="compare-curves">
                    <rect x="0" y="0" width=W height=H class="plot-bg" />
                    {lines}
                </svg>
                <p class="legend">{format!("loss per step, on one axis (up to step {last})")}</p>
                <table class="metrics">
                    <tr><th>"method"</th><th>"steps"</th><th>"accuracy"</th><th>"greedy-exact"</th><th>"info gain (bits)"</th><th>"trained values"</th><th>"seconds"</th><th>"stop"</th></tr>
                    {rows}
                </table>
                {strips}
            </div>
        }
        .into_any()
    }
}
