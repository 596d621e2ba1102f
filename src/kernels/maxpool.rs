//! Max pooling over channels-first planes, for the pools of small CNNs: tract runs its MaxPool
//! one output at a time with a bounds check on every tap (its vector path is for stride 1), which
//! made a 2x2 stride-2 pool 11 % of an IG step on MNIST CAM natively and the 3x3 stride-2
//! padded pools of mini-Xception a third of its forward pass in wasm.
//!
//! [`FastMaxPool`] takes 2x2 stride-2 unpadded windows two row pairs at a time, and any other
//! window as two separable passes: the maximum down the window's rows for whole rows at once
//! (contiguous, vectorised), then across the window's columns. [`rewrite`] swaps it in for
//! tract's MaxPool in place ([`super::optimize`]), like [`super::winograd::rewrite`]; the
//! engine's backward rule still reads tract's op in the decluttered graph.

use crate::array::max;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::MaxPool;

/// tract's `MaxPool` on channels-first float planes of concrete shape, as the module describes
/// (made by [`FastMaxPool::for_pool`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastMaxPool {
    /// Input and output height and width.
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    /// Window, strides, padding before (top, left).
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    top: usize,
    left: usize,
}

impl FastMaxPool {
    /// The op for `pool` at `node`: float, channels first, no dilation, no index output,
    /// concrete shapes, every window with at least one tap inside the input.
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
            || spec.kernel_shape.len() != 2
            || spec.dilations().iter().any(|&d| d != 1)
            || xs.len() < 3
            || ys.len() != xs.len()
        {
            return Ok(None);
        }
        let (h, w) = (xs[xs.len() - 2], xs[xs.len() - 1]);
        let (oh, ow) = (ys[ys.len() - 2], ys[ys.len() - 1]);
        let (kh, kw) = (spec.kernel_shape[0], spec.kernel_shape[1]);
        let strides = spec.strides();
        let (sh, sw) = (strides[0], strides[1]);
        let pads = spec.computed_padding(&[h, w]);
        let (top, left) = (pads[0].pad_before, pads[1].pad_before);
        // Each output's window starts at o * s - pad and must reach into the input.
        let reaches = |o: usize, s: usize, pad: usize, k: usize, n: usize| {
            (0..o).all(|i| i * s + k > pad && i * s < pad + n)
        };
        if [h, w, oh, ow, kh, kw, sh, sw].contains(&0)
            || xs[..xs.len() - 2] != ys[..ys.len() - 2]
            || (oh - 1) * sh + kh > h + top + pads[0].pad_after
            || (ow - 1) * sw + kw > w + left + pads[1].pad_after
            || !reaches(oh, sh, top, kh, h)
            || !reaches(ow, sw, left, kw, w)
        {
            return Ok(None);
        }
        Ok(Some(FastMaxPool {
            h,
            w,
            oh,
            ow,
            kh,
            kw,
            sh,
            sw,
            top,
            left,
        }))
    }

    /// The input rows (or columns) of output row `o`'s window: `[from, to)`.
    fn span(o: usize, s: usize, pad: usize, k: usize, n: usize) -> (usize, usize) {
        let start = (o * s) as isize - pad as isize;
        let from = start.max(0) as usize;
        let to = ((start + k as isize) as usize).min(n);
        (from, to)
    }

    /// One plane (h, w) into `out` (oh, ow); `rows` and `runs` are scratch rows of w.
    fn plane(&self, x: &[f32], out: &mut [f32], rows: &mut [f32], runs: &mut [f32]) {
        let (h, w, oh, ow) = (self.h, self.w, self.oh, self.ow);
        if (self.kh, self.kw, self.sh, self.sw, self.top, self.left) == (2, 2, 2, 2, 0, 0)
            && oh == h / 2
            && ow == w / 2
        {
            for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
                let r0 = &x[2 * oy * w..][..2 * ow];
                let r1 = &x[(2 * oy + 1) * w..][..2 * ow];
                for ((o, a), b) in row
                    .iter_mut()
                    .zip(r0.chunks_exact(2))
                    .zip(r1.chunks_exact(2))
                {
                    *o = max(max(a[0], a[1]), max(b[0], b[1]));
                }
            }
            return;
        }
        for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
            // Down the window's rows, whole rows at a time.
            let (from, to) = Self::span(oy, self.sh, self.top, self.kh, h);
            rows.copy_from_slice(&x[from * w..][..w]);
            for y in from + 1..to {
                for (m, &v) in rows.iter_mut().zip(&x[y * w..][..w]) {
                    *m = max(*m, v);
                }
            }
            // Across the window's columns: the maximum of every run of kw neighbours (whole
            // rows again), read where each window starts; windows cut by the padding apart.
            let full = (w + 1).saturating_sub(self.kw);
            runs[..full].copy_from_slice(&rows[..full]);
            for t in 1..self.kw.min(w) {
                for (m, &v) in runs[..full].iter_mut().zip(&rows[t..t + full]) {
                    *m = max(*m, v);
                }
            }
            for (ox, o) in row.iter_mut().enumerate() {
                let start = (ox * self.sw) as isize - self.left as isize;
                *o = if start >= 0 && (start as usize) < full {
                    runs[start as usize]
                } else {
                    let (from, to) = Self::span(ox, self.sw, self.left, self.kw, w);
                    rows[from + 1..to]
                        .iter()
                        .fold(rows[from], |m, &v| max(m, v))
                };
            }
        }
    }
}

impl Op for FastMaxPool {
    fn name(&self) -> StaticName {
        "FastMaxPool".into()
    }

    op_as_typed_op!();
}

impl EvalOp for FastMaxPool {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let (h, w, oh, ow) = (self.h, self.w, self.oh, self.ow);
        ensure!(
            h * w > 0 && x.len() % (h * w) == 0,
            "FastMaxPool: input size"
        );
        let planes = x.len() / (h * w);
        let mut shape: TVec<usize> = inputs[0].shape().into();
        let rank = shape.len();
        shape[rank - 2] = oh;
        shape[rank - 1] = ow;
        // SAFETY: `plane` writes every output element.
        let mut y = unsafe { Tensor::uninitialized::<f32>(&shape)? };
        {
            let mut yv = y.try_as_plain_ram_mut()?;
            let ys = yv.as_slice_mut::<f32>()?;
            let (mut rows, mut runs) = (vec![0f32; w], vec![0f32; w]);
            for (p, out) in ys.chunks_exact_mut(oh * ow).enumerate().take(planes) {
                self.plane(&x[p * h * w..][..h * w], out, &mut rows, &mut runs);
            }
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for FastMaxPool {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        let rank = shape.len();
        shape[rank - 2] = self.oh.to_dim();
        shape[rank - 1] = self.ow.to_dim();
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

/// Replaces every MaxPool of `model` that [`FastMaxPool::for_pool`] takes, in place.
pub fn rewrite(model: &mut TypedModel) -> TractResult<()> {
    super::swap_ops::<MaxPool>(model, |m, node, pool| {
        Ok(FastMaxPool::for_pool(m, node, pool)?.map(|op| Box::new(op) as _))
    })
}
