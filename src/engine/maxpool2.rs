//! MaxPool with 2x2 windows and stride 2, unpadded (the pool of most small CNNs): tract runs it
//! one output at a time with bounds checks on every tap (its vector path is for stride 1);
//! this op takes the maximum of two row pairs at a time. [`rewrite`] swaps it in for tract's
//! MaxPool in place ([`super::optimize`]), like [`super::winograd::rewrite`]; the engine's backward rule still reads
//! tract's op in the decluttered graph.

use super::max;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::MaxPool;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxPool2 {
    /// Input height and width; output height and width (rounded down).
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl MaxPool2 {
    /// The fast form of `pool` at `node`: float, channels first, 2x2 windows, stride 2, no
    /// dilation, no padding, no index output, concrete shapes.
    pub fn for_pool(
        model: &TypedModel,
        node: &TypedNode,
        pool: &MaxPool,
    ) -> TractResult<Option<Self>> {
        let spec = &pool.pool_spec;
        let xf = model.outlet_fact(node.inputs[0])?;
        let (Some(xs), Some(ys)) = (
            xf.shape.as_concrete(),
            node.outputs[0].fact.shape.as_concrete(),
        ) else {
            return Ok(None);
        };
        if pool.with_index_outputs.is_some()
            || node.outputs.len() != 1
            || xf.datum_type != f32::datum_type()
            || spec.data_format.c_is_last()
            || spec.kernel_shape.as_slice() != [2, 2]
            || spec.strides().as_ref() != [2, 2]
            || spec.dilations().iter().any(|&d| d != 1)
            || xs.len() < 3
            || ys.len() != xs.len()
        {
            return Ok(None);
        }
        let (h, w) = (xs[xs.len() - 2], xs[xs.len() - 1]);
        let (oh, ow) = (ys[ys.len() - 2], ys[ys.len() - 1]);
        let pads = spec.computed_padding(&[h, w]);
        if pads.iter().any(|p| p.pad_before != 0 || p.pad_after != 0)
            || oh != h / 2
            || ow != w / 2
            || oh == 0
            || ow == 0
            || xs[..xs.len() - 2] != ys[..ys.len() - 2]
        {
            return Ok(None);
        }
        Ok(Some(MaxPool2 { h, w, oh, ow }))
    }
}

impl Op for MaxPool2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let (h, w, oh, ow) = (self.h, self.w, self.oh, self.ow);
        ensure!(
            h * w > 0 && x.len() % (h * w) == 0,
            "MaxPool2x2: input size"
        );
        let planes = x.len() / (h * w);
        let mut shape: TVec<usize> = inputs[0].shape().into();
        let rank = shape.len();
        shape[rank - 2] = oh;
        shape[rank - 1] = ow;
        let mut y = Tensor::zero::<f32>(&shape)?;
        {
            let mut yv = y.try_as_plain_ram_mut()?;
            let ys = yv.as_slice_mut::<f32>()?;
            for p in 0..planes {
                let plane = &x[p * h * w..][..h * w];
                let out = &mut ys[p * oh * ow..][..oh * ow];
                for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
                    let r0 = &plane[2 * oy * w..][..2 * ow];
                    let r1 = &plane[(2 * oy + 1) * w..][..2 * ow];
                    for ((o, a), b) in row
                        .iter_mut()
                        .zip(r0.chunks_exact(2))
                        .zip(r1.chunks_exact(2))
                    {
                        *o = max(max(a[0], a[1]), max(b[0], b[1]));
                    }
                }
            }
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for MaxPool2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        let rank = shape.len();
        shape[rank - 2] = self.oh.to_dim();
        shape[rank - 1] = self.ow.to_dim();
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

/// Replaces every MaxPool of `model` that [`MaxPool2::for_pool`] takes, in place.
pub fn rewrite(model: &mut TypedModel) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        let node = &model.nodes()[id];
        let Some(pool) = node.op_as::<MaxPool>() else {
            continue;
        };
        if let Some(op) = MaxPool2::for_pool(model, node, pool)? {
            model.node_mut(id).op = Box::new(op);
        }
    }
    Ok(())
}
