//! One 3x3 stride-1 convolution, tract's own plan against the Winograd rewrite
//! (`src/kernels/winograd.rs`), per shape: where the rewrite pays.
//!     cargo run --release --example bench_winograd [-- RUNS]
//! A benchmark, not a test: declared as an example in Cargo.toml, described in bench/README.md,
//! results in bench/RESULTS.md.
use saliency::kernels::winograd::{self, Winograd};
#[path = "support/timing.rs"]
mod timing;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::Conv;

fn conv_model(c: usize, o: usize, h: usize) -> TractResult<TypedModel> {
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact([1, c, h, h]))?;
    let k: Vec<f32> = (0..o * c * 9)
        .map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5)
        .collect();
    let k = m.add_const(
        "k",
        tract_ndarray::Array4::from_shape_vec((o, c, 3, 3), k)?.into_tensor(),
    )?;
    let b = m.add_const("b", tract_ndarray::Array1::<f32>::zeros(o).into_tensor())?;
    let op = winograd::conv3x3(c, o, [1, 1], [1, 1], 1);
    let y = m.wire_node("conv", op, &[x, k, b])?;
    m.select_output_outlets(&y)?;
    Ok(m)
}

fn main() -> TractResult<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(21);
    println!(
        "{:>5} {:>5} {:>5} {:>10} {:>10} {:>7} {:>9}  in plans",
        "c", "o", "hw", "tract ms", "wino ms", "ratio", "max err"
    );
    for &(c, o, h) in &[
        (8, 8, 62),
        (16, 16, 28),
        (32, 32, 14),
        (32, 64, 14),
        (64, 64, 7),
        (64, 128, 7),
        (64, 64, 56),
        (128, 128, 28),
        (256, 256, 14),
        (512, 512, 7),
        (3, 64, 224),
        (64, 64, 112),
        (128, 128, 14),
        (256, 256, 7),
        (64, 64, 28),
        (32, 32, 56),
        (128, 128, 7),
        (32, 32, 28),
        (16, 16, 56),
        (32, 32, 112),
        (16, 32, 112),
    ] {
        let m = conv_model(c, o, h)?;
        let direct = SimplePlan::new(m.clone().into_optimized()?)?;
        // Winograd whatever the size (plans use it only where `accepts` says it pays).
        let id = m.nodes().iter().position(|n| n.op_is::<Conv>()).unwrap();
        let conv = m.nodes()[id].op_as::<Conv>().unwrap().clone();
        let used = winograd::accepts(&conv, &[o, c, 3, 3], &[h, h]);
        let mut wm = m.clone();
        let op = Winograd::for_conv(&m, &m.nodes()[id], &conv)?.unwrap();
        wm.node_mut(id).op = Box::new(op);
        let wino = SimplePlan::new(wm.into_optimized()?)?;
        let xs: Vec<f32> = (0..c * h * h)
            .map(|i| ((i * 104729) % 31) as f32 / 31.0 - 0.3)
            .collect();
        let x = tract_ndarray::Array4::from_shape_vec((1, c, h, h), xs)?.into_tensor();
        let a = direct.run(tvec!(x.clone().into()))?;
        let b = wino.run(tvec!(x.clone().into()))?;
        let a = a[0].to_plain_array_view::<f32>()?;
        let b = b[0].to_plain_array_view::<f32>()?;
        let err = a
            .iter()
            .zip(b.iter())
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max)
            / a.iter().map(|p| p.abs()).fold(0f32, f32::max);
        let (td, tw) = {
            let x = x.clone().into_tvalue();
            (
                timing::median_us(&direct, &x, runs, 1)? / 1e3,
                timing::median_us(&wino, &x, runs, 1)? / 1e3,
            )
        };
        println!(
            "{c:>5} {o:>5} {h:>5} {td:>10.3} {tw:>10.3} {:>7.2} {err:>9.1e}  {}",
            tw / td,
            if used { "yes" } else { "no" }
        );
    }
    Ok(())
}
