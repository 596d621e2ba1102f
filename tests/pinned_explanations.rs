//! Pins the native explanation of each case in tests/fixtures/explain/cases.json, which the
//! wasm test replays in Chromium. `SALIENCY_PIN=1 cargo test --release --test pinned_explanations`
//! rewrites the files (after an intended change); otherwise the native result must not move.

use saliency::request::Request;
use saliency::{npy, Explainer, Model};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn native_explanations_match_the_pinned_files() {
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/explain/cases.json")).unwrap(),
    )
    .unwrap();
    let name = cases["model"].as_str().unwrap();
    let model = Model::load(
        &std::fs::read(root().join(format!("models/{name}.onnx"))).unwrap(),
        Some(&std::fs::read_to_string(root().join(format!("models/{name}.json"))).unwrap()),
    )
    .unwrap();
    let x = npy::read_f32(
        &std::fs::read(root().join(format!("tests/fixtures/{name}.input.npy"))).unwrap(),
    )
    .unwrap();
    let sc = model.sidecar.clone();
    let mut ex = Explainer::new(model);
    let pin = std::env::var("SALIENCY_PIN").is_ok();
    for case in cases["cases"].as_array().unwrap() {
        let key = case["key"].as_str().unwrap();
        let req = Request::from_json(&case["request"].to_string()).unwrap();
        let e = ex
            .explain(&x, &req.to_method(&x, &sc).unwrap(), req.target)
            .unwrap();
        let path = root().join(format!("tests/fixtures/explain/{name}.{key}.npy"));
        if pin {
            std::fs::write(&path, npy::write_f32(&e.attribution).unwrap()).unwrap();
            continue;
        }
        let want = npy::read_f32(
            &std::fs::read(&path)
                .unwrap_or_else(|_| panic!("{} missing: run with SALIENCY_PIN=1", path.display())),
        )
        .unwrap();
        assert_eq!(e.attribution.shape(), want.shape(), "{key}");
        let num: f32 = e
            .attribution
            .iter()
            .zip(want.iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt();
        let den: f32 = want.iter().map(|b| b * b).sum::<f32>().sqrt();
        assert!(
            den > 0.0 && num / den <= 1e-6,
            "{key}: native result moved (rel L2 {})",
            num / den
        );
    }
}
