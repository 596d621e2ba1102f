//! Resize (linear, cubic or nearest, any coordinate mode) and tract's integer nearest
//! upsampling: the gradient is scattered back through tract's own per-axis plan, or summed over
//! each copied block.

use super::{Ctx, Lrp, Node, OpRule, Reads, Rule};
use crate::array::Array;
use crate::error::Result;
use tract_onnx::prelude::tract_ndarray::{Axis, IxDyn};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::resize::{self, AxisPlan, NearestUpsample};

/// The resampling operators.
pub enum Resize {
    /// Per resized axis, tract's own plan of which inputs each output reads with which weights.
    Plan(Vec<(usize, ResizeAxis)>),
    /// Each input value copied `scales[a]` times along axis a.
    NearestUpsample(Vec<usize>),
}

/// One axis of a Resize: `len_in` inputs, and tract's plan (window, indices, weights).
pub struct ResizeAxis {
    /// The input length along the axis.
    pub len_in: usize,
    /// tract's plan for the axis.
    pub plan: AxisPlan,
}

/// Resize and NearestUpsample nodes.
pub fn classify(n: &Node) -> Option<Result<Rule>> {
    if let Some(u) = n.node.op.downcast_ref::<NearestUpsample>() {
        return Some(Ok(Rule::Resize(Resize::NearestUpsample(u.scales.to_vec()))));
    }
    let r = n.node.op.downcast_ref::<resize::Resize>()?;
    Some(plans(n, r).map(|axes| Rule::Resize(Resize::Plan(axes))))
}

/// The plans of a Resize's axes, as its `eval` makes them: the scales from its constant scales
/// input (one per axis), else the ratio of the output and input lengths.
fn plans(n: &Node, r: &resize::Resize) -> Result<Vec<(usize, ResizeAxis)>> {
    let (model, node) = (n.model, n.node);
    let fact = |o: OutletId| {
        model
            .outlet_fact(o)
            .map_err(crate::error::tract_err("reading a shape"))
    };
    let concrete = |o: OutletId| -> Result<Vec<usize>> {
        fact(o)?
            .shape
            .as_concrete()
            .map(|s| s.to_vec())
            .ok_or_else(|| n.unsupported("Resize with symbolic shapes"))
    };
    let input = concrete(node.inputs[0])?;
    let output = concrete(OutletId::new(node.id, 0))?;
    let scales: Option<Vec<f32>> = r
        .optional_scales_input
        .and_then(|i| node.inputs.get(i))
        .and_then(|&o| fact(o).ok()?.konst.clone())
        .filter(|k| k.len() == input.len())
        .and_then(|k| {
            k.cast_to::<f32>()
                .ok()?
                .to_plain_array_view::<f32>()
                .ok()
                .map(|v| v.iter().copied().collect())
        });
    let mut axes = vec![];
    for a in 0..input.len() {
        let (len_in, len_out) = (input[a], output[a]);
        let scale = scales
            .as_ref()
            .map_or(len_out as f32 / len_in as f32, |s| s[a]);
        if len_in == len_out && scale == 1.0 {
            continue;
        }
        axes.push((
            a,
            ResizeAxis {
                len_in,
                plan: r.plan_axis(scale, len_in, len_out),
            },
        ));
    }
    Ok(axes)
}

/// The transpose of tract's `resample_axis`: `g` (shape `shape`, axis `axis` of the plan's
/// output length) scattered back onto `len_in` positions.
fn unresample_axis(g: &[f32], shape: &[usize], axis: usize, r: &ResizeAxis) -> Vec<f32> {
    let len_out = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let w = r.plan.window;
    let mut out = vec![0f32; outer * r.len_in * inner];
    if inner == 0 || len_out == 0 {
        return out;
    }
    for (src, dst) in g
        .chunks_exact(len_out * inner)
        .zip(out.chunks_exact_mut(r.len_in * inner))
    {
        for (x, gx) in src.chunks_exact(inner).enumerate() {
            if r.plan.extrapolated[x] {
                continue;
            }
            let taps = r.plan.indices[x * w..][..w]
                .iter()
                .zip(&r.plan.weights[x * w..][..w]);
            for (&i, &wt) in taps {
                if wt == 0.0 {
                    continue;
                }
                for (d, s) in dst[i * inner..][..inner].iter_mut().zip(gx) {
                    *d += wt * s;
                }
            }
        }
    }
    out
}

impl OpRule for Resize {
    fn reads(&self, wants: &[bool]) -> Reads {
        Reads::none(wants.len())
    }

    fn affine(&self, _: usize) -> bool {
        true
    }

    fn backward(&self, _: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        Ok(vec![Some(match self {
            Resize::Plan(axes) => {
                let mut shape = g.shape().to_vec();
                let mut data = g
                    .as_standard_layout()
                    .into_owned()
                    .into_raw_vec_and_offset()
                    .0;
                for (axis, r) in axes.iter().rev() {
                    data = unresample_axis(&data, &shape, *axis, r);
                    shape[*axis] = r.len_in;
                }
                Array::from_shape_vec(IxDyn(&shape), data).map_err(|e| anyhow!("{e}"))?
            }
            Resize::NearestUpsample(scales) => {
                // out[.., i, ..] = in[.., i / s, ..]: split each axis into (len, s), sum the s.
                let split: Vec<usize> = g
                    .shape()
                    .iter()
                    .zip(scales)
                    .flat_map(|(&len, &s)| [len / s, s])
                    .collect();
                let mut a = g
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&split))
                    .map_err(|e| anyhow!("{e}"))?;
                for ax in (0..scales.len()).rev() {
                    a = a.sum_axis(Axis(2 * ax + 1));
                }
                a
            }
        })])
    }

    fn lrp(&self, _: usize) -> Lrp {
        match self {
            Resize::Plan(_) => Lrp::Gradient,
            Resize::NearestUpsample(_) => Lrp::GradientKeepingAll,
        }
    }
}
