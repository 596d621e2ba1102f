//! Every `stride`-th slice along one axis (tract's `Downsample`, what a strided 1x1 convolution
//! becomes: one per spatial axis before the product). tract copies it element by element through
//! a generic n-dimensional iterator: 6 % of mini-Xception's forward pass in wasm. This op copies
//! whole runs of the axes after it, or gathers with a fixed stride when it is the last axis.
//! [`rewrite`] swaps it in place ([`super::optimize`]), like the other rewrites there.

use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::Downsample;

/// tract's `Downsample` of a float32 tensor with a forward stride on concrete shapes, as whole-run
/// copies (made by [`FastDownsample::for_downsample`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastDownsample {
    /// The axes before the strided one (together), its length, the axes after it (together).
    outer: usize,
    len: usize,
    inner: usize,
    stride: usize,
    modulo: usize,
    out_shape: TVec<usize>,
}

impl FastDownsample {
    /// The op for `op` at `node`: f32, a forward stride, concrete shapes.
    pub fn for_downsample(
        model: &TypedModel,
        node: &TypedNode,
        op: &Downsample,
    ) -> TractResult<Option<Self>> {
        let xf = model.outlet_fact(node.inputs[0])?;
        let (Some(xs), Some(ys)) = (
            xf.shape.as_concrete(),
            node.outputs[0].fact.shape.as_concrete(),
        ) else {
            return Ok(None);
        };
        if xf.datum_type != f32::datum_type()
            || op.stride <= 0
            || op.axis >= xs.len()
            || ys.len() != xs.len()
            || op.modulo >= xs[op.axis].max(1)
        {
            return Ok(None);
        }
        let stride = op.stride as usize;
        let len = xs[op.axis];
        if ys[op.axis] != (len - op.modulo).div_ceil(stride) {
            return Ok(None);
        }
        Ok(Some(FastDownsample {
            outer: xs[..op.axis].iter().product(),
            len,
            inner: xs[op.axis + 1..].iter().product(),
            stride,
            modulo: op.modulo,
            out_shape: ys.into(),
        }))
    }
}

impl Op for FastDownsample {
    fn name(&self) -> StaticName {
        "FastDownsample".into()
    }

    op_as_typed_op!();
}

impl EvalOp for FastDownsample {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let (inner, len) = (self.inner, self.len);
        ensure!(
            x.len() == self.outer * len * inner,
            "FastDownsample: input size"
        );
        let kept = (len - self.modulo).div_ceil(self.stride);
        let mut y = Tensor::zero::<f32>(&self.out_shape)?;
        {
            let mut yv = y.try_as_plain_ram_mut()?;
            let ys = yv.as_slice_mut::<f32>()?;
            ensure!(
                ys.len() == self.outer * kept * inner,
                "FastDownsample: output size"
            );
            if inner == 0 || kept == 0 {
                return Ok(tvec!(y.into_tvalue()));
            }
            for (src, dst) in x
                .chunks_exact(len * inner)
                .zip(ys.chunks_exact_mut(kept * inner))
            {
                if inner == 1 {
                    for (d, s) in dst
                        .iter_mut()
                        .zip(src[self.modulo..].iter().step_by(self.stride))
                    {
                        *d = *s;
                    }
                } else {
                    for (i, d) in dst.chunks_exact_mut(inner).enumerate() {
                        let at = (self.modulo + i * self.stride) * inner;
                        d.copy_from_slice(&src[at..at + inner]);
                    }
                }
            }
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for FastDownsample {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.out_shape)))
    }

    as_op!();
}

/// Replaces every Downsample of `model` that [`FastDownsample::for_downsample`] takes, in place.
pub fn rewrite(model: &mut TypedModel) -> TractResult<()> {
    super::swap_ops::<Downsample>(model, |m, node, op| {
        Ok(FastDownsample::for_downsample(m, node, op)?.map(|op| Box::new(op) as _))
    })
}
