//! Conv and EinSum (Gemm, MatMul, 1x1 Conv): linear in the input, with a transposed plan per
//! operand that needs a gradient (`engine::linear::LinearPlan`). LRP's rules apply to them as layer units.

use super::{Ctx, Lrp, Node, OpRule, Reads, Rule};
use crate::array::Array;
use crate::engine::linear::LinearPlan;
use crate::error::Result;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::Conv;
use tract_onnx::tract_core::ops::einsum::EinSum;

/// A convolution or an einsum.
pub enum Layer {
    /// A convolution: gradient to its input (the weights are constants).
    Conv(LinearPlan),
    /// An einsum: one plan per operand that needs a gradient.
    EinSum(Vec<Option<LinearPlan>>),
}

/// Conv and EinSum nodes.
pub fn classify(n: &Node) -> Option<Result<Rule>> {
    let (model, node) = (n.model, n.node);
    if let Some(conv) = node.op.downcast_ref::<Conv>() {
        return Some(
            LinearPlan::conv(model, node, conv)
                .map(|p| Rule::Layer(Layer::Conv(p)))
                .map_err(|e| n.unsupported(&format!("Conv ({e})"))),
        );
    }
    let es = node.op.downcast_ref::<EinSum>()?;
    if es.q_params.is_some() {
        return Some(Err(n.unsupported("quantized EinSum")));
    }
    let plans = (0..node.inputs.len())
        .map(|i| {
            if n.depends[node.inputs[i].node] {
                LinearPlan::einsum(model, node, es, i).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect::<TractResult<Vec<_>>>()
        .map_err(|e| n.unsupported(&format!("EinSum ({e})")));
    Some(plans.map(|p| Rule::Layer(Layer::EinSum(p))))
}

impl OpRule for Layer {
    fn reads(&self, wants: &[bool]) -> Reads {
        let mut r = Reads::none(wants.len());
        if let Layer::EinSum(plans) = self {
            for p in plans.iter().flatten() {
                for &j in p.feeds() {
                    r.inputs[j] = true;
                }
            }
        }
        r
    }

    fn affine(&self, _: usize) -> bool {
        true
    }

    fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        let mut v = vec![None; c.shapes.len()];
        match self {
            Layer::Conv(plan) => v[0] = Some(plan.run(g, c.inputs)?),
            Layer::EinSum(plans) => {
                let last = plans.iter().rposition(|p| p.is_some());
                let mut g = Some(g);
                for (i, p) in plans.iter().enumerate() {
                    if let Some(p) = p {
                        let gi = if Some(i) == last {
                            g.take().expect("gradient")
                        } else {
                            g.clone().expect("gradient")
                        };
                        v[i] = Some(p.run(gi, c.inputs)?);
                    }
                }
            }
        }
        Ok(v)
    }

    fn lrp(&self, _: usize) -> Lrp {
        Lrp::Layer
    }
}
