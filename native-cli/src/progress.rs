//! Progress on the terminal while texts are crammed (step, loss, teacher-forced accuracy, tokens
//! right, ETA), and Ctrl-C as a clean stop that keeps the best vectors so far.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cram_core::cramming::{CramOutcome, Observer, StepReport};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Draws a bar per text being crammed (with `--batch B`, B bars, each with its own ETA) and, for a
/// sweep, one overall bar above them (runs done of all, ETA from the measured pace); a line every
/// `LOG_EVERY` steps and one per finished run where stderr is not a terminal.
pub struct Progress {
    multi: MultiProgress,
    /// Per text index, the bar of a text still running.
    bars: HashMap<usize, ProgressBar>,
    /// Sweeps: runs done of the total.
    overall: Option<ProgressBar>,
    total: Option<usize>,
    done: usize,
    stop: Arc<AtomicBool>,
    started: web_time::Instant,
    terminal: bool,
}

const LOG_EVERY: usize = 100;

impl Progress {
    /// Installs the stop handler (once per process) and returns the reporter. It hears Ctrl-C and,
    /// through ctrlc's `termination` feature, SIGTERM and SIGHUP too: SLURM's `scancel` and a
    /// preemption stop a run the way Ctrl-C does, keeping the best vectors and every finished line.
    pub fn new() -> Self {
        let stop = stop_flag("stopping: keeping the best vectors so far");
        let terminal = std::io::stderr().is_terminal();
        Self { multi: MultiProgress::new(), bars: HashMap::new(), overall: None, total: None, done: 0, stop, started: web_time::Instant::now(), terminal }
    }

    /// The reporter of a sweep of `total` runs: an overall line above the per-text bars.
    pub fn with_total(total: usize) -> Self {
        let mut p = Self::new();
        p.total = Some(total);
        if p.terminal && total > 0 {
            let bar = p.multi.add(ProgressBar::new(total as u64));
            bar.set_style(ProgressStyle::with_template("runs {pos}/{len} [{elapsed_precise}, ETA {eta}] {wide_bar}").expect("valid template"));
            bar.tick();
            p.overall = Some(bar);
        }
        p
    }
}

/// A flag that Ctrl-C, SIGTERM and SIGHUP raise (installed once per process; a second signal quits
/// at once). `what` says what the stop keeps.
pub fn stop_flag(what: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A second handler cannot be installed; then Ctrl-C simply ends the process.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        errln!("\n{what} (Ctrl-C or a second signal quits at once)");
    });
    stop
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
        if self.terminal {
            let multi = &self.multi;
            let bar = self.bars.entry(r.text).or_insert_with(|| {
                let bar = multi.add(ProgressBar::new(r.max_steps as u64));
                bar.set_style(ProgressStyle::with_template("{spinner} step {pos}/{len} {msg} [{elapsed_precise}, ETA {eta}]").expect("valid template"));
                bar
            });
            bar.set_position(r.step as u64);
            bar.set_message(msg);
        } else if r.step == 1 || r.step.is_multiple_of(LOG_EVERY) {
            errln!("step {} {msg} [{:.0}s]", r.step, self.started.elapsed().as_secs_f64());
        }
    }

    fn on_done(&mut self, o: &CramOutcome) {
        if let Some(b) = self.bars.remove(&o.text) {
            b.finish_and_clear();
            self.multi.remove(&b);
        }
        self.done += 1;
        if let Some(b) = &self.overall {
            b.inc(1);
        }
        let m = &o.metrics;
        let count = self.total.map_or(String::new(), |t| format!("[{}/{t}] ", self.done));
        let line = format!(
            "{count}{}: {} after {} steps in {:.1}s: {} tokens, accuracy {:.3}, greedy-exact {}{}",
            o.text_id,
            o.stop,
            m.steps,
            m.seconds,
            m.tokens,
            m.teacher_forced_accuracy,
            m.greedy_exact,
            m.horizon.map_or(String::new(), |h| format!(", horizon {h}"))
        );
        // above the bars on a terminal, so they are not torn
        self.multi.suspend(|| errln!("{line}"));
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.overall.take() {
            b.finish_and_clear();
        }
    }
}
