//! The bundled models: sidecars are consistent (sha256, labels, shapes), every model loads,
//! preprocessing matches an independent implementation (PIL + numpy), logits match
//! onnxruntime, and spot predictions are right.

use saliency::{npy, preprocess, Model, Sidecar};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use tract_onnx::prelude::tract_ndarray::ArrayD;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn index() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("models/index.json")).unwrap())
        .unwrap()
}

fn sidecars() -> Vec<Sidecar> {
    index()["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            Sidecar::from_json(
                &std::fs::read_to_string(
                    root().join("models").join(m["sidecar"].as_str().unwrap()),
                )
                .unwrap(),
            )
            .unwrap()
        })
        .collect()
}

fn load(sc: &Sidecar) -> Model {
    let bytes = std::fs::read(root().join("models").join(sc.file.as_ref().unwrap())).unwrap();
    Model::load_with(&bytes, Some(sc.clone())).unwrap_or_else(|e| panic!("{}: {e}", sc.name))
}

/// The bundled model `name`, loaded with its sidecar.
fn named(name: &str) -> Model {
    load(&sidecars().into_iter().find(|s| s.name == name).unwrap())
}

fn fixture(name: &str) -> Option<ArrayD<f32>> {
    let p = root().join("tests/fixtures").join(name);
    p.exists()
        .then(|| npy::read_f32(&std::fs::read(p).unwrap()).unwrap())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn there_are_five_bundled_models() {
    let names: Vec<String> = sidecars().into_iter().map(|s| s.name).collect();
    for want in [
        "efficientnet_lite0",
        "mnist_cam",
        "mnist_lrp",
        "fashion_bn",
        "emotion",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from models/index.json: {names:?}"
        );
    }
}

#[test]
fn sidecar_sha256_matches_the_file() {
    for sc in sidecars() {
        let bytes = std::fs::read(root().join("models").join(sc.file.as_ref().unwrap())).unwrap();
        let got = format!("{:x}", Sha256::digest(&bytes));
        assert_eq!(
            Some(&got),
            sc.sha256.as_ref(),
            "{}: sha256 of the .onnx differs from its sidecar",
            sc.name
        );
        assert!(!sc.labels.is_empty(), "{}: no labels", sc.name);
        assert!(sc.license.is_some(), "{}: no licence", sc.name);
        assert!(!sc.source.is_null(), "{}: no source", sc.name);
        assert!(!sc.accuracy.is_null(), "{}: no measured accuracy", sc.name);
    }
}

#[test]
fn every_bundled_image_is_listed_with_a_licence() {
    let idx = index();
    let manifest = std::fs::read_to_string(root().join("models/images/LICENSES.md")).unwrap();
    for im in idx["images"].as_array().unwrap() {
        let file = im["file"].as_str().unwrap();
        assert!(root().join("models").join(file).exists(), "{file} missing");
        let base = file.rsplit('/').next().unwrap();
        assert!(manifest.contains(base), "{base} not in LICENSES.md");
        assert!(
            im["license"].is_string(),
            "{file}: no licence in index.json"
        );
    }
}

#[test]
fn bn_is_kept_as_nodes_in_the_fashion_model() {
    let m = named("fashion_bn");
    assert!(
        m.nodes.iter().any(|n| n.op_type == "BatchNormalization"),
        "the Fashion net must keep BatchNormalization nodes"
    );
}

#[test]
fn emotions_dead_filters_are_flushed_to_zero() {
    // Weight decay left 2 of the first convolution's 8 filters (18 weights) and 2 of the
    // second's (144) at 6e-36..1e-20: their products are subnormal floats, which ran one LRP
    // pass 3.5x slower natively and 10x slower in V8. The file has no exact zero among its
    // convolution kernels; after loading, exactly those 162 weights are 0 (src/kernels/flush.rs)
    // and the logits still match onnxruntime (the test above).
    use tract_onnx::tract_core::ops::{cnn::Conv, konst::Const};
    let m = named("emotion");
    let mut zeros = 0;
    let mut tiny = 0;
    for node in m.typed.nodes().iter().filter(|n| n.op_is::<Conv>()) {
        let k = &m.typed.nodes()[node.inputs[1].node];
        let w = k
            .op_as::<Const>()
            .unwrap()
            .val()
            .to_plain_array_view::<f32>()
            .unwrap();
        let max = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        zeros += w.iter().filter(|&&v| v == 0.0).count();
        tiny += w
            .iter()
            .filter(|&&v| v != 0.0 && v.abs() < 1e-20 * max)
            .count();
    }
    assert_eq!((zeros, tiny), (162, 0));
}

#[test]
fn preprocessing_matches_pil_and_numpy() {
    for sc in sidecars() {
        let Some(want) = fixture(&format!("{}.input.npy", sc.name)) else {
            panic!("{}: no input fixture", sc.name)
        };
        let img = std::fs::read(
            root()
                .join("models")
                .join(sc.default_image.as_ref().unwrap()),
        )
        .unwrap();
        let got = preprocess::image_bytes_to_tensor(&img, &sc).unwrap();
        assert_eq!(got.shape(), want.shape(), "{}", sc.name);
        // PIL and the image crate both resize with a triangle filter widened for downscaling,
        // and round to 8 bits: allow a couple of grey levels.
        let std_min = sc
            .preprocess
            .std
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        let levels =
            max_abs_diff(got.as_slice().unwrap(), want.as_slice().unwrap()) * std_min * 255.0;
        let mean_levels = got
            .iter()
            .zip(want.iter())
            .map(|(a, b)| ((a - b) * std_min * 255.0).abs())
            .sum::<f32>()
            / got.len() as f32;
        assert!(
            levels <= 3.01 && mean_levels <= 0.5,
            "{}: preprocessing differs from PIL by up to {levels} grey levels (mean {mean_levels})",
            sc.name
        );
    }
}

#[test]
fn logits_match_onnxruntime_and_the_pinned_tract_output() {
    for sc in sidecars() {
        let m = load(&sc);
        let x = fixture(&format!("{}.input.npy", sc.name)).unwrap();
        let got = m.forward(&x).unwrap();
        let ort = fixture(&format!("{}.logits.npy", sc.name)).unwrap();
        let d = max_abs_diff(&got, ort.as_slice().unwrap());
        assert!(
            d <= 1e-4,
            "{}: tract vs onnxruntime max |diff| {d}",
            sc.name
        );
        // The native output the wasm test compares against (tests/wasm.rs), within the wasm
        // test's 1e-5: tract picks its matrix kernels by CPU, and an AVX2-only machine (AMD EPYC,
        // 2026-12) gives mnist_cam's logits 2.4e-6 away from those pinned on an AVX-512 one
        // (the same with the commit before the #22 layering: the machine, not the code).
        let pinned = fixture(&format!("{}.tract_logits.npy", sc.name))
            .expect("run scripts/pin-tract-logits.sh");
        let d = max_abs_diff(&got, pinned.as_slice().unwrap());
        assert!(
            d <= 1e-5,
            "{}: native logits moved by {d} from tests/fixtures/{}.tract_logits.npy",
            sc.name,
            sc.name
        );
    }
}

#[test]
fn spot_predictions() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/expected.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for sc in sidecars() {
        let m = load(&sc);
        let want = &expected["models"][&sc.name];
        let images = want["images"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no spot checks in expected.json", sc.name));
        for case in images {
            let image = case["image"].as_str().unwrap();
            let bytes = std::fs::read(root().join("models").join(image)).unwrap();
            let x = preprocess::image_bytes_to_tensor(&bytes, &sc).unwrap();
            let p = m.predict(&x, 5).unwrap();
            let got: Vec<usize> = p.top.iter().map(|c| c.index).collect();
            let top5: Vec<usize> = case["top5"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            // Our resize is not PIL's to the last grey level: where the reference top-1 wins
            // by less than 0.5 logits, accept any of its top 3.
            if case["margin"].as_f64().unwrap() >= 0.5 {
                assert_eq!(
                    p.top[0].label,
                    case["top1_label"].as_str().unwrap(),
                    "{}: {image}",
                    sc.name
                );
            } else {
                assert!(
                    top5[..3].contains(&got[0]),
                    "{}: {image} top-1 {} not in the reference top-3 {:?}",
                    sc.name,
                    p.top[0].label,
                    &top5[..3]
                );
            }
            checked += 1;
        }
        // The default image's fixture tensor gives exactly the reference top-1.
        let x = fixture(&format!("{}.input.npy", sc.name)).unwrap();
        let p = m.predict(&x, 5).unwrap();
        assert_eq!(
            p.top[0].index as u64,
            want["top5"][0].as_u64().unwrap(),
            "{}: top-1 on the default image",
            sc.name
        );
    }
    assert!(checked >= 20, "only {checked} spot checks ran");
}

#[test]
fn chelsea_is_a_cat_and_the_digits_are_their_digits() {
    let by_name = |n: &str| sidecars().into_iter().find(|s| s.name == n).unwrap();
    let eff = by_name("efficientnet_lite0");
    let m = load(&eff);
    let x = preprocess::image_bytes_to_tensor(
        &std::fs::read(root().join("models/images/chelsea.png")).unwrap(),
        &eff,
    )
    .unwrap();
    let top1 = &m.predict(&x, 1).unwrap().top[0].label;
    assert!(top1.contains("cat"), "chelsea -> {top1}");
    for name in ["mnist_cam", "mnist_lrp"] {
        let sc = by_name(name);
        let m = load(&sc);
        for d in 0..10 {
            let bytes = std::fs::read(root().join(format!("models/images/digit_{d}.png"))).unwrap();
            let p = m
                .predict(&preprocess::image_bytes_to_tensor(&bytes, &sc).unwrap(), 1)
                .unwrap();
            assert_eq!(p.top[0].label, d.to_string(), "{name}: digit_{d}.png");
        }
    }
}
