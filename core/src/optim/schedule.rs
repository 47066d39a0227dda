//! Learning-rate schedules: the paper's constant rate, and linear warmup followed by a cosine decay
//! (the recipe of progressive cramming: warmup 100, cosine to 1e-3).

use serde::{Deserialize, Serialize};

/// How the learning rate changes with a text's step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Schedule {
    /// The same rate at every step (the cramming paper).
    #[default]
    Constant,
    /// Linear warmup from `lr / warmup` to `lr` over `warmup` steps, then a cosine from `lr` down to
    /// `min_lr` at step `total`; `min_lr` after it.
    WarmupCosine {
        /// Steps of the linear warmup (0 = none).
        warmup: usize,
        /// The step at which the cosine reaches `min_lr` (usually the step budget).
        total: usize,
        /// The rate at the end.
        min_lr: f64,
    },
}

impl Schedule {
    /// The rate of step `step` (1 for the first step) for the base rate `lr`.
    pub fn lr(&self, lr: f64, step: usize) -> f64 {
        match *self {
            Schedule::Constant => lr,
            Schedule::WarmupCosine { warmup, total, min_lr } => {
                let step = step.max(1);
                if step <= warmup {
                    return lr * step as f64 / warmup as f64;
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let t = ((step - warmup) as f64 / span).min(1.0);
                min_lr + 0.5 * (lr - min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }

    /// Rejects impossible settings with one clear message.
    pub fn validate(&self, lr: f64) -> Result<(), String> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::WarmupCosine { warmup, total, min_lr } => {
                if !(min_lr >= 0.0 && min_lr <= lr) {
                    return Err(format!("the final learning rate {min_lr} must be between 0 and the learning rate {lr}"));
                }
                if total <= warmup {
                    return Err(format!("the cosine must end after the warmup ({warmup} steps), not at step {total}"));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_constant() {
        assert_eq!(Schedule::Constant.lr(0.1, 1), 0.1);
        assert_eq!(Schedule::Constant.lr(0.1, 10_000), 0.1);
    }

    /// The values `transformers.get_cosine_schedule_with_warmup` gives (min 0), shifted to `min_lr`.
    #[test]
    fn warmup_then_cosine() {
        let s = Schedule::WarmupCosine { warmup: 10, total: 110, min_lr: 0.001 };
        assert!((s.lr(0.1, 1) - 0.01).abs() < 1e-12);
        assert!((s.lr(0.1, 10) - 0.1).abs() < 1e-12);
        // halfway through the cosine: the mean of lr and min_lr
        assert!((s.lr(0.1, 60) - 0.0505).abs() < 1e-12);
        assert!((s.lr(0.1, 110) - 0.001).abs() < 1e-12);
        assert!((s.lr(0.1, 500) - 0.001).abs() < 1e-12);
        // monotone after the warmup
        assert!((11..110).all(|t| s.lr(0.1, t + 1) <= s.lr(0.1, t)));
        assert!(s.validate(0.1).is_ok());
        assert!(Schedule::WarmupCosine { warmup: 10, total: 10, min_lr: 0.0 }.validate(0.1).is_err());
        assert!(Schedule::WarmupCosine { warmup: 0, total: 10, min_lr: 0.2 }.validate(0.1).is_err());
    }
}
