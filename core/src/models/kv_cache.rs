//! What a model keeps of the positions it has seen, layer by layer, so that greedy decoding feeds one
//! new token per step instead of the whole sequence again (O(N) forwards of one token rather than
//! O(N²) token-forwards for N tokens): an attention layer's keys and values (growing with the text),
//! or a state-space layer's recurrent state (Mamba: the convolution's window and the SSM state, the
//! same size whatever the length, so each new token costs the same).

use burn::tensor::Tensor;

/// What one layer keeps: the keys and values of an attention layer, after RoPE and before
/// grouped-query repetition, or the recurrent state of a state-space layer.
#[derive(Debug, Clone, Default)]
pub struct LayerKv {
    kv: Option<(Tensor<4>, Tensor<4>)>,
    recurrent: Option<RecurrentState>,
}

/// A Mamba layer's state after the positions seen.
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// The convolution's inputs at the last `conv_kernel - 1` positions, `[batch, conv_kernel - 1, inner]`.
    pub conv: Tensor<3>,
    /// The SSM state h, `[batch, inner, state_size]`.
    pub ssm: Tensor<3>,
}

impl LayerKv {
    /// Appends this step's keys and values and returns all of them.
    ///
    /// # Shapes
    /// k, v `[batch, kv_heads, new, head_dim]` → `[batch, kv_heads, seen + new, head_dim]` each
    pub fn append(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let (k, v) = match self.kv.take() {
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
            None => (k, v),
        };
        self.kv = Some((k.clone(), v.clone()));
        (k, v)
    }

    /// The recurrent state, if positions were seen.
    pub fn recurrent(&self) -> Option<&RecurrentState> {
        self.recurrent.as_ref()
    }

    /// Replaces the recurrent state with the one after this step.
    pub fn set_recurrent(&mut self, state: RecurrentState) {
        self.recurrent = Some(state);
    }
}

/// Every layer's keys and values, and how many positions they hold.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model of `layers` layers.
    pub fn new(layers: usize) -> Self {
        Self { layers: vec![LayerKv::default(); layers], len: 0 }
    }

    /// Positions seen so far: the position of the next input.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been seen yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cache of layer `i`.
    pub(crate) fn layer(&mut self, i: usize) -> &mut LayerKv {
        &mut self.layers[i]
    }

    /// Records that `n` more positions were seen.
    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }
}
