//! Helpers shared by the fixture tests (`mod common;` in each).
#![allow(dead_code)] // each test file uses its own subset

use saliency::lrp::LrpSpec;
use saliency::{Baseline, IgRule, Method};
use serde_json::Value;

/// Relative L2 distance of `a` to the reference `r` (in f64), for arrays or slices.
pub fn rel_l2<'a>(
    a: impl IntoIterator<Item = &'a f32>,
    r: impl IntoIterator<Item = &'a f32> + Clone,
) -> f64 {
    let num: f64 = a
        .into_iter()
        .zip(r.clone())
        .map(|(&a, &r)| (a as f64 - r as f64).powi(2))
        .sum();
    let den: f64 = r.into_iter().map(|&r| (r as f64).powi(2)).sum();
    (num / den.max(1e-60)).sqrt()
}

/// Logits against a reference: the largest absolute difference and the reference's largest
/// magnitude (the tests allow a difference relative to it).
pub fn logit_gap<'a>(
    a: impl IntoIterator<Item = &'a f32>,
    r: impl IntoIterator<Item = &'a f32> + Clone,
) -> (f32, f32) {
    let scale = r.clone().into_iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = a
        .into_iter()
        .zip(r)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    (d, scale)
}

/// The method of a fixture case (`{"method": ..., "params": {...}}`, as the generator scripts
/// write them).
pub fn method_of(case: &Value) -> Method {
    let p = &case["params"];
    let f = |k: &str| p.get(k).and_then(|v| v.as_f64()).map(|v| v as f32);
    match case["method"].as_str().unwrap() {
        "gradient" => Method::Gradient,
        "gradient-x-input" => Method::GradientXInput,
        "guided-backprop" => Method::GuidedBackprop,
        "integrated-gradients" => Method::IntegratedGradients {
            steps: p["steps"].as_u64().unwrap() as usize,
            rule: IgRule::parse(p["rule"].as_str().unwrap()).unwrap(),
            baseline: Baseline::Constant(p["baseline"].as_f64().unwrap() as f32),
        },
        "grad-cam" => Method::GradCam {
            layer: p["layer"].as_str().unwrap().into(),
        },
        "cam" => Method::Cam {
            layer: p["layer"].as_str().map(Into::into),
        },
        "lrp" => {
            Method::Lrp(LrpSpec::parse(&[], p["composite"].as_str(), f("low"), f("high")).unwrap())
        }
        m => panic!("unknown method {m}"),
    }
}
