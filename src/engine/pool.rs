//! Pooling windows, for the backward rules of MaxPool and AveragePool (tract's `SumPool`).
//! Plain loops: pools are cheap next to convolutions.

use super::Array;
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
        let windows: Vec<&[u32]> = self
            .starts
            .windows(2)
            .map(|s| &self.taps[s[0] as usize..s[1] as usize])
            .collect();
        for ((xp, op), gp) in xs
            .chunks_exact(plane)
            .zip(out.chunks_exact_mut(plane))
            .zip(gs.chunks_exact(outs))
        {
            for (taps, &gv) in windows.iter().zip(gp) {
                let Some((&first, rest)) = taps.split_first() else {
                    continue;
                };
                let (mut bi, mut bv) = (first as usize, xp[first as usize]);
                for &i in rest {
                    let v = xp[i as usize];
                    if v > bv {
                        (bi, bv) = (i as usize, v);
                    }
                }
                op[bi] += gv;
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
