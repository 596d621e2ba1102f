//! Pooling windows, for the backward rules of MaxPool and AveragePool (tract's `SumPool`).
//! Plain loops, with the max pool's argmax found row by row where windows lie inside the input.

use crate::array::Array;
use tract_onnx::prelude::tract_ndarray::{ArrayViewD, IxDyn};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::PoolSpec;

/// The geometry of a 1-D or 2-D pool over channel-first data (NCHW or CHW), with its input and
/// output sizes fixed. Everything before the spatial axes is a stack of independent planes.
#[derive(Debug, Clone)]
pub struct Window {
    input: Vec<usize>,
    /// (size, kernel, stride, dilation, pad before, pad after) for rows, then columns.
    axes: [(usize, usize, usize, usize, usize, usize); 2],
    out_hw: [usize; 2],
    planes: usize,
    /// Each output position's in-bounds taps as offsets in an input plane, in torch's order
    /// (row-major), all windows end to end: output `o`'s are `taps[starts[o]..starts[o + 1]]`.
    taps: Vec<u32>,
    starts: Vec<u32>,
}

impl Window {
    pub fn new(spec: &PoolSpec, input: &[usize], output: &[usize]) -> TractResult<Window> {
        ensure!(!spec.data_format.c_is_last(), "channels-last layout");
        let rank = spec.kernel_shape.len();
        ensure!(
            (1..=2).contains(&rank) && input.len() > rank && output.len() == input.len(),
            "only 1-D and 2-D pools"
        );
        let hw = &input[input.len() - rank..];
        let pads = spec.computed_padding(hw);
        let (strides, dilations) = (spec.strides(), spec.dilations());
        let mut axes = [(1, 1, 1, 1, 0, 0); 2];
        let mut out_hw = [1; 2];
        for r in 0..rank {
            let slot = 2 - rank + r;
            axes[slot] = (
                hw[r],
                spec.kernel_shape[r],
                strides[r],
                dilations[r],
                pads[r].pad_before,
                pads[r].pad_after,
            );
            out_hw[slot] = output[output.len() - rank + r];
        }
        let planes = input[..input.len() - rank].iter().product();
        let mut window = Window {
            input: input.to_vec(),
            axes,
            out_hw,
            planes,
            taps: vec![],
            starts: vec![],
        };
        let w = window.axes[1].0;
        ensure!(
            window.axes[0].0 * w <= u32::MAX as usize,
            "pool input plane too large"
        );
        let [rows, cols] = window.all_taps();
        let mut starts = vec![0u32];
        let mut taps = vec![];
        for (ry, _) in &rows {
            for (rx, _) in &cols {
                for iy in ry.iter().flatten() {
                    taps.extend(rx.iter().flatten().map(|ix| (iy * w + ix) as u32));
                }
                starts.push(taps.len() as u32);
            }
        }
        window.taps = taps;
        window.starts = starts;
        Ok(window)
    }

    /// For output index `o` on axis `a`: the input indices of the window's taps (None for a
    /// tap in the padding), and how many taps fall inside the padded input (the divisor of an
    /// average that counts padding; a ceil-mode window may overhang even the padding).
    fn taps(&self, a: usize, o: usize) -> (Vec<Option<usize>>, usize) {
        let (size, k, s, d, before, after) = self.axes[a];
        let mut taps = Vec::with_capacity(k);
        let mut padded = 0;
        for t in 0..k {
            let p = o * s + t * d; // in padded coordinates
            if p < before + size + after {
                padded += 1;
            }
            taps.push(if p >= before && p < before + size {
                Some(p - before)
            } else {
                None
            });
        }
        (taps, padded)
    }

    fn all_taps(&self) -> [Vec<(Vec<Option<usize>>, usize)>; 2] {
        [
            (0..self.out_hw[0]).map(|o| self.taps(0, o)).collect(),
            (0..self.out_hw[1]).map(|o| self.taps(1, o)).collect(),
        ]
    }

    /// MaxPool: each output's gradient goes to its window's first maximum (as torch).
    pub fn max_backward(&self, x: &ArrayViewD<f32>, g: &Array) -> Array {
        let plane = self.axes[0].0 * self.axes[1].0;
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let g = g.as_standard_layout();
        let gs = g.as_slice().expect("standard layout");
        let mut out = vec![0f32; xs.len()];
        let outs = self.out_hw[0] * self.out_hw[1];
        let (h, w) = (self.axes[0].0, self.axes[1].0);
        let [oh, ow] = self.out_hw;
        if self.axes[0] == (h, 2, 2, 1, 0, 0)
            && self.axes[1] == (w, 2, 2, 1, 0, 0)
            && oh == h / 2
            && ow == w / 2
            && oh * ow > 0
        {
            // 2x2 windows, stride 2, unpadded: the same first maximum, row pairs at a time.
            for ((xp, op), gp) in xs
                .chunks_exact(plane)
                .zip(out.chunks_exact_mut(plane))
                .zip(gs.chunks_exact(outs))
            {
                for (oy, grow) in gp.chunks_exact(ow).enumerate() {
                    let (r0, r1) = (2 * oy * w, (2 * oy + 1) * w);
                    for (ox, &gv) in grow.iter().enumerate() {
                        let c = 2 * ox;
                        let mut bi = r0 + c;
                        for i in [r0 + c + 1, r1 + c, r1 + c + 1] {
                            if xp[i] > xp[bi] {
                                bi = i;
                            }
                        }
                        op[bi] += gv;
                    }
                }
            }
            return Array::from_shape_vec(IxDyn(&self.input), out).expect("pool shape");
        }
        let window = |o: usize| &self.taps[self.starts[o] as usize..self.starts[o + 1] as usize];
        // The columns whose windows lie inside the input across: their taps are at fixed
        // offsets, and the first maximum is found tap by tap for a whole output row with
        // compare-and-select (no index table, no branch); the others read their taps.
        let (_, kw, sw, dw, left, _) = self.axes[1];
        let inside = |ox: usize| ox * sw >= left && ox * sw + (kw - 1) * dw < left + w;
        let lo = (0..ow).find(|&ox| inside(ox)).unwrap_or(ow);
        let hi = (lo..ow).find(|&ox| !inside(ox)).unwrap_or(ow);
        let (mut best_v, mut best_i) = (vec![0f32; hi - lo], vec![0u32; hi - lo]);
        let first_max = |window: &[u32], xp: &[f32]| -> Option<usize> {
            let (&first, rest) = window.split_first()?;
            let (mut bi, mut bv) = (first as usize, xp[first as usize]);
            for &i in rest {
                let v = xp[i as usize];
                if v > bv {
                    (bi, bv) = (i as usize, v);
                }
            }
            Some(bi)
        };
        // With stride s across, the taps of consecutive windows are s apart: each plane is
        // split into its s column phases first, so that they are contiguous (and the compares
        // vectorise).
        let cols = w.div_ceil(sw);
        let mut phases = vec![0f32; sw * h * cols];
        // Per column tap kx of the first inside window: its input column, phase and offset.
        let tap_cols: Vec<(usize, usize, usize)> = (0..kw)
            .map(|kx| {
                let c = (lo * sw + kx * dw).saturating_sub(left);
                (c, c % sw, c / sw)
            })
            .collect();
        // Per output row: the rows of its windows inside the input (the same for every plane).
        let (_, kh, sh, dh, top, _) = self.axes[0];
        let window_rows: Vec<Vec<usize>> = (0..oh)
            .map(|oy| {
                (0..kh)
                    .map(|ky| (oy * sh + ky * dh) as isize - top as isize)
                    .filter(|&iy| iy >= 0 && (iy as usize) < h)
                    .map(|iy| iy as usize)
                    .collect()
            })
            .collect();
        for ((xp, op), gp) in xs
            .chunks_exact(plane)
            .zip(out.chunks_exact_mut(plane))
            .zip(gs.chunks_exact(outs))
        {
            if lo < hi {
                for (y, row) in xp.chunks_exact(w).enumerate() {
                    for p in 0..sw.min(w) {
                        let dst = &mut phases[(p * h + y) * cols..][..cols];
                        for (d, &v) in dst.iter_mut().zip(row[p..].iter().step_by(sw)) {
                            *d = v;
                        }
                    }
                }
            }
            for oy in 0..oh {
                let grow = &gp[oy * ow..][..ow];
                for ox in (0..lo).chain(hi..ow) {
                    if let Some(bi) = first_max(window(oy * ow + ox), xp) {
                        op[bi] += grow[ox];
                    }
                }
                if lo == hi {
                    continue;
                }
                let rows = &window_rows[oy];
                let Some(&r0) = rows.first() else { continue };
                let n = hi - lo;
                // Tap (iy, kx) of window lo + j is input column c + j * sw, c = lo sw + kx dw
                // - left: phase c % sw, offset c / sw + j.
                let taps = |iy: usize, kx: usize| {
                    let (c, phase, offset) = tap_cols[kx];
                    let at = (phase * h + iy) * cols + offset;
                    (&phases[at..at + n], (iy * w + c) as u32)
                };
                let (first, base) = taps(r0, 0);
                best_v.copy_from_slice(first);
                for (j, i) in best_i.iter_mut().enumerate() {
                    *i = base + (j * sw) as u32;
                }
                for &iy in rows {
                    for kx in 0..kw {
                        if iy == r0 && kx == 0 {
                            continue;
                        }
                        let (vals, base) = taps(iy, kx);
                        for (j, ((v, i), &c)) in best_v
                            .iter_mut()
                            .zip(best_i.iter_mut())
                            .zip(vals)
                            .enumerate()
                        {
                            // As masks, not branches (random data mispredicts them).
                            let mask = 0u32.wrapping_sub((c > *v) as u32);
                            *v = f32::from_bits((v.to_bits() & !mask) | (c.to_bits() & mask));
                            *i = (*i & !mask) | ((base + (j * sw) as u32) & mask);
                        }
                    }
                }
                for (&i, &gv) in best_i.iter().zip(&grow[lo..hi]) {
                    op[i as usize] += gv;
                }
            }
        }
        Array::from_shape_vec(IxDyn(&self.input), out).expect("pool shape")
    }

    /// AveragePool: each output's gradient spread over its window, divided as the forward did.
    pub fn sum_backward(&self, g: &Array, count_include_pad: bool, normalize: bool) -> Array {
        let (h, w) = (self.axes[0].0, self.axes[1].0);
        let g = g.as_standard_layout();
        let gs = g.as_slice().expect("standard layout");
        let mut out = vec![0f32; self.planes * h * w];
        let [rows, cols] = self.all_taps();
        for p in 0..self.planes {
            let op = p * h * w;
            for (oy, (ry, py)) in rows.iter().enumerate() {
                for (ox, (rx, px)) in cols.iter().enumerate() {
                    let valid = ry.iter().flatten().count() * rx.iter().flatten().count();
                    let div = if !normalize {
                        1.0
                    } else if count_include_pad {
                        (py * px) as f32
                    } else {
                        valid as f32
                    };
                    if valid == 0 {
                        continue;
                    }
                    let v = gs[(p * self.out_hw[0] + oy) * self.out_hw[1] + ox] / div;
                    for iy in ry.iter().flatten() {
                        for ix in rx.iter().flatten() {
                            out[op + iy * w + ix] += v;
                        }
                    }
                }
            }
        }
        Array::from_shape_vec(IxDyn(&self.input), out).expect("pool shape")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::PaddingSpec;
    use tract_onnx::tract_core::ops::nn::DataFormat;

    /// The row-by-row argmax against each window's tap list, on windows with edges in the
    /// padding, strides, dilation, ceil-mode overhang, and many ties (values on a coarse grid).
    #[test]
    fn max_backward_takes_each_windows_first_maximum() -> TractResult<()> {
        for (hw, k, s, d, before, after, ceil) in [
            ([15, 15], 3, 2, 1, 1, 1, false),
            ([16, 14], 3, 2, 1, 0, 1, false),
            ([9, 11], 3, 1, 1, 1, 1, false),
            ([12, 10], 5, 3, 1, 2, 2, false),
            ([10, 10], 3, 2, 2, 2, 2, false),
            ([7, 7], 3, 2, 1, 1, 1, true),
            ([4, 4], 2, 1, 1, 0, 0, false),
        ] {
            let spec = PoolSpec::new(
                DataFormat::NCHW,
                tvec!(k, k),
                PaddingSpec::Explicit(tvec!(before, before), tvec!(after, after)),
                Some(tvec!(d, d)),
                Some(tvec!(s, s)),
                2,
                2,
            );
            let out = |n: usize| {
                let span = n + before + after - d * (k - 1) - 1;
                if ceil {
                    span.div_ceil(s) + 1
                } else {
                    span / s + 1
                }
            };
            let (oh, ow) = (out(hw[0]), out(hw[1]));
            let input = [2, 2, hw[0], hw[1]];
            let win = Window::new(&spec, &input, &[2, 2, oh, ow])?;
            let n: usize = input.iter().product();
            let x = Array::from_shape_vec(
                IxDyn(&input),
                (0..n).map(|i| ((i * 7919) % 5) as f32).collect(),
            )
            .expect("x");
            let g = Array::from_shape_vec(
                IxDyn(&[2, 2, oh, ow]),
                (0..4 * oh * ow).map(|i| 1.0 + i as f32).collect(),
            )
            .expect("g");
            let got = win.max_backward(&x.view(), &g);
            let mut want = vec![0f32; n];
            let plane = hw[0] * hw[1];
            let xs = x.as_slice().expect("x");
            for p in 0..4 {
                for o in 0..oh * ow {
                    let taps = &win.taps[win.starts[o] as usize..win.starts[o + 1] as usize];
                    let Some((&first, rest)) = taps.split_first() else {
                        continue;
                    };
                    let mut bi = first as usize;
                    for &i in rest {
                        if xs[p * plane + i as usize] > xs[p * plane + bi] {
                            bi = i as usize;
                        }
                    }
                    want[p * plane + bi] += g.as_slice().expect("g")[p * oh * ow + o];
                }
            }
            assert_eq!(
                got.as_slice().expect("got"),
                &want[..],
                "{hw:?} k {k} s {s} d {d}"
            );
        }
        Ok(())
    }
}
