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
fn cases() -> Vec<(&'static str, &'static [u8], &'static str, &'static [u8], &'static [u8])> {
    vec![case!("mnist_cam"), case!("mnist_lrp"), case!("fashion_bn"), case!("emotion"), case!("efficientnet_lite0")]
}

#[wasm_bindgen_test]
fn wasm_logits_equal_native_logits() {
    for (name, onnx, sidecar, input, pinned) in cases() {
        let m = Model::load(onnx, Some(sidecar)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = npy::read_f32(input).unwrap();
        let got = m.forward(&x).unwrap();
        let want = npy::read_f32(pinned).unwrap();
        let d = got.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        web_sys::console::log_1(&format!("{name}: wasm vs native max |diff| = {d:e}").into());
        assert!(d <= 1e-5, "{name}: wasm logits differ from native by {d}");
    }
}

#[wasm_bindgen_test]
fn errors_are_exceptions_and_the_module_survives() {
    let (_, onnx, sidecar, input, _) = cases()[1];
    for bad in [&b""[..], &b"garbage bytes"[..], &onnx[..onnx.len() / 3]] {
        let e = SaliencyModel::new(bad, None).err().expect("a corrupt model must be refused");
        let msg = js_sys::Error::from(e).message().as_string().unwrap();
        assert!(msg.contains("model"), "{msg}");
    }
    let e = SaliencyModel::new(onnx, Some("{ not json".into())).err().unwrap();
    assert!(js_sys::Error::from(e).message().as_string().unwrap().contains("sidecar"));
    let good = SaliencyModel::new(onnx, Some(sidecar.into())).unwrap();
    let e = good.logits(vec![0.0; 3]).err().unwrap();
    assert!(js_sys::Error::from(e).message().as_string().unwrap().contains("wrong input size"));
    let e = good.preprocess_image(b"not an image").err().unwrap();
    assert_eq!(js_sys::Error::from(e).name().as_string().unwrap(), "image");
    // Still usable after every error above.
    let x = npy::read_f32(input).unwrap();
    let logits = good.logits(x.into_raw_vec_and_offset().0).unwrap();
    assert_eq!(logits.len(), 10);
}
