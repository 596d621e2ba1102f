//! Explanation time per bundled model and method, natively: the median of N runs after a
//! warm-up, and its ratio to the same model's forward time (targets: gradient and grad-cam
//! <= 3x forward, integrated gradients with n steps <= 3n x).
//!     cargo run --release --example bench_explain [-- RUNS]
//! (from the repository root: it reads models/ and tests/fixtures/)
//! A benchmark, not a test: declared as an example in Cargo.toml, described in bench/README.md,
//! results in bench/RESULTS.md.
use saliency::{info, npy, Baseline, Explainer, IgRule, Method, Model, Sidecar};
use std::time::Instant;

fn median(mut f: impl FnMut(), runs: usize) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("models/index.json").unwrap()).unwrap();
    println!(
        "{:<20} {:<24} {:>10} {:>10} {:>8} {:>8}",
        "model", "method", "plan ms", "ms", "x fwd", "target"
    );
    for m in index["models"].as_array().unwrap() {
        let sc = Sidecar::from_json(
            &std::fs::read_to_string(format!("models/{}", m["sidecar"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let bytes = std::fs::read(format!("models/{}", sc.file.as_ref().unwrap())).unwrap();
        let model = Model::load_with(&bytes, Some(sc.clone())).unwrap();
        let x =
            npy::read_f32(&std::fs::read(format!("tests/fixtures/{}.input.npy", sc.name)).unwrap())
                .unwrap();
        let fwd = median(|| drop(model.forward(&x).unwrap()), runs);
        // Grad-CAM on the last spatial layer the simplified graph keeps.
        let spatial: Vec<String> = info::describe(&model)
            .spatial_layers
            .iter()
            .map(|n| n.output.clone())
            .collect();
        let mut ex = Explainer::new(model);
        let t0 = Instant::now();
        ex.prepare().unwrap();
        let plan = t0.elapsed().as_secs_f64() * 1e3;
        println!(
            "{:<20} {:<24} {:>10} {:>10.3} {:>8} {:>8}",
            sc.name, "forward", "", fwd, "1.0", ""
        );
        let layer = spatial
            .iter()
            .rev()
            .find(|l| {
                ex.explain(
                    &x,
                    &Method::GradCam {
                        layer: (*l).clone(),
                    },
                    None,
                )
                .is_ok()
            })
            .cloned();
        let mut methods: Vec<(String, Method, f64)> = vec![
            ("gradient".into(), Method::Gradient, 3.0),
            ("guided-backprop".into(), Method::GuidedBackprop, 3.0),
            (
                "integrated-gradients/16".into(),
                Method::IntegratedGradients {
                    steps: 16,
                    rule: IgRule::GaussLegendre,
                    baseline: Baseline::Constant(0.0),
                },
                48.0,
            ),
        ];
        if let Some(l) = layer {
            methods.push(("grad-cam".into(), Method::GradCam { layer: l }, 3.0));
        }
        if saliency::methods::cam_layer(ex.model()).is_ok() {
            methods.push(("cam".into(), Method::Cam { layer: None }, 3.0));
        }
        for (name, method, target) in methods {
            let ms = median(|| drop(ex.explain(&x, &method, None).unwrap()), runs);
            println!(
                "{:<20} {:<24} {:>10.1} {:>10.3} {:>8.2} {:>7}x",
                sc.name,
                name,
                plan,
                ms,
                ms / fwd,
                target
            );
        }
    }
}
