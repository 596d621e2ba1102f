//! The same core in WebAssembly, in headless Chromium (scripts/test-wasm.sh): every bundled
//! model gives the native logits (pinned in tests/fixtures/*.tract_logits.npy) within 1e-5,
//! and errors reach JS as exceptions while the module keeps working.
#![cfg(target_arch = "wasm32")]

use saliency::wasm::SaliencyModel;
use saliency::{npy, Model};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

macro_rules! case {
    ($name:literal) => {
        (
            $name,
            &include_bytes!(concat!("../models/", $name, ".onnx"))[..],
            include_str!(concat!("../models/", $name, ".json")),
            &include_bytes!(concat!("fixtures/", $name, ".input.npy"))[..],
            &include_bytes!(concat!("fixtures/", $name, ".tract_logits.npy"))[..],
        )
    };
}

#[allow(clippy::type_complexity)]
fn cases() -> Vec<(
    &'static str,
    &'static [u8],
    &'static str,
    &'static [u8],
    &'static [u8],
)> {
    vec![
        case!("mnist_cam"),
        case!("mnist_lrp"),
        case!("fashion_bn"),
        case!("emotion"),
        case!("efficientnet_lite0"),
    ]
}

#[wasm_bindgen_test]
fn wasm_logits_equal_native_logits() {
    saliency::wasm::init();
    for (name, onnx, sidecar, input, pinned) in cases() {
        let m = Model::load(onnx, Some(sidecar)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = npy::read_f32(input).unwrap();
        let got = m.forward(&x).unwrap();
        let want = npy::read_f32(pinned).unwrap();
        let d = got
            .iter()
            .zip(want.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        web_sys::console::log_1(&format!("{name}: wasm vs native max |diff| = {d:e}").into());
        assert!(d <= 1e-5, "{name}: wasm logits differ from native by {d}");
    }
}

#[wasm_bindgen_test]
fn errors_are_exceptions_and_the_module_survives() {
    saliency::wasm::init();
    let (_, onnx, sidecar, input, _) = cases()[1];
    for bad in [&b""[..], &b"garbage bytes"[..], &onnx[..onnx.len() / 3]] {
        let e = SaliencyModel::new(bad, None)
            .err()
            .expect("a corrupt model must be refused");
        let msg = js_sys::Error::from(e).message().as_string().unwrap();
        assert!(msg.contains("model"), "{msg}");
    }
    let e = SaliencyModel::new(onnx, Some("{ not json".into()))
        .err()
        .unwrap();
    assert!(js_sys::Error::from(e)
        .message()
        .as_string()
        .unwrap()
        .contains("sidecar"));
    let good = SaliencyModel::new(onnx, Some(sidecar.into())).unwrap();
    let e = good.logits(vec![0.0; 3]).err().unwrap();
    assert!(js_sys::Error::from(e)
        .message()
        .as_string()
        .unwrap()
        .contains("wrong input size"));
    let e = good.preprocess_image(b"not an image").err().unwrap();
    assert_eq!(js_sys::Error::from(e).name().as_string().unwrap(), "image");
    // Still usable after every error above.
    let x = npy::read_f32(input).unwrap();
    let logits = good.logits(x.into_raw_vec_and_offset().0).unwrap();
    assert_eq!(logits.len(), 10);
}

/// One explanation per method, through the JS-facing shell, equals the native result
/// (tests/pinned_explanations.rs) within 1e-5 relative L2 (one ill-conditioned case: see its `why`).
#[wasm_bindgen_test]
fn wasm_explanations_equal_native_ones() {
    saliency::wasm::init();
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/explain/cases.json")).unwrap();
    assert_eq!(cases["model"], "mnist_cam");
    let (_, onnx, sidecar, input, _) = cases_for("mnist_cam");
    let mut m = SaliencyModel::new(onnx, Some(sidecar.into())).unwrap();
    let x = npy::read_f32(input).unwrap().into_raw_vec_and_offset().0;
    let pinned: Vec<(&str, &[u8])> = vec![
        (
            "gradient",
            include_bytes!("fixtures/explain/mnist_cam.gradient.npy"),
        ),
        (
            "gradient-x-input",
            include_bytes!("fixtures/explain/mnist_cam.gradient-x-input.npy"),
        ),
        (
            "guided-backprop",
            include_bytes!("fixtures/explain/mnist_cam.guided-backprop.npy"),
        ),
        (
            "ig-gl16-black",
            include_bytes!("fixtures/explain/mnist_cam.ig-gl16-black.npy"),
        ),
        (
            "ig-trap8-blurred",
            include_bytes!("fixtures/explain/mnist_cam.ig-trap8-blurred.npy"),
        ),
        (
            "smoothgrad",
            include_bytes!("fixtures/explain/mnist_cam.smoothgrad.npy"),
        ),
        (
            "grad-cam-relu2",
            include_bytes!("fixtures/explain/mnist_cam.grad-cam-relu2.npy"),
        ),
        ("cam", include_bytes!("fixtures/explain/mnist_cam.cam.npy")),
        (
            "lrp-epsilon-gamma-box",
            include_bytes!("fixtures/explain/mnist_cam.lrp-epsilon-gamma-box.npy"),
        ),
        (
            "lrp-rules",
            include_bytes!("fixtures/explain/mnist_cam.lrp-rules.npy"),
        ),
    ];
    let all = cases["cases"].as_array().unwrap();
    assert_eq!(all.len(), pinned.len(), "every case is replayed");
    for case in all {
        let key = case["key"].as_str().unwrap();
        let want = npy::read_f32(pinned.iter().find(|(k, _)| *k == key).unwrap().1).unwrap();
        let a = m
            .explain(x.clone(), &case["request"].to_string())
            .unwrap_or_else(|e| panic!("{key}: {:?}", e));
        assert_eq!(a.shape(), want.shape().to_vec(), "{key}");
        let got = a.data();
        let num: f32 = got
            .iter()
            .zip(want.iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt();
        let den: f32 = want.iter().map(|b| b * b).sum::<f32>().sqrt();
        let tol = case["tol"].as_f64().unwrap_or(1e-5) as f32;
        assert!(
            num / den <= tol,
            "{key}: wasm vs native rel L2 {} (tolerance {tol})",
            num / den
        );
        let meta: serde_json::Value = serde_json::from_str(&a.meta()).unwrap();
        assert!(
            meta["seconds"].as_f64().unwrap() >= 0.0 && meta["score"].is_number(),
            "{key}: {meta}"
        );
        if key.starts_with("lrp") {
            assert!(
                meta["lrp"]["relevance_sum"].is_number() && meta["lrp"]["absorbed"].is_number(),
                "{key}: {meta}"
            );
        }
    }
    // A bad request is an exception, and the model still explains afterwards.
    let e = m
        .explain(x.clone(), r#"{"method":"integrated-gradients","steps":0}"#)
        .err()
        .unwrap();
    assert!(js_sys::Error::from(e)
        .message()
        .as_string()
        .unwrap()
        .contains("steps"));
    let e = m
        .explain(
            x.clone(),
            r#"{"method":"grad-cam","layer":"no such layer"}"#,
        )
        .err()
        .unwrap();
    assert!(js_sys::Error::from(e)
        .message()
        .as_string()
        .unwrap()
        .contains("no such layer"));
    assert!(m.explain(x, r#"{"method":"gradient"}"#).is_ok());
}

fn cases_for(
    name: &str,
) -> (
    &'static str,
    &'static [u8],
    &'static str,
    &'static [u8],
    &'static [u8],
) {
    cases().into_iter().find(|c| c.0 == name).unwrap()
}

/// A file of the bad-input corpus (tests/fixtures/bad), by name.
fn bad_file(name: &str) -> &'static [u8] {
    macro_rules! files {
        ($($f:literal),*) => {
            match name {
                $($f => &include_bytes!(concat!("fixtures/bad/", $f))[..],)*
                _ => panic!("no corpus file {name}"),
            }
        };
    }
    files!(
        "empty.onnx",
        "garbage.onnx",
        "truncated.onnx",
        "unsupported_op.onnx",
        "negative_pad.onnx",
        "bad_transpose_perm.onnx",
        "bad_split_axis.onnx",
        "argmax_output.onnx",
        "nan_weights.onnx",
        "rank3_input.onnx",
        "ext_missing.onnx",
        "ext_outside.onnx",
        "bad_sidecar.json",
        "wrong_labels.json",
        "huge.png",
        "zero.png",
        "not_image.png",
        "truncated.png",
        "bad_header.npy",
        "int64.npy",
        "short_body.npy",
        "wrong_shape.npy",
        "nan.npy"
    )
}

/// The bad-input corpus through the JS API: each case is an exception whose `name` is the
/// case's error kind, with a message; after each one the same module instance still explains.
#[wasm_bindgen_test]
fn bad_input_corpus_through_the_js_api() {
    saliency::wasm::init();
    let (_, onnx, sidecar, input, _) = cases()[1]; // mnist_lrp
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/bad/cases.json")).unwrap();
    let mut good = SaliencyModel::new(onnx, Some(sidecar.into())).unwrap();
    let x = npy::read_f32(input).unwrap().into_raw_vec_and_offset().0;
    let mut ran = 0;
    for c in cases["cases"].as_array().unwrap() {
        let Some(api) = c.get("api") else { continue };
        let name = c["name"].as_str().unwrap();
        let err: wasm_bindgen::JsValue = if let Some(f) = api.get("load") {
            let bytes = if f == "mnist_lrp" {
                onnx
            } else {
                bad_file(f.as_str().unwrap())
            };
            let side = api
                .get("sidecar")
                .map(|s| String::from_utf8(bad_file(s.as_str().unwrap()).to_vec()).unwrap());
            SaliencyModel::new(bytes, side)
                .err()
                .unwrap_or_else(|| panic!("{name}: loaded"))
        } else if let Some(f) = api.get("image") {
            good.preprocess_image(bad_file(f.as_str().unwrap()))
                .err()
                .unwrap_or_else(|| panic!("{name}: decoded"))
        } else if let Some(f) = api.get("npy") {
            match saliency::wasm::read_npy(bad_file(f.as_str().unwrap())) {
                Err(e) => e,
                Ok(values) => good
                    .explain(values, r#"{"method": "gradient"}"#)
                    .err()
                    .unwrap_or_else(|| panic!("{name}: explained")),
            }
        } else if let Some(r) = api.get("request") {
            good.explain(x.clone(), &r.to_string())
                .err()
                .unwrap_or_else(|| panic!("{name}: explained"))
        } else if let Some(r) = api.get("curve") {
            let a = good
                .explain(x.clone(), r#"{"method": "gradient"}"#)
                .unwrap();
            good.curve(x.clone(), a.shape(), &a.data(), &r.to_string())
                .err()
                .unwrap_or_else(|| panic!("{name}: curve computed"))
        } else {
            panic!("{name}: unknown api case {api}");
        };
        let e = js_sys::Error::from(err);
        assert_eq!(
            e.name().as_string().unwrap(),
            c["kind"].as_str().unwrap(),
            "{name}: {}",
            e.message().as_string().unwrap()
        );
        assert!(
            e.message().as_string().unwrap().len() > 10,
            "{name}: no message"
        );
        // The module survives: the same instance explains a good input.
        let ok = good
            .explain(x.clone(), r#"{"method": "gradient"}"#)
            .unwrap();
        assert_eq!(
            ok.data().len(),
            784,
            "{name}: the module no longer explains"
        );
        ran += 1;
    }
    assert!(ran >= 30, "only {ran} API cases");
}

/// Today's default torch export through the JS API: the model names its weights file, the page
/// hands its bytes over, and the self-contained model gives torch's logits (and the same as the
/// pair loaded natively). Without the file, one `io` exception naming it.
#[wasm_bindgen_test]
fn a_default_torch_export_loads_with_its_data_file() {
    saliency::wasm::init();
    let onnx = &include_bytes!("fixtures/user/se_dynamo.onnx")[..];
    let data = &include_bytes!("fixtures/user/se_dynamo.onnx.data")[..];
    let names = saliency::wasm::external_data_files(onnx).unwrap();
    assert_eq!(names, vec!["se_dynamo.onnx.data".to_string()]);
    let e = SaliencyModel::new(onnx, None)
        .err()
        .expect("loads without its data");
    let e: js_sys::Error = e.into();
    assert_eq!(String::from(e.name()), "io");
    assert!(String::from(e.message()).contains("se_dynamo.onnx.data"));
    let one =
        saliency::wasm::self_contained(onnx, names, vec![js_sys::Uint8Array::from(data)]).unwrap();
    let m = SaliencyModel::new(&one, None).unwrap();
    let x = npy::read_f32(include_bytes!("fixtures/user/se_dynamo.input.npy")).unwrap();
    let got = m.logits(x.into_raw_vec_and_offset().0).unwrap();
    let want = npy::read_f32(include_bytes!("fixtures/user/se_dynamo.logits.npy")).unwrap();
    let d = got
        .iter()
        .zip(want.iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(d <= 1e-4, "logits differ from torch's by {d}");
}
