//! Normalisations: tract's RmsNorm (LayerNormalization's second half) and Softmax /
//! LogSoftmax. Their gradients are Jacobian-vector products along the normalised axes.

use super::{Ctx, Lrp, Node, OpRule, Reads, Rule};
use crate::array::Array;
use crate::error::Result;
use tract_onnx::prelude::tract_ndarray::Axis;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::{self as tnn, Softmax, SoftmaxKind};

/// The normalising operators.
pub enum Norm {
    /// x / sqrt(mean(x², axis) + eps): tract's fusion of LayerNormalization's second half.
    RmsNorm {
        /// The normalised axis.
        axis: usize,
        /// The stabiliser under the square root.
        eps: f32,
    },
    /// Softmax (or LogSoftmax, `log`) over `axes`.
    Softmax {
        /// The normalised axes.
        axes: Vec<usize>,
        /// Whether it is LogSoftmax.
        log: bool,
    },
}

/// RmsNorm and Softmax nodes.
pub fn classify(n: &Node) -> Option<Result<Rule>> {
    let op = &n.node.op;
    if let Some(r) = op.downcast_ref::<tnn::rms_norm::RmsNorm>() {
        return Some(
            r.eps
                .cast_to_scalar::<f32>()
                .map_err(|_| n.unsupported("RmsNorm with a non-scalar epsilon"))
                .map(|eps| Rule::Norm(Norm::RmsNorm { axis: r.axis, eps })),
        );
    }
    let s = op.downcast_ref::<Softmax>()?;
    Some(Ok(Rule::Norm(Norm::Softmax {
        axes: s.axes.to_vec(),
        log: matches!(s.kind, SoftmaxKind::LogSoftmax),
    })))
}

impl OpRule for Norm {
    fn reads(&self, wants: &[bool]) -> Reads {
        let mut r = Reads::none(wants.len());
        match self {
            Norm::RmsNorm { .. } => r.inputs[0] = true,
            Norm::Softmax { .. } => r.output = true,
        }
        r
    }

    fn affine(&self, _: usize) -> bool {
        false
    }

    fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        Ok(vec![Some(match self {
            Norm::RmsNorm { axis, eps } => {
                // y = x r, r = 1 / sqrt(mean(x²) + eps): dx = r (g - y mean(g y)).
                let x = c.input(0)?;
                let n = x.shape()[*axis] as f32;
                let r = x
                    .mapv(|v| v * v)
                    .sum_axis(Axis(*axis))
                    .insert_axis(Axis(*axis))
                    .mapv(|s| 1.0 / (s / n + eps).sqrt());
                let y = x * &r;
                let gy = (&g * &y).sum_axis(Axis(*axis)).insert_axis(Axis(*axis)) / n;
                (&g - &(&y * &gy)) * &r
            }
            Norm::Softmax { axes, log } => {
                let y = c.output()?;
                let sum_axes = |mut a: Array| {
                    for &ax in axes {
                        a = a.sum_axis(Axis(ax)).insert_axis(Axis(ax));
                    }
                    a
                };
                if *log {
                    let s = sum_axes(g.clone());
                    &g - &(y.mapv(f32::exp) * &s)
                } else {
                    let s = sum_axes(&g * y);
                    (&g - &s) * y
                }
            }
        })])
    }

    fn lrp(&self, _: usize) -> Lrp {
        Lrp::GradientKeepingAll
    }
}
