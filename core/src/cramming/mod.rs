//! The cramming loop, independent of the model family and of the method: B texts optimised at once in
//! one forward and backward pass, each with its own trainable tensors ([`Trainable`]) and AdamW
//! state; padding is masked, each text stops on its own (success, step budget, patience, or a stop
//! request) and its slot is refilled with the next text. A batched run gives each text what a run with
//! batch 1 gives it (up to float rounding).
//!
//! [`Cramming`] runs one step at a time, so a UI can draw between steps and stop mid-run; its
//! `step_async` reads back asynchronously (WebGPU), `step` blocks. [`cram_texts`] runs it to the end.
//! Progressive cramming is a schedule inside the same loop ([`progressive`]): each text's target
//! grows from t_1 by one token whenever the current target is matched. [`scores`] computes the
//! teacher-forced loss and accuracy of a step.

mod progressive;
pub(crate) mod scores;

use burn::tensor::Tensor;
use rand::SeedableRng;

use self::progressive::{Stage, Stages};
use self::scores::{Scores, baseline, evaluate, read_scores, score_tensors, target_logits, text_inputs};
use crate::checkpoint;
use crate::decode::{embed_ids, one_pass_inputs};
use crate::load::LoadedModel;
use crate::memory::{Memory, prefix_then_vectors};
use crate::methods::trainable::Trainable;
use crate::methods::{ConfigError, CramConfig, Method, Protocol, Setting, VectorInit, prefix_ids};
use crate::metrics::CramMetrics;
use crate::models::Model;
use crate::optim::adamw::AdamW;
use crate::readback::{self, sync};
use crate::{Error, Result};

/// One text to cram.
#[derive(Debug, Clone)]
pub struct TextJob {
    /// A name for reports (file name, chunk id).
    pub id: String,
    /// Its token ids.
    pub ids: Vec<u32>,
    /// Where its random start is drawn from: its place in a whole sweep, so a resumed or sharded
    /// sweep starts each text as an uninterrupted one does; `None`: its place among these texts.
    pub seed_index: Option<usize>,
    /// Where to start instead of the recipe's random start: the memory vectors (`[K, d]`
    /// row-major, an encoder's output) when the recipe's `init` is [`VectorInit::Encoder`]; every
    /// trainable value (a learned start's, [`crate::start`]) when it is [`VectorInit::Learned`].
    pub start: Option<Vec<f32>>,
}

/// Why a text stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The success criterion was met.
    Success,
    /// `max_steps` reached.
    MaxSteps,
    /// `patience` steps without improvement.
    Patience,
    /// Progressive cramming: a stage did not converge within its step budget.
    StageBudget,
    /// The observer asked to stop (Ctrl-C, a Stop button).
    Interrupted,
    /// The loss or its gradient became NaN or infinite; the best vectors before it are kept.
    Diverged,
}

impl StopReason {
    /// The snake_case name results files use (what it serialises to).
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Success => "success",
            StopReason::MaxSteps => "max_steps",
            StopReason::Patience => "patience",
            StopReason::StageBudget => "stage_budget",
            StopReason::Interrupted => "interrupted",
            StopReason::Diverged => "diverged",
        }
    }
}

impl std::fmt::Display for StopReason {
    /// Words for people (results files keep the snake_case names).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Success => "crammed",
            StopReason::MaxSteps => "the step budget ran out",
            StopReason::Patience => "no better accuracy within the patience",
            StopReason::StageBudget => "a progressive stage ran out of steps",
            StopReason::Interrupted => "stopped on request",
            StopReason::Diverged => "diverged (the loss or its gradient became NaN or infinite)",
        })
    }
}

/// What the loop reports after each step of each text.
#[derive(Debug, Clone)]
pub struct StepReport<'a> {
    /// Index of the text in the job list.
    pub text: usize,
    /// Its name.
    pub text_id: &'a str,
    /// Steps taken on this text so far (1 after the first).
    pub step: usize,
    /// Mean cross-entropy over the scored tokens at this step.
    pub loss: f64,
    /// Scored tokens predicted right (teacher-forced) at this step.
    pub right: usize,
    /// Scored tokens.
    pub scored: usize,
    /// Best `right` so far.
    pub best_right: usize,
    /// Per text token, whether it was predicted right (unscored tokens are `true`; under progressive
    /// cramming, tokens beyond the current target are `false`).
    pub correct: &'a [bool],
    /// Per text token, the probability the model gives it at its place at this step, the true text
    /// fed in (teacher-forced; `exp(-NLL)`, so the loss is the mean of `-ln p` over the scored
    /// tokens). Unscored tokens are 1; under progressive cramming, tokens beyond the target 0.
    pub probabilities: &'a [f64],
    /// Steps allowed at most.
    pub max_steps: usize,
    /// Progressive cramming: the length of the current target.
    pub target_len: usize,
}

/// The result of one text.
#[derive(Debug, Clone)]
pub struct CramOutcome {
    /// Index of the text in the job list.
    pub text: usize,
    /// Its name.
    pub text_id: String,
    /// The ids the memory reproduces: the whole text, or under progressive cramming the first
    /// `horizon` tokens.
    pub ids: Vec<u32>,
    /// Text tokens given to the decoder rather than decoded (t_1 under the paper's protocol).
    pub given_ids: Vec<u32>,
    /// The best memory: prefix tokens, vectors and adapters.
    pub memory: Memory,
    /// The trainable values that gave it, flat in the order of the method's pieces (what a learned
    /// start is meta-trained from, [`crate::start`]).
    pub params: Vec<f32>,
    /// The measures.
    pub metrics: CramMetrics,
    /// Why it stopped.
    pub stop: StopReason,
}

/// Receives progress; may ask the loop to stop.
pub trait Observer {
    /// After every step of every text.
    fn on_step(&mut self, _report: &StepReport) {}
    /// When a text is done.
    fn on_done(&mut self, _outcome: &CramOutcome) {}
    /// Checked before every step; `true` stops all texts, keeping their best vectors.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

/// The state of one text in a batch slot.
struct Slot {
    text: usize,
    opt: AdamW,
    params: Vec<f32>,
    best_params: Vec<f32>,
    best_right: usize,
    best_loss: f64,
    lowest_ce: f64,
    since_best: usize,
    steps: usize,
    baseline: (f64, usize),
    started: web_time::Instant,
    /// Progressive cramming: where the text stands in the schedule; `None`: the target is the whole
    /// text from the first step.
    stages: Option<Stages>,
}

impl Slot {
    /// What the text is trained on now: all of `ids`, or under progressive cramming the current
    /// stage's target.
    fn target<'a>(&self, ids: &'a [u32]) -> &'a [u32] {
        &ids[..self.stages.as_ref().map_or(ids.len(), |s| s.target_len())]
    }
}

/// What a slot's update reads of its run.
struct Run<'a> {
    cfg: &'a CramConfig,
    trainable: &'a Trainable,
    prefix: &'a [u32],
    lm: &'a LoadedModel,
}

impl Slot {
    /// One AdamW step at the schedule's rate for `step`; the values the method keeps frozen (one-pass's
    /// shared m) stay as they started.
    fn optimise(&mut self, run: &Run<'_>, step: usize, grad: &[f32]) {
        let cfg = run.cfg;
        let frozen = run.trainable.frozen();
        let kept = self.params[frozen.clone()].to_vec();
        self.opt.step(&cfg.adamw, cfg.schedule.lr(cfg.adamw.lr, step), &mut self.params, grad);
        self.params[frozen].copy_from_slice(&kept);
    }

    /// After a step: the text's scores (`right` and `nll` per scored token of its target) and
    /// gradient at its current parameters. Keeps the best parameters, tells the observer, and either
    /// ends the text (its reason) or takes its optimiser step.
    async fn update(&mut self, run: &Run<'_>, text: &TextJob, right: &[bool], nll: &[f64], grad: &[f32], obs: &mut dyn Observer) -> Result<Option<StopReason>> {
        let cfg = run.cfg;
        let first = cfg.protocol.first_scored();
        let target_len = self.target(&text.ids).len();
        let scored = target_len - first;
        let hits = right.iter().filter(|&&r| r).count();
        let ce: f64 = nll.iter().sum();
        let loss = ce / scored as f64;
        self.steps += 1;
        let mut correct = vec![true; first];
        correct.extend_from_slice(right);
        correct.resize(text.ids.len(), false);
        let mut probabilities = vec![1.0; first];
        probabilities.extend(nll.iter().map(|n| (-n).exp()));
        probabilities.resize(text.ids.len(), 0.0);
        // A NaN or infinite loss or gradient (a learning rate far too large, an overflow in f16)
        // ends the text: its best vectors so far are kept, and the other texts go on.
        if !loss.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            return Ok(Some(StopReason::Diverged));
        }
        if self.stages.is_none() {
            self.lowest_ce = self.lowest_ce.min(ce);
            let improved = hits > self.best_right;
            if improved || (hits == self.best_right && loss < self.best_loss) {
                self.best_params.clone_from(&self.params);
                self.best_loss = loss;
            }
            if improved {
                self.best_right = hits;
                self.since_best = 0;
            } else {
                self.since_best += 1;
            }
        }
        obs.on_step(&StepReport {
            text: self.text,
            text_id: &text.id,
            step: self.steps,
            loss,
            right: hits,
            scored,
            best_right: self.best_right.max(self.stages.as_ref().map_or(0, Stages::horizon)),
            correct: &correct,
            probabilities: &probabilities,
            max_steps: cfg.max_steps,
            target_len,
        });

        if let Some(stages) = &mut self.stages {
            let ended = match stages.after_step(hits == scored, text.ids.len()) {
                Stage::Matched { whole_text } => {
                    self.best_params.clone_from(&self.params);
                    whole_text.then_some(StopReason::Success)
                }
                Stage::Missed { step, exhausted } => {
                    self.optimise(run, step, grad);
                    exhausted.then_some(StopReason::StageBudget)
                }
            };
            // max_steps bounds every method: here all the stages' steps together.
            return Ok(ended.or((self.steps >= cfg.max_steps).then_some(StopReason::MaxSteps)));
        }

        let success = match cfg.protocol {
            Protocol::Greedy => hits == scored && run.trainable.memory(&self.params, run.prefix)?.verify_greedy_async(run.lm, &text.ids, first).await?,
            Protocol::Paper => hits as f64 / scored as f64 >= cfg.paper_threshold,
        };
        if success {
            self.best_params.clone_from(&self.params);
            self.best_right = hits;
            return Ok(Some(StopReason::Success));
        }
        self.optimise(run, self.steps, grad);
        Ok(if self.steps >= cfg.max_steps {
            Some(StopReason::MaxSteps)
        } else if self.since_best >= cfg.patience {
            Some(StopReason::Patience)
        } else {
            None
        })
    }
}

/// A cramming run over a list of texts, advanced one optimiser step at a time.
pub struct Cramming {
    cfg: CramConfig,
    texts: Vec<TextJob>,
    batch: usize,
    prefix: Vec<u32>,
    trainable: Trainable,
    slots: Vec<Slot>,
    next: usize,
    outcomes: Vec<Option<CramOutcome>>,
}

impl Cramming {
    /// Checks the recipe and the texts against `lm`; no step is taken yet.
    pub fn new(lm: &LoadedModel, cfg: CramConfig, texts: Vec<TextJob>, batch: usize) -> Result<Self> {
        sync(Self::new_async(lm, cfg, texts, batch))
    }

    /// [`Cramming::new`], reading back asynchronously (WebGPU).
    pub async fn new_async(lm: &LoadedModel, cfg: CramConfig, texts: Vec<TextJob>, batch: usize) -> Result<Self> {
        cfg.validate_for(&lm.config)?;
        if batch < 1 {
            return Err(ConfigError::AtLeastOne(Setting::Batch).into());
        }
        let first = cfg.protocol.first_scored();
        let limit = lm.config.max_position_embeddings();
        let prefix = prefix_ids(lm, cfg.layout)?;
        let width = cfg.mem * lm.config.hidden_size();
        let std = match (cfg.init_std, &cfg.method) {
            (Some(s), _) => s,
            // the one-pass paper's N(0, 1)
            (None, Method::OnePass { .. }) => 1.0,
            (None, _) => embedding_std(&lm.model).await?,
        };
        let trainable = Trainable::new(&cfg.method, cfg.mem, &lm.config, std)?;
        let trainable_len = trainable.len();
        for t in &texts {
            let (wanted, what) = match &cfg.init {
                VectorInit::Encoder { .. } => (Some(width), format!("{} vector(s) of width {}", cfg.mem, lm.config.hidden_size())),
                VectorInit::Learned { .. } => (Some(trainable_len), format!("the {} values {} trains", trainable_len, cfg.method.name())),
                VectorInit::Normal | VectorInit::TextMean => (None, String::new()),
            };
            match (&t.start, wanted) {
                (Some(start), Some(n)) if start.len() != n => {
                    return Err(Error::Input(format!("{}: the start holds {} values; {what} take {n}", t.id, start.len())));
                }
                (None, Some(_)) => {
                    return Err(Error::Input(format!("{}: the recipe starts from given values ({}), but the text has none", t.id, cfg.init.name())));
                }
                (Some(_), None) => {
                    return Err(Error::Input(format!("{}: the text has start values, but the recipe's init is `{}`", t.id, cfg.init.name())));
                }
                _ => {}
            }
            if t.ids.len() <= first {
                return Err(Error::Input(format!("{}: the text has {} token(s); cramming needs at least {}", t.id, t.ids.len(), first + 1)));
            }
            if t.ids.len() + cfg.mem + prefix.len() > limit {
                return Err(Error::Input(format!("{}: {} tokens + {} vectors exceed the model's context of {limit} positions", t.id, t.ids.len(), cfg.mem)));
            }
        }
        let outcomes = vec![None; texts.len()];
        Ok(Self { cfg, texts, batch, prefix, trainable, slots: Vec::new(), next: 0, outcomes })
    }

    /// Trainable values per text.
    pub fn trainable_parameters(&self) -> usize {
        self.trainable.trained_len()
    }

    /// Texts finished so far.
    pub fn finished(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_some()).count()
    }

    /// One optimiser step over the current batch, blocking on reads. `Ok(false)` once every text is
    /// done.
    pub fn step(&mut self, lm: &LoadedModel, obs: &mut dyn Observer) -> Result<bool> {
        sync(self.step_async(lm, obs))
    }

    /// Stops every text still running, keeping its best memory (as a stop request does).
    pub fn stop(&mut self, lm: &LoadedModel, obs: &mut dyn Observer) -> Result<()> {
        sync(self.stop_async(lm, obs))
    }

    /// [`Cramming::stop`], reading back asynchronously.
    pub async fn stop_async(&mut self, lm: &LoadedModel, obs: &mut dyn Observer) -> Result<()> {
        let rows: Vec<(usize, StopReason)> = (0..self.slots.len()).map(|r| (r, StopReason::Interrupted)).collect();
        self.finish(lm, rows, obs).await?;
        self.next = self.texts.len();
        Ok(())
    }

    /// The memory a text still running has now (its current parameters, not the best so far) and the
    /// text tokens given to the decoder: what live views decode from between steps. `None` once the
    /// text is done or before its first step.
    pub fn current_memory(&self, text: usize) -> Option<(Memory, &[u32])> {
        let slot = self.slots.iter().find(|s| s.text == text)?;
        let given = &self.texts[text].ids[..self.cfg.protocol.first_scored()];
        Some((self.trainable.memory(&slot.params, &self.prefix).ok()?, given))
    }

    /// The outcomes of the finished texts, in the order of the texts.
    pub fn into_outcomes(self) -> Vec<CramOutcome> {
        self.outcomes.into_iter().flatten().collect()
    }

    /// One optimiser step over the current batch, reading back asynchronously (WebGPU): one forward
    /// and backward pass over the batch (`forward_backward`), then each text's own
    /// bookkeeping and update (`Slot::update`).
    pub async fn step_async(&mut self, lm: &LoadedModel, obs: &mut dyn Observer) -> Result<bool> {
        self.refill(lm).await?;
        if self.slots.is_empty() {
            return Ok(false);
        }
        if obs.stop_requested() {
            self.stop_async(lm, obs).await?;
            return Ok(false);
        }
        let (scores, grad) = self.forward_backward(lm).await?;
        let run = Run { cfg: &self.cfg, trainable: &self.trainable, prefix: &self.prefix, lm };
        let mut done: Vec<(usize, StopReason)> = Vec::new();
        for (row, (slot, grad)) in self.slots.iter_mut().zip(grad.chunks_exact(self.trainable.len())).enumerate() {
            if let Some(reason) = slot.update(&run, &self.texts[slot.text], &scores.right[row], &scores.nll[row], grad, obs).await? {
                done.push((row, reason));
            }
        }
        self.finish(lm, done, obs).await?;
        Ok(!self.slots.is_empty() || self.next < self.texts.len())
    }

    /// One forward and backward pass over the batch: each text's scores at its current parameters,
    /// and the gradients of all texts in one read, `[B, trainable]` row-major (row r is text r's
    /// gradient in the layout of its flat parameters).
    async fn forward_backward(&self, lm: &LoadedModel) -> Result<(Scores, Vec<f32>)> {
        let first = self.cfg.protocol.first_scored();
        let ad = lm.device.clone().without_autodiff().autodiff();
        let b = self.slots.len();
        let ids: Vec<&[u32]> = self.slots.iter().map(|s| s.target(&self.texts[s.text].ids)).collect();
        let params: Vec<&[f32]> = self.slots.iter().map(|s| s.params.as_slice()).collect();
        let leaves = self.trainable.leaves(&params, &ad);
        let inputs = self.trainable.inputs(&leaves);
        let adapted;
        let model = match &inputs.lora {
            Some(set) => {
                adapted = lm.model.with_lora(set);
                &adapted
            }
            None => &lm.model,
        };
        let n_max = ids.iter().map(|t| t.len()).max().unwrap_or(0);
        // One-pass: e and m spread over the longest text are the whole input (no text token), and
        // the output at the i-th vector predicts t_i (shorter texts' padding is masked in the loss).
        let one_pass = self.trainable.one_pass();
        let vectors = if one_pass { inputs.vectors.map(|v| one_pass_inputs(v, n_max)) } else { inputs.vectors };
        let prefix = prefix_then_vectors(&lm.model, &self.prefix, b, vectors, true)?;
        let p = prefix.dims()[1];
        let (text, sink) = if one_pass { (prefix, self.prefix.len()) } else { (text_inputs(model, prefix, &ids), 0) };
        let (grads, (nll, hits)) = checkpoint::backward(model, text, self.cfg.checkpoint, |hidden| {
            let logits = if one_pass { model.lm_head(hidden.narrow(1, sink, n_max)) } else { target_logits(model, hidden, p, first, n_max) };
            let (loss, nll, hits) = score_tensors(logits, &ids, first);
            (loss, (nll, hits))
        });
        let scores = read_scores(nll, hits, &ids, first).await?;
        // [B, rows * cols] per piece, side by side.
        let per_piece = leaves
            .iter()
            .map(|leaf| {
                let grad = grads.iter().find_map(|g| leaf.grad(g)).ok_or_else(|| Error::Device("no gradient reached the trainable tensors".into()))?;
                Ok(grad.reshape([b as i64, -1]))
            })
            .collect::<Result<Vec<Tensor<2>>>>()?;
        Ok((scores, readback::floats(Tensor::cat(per_piece, 1)).await?))
    }

    /// The values the texts of the first batch start from (filling it): what a learned start is
    /// meta-trained from ([`crate::start::random_start`]).
    pub fn initial_params(&mut self, lm: &LoadedModel) -> Result<Vec<Vec<f32>>> {
        sync(self.refill(lm))?;
        Ok(self.slots.iter().map(|s| s.params.clone()).collect())
    }

    /// Fills free slots with the next texts.
    async fn refill(&mut self, lm: &LoadedModel) -> Result<()> {
        while self.slots.len() < self.batch && self.next < self.texts.len() {
            let next = self.next;
            let place = self.texts[next].seed_index.unwrap_or(next) as u64;
            let mut rng = rand::rngs::StdRng::seed_from_u64(self.cfg.seed ^ place.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut params = self.trainable.init(&mut rng)?;
            let ids = &self.texts[next].ids;
            if self.cfg.init == VectorInit::TextMean {
                let mean = readback::floats(embed_ids(&lm.model, ids).mean_dim(1)).await?;
                self.trainable.set_vectors(&mut params, &mean);
            }
            match (&self.texts[next].start, &self.cfg.init) {
                (Some(start), VectorInit::Learned { .. }) => params.clone_from(start),
                (Some(start), _) => drop(self.trainable.start_from(&mut params, start)),
                (None, _) => {}
            }
            self.slots.push(Slot {
                text: next,
                opt: AdamW::new(params.len()),
                best_params: params.clone(),
                params,
                best_right: 0,
                best_loss: f64::INFINITY,
                lowest_ce: f64::INFINITY,
                since_best: 0,
                steps: 0,
                baseline: baseline(lm, &self.cfg, ids).await?,
                started: web_time::Instant::now(),
                stages: Stages::of(&self.cfg.method),
            });
            self.next += 1;
        }
        Ok(())
    }

    /// Finishes the slots of `rows` with their reasons: final checks, metrics, the observer.
    async fn finish(&mut self, lm: &LoadedModel, rows: Vec<(usize, StopReason)>, obs: &mut dyn Observer) -> Result<()> {
        let cfg = &self.cfg;
        let first = cfg.protocol.first_scored();
        let d = lm.config.hidden_size();
        // Last row first, so the indices stay valid.
        for (row, reason) in rows.into_iter().rev() {
            let slot = self.slots.remove(row);
            let text = &self.texts[slot.text];
            let memory = self.trainable.memory(&slot.best_params, &self.prefix)?;
            let (right, ce_with, kept, greedy_exact) = if let Some(stages) = &slot.stages {
                // Measured on the whole text with the memory of the horizon; the horizon is confirmed
                // by real greedy decoding (the tokens it gets right in a row, at most the horizon).
                let model = memory.model(lm)?;
                let (ce, right) = evaluate(&model, memory.input(lm)?, &text.ids, first).await?;
                let decoded = memory.decode_async(lm, &[], text.ids.len(), Some(&text.ids)).await?;
                let matched = decoded.iter().zip(&text.ids).take_while(|(a, b)| a == b).count();
                (right, ce, matched.min(stages.horizon()), matched == text.ids.len())
            } else {
                let exact = match reason {
                    StopReason::Success if cfg.protocol == Protocol::Greedy => true,
                    _ => memory.verify_greedy_async(lm, &text.ids, first).await?,
                };
                (slot.best_right, if slot.lowest_ce.is_finite() { slot.lowest_ce } else { slot.baseline.0 }, text.ids.len(), exact)
            };
            let ids = text.ids[..kept].to_vec();
            let mut metrics = CramMetrics::new(
                text.ids.len(),
                cfg.mem,
                slot.steps,
                slot.started.elapsed().as_secs_f64(),
                text.ids.len() - first,
                right,
                slot.baseline.1,
                greedy_exact,
                slot.baseline.0,
                ce_with,
                d,
                lm.config.vocab_size(),
            );
            metrics.method = cfg.method.name().into();
            metrics.trainable_parameters = self.trainable.trained_len();
            if slot.stages.is_some() {
                metrics.horizon = Some(kept);
            }
            if !cfg.method.uses_vectors() || self.trainable.one_pass() {
                // What the adapters (or one-pass's e and m; m alone when e is shared) could hold at 16
                // bits a value, as the paper counts a vector.
                metrics.theoretical_capacity_tokens = crate::metrics::theoretical_capacity_tokens(self.trainable.trained_len(), lm.config.vocab_size(), 1);
                metrics.capacity_utilization = metrics.token_gain / metrics.theoretical_capacity_tokens;
            }
            let outcome = CramOutcome {
                text: slot.text,
                text_id: text.id.clone(),
                given_ids: text.ids[..first].to_vec(),
                ids,
                memory,
                params: slot.best_params,
                metrics,
                stop: reason,
            };
            obs.on_done(&outcome);
            let index = outcome.text;
            self.outcomes[index] = Some(outcome);
        }
        Ok(())
    }
}

/// Crams each of `texts` with the recipe `cfg` into `lm`, `batch` texts at a time, blocking.
pub fn cram_texts(lm: &LoadedModel, cfg: &CramConfig, texts: &[TextJob], batch: usize, obs: &mut dyn Observer) -> Result<Vec<CramOutcome>> {
    let mut run = Cramming::new(lm, cfg.clone(), texts.to_vec(), batch)?;
    while run.step(lm, obs)? {}
    Ok(run.into_outcomes())
}

/// Standard deviation of the input-embedding matrix: the scale of the paper's initialisation.
pub async fn embedding_std(model: &Model) -> Result<f32> {
    // in f32: a mean over millions of bf16 values would lose the digits that matter
    let e = model.embedding_matrix().clone().cast(burn::tensor::FloatDType::F32);
    let mean = e.clone().mean();
    let var = (e - mean.unsqueeze::<2>()).square().mean();
    let v = readback::floats(var).await?.first().copied().unwrap_or(f32::NAN);
    if !(v.is_finite() && v > 0.0) {
        return Err(Error::Config("the embedding matrix has no spread (all equal or not finite)".into()));
    }
    Ok(v.sqrt())
}

#[cfg(test)]
mod tests {
    use super::StopReason;

    /// `as_str` is the name results files hold (what serde writes).
    #[test]
    fn stop_names_are_the_serialised_ones() {
        use StopReason::*;
        for r in [Success, MaxSteps, Patience, StageBudget, Interrupted, Diverged] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str(), "{r:?}");
        }
    }
}
