//! How the text locks in: a picture of tokens (rows) against steps (columns), each cell (a pixel of
//! one image, stretched) the probability the model gave that token at that step with the true text
//! fed in (white 0, green 1), and a dot where greedy decoding from the vectors first gave that token
//! right; after the run, a slider replays it step by step (the token rows, the greedy row and the
//! measures at that step).

use base64::Engine;
use leptos::prelude::*;

use super::live::{W, marked, token_row};
use crate::protocol::{StepRow, TokenMark};
use crate::state::{AppState, RunPhase};

/// The most columns the picture draws (rows of the run, evenly spaced).
const MAX_COLUMNS: usize = 120;
/// The width left of the cells for the tokens' pieces.
const LABELS: f64 = 72.0;

/// The indices into `history` the picture draws, oldest first, the last one always included.
fn columns(history: &[StepRow]) -> Vec<usize> {
    let n = history.len();
    if n <= MAX_COLUMNS {
        return (0..n).collect();
    }
    (0..MAX_COLUMNS).map(|c| c * (n - 1) / (MAX_COLUMNS - 1)).collect()
}

/// The picture as a `data:` URL of an uncompressed 24-bit BMP, a pixel per token (row) and column:
/// white at probability 0 to green at 1.
fn picture(history: &[StepRow], cols: &[usize], tokens: usize) -> String {
    let (w, h) = (cols.len(), tokens);
    let stride = (3 * w).div_ceil(4) * 4;
    let size = 54 + stride * h;
    let mut bmp = Vec::with_capacity(size);
    bmp.extend_from_slice(b"BM");
    for v in [size as u32, 0, 54, 40, w as u32, h as u32] {
        bmp.extend_from_slice(&v.to_le_bytes());
    }
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&24u16.to_le_bytes());
    for v in [0u32, (stride * h) as u32, 2835, 2835, 0, 0] {
        bmp.extend_from_slice(&v.to_le_bytes());
    }
    // rows bottom-up, pixels blue-green-red
    for i in (0..h).rev() {
        let start = bmp.len();
        for &c in cols {
            let p = history[c].probabilities.get(i).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            let mix = |white: f32, green: f32| (white + (green - white) * p).round() as u8;
            bmp.extend_from_slice(&[mix(255.0, 60.0), mix(255.0, 150.0), mix(255.0, 40.0)]);
        }
        bmp.resize(start + stride, 0);
    }
    format!("data:image/bmp;base64,{}", base64::engine::general_purpose::STANDARD.encode(&bmp))
}

/// For each token, the first step at which a live greedy decode had it right (None: never yet).
fn first_greedy_right(greedy: &[(usize, Vec<TokenMark>)], tokens: usize) -> Vec<Option<usize>> {
    (0..tokens).map(|i| greedy.iter().find(|(_, row)| row.get(i).is_some_and(|t| t.right)).map(|(step, _)| *step)).collect()
}

/// The greedy row last decoded at or before `step`.
fn greedy_at(greedy: &[(usize, Vec<TokenMark>)], step: usize) -> Option<&Vec<TokenMark>> {
    greedy.iter().rev().find(|(s, _)| *s <= step).map(|(_, row)| row)
}

/// The picture and, after the run, the replay.
#[component]
pub fn LockIn(state: AppState) -> impl IntoView {
    move || {
        let history = state.history.get();
        let pieces = state.pieces.get();
        let tokens = history.last().map_or(0, |r| r.probabilities.len());
        if tokens == 0 {
            return ().into_any();
        }
        let greedy = state.greedy_history.get();
        let cols = columns(&history);
        let ch = (320.0 / tokens as f64).clamp(3.0, 12.0);
        let cw = (W - LABELS) / cols.len() as f64;
        let height = ch * tokens as f64;
        let replayed = state.replay.get().map(|i| i.min(history.len() - 1));
        // one image of tokens x columns pixels, stretched over the cells: hundreds of SVG elements
        // redrawn while a run goes on swamped the page's thread
        let cells = view! {
            <image x=LABELS y="0" width=format!("{:.2}", W - LABELS) height=format!("{height:.2}") preserveAspectRatio="none"
                style="image-rendering: pixelated" href=picture(&history, &cols, tokens)></image>
        };
        // the column at or after each token's first right greedy decode
        let column_of = |step: usize| cols.iter().position(|&h| history[h].step >= step).unwrap_or(cols.len() - 1);
        let firsts = first_greedy_right(&greedy, tokens);
        let dots = firsts
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .map(|(i, s)| {
                let c = column_of(s);
                view! { <circle data-testid="lockin-greedy" data-token=i.to_string() data-step=s.to_string() cx=format!("{:.1}", LABELS + (c as f64 + 0.5) * cw) cy=format!("{:.1}", (i as f64 + 0.5) * ch) r=format!("{:.1}", (ch / 3.0).max(1.5)) fill="#1d2430"></circle> }
            })
            .collect_view();
        // each row's token, where the rows are tall enough to read
        let labels = (ch >= 7.0).then(|| {
            pieces
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let shown: String = p.replace('\n', "⏎").chars().take(10).collect();
                    view! { <text x="2" y=format!("{:.1}", (i as f64 + 0.8) * ch) font-size=format!("{:.0}", (ch - 1.0).min(11.0)) font-family="monospace">{shown}</text> }
                })
                .collect_view()
        });
        let marker = replayed.map(|i| {
            let c = column_of(history[i].step);
            view! { <line x1=format!("{:.1}", LABELS + (c as f64 + 0.5) * cw) x2=format!("{:.1}", LABELS + (c as f64 + 0.5) * cw) y1="0" y2=format!("{height:.1}") stroke="#2457c5" stroke-width="2"></line> }
        });
        let done = !matches!(state.phase.get(), RunPhase::Running | RunPhase::Decoding);
        let replay = done.then(|| {
            let at = replayed.unwrap_or(history.len() - 1);
            let row = &history[at];
            let curve = state.curve.get();
            let point = curve.iter().rev().find(|p| p.step <= row.step).copied();
            let right = row.correct.iter().filter(|&&c| c).count();
            let teacher = pieces.iter().enumerate().map(|(i, p)| (p.clone(), row.correct.get(i).copied())).collect();
            let greedy_row = greedy_at(&greedy, row.step).map(|g| marked(g)).unwrap_or_else(|| pieces.iter().map(|p| (p.clone(), None)).collect());
            view! {
                <label>"Replay: step "
                    <input type="range" data-testid="replay" min="0" max=(history.len() - 1).to_string() prop:value=at.to_string()
                        on:input=move |ev| state.replay.set(event_target_value(&ev).parse().ok()) />
                </label>
                <p data-testid="replay-step" data-step=row.step.to_string() data-right=right.to_string()>
                    {format!("step {}: {right} of {} tokens right (teacher-forced)", row.step, row.correct.len())}
                    {point.map(|p| format!(", loss {:.3} nats/token", p.loss))}
                </p>
                {token_row(format!("teacher-forced at {}", row.step), "replay-teacher-forced", teacher)}
                {token_row("greedy then", "replay-greedy", greedy_row)}
            }
        });
        view! {
            <div data-testid="lockin-view">
                <h3>"How the text locks in: each token's probability by step (darker: surer), dots where greedy decoding first got it right"</h3>
                <svg data-testid="lockin" data-rows=tokens.to_string() data-columns=cols.len().to_string() viewBox=format!("0 0 {W} {height:.1}") class="plot" role="img" aria-label="probability of each token by step">
                    {labels}
                    {cells}
                    {dots}
                    {marker}
                </svg>
                {replay}
            </div>
        }
        .into_any()
    }
}
