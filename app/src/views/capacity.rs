//! The capacity experiment as it goes (the paper's figure of accuracy against length): one point per
//! length crammed, teacher-forced accuracy up the side, green where greedy decoding gave the text
//! back exactly, red where it broke; the summary says up to which length the text came back.

use leptos::prelude::*;

use super::live::{H, W};
use crate::state::CapacityPoint;

/// The plot of the experiment's `points`; empty until it has one. `running`: the experiment goes on.
#[component]
pub fn CapacityPlot(points: RwSignal<Vec<CapacityPoint>>, running: RwSignal<bool>) -> impl IntoView {
    move || {
        let points = points.get();
        if points.is_empty() {
            return ().into_any();
        }
        // lengths double, so they are evenly spaced by their place
        let x = |i: usize| 30.0 + (W - 60.0) * (i as f64 + 0.5) / points.len() as f64;
        let y = |accuracy: f64| 10.0 + (H - 30.0) * (1.0 - accuracy);
        let path = points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.accuracy))).collect::<Vec<_>>().join(" ");
        let marks = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let colour = if p.exact { "#2a9d4b" } else { "#d1431f" };
                view! {
                    <circle data-testid="capacity-point" data-tokens=p.tokens.to_string() data-exact=p.exact.to_string()
                        data-accuracy=format!("{:.4}", p.accuracy) cx=format!("{:.1}", x(i)) cy=format!("{:.1}", y(p.accuracy)) r="5" fill=colour>
                        <title>{format!("{} tokens: accuracy {:.3}, {}, {} steps", p.tokens, p.accuracy, if p.exact { "exact" } else { "not exact" }, p.steps)}</title>
                    </circle>
                    <text x=format!("{:.1}", x(i)) y=format!("{:.1}", H - 4.0) text-anchor="middle" font-size="11">{p.tokens}</text>
                }
            })
            .collect_view();
        let exact_up_to = points.iter().take_while(|p| p.exact).last().map(|p| p.tokens);
        let broke = points.iter().find(|p| !p.exact);
        let summary = match (exact_up_to, broke, running.get()) {
            (_, _, true) => format!("running: {} length(s) so far", points.len()),
            (Some(n), Some(b), _) => format!("Exact up to {n} tokens; at {} tokens {:.0}% of the tokens were right, not all.", b.tokens, 100.0 * b.accuracy),
            (None, Some(b), _) => {
                format!("Not exact even at {} tokens ({:.0}% right): try more steps or a higher learning rate.", b.tokens, 100.0 * b.accuracy)
            }
            (Some(n), None, _) => format!("Exact at every length, up to the whole text ({n} tokens): a longer text would find the limit."),
            (None, None, _) => String::new(),
        };
        view! {
            <div data-testid="capacity">
                <h3>"Capacity experiment: teacher-forced accuracy against length (tokens); green: came back exact"</h3>
                <svg viewBox=format!("0 0 {W} {H}") class="plot" role="img" aria-label="accuracy against length">
                    <rect class="plot-bg" x="0" y="0" width=W height=H></rect>
                    <text x="4" y=format!("{:.1}", y(1.0) + 4.0) font-size="11">"1"</text>
                    <text x="4" y=format!("{:.1}", y(0.5) + 4.0) font-size="11">"0.5"</text>
                    <text x="4" y=format!("{:.1}", y(0.0) + 4.0) font-size="11">"0"</text>
                    <polyline fill="none" stroke="#9aa4b2" stroke-width="1.5" points=path></polyline>
                    {marks}
                </svg>
                <p data-testid="capacity-summary" data-running=running.get().to_string()>{summary}</p>
            </div>
        }
        .into_any()
    }
}
