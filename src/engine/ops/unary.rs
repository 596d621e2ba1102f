//! Element-wise functions of one operand (tract's `ElementWiseOp`): the gradient times the
//! derivative, computed from the input or, where cheaper, from the output.

use super::{Ctx, Lrp, Node, OpRule, Reads, Rule};
use crate::array::Array;
use crate::error::Result;
use crate::kernels::activations::Activation;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn as tnn;

/// The element-wise functions the engine differentiates.
#[derive(Debug, Clone, Copy)]
pub enum Unary {
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// tanh x.
    Tanh,
    /// x, or alpha x below 0.
    LeakyRelu(f32),
    /// x relu6(x + 3) / 6.
    HardSwish,
    /// x sigmoid(x).
    Silu,
    /// e^x.
    Exp,
    /// -x.
    Neg,
    /// x².
    Square,
    /// √x.
    Sqrt,
    /// 1 / x.
    Recip,
    /// |x|.
    Abs,
    /// `1 / sqrt(x)` (LayerNorm's decomposition).
    Rsqrt,
    /// ln x.
    Ln,
    /// erf x.
    Erf,
    /// `x^e` for a constant e (tract's `PowConst`).
    Pow(f32),
    /// tract's tanh-approximated GELU (ONNX Gelu with `approximate = "tanh"`, or the pattern).
    GeluTanh,
    /// tract's exact GELU, x Φ(x) (ONNX Gelu, or the Erf pattern legacy exports write).
    GeluErf,
    /// The activations kept as one op ([`crate::kernels::activations`]).
    Act(Activation),
}

/// `ElementWiseOp` nodes; an element-wise function not listed here is unsupported.
pub fn classify(n: &Node) -> Option<Result<Rule>> {
    let m = &n.node.op.downcast_ref::<ElementWiseOp>()?.0;
    let u = if m.is::<tnn::Sigmoid>() {
        Unary::Sigmoid
    } else if m.is::<math::Tanh>() {
        Unary::Tanh
    } else if let Some(l) = m.downcast_ref::<tnn::LeakyRelu>() {
        Unary::LeakyRelu(l.alpha)
    } else if m.is::<tnn::HardSwish>() {
        Unary::HardSwish
    } else if m.is::<tnn::Silu>() {
        Unary::Silu
    } else if m.is::<math::Exp>() {
        Unary::Exp
    } else if m.is::<math::Neg>() {
        Unary::Neg
    } else if m.is::<math::Square>() {
        Unary::Square
    } else if m.is::<math::Sqrt>() {
        Unary::Sqrt
    } else if m.is::<math::Recip>() {
        Unary::Recip
    } else if m.is::<math::Abs>() {
        Unary::Abs
    } else if m.is::<math::Rsqrt>() {
        Unary::Rsqrt
    } else if m.is::<math::Ln>() {
        Unary::Ln
    } else if m.is::<math::Erf>() {
        Unary::Erf
    } else if let Some(p) = m.downcast_ref::<math::PowConst>() {
        Unary::Pow(p.exponent)
    } else if let Some(g) = m.downcast_ref::<tnn::GeluApproximate>() {
        if g.fast_impl {
            return Some(Err(n.unsupported("GeluApproximate (fast)")));
        }
        Unary::GeluTanh
    } else if m.is::<tnn::gelu_exact::GeluExact>() {
        Unary::GeluErf
    } else if let Some(a) = m.downcast_ref::<Activation>() {
        Unary::Act(*a)
    } else {
        return Some(Err(n.unsupported(&m.name())));
    };
    Some(Ok(Rule::Unary(u)))
}

impl OpRule for Unary {
    fn reads(&self, wants: &[bool]) -> Reads {
        let mut r = Reads::none(wants.len());
        match self {
            Unary::Sigmoid
            | Unary::Tanh
            | Unary::Exp
            | Unary::Sqrt
            | Unary::Recip
            | Unary::Rsqrt => r.output = true,
            Unary::Neg => {}
            _ => r.inputs[0] = true,
        }
        r
    }

    fn affine(&self, _: usize) -> bool {
        matches!(self, Unary::Neg)
    }

    fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        let d = match self {
            Unary::Sigmoid => c.output()?.mapv(|y| y * (1.0 - y)),
            Unary::Tanh => c.output()?.mapv(|y| 1.0 - y * y),
            Unary::LeakyRelu(a) => c.input(0)?.mapv(|x| if x > 0.0 { 1.0 } else { *a }),
            // As torch: 0 below -3, x/3 + 1/2 up to 3 (inclusive), 1 above.
            Unary::HardSwish => c.input(0)?.mapv(|x| {
                if x < -3.0 {
                    0.0
                } else if x <= 3.0 {
                    x / 3.0 + 0.5
                } else {
                    1.0
                }
            }),
            Unary::Silu => c.input(0)?.mapv(|x| {
                let s = 1.0 / (1.0 + libm::expf(-x));
                s * (1.0 + x * (1.0 - s))
            }),
            Unary::Exp => c.output()?.to_owned(),
            Unary::Neg => return Ok(vec![Some(-g)]),
            Unary::Square => c.input(0)?.mapv(|x| 2.0 * x),
            Unary::Sqrt => c.output()?.mapv(|y| 0.5 / y),
            Unary::Recip => c.output()?.mapv(|y| -y * y),
            Unary::Rsqrt => c.output()?.mapv(|y| -0.5 * y * y * y),
            Unary::Ln => c.input(0)?.mapv(|x| 1.0 / x),
            Unary::Erf => c
                .input(0)?
                .mapv(|x| std::f32::consts::FRAC_2_SQRT_PI * libm::expf(-x * x)),
            Unary::Pow(e) => c.input(0)?.mapv(|x| *e * libm::powf(x, *e - 1.0)),
            Unary::GeluTanh => c.input(0)?.mapv(|x| {
                const K: f32 = 0.797_884_6; // sqrt(2 / pi)
                let t = libm::tanhf(K * (x + 0.044715 * x * x * x));
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * K * (1.0 + 3.0 * 0.044715 * x * x)
            }),
            Unary::GeluErf => c.input(0)?.mapv(|x| {
                let cdf = 0.5 * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2));
                cdf + x * libm::expf(-0.5 * x * x) * 0.398_942_3 // 1 / sqrt(2 pi)
            }),
            Unary::Act(a) => c.input(0)?.mapv(|x| a.derivative(x)),
            Unary::Abs => c.input(0)?.mapv(|x| {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }),
        };
        Ok(vec![Some(g * d)])
    }

    fn elementwise(&self) -> bool {
        true
    }

    fn lrp(&self, _: usize) -> Lrp {
        Lrp::Unchanged
    }
}
