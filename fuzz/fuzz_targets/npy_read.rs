//! `.npy` bytes -> float32 array; a successful read round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = saliency::npy::read_f32(data) {
        let bytes = saliency::npy::write_f32(&a).unwrap();
        let b = saliency::npy::read_f32(&bytes).unwrap();
        assert_eq!(a.shape(), b.shape());
    }
});
