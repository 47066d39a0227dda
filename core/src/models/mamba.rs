//! Mamba: a selective state-space model, without attention.
//!
//! Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (2023). Follows
//! transformers' `models/mamba/modeling_mamba.py` (its pure-PyTorch path): embeddings; per layer an
//! RMSNorm, then the mixer: `in_proj` to x and a gate z, a causal depthwise `conv1d` over x, SiLU,
//! `x_proj` to (dt, B, C), `dt_proj` and softplus, the selective scan
//! `h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t`, `y_t = C_t · h_t + D x_t` with `A = -exp(A_log)`,
//! then `y * silu(z)` and `out_proj`; a residual kept in f32 (`residual_in_fp32`); `norm_f`; a head
//! tied to the embeddings. Checkpoints are `state-spaces/mamba-*-hf` (weights under `backbone.*`).
//!
//! Kuratov et al. cram texts into Mamba-130M .. 1.4B beside the transformers. What a model without
//! attention changes for cram: decoding keeps a recurrent state (the conv window and h, see
//! [`RecurrentState`]) instead of keys and values; LoRA adapts `in_proj`, `x_proj`, `dt_proj`,
//! `out_proj`; there are no positions, so no context limit.
//!
//! The scan is computed in chunks rather than one position at a time ([`selective_scan`]): the
//! same numbers, with a number of tensor operations that does not grow with the text.

use burn::tensor::activation::{silu, softplus};
use burn::tensor::{FloatDType, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::TokenIds;
use super::family::{CausalLm, Family, FamilyConfig, f32_round};
use super::kv_cache::{KvCache, LayerKv, RecurrentState};
use super::layers::{Embedding, Linear};
use super::lora::{self, LoraSet, LoraSite, LoraTarget};
use crate::weights::gguf_view::GgufView;
use crate::weights::{HostTensor, Weights};
use crate::{Error, Result};

/// `config.json` of a Mamba checkpoint, key for key (transformers' `MambaConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MambaConfig {
    /// Vocabulary size (padded to a multiple of 8 in the released checkpoints).
    pub vocab_size: usize,
    /// Model width d.
    pub hidden_size: usize,
    /// SSM state size N per channel.
    #[serde(default = "default_state_size")]
    pub state_size: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Inner width over model width; the inner width is `intermediate_size` when given.
    #[serde(default = "default_expand")]
    pub expand: usize,
    /// Inner width (the channels of the conv and the scan); `expand * hidden_size` when absent.
    #[serde(default)]
    pub intermediate_size: Option<usize>,
    /// Width of the causal depthwise convolution.
    #[serde(default = "default_conv_kernel")]
    pub conv_kernel: usize,
    /// Rank of the time-step projection: a number, or `"auto"` for `ceil(hidden_size / 16)`.
    #[serde(default = "default_time_step_rank")]
    pub time_step_rank: serde_json::Value,
    /// Biases on `in_proj` and `out_proj`.
    #[serde(default)]
    pub use_bias: bool,
    /// A bias on the convolution.
    #[serde(default = "yes")]
    pub use_conv_bias: bool,
    /// Activation after the convolution and on the gate; `silu`.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// RMSNorm epsilon.
    #[serde(default = "default_layer_norm_epsilon")]
    pub layer_norm_epsilon: f64,
    /// The residual stream in f32 whatever the weights' dtype.
    #[serde(default = "yes")]
    pub residual_in_fp32: bool,
    /// Whether the LM head is the embedding (every released Mamba).
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence token id.
    #[serde(default, deserialize_with = "super::lenient_token_ids")]
    pub eos_token_id: Option<TokenIds>,
}

fn default_state_size() -> usize {
    16
}
fn default_expand() -> usize {
    2
}
fn default_conv_kernel() -> usize {
    4
}
fn default_time_step_rank() -> serde_json::Value {
    "auto".into()
}
fn default_hidden_act() -> String {
    "silu".into()
}
fn default_layer_norm_epsilon() -> f64 {
    1e-5
}
fn yes() -> bool {
    true
}

/// Mamba has no positions: any length runs. This is the limit cram reports (llama.cpp's converter
/// writes the same, 2^20).
const CONTEXT: usize = 1 << 20;

impl MambaConfig {
    /// Inner width I.
    pub fn intermediate_size(&self) -> usize {
        self.intermediate_size.unwrap_or(self.expand * self.hidden_size)
    }

    /// Rank R of the time-step projection.
    pub fn time_step_rank(&self) -> usize {
        self.time_step_rank.as_u64().map_or(self.hidden_size.div_ceil(16), |r| r as usize)
    }
}

/// Root-mean-square norm, in f32, cast back before the weight (as transformers' `MambaRMSNorm`).
#[derive(Debug, Clone)]
pub struct MambaRmsNorm {
    weight: Tensor<1>,
    eps: f64,
}

impl MambaRmsNorm {
    fn load(w: &Weights, size: usize, eps: f64) -> Result<Self> {
        Ok(Self { weight: w.get("weight", [size])?, eps })
    }

    /// # Shapes
    /// `[batch, seq, d]` (any dtype) → `[batch, seq, d]` in the dtype of `x`
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        let x = x.cast(FloatDType::F32);
        let variance = x.clone().square().mean_dim(2);
        let normed = x * variance.add_scalar(self.eps).sqrt().recip();
        normed.cast(dtype) * self.weight.clone().cast(dtype).unsqueeze::<3>()
    }
}

/// The scan's positions per chunk. Within a chunk the state is a cumulative sum (see
/// [`selective_scan`]); 8 positions keep its exponents within ±60 (f32 reaches e^88).
const CHUNK: usize = 8;

/// The strongest decay of one position, as a logarithm: a position that keeps less than e^-15
/// (3·10^-7) of the state keeps exactly that, so that a chunk's cumulative decay stays above
/// `-CHUNK * 15 = -120` and half of it within the f32 range. The difference from the exact value is
/// below 3·10^-7 of the state, far under the f32 reference tolerance.
const MIN_LOG_DECAY: f64 = -15.0;

/// The linear recurrence `h_t = exp(log_a_t) h_{t-1} + u_t` over dim 1 (time), from `h0` (zero when
/// absent), for every channel at once: all the states `h_1 .. h_T`.
///
/// Within a chunk of `len ≤ CHUNK` positions, with `S_t = log_a_1 + .. + log_a_t`,
/// `h_t = exp(S_t) h0 + Σ_{s≤t} exp(S_t - S_s) u_s = exp(S_t - m) Σ_{s≤t} exp(m - S_s) u_s + exp(S_t) h0`,
/// a cumulative sum, with `m = S_len / 2` keeping both exponents within `±len·15/2`. Longer
/// sequences are cut into chunks computed all at once; the state each chunk starts from is the
/// same recurrence one level up (over the chunks' ends, with their total decays), so the number of
/// tensor operations grows with log_8(T), not T (Blelloch's two-level scan, with cumulative sums in
/// log space inside a chunk as Mamba-2's SSD formulation does).
///
/// # Shapes
/// log_a, u `[batch, T, inner, state]`, h0 `[batch, inner, state]` → `[batch, T, inner, state]`
pub fn linear_scan(log_a: Tensor<4>, u: Tensor<4>, h0: Option<Tensor<3>>) -> Tensor<4> {
    let [batch, t, inner, state] = log_a.dims();
    let log_a = log_a.clamp_min(MIN_LOG_DECAY);
    if t <= CHUNK {
        let chunk = chunk_scan(log_a, u);
        return match h0 {
            Some(h0) => chunk.states + chunk.decay * h0.unsqueeze_dim(1),
            None => chunk.states,
        };
    }
    // pad to whole chunks: decay 1 (log 0) and no input leave the state as it is
    let chunks = t.div_ceil(CHUNK);
    let pad = chunks * CHUNK - t;
    let (log_a, u) = if pad == 0 {
        (log_a, u)
    } else {
        let zeros = Tensor::<4>::zeros([batch, pad, inner, state], &log_a.device()).cast(log_a.dtype());
        (Tensor::cat(vec![log_a, zeros.clone()], 1), Tensor::cat(vec![u, zeros], 1))
    };
    // every chunk from a zero state
    let per_chunk = |x: Tensor<4>| x.reshape([batch * chunks, CHUNK, inner, state]);
    let Chunk { states: local, cumulative, decay } = chunk_scan(per_chunk(log_a), per_chunk(u));
    // the state at each chunk's end, through the chunks before it
    let ends = |x: Tensor<4>| x.narrow(1, CHUNK - 1, 1).reshape([batch, chunks, inner, state]);
    let chunk_ends = linear_scan(ends(cumulative), ends(local.clone()), h0.clone());
    let start = h0.map_or_else(|| Tensor::<4>::zeros([batch, 1, inner, state], &chunk_ends.device()).cast(chunk_ends.dtype()), |h| h.unsqueeze_dim(1));
    let starts = Tensor::cat(vec![start, chunk_ends.narrow(1, 0, chunks - 1)], 1).reshape([batch * chunks, 1, inner, state]);
    let h = local + decay * starts;
    h.reshape([batch, chunks * CHUNK, inner, state]).narrow(1, 0, t)
}

/// One chunk of [`linear_scan`], from a zero state.
struct Chunk {
    /// The states `h_t` from a zero state.
    states: Tensor<4>,
    /// The cumulative log-decays `S_t`.
    cumulative: Tensor<4>,
    /// `exp(S_t)`: what is left at t of the state the chunk starts from.
    decay: Tensor<4>,
}

/// One chunk of [`linear_scan`] (`len ≤ CHUNK` positions, log-decays already clamped). Two full
/// exponentials are computed, `exp(S_t - m)` and `exp(m)` (one value per channel); the others are
/// their quotients and products.
///
/// # Shapes
/// log_a, u `[batch, len, inner, state]` → each of [`Chunk`] `[batch, len, inner, state]`
fn chunk_scan(log_a: Tensor<4>, u: Tensor<4>) -> Chunk {
    let len = log_a.dims()[1];
    let cumulative = log_a.cumsum(1);
    let mid = cumulative.clone().narrow(1, len - 1, 1).mul_scalar(0.5);
    let falling = (cumulative.clone() - mid.clone()).exp();
    let states = falling.clone() * (u / falling.clone()).cumsum(1);
    let decay = falling * mid.exp();
    Chunk { states, cumulative, decay }
}

/// The same recurrence one position at a time, as transformers' slow path runs it: the reference
/// [`linear_scan`] is tested against, and the form the per-step benchmark compares.
///
/// # Shapes
/// log_a, u `[batch, T, inner, state]`, h0 `[batch, inner, state]` → `[batch, T, inner, state]`
pub fn linear_scan_sequential(log_a: Tensor<4>, u: Tensor<4>, h0: Option<Tensor<3>>) -> Tensor<4> {
    let [batch, t, inner, state] = log_a.dims();
    let decay = log_a.exp();
    let mut h = h0.unwrap_or_else(|| Tensor::<3>::zeros([batch, inner, state], &u.device()).cast(u.dtype()));
    let mut states = Vec::with_capacity(t);
    for s in 0..t {
        let at = |x: &Tensor<4>| x.clone().narrow(1, s, 1).reshape([batch, inner, state]);
        h = at(&decay) * h + at(&u);
        states.push(h.clone().unsqueeze_dim(1));
    }
    Tensor::cat(states, 1)
}

/// How [`MambaMixer`] runs its scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanForm {
    /// In chunks ([`linear_scan`]): the default.
    #[default]
    Chunked,
    /// One position at a time ([`linear_scan_sequential`]): the reference.
    Sequential,
}

/// The selective SSM of one layer, with its convolution and gate.
#[derive(Debug, Clone)]
pub struct MambaMixer {
    in_proj: Linear,
    /// `[inner, conv_kernel]`: the depthwise filter of each channel.
    conv_weight: Tensor<2>,
    conv_bias: Option<Tensor<1>>,
    x_proj: Linear,
    /// `dt_proj` without its bias, which is added in f32 before the softplus (as transformers does).
    dt_proj: Linear,
    /// `[inner]`, in f32.
    dt_bias: Tensor<1>,
    /// `A = -exp(A_log)`, `[inner, state]`, in f32.
    a: Tensor<2>,
    /// `[inner]`, in f32.
    d: Tensor<1>,
    out_proj: Linear,
    inner: usize,
    state: usize,
    rank: usize,
    kernel: usize,
    scan: ScanForm,
}

impl MambaMixer {
    fn load(w: &Weights, cfg: &MambaConfig) -> Result<Self> {
        let (d, i, n, r, k) = (cfg.hidden_size, cfg.intermediate_size(), cfg.state_size, cfg.time_step_rank(), cfg.conv_kernel);
        let conv = w.pp("conv1d").host("weight", &[i, 1, k])?;
        let a_log = w.host("A_log", &[i, n])?;
        let a = a_log.data.iter().map(|v| -v.exp()).collect();
        Ok(Self {
            in_proj: Linear::load(&w.pp("in_proj"), d, 2 * i, cfg.use_bias)?,
            conv_weight: w.upload(conv.data, [i, k]),
            conv_bias: if cfg.use_conv_bias { Some(w.pp("conv1d").get("bias", [i])?) } else { None },
            x_proj: Linear::load(&w.pp("x_proj"), i, r + 2 * n, false)?,
            dt_proj: Linear::load(&w.pp("dt_proj"), r, i, false)?,
            dt_bias: Tensor::from_data(burn::tensor::TensorData::new(w.pp("dt_proj").host("bias", &[i])?.data, [i]), w.device()),
            a: Tensor::from_data(burn::tensor::TensorData::new(a, [i, n]), w.device()),
            d: Tensor::from_data(burn::tensor::TensorData::new(w.host("D", &[i])?.data, [i]), w.device()),
            out_proj: Linear::load(&w.pp("out_proj"), i, d, cfg.use_bias)?,
            inner: i,
            state: n,
            rank: r,
            kernel: k,
            scan: ScanForm::default(),
        })
    }

    /// The causal depthwise convolution over `x`, after the inputs the cache kept (zeros at the
    /// start), and the window to keep for the next step.
    ///
    /// # Shapes
    /// x `[batch, seq, inner]` → `[batch, seq, inner]`, window `[batch, kernel - 1, inner]`
    fn conv1d(&self, x: Tensor<3>, before: Option<Tensor<3>>) -> (Tensor<3>, Tensor<3>) {
        let [batch, seq, inner] = x.dims();
        let before = before.unwrap_or_else(|| Tensor::<3>::zeros([batch, self.kernel - 1, inner], &x.device()).cast(x.dtype()));
        let padded = Tensor::cat(vec![before, x], 1);
        let window = padded.clone().narrow(1, seq, self.kernel - 1);
        // output t = Σ_j w[:, j] x[t + j - (kernel - 1)]: tap j reads the padded input from j on
        let mut out = self.conv_bias.clone().map(|b| b.unsqueeze::<3>().expand([batch, seq, inner]));
        for j in 0..self.kernel {
            let tap = padded.clone().narrow(1, j, seq) * self.conv_weight.clone().narrow(1, j, 1).reshape([1, 1, inner]);
            out = Some(match out {
                Some(o) => o + tap,
                None => tap,
            });
        }
        (out.expect("a kernel of at least one tap"), window)
    }

    /// # Shapes
    /// `[batch, seq, d]` → `[batch, seq, d]`
    fn forward(&self, x: Tensor<3>, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let [batch, seq, _] = x.dims();
        let (i, n, r) = (self.inner, self.state, self.rank);
        let dtype = x.dtype();
        // 1. the gated projection: x for the SSM, z for the gate
        let xz = self.in_proj.forward(x);
        let (xs, z) = (xz.clone().narrow(2, 0, i), xz.narrow(2, i, i));
        // 2. the causal convolution, continuing from the cached window
        let previous = cache.as_ref().and_then(|c| c.recurrent().cloned());
        let (xs, window) = self.conv1d(xs, previous.as_ref().map(|p| p.conv.clone()));
        let xs = silu(xs);
        // 3. selection: dt, B and C depend on the input
        let selection = self.x_proj.forward(xs.clone());
        let (dt, b, c) = (selection.clone().narrow(2, 0, r), selection.clone().narrow(2, r, n), selection.narrow(2, r + n, n));
        let dt = softplus(self.dt_proj.forward(dt).cast(FloatDType::F32) + self.dt_bias.clone().unsqueeze::<3>(), 1.0);
        // 4. the scan, in f32: h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t over [batch, seq, inner, state]
        let x32 = xs.clone().cast(FloatDType::F32);
        let log_a = dt.clone().unsqueeze_dim::<4>(3) * self.a.clone().unsqueeze::<4>();
        let u = (dt * x32.clone()).unsqueeze_dim::<4>(3) * b.cast(FloatDType::F32).unsqueeze_dim::<4>(2);
        let h0 = previous.map(|p| p.ssm);
        let states = match self.scan {
            ScanForm::Chunked => linear_scan(log_a, u, h0),
            ScanForm::Sequential => linear_scan_sequential(log_a, u, h0),
        };
        if let Some(cache) = cache {
            let ssm = states.clone().narrow(1, seq - 1, 1).reshape([batch, i, n]);
            cache.set_recurrent(RecurrentState { conv: window, ssm });
        }
        // y_t = C_t · h_t + D x_t, gated by silu(z)
        // C_t · h_t for every position as one batched product: [b·seq, I, N] x [b·seq, N, 1]
        let y = states.reshape([batch * seq, i, n]).matmul(c.cast(FloatDType::F32).reshape([batch * seq, n, 1])).reshape([batch, seq, i]);
        let y = y + x32 * self.d.clone().unsqueeze::<3>();
        let y = y * silu(z).cast(FloatDType::F32);
        self.out_proj.forward(y.cast(dtype))
    }
}

/// One Mamba layer: `x + mixer(norm(x))`, the residual in f32 when `residual_in_fp32`.
#[derive(Debug, Clone)]
pub struct MambaBlock {
    norm: MambaRmsNorm,
    mixer: MambaMixer,
    residual_in_fp32: bool,
}

impl MambaBlock {
    fn load(w: &Weights, cfg: &MambaConfig) -> Result<Self> {
        Ok(Self {
            norm: MambaRmsNorm::load(&w.pp("norm"), cfg.hidden_size, cfg.layer_norm_epsilon)?,
            mixer: MambaMixer::load(&w.pp("mixer"), cfg)?,
            residual_in_fp32: cfg.residual_in_fp32,
        })
    }

    /// `x` is the residual stream (f32 after the first layer when `residual_in_fp32`); `dtype` the weights'.
    fn forward(&self, x: Tensor<3>, dtype: FloatDType, cache: Option<&mut LayerKv>) -> Tensor<3> {
        let residual = if self.residual_in_fp32 { x.clone().cast(FloatDType::F32) } else { x.clone() };
        let h = self.mixer.forward(self.norm.forward(x.cast(dtype)), cache);
        residual.clone() + h.cast(residual.dtype())
    }
}

/// The Mamba backbone with its tied head.
#[derive(Debug, Clone)]
pub struct MambaForCausalLM {
    /// The config it was built from.
    pub config: MambaConfig,
    embeddings: Embedding,
    layers: Vec<MambaBlock>,
    norm_f: MambaRmsNorm,
    /// `[d, vocab]`.
    lm_head: Linear,
}

impl MambaForCausalLM {
    /// The weights' dtype.
    fn dtype(&self) -> FloatDType {
        self.embeddings.weight().dtype().into()
    }

    /// Runs every mixer's scan in `form` (the per-step benchmark compares them).
    pub fn with_scan(mut self, form: ScanForm) -> Self {
        for layer in &mut self.layers {
            layer.mixer.scan = form;
        }
        self
    }
}

impl CausalLm for MambaForCausalLM {
    fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embeddings.forward(ids)
    }

    fn embedding_matrix(&self) -> &Tensor<2> {
        self.embeddings.weight()
    }

    fn hidden_states(&self, inputs_embeds: Tensor<3>, mut cache: Option<&mut KvCache>) -> Tensor<3> {
        let (dtype, seq) = (self.dtype(), inputs_embeds.dims()[1]);
        let mut x = inputs_embeds;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, dtype, cache.as_deref_mut().map(|c| c.layer(i)));
        }
        if let Some(cache) = cache {
            cache.advance(seq);
        }
        self.final_norm(x)
    }

    fn decoder_layer(&self, index: usize, x: Tensor<3>) -> Tensor<3> {
        let dtype = self.dtype();
        self.layers[index].forward(x, dtype, None).cast(dtype)
    }

    /// `norm_f`, back in the weights' dtype.
    fn final_norm(&self, x: Tensor<3>) -> Tensor<3> {
        self.norm_f.forward(x).cast(self.dtype())
    }

    fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.lm_head.forward(hidden)
    }
}

impl FamilyConfig for MambaConfig {
    fn hidden_size(&self) -> usize {
        self.hidden_size
    }
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }
    fn num_layers(&self) -> usize {
        self.num_hidden_layers
    }
    /// None: Mamba has no attention.
    fn num_attention_heads(&self) -> usize {
        0
    }
    /// No positions, no limit: 2^20, as llama.cpp writes.
    fn max_position_embeddings(&self) -> usize {
        CONTEXT
    }
    fn tie_word_embeddings(&self) -> bool {
        self.tie_word_embeddings
    }
    fn bos_token_id(&self) -> Option<&TokenIds> {
        self.bos_token_id.as_ref()
    }
    fn eos_token_id(&self) -> Option<&TokenIds> {
        self.eos_token_id.as_ref()
    }
    fn lora_sites(&self, targets: &[LoraTarget]) -> Vec<LoraSite> {
        let (d, i, n, r) = (self.hidden_size, self.intermediate_size(), self.state_size, self.time_step_rank());
        lora::sites(self.num_hidden_layers, targets, |target| match target {
            LoraTarget::InProj => vec![("in_proj", d, 2 * i)],
            LoraTarget::XProj => vec![("x_proj", i, r + 2 * n)],
            LoraTarget::DtProj => vec![("dt_proj", r, i)],
            LoraTarget::OutProj => vec![("out_proj", i, d)],
            // no attention, no MLP
            LoraTarget::Q | LoraTarget::K | LoraTarget::V | LoraTarget::O | LoraTarget::Mlp => vec![],
        })
    }
    /// The head is tied, so counted once.
    fn parameters(&self) -> usize {
        let (d, i, n, r, k) = (self.hidden_size, self.intermediate_size(), self.state_size, self.time_step_rank(), self.conv_kernel);
        let b = usize::from(self.use_bias);
        let mixer = d * 2 * i + 2 * i * b // in_proj
            + i * k + i * usize::from(self.use_conv_bias) // conv1d
            + i * (r + 2 * n) // x_proj
            + r * i + i // dt_proj
            + i * n + i // A_log, D
            + i * d + d * b; // out_proj
        let head = if self.tie_word_embeddings { 0 } else { self.vocab_size * d };
        self.vocab_size * d + self.num_hidden_layers * (mixer + d) + d + head
    }
    fn largest_weight(&self) -> (&'static str, usize) {
        let (d, i) = (self.hidden_size, self.intermediate_size());
        [("embedding", self.vocab_size * d), ("in_proj", d * 2 * i)].into_iter().max_by_key(|&(_, n)| n).expect("two candidates")
    }
    /// Per position, what the backward pass reads (see [`MambaMixer::forward`]): the norm's input and
    /// output (2d), in_proj's output (2I), the conv's padded input, taps and sum (≈ (2 + kernel) I),
    /// SiLU (I), x_proj's output (R + 2N), dt_proj's output and softplus (2I), dt·x, x in f32 and
    /// the gated output's four terms (6I), out_proj's output and the residual (2d); and the scan's
    /// `[inner, state]` tensors: log-decay, input, cumulative decay, its two exponentials, the
    /// weighted input and its cumulative sum, the chunk states, the carried states and the product
    /// with C (10 I N, plus an eighth for the levels above the chunks).
    fn activation_values_per_position(&self) -> u64 {
        let (d, i, n, r, k) = (self.hidden_size as u64, self.intermediate_size() as u64, self.state_size as u64, self.time_step_rank() as u64, self.conv_kernel as u64);
        4 * d + (13 + k) * i + r + 2 * n + (10 * i * n) * 9 / 8
    }
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.hidden_act != "silu" {
            return bad(format!("hidden_act = {:?}; cram's Mamba implements \"silu\"", self.hidden_act));
        }
        if !self.tie_word_embeddings {
            return bad("tie_word_embeddings = false; cram's Mamba implements the tied head every released Mamba has".into());
        }
        if !self.time_step_rank.is_u64() && self.time_step_rank.as_str() != Some("auto") {
            return bad(format!("time_step_rank = {}; a number or \"auto\"", self.time_step_rank));
        }
        let sizes = [self.hidden_size, self.vocab_size, self.num_hidden_layers, self.intermediate_size(), self.state_size, self.conv_kernel, self.time_step_rank()];
        if sizes.contains(&0) || sizes.iter().any(|&s| s > 1 << 20) {
            return bad(format!(
                "hidden_size {}, intermediate_size {}, state_size {}, conv_kernel {}, time_step_rank {} and the layer and vocabulary counts must be between 1 and 2^20",
                self.hidden_size,
                self.intermediate_size(),
                self.state_size,
                self.conv_kernel,
                self.time_step_rank()
            ));
        }
        Ok(())
    }
}

/// llama.cpp's names (`convert_hf_to_gguf.py`, `MambaModel`).
const MAMBA_GGUF_NAMES: &[(&str, &str)] = &[
    ("backbone.embeddings.weight", "token_embd.weight"),
    ("backbone.layers.{i}.norm.weight", "blk.{i}.attn_norm.weight"),
    ("backbone.layers.{i}.mixer.in_proj.weight", "blk.{i}.ssm_in.weight"),
    ("backbone.layers.{i}.mixer.in_proj.bias", "blk.{i}.ssm_in.bias"),
    ("backbone.layers.{i}.mixer.conv1d.weight", "blk.{i}.ssm_conv1d.weight"),
    ("backbone.layers.{i}.mixer.conv1d.bias", "blk.{i}.ssm_conv1d.bias"),
    ("backbone.layers.{i}.mixer.x_proj.weight", "blk.{i}.ssm_x.weight"),
    ("backbone.layers.{i}.mixer.dt_proj.weight", "blk.{i}.ssm_dt.weight"),
    ("backbone.layers.{i}.mixer.dt_proj.bias", "blk.{i}.ssm_dt.bias"),
    ("backbone.layers.{i}.mixer.A_log", "blk.{i}.ssm_a"),
    ("backbone.layers.{i}.mixer.D", "blk.{i}.ssm_d"),
    ("backbone.layers.{i}.mixer.out_proj.weight", "blk.{i}.ssm_out.weight"),
    ("backbone.layers.{i}.mixer.out_proj.bias", "blk.{i}.ssm_out.bias"),
    ("backbone.norm_f.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
];

impl Family for MambaConfig {
    type Model = MambaForCausalLM;
    const MODEL_TYPE: &'static str = "mamba";
    const GGUF_ARCH: Option<&'static str> = Some("mamba");
    const GGUF_NAMES: &'static [(&'static str, &'static str)] = MAMBA_GGUF_NAMES;
    const ATTENTION: bool = false;

    fn load(&self, w: &Weights) -> Result<Self::Model> {
        self.validate()?;
        let m = w.pp("backbone");
        let (v, d) = (self.vocab_size, self.hidden_size);
        let embed = m.pp("embeddings").host("weight", &[v, d])?;
        let lm_head = Linear::tied(w, &embed.data, v, d);
        let layers = (0..self.num_hidden_layers).map(|i| MambaBlock::load(&m.pp(format!("layers.{i}")), self)).collect::<Result<Vec<_>>>()?;
        Ok(MambaForCausalLM {
            config: self.clone(),
            embeddings: Embedding::new(w.upload(embed.data, [v, d])),
            layers,
            norm_f: MambaRmsNorm::load(&m.pp("norm_f"), d, self.layer_norm_epsilon)?,
            lm_head,
        })
    }

    fn config_of(model: &Self::Model) -> &Self {
        &model.config
    }

    fn with_lora(model: &Self::Model, set: &LoraSet) -> Self::Model {
        let mut model = model.clone();
        for (i, layer) in model.layers.iter_mut().enumerate() {
            let mixer = &mut layer.mixer;
            mixer.in_proj.lora = set.get(i, "in_proj");
            mixer.x_proj.lora = set.get(i, "x_proj");
            mixer.dt_proj.lora = set.get(i, "dt_proj");
            mixer.out_proj.lora = set.get(i, "out_proj");
        }
        model
    }

    fn canonical(&self) -> Self {
        let mut c = self.clone();
        c.intermediate_size = Some(c.intermediate_size());
        c.expand = c.intermediate_size() / c.hidden_size.max(1);
        c.time_step_rank = c.time_step_rank().into();
        c.layer_norm_epsilon = f32_round(c.layer_norm_epsilon);
        (c.bos_token_id, c.eos_token_id) = (None, None);
        c
    }

    fn from_gguf(g: &GgufView) -> Result<Self> {
        let hidden = g.u64(&g.key("embedding_length"))? as usize;
        let vocab = match g.opt_u64(&g.key("vocab_size"))? {
            Some(v) => v as usize,
            None => g.file().get_str_array("tokenizer.ggml.tokens").map_err(|e| Error::Gguf { path: g.path().into(), cause: e })?.len(),
        };
        let inner = g.u64(&g.key("ssm.inner_size"))? as usize;
        Ok(MambaConfig {
            vocab_size: vocab,
            hidden_size: hidden,
            state_size: g.u64(&g.key("ssm.state_size"))? as usize,
            num_hidden_layers: g.u64(&g.key("block_count"))? as usize,
            expand: inner / hidden.max(1),
            intermediate_size: Some(inner),
            conv_kernel: g.u64(&g.key("ssm.conv_kernel"))? as usize,
            time_step_rank: g.u64(&g.key("ssm.time_step_rank"))?.into(),
            use_bias: g.has_tensor("blk.0.ssm_in.bias"),
            use_conv_bias: g.has_tensor("blk.0.ssm_conv1d.bias"),
            hidden_act: "silu".into(),
            layer_norm_epsilon: g.opt_f64(&g.key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-5),
            residual_in_fp32: true,
            tie_word_embeddings: !g.has_tensor("output.weight"),
            bos_token_id: g.opt_u64("tokenizer.ggml.bos_token_id")?.and_then(|id| u32::try_from(id).ok()).map(TokenIds::One),
            eos_token_id: g.opt_u64("tokenizer.ggml.eos_token_id")?.and_then(|id| u32::try_from(id).ok()).map(TokenIds::One),
        })
    }

    /// llama.cpp stores `A = -exp(A_log)` and the conv weight squeezed to `[inner, kernel]`; put
    /// back `A_log` and `[inner, 1, kernel]`.
    fn gguf_tensor(gguf_name: &str, tensor: HostTensor, _heads: (usize, usize)) -> Result<HostTensor> {
        if gguf_name.ends_with(".ssm_a") {
            let data = tensor.data.iter().map(|a| (-a).ln()).collect();
            return Ok(HostTensor { data, ..tensor });
        }
        if gguf_name.ends_with(".ssm_conv1d.weight")
            && let [inner, kernel] = tensor.shape[..]
        {
            return Ok(HostTensor { shape: vec![inner, 1, kernel], ..tensor });
        }
        Ok(tensor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelConfig;

    const MAMBA: &str = r#"{"model_type": "mamba", "vocab_size": 384, "hidden_size": 32, "num_hidden_layers": 2, "state_size": 8"#;

    fn error_of(extra: &str) -> Option<String> {
        crate::models::config_tests::error_of(MAMBA, extra)
    }

    /// Each feature cram does not implement is one error naming its field.
    #[test]
    fn unimplemented_features_are_refused_by_name() {
        assert_eq!(error_of(""), None);
        assert_eq!(error_of(r#", "time_step_rank": 4, "intermediate_size": 48"#), None);
        crate::models::config_tests::assert_refused_by_name(
            MAMBA,
            &[
                (r#", "hidden_act": "gelu""#, "hidden_act"),
                (r#", "tie_word_embeddings": false"#, "tie_word_embeddings"),
                (r#", "time_step_rank": "half""#, "time_step_rank"),
                (r#", "conv_kernel": 0"#, "conv_kernel"),
            ],
        );
    }

    /// `"auto"` is `ceil(d / 16)` and the inner width `expand * d`, as transformers computes them.
    #[test]
    fn derived_sizes_as_transformers() {
        let ModelConfig::Mamba(c) = ModelConfig::from_json(&format!("{MAMBA}}}")).unwrap() else { panic!() };
        assert_eq!((c.time_step_rank(), c.intermediate_size()), (2, 64));
        assert_eq!(c.canonical().time_step_rank, serde_json::json!(2));
    }
}
