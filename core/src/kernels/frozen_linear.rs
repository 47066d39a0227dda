//! A frozen linear layer on the CPU as one autodiff operation of burn's `flex` backend.
//!
//! Cramming never changes a weight and never asks for a weight's gradient: the forward product
//! `y = x W + b` and the backward one `dx = dy Wᵀ` are all a linear layer does. Both matrices are
//! packed once, when the model loads ([`PackedMatrix`]), instead of on every call as a general
//! matrix product must; the backward pass keeps nothing of the forward one (not even `x`). `Wᵀ` is
//! packed at the first backward pass, so decoding alone holds the weight once.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, DispatchDevice, Flex};
use burn::tensor::{DType, Device, FloatDType, Tensor, TensorData};

use super::packed::{Isa, PackedMatrix};

/// The kernels' instruction set for weights stored in `dtype` on `device`: on the CPU, in f32 where
/// the processor has AVX-512 or AVX2 with FMA, in bf16 where it has AVX-512 BF16, unless
/// `CRAM_CPU_KERNELS` says `off` (`avx2` picks the AVX2 kernel on an AVX-512 machine). Elsewhere
/// (a GPU, f16, wasm32, another architecture) burn's own matrix product runs.
pub fn kernel_for(device: &Device, dtype: FloatDType) -> Option<Isa> {
    let on_cpu = matches!(device.clone().without_autodiff().as_dispatch(), DispatchDevice::Flex(_));
    if !on_cpu {
        return None;
    }
    let choice = std::env::var("CRAM_CPU_KERNELS");
    match (dtype, choice.as_deref()) {
        (_, Ok("off")) => None,
        (FloatDType::F32, Ok("avx2")) => Some(Isa::Avx2).filter(|isa| isa.supported()),
        (FloatDType::F32, _) => Isa::detect(),
        (FloatDType::BF16, _) => Isa::detect_bf16(),
        _ => None,
    }
}

/// `y = x W + b` with `W` (`[in, out]`) and `Wᵀ` packed for the CPU kernels.
pub struct FrozenLinear {
    /// `W`, `[in, out]`: the forward product.
    forward: PackedMatrix,
    /// `Wᵀ`, `[out, in]`: the input's gradient, packed when first needed.
    backward: OnceLock<PackedMatrix>,
    bias: Option<Vec<f32>>,
}

impl std::fmt::Debug for FrozenLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrozenLinear {{ [{}, {}], bias: {} }}", self.in_features(), self.out_features(), self.bias.is_some())
    }
}

impl FrozenLinear {
    /// Packs `weight` (`[in, out]`, row-major) for `isa`; with bf16 weights the bias is stored in
    /// bf16 too (added to the f32 accumulators before the one rounding of the output).
    pub fn new(isa: Isa, weight: &[f32], in_features: usize, out_features: usize, bias: Option<Vec<f32>>) -> Self {
        assert_eq!(weight.len(), in_features * out_features, "weight is not [in, out]");
        let forward = PackedMatrix::pack(isa, in_features, out_features, |i, j| weight[i * out_features + j]);
        let bias = bias.map(|b| if isa == Isa::Avx512Bf16 { b.into_iter().map(|v| half::bf16::from_f32(v).to_f32()).collect() } else { b });
        Self { forward, backward: OnceLock::new(), bias }
    }

    /// `Wᵀ`, packed from `W`'s panels the first time a gradient flows back.
    fn transposed(&self) -> &PackedMatrix {
        self.backward.get_or_init(|| {
            let w = &self.forward;
            PackedMatrix::pack(w.isa(), w.n(), w.k(), |i, j| w.at(j, i))
        })
    }

    /// Inputs per row.
    pub fn in_features(&self) -> usize {
        self.forward.k()
    }

    /// Outputs per row.
    pub fn out_features(&self) -> usize {
        self.forward.n()
    }

    /// `x W + b`, differentiable in `x`.
    ///
    /// # Shapes
    /// `[batch, seq, in]` → `[batch, seq, out]`
    pub fn forward(self: &Arc<Self>, x: Tensor<3>) -> Tensor<3> {
        // One conversion, chosen by the device: a failed one formats its error, and decoding calls
        // this a few hundred times per token.
        let tracked = matches!(x.device().as_dispatch(), DispatchDevice::Autodiff(_));
        if tracked && let Ok(tracked) = x.clone().try_into_primitive::<Autodiff<Flex>>() {
            let (x, node) = tracked.into_parts();
            let y = self.product(&self.forward, &x, self.bias.as_deref());
            let y = FrozenLinearBackward(self.clone())
                .prepare::<burn::backend::autodiff::checkpoint::strategy::NoCheckpointing>([node])
                .compute_bound()
                .stateless(y);
            return Tensor::from_primitive::<Autodiff<Flex>>(y);
        }
        match (!tracked).then(|| x.clone().try_into_primitive::<Flex>()) {
            Some(Ok(x)) => Tensor::from_primitive::<Flex>(self.product(&self.forward, &x, self.bias.as_deref())),
            // Not a plain or autodiff tensor of the CPU backend (another checkpointing strategy):
            // burn's product with the weight read back from the panels.
            _ => {
                let (i, o) = (self.in_features(), self.out_features());
                let w: Vec<f32> = (0..i * o).map(|at| self.forward.at(at / o, at % o)).collect();
                let device = x.device();
                let w = Tensor::<2>::from_data(TensorData::new(w, [i, o]), &device).cast(x.dtype());
                let b = self.bias.as_ref().map(|b| Tensor::<1>::from_data(TensorData::new(b.clone(), [o]), &device).cast(x.dtype()));
                burn::tensor::module::linear(x, w, b)
            }
        }
    }

    /// `x · matrix (+ bias)` over the last dimension of `x`, as a tensor of the CPU backend in the
    /// dtype of `x` (f32, or bf16 with bf16 weights: the product accumulates in f32 either way).
    fn product(&self, matrix: &PackedMatrix, x: &FlexTensor, bias: Option<&[f32]>) -> FlexTensor {
        let x = x.to_contiguous();
        let mut shape = x.layout().shape().to_vec();
        let k = *shape.last().expect("a linear layer's input has a last dimension");
        assert_eq!(k, matrix.k(), "a linear layer's input does not have its in_features");
        let bf16 = x.dtype() == DType::BF16;
        let values: Cow<'_, [f32]> = match x.as_slice::<f32>() {
            Some(values) => Cow::Borrowed(values),
            None => Cow::Owned(x.as_slice::<half::bf16>().expect("a contiguous f32 or bf16 tensor").iter().map(|v| v.to_f32()).collect()),
        };
        let y = matrix.matmul(&values, values.len() / k.max(1), bias);
        *shape.last_mut().expect("checked above") = matrix.n();
        let y = if bf16 { TensorData::new(y.into_iter().map(half::bf16::from_f32).collect::<Vec<_>>(), shape) } else { TensorData::new(y, shape) };
        FlexTensor::from_data(y)
    }
}

/// The backward pass of [`FrozenLinear::forward`]: `dx = dy Wᵀ`.
#[derive(Debug)]
struct FrozenLinearBackward(Arc<FrozenLinear>);

impl Backward<Flex, 1> for FrozenLinearBackward {
    type State = ();

    fn backward(self, ops: Ops<(), 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let layer = self.0;
        unary::<Flex, _>(ops.parents, ops.node, grads, |dy| layer.product(layer.transposed(), &dy, None));
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| (((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0) - 1.0).collect()
    }

    fn max_diff(a: Tensor<3>, b: Tensor<3>) -> f32 {
        let (a, b) = (a.into_data().try_to_vec::<f32>().unwrap(), b.into_data().try_to_vec::<f32>().unwrap());
        assert_eq!(a.len(), b.len());
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    /// The packed layer's output and its gradient in `x` are burn's `linear` and its gradient,
    /// with autodiff and without, on each kernel this CPU runs.
    #[test]
    fn the_frozen_layer_is_burns_linear_forward_and_backward() {
        let device = Device::flex();
        let (i, o, seq) = (70, 45, 13);
        let (w, b, x, dy) = (values(i * o, 1), values(o, 2), values(2 * seq * i, 3), values(2 * seq * o, 4));
        for isa in [Isa::Avx512, Isa::Avx2].into_iter().filter(|isa| isa.supported()) {
            let layer = Arc::new(FrozenLinear::new(isa, &w, i, o, Some(b.clone())));
            let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [i, o]), &device);
            let bt = Tensor::<1>::from_data(TensorData::new(b.clone(), [o]), &device);
            let xt = Tensor::<3>::from_data(TensorData::new(x.clone(), [2, seq, i]), &device);
            let upstream = Tensor::<3>::from_data(TensorData::new(dy.clone(), [2, seq, o]), &device.clone().autodiff());

            // without autodiff (decoding)
            let want = burn::tensor::module::linear(xt.clone(), wt.clone(), Some(bt.clone()));
            assert!(max_diff(layer.forward(xt.clone()), want.clone()) < 1e-5, "{isa:?} forward");

            // with autodiff: the same output, and the same gradient of sum(y * dy) in x
            let grad_of = |y_of: &dyn Fn(Tensor<3>) -> Tensor<3>| {
                let x = xt.clone().autodiff().require_grad();
                let y = y_of(x.clone());
                let grads = (y.clone() * upstream.clone()).sum().backward();
                (y.without_autodiff(), x.grad(&grads).expect("x has a gradient"))
            };
            let (y_packed, dx_packed) = grad_of(&|x| layer.forward(x));
            let (y_burn, dx_burn) = grad_of(&|x| burn::tensor::module::linear(x, wt.clone().autodiff(), Some(bt.clone().autodiff())));
            assert!(max_diff(y_packed, y_burn) < 1e-5, "{isa:?} autodiff forward");
            assert!(max_diff(dx_packed, dx_burn) < 1e-5, "{isa:?} gradient");
        }
    }

    /// f32 weights on the CPU are packed where it has AVX-512 or AVX2, bf16 ones where it has
    /// AVX-512 BF16, f16 ones never.
    #[test]
    fn which_weights_are_packed() {
        assert_eq!(kernel_for(&Device::flex(), FloatDType::F16), None);
        if std::env::var("CRAM_CPU_KERNELS").is_err() {
            assert_eq!(kernel_for(&Device::flex(), FloatDType::F32), Isa::detect());
            assert_eq!(kernel_for(&Device::flex().autodiff(), FloatDType::F32), Isa::detect());
            assert_eq!(kernel_for(&Device::flex(), FloatDType::BF16), Isa::detect_bf16());
        }
    }

    /// In bf16 the packed layer (bf16 weights, f32 accumulation) stays within bf16's rounding of
    /// burn's bf16 `linear`, forward and backward, and returns bf16.
    #[test]
    fn the_bf16_layer_is_burns_bf16_linear_within_rounding() {
        let Some(isa) = Isa::detect_bf16() else { return };
        let device = Device::flex();
        let (i, o, seq) = (64, 40, 9);
        let (w, x, dy) = (values(i * o, 5), values(seq * i, 6), values(seq * o, 7));
        let layer = Arc::new(FrozenLinear::new(isa, &w, i, o, None));
        let bf = |v: &[f32], shape: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v.to_vec(), shape), &device).cast(FloatDType::BF16);
        let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [i, o]), &device).cast(FloatDType::BF16);
        let grad_of = |y_of: &dyn Fn(Tensor<3>) -> Tensor<3>| {
            let x = bf(&x, [1, seq, i]).autodiff().require_grad();
            let y = y_of(x.clone());
            assert_eq!(y.dtype(), DType::BF16);
            let grads = (y.clone().cast(FloatDType::F32) * bf(&dy, [1, seq, o]).cast(FloatDType::F32).autodiff()).sum().backward();
            (y.without_autodiff().cast(FloatDType::F32), x.grad(&grads).expect("x has a gradient").cast(FloatDType::F32))
        };
        let (y_packed, dx_packed) = grad_of(&|x| layer.forward(x));
        let (y_burn, dx_burn) = grad_of(&|x| burn::tensor::module::linear(x, wt.clone().autodiff(), None));
        // outputs of size ~ sqrt(64) · 0.6: bf16 keeps 8 bits, so a few 1e-2 apart at most
        assert!(max_diff(y_packed, y_burn) < 0.1, "bf16 forward");
        assert!(max_diff(dx_packed, dx_burn) < 0.1, "bf16 gradient");
    }
}
