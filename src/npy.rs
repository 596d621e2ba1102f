//! `.npy` in and out (via the maintained `ndarray-npy` crate), float32 only, with clear errors.

use crate::err;
use crate::error::Result;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use tract_onnx::prelude::tract_ndarray::ArrayD;

/// Largest `.npy` accepted (bytes).
pub const MAX_NPY_BYTES: usize = 512 * 1024 * 1024;

/// Parses a float32 (or float64, converted) `.npy` file.
pub fn read_f32(bytes: &[u8]) -> Result<ArrayD<f32>> {
    if bytes.len() > MAX_NPY_BYTES {
        return Err(err!(
            Limit,
            ".npy file too large: {} MiB (at most {} MiB)",
            bytes.len() >> 20,
            MAX_NPY_BYTES >> 20
        ));
    }
    match ArrayD::<f32>::read_npy(bytes) {
        Ok(a) => Ok(a),
        Err(e32) => match ArrayD::<f64>::read_npy(bytes) {
            Ok(a) => Ok(a.mapv(|v| v as f32)),
            Err(_) => Err(err!(
                Npy,
                "cannot read .npy: {e32} (a float32 array is expected)"
            )),
        },
    }
}

/// Serialises a float32 array as `.npy` bytes.
pub fn write_f32(a: &ArrayD<f32>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    a.write_npy(&mut out)
        .map_err(|e| err!(Npy, "cannot write .npy: {e}"))?;
    Ok(out)
}
