//! What the vector is: each crammed vector's norm beside the norms of the token embeddings, and the
//! tokens nearest to it by cosine similarity (core's [`cram_core::geometry`]). A token's embedding
//! has cosine 1 with itself; the crammed vectors are near no token, and far longer or shorter than
//! one: they are not words, yet the model reads the text out of them. And how it reads them: a
//! layers x tokens picture of the share of attention each token's prediction gives the vectors.

use leptos::prelude::*;

use crate::protocol::RunResult;

/// The view of the last run's vectors (`result`); nothing before a run or for LoRA.
#[component]
pub fn VectorGeometryView(result: RwSignal<Option<RunResult>>) -> impl IntoView {
    move || {
        let g = result.get()?.geometry?;
        let e = g.vectors.embedding_norms;
        let rows = g
            .vectors
            .norms
            .iter()
            .zip(&g.vectors.nearest)
            .zip(&g.pieces)
            .enumerate()
            .map(|(j, ((norm, near), pieces))| {
                let best = near.first().map_or(0.0, |n| n.cosine);
                let list = near.iter().zip(pieces).map(|(n, p)| format!("{:?} {:.2}", p, n.cosine)).collect::<Vec<_>>().join(", ");
                view! {
                    <li data-testid="geometry-vector" data-norm=format!("{norm:.4}") data-best-cosine=format!("{best:.4}")>
                        {format!("vector {}: norm {norm:.2}, {:.1}× a typical token's; nearest tokens by cosine: {list}", j + 1, norm / e.median.max(f32::MIN_POSITIVE))}
                    </li>
                }
            })
            .collect_view();
        Some(view! {
            <div data-testid="geometry">
                <h3>"What the vector is"</h3>
                <p class="muted">{format!(
                    "The token embeddings' norms: min {:.2}, median {:.2}, mean {:.2}, max {:.2}. A token's own embedding has cosine 1 with itself; the crammed vectors are near none of them.",
                    e.min, e.median, e.mean, e.max
                )}</p>
                <ul>{rows}</ul>
                {attention_view(g.attention.as_ref(), &result.get().map(|r| r.original_tokens).unwrap_or_default())}
            </div>
        })
    }
}

/// The attention picture's drawing area (without its labels), in pixels: cells shrink to fit it.
const AREA: (usize, usize) = (560, 240);
/// Room for the layer labels (left) and the token labels (top).
const MARGIN: (usize, usize) = (56, 18);

/// The layers x tokens picture of [`cram_core::geometry::VectorAttention`]: one cell per layer (row)
/// and text token (column), darker the more of the attention predicting that token goes to the
/// vectors, labelled where the cells are large enough; a model without attention says so.
fn attention_view(attention: Option<&cram_core::geometry::VectorAttention>, tokens: &[String]) -> AnyView {
    let Some(a) = attention else {
        return view! { <p class="muted" data-testid="attention-none">"How the model reads the vectors: no attention layers to show (a Mamba reads them through its recurrent state)."</p> }.into_any();
    };
    let (rows, cols) = (a.layers.len(), a.layers.first().map_or(0, Vec::len));
    let cw = (AREA.0 / cols.max(1)).clamp(4, 32);
    let ch = (AREA.1 / rows.max(1)).clamp(4, 18);
    let (left, top) = MARGIN;
    let cells = a
        .layers
        .iter()
        .enumerate()
        .flat_map(|(l, shares)| {
            shares.iter().enumerate().map(move |(i, &s)| {
                let piece = tokens.get(i).cloned().unwrap_or_default();
                view! {
                    <rect data-testid="attention-cell" data-layer=l data-token=i data-share=format!("{s:.4}")
                        x=left + i * cw y=top + l * ch width=cw - 1 height=ch - 1 fill="#1f6feb" fill-opacity=format!("{:.3}", s.clamp(0.0, 1.0))>
                        <title>{format!("layer {}, predicting {piece:?}: {:.0}% of the attention on the vectors", l + 1, s * 100.0)}</title>
                    </rect>
                }
            })
        })
        .collect_view();
    // labels: every layer where rows are tall enough (else every fifth), every token where columns are wide enough
    let layer_step = if ch >= 10 { 1 } else { 5 };
    let layer_labels = (0..rows)
        .filter(|l| l % layer_step == 0)
        .map(|l| view! { <text x=left - 4 y=top + l * ch + ch - 3 text-anchor="end" font-size="10">{format!("layer {}", l + 1)}</text> })
        .collect_view();
    let token_labels = (cw >= 20).then(|| {
        tokens
            .iter()
            .take(cols)
            .enumerate()
            .map(|(i, t)| view! { <text x=left + i * cw + cw / 2 y=top - 5 text-anchor="middle" font-size="9">{t.chars().take(4).collect::<String>()}</text> })
            .collect_view()
    });
    let mean = a.layers.iter().flatten().map(|&s| s as f64).sum::<f64>() / (rows * cols).max(1) as f64;
    view! {
        <div>
            <h4>"How the model reads the vectors"</h4>
            <p class="muted">{format!(
                "Each row a layer (first at the top), each column a token of the text: how much of the attention, over the heads, the position predicting that token gives to the vectors ({:.0}% on average). Hover a cell for its value.",
                mean * 100.0
            )}</p>
            <svg data-testid="attention-map" width=left + cols * cw height=top + rows * ch>{layer_labels}{token_labels}{cells}</svg>
        </div>
    }
    .into_any()
}
