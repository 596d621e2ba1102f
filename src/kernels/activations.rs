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
//! SiLU stays tract's op in the graph the engine walks, but every plan computes it here
//! ([`rewrite`]): tract's kernel saturates at -6.5e-6 (`max(x, LOW) sigmoid(x)`) where torch
//! gives e.g. -3e-10 at -25. Gradients hardly mind, LRP does: its rules divide by sums of
//! activations, so a channel whose activations all lie in that tail (random BatchNorms make
//! some) passes its relevance on in the proportions of the wrong values; in MixNet-S's first
//! blocks, behind depthwise convolutions, that put LRP 5e-3 off Zennit. tract's sigmoid
//! saturates too (4.8e-7 below about -15) but stays: computed here as well, MixNet-S's gradient
//! through the legacy exporter moved from 2e-5 to 9.4e-4 off Captum (through torch.export it
//! improved, 1.3e-5 to 5e-6), for a reason not found yet.

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

/// Puts [`Activation::Silu`] in place of tract's float32 SiLU in a model about to be optimised
/// into a plan (in place: the outlets keep their ids).
pub fn rewrite(model: &mut TypedModel) -> TractResult<()> {
    super::swap_ops::<ElementWiseOp>(model, |model, node, op| {
        if !op.0.is::<tnn::Silu>() {
            return Ok(None);
        }
        let f32_in = model.outlet_fact(node.inputs[0])?.datum_type == f32::datum_type();
        let ours = Activation::Silu;
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
        // The tail tract's kernel flattens (F.silu in float64).
        let close = |a: f32, b: f64| ((a as f64 - b) / b).abs() < 1e-5;
        assert!(close(Activation::Silu.value(-25.0), -3.471_985_966e-10));
        assert!(close(Activation::Silu.value(-15.0), -4.588_536_5e-6));
        assert!(close(Activation::Silu.value(3.0), 2.857_722_4));
        assert_eq!(Activation::Silu.value(-200.0), 0.0);
    }

    /// Every plan computes SiLU's tail: a model of tract's SiLU, optimised as the crate's plans
    /// are, against f64 (tract's own kernel gives -6.5e-6 at -25).
    #[test]
    fn plans_compute_silus_tail() {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([4])).unwrap();
        let y = m
            .wire_node("y", ElementWiseOp(Box::new(tnn::Silu {}), None), &[x])
            .unwrap();
        m.select_output_outlets(&y).unwrap();
        let xs = [-25f32, -15.0, 0.5, 2.0];
        let plan = super::super::optimize(m).unwrap().into_runnable().unwrap();
        let out = plan.run(tvec!(tensor1(&xs).into())).unwrap();
        let v = out[0].to_plain_array_view::<f32>().unwrap().to_owned();
        for (g, &x) in v.iter().zip(&xs) {
            let want = x as f64 / (1.0 + (-x as f64).exp());
            assert!(
                ((*g as f64 - want) / want).abs() < 1e-6,
                "{x}: {g} vs {want}"
            );
        }
    }
}
