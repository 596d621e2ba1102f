//! Winograd's minimal filtering F(2x2, 3x3) for dense 3x3 stride-1 convolutions: each 2x2
//! block of outputs takes 16 products per channel pair instead of 36, the rest is additions.
//! ResNet-style nets spend most of their time in such convolutions, forward and backward (the
//! input gradient of one is another, with the kernel flipped and the channels swapped), where
//! tract runs im2col and a matrix product.
//!
//! [`rewrite`] swaps every eligible `Conv` of a typed model for a [`Winograd`] op in place
//! (same node, same inputs and outputs, so outlets captured by the engine keep their ids),
//! right before the model is optimised into a plan ([`super::optimize`]). The op transforms the 4x4
//! input tiles, runs the 16 products as one batched matrix product (a small tract plan, so
//! tract's kernels do the arithmetic, natively and in wasm), and transforms back:
//! Y = A^T [ (G W G^T) ⊙ (B^T X B) ] A per tile (Lavin & Gray 2016, for the correlation
//! y_i = sum_u w_u x_{i+u} that convolution layers compute).
//!
//! Tried and left out: F(4x4, 3x3) (36 products per 4x4 block): its products took 0.55-0.7x
//! F(2x2)'s time on 56x56 and 28x28 layers, but with generic transforms the whole was no
//! faster, and its error was 4-7e-6 of the output's scale against 1-2e-6. The 16 products as
//! 16 separate plans instead of one batched: no difference.

use std::sync::Arc;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Where the rewrite pays, measured per build (`bench/bench_winograd.rs` natively, the same
/// shapes in Chromium): natively at least 32 input and output channels and 20 M multiply-adds
/// in the direct form (smaller convolutions lost up to 1.7x to the transforms and the extra
/// plan run; larger ones gained 1.1x to 2.7x, ResNet-18's 256- and 512-channel layers the
/// most). In wasm, where tract's convolution kernels are slower, it paid from 8 channels and
/// 1.5 M multiply-adds (0.58x-0.92x, e.g. 0.89x for 32 -> 64 channels on 14x14, 0.58x for
/// 64 -> 64 on 7x7; 0.55x-0.77x on ResNet-sized layers).
#[cfg(not(target_arch = "wasm32"))]
const MIN_CHANNELS: usize = 32;
#[cfg(not(target_arch = "wasm32"))]
const MIN_MACS: usize = 20_000_000;
#[cfg(target_arch = "wasm32")]
const MIN_CHANNELS: usize = 8;
#[cfg(target_arch = "wasm32")]
const MIN_MACS: usize = 1_500_000;

/// A dense 3x3 stride-1 float32 convolution with constant kernel and bias, computed by
/// Winograd's F(2x2, 3x3) (made by [`Winograd::for_conv`]).
#[derive(Clone)]
pub struct Winograd {
    c: usize,
    o: usize,
    /// Input and output height, width.
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    /// Padding before (top, left).
    top: usize,
    left: usize,
    /// Tiles down and across.
    th: usize,
    tw: usize,
    bias: Arc<Vec<f32>>,
    /// (16, o, c) x (16, c, tiles) -> (16, o, tiles).
    product: Arc<TypedSimplePlan>,
}

impl std::fmt::Debug for Winograd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Winograd F(2x2,3x3) {}->{} on {}x{}",
            self.c, self.o, self.h, self.w
        )
    }
}

impl PartialEq for Winograd {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.product, &other.product)
    }
}

impl Eq for Winograd {}

/// G W G^T for each (out, in) channel pair, laid out (16, o, c).
fn kernel_transform(k: &[f32], o: usize, c: usize) -> Vec<f32> {
    const G: [[f32; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    let mut u = vec![0f32; 16 * o * c];
    for oc in 0..o {
        for ic in 0..c {
            let w = &k[(oc * c + ic) * 9..][..9];
            // (G W): 4x3, then (G W) G^T: 4x4.
            let mut gw = [[0f32; 3]; 4];
            for a in 0..4 {
                for j in 0..3 {
                    gw[a][j] = (0..3).map(|i| G[a][i] * w[i * 3 + j]).sum();
                }
            }
            for a in 0..4 {
                for b in 0..4 {
                    let v: f32 = (0..3).map(|j| gw[a][j] * G[b][j]).sum();
                    u[((a * 4 + b) * o + oc) * c + ic] = v;
                }
            }
        }
    }
    u
}

/// Whether a convolution of this kind and kernel shape (OIHW) has a Winograd form: dense,
/// 3x3, stride 1, no dilation.
fn has_form(conv: &Conv, kernel_shape: &[usize]) -> bool {
    let spec = &conv.pool_spec;
    conv.group == 1
        && conv.q_params.is_none()
        && conv.kernel_fmt == KernelFormat::OIHW
        && spec.data_format == DataFormat::NCHW
        && spec.strides().iter().all(|&s| s == 1)
        && spec.dilations().iter().all(|&d| d == 1)
        && kernel_shape.len() == 4
        && kernel_shape[2..] == [3, 3]
}

/// Whether a convolution of this kind, kernel shape (OIHW) and output size runs as
/// [`Winograd`] in a plan: it has the form, and it is large enough to gain.
pub fn accepts(conv: &Conv, kernel_shape: &[usize], out_hw: &[usize]) -> bool {
    let macs = kernel_shape.iter().product::<usize>() * out_hw.iter().product::<usize>();
    has_form(conv, kernel_shape)
        && macs >= MIN_MACS
        && kernel_shape[0] >= MIN_CHANNELS
        && kernel_shape[1] >= MIN_CHANNELS
}

impl Winograd {
    /// The Winograd form of `conv` at `node`, whatever its size, if it is a dense 3x3 stride-1
    /// float convolution with constant kernel and bias on concrete shapes.
    pub fn for_conv(
        model: &TypedModel,
        node: &TypedNode,
        conv: &Conv,
    ) -> TractResult<Option<Winograd>> {
        let spec = &conv.pool_spec;
        if node.inputs.len() != 3 {
            return Ok(None);
        }
        let xf = model.outlet_fact(node.inputs[0])?;
        let kf = model.outlet_fact(node.inputs[1])?;
        let bf = model.outlet_fact(node.inputs[2])?;
        let (Some(xs), Some(ys), Some(k), Some(b)) = (
            xf.shape.as_concrete(),
            node.outputs[0].fact.shape.as_concrete(),
            kf.konst.as_ref(),
            bf.konst.as_ref(),
        ) else {
            return Ok(None);
        };
        if xf.datum_type != f32::datum_type()
            || k.datum_type() != f32::datum_type()
            || b.datum_type() != f32::datum_type()
            || xs.len() != 4
            || ys.len() != 4
            || !has_form(conv, k.shape())
        {
            return Ok(None);
        }
        let (c, h, w) = (xs[1], xs[2], xs[3]);
        let (o, ho, wo) = (ys[1], ys[2], ys[3]);
        if [c, h, w, o, ho, wo].contains(&0) || k.shape()[..2] != [o, c] {
            return Ok(None);
        }
        let pads = spec.computed_padding(&[h, w]);
        let (top, left) = (pads[0].pad_before, pads[1].pad_before);
        if ho + 2 != h + top + pads[0].pad_after || wo + 2 != w + left + pads[1].pad_after {
            return Ok(None);
        }
        let bias: Vec<f32> = match b.len() {
            1 => vec![b.try_as_plain_ram()?.as_slice::<f32>()?[0]; o],
            n if n == o => b.try_as_plain_ram()?.as_slice::<f32>()?.to_vec(),
            _ => return Ok(None),
        };
        let u = kernel_transform(k.try_as_plain_ram()?.as_slice::<f32>()?, o, c);
        let (th, tw) = (ho.div_ceil(2), wo.div_ceil(2));
        let mut m = TypedModel::default();
        let v = m.add_source("v", f32::fact([16, c, th * tw]))?;
        let u = m.add_const("u", tensor1(&u).into_shape(&[16, o, c])?)?;
        let axes = AxesMapping::from_strs(&["goc", "gct"], &["got"])?;
        let out = m.wire_node("product", EinSum::new(axes, f32::datum_type()), &[u, v])?;
        m.select_output_outlets(&out)?;
        let product = SimplePlan::new(m.into_optimized()?)?;
        Ok(Some(Winograd {
            c,
            o,
            h,
            w,
            ho,
            wo,
            top,
            left,
            th,
            tw,
            bias: Arc::new(bias),
            product,
        }))
    }

    /// B^T X B of every 4x4 input tile of one image: `v` is (16, c, tiles).
    ///
    /// Tile j of a row starts at padded column 2j: the rows are split into even and odd
    /// columns so that the transform of all the tiles of a row is a few contiguous vector
    /// operations.
    fn input_transform(&self, x: &[f32], v: &mut [f32]) {
        let (c, h, w, th, tw) = (self.c, self.h, self.w, self.th, self.tw);
        let t = th * tw;
        let n = tw + 1;
        // rows[r]: even columns then odd columns of padded input row r of the tile row.
        let mut rows = vec![0f32; 8 * n];
        let mut tr = vec![0f32; 8 * n];
        for ch in 0..c {
            let plane = &x[ch * h * w..][..h * w];
            for i in 0..th {
                for r in 0..4 {
                    let (ev, od) = rows[r * 2 * n..][..2 * n].split_at_mut(n);
                    ev.fill(0.0);
                    od.fill(0.0);
                    let y = (2 * i + r) as isize - self.top as isize;
                    if y < 0 || y as usize >= h {
                        continue;
                    }
                    let src = &plane[y as usize * w..][..w];
                    // Padded column p = col + left goes to ev[p / 2] or od[p / 2].
                    let (first, second) = if self.left.is_multiple_of(2) {
                        (ev, od)
                    } else {
                        (od, ev)
                    };
                    let start = self.left / 2;
                    let second_start = start + self.left % 2;
                    let pairs = src.chunks_exact(2);
                    let rest = pairs.remainder();
                    let k = w / 2;
                    for ((a, b), pair) in first[start..start + k]
                        .iter_mut()
                        .zip(second[second_start..second_start + k].iter_mut())
                        .zip(pairs)
                    {
                        *a = pair[0];
                        *b = pair[1];
                    }
                    if let [last] = rest {
                        first[start + k] = *last;
                    }
                }
                {
                    let (r0, rest) = rows.split_at(2 * n);
                    let (r1, rest) = rest.split_at(2 * n);
                    let (r2, r3) = rest.split_at(2 * n);
                    let (t0, rest) = tr.split_at_mut(2 * n);
                    let (t1, rest) = rest.split_at_mut(2 * n);
                    let (t2, t3) = rest.split_at_mut(2 * n);
                    for s in 0..2 * n {
                        t0[s] = r0[s] - r2[s];
                        t1[s] = r1[s] + r2[s];
                        t2[s] = r2[s] - r1[s];
                        t3[s] = r1[s] - r3[s];
                    }
                }
                for a in 0..4 {
                    let (ev, od) = tr[a * 2 * n..][..2 * n].split_at(n);
                    let (e0, e1) = (&ev[..tw], &ev[1..]);
                    let (o0, o1) = (&od[..tw], &od[1..]);
                    let at = |b: usize| ((a * 4 + b) * c + ch) * t + i * tw;
                    for (j, out) in v[at(0)..][..tw].iter_mut().enumerate() {
                        *out = e0[j] - e1[j];
                    }
                    for (j, out) in v[at(1)..][..tw].iter_mut().enumerate() {
                        *out = o0[j] + e1[j];
                    }
                    for (j, out) in v[at(2)..][..tw].iter_mut().enumerate() {
                        *out = e1[j] - o0[j];
                    }
                    for (j, out) in v[at(3)..][..tw].iter_mut().enumerate() {
                        *out = o0[j] - o1[j];
                    }
                }
            }
        }
    }

    /// A^T M A + bias of every tile into one image's output `y` (o, ho, wo).
    fn output_transform(&self, m: &[f32], y: &mut [f32]) {
        let (o, ho, wo, th, tw) = (self.o, self.ho, self.wo, self.th, self.tw);
        let t = th * tw;
        let mut s = vec![0f32; 8 * tw];
        for oc in 0..o {
            let bias = self.bias[oc];
            let plane = &mut y[oc * ho * wo..][..ho * wo];
            for i in 0..th {
                let row = |xi: usize| &m[(xi * o + oc) * t + i * tw..][..tw];
                // Rows first: s[p][b] = sum over a of A^T[p][a] M[a][b].
                for b in 0..4 {
                    let (m0, m1, m2, m3) = (row(b), row(4 + b), row(8 + b), row(12 + b));
                    let (s0, s1) = s.split_at_mut(4 * tw);
                    let s0 = &mut s0[b * tw..][..tw];
                    let s1 = &mut s1[b * tw..][..tw];
                    for j in 0..tw {
                        s0[j] = m0[j] + m1[j] + m2[j];
                        s1[j] = m1[j] - m2[j] - m3[j];
                    }
                }
                for p in 0..2 {
                    let y_row = 2 * i + p;
                    if y_row >= ho {
                        break;
                    }
                    let sp = &s[p * 4 * tw..][..4 * tw];
                    let (q0, q1) = sp.split_at(tw);
                    let (q1, q2) = q1.split_at(tw);
                    let (q2, q3) = q2.split_at(tw);
                    let out = &mut plane[y_row * wo..][..wo];
                    let full = wo / 2;
                    for (j, pair) in out.chunks_exact_mut(2).enumerate() {
                        pair[0] = q0[j] + q1[j] + q2[j] + bias;
                        pair[1] = q1[j] - q2[j] - q3[j] + bias;
                    }
                    if wo % 2 == 1 {
                        out[wo - 1] = q0[full] + q1[full] + q2[full] + bias;
                    }
                }
            }
        }
    }
}

impl Op for Winograd {
    fn name(&self) -> StaticName {
        "WinogradConv".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Winograd {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let per_in = self.c * self.h * self.w;
        let per_out = self.o * self.ho * self.wo;
        ensure!(
            x.len() % per_in == 0,
            "Winograd convolution: input of {} values for images of {per_in}",
            x.len()
        );
        let n = x.len() / per_in;
        // Every value is written by the output transform.
        let mut y = unsafe { Tensor::uninitialized::<f32>(&[n, self.o, self.ho, self.wo])? };
        {
            let mut yv = y.try_as_plain_ram_mut()?;
            let ys = yv.as_slice_mut::<f32>()?;
            for b in 0..n {
                // Every value is written by the transform.
                let mut v =
                    unsafe { Tensor::uninitialized::<f32>(&[16, self.c, self.th * self.tw])? };
                self.input_transform(
                    &x[b * per_in..][..per_in],
                    v.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
                );
                let m = self.product.run(tvec!(v.into_tvalue()))?;
                let m = m[0].try_as_plain_ram()?;
                self.output_transform(m.as_slice::<f32>()?, &mut ys[b * per_out..][..per_out]);
            }
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for Winograd {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = inputs[0].shape[0].clone();
        Ok(tvec!(f32::fact(tvec!(
            n,
            self.o.to_dim(),
            self.ho.to_dim(),
            self.wo.to_dim()
        ))))
    }

    as_op!();
}

/// A dense 3x3 convolution (NCHW data, OIHW kernel) from `c` to `o` channels with explicit
/// padding (before and after, per spatial axis) and stride: what the tests and
/// `bench/bench_winograd.rs` build their models from.
pub fn conv3x3(c: usize, o: usize, before: [usize; 2], after: [usize; 2], stride: usize) -> Conv {
    let spec = PoolSpec::new(
        DataFormat::NCHW,
        tvec!(3, 3),
        PaddingSpec::Explicit(before.to_vec().into(), after.to_vec().into()),
        None,
        Some(tvec!(stride, stride)),
        c,
        o,
    );
    Conv {
        pool_spec: spec,
        kernel_fmt: KernelFormat::OIHW,
        group: 1,
        q_params: None,
    }
}

/// Replaces every convolution of `model` that [`accepts`] takes, in place.
pub fn rewrite(model: &mut TypedModel) -> TractResult<()> {
    super::swap_ops::<Conv>(model, |m, node, conv| {
        if node.inputs.len() != 3 {
            return Ok(None);
        }
        let (Some(k), Some(y)) = (
            m.outlet_fact(node.inputs[1])?.shape.as_concrete(),
            node.outputs[0].fact.shape.as_concrete(),
        ) else {
            return Ok(None);
        };
        if y.len() != 4 || !accepts(conv, k, &y[2..]) {
            return Ok(None);
        }
        Ok(Winograd::for_conv(m, node, conv)?.map(|op| Box::new(op) as _))
    })
}
