//! The ops that every plan is rewritten with, against tract's own: the Winograd form of 3x3
//! convolutions (`src/kernels/winograd.rs`) on shapes that exercise its edges (odd sizes, a last
//! tile half outside, padding on one side only or none, a batch, a scalar bias, one channel),
//! the max pool (`src/kernels/maxpool.rs`) and the narrow 1x1 product (`src/kernels/mix.rs`). Natively and, through
//! scripts/test-wasm.sh, in WebAssembly in Chromium.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// In wasm, tract's kernels are registered by static constructors, which run once per instance
/// from `saliency::wasm::init` (the module is no longer a linker "command" that runs them on
/// every call).
fn init() {
    #[cfg(target_arch = "wasm32")]
    saliency::wasm::init();
}

use saliency::kernels::maxpool::{self, FastMaxPool};
use saliency::kernels::winograd::{self, Winograd};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, MaxPool, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104729) % 2003) as f32 / 1001.5 - 1.0)
        .collect()
}

struct Case {
    n: usize,
    c: usize,
    o: usize,
    h: usize,
    w: usize,
    before: [usize; 2],
    after: [usize; 2],
    scalar_bias: bool,
    stride: usize,
}

fn conv_model(k: &Case) -> TractResult<TypedModel> {
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact([k.n, k.c, k.h, k.w]))?;
    let w = tract_ndarray::Array4::from_shape_vec((k.o, k.c, 3, 3), values(k.o * k.c * 9, 1))?;
    let w = m.add_const("w", w.into_tensor())?;
    let b = if k.scalar_bias {
        tensor0(0.25f32)
    } else {
        tract_ndarray::Array1::from_vec(values(k.o, 2)).into_tensor()
    };
    let b = m.add_const("b", b)?;
    let op = winograd::conv3x3(k.c, k.o, k.before, k.after, k.stride);
    let y = m.wire_node("conv", op, &[x, w, b])?;
    m.select_output_outlets(&y)?;
    Ok(m)
}

fn run(m: TypedModel, x: &Tensor) -> TractResult<Vec<f32>> {
    let out = SimplePlan::new(m.into_optimized()?)?.run(tvec!(x.clone().into()))?;
    Ok(out[0]
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect())
}

fn conv_node(m: &TypedModel) -> usize {
    m.nodes().iter().position(|n| n.op_is::<Conv>()).unwrap()
}

#[test]
fn winograd_matches_tract_convolution() -> TractResult<()> {
    init();
    let case = |n, c, o, h, w, before, after, scalar_bias| Case {
        n,
        c,
        o,
        h,
        w,
        before,
        after,
        scalar_bias,
        stride: 1,
    };
    for k in [
        case(1, 3, 5, 8, 8, [1, 1], [1, 1], false),
        case(1, 4, 6, 7, 9, [1, 1], [1, 1], false),
        case(2, 5, 3, 6, 5, [0, 0], [0, 0], true),
        case(1, 2, 4, 5, 6, [2, 0], [0, 2], false),
        case(1, 1, 1, 3, 3, [0, 1], [1, 0], false),
        case(1, 1, 2, 1, 4, [1, 1], [1, 1], true),
        case(1, 40, 36, 13, 11, [1, 1], [1, 1], false),
    ] {
        assert_matches(&k)?;
    }
    Ok(())
}

/// Winograd::for_conv on the convolution of case `k`, run against tract's plan of it.
fn assert_matches(k: &Case) -> TractResult<()> {
    let m = conv_model(k)?;
    let x = tract_ndarray::Array4::from_shape_vec(
        (k.n, k.c, k.h, k.w),
        values(k.n * k.c * k.h * k.w, 3),
    )?
    .into_tensor();
    let direct = run(m.clone(), &x)?;
    let id = conv_node(&m);
    let op = Winograd::for_conv(&m, &m.nodes()[id], m.nodes()[id].op_as::<Conv>().unwrap())?
        .expect("a 3x3 stride-1 convolution has a Winograd form");
    let mut wm = m.clone();
    wm.node_mut(id).op = Box::new(op);
    let wino = run(wm, &x)?;
    assert_eq!(direct.len(), wino.len());
    let scale = direct.iter().fold(1e-3f32, |a, v| a.max(v.abs()));
    let err = direct
        .iter()
        .zip(&wino)
        .fold(0f32, |a, (p, q)| a.max((p - q).abs()));
    assert!(
        err <= 1e-5 * scale,
        "{}x{}x{}x{} -> {} pads {:?}/{:?}: max error {err} (scale {scale})",
        k.n,
        k.c,
        k.h,
        k.w,
        k.o,
        k.before,
        k.after
    );
    Ok(())
}

/// 400 random small cases: any size from 1, padding 0 to 3 on each side (an output row may
/// see only padding), a batch of 1 or 2.
#[test]
fn winograd_matches_tract_on_random_shapes() -> TractResult<()> {
    init();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut tested = 0;
    while tested < 400 {
        let k = Case {
            n: 1 + next(2),
            c: 1 + next(6),
            o: 1 + next(6),
            h: 1 + next(12),
            w: 1 + next(12),
            before: [next(4), next(4)],
            after: [next(4), next(4)],
            scalar_bias: next(2) == 0,
            stride: 1,
        };
        if k.h + k.before[0] + k.after[0] < 3 || k.w + k.before[1] + k.after[1] < 3 {
            continue;
        }
        assert_matches(&k)?;
        tested += 1;
    }
    Ok(())
}

#[test]
fn only_large_dense_stride_one_convolutions_are_rewritten() -> TractResult<()> {
    init();
    let case = |c, o, h, stride| Case {
        n: 1,
        c,
        o,
        h,
        w: h,
        before: [1, 1],
        after: [1, 1],
        scalar_bias: false,
        stride,
    };
    // (case, natively, in wasm): the thresholds differ (see winograd.rs).
    for (k, native, wasm) in [
        (case(32, 32, 56, 1), true, true),   // 29 M multiply-adds
        (case(256, 256, 7, 1), true, true),  // ResNet-18's last stage
        (case(16, 16, 56, 1), false, true),  // few channels
        (case(64, 64, 7, 1), false, true),   // 1.8 M multiply-adds
        (case(8, 8, 14, 1), false, false),   // 0.1 M
        (case(4, 64, 56, 1), false, false),  // 4 input channels
        (case(64, 64, 57, 2), false, false), // strided
    ] {
        let expected = if cfg!(target_arch = "wasm32") {
            wasm
        } else {
            native
        };
        let mut m = conv_model(&k)?;
        winograd::rewrite(&mut m)?;
        let rewritten = m.nodes().iter().any(|n| n.op_is::<Winograd>());
        assert_eq!(
            rewritten, expected,
            "{} -> {} on {}x{}, stride {}",
            k.c, k.o, k.h, k.h, k.stride
        );
    }
    Ok(())
}

/// The max pool against tract's: 2x2 stride 2 on even and odd sizes (the last row and column
/// dropped), a batch, 3-D (CHW) input, negative values; other windows, strides and padding
/// (explicit, and Keras' "same" on odd and even sizes); and which pools are taken.
#[test]
fn maxpool_matches_tract() -> TractResult<()> {
    init();
    let pool = |c, kernel: usize, stride: usize, padding: PaddingSpec, format| MaxPool {
        pool_spec: PoolSpec::new(
            format,
            tvec!(kernel, kernel),
            padding,
            None,
            Some(tvec!(stride, stride)),
            c,
            c,
        ),
        with_index_outputs: None,
    };
    let pad = |p: usize| PaddingSpec::Explicit(tvec!(p, p), tvec!(p, p));
    for (shape, kernel, stride, padding, taken) in [
        (vec![1, 3, 8, 8], 2, 2, pad(0), true),
        (vec![2, 4, 7, 9], 2, 2, pad(0), true),
        (vec![1, 1, 1, 1], 2, 2, pad(0), false), // an empty output: tract's own
        (vec![5, 6, 6], 2, 2, pad(0), true),
        (vec![1, 2, 8, 8], 3, 2, pad(1), true),
        (vec![1, 2, 8, 8], 2, 1, pad(0), true),
        (vec![1, 2, 8, 8], 2, 2, pad(1), true),
        (vec![1, 3, 15, 15], 3, 2, PaddingSpec::SameUpper, true),
        (vec![1, 3, 16, 14], 3, 2, PaddingSpec::SameUpper, true),
        (vec![2, 2, 9, 11], 3, 1, pad(1), true),
        (vec![1, 2, 12, 10], 5, 3, pad(2), true),
        (vec![1, 1, 2, 2], 3, 1, pad(1), true),
    ] {
        let format = if shape.len() == 3 {
            DataFormat::CHW
        } else {
            DataFormat::NCHW
        };
        let c = shape[shape.len() - 3];
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(&shape))?;
        let y = m.wire_node(
            "pool",
            pool(c, kernel, stride, padding.clone(), format),
            &[x],
        )?;
        m.select_output_outlets(&y)?;
        let n: usize = shape.iter().product();
        let x = tract_ndarray::ArrayD::from_shape_vec(shape.clone(), values(n, 5))?.into_tensor();
        let id = y[0].node;
        let op = FastMaxPool::for_pool(&m, m.node(id), m.node(id).op_as::<MaxPool>().unwrap())?;
        assert_eq!(
            op.is_some(),
            taken,
            "{shape:?} kernel {kernel} stride {stride} {padding:?}"
        );
        let mut rewritten = m.clone();
        maxpool::rewrite(&mut rewritten)?;
        assert_eq!(
            rewritten.nodes().iter().any(|n| n.op_is::<FastMaxPool>()),
            taken
        );
        if taken {
            assert_eq!(run(m, &x)?, run(rewritten, &x)?, "{shape:?}");
        }
    }
    Ok(())
}

/// The narrow 1x1 product (`src/kernels/mix.rs`) against tract's einsum: both operand orders and
/// weight layouts, transposed products, row counts that are not a multiple of the tile, pixel
/// counts with a tail, a per-row or scalar bias taken over from the `Add` after it, a bias it
/// must leave to tract; and which products are taken.
#[test]
fn mix_matches_tract_einsum() -> TractResult<()> {
    init();
    use saliency::kernels::mix::{self, Mix};
    use tract_onnx::tract_core::ops::einsum::EinSum;
    use tract_onnx::tract_core::ops::math;
    struct Product {
        expr: &'static str,
        x: Vec<usize>,
        w: Vec<usize>,
        /// The weights are the first operand.
        w_first: bool,
        bias: Option<Vec<usize>>,
        taken: bool,
        fused: bool,
    }
    let p =
        |expr, x: &[usize], w: &[usize], w_first, bias: Option<&[usize]>, taken, fused| Product {
            expr,
            x: x.to_vec(),
            w: w.to_vec(),
            w_first,
            bias: bias.map(|b| b.to_vec()),
            taken,
            fused,
        };
    let cases = [
        p(
            "nihw,oi->nohw",
            &[1, 16, 60, 60],
            &[8, 16],
            false,
            Some(&[1, 8, 1, 1]),
            true,
            true,
        ),
        p(
            "nohw,oi->nihw",
            &[1, 8, 20, 20],
            &[8, 16],
            false,
            None,
            true,
            false,
        ),
        p(
            "ihw,oi->nohw",
            &[16, 9, 9],
            &[5, 16],
            false,
            Some(&[1, 5, 1, 1]),
            true,
            true,
        ),
        p(
            "oi,nihw->nohw",
            &[1, 3, 7, 5],
            &[6, 3],
            true,
            Some(&[1, 1, 1, 1]),
            true,
            true,
        ),
        p(
            "nihw,io->nohw",
            &[1, 7, 11, 13],
            &[7, 9],
            false,
            Some(&[1, 9, 1, 1]),
            true,
            true,
        ),
        p(
            "nihw,oi->ohw",
            &[1, 24, 28, 28],
            &[40, 24],
            false,
            None,
            true,
            false,
        ),
        // A bias along the pixels: the product is taken, the Add left to tract.
        p(
            "nihw,oi->nohw",
            &[1, 4, 6, 6],
            &[4, 4],
            false,
            Some(&[1, 1, 1, 6]),
            true,
            false,
        ),
        // Not this op's: a batch, fewer pixels than a tile, a dense layer.
        p(
            "nihw,oi->nohw",
            &[2, 8, 8, 8],
            &[8, 8],
            false,
            None,
            false,
            false,
        ),
        p(
            "nihw,oi->nohw",
            &[1, 16, 3, 3],
            &[8, 16],
            false,
            None,
            false,
            false,
        ),
        p(
            "mk,nk->mn",
            &[1, 128],
            &[10, 128],
            false,
            None,
            false,
            false,
        ),
    ];
    for (i, c) in cases.iter().enumerate() {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(&c.x))?;
        let wn: usize = c.w.iter().product();
        let w = tract_ndarray::ArrayD::from_shape_vec(c.w.clone(), values(wn, 3 + i))?;
        let w = m.add_const("w", w.into_tensor())?;
        let axes: AxesMapping = c.expr.parse()?;
        let ins = if c.w_first { [w, x] } else { [x, w] };
        let mut y = m.wire_node("product", EinSum::new(axes, f32::datum_type()), &ins)?;
        if let Some(shape) = &c.bias {
            let n: usize = shape.iter().product();
            let b = tract_ndarray::ArrayD::from_shape_vec(shape.clone(), values(n, 40 + i))?;
            let b = m.add_const("b", b.into_tensor())?;
            y = m.wire_node("bias", TypedBinOp(Box::new(math::Add), None), &[y[0], b])?;
        }
        m.select_output_outlets(&y)?;
        let n: usize = c.x.iter().product();
        let xv =
            tract_ndarray::ArrayD::from_shape_vec(c.x.clone(), values(n, 7 + i))?.into_tensor();
        let mut rewritten = m.clone();
        mix::rewrite(&mut rewritten)?;
        let taken = rewritten.nodes().iter().any(|n| n.op_is::<Mix>());
        assert_eq!(taken, c.taken, "{}: {:?} x {:?}", c.expr, c.x, c.w);
        let fused = rewritten.node(y[0].node).op_is::<Mix>() && c.bias.is_some();
        assert_eq!(fused, c.fused, "{}: {:?} bias {:?}", c.expr, c.x, c.bias);
        let (want, got) = (run(m, &xv)?, run(rewritten, &xv)?);
        assert_eq!(want.len(), got.len());
        let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        for (a, b) in want.iter().zip(&got) {
            assert!((a - b).abs() <= 1e-5 * scale, "{}: {a} vs {b}", c.expr);
        }
    }
    Ok(())
}

/// Which sizes the product is taken at, on this build (see `mix.rs`).
#[test]
fn mix_thresholds() {
    init();
    use saliency::kernels::mix::takes;
    assert!(takes(16, 8, 3600));
    assert!(takes(8, 16, 3600));
    assert!(takes(96, 16, 3136));
    assert!(!takes(16, 8, 9));
    assert!(!takes(10, 128, 1));
    assert!(!takes(1152, 192, 49));
}

/// The strided slice (`src/kernels/downsample.rs`) against tract's Downsample: each axis, strides
/// 1 to 3, an offset, odd lengths; a backward stride is left to tract.
#[test]
fn downsample_matches_tract() -> TractResult<()> {
    init();
    use saliency::kernels::downsample::{self, FastDownsample};
    use tract_onnx::tract_core::ops::Downsample;
    for (shape, axis, stride, modulo, taken) in [
        (vec![1, 8, 15, 15], 2, 2, 0, true),
        (vec![1, 8, 15, 15], 3, 2, 0, true),
        (vec![2, 3, 7, 9], 3, 3, 1, true),
        (vec![2, 3, 7, 9], 1, 2, 1, true),
        (vec![4, 5], 0, 3, 0, true),
        (vec![3, 6, 6], 2, 1, 0, true),
        (vec![1, 4, 6, 6], 3, -1, 0, false),
    ] {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(&shape))?;
        let y = m.wire_node(
            "down",
            Downsample {
                axis,
                stride,
                modulo,
            },
            &[x],
        )?;
        m.select_output_outlets(&y)?;
        let n: usize = shape.iter().product();
        let x = tract_ndarray::ArrayD::from_shape_vec(shape.clone(), values(n, 9))?.into_tensor();
        let mut rewritten = m.clone();
        downsample::rewrite(&mut rewritten)?;
        assert_eq!(
            rewritten
                .nodes()
                .iter()
                .any(|n| n.op_is::<FastDownsample>()),
            taken,
            "{shape:?} axis {axis} stride {stride}"
        );
        assert_eq!(
            run(m, &x)?,
            run(rewritten, &x)?,
            "{shape:?} axis {axis} stride {stride} modulo {modulo}"
        );
    }
    Ok(())
}
