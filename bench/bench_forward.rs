//! Forward-pass time per bundled model, natively (median of N runs after a warm-up).
//!     cargo run --release --example bench_forward [-- RUNS]
//! (from the repository root: it reads models/ and tests/fixtures/)
//! A benchmark, not a test: declared as an example in Cargo.toml, described in bench/README.md,
//! results in bench/RESULTS.md.
use saliency::{npy, Model, Sidecar};
use std::time::Instant;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("models/index.json").unwrap()).unwrap();
    println!(
        "{:<20} {:>10} {:>12} {:>8}",
        "model", "load ms", "forward ms", "runs"
    );
    for m in index["models"].as_array().unwrap() {
        let sc = Sidecar::from_json(
            &std::fs::read_to_string(format!("models/{}", m["sidecar"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let bytes = std::fs::read(format!("models/{}", sc.file.as_ref().unwrap())).unwrap();
        let t0 = Instant::now();
        let model = Model::load_with(&bytes, Some(sc.clone())).unwrap();
        let load = t0.elapsed().as_secs_f64() * 1e3;
        let x =
            npy::read_f32(&std::fs::read(format!("tests/fixtures/{}.input.npy", sc.name)).unwrap())
                .unwrap();
        model.forward(&x).unwrap();
        let mut t: Vec<f64> = (0..runs)
            .map(|_| {
                let t0 = Instant::now();
                model.forward(&x).unwrap();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        println!(
            "{:<20} {:>10.1} {:>12.3} {:>8}",
            sc.name,
            load,
            t[t.len() / 2],
            runs
        );
    }
}
