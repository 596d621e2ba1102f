//! Image bytes -> decode (with limits) -> preprocess, for a gray 28x28 and an RGB 32x32 model.
//! The RGB size is small so that executions go to the decoders, not to resizing: the code path
//! (decode, limits, resize of the shorter side, centre crop, normalise) is that of 224x224.
#![no_main]
use libfuzzer_sys::fuzz_target;
use saliency::{preprocess, Sidecar};

fuzz_target!(|data: &[u8]| {
    for shape in [[1usize, 1, 28, 28], [1, 3, 32, 32]] {
        let sc = Sidecar::default_for(&shape).unwrap();
        if let Ok(x) = preprocess::image_bytes_to_tensor(data, &sc) {
            assert_eq!(x.shape(), &shape[..]);
            assert!(x.iter().all(|v| v.is_finite()));
        }
    }
});
