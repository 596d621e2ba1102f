//! Operators that move values without computing: reshapes and transposes (`AxisOp`), Concat,
//! constant Pad, Slice, Downsample (a strided slice), Gather and GatherND with constant indices.
//! The gradient is routed back to where each value came from.

use super::{Ctx, Lrp, Node, OpRule, Reads, Rule};
use crate::array::Array;
use crate::error::Result;
use tract_onnx::prelude::tract_ndarray::{Axis, IxDyn, Slice};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::{
    Gather, GatherNd, Pad, PadMode, Slice as SliceOp, TypedConcat,
};
use tract_onnx::tract_core::ops::downsample::Downsample;

/// The routing operators.
pub enum Route {
    /// Axis `from` moved to `to`.
    Move(usize, usize),
    /// Any other reshape (same values, new shape).
    Reshape,
    /// Concatenation along an axis.
    Concat(usize),
    /// Constant padding, (before, after) per axis.
    Pad(Vec<(usize, usize)>),
    /// A slice along `axis` starting at `start`.
    Slice {
        /// The sliced axis.
        axis: usize,
        /// The first index kept.
        start: usize,
    },
    /// Every `stride`-th value along `axis` from `modulo`.
    Downsample {
        /// The strided axis.
        axis: usize,
        /// The step.
        stride: usize,
        /// The first index kept.
        modulo: usize,
    },
    /// Gather along `axis` with constant `indices` (already wrapped to >= 0): backward adds
    /// each gathered slice's gradient back at its index.
    Gather {
        /// The gathered axis.
        axis: usize,
        /// The indices, flattened.
        indices: Vec<usize>,
    },
    /// GatherND (batch_dims 0) with constant indices: each index tuple picks a slice of the
    /// data's first `depth` axes; `rows` holds each tuple as a row number of the data seen as
    /// [prod(first `depth` axes), rest]. torch.export writes it for adaptive pools whose
    /// windows overlap (AlexNet and VGG off 224 x 224).
    GatherNd {
        /// How many leading data axes an index tuple addresses.
        depth: usize,
        /// Each tuple's row, in the order of the output.
        rows: Vec<usize>,
    },
}

/// The routing nodes; a Pad other than constant, a Slice or Downsample that cannot be read as
/// plain indices, or a Gather with computed indices is unsupported.
pub fn classify(n: &Node) -> Option<Result<Rule>> {
    let op = &n.node.op;
    let route = |r: Route| Some(Ok(Rule::Route(r)));
    if let Some(a) = op.downcast_ref::<AxisOp>() {
        return route(match a {
            AxisOp::Move(from, to) => Route::Move(*from, *to),
            _ => Route::Reshape,
        });
    }
    if let Some(c) = op.downcast_ref::<TypedConcat>() {
        return route(Route::Concat(c.axis));
    }
    if let Some(p) = op.downcast_ref::<Pad>() {
        return match p.mode {
            PadMode::Constant(_) => route(Route::Pad(p.pads.clone())),
            _ => Some(Err(n.unsupported(&format!("Pad ({:?} mode)", p.mode)))),
        };
    }
    if let Some(s) = op.downcast_ref::<SliceOp>() {
        return Some(
            s.start
                .to_usize()
                .map_err(|_| n.unsupported("Slice with a symbolic start"))
                .map(|start| {
                    Rule::Route(Route::Slice {
                        axis: s.axis,
                        start,
                    })
                }),
        );
    }
    if let Some(d) = op.downcast_ref::<Downsample>() {
        if d.stride <= 0 {
            return Some(Err(n.unsupported("Downsample with a negative stride")));
        }
        return route(Route::Downsample {
            axis: d.axis,
            stride: d.stride as usize,
            modulo: d.modulo,
        });
    }
    if let Some(g) = op.downcast_ref::<GatherNd>() {
        return Some(gather_nd_rule(n, g.batch_dims));
    }
    let gather = op.downcast_ref::<Gather>()?;
    Some(gather_rule(n, gather.axis))
}

fn gather_nd_rule(n: &Node, batch_dims: usize) -> Result<Rule> {
    if batch_dims != 0 {
        return Err(n.unsupported(&format!("GatherND with batch_dims {batch_dims}")));
    }
    let data: Vec<usize> = n
        .model
        .outlet_fact(n.node.inputs[0])
        .ok()
        .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
        .ok_or_else(|| n.unsupported("GatherND with a symbolic shape"))?;
    let k = n
        .konst(1)
        .and_then(|k| k.cast_to::<i64>().ok().map(|t| t.into_owned()))
        .ok_or_else(|| n.unsupported("GatherND with computed indices"))?;
    let view = k
        .to_plain_array_view::<i64>()
        .map_err(|_| n.unsupported("GatherND indices"))?;
    let depth = *view.shape().last().unwrap_or(&0);
    if depth == 0 || depth > data.len() {
        return Err(n.unsupported(&format!(
            "GatherND tuples of {depth} indices into {} axes",
            data.len()
        )));
    }
    let flat: Vec<i64> = view.iter().copied().collect();
    let rows = flat
        .chunks(depth)
        .map(|t| {
            t.iter().zip(&data).try_fold(0usize, |row, (&i, &len)| {
                let j = if i < 0 { i + len as i64 } else { i };
                usize::try_from(j)
                    .ok()
                    .filter(|&j| j < len)
                    .map(|j| row * len + j)
                    .ok_or_else(|| n.unsupported(&format!("GatherND index {i} outside 0..{len}")))
            })
        })
        .collect::<Result<_>>()?;
    Ok(Rule::Route(Route::GatherNd { depth, rows }))
}

fn gather_rule(n: &Node, axis: usize) -> Result<Rule> {
    let len = n
        .model
        .outlet_fact(n.node.inputs[0])
        .ok()
        .and_then(|f| f.shape.as_concrete().map(|s| s[axis]))
        .ok_or_else(|| n.unsupported("Gather with a symbolic shape"))?;
    let indices = n
        .konst(1)
        .and_then(|k| {
            k.cast_to::<i64>()
                .ok()?
                .to_plain_array_view::<i64>()
                .ok()
                .map(|v| v.iter().copied().collect::<Vec<_>>())
        })
        .ok_or_else(|| n.unsupported("Gather with computed indices"))?;
    let indices = indices
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + len as i64 } else { i };
            usize::try_from(j)
                .ok()
                .filter(|&j| j < len)
                .ok_or_else(|| n.unsupported(&format!("Gather index {i} outside 0..{len}")))
        })
        .collect::<Result<_>>()?;
    Ok(Rule::Route(Route::Gather { axis, indices }))
}

impl OpRule for Route {
    fn reads(&self, wants: &[bool]) -> Reads {
        Reads::none(wants.len())
    }

    fn affine(&self, _: usize) -> bool {
        true
    }

    fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        let n = c.shapes.len();
        let only_first = |a: Array| {
            let mut v = vec![None; n];
            v[0] = Some(a);
            v
        };
        Ok(match self {
            Route::Move(from, to) => {
                // Output axis k holds input axis perm[k]; put each back.
                let mut perm: Vec<usize> = (0..g.ndim()).collect();
                let a = perm.remove(*from);
                perm.insert(*to, a);
                let mut inv = vec![0; perm.len()];
                for (k, &p) in perm.iter().enumerate() {
                    inv[p] = k;
                }
                vec![Some(
                    g.permuted_axes(IxDyn(&inv))
                        .as_standard_layout()
                        .into_owned(),
                )]
            }
            Route::Reshape => vec![Some(
                g.as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&c.shapes[0]))?,
            )],
            Route::Concat(axis) => {
                let mut at = 0;
                (0..n)
                    .map(|i| {
                        let len = c.shapes[i][*axis];
                        let part = g
                            .slice_axis(Axis(*axis), Slice::from(at..at + len))
                            .to_owned();
                        at += len;
                        c.wants[i].then_some(part)
                    })
                    .collect()
            }
            Route::Pad(pads) => {
                let mut v = g.view();
                for (ax, &(before, _)) in pads.iter().enumerate() {
                    let len = c.shapes[0][ax];
                    v.slice_axis_inplace(Axis(ax), Slice::from(before..before + len));
                }
                vec![Some(v.to_owned())]
            }
            Route::Slice { axis, start } => {
                let mut out = Array::zeros(IxDyn(&c.shapes[0]));
                let len = g.shape()[*axis];
                out.slice_axis_mut(Axis(*axis), Slice::from(*start..*start + len))
                    .assign(&g);
                only_first(out)
            }
            Route::Downsample {
                axis,
                stride,
                modulo,
            } => {
                let mut out = Array::zeros(IxDyn(&c.shapes[0]));
                let len = g.shape()[*axis];
                out.slice_axis_mut(
                    Axis(*axis),
                    Slice::new(
                        *modulo as isize,
                        Some((*modulo + (len - 1) * *stride + 1) as isize),
                        *stride as isize,
                    ),
                )
                .assign(&g);
                vec![Some(out)]
            }
            Route::Gather { axis, indices } => {
                let data = &c.shapes[0];
                let mut out = Array::zeros(IxDyn(data));
                // g's shape: data[..axis] + indices' shape + data[axis + 1..], indices flattened.
                let mut flat = data.clone();
                flat[*axis] = indices.len();
                let g = g
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&flat))
                    .map_err(|e| anyhow!("{e}"))?;
                for (k, &i) in indices.iter().enumerate() {
                    let mut dst = out.index_axis_mut(Axis(*axis), i);
                    dst += &g.index_axis(Axis(*axis), k);
                }
                only_first(out)
            }
            Route::GatherNd { depth, rows } => {
                // The data as [rows, rest] and g as [tuples, rest]: each tuple's slice of the
                // gradient is added back at its row.
                let data = &c.shapes[0];
                let rest: usize = data[*depth..].iter().product();
                let total: usize = data[..*depth].iter().product();
                let g = g
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&[rows.len(), rest]))
                    .map_err(|e| anyhow!("{e}"))?;
                let mut out = Array::zeros(IxDyn(&[total, rest]));
                for (t, &r) in rows.iter().enumerate() {
                    let mut dst = out.index_axis_mut(Axis(0), r);
                    dst += &g.index_axis(Axis(0), t);
                }
                only_first(
                    out.into_shape_with_order(IxDyn(data))
                        .map_err(|e| anyhow!("{e}"))?,
                )
            }
        })
    }

    fn lrp(&self, _: usize) -> Lrp {
        match self {
            Route::Gather { .. } | Route::GatherNd { .. } => Lrp::Gradient,
            _ => Lrp::GradientKeepingAll,
        }
    }
}
