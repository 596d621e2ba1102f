//! Activations that tract would otherwise spell as several nodes, kept as one element-wise op.
//!
//! tract expands ONNX `HardSigmoid` into `Mul`, `Add`, `Min`, `Max` and then folds the affine
//! part (x / 6 + 1/2) into the convolution before it; `Softplus` and `Mish` into `Exp`, `Add`,
//! `Ln` (and `Tanh`, `Mul`). The forward pass is the
//! same either way, but an explanation is not: LRP's rule for the convolution would then see the
//! +1/2 as a bias that absorbs relevance, where Zennit passes relevance unchanged through the
//! whole activation module (its `Pass` rule for `Activation`: MobileNetV3's squeeze-excite gates
//! lost 83-99 % of the score this way). Kept as one op, each is an activation to the engine
//! (one derivative, [`Activation::derivative`]) and to LRP (relevance passes through). tract
//! fuses GELU itself (its `GeluExact` and `GeluApproximate`), the engine's rules cover those.
//!
//! Sigmoid and SiLU stay tract's ops in the graph the engine walks, but every plan computes them
//! here ([`rewrite`]): tract's kernels saturate, sigmoid at 4.8e-7 below about -15 and SiLU at
//! -6.5e-6 (`max(x, LOW) sigmoid(x)`), where torch gives e.g. -2e-10 at -25. Gradients do not
//! mind, LRP does: its rules divide by sums of activations, so a channel whose activations all
//! lie in that tail (random BatchNorms make some) passes its relevance on in the proportions of
//! the wrong values; in MixNet-S, behind depthwise convolutions, that put LRP 2.5e-2 off Zennit.

use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_core::ops::nn as tnn;

/// One activation function, element-wise on float32.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(0, min(1, alpha x + beta))` (torch: alpha 1/6, beta 1/2; ONNX's default 0.2, 0.5).
    HardSigmoid {
        /// The slope of `alpha x + beta`.
        alpha: f32,
        /// The offset of `alpha x + beta`.
        beta: f32,
    },
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x tanh(softplus(x))`.
    Mish,
    /// `1 / (1 + e^-x)`, in place of tract's saturating kernel ([`rewrite`]).
    Sigmoid,
    /// `x / (1 + e^-x)`, in place of tract's saturating kernel ([`rewrite`]).
    Silu,
}

impl Eq for Activation {}

fn softplus(x: f32) -> f32 {
    // ln(1 + e^x) without overflow: x + ln(1 + e^-x) for large x.
    if x > 0.0 {
        x + libm::log1pf(libm::expf(-x))
    } else {
        libm::log1pf(libm::expf(x))
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

impl Activation {
    /// The activation at `x`.
    pub fn value(&self, x: f32) -> f32 {
        match *self {
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::Softplus => softplus(x),
            Activation::Mish => x * libm::tanhf(softplus(x)),
            Activation::Sigmoid => sigmoid(x),
            // (x / inf = -0 below -88, where torch's value underflows too.)
            Activation::Silu => x / (1.0 + libm::expf(-x)),
        }
    }

    /// d value / dx at `x` (at HardSigmoid's kinks, 0, as torch).
    pub fn derivative(&self, x: f32) -> f32 {
        match *self {
            Activation::HardSigmoid { alpha, beta } => {
                let z = alpha * x + beta;
                if z > 0.0 && z < 1.0 {
                    alpha
                } else {
                    0.0
                }
            }
            Activation::Softplus => sigmoid(x),
            Activation::Mish => {
                let t = libm::tanhf(softplus(x));
                t + x * (1.0 - t * t) * sigmoid(x)
            }
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Activation::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
        }
    }

    /// The activation as a tract element-wise op (what the ONNX loader builds for it).
    pub(crate) fn op(self) -> ElementWiseOp {
        ElementWiseOp(Box::new(self), None)
    }
}

impl ElementWiseMiniOp for Activation {
    fn name(&self) -> String {
        match self {
            Activation::HardSigmoid { .. } => "HardSigmoid",
            Activation::Softplus => "Softplus",
            Activation::Mish => "Mish",
            Activation::Sigmoid => "Sigmoid",
            Activation::Silu => "Silu",
        }
        .into()
    }

    fn eval_in_place(&self, t: &mut Tensor, out_dt: Option<DatumType>) -> TractResult<()> {
        if out_dt.unwrap_or(t.datum_type()) != f32::datum_type() {
            bail!("{} is computed in float32 only", self.name());
        }
        let mut plain = t.try_as_plain_ram_mut()?;
        for x in plain.as_slice_mut::<f32>()? {
            *x = self.value(*x);
        }
        Ok(())
    }

    fn cost_per_element(&self, dt: DatumType) -> TVec<(Cost, usize)> {
        tvec!((Cost::FMA(dt), 8))
    }
}

/// Puts [`Activation::Sigmoid`] and [`Activation::Silu`] in place of tract's float32 sigmoid and
/// SiLU in a model about to be optimised into a plan (in place: the outlets keep their ids).
pub fn rewrite(model: &mut TypedModel) -> TractResult<()> {
    super::swap_ops::<ElementWiseOp>(model, |model, node, op| {
        let f32_in = model.outlet_fact(node.inputs[0])?.datum_type == f32::datum_type();
        let ours = if op.0.is::<tnn::Sigmoid>() {
            Activation::Sigmoid
        } else if op.0.is::<tnn::Silu>() {
            Activation::Silu
        } else {
            return Ok(None);
        };
        let same_type = op.1.is_none_or(|dt| dt == f32::datum_type());
        Ok((f32_in && same_type).then(|| Box::new(ours.op()) as Box<dyn TypedOp>))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let acts = [
            Activation::HardSigmoid {
                alpha: 1.0 / 6.0,
                beta: 0.5,
            },
            Activation::Softplus,
            Activation::Mish,
            Activation::Sigmoid,
            Activation::Silu,
        ];
        for a in acts {
            for x in [-5.0f32, -2.9, -1.0, -0.3, 0.2, 1.1, 2.5, 7.0] {
                let h = 1e-2f64;
                let f = |x: f64| a.value(x as f32) as f64;
                let fd = (f(x as f64 + h) - f(x as f64 - h)) / (2.0 * h);
                let d = a.derivative(x) as f64;
                assert!((fd - d).abs() < 2e-3, "{a:?} at {x}: {d} vs {fd}");
            }
        }
        // Reference values (torch.nn.functional, float64).
        assert!((Activation::Mish.value(1.0) - 0.865_098_4).abs() < 1e-6);
        assert!((Activation::Softplus.value(-20.0) - 2.061_153_6e-9).abs() < 1e-12);
        assert_eq!(Activation::Softplus.value(100.0), 100.0);
        // The tails tract's kernels flatten (torch.sigmoid, F.silu in float64).
        let close = |a: f32, b: f64| ((a as f64 - b) / b).abs() < 1e-5;
        assert!(close(Activation::Sigmoid.value(-25.0), 1.388_794_386e-11));
        assert!(close(Activation::Silu.value(-25.0), -3.471_985_966e-10));
        assert!(close(Activation::Silu.value(-15.0), -4.588_536_5e-6));
        assert!(close(Activation::Silu.value(3.0), 2.857_722_4));
        assert_eq!(Activation::Silu.value(-200.0), 0.0);
        assert_eq!(Activation::Sigmoid.value(200.0), 1.0);
    }

    /// Every plan computes the accurate activations: a model of tract's sigmoid and SiLU, and
    /// the same after [`rewrite`].
    #[test]
    fn the_rewrite_puts_accurate_tails_in_place_of_tracts() {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([3])).unwrap();
        let s = m
            .wire_node("s", ElementWiseOp(Box::new(tnn::Sigmoid {}), None), &[x])
            .unwrap();
        let y = m
            .wire_node("y", ElementWiseOp(Box::new(tnn::Silu {}), None), &s)
            .unwrap();
        m.select_output_outlets(&y).unwrap();
        rewrite(&mut m).unwrap();
        let names: Vec<String> = m.nodes().iter().map(|n| n.op.name().to_string()).collect();
        assert!(
            names
                .iter()
                .filter(|n| n.contains("Sigmoid") || n.contains("Silu"))
                .count()
                == 2,
            "{names:?}"
        );
        let plan = super::super::optimize(m).unwrap().into_runnable().unwrap();
        let out = plan
            .run(tvec!(tensor1(&[-40f32, 0.0, 2.0]).into()))
            .unwrap();
        let v = out[0].to_plain_array_view::<f32>().unwrap().to_owned();
        let want = |x: f64| {
            let s = 1.0 / (1.0 + (-x).exp());
            s / (1.0 + (-s).exp())
        };
        for (g, x) in v.iter().zip([-40f64, 0.0, 2.0]) {
            assert!(
                ((*g as f64 - want(x)) / want(x)).abs() < 1e-6,
                "{x}: {g} vs {}",
                want(x)
            );
        }
    }
}
