//! The cramming loop, independent of the model family: B texts optimised at once in one forward and
//! backward pass, each with its own vectors and AdamW state; padding is masked, each text stops on its
//! own (success, step budget, patience, or a stop request) and its slot is refilled with the next text.
//! A batched run gives each text what a run with batch 1 gives it (up to float rounding).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use crate::decode::{embed_ids, greedy_decode};
use crate::load::LoadedModel;
use crate::methods::{CramConfig, Layout};
use crate::metrics::CramMetrics;
use crate::models::Model;
use crate::optim::adamw::AdamW;
use crate::{Error, Result};

/// One text to cram.
#[derive(Debug, Clone)]
pub struct TextJob {
    /// A name for reports (file name, chunk id).
    pub id: String,
    /// Its token ids.
    pub ids: Vec<u32>,
}

/// Why a text stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The success criterion was met.
    Success,
    /// `max_steps` reached.
    MaxSteps,
    /// `patience` steps without improvement.
    Patience,
    /// The observer asked to stop (Ctrl-C, a Stop button).
    Interrupted,
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
    /// Per text token, whether it was predicted right (unscored tokens are `true`).
    pub correct: &'a [bool],
    /// Steps allowed at most.
    pub max_steps: usize,
}

/// The result of one text.
#[derive(Debug, Clone)]
pub struct CramOutcome {
    /// Index of the text in the job list.
    pub text: usize,
    /// Its name.
    pub text_id: String,
    /// Its ids.
    pub ids: Vec<u32>,
    /// Token ids in front of the memory (the sink), as stored in `.cram` files.
    pub prefix_ids: Vec<u32>,
    /// Text tokens given to the decoder rather than decoded (t_1 under the paper's protocol).
    pub given_ids: Vec<u32>,
    /// The best vectors, `[mem, d]` row-major.
    pub mem: Vec<f32>,
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

/// The token put in front of the memory in the sink layout: `<|endoftext|>` if the vocabulary has it,
/// else the model's BOS, else its EOS.
pub fn sink_token(lm: &LoadedModel) -> Result<u32> {
    if let Some(id) = lm.tokenizer.token_to_id("<|endoftext|>") {
        return Ok(id);
    }
    let config = serde_json::to_value(lm.config.clone()).unwrap_or_default();
    for key in ["bos_token_id", "eos_token_id"] {
        let v = &config[key];
        let id = v.as_u64().or_else(|| v.as_array().and_then(|a| a.first()).and_then(|x| x.as_u64()));
        if let Some(id) = id {
            return Ok(id as u32);
        }
    }
    Err(Error::Input("the model has no <|endoftext|>, BOS or EOS token to use as a sink; use --layout paper".into()))
}

/// Tokens in front of the memory for `cfg.layout`.
pub fn prefix_ids(lm: &LoadedModel, layout: Layout) -> Result<Vec<u32>> {
    Ok(match layout {
        Layout::Paper => vec![],
        Layout::Sink => vec![sink_token(lm)?],
    })
}

/// Logits of the text targets `first..n` after `prefix` (`[B, P, d]`), for texts padded to one length.
///
/// # Shapes
/// prefix `[B, P, d]` → `[B, n_max - first, vocab]`
fn text_logits(model: &Model, prefix: Tensor<3>, texts: &[&[u32]], first: usize) -> Tensor<3> {
    let n_max = texts.iter().map(|t| t.len()).max().unwrap_or(0);
    let [b, p, _] = prefix.dims();
    // Inputs are t_1..t_{n-1}; the output before t_i predicts t_i.
    let mut x = vec![prefix];
    if n_max > 1 {
        let ids: Vec<i32> = texts.iter().flat_map(|t| (0..n_max - 1).map(move |i| t.get(i).copied().unwrap_or(0) as i32)).collect();
        let device = model.embedding_matrix().device();
        x.push(model.embed(Tensor::<2, Int>::from_data(TensorData::new(ids, [b, n_max - 1]), &device)));
    }
    let x = Tensor::cat(x, 1);
    let hidden = model.hidden_states(x).narrow(1, p + first - 1, n_max - first);
    model.lm_head(hidden)
}

/// Per text: negative log-likelihood of each target `first..n` and whether the argmax is right.
struct Scores {
    nll: Vec<Vec<f64>>,
    right: Vec<Vec<bool>>,
}

/// `(loss tensor = Σ_texts mean NLL, host scores)`.
fn score(logits: Tensor<3>, texts: &[&[u32]], first: usize) -> Result<(Tensor<1>, Scores)> {
    let [b, n, _] = logits.dims();
    let device = logits.device().without_autodiff();
    let targets: Vec<i32> = texts.iter().flat_map(|t| (first..first + n).map(move |i| t.get(i).copied().unwrap_or(0) as i32)).collect();
    let weights: Vec<f32> = texts
        .iter()
        .flat_map(|t| {
            let scored = t.len().saturating_sub(first).max(1) as f32;
            (first..first + n).map(move |i| if i < t.len() { 1.0 / scored } else { 0.0 })
        })
        .collect();
    let targets = Tensor::<3, Int>::from_data(TensorData::new(targets.clone(), [b, n, 1]), &device);
    let weights = Tensor::<2>::from_data(TensorData::new(weights, [b, n]), &device);
    let argmax = logits.clone().argmax(2);
    let nll = log_softmax(logits, 2).gather(2, targets.clone()).neg().reshape([b, n]);
    let loss = (nll.clone() * weights).sum();
    let nll_host = nll.clone().without_autodiff().into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| Error::Device(format!("{e:?}")))?;
    let eq = argmax.equal(targets).into_data().convert::<bool>().try_to_vec::<bool>().map_err(|e| Error::Device(format!("{e:?}")))?;
    let mut scores = Scores { nll: vec![], right: vec![] };
    for (row, t) in texts.iter().enumerate() {
        let len = t.len().saturating_sub(first);
        scores.nll.push(nll_host[row * n..row * n + len].iter().map(|&v| v as f64).collect());
        scores.right.push(eq[row * n..row * n + len].to_vec());
    }
    Ok((loss, scores))
}

/// Σ NLL and tokens right of a text without memory. With a sink layout, or when t_1 is scored, the
/// input is `[sink, t_1..]` (the model's natural start of text); else `[t_1..]`, scoring from t_2.
fn baseline(lm: &LoadedModel, cfg: &CramConfig, ids: &[u32]) -> Result<(f64, usize)> {
    let first = cfg.protocol.first_scored();
    let (prefix, rest, first) = if cfg.layout == Layout::Sink || first == 0 {
        (embed_ids(&lm.model, &[sink_token(lm)?]), ids, first)
    } else {
        (embed_ids(&lm.model, &ids[..1]), &ids[1..], first - 1)
    };
    if rest.len() <= first {
        return Ok((0.0, 0));
    }
    let (_, s) = score(text_logits(&lm.model, prefix, &[rest], first), &[rest], first)?;
    Ok((s.nll[0].iter().sum(), s.right[0].iter().filter(|&&r| r).count()))
}

/// The state of one text in a batch slot.
struct Slot {
    text: usize,
    opt: AdamW,
    mem: Vec<f32>,
    best_mem: Vec<f32>,
    best_right: usize,
    best_loss: f64,
    lowest_ce: f64,
    since_best: usize,
    steps: usize,
    greedy_exact: bool,
    baseline: (f64, usize),
    started: web_time::Instant,
}

/// Crams each of `texts` into `cfg.mem` vectors of `lm`, `batch` texts at a time.
pub fn cram_texts(lm: &LoadedModel, cfg: &CramConfig, texts: &[TextJob], batch: usize, obs: &mut dyn Observer) -> Result<Vec<CramOutcome>> {
    cfg.validate()?;
    if batch < 1 {
        return Err(Error::Input("--batch must be at least 1".into()));
    }
    let first = cfg.protocol.first_scored();
    let limit = lm.config.max_position_embeddings();
    for t in texts {
        if t.ids.len() <= first {
            return Err(Error::Input(format!("{}: the text has {} token(s); cramming needs at least {}", t.id, t.ids.len(), first + 1)));
        }
        if t.ids.len() + cfg.mem + 1 > limit {
            return Err(Error::Input(format!("{}: {} tokens + {} vectors exceed the model's context of {limit} positions", t.id, t.ids.len(), cfg.mem)));
        }
    }
    let prefix = prefix_ids(lm, cfg.layout)?;
    let d = lm.config.hidden_size();
    let k = cfg.mem;
    let std = match cfg.init_std {
        Some(s) => s,
        None => embedding_std(&lm.model)?,
    };
    let plain = lm.device.clone().without_autodiff();
    let ad = plain.clone().autodiff();

    let mut outcomes: Vec<Option<CramOutcome>> = vec![None; texts.len()];
    let mut next = 0usize;
    let mut slots: Vec<Slot> = Vec::new();
    loop {
        // Refill free slots.
        while slots.len() < batch && next < texts.len() {
            let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed ^ (next as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let normal = Normal::new(0.0f32, std).map_err(|e| Error::Input(e.to_string()))?;
            let mem: Vec<f32> = (0..k * d).map(|_| normal.sample(&mut rng)).collect();
            slots.push(Slot {
                text: next,
                opt: AdamW::new(k * d),
                best_mem: mem.clone(),
                mem,
                best_right: 0,
                best_loss: f64::INFINITY,
                lowest_ce: f64::INFINITY,
                since_best: 0,
                steps: 0,
                greedy_exact: false,
                baseline: baseline(lm, cfg, &texts[next].ids)?,
                started: web_time::Instant::now(),
            });
            next += 1;
        }
        if slots.is_empty() {
            break;
        }
        let interrupted = obs.stop_requested();
        let mut done: Vec<(usize, StopReason)> = Vec::new();
        if !interrupted {
            // One forward/backward over the batch.
            let b = slots.len();
            let ids: Vec<&[u32]> = slots.iter().map(|s| texts[s.text].ids.as_slice()).collect();
            let mem_host: Vec<f32> = slots.iter().flat_map(|s| s.mem.iter().copied()).collect();
            let mem = Tensor::<3>::from_data(TensorData::new(mem_host, [b, k, d]), &ad).require_grad();
            let mut parts = Vec::new();
            if !prefix.is_empty() {
                let p: Vec<i32> = (0..b).flat_map(|_| prefix.iter().map(|&i| i as i32)).collect();
                parts.push(lm.model.embed(Tensor::<2, Int>::from_data(TensorData::new(p, [b, prefix.len()]), &plain)).autodiff());
            }
            parts.push(mem.clone());
            let logits = text_logits(&lm.model, Tensor::cat(parts, 1), &ids, first);
            let (loss, scores) = score(logits, &ids, first)?;
            let grads = loss.backward();
            let grad = mem.grad(&grads).ok_or_else(|| Error::Device("no gradient reached the memory vectors".into()))?;
            let grad = grad.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| Error::Device(format!("{e:?}")))?;

            for (row, slot) in slots.iter_mut().enumerate() {
                let text = &texts[slot.text];
                let scored = text.ids.len() - first;
                let right = scores.right[row].iter().filter(|&&r| r).count();
                let ce: f64 = scores.nll[row].iter().sum();
                let loss = ce / scored as f64;
                slot.steps += 1;
                slot.lowest_ce = slot.lowest_ce.min(ce);
                let improved = right > slot.best_right;
                if improved || (right == slot.best_right && loss < slot.best_loss) {
                    slot.best_mem.clone_from(&slot.mem);
                    slot.best_loss = loss;
                }
                if improved {
                    slot.best_right = right;
                    slot.since_best = 0;
                } else {
                    slot.since_best += 1;
                }
                let mut correct = vec![true; first];
                correct.extend_from_slice(&scores.right[row]);
                obs.on_step(&StepReport { text: slot.text, text_id: &text.id, step: slot.steps, loss, right, scored, best_right: slot.best_right, correct: &correct, max_steps: cfg.max_steps });

                let success = match cfg.protocol {
                    crate::methods::Protocol::Greedy => right == scored && verify_greedy(lm, &prefix, &slot.mem, k, &text.ids, first),
                    crate::methods::Protocol::Paper => right as f64 / scored as f64 >= cfg.paper_threshold,
                };
                if success {
                    slot.best_mem.clone_from(&slot.mem);
                    slot.best_right = right;
                    done.push((row, StopReason::Success));
                    continue;
                }
                let g = &grad[row * k * d..(row + 1) * k * d];
                slot.opt.step(&cfg.adamw, cfg.adamw.lr, &mut slot.mem, g);
                if slot.steps >= cfg.max_steps {
                    done.push((row, StopReason::MaxSteps));
                } else if slot.since_best >= cfg.patience {
                    done.push((row, StopReason::Patience));
                }
            }
        } else {
            done = (0..slots.len()).map(|r| (r, StopReason::Interrupted)).collect();
        }
        // Finish the slots that are done, last row first so indices stay valid.
        for (row, reason) in done.into_iter().rev() {
            let slot = slots.remove(row);
            let text = &texts[slot.text];
            let greedy_exact = match reason {
                StopReason::Success if cfg.protocol == crate::methods::Protocol::Greedy => true,
                _ => verify_greedy(lm, &prefix, &slot.best_mem, k, &text.ids, first),
            };
            let scored = text.ids.len() - first;
            let metrics = CramMetrics::new(
                text.ids.len(),
                k,
                slot.steps,
                slot.started.elapsed().as_secs_f64(),
                scored,
                slot.best_right,
                slot.baseline.1,
                greedy_exact || slot.greedy_exact,
                slot.baseline.0,
                if slot.lowest_ce.is_finite() { slot.lowest_ce } else { slot.baseline.0 },
                d,
                lm.config.vocab_size(),
            );
            let outcome = CramOutcome { text: slot.text, text_id: text.id.clone(), ids: text.ids.clone(), prefix_ids: prefix.clone(), given_ids: text.ids[..first].to_vec(), mem: slot.best_mem, metrics, stop: reason };
            obs.on_done(&outcome);
            let index = outcome.text;
            outcomes[index] = Some(outcome);
        }
        if interrupted {
            break;
        }
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// Whether greedy decoding after `[prefix, mem]`, with the first `given` tokens of `ids` given,
/// reproduces `ids` exactly.
pub fn verify_greedy(lm: &LoadedModel, prefix: &[u32], mem: &[f32], k: usize, ids: &[u32], given: usize) -> bool {
    decode_text(lm, prefix, mem, k, &ids[..given], ids.len(), Some(ids)) == ids
}

/// The `n` text tokens that `[prefix, mem]` decode to: the `given` tokens (t_1 under the paper's
/// protocol, none under the greedy one) followed by greedy decoding. With `expected`, decoding stops
/// at the first token that differs from it.
pub fn decode_text(lm: &LoadedModel, prefix: &[u32], mem: &[f32], k: usize, given: &[u32], n: usize, expected: Option<&[u32]>) -> Vec<u32> {
    let mut start = memory_prefix(lm, prefix, mem, k);
    if !given.is_empty() {
        start = Tensor::cat(vec![start, embed_ids(&lm.model, given)], 1);
    }
    let rest = greedy_decode(&lm.model, start, n.saturating_sub(given.len()), expected.map(|e| e.get(given.len()..).unwrap_or(&[])), |_, _| {});
    given.iter().copied().chain(rest).collect()
}

/// `[1, P + k, d]`: the embedded prefix tokens followed by the memory vectors.
pub fn memory_prefix(lm: &LoadedModel, prefix: &[u32], mem: &[f32], k: usize) -> Tensor<3> {
    let d = lm.config.hidden_size();
    let mem = Tensor::<3>::from_data(TensorData::new(mem.to_vec(), [1, k, d]), &lm.device);
    if prefix.is_empty() { mem } else { Tensor::cat(vec![embed_ids(&lm.model, prefix), mem], 1) }
}

/// Standard deviation of the input-embedding matrix: the scale of the paper's initialisation.
pub fn embedding_std(model: &Model) -> Result<f32> {
    let e = model.embedding_matrix().clone();
    let mean = e.clone().mean();
    let var = (e - mean.unsqueeze::<2>()).square().mean();
    let v: f32 = var.into_scalar::<f32>();
    if !(v.is_finite() && v > 0.0) {
        return Err(Error::Config("the embedding matrix has no spread (all equal or not finite)".into()));
    }
    Ok(v.sqrt())
}
