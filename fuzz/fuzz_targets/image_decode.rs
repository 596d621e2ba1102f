//! Image bytes -> decode (with limits) -> preprocess, for a gray 28x28 and an RGB 224x224 model.
#![no_main]
use libfuzzer_sys::fuzz_target;
use saliency::{preprocess, Sidecar};

fuzz_target!(|data: &[u8]| {
    for shape in [[1usize, 1, 28, 28], [1, 3, 224, 224]] {
        let sc = Sidecar::default_for(&shape).unwrap();
        if let Ok(x) = preprocess::image_bytes_to_tensor(data, &sc) {
            assert_eq!(x.shape(), &shape[..]);
            assert!(x.iter().all(|v| v.is_finite()));
        }
    }
});
