//! LRP against Zennit 0.5 (float64) on the small nets of tests/fixtures/lrp/ (made by
//! tests/fixtures/make_zennit_refs.py): BatchNorm after a conv (folded by tract, and left as
//! Mul/Add after a depthwise and a 1x1 conv), ReLU6, LeakyReLU, max / average / global average
//! pools, a residual Add, a Concat feeding a 1x1 conv, dense layers; every rule and composite.

mod common;
use common::rel_l2;

use saliency::lrp::{LrpRule, LrpSpec};
use saliency::{npy, Explainer, Method, Model, Sidecar};
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn lrp_matches_zennit() {
    let dir = Path::new(ROOT).join("tests/fixtures/lrp");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let mut failures = vec![];
    let mut count = 0;
    for net in index["nets"].as_array().unwrap() {
        let name = net["net"].as_str().unwrap();
        let shape: Vec<usize> = net["input_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let mut sc = Sidecar::default_for(&shape).unwrap();
        sc.preprocess.mean = net["mean"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        sc.preprocess.std = net["std"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let bytes = std::fs::read(dir.join(net["onnx"].as_str().unwrap())).unwrap();
        let mut ex = Explainer::new(Model::load_with(&bytes, Some(sc)).unwrap());
        let x =
            npy::read_f32(&std::fs::read(dir.join(format!("{name}.input.npy"))).unwrap()).unwrap();
        let target = net["target"].as_u64().unwrap() as usize;
        for case in net["cases"].as_array().unwrap() {
            let key = case["key"].as_str().unwrap();
            let rules: Vec<(String, String)> = case["rules"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .map(|p| {
                            (
                                p[0].as_str().unwrap().to_string(),
                                p[1].as_str().unwrap().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let f = |k: &str| case.get(k).and_then(|v| v.as_f64()).map(|v| v as f32);
            let spec =
                LrpSpec::parse(&rules, case["composite"].as_str(), f("low"), f("high")).unwrap();
            let e = ex.explain(&x, &Method::Lrp(spec), Some(target)).unwrap();
            let want =
                npy::read_f32(&std::fs::read(dir.join(format!("{name}.{key}.npy"))).unwrap())
                    .unwrap();
            assert_eq!(e.attribution.shape(), want.shape(), "{name}/{key}");
            let err = rel_l2(e.attribution.as_slice().unwrap(), want.as_slice().unwrap());
            count += 1;
            eprintln!("{name}/{key}: rel-L2 {err:.1e}");
            if !(err <= 1e-4) {
                failures.push(format!("{name}/{key}: rel-L2 {err:.2e}"));
            }
            // Conservation bookkeeping: sum(R_input) + absorbed = score, whatever the rule.
            let c = e.lrp.unwrap();
            assert!(
                (c.relevance_sum + c.absorbed - c.score).abs() < 1e-9,
                "{name}/{key}"
            );
            assert!(
                (c.score - net["score"].as_f64().unwrap()).abs() < 1e-4 * (1.0 + c.score.abs()),
                "{name}/{key}"
            );
        }
    }
    assert!(count >= 20, "only {count} cases");
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

#[test]
fn canonisation_is_reported() {
    let bytes = std::fs::read(Path::new(ROOT).join("tests/fixtures/lrp/bn_dw.onnx")).unwrap();
    let m = Model::load_with(&bytes, None).unwrap();
    let g = saliency::lrp::LrpGraph::build(&m).unwrap();
    let text = g.canonization.join("\n");
    assert_eq!(g.canonization.len(), 3, "{text}");
    assert!(
        text.contains("features.1/BatchNormalization")
            && text.contains("folded when the model was simplified"),
        "{text}"
    );
    assert!(
        text.contains("features.5/BatchNormalization") && text.contains("Mul/Add"),
        "{text}"
    );
    let _ = LrpRule::Flat;
}
