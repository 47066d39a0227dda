//! Progress on the terminal while texts are crammed (step, loss, teacher-forced accuracy, tokens
//! right, ETA), and Ctrl-C as a clean stop that keeps the best vectors so far.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cram_core::cramming::{CramOutcome, Observer, StepReport};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Draws a bar per text being crammed (with `--batch B`, B bars, each with its own ETA) and, for a
/// sweep, one overall bar above them: the steps done of the sweep's step budget (each run counts its
/// --max-steps; a run that ends early counts all of them), so its ETA, an upper bound, means
/// something from the first step; a line every `LOG_EVERY` steps and one per finished run where
/// stderr is not a terminal.
pub struct Progress {
    multi: MultiProgress,
    /// Per text index, the bar of a text still running.
    bars: HashMap<usize, ProgressBar>,
    /// Sweeps: runs done of the total.
    overall: Option<ProgressBar>,
    total: Option<usize>,
    /// Sweeps: the step budget of each run.
    budget: usize,
    /// Sweeps: steps done by each text still running.
    running: HashMap<usize, usize>,
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
        Self {
            multi: MultiProgress::new(),
            bars: HashMap::new(),
            overall: None,
            total: None,
            budget: 0,
            running: HashMap::new(),
            done: 0,
            stop,
            started: web_time::Instant::now(),
            terminal,
        }
    }

    /// The reporter of a sweep of `total` runs of at most `budget` steps each: an overall line above
    /// the per-text bars, in steps of the whole budget.
    pub fn with_total(total: usize, budget: usize) -> Self {
        let mut p = Self::new();
        p.total = Some(total);
        p.budget = budget;
        if p.terminal && total > 0 {
            let bar = p.multi.add(ProgressBar::new((total * budget) as u64));
            bar.set_style(
                ProgressStyle::with_template("{msg}, steps {pos}/{len} of the budget [{elapsed_precise}, ETA {eta}] {wide_bar}").expect("valid template"),
            );
            bar.set_message(format!("runs 0/{total}"));
            bar.tick();
            p.overall = Some(bar);
        }
        p
    }

    /// Steps of the sweep's budget done: the whole budget of each finished run, and the steps of
    /// those still running.
    fn overall_steps(&self) -> usize {
        self.done * self.budget + self.running.values().map(|&s| s.min(self.budget)).sum::<usize>()
    }

    /// `runs 1/4, steps 5100/20000 of the budget` for a sweep; empty otherwise.
    fn overall_line(&self) -> String {
        match self.total {
            Some(total) => format!("runs {}/{total}, steps {}/{} of the budget", self.done, self.overall_steps(), total * self.budget),
            None => String::new(),
        }
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
        if self.total.is_some() {
            self.running.insert(r.text, r.step);
            if let Some(b) = &self.overall {
                b.set_position(self.overall_steps() as u64);
            }
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
            let sweep = self.overall_line();
            let sweep = if sweep.is_empty() { sweep } else { format!(" ({sweep})") };
            errln!("step {} {msg} [{:.0}s]{sweep}", r.step, self.started.elapsed().as_secs_f64());
        }
    }

    fn on_done(&mut self, o: &CramOutcome) {
        if let Some(b) = self.bars.remove(&o.text) {
            b.finish_and_clear();
            self.multi.remove(&b);
        }
        self.done += 1;
        self.running.remove(&o.text);
        if let Some(b) = &self.overall {
            b.set_position(self.overall_steps() as u64);
            b.set_message(format!("runs {}/{}", self.done, self.total.unwrap_or(0)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The sweep's line counts the steps of running texts, so it moves (and its ETA means something)
    /// before the first run ends.
    #[test]
    fn a_sweep_counts_steps_within_its_runs() {
        let mut p = Progress::with_total(3, 100);
        assert_eq!(p.overall_line(), "runs 0/3, steps 0/300 of the budget");
        p.running.insert(0, 40);
        p.running.insert(1, 150);
        assert_eq!(p.overall_steps(), 140);
        p.running.remove(&1);
        p.done = 1;
        assert_eq!(p.overall_line(), "runs 1/3, steps 140/300 of the budget");
    }
}
