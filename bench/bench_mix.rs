//! One 1x1 product of a constant matrix with channels-first activations, tract's own plan
//! against the [`Mix`] op (`src/kernels/mix.rs`), per shape: where the op pays.
//!     cargo run --release --example bench_mix [-- RUNS]
//! A benchmark, not a test: declared as an example in Cargo.toml, described in bench/README.md,
//! results in bench/RESULTS.md.
use saliency::kernels::mix::{self, Mix};
#[path = "support/timing.rs"]
mod timing;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

fn product(m: usize, k: usize, h: usize) -> TractResult<TypedModel> {
    let mut g = TypedModel::default();
    let x = g.add_source("x", f32::fact([1, k, h, h]))?;
    let w: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
    let w = g.add_const(
        "w",
        tract_ndarray::Array2::from_shape_vec((m, k), w)?.into_tensor(),
    )?;
    let axes: AxesMapping = "nihw,oi->nohw".parse()?;
    let y = g.wire_node("product", EinSum::new(axes, f32::datum_type()), &[x, w])?;
    g.select_output_outlets(&y)?;
    Ok(g)
}

fn main() -> TractResult<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    println!(
        "{:>6} {:>6} {:>8} {:>8} {:>10} {:>10} {:>6} {:>6}",
        "m", "k", "pixels", "MMAC", "tract us", "mix us", "ratio", "taken"
    );
    for (m, k, h) in [
        (16, 8, 60),
        (8, 16, 60),
        (16, 16, 60),
        (32, 16, 30),
        (32, 32, 30),
        (64, 32, 15),
        (64, 64, 15),
        (128, 64, 7),
        (16, 32, 56),
        (96, 16, 56),
        (24, 96, 28),
        (40, 240, 28),
        (240, 40, 28),
        (80, 480, 14),
        (480, 80, 14),
        (192, 1152, 7),
        (1152, 192, 7),
        (128, 64, 28),
        (64, 128, 28),
    ] {
        let g = product(m, k, h)?;
        let plain = SimplePlan::new(g.clone().into_optimized()?)?;
        let mut r = g.clone();
        let id = r
            .nodes()
            .iter()
            .position(|n| n.op_is::<EinSum>())
            .expect("product");
        let op = Mix::for_einsum(
            &r,
            r.node(id),
            r.node(id).op_as::<EinSum>().expect("einsum"),
        )?
        .expect("a 1x1 product");
        r.node_mut(id).op = Box::new(op);
        let mixed = SimplePlan::new(r.into_optimized()?)?;
        let x = tract_ndarray::ArrayD::<f32>::from_elem(vec![1, k, h, h], 0.5).into_tvalue();
        let (a, b) = (
            timing::median_us(&plain, &x, runs, 20)?,
            timing::median_us(&mixed, &x, runs, 20)?,
        );
        println!(
            "{m:>6} {k:>6} {:>8} {:>8.2} {a:>10.1} {b:>10.1} {:>6.2} {:>6}",
            h * h,
            (m * k * h * h) as f64 / 1e6,
            b / a,
            mix::takes(m, k, h * h)
        );
    }
    Ok(())
}
