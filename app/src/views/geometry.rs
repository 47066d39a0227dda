//! What the vector is: each crammed vector's norm beside the norms of the token embeddings, and the
//! tokens nearest to it by cosine similarity (core's [`cram_core::geometry`]). A token's embedding
//! has cosine 1 with itself; the crammed vectors are near no token, and far longer or shorter than
//! one: they are not words, yet the model reads the text out of them.

use leptos::prelude::*;

use crate::state::AppState;

/// The view of the last run's vectors; nothing before a run or for LoRA.
#[component]
pub fn VectorGeometryView(state: AppState) -> impl IntoView {
    move || {
        let g = state.result.get()?.geometry?;
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
            </div>
        })
    }
}
