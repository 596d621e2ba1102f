//! ONNX bytes -> load -> info -> one explanation per method family (gradient, guided backprop,
//! integrated gradients, SmoothGrad, Grad-CAM, CAM, LRP), on a zero input. Seeds: the small test
//! nets, damaged models, probes and earlier crashes (fuzz/seed.sh). Any panic is a bug: errors
//! must be `Err`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use saliency::request::Request;
use saliency::{info, Explainer, Model};

const REQUESTS: [&str; 7] = [
    r#"{"method":"gradient"}"#,
    r#"{"method":"guided-backprop"}"#,
    r#"{"method":"integrated-gradients","steps":2}"#,
    r#"{"method":"smoothgrad","samples":2}"#,
    r#"{"method":"grad-cam"}"#,
    r#"{"method":"cam"}"#,
    r#"{"method":"lrp","composite":"epsilon-gamma-box"}"#,
];

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::load(data, None) else { return };
    let _ = info::describe(&model).to_text();
    // Keep each run cheap: only small inputs are explained.
    if model.input_shape().iter().product::<usize>() > 64 * 64 * 3 {
        return;
    }
    let x = saliency::array::Array::zeros(model.input_shape().to_vec());
    let sc = model.sidecar.clone();
    let mut ex = Explainer::new(model);
    for req in REQUESTS {
        if let Ok(m) = Request::from_json(req).and_then(|r| r.to_method(&x, &sc)) {
            let _ = ex.explain(&x, &m, None);
        }
    }
});
