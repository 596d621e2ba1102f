//! Explanation requests (the viewer's JSON, which carries every user parameter, including the
//! LRP rule strings once they exist) -> a checked method, or a clean error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use saliency::request::Request;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let sc = saliency::Sidecar::default_for(&[1, 1, 8, 8]).unwrap();
    let x = saliency::array::Array::zeros(vec![1, 1, 8, 8]);
    if let Ok(r) = Request::from_json(text) {
        let _ = r.to_method(&x, &sc);
    }
    let _ = saliency::render::Colormap::Jet.at(text.len() as f32 / 100.0);
});
