//! AdamW (Loshchilov & Hutter 2019) exactly as `torch.optim.AdamW` computes it, on host f32 vectors.
//! The trainable state of one text is small (K x d values), so the update runs on the host: one
//! optimiser per text, whatever the batch, and the same numbers natively and in the browser.

use serde::{Deserialize, Serialize};

/// AdamW hyper-parameters. Defaults are the cramming paper's (and PyTorch's eps and decay).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Denominator epsilon.
    pub eps: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self { lr: 1e-2, beta1: 0.9, beta2: 0.9, weight_decay: 0.01, eps: 1e-8 }
    }
}

/// The state of one parameter vector.
#[derive(Debug, Clone, Default)]
pub struct AdamW {
    m: Vec<f32>,
    v: Vec<f32>,
    step: u32,
}

impl AdamW {
    /// Fresh state for `len` parameters.
    pub fn new(len: usize) -> Self {
        Self { m: vec![0.0; len], v: vec![0.0; len], step: 0 }
    }

    /// Steps taken.
    pub fn steps(&self) -> u32 {
        self.step
    }

    /// The moments and the step count, to save (a training checkpoint).
    pub fn state(&self) -> (&[f32], &[f32], u32) {
        (&self.m, &self.v, self.step)
    }

    /// The optimiser of a saved [`AdamW::state`]; `None` when the moments differ in length.
    pub fn from_state(m: Vec<f32>, v: Vec<f32>, step: u32) -> Option<Self> {
        (m.len() == v.len()).then_some(Self { m, v, step })
    }

    /// One update of `params` with `grad` at learning rate `lr` (a schedule may change it per step).
    pub fn step(&mut self, cfg: &AdamWConfig, lr: f64, params: &mut [f32], grad: &[f32]) {
        assert_eq!(params.len(), grad.len(), "parameter and gradient lengths differ");
        assert_eq!(params.len(), self.m.len(), "optimiser state was made for another size");
        self.step += 1;
        let t = self.step as i32;
        let bias1 = 1.0 - cfg.beta1.powi(t);
        let bias2 = 1.0 - cfg.beta2.powi(t);
        let step_size = (lr / bias1) as f32;
        let bias2_sqrt = bias2.sqrt() as f32;
        let decay = (1.0 - lr * cfg.weight_decay) as f32;
        let (b1, b2, eps) = (cfg.beta1 as f32, cfg.beta2 as f32, cfg.eps as f32);
        for (((p, g), m), v) in params.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *p *= decay;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / bias2_sqrt + eps;
            *p -= step_size * *m / denom;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from `torch.optim.AdamW([p], lr=0.1, betas=(0.9, 0.9), eps=1e-8, weight_decay=0.01)`
    /// with p = [1.0, -2.0] and grads [0.5, -1.0] then [0.1, 0.2].
    #[test]
    fn matches_pytorch() {
        let cfg = AdamWConfig { lr: 0.1, ..Default::default() };
        let mut p = vec![1.0f32, -2.0];
        let mut opt = AdamW::new(2);
        opt.step(&cfg, cfg.lr, &mut p, &[0.5, -1.0]);
        assert!((p[0] - 0.899).abs() < 1e-6 && (p[1] + 1.898).abs() < 1e-6, "{p:?}");
        opt.step(&cfg, cfg.lr, &mut p, &[0.1, 0.2]);
        // second step, computed by hand from PyTorch's formula
        let expect = |p0: f32, g1: f32, g2: f32| {
            let p1 = p0 * (1.0 - 0.1 * 0.01);
            let m = 0.9 * (0.1 * g1) + 0.1 * g2;
            let v = 0.9 * (0.1 * g1 * g1) + 0.1 * g2 * g2;
            let step = 0.1 / (1.0 - 0.81);
            let denom = v.sqrt() / (1.0f32 - 0.81).sqrt() + 1e-8;
            p1 - step * m / denom
        };
        assert!((p[0] - expect(0.899, 0.5, 0.1)).abs() < 1e-6, "{p:?}");
        assert!((p[1] - expect(-1.898, -1.0, 0.2)).abs() < 1e-6, "{p:?}");
    }
}
