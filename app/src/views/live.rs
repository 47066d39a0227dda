//! What the page shows while a run goes on: the token strip coloured by whether each token is
//! predicted right now (teacher-forced and greedy), the loss and accuracy curves, and the vectors as a
//! heat strip.

use leptos::prelude::*;

use cram_core::methods::MethodName;

use crate::protocol::{CurvePoint, TokenMark};

/// A greedy row as [`token_row`] takes it: every piece known right or wrong.
pub(super) fn marked(row: &[TokenMark]) -> Vec<(String, Option<bool>)> {
    row.iter().map(|t| (t.piece.clone(), Some(t.right))).collect()
}

/// One row of token pieces, green where right, red where wrong, plain where not known yet.
pub(super) fn token_row(label: impl Into<String>, testid: &'static str, tokens: Vec<(String, Option<bool>)>) -> impl IntoView {
    let label = label.into();
    view! {
        <div class="strip-row">
            <span class="strip-label">{label}</span>
            <span class="strip" data-testid=testid>
                {tokens.into_iter().map(|(piece, right)| {
                    let class = match right { Some(true) => "tok ok", Some(false) => "tok bad", None => "tok" };
                    view! { <span class=class>{piece.replace('\n', "⏎")}</span> }
                }).collect_view()}
            </span>
        </div>
    }
}

/// The target's tokens twice: coloured by whether the model predicts each one right at the last step
/// with the true text fed in (teacher-forced), and by whether greedy decoding from the current vectors
/// alone gives it at its place (the greedy row shows what it gives; for one-pass, the "one pass" row:
/// the whole text from one forward pass).
#[component]
pub fn TokenStrip(
    /// The target's token pieces.
    pieces: RwSignal<Vec<String>>,
    /// Whether each is predicted right, teacher-forced, at the last step.
    correct: RwSignal<Vec<bool>>,
    /// The last greedy decode.
    greedy: RwSignal<Vec<TokenMark>>,
    /// The method of the run.
    method: RwSignal<MethodName>,
) -> impl IntoView {
    view! {
        <div data-testid="token-strip">
            {move || {
                let correct = correct.get();
                let row = pieces.get().into_iter().enumerate().map(|(i, p)| (p, correct.get(i).copied())).collect();
                token_row("teacher-forced", "strip-teacher-forced", row)
            }}
            {move || {
                let greedy = greedy.get();
                let row = if greedy.is_empty() {
                    pieces.get().into_iter().map(|p| (p, None)).collect()
                } else {
                    marked(&greedy)
                };
                // one-pass decodes the whole text from one forward pass: the row appears at once
                let label = if method.get() == MethodName::OnePass { "one pass" } else { "greedy" };
                token_row(label, "strip-greedy", row)
            }}
        </div>
    }
}

pub(super) const W: f64 = 600.0;
pub(super) const H: f64 = 140.0;

/// SVG `points` of `values` over the steps, scaled to `[0, top]`.
fn polyline(points: &[CurvePoint], value: impl Fn(&CurvePoint) -> f64, top: f64) -> String {
    polyline_to(points, value, top, points.last().map(|p| p.step).unwrap_or(1))
}

/// [`polyline`] on an axis that ends at step `last` (curves of several runs on one axis).
pub(super) fn polyline_to(points: &[CurvePoint], value: impl Fn(&CurvePoint) -> f64, top: f64, last: usize) -> String {
    let last = last.max(2) as f64;
    points
        .iter()
        .map(|p| {
            let x = (p.step as f64 - 1.0) / (last - 1.0) * W;
            let y = H - (value(p) / top).clamp(0.0, 1.0) * H;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Loss (mean cross-entropy, scaled to its first value) and teacher-forced accuracy per step
/// (`curve`), and the run's speed.
#[component]
pub fn Curves(curve: RwSignal<Vec<CurvePoint>>, steps_per_second: RwSignal<f64>) -> impl IntoView {
    let loss_top = move || curve.with(|c| c.iter().map(|p| p.loss).fold(1e-9, f64::max));
    view! {
        <div class="curves">
            <svg viewBox=format!("0 0 {W} {H}") width="100%" height="150" preserveAspectRatio="none" data-testid="curves">
                <rect x="0" y="0" width=W height=H class="plot-bg" />
                <polyline class="loss" fill="none" points=move || curve.with(|c| polyline(c, |p| p.loss, loss_top())) />
                <polyline class="acc" fill="none" points=move || curve.with(|c| polyline(c, |p| p.accuracy, 1.0)) />
            </svg>
            <p class="legend">
                <span class="loss-key">"— loss"</span>
                {move || curve.with(|c| c.last().map(|p| format!(" {:.3} nats/token", p.loss)).unwrap_or_default())}
                "   " <span class="acc-key">"— accuracy"</span>
                {move || curve.with(|c| c.last().map(|p| format!(" {:.0}% at step {}", p.accuracy * 100.0, p.step)).unwrap_or_default())}
                {move || { let s = steps_per_second.get(); if s > 0.0 { format!(" · {s:.1} steps/s") } else { String::new() } }}
            </p>
        </div>
    }
}

/// A colour for `v` in `[-1, 1]`: blue, white, red.
fn heat_colour(v: f32) -> String {
    let t = v.clamp(-1.0, 1.0);
    let (r, g, b) = if t >= 0.0 { (255.0, 255.0 * (1.0 - t), 255.0 * (1.0 - t)) } else { (255.0 * (1.0 + t), 255.0 * (1.0 + t), 255.0) };
    format!("rgb({r:.0},{g:.0},{b:.0})")
}

/// The vectors (`heat`, row-major), one row per vector, one cell per coordinate (`width` of them),
/// scaled by the largest magnitude.
#[component]
pub fn HeatStrip(heat: RwSignal<Vec<f32>>, #[prop(into)] width: Signal<usize>) -> impl IntoView {
    let d = move || width.get().max(1);
    view! {
        <div data-testid="heat-strip">
            {move || {
                let mem = heat.get();
                if mem.is_empty() {
                    return view! { <p class="muted">"The vectors appear here a second into the run."</p> }.into_any();
                }
                let d = d();
                let rows = mem.len() / d;
                let scale = mem.iter().fold(1e-9f32, |m, v| m.max(v.abs()));
                let cells = mem.iter().enumerate().map(|(i, v)| {
                    let (row, col) = (i / d, i % d);
                    view! { <rect x=col y={row * 8} width="1" height="8" fill={heat_colour(v / scale)} /> }
                }).collect_view();
                view! {
                    <svg viewBox=format!("0 0 {d} {}", rows * 8) width="100%" height={rows * 24} preserveAspectRatio="none">{cells}</svg>
                    <p class="muted">{format!("{rows} vector(s) × {d} floats, largest |value| {scale:.3}")}</p>
                }.into_any()
            }}
        </div>
    }
}
