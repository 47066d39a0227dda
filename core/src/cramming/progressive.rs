//! Progressive cramming's schedule ([`Method::Progressive`]), in one place: a text's target starts
//! at t_1 and grows by one token each time the current target is matched, warm-starting from the
//! vectors and the optimiser state of the stage before; a stage that does not converge within
//! `steps_per_token` steps ends the text, and the longest target matched is its horizon.

use crate::methods::Method;

/// Where one text stands in the progressive schedule.
#[derive(Debug, Clone)]
pub(super) struct Stages {
    /// The step budget of each added token.
    steps_per_token: usize,
    /// Tokens of the current target.
    len: usize,
    /// Steps spent on the current target.
    steps: usize,
    /// The longest target matched so far.
    horizon: usize,
}

/// What a step did to the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// All of the target was right: the current memory is the best; the target grew by one token,
    /// or, when it was `whole_text`, the text is crammed. No optimiser step is taken.
    Matched {
        /// The target was the whole text.
        whole_text: bool,
    },
    /// The target was missed: an optimiser step follows, at the stage's `step` for the learning-rate
    /// schedule; `exhausted`: the stage's budget is spent and the text ends after it.
    Missed {
        /// Steps spent on this stage, this one included (1 on its first).
        step: usize,
        /// The stage ran out of steps.
        exhausted: bool,
    },
}

impl Stages {
    /// The schedule of `method`: `None` unless it is progressive (the target is then the whole text
    /// from the first step).
    pub(super) fn of(method: &Method) -> Option<Self> {
        match *method {
            Method::Progressive { steps_per_token } => Some(Self { steps_per_token, len: 1, steps: 0, horizon: 0 }),
            _ => None,
        }
    }

    /// Tokens of the current target.
    pub(super) fn target_len(&self) -> usize {
        self.len
    }

    /// The longest target matched so far.
    pub(super) fn horizon(&self) -> usize {
        self.horizon
    }

    /// Advances the schedule after a step on the current target of a text of `text_len` tokens;
    /// `matched`: every token of the target was right teacher-forced, which is the same as
    /// greedy-exact on it (greedy decoding then follows the same path; the final greedy check
    /// confirms it).
    pub(super) fn after_step(&mut self, matched: bool, text_len: usize) -> Stage {
        self.steps += 1;
        if !matched {
            return Stage::Missed { step: self.steps, exhausted: self.steps >= self.steps_per_token };
        }
        self.horizon = self.len;
        if self.len == text_len {
            return Stage::Matched { whole_text: true };
        }
        self.len += 1;
        self.steps = 0;
        Stage::Matched { whole_text: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_grows_one_token_per_match_and_a_stage_ends_at_its_budget() {
        assert!(Stages::of(&Method::Memory).is_none());
        let mut s = Stages::of(&Method::Progressive { steps_per_token: 2 }).unwrap();
        assert_eq!((s.target_len(), s.horizon()), (1, 0));
        assert_eq!(s.after_step(false, 3), Stage::Missed { step: 1, exhausted: false });
        assert_eq!(s.after_step(true, 3), Stage::Matched { whole_text: false });
        assert_eq!((s.target_len(), s.horizon()), (2, 1));
        assert_eq!(s.after_step(true, 3), Stage::Matched { whole_text: false });
        assert_eq!(s.after_step(false, 3), Stage::Missed { step: 1, exhausted: false });
        assert_eq!(s.after_step(true, 3), Stage::Matched { whole_text: true });
        assert_eq!((s.target_len(), s.horizon()), (3, 3));
        let mut t = Stages::of(&Method::Progressive { steps_per_token: 2 }).unwrap();
        t.after_step(false, 3);
        assert_eq!(t.after_step(false, 3), Stage::Missed { step: 2, exhausted: true });
    }
}
