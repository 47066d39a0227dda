//! The guided walk for workshops: nine short steps, each with numbers from the loaded model, a thing
//! to do on the page, and mostly a "try it" that fills the controls with a small example that
//! converges within a minute: decoding the gallery's vectors, the vector, its capacity, teacher-forced against greedy, bits, how the
//! text locks in, what the vector is and how the model reads it, sending it to a neighbour, and where
//! one vector stops.

use cram_core::methods::Recipe;
use leptos::prelude::*;

use super::BitChart;
use crate::state::AppState;

/// One step of the walk.
struct Step {
    title: &'static str,
    body: &'static str,
    /// `(text, tokens, vectors)` put into the controls by "try it", with the default recipe's
    /// method and learning rate (core's `Recipe::default()`, the CLI's default too).
    example: Option<(&'static str, usize, usize)>,
    /// Shows the bit chart of the last run.
    bits: bool,
}

const STEPS: &[Step] = &[
    Step {
        title: "Decode before you cram",
        body: "Start with the gallery under the model: each entry is a .cram file that the cram command made for SmolLM2-135M, a vector of 576 numbers (or a few). Press Decode: the page loads the model, which reads the vector and writes the text back token by token, with no training. A sentence, a limerick, random words and a whole paragraph each come from one vector; the last entry did not fit, and you see what it decodes to instead.",
        example: None,
        bits: false,
    },
    Step {
        title: "A memory vector",
        body: "A language model reads a text as a sequence of input vectors, one per token. cram adds one more vector in front — not the embedding of any token, but free numbers — and trains only those numbers, with the model frozen, until the model, reading that vector alone, writes the text. The text is then stored in the vector. The page's default recipe (fast, as the CLI's) trains the vector through a dense layer, which gets there in far fewer steps, and the file still holds one vector; the paper's recipe (memory, in the recipe menu) trains the vector directly.",
        example: Some(("Hello, world!", 0, 1)),
        bits: false,
    },
    Step {
        title: "How much fits in one vector",
        body: "A vector has d numbers. If each carries about 16 useful bits, the vector holds d·16 bits; each token of a vocabulary of V tokens needs log₂V bits, so one vector holds at most d·16 / log₂V tokens. That is the theoretical capacity below; real runs reach a fraction of it.",
        example: None,
        bits: false,
    },
    Step {
        title: "Teacher-forced versus greedy",
        body: "While training, the model sees the true previous tokens and we count how many next tokens it gets right (teacher-forced accuracy: the first row of the token strip). Getting the text back is harder: greedy decoding feeds the model its own guesses, so one early mistake derails the rest (the second row, which shows what greedy decoding from the current vectors gives). cram calls a text crammed only when greedy decoding gives back every token.",
        example: Some(("The cat sat on the mat.", 0, 1)),
        bits: false,
    },
    Step {
        title: "Predictable texts cram further",
        body: "The vector only has to carry what the model cannot guess. A well-known sentence costs few bits; a list of random words costs the full log₂V bits per token. Try both, and compare the information gain and the steps in the metrics table. The chart below puts the last text in bits: the vectors, the model's own code (its cross-entropy: what an arithmetic coder driven by the model spends) and zstd. A predictable text costs the model few bits; the vectors cost the same whatever the text.",
        example: Some(("window seventeen purple oxygen ladder", 0, 1)),
        bits: true,
    },
    Step {
        title: "How the text locks in",
        body: "Cram the example and watch the picture under the curves: a row per token, a column per step, darker where the model gives the right token more probability; a dot marks the step at which greedy decoding first got that token right. When the run is done, drag the replay slider: the token rows and the curves go back to that step. Do the tokens lock in one after another, or all at once?",
        example: Some(("It was a bright cold day in April.", 0, 1)),
        bits: false,
    },
    Step {
        title: "What the vector is, and how the model reads it",
        body: "After a run, look under the text that came back. The vector's norm stands beside the token embeddings' norms, with its nearest tokens by cosine: it is near none of them, and far longer than any: it is not a word. The picture below shows how the model reads it: for each layer (a row) and each token (a column), how much of its attention the model gives the vector while predicting that token. Which layers read it most, and does it fade along the text?",
        example: Some(("Hello, world!", 0, 1)),
        bits: false,
    },
    Step {
        title: "Send a vector to a neighbour",
        body: "Cram a secret sentence, then press Share as a link: the link carries the vector and names the model. Send it to your neighbour. Opening it loads that model and decodes the sentence from the vector alone, with no training: the text travelled as d numbers (576 for SmolLM2-135M), not as words.",
        example: Some(("Meet me by the old oak at noon.", 0, 1)),
        bits: false,
    },
    Step {
        title: "Where one vector stops",
        body: "Put a longer passage in the text box and press Capacity experiment: the page crams it at growing lengths, one after the other, and draws accuracy and greedy exactness against the length as it goes (the paper's figure, live), stopping where it breaks. That length is one vector's capacity for this text; try a predictable passage and a list of random words.",
        example: Some(("It was the best of times, it was the worst of times, it was the age of wisdom.", 0, 1)),
        bits: false,
    },
];

/// The walk, shown when `state.teaching` is on.
#[component]
pub fn Teaching(state: AppState) -> impl IntoView {
    let at = RwSignal::new(0usize);
    let capacity = move || {
        state
            .info()
            .map(|i| {
                let bits = (i.vocab as f64).log2();
                format!(
                    "With the loaded model: d = {}, V = {}, log₂V = {:.1} bits per token, so one vector holds at most {} · 16 / {:.1} = {:.0} tokens.",
                    i.hidden,
                    i.vocab,
                    bits,
                    i.hidden,
                    bits,
                    cram_core::metrics::theoretical_capacity_tokens(i.hidden, i.vocab, 1)
                )
            })
            .unwrap_or_else(|| "Load a model to see its numbers.".into())
    };
    view! {
        <Show when=move || state.teaching.get()>
            <section class="card teach" data-testid="teaching">
                {move || {
                    let i = at.get();
                    let step = &STEPS[i];
                    let example = step.example;
                    view! {
                        <h2>{format!("Step {} of {}: {}", i + 1, STEPS.len(), step.title)}</h2>
                        <p>{step.body}</p>
                        <p class="muted">{capacity}</p>
                        {example.map(|(text, tokens, mem)| view! {
                            <button on:click=move |_| {
                                let recipe = Recipe::default();
                                state.text.set(text.to_string());
                                state.tokens.set(tokens);
                                state.mem.set(mem);
                                state.method.set(recipe.method().kind());
                                state.lr.set(recipe.lr());
                            }>{format!("Try it: \"{text}\"")}</button>
                        })}
                        {step.bits.then(|| view! { <BitChart result=state.result /> })}
                    }
                }}
                <div class="row">
                    <button disabled=move || at.get() == 0 on:click=move |_| at.update(|a| *a = a.saturating_sub(1))>"Back"</button>
                    <button disabled=move || at.get() + 1 == STEPS.len() on:click=move |_| at.update(|a| *a = (*a + 1).min(STEPS.len() - 1))>"Next"</button>
                </div>
            </section>
        </Show>
    }
}
