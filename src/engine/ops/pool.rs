//! MaxPool, AveragePool (tract's `SumPool`) and sums over axes (`Reduce<Sum>`: global average
//! pools, with the Mul by 1/HW after them). The windows' arithmetic is `engine::window::Window`'s.

use super::{Ctx, Lrp, Node, OpRule, Reads, Rule};
use crate::array::{spread, Array};
use crate::engine::window::Window;
use crate::error::Result;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{MaxPool, SumPool};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

/// The pooling operators.
pub enum Pool {
    /// To each window's arg-max.
    Max(Window),
    /// Spread over the window, divided as the forward pass did.
    Sum {
        /// The window.
        window: Window,
        /// Whether padding counts in the average's divisor.
        count_include_pad: bool,
        /// Whether the forward pass divides (an average) or not (a sum).
        normalize: bool,
    },
    /// Broadcast back over the summed axes.
    ReduceSum,
}

/// MaxPool, SumPool and Reduce nodes (only sums are supported among reductions).
pub fn classify(n: &Node) -> Option<Result<Rule>> {
    let op = &n.node.op;
    let window = |spec| -> Result<Window> {
        Window::new(spec, &n.in_shape(0)?, n.out_shape()).map_err(|e| {
            let what = if op.is::<MaxPool>() {
                "MaxPool"
            } else {
                "AveragePool"
            };
            n.unsupported(&format!("{what} ({e})"))
        })
    };
    if let Some(mp) = op.downcast_ref::<MaxPool>() {
        return Some(window(&mp.pool_spec).map(|w| Rule::Pool(Pool::Max(w))));
    }
    if let Some(sp) = op.downcast_ref::<SumPool>() {
        return Some(window(&sp.pool_spec).map(|w| {
            Rule::Pool(Pool::Sum {
                window: w,
                count_include_pad: sp.count_include_pad,
                normalize: sp.normalize,
            })
        }));
    }
    let r = op.downcast_ref::<Reduce>()?;
    Some(match r.reducer {
        Reducer::Sum => Ok(Rule::Pool(Pool::ReduceSum)),
        other => Err(n.unsupported(&format!("Reduce<{other:?}>"))),
    })
}

impl OpRule for Pool {
    fn reads(&self, wants: &[bool]) -> Reads {
        let mut r = Reads::none(wants.len());
        if let Pool::Max(_) = self {
            r.inputs[0] = true;
        }
        r
    }

    fn affine(&self, _: usize) -> bool {
        !matches!(self, Pool::Max(_))
    }

    fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        Ok(vec![Some(match self {
            Pool::Max(w) => w.max_backward(c.input(0)?, &g),
            Pool::Sum {
                window,
                count_include_pad,
                normalize,
            } => window.sum_backward(&g, *count_include_pad, *normalize),
            Pool::ReduceSum => spread(&g, &c.shapes[0])?,
        })])
    }

    fn lrp(&self, _: usize) -> Lrp {
        match self {
            Pool::Max(_) => Lrp::GradientKeepingAll,
            Pool::Sum { .. } => Lrp::Pool,
            Pool::ReduceSum => Lrp::Reduce,
        }
    }
}

/// The constant a sum over axes (node `n`) is multiplied by right after it: 1/HW when it is
/// the first half of a global average pool, else 1 (LRP normalises by the mean).
pub fn scale_after(typed: &TypedModel, n: usize) -> f32 {
    let succ = typed.outlet_successors(OutletId::new(n, 0));
    let [s] = succ else { return 1.0 };
    let next = &typed.nodes()[s.node];
    if !next
        .op_as::<TypedBinOp>()
        .is_some_and(|b| b.0.is::<math::Mul>())
    {
        return 1.0;
    }
    next.inputs
        .get(1 - s.slot)
        .and_then(|&i| typed.outlet_fact(i).ok())
        .and_then(|f| f.konst.clone())
        .and_then(|k| {
            let v = k.to_plain_array_view::<f32>().ok()?;
            (v.len() == 1).then(|| v.iter().next().copied().unwrap_or(1.0))
        })
        .unwrap_or(1.0)
}
