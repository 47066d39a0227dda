//! Progress on the terminal while texts are crammed (step, loss, teacher-forced accuracy, tokens
//! right, ETA), and Ctrl-C as a clean stop that keeps the best vectors so far.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cram_core::optim::trainer::{CramOutcome, Observer, StepReport};
use indicatif::{ProgressBar, ProgressStyle};

/// Draws a bar per text on a terminal, a line every `LOG_EVERY` steps elsewhere.
pub struct Progress {
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    current: Option<usize>,
    started: web_time::Instant,
}

const LOG_EVERY: usize = 100;

impl Progress {
    /// Installs the stop handler (once per process) and returns the reporter. It hears Ctrl-C and,
    /// through ctrlc's `termination` feature, SIGTERM and SIGHUP too: SLURM's `scancel` and a
    /// preemption stop a run the way Ctrl-C does, keeping the best vectors and every finished line.
    pub fn new() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        // A second handler cannot be installed; then Ctrl-C simply ends the process.
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            errln!("\nstopping: keeping the best vectors so far (Ctrl-C or a second signal quits at once)");
        });
        Self { bar: None, stop, current: None, started: web_time::Instant::now() }
    }
}

impl Observer for Progress {
    fn on_step(&mut self, r: &StepReport) {
        let mut msg = format!(
            "{}: loss {:.4}  acc {:.3}  right {}/{} (best {})",
            r.text_id,
            r.loss,
            r.right as f64 / r.scored.max(1) as f64,
            r.right,
            r.scored,
            r.best_right
        );
        if r.target_len < r.correct.len() {
            // progressive cramming: the target grows
            msg += &format!("  target {}/{} tokens", r.target_len, r.correct.len());
        }
        if std::io::stderr().is_terminal() {
            if self.current != Some(r.text) {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
                let bar = ProgressBar::new(r.max_steps as u64);
                bar.set_style(ProgressStyle::with_template("{spinner} step {pos}/{len} {msg} [{elapsed_precise}, ETA {eta}]").expect("valid template"));
                self.bar = Some(bar);
                self.current = Some(r.text);
            }
            if let Some(b) = &self.bar {
                b.set_position(r.step as u64);
                b.set_message(msg);
            }
        } else if r.step == 1 || r.step.is_multiple_of(LOG_EVERY) {
            errln!("step {} {msg} [{:.0}s]", r.step, self.started.elapsed().as_secs_f64());
        }
    }

    fn on_done(&mut self, o: &CramOutcome) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        self.current = None;
        let m = &o.metrics;
        errln!(
            "{}: {} after {} steps in {:.1}s: {} tokens, accuracy {:.3}, greedy-exact {}{}",
            o.text_id,
            o.stop,
            m.steps,
            m.seconds,
            m.tokens,
            m.teacher_forced_accuracy,
            m.greedy_exact,
            m.horizon.map_or(String::new(), |h| format!(", horizon {h}"))
        );
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}
