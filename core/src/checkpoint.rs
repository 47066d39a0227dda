//! Activation checkpointing per decoder layer (Chen et al., "Training Deep Nets with Sublinear Memory
//! Cost", 2016; what transformers' `gradient_checkpointing_enable()` does through
//! `torch.utils.checkpoint`).
//!
//! A plain backward pass keeps every intermediate of every layer (attention scores, MLP activations)
//! until the gradient reaches it: at 1568 tokens on an 8B model that is most of the step's memory
//! (`cram plan` shows both). With checkpointing, the forward pass runs without autodiff and keeps
//! only each layer's input, `[batch, seq, d]` per layer in the model's dtype. The backward pass then
//! goes from the last layer to the first: it recomputes one layer with autodiff from its kept input
//! and pushes the incoming gradient through it. The gradients equal the plain ones (up to float
//! rounding; a test checks it); the price is one more forward pass per step.
//!
//! Only the inputs of the model can be trained this way (memory vectors and what makes them: the
//! dense and low-rank methods, progressive cramming). Adapters inside the layers (the LoRA method)
//! would need their gradients gathered from every layer's recomputation; that method is refused.

use burn::tensor::{Gradients, Tensor};

use crate::models::Model;

/// Runs `head` on the final hidden states of `inputs_embeds` and backpropagates the loss it returns
/// (with the extra value it returns, such as the tensors a caller reads back). Without `checkpoint`,
/// one ordinary backward pass; with it, the per-layer recomputation described in the module docs.
/// The gradients of the tensors that `inputs_embeds` was made from are in one of the returned
/// [`Gradients`]: look a leaf up in each (with LoRA only the first exists).
///
/// # Shapes
/// inputs_embeds `[batch, seq, d]` (f32, with autodiff); `head` takes `[batch, seq, d]` in the
/// model's dtype.
pub fn backward<T>(model: &Model, inputs_embeds: Tensor<3>, checkpoint: bool, head: impl FnOnce(Tensor<3>) -> (Tensor<1>, T)) -> (Vec<Gradients>, T) {
    if !checkpoint {
        let (loss, out) = head(model.hidden_states(inputs_embeds));
        return (vec![loss.backward()], out);
    }
    let layers = model.config().num_layers();
    let x0 = inputs_embeds.cast(model.dtype());
    // Forward without autodiff, keeping each layer's input.
    let mut kept = Vec::with_capacity(layers);
    let mut x = x0.clone().without_autodiff();
    for i in 0..layers {
        kept.push(x.clone());
        x = model.decoder_layer(i, x);
    }
    // The head from the last layer's output, with autodiff.
    let last = x.autodiff().require_grad();
    let (loss, out) = head(model.final_norm(last.clone()));
    let head_grads = loss.backward();
    let mut grad = last.grad(&head_grads).expect("the head depends on the last layer's output");
    // Each layer again, last to first: the gradient w.r.t. its input is that of <layer(x), grad>.
    for i in (0..layers).rev() {
        let input = kept.pop().expect("one kept input per layer").autodiff().require_grad();
        let y = model.decoder_layer(i, input.clone());
        let grads = (y * grad).sum().backward();
        grad = input.grad(&grads).expect("a layer's output depends on its input");
    }
    // Finally through what made the inputs (the memory vectors, a dense layer...).
    (vec![head_grads, (x0 * grad).sum().backward()], out)
}
