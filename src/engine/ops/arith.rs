//! Add, Sub, Mul, Div: biases, residual sums, BatchNorm's scale, 1/HW of a global pool,
//! squeeze-excite gates. Their gradients are summed over the axes an operand was broadcast on.

use super::{Ctx, Lrp, Node, OpRule, Reads, Rule};
use crate::array::{unbroadcast, Array};
use crate::error::Result;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::math;

/// The four arithmetic operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    /// a + b.
    Add,
    /// a - b.
    Sub,
    /// a b.
    Mul,
    /// a / b.
    Div,
}

/// Binary ops other than Max and Min (which [`super::select`] takes); any other binary op is
/// unsupported.
pub fn classify(n: &Node) -> Option<Result<Rule>> {
    let m = &n.node.op.downcast_ref::<TypedBinOp>()?.0;
    Some(Ok(Rule::Arith(if m.is::<math::Add>() {
        Arith::Add
    } else if m.is::<math::Sub>() {
        Arith::Sub
    } else if m.is::<math::Mul>() {
        Arith::Mul
    } else if m.is::<math::Div>() {
        Arith::Div
    } else if m.is::<math::Max>() || m.is::<math::Min>() {
        return None;
    } else {
        return Some(Err(n.unsupported(&format!("binary {}", m.name()))));
    })))
}

impl OpRule for Arith {
    fn reads(&self, wants: &[bool]) -> Reads {
        let mut r = Reads::none(wants.len());
        match self {
            Arith::Mul => {
                for i in 0..2 {
                    r.inputs[1 - i] |= wants[i];
                }
            }
            Arith::Div => {
                r.inputs[1] = true;
                r.output = wants[1];
            }
            Arith::Add | Arith::Sub => {}
        }
        r
    }

    fn affine(&self, wanted: usize) -> bool {
        *self != Arith::Div || wanted == 0
    }

    fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        let want = |i: usize| c.wants[i];
        // The gradient of each wanted operand.
        let binary = |f: &dyn Fn(usize) -> TractResult<Array>| -> TractResult<Vec<Option<Array>>> {
            (0..2)
                .map(|i| {
                    if want(i) {
                        Ok(Some(unbroadcast(f(i)?, &c.shapes[i])))
                    } else {
                        Ok(None)
                    }
                })
                .collect()
        };
        match self {
            Arith::Add => {
                if want(0) && want(1) {
                    binary(&|_| Ok(g.clone()))
                } else {
                    let i = if want(0) { 0 } else { 1 };
                    let mut v = vec![None; 2];
                    v[i] = Some(unbroadcast(g, &c.shapes[i]));
                    Ok(v)
                }
            }
            Arith::Sub => binary(&|i| Ok(if i == 0 { g.clone() } else { -&g })),
            Arith::Mul => binary(&|i| Ok(&g * c.input(1 - i)?)),
            Arith::Div => binary(&|i| {
                Ok(if i == 0 {
                    &g / c.input(1)?
                } else {
                    -(&g * c.output()?) / c.input(1)?
                })
            }),
        }
    }

    fn elementwise(&self) -> bool {
        true
    }

    fn lrp(&self, vars: usize) -> Lrp {
        match (self, vars) {
            (_, 1) => Lrp::Unchanged,
            (Arith::Add, _) => Lrp::Sum { sub: false },
            (Arith::Sub, _) => Lrp::Sum { sub: true },
            (Arith::Mul, _) => Lrp::Product,
            (Arith::Div, _) => Lrp::GradientKeepingAll,
        }
    }
}
