//! Small array helpers the forward kernels, the reverse pass and LRP share: the array type,
//! branch-free clamps, and moving values between ndarray and tract.

use tract_onnx::prelude::tract_ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use tract_onnx::tract_core::internal::*;

/// The float tensors every explanation computes with.
pub type Array = ArrayD<f32>;

/// max(v, 0) as a compare and a select: `f32::max` is a call to libm's fmaxf in wasm, once per
/// element. The same for NaN (0).
#[inline(always)]
pub fn pos(v: f32) -> f32 {
    if v > 0.0 {
        v
    } else {
        0.0
    }
}

/// min(v, 0), likewise.
#[inline(always)]
pub fn neg(v: f32) -> f32 {
    if v < 0.0 {
        v
    } else {
        0.0
    }
}

/// `a.max(b)` (the other one when one is NaN), likewise.
#[inline(always)]
pub fn max(a: f32, b: f32) -> f32 {
    if a > b || b.is_nan() {
        a
    } else {
        b
    }
}

/// A tensor holding a copy of `x`: one copy (`Array::into_tensor` copies as well, so cloning
/// the array first copied it twice).
pub fn tensor_of(x: ArrayViewD<f32>) -> TractResult<Tensor> {
    match x.as_slice() {
        Some(v) => Tensor::from_shape(x.shape(), v),
        None => Ok(x.to_owned().into_tensor()),
    }
}

/// Sums `g` over the axes where `shape` has size 1 (undoing a broadcast).
pub fn unbroadcast(g: Array, shape: &[usize]) -> Array {
    if g.shape() == shape {
        return g;
    }
    let mut g = g;
    for ax in 0..shape.len().min(g.ndim()) {
        if shape[ax] == 1 && g.shape()[ax] != 1 {
            g = g.sum_axis(Axis(ax)).insert_axis(Axis(ax));
        }
    }
    g.into_shape_with_order(IxDyn(shape))
        .expect("broadcast shapes")
}

/// `g` broadcast to `shape`. The common case, a sum over trailing axes (global average pooling),
/// repeats each value over a contiguous run: ndarray's general broadcast copy goes element by
/// element through an n-dimensional index (7 % of an IG step on the MNIST CAM net).
pub fn spread(g: &Array, shape: &[usize]) -> TractResult<Array> {
    let k = (0..=g.ndim())
        .rev()
        .find(|&k| k == 0 || g.shape()[k - 1] != 1)
        .unwrap_or(0);
    if g.ndim() == shape.len() && g.shape()[..k] == shape[..k] {
        if let Some(src) = g.as_slice() {
            let run: usize = shape[k..].iter().product();
            let mut out = Vec::with_capacity(src.len() * run);
            for &v in src {
                out.extend(std::iter::repeat_n(v, run));
            }
            return Ok(Array::from_shape_vec(IxDyn(shape), out)?);
        }
    }
    Ok(g.broadcast(IxDyn(shape))
        .ok_or_else(|| format_err!("reduce broadcast"))?
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::prelude::tract_ndarray::IxDyn;

    /// The fast path (a sum over trailing axes) and the general one give ndarray's broadcast.
    #[test]
    fn spread_equals_the_broadcast() {
        let cases: [(&[usize], &[usize]); 5] = [
            (&[1, 3, 1, 1], &[1, 3, 4, 5]),
            (&[2, 3, 1], &[2, 3, 4]),
            (&[1, 1, 1], &[2, 3, 4]),
            (&[2, 1, 4], &[2, 3, 4]),
            (&[2, 3], &[2, 3]),
        ];
        for (from, to) in cases {
            let n: usize = from.iter().product();
            let g = Array::from_shape_vec(IxDyn(from), (0..n).map(|v| v as f32).collect()).unwrap();
            let want = g.broadcast(IxDyn(to)).unwrap().to_owned();
            assert_eq!(spread(&g, to).unwrap(), want, "{from:?} -> {to:?}");
        }
        let g = Array::zeros(IxDyn(&[2, 3]));
        assert!(spread(&g, &[4, 3]).is_err());
    }
}
