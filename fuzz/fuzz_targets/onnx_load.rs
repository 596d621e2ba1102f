//! ONNX bytes -> load -> info -> one explanation per method family, on a zero input.
//! Seeds: the bundled small models (fuzz/seed.sh). Any panic is a bug: errors must be `Err`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use saliency::request::Request;
use saliency::{info, Explainer, Model};

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::load(data, None) else { return };
    let _ = info::describe(&model).to_text();
    // Keep each run cheap: only small inputs are explained.
    if model.input_shape().iter().product::<usize>() > 64 * 64 * 3 {
        return;
    }
    let x = saliency::engine::Array::zeros(model.input_shape().to_vec());
    let sc = model.sidecar.clone();
    let mut ex = Explainer::new(model);
    for req in [r#"{"method":"gradient"}"#, r#"{"method":"integrated-gradients","steps":2}"#, r#"{"method":"cam"}"#] {
        if let Ok(m) = Request::from_json(req).and_then(|r| r.to_method(&x, &sc)) {
            let _ = ex.explain(&x, &m, None);
        }
    }
});
