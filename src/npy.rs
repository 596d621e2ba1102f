//! `.npy` in and out (via the maintained `ndarray-npy` crate), float32 only, with clear errors.

use crate::err;
use crate::error::Result;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use tract_onnx::prelude::tract_ndarray::ArrayD;

/// Largest `.npy` accepted (bytes).
pub const MAX_NPY_BYTES: usize = 512 * 1024 * 1024;

/// Deepest bracket nesting accepted in a `.npy` header. A float array's header is a dict
/// holding a shape tuple (depth 2). The header parser behind `ndarray-npy` (`py_literal`)
/// backtracks exponentially on nested unclosed braces (`{{{{{{{{{{{{{{` takes minutes), so
/// deeper headers are refused before it sees them.
pub const MAX_HEADER_DEPTH: usize = 4;

/// Refuses a header nested deeper than [`MAX_HEADER_DEPTH`]; anything else malformed is left
/// to `ndarray-npy`, which reports it.
fn check_header_depth(bytes: &[u8]) -> Result<()> {
    if !bytes.starts_with(b"\x93NUMPY") {
        return Ok(());
    }
    // Version 1 has a u16 header length at 8..10; versions 2 and 3 a u32 at 8..12.
    let (start, len) = match (bytes.get(6), bytes.get(8..12)) {
        (Some(1), Some(l)) => (10usize, u16::from_le_bytes([l[0], l[1]]) as usize),
        (Some(2 | 3), Some(l)) => (12, u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize),
        _ => return Ok(()),
    };
    let header = &bytes[start..start.saturating_add(len).min(bytes.len())];
    let mut depth = 0usize;
    for &b in header {
        match b {
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_HEADER_DEPTH {
                    return Err(err!(Npy, "cannot read .npy: its header nests brackets more than {MAX_HEADER_DEPTH} deep (a float32 array's header is a dict with a shape tuple)"));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

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
    check_header_depth(bytes)?;
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
