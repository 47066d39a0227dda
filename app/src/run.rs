//! One compression run as the page sees it: the controls go to the compute side
//! ([`crate::compute`], in the worker or on the page, see [`crate::backend`]) and its events feed the
//! live views: the curves, the teacher-forced and greedy rows, the heat strip, then the result. Stop
//! asks the compute side to stop after its current step; the best vectors are kept.

use std::cell::Cell;

use cram_core::methods::MethodName;
use futures_util::StreamExt;
use leptos::prelude::*;

use crate::backend::{self, Place};
use crate::protocol::{Controls, Event, Request};
use crate::state::{AppState, CapacityPoint, ComparedRun, RunPhase};

/// Curve points kept; older ones are thinned so long runs stay cheap to draw.
const MAX_CURVE_POINTS: usize = 600;
/// Least time between two redraws of the lock-in picture while a run goes on: progress comes every
/// 30 ms, and redrawing the picture that often swamped the page's thread.
const HISTORY_EVERY_MS: f64 = 500.0;

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

thread_local! {
    /// Counts runs; a run whose number is no longer current was abandoned ([`abandon_run`]) and leaves
    /// the page alone.
    static RUN: Cell<u64> = const { Cell::new(0) };
}

/// Where the loaded model computes (the worker when nothing is loaded).
pub fn place(state: &AppState) -> Place {
    match state.info() {
        Some(info) if !info.in_worker => Place::Page,
        _ => Place::Worker,
    }
}

/// Asks the running loop to stop after the current step.
pub fn request_stop(state: AppState) {
    drop(backend::call(place(&state), Request::Stop));
}

/// Gives up the running loop at once (its device is gone): whatever it finishes with is not shown.
pub fn abandon_run() {
    RUN.with(|r| r.set(r.get() + 1));
}

fn current(run: u64) -> bool {
    RUN.with(|r| r.get() == run)
}

/// The controls of the page with the method `name`.
fn controls(state: &AppState, name: MethodName) -> Controls {
    Controls {
        method: name,
        rank: state.rank.get_untracked(),
        mem: state.mem.get_untracked(),
        lr: state.lr.get_untracked(),
        max_steps: state.max_steps.get_untracked(),
        text: state.text.get_untracked(),
        tokens: state.tokens.get_untracked(),
        learned_start: state.learned_start.get_untracked(),
    }
}

/// Adds curve points (or step rows), keeping every other one of the older half once there are too
/// many.
fn extend_thinned<T: Clone>(kept: &mut Vec<T>, new: Vec<T>) {
    kept.extend(new);
    while kept.len() > MAX_CURVE_POINTS {
        let half = kept.len() / 2;
        let mut thinned: Vec<T> = kept[..half].iter().step_by(2).cloned().collect();
        thinned.extend_from_slice(&kept[half..]);
        *kept = thinned;
    }
}

/// Runs one compression of the text box with the page's controls.
pub async fn compress(state: AppState) {
    state.compared.set(vec![]);
    state.capacity.set(vec![]);
    compress_with(state, state.method.get_untracked(), None, false).await;
}

/// The capacity experiment (the paper's figure, live): the same passage crammed at growing lengths
/// (4, 8, 16, ... tokens, then the whole text) with the page's recipe, one run after the other, each
/// length a point of [`AppState::capacity`]; it stops at the first length that does not come back
/// exact (where the vectors' capacity breaks), at the text's end, or on Stop.
pub async fn capacity(state: AppState) {
    state.compared.set(vec![]);
    state.capacity.set(vec![]);
    let text = state.text.get_untracked();
    let total = match backend::ask(place(&state), Request::CountTokens { text }).await {
        Event::TokenCount(Some(n)) if n > 0 => n,
        _ => return state.error.set(Some("the text has no tokens with this model's tokenizer".into())),
    };
    state.capacity_running.set(true);
    for tokens in capacity_lengths(total) {
        if !compress_with(state, state.method.get_untracked(), Some(tokens), false).await {
            break;
        }
        let Some(result) = state.result.get_untracked() else { break };
        let m = &result.metrics;
        state.capacity.update(|c| c.push(CapacityPoint { tokens, accuracy: m.teacher_forced_accuracy, exact: m.greedy_exact, steps: m.steps }));
        if !m.greedy_exact {
            break;
        }
    }
    state.capacity_running.set(false);
}

/// The lengths of the capacity experiment for a text of `total` tokens: 4, 8, 16, ... below it,
/// then `total` itself.
pub fn capacity_lengths(total: usize) -> Vec<usize> {
    let mut lengths: Vec<usize> = std::iter::successors(Some(4usize), |n| n.checked_mul(2)).take_while(|&n| n < total).collect();
    lengths.push(total);
    lengths
}

/// Methods side by side: the chosen method, then the one to compare with, on the same text with the
/// same controls; each finished run joins [`AppState::compared`] (curves, measures, greedy row),
/// which the side-by-side view draws together. A stop or a failure ends the comparison.
pub async fn compare(state: AppState) {
    let first = state.method.get_untracked();
    let Some(second) = state.compare_with.get_untracked() else {
        state.error.set(Some("choose a method to compare with".into()));
        return;
    };
    state.compared.set(vec![]);
    state.capacity.set(vec![]);
    for name in [first, second] {
        if !compress_with(state, name, None, true).await {
            return;
        }
    }
}

/// One compression with the method `name` (of the first `tokens` tokens instead of the control's,
/// when given); `true` when it ran to its end (not stopped, not failed). With `compared`, the
/// finished run joins the comparison.
async fn compress_with(state: AppState, name: MethodName, tokens: Option<usize>, compared: bool) -> bool {
    if state.info().is_none() {
        state.error.set(Some("load a model first".into()));
        return false;
    }
    state.reset_run();
    let run = RUN.with(|r| {
        r.set(r.get() + 1);
        r.get()
    });
    state.phase.set(RunPhase::Running);
    let mut recipe = controls(&state, name);
    recipe.tokens = tokens.unwrap_or(recipe.tokens);
    let mut events = backend::call(place(&state), Request::Run(recipe));
    // the lock-in picture redraws from `history`: told of new rows at most every HISTORY_EVERY_MS
    let mut history_shown = 0.0;
    while let Some(event) = events.next().await {
        if !current(run) {
            return false;
        }
        match event {
            Event::Started { pieces } => state.pieces.set(pieces),
            Event::Progress { points, rows, steps_per_second } => {
                if let Some(last) = rows.last() {
                    state.correct.set(last.correct.clone());
                }
                state.curve.update(|c| extend_thinned(c, points));
                state.history.update_untracked(|h| extend_thinned(h, rows));
                if now_ms() - history_shown > HISTORY_EVERY_MS {
                    history_shown = now_ms();
                    state.history.notify();
                }
                state.steps_per_second.set(steps_per_second);
            }
            Event::Greedy { step, row, heat } => {
                state.greedy_history.update(|g| g.push((step, row.clone())));
                state.greedy.set(row);
                state.heat.set(heat);
            }
            Event::Decoding => state.phase.set(RunPhase::Decoding),
            Event::Finished { result, greedy, stopped } => {
                state.history.notify();
                let last = state.history.with_untracked(|h| h.last().map_or(0, |r| r.step));
                state.greedy_history.update(|g| g.push((last, greedy.clone())));
                state.greedy.set(greedy.clone());
                state.heat.set(result.mem.clone());
                if compared {
                    let run = ComparedRun { method: name, curve: state.curve.get_untracked(), metrics: result.metrics.clone(), greedy, stop: result.stop };
                    state.compared.update(|c| c.push(run));
                }
                state.result.set(Some(*result));
                state.phase.set(if stopped { RunPhase::Stopped } else { RunPhase::Done });
                return !stopped;
            }
            Event::Failed(e) => {
                state.error.set(Some(e));
                break;
            }
            _ => {}
        }
    }
    if current(run) {
        if state.error.get_untracked().is_none() {
            state.error.set(Some("the run ended without a result".into()));
        }
        state.phase.set(RunPhase::Failed);
    }
    false
}
