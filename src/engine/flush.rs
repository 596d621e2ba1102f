//! Weights too small to matter, set to zero once at load time ([`rewrite`], on the decluttered
//! model every plan and every explanation reads its weights from).
//!
//! A trained net can hold filters that weight decay drove to ~1e-35 (mini-Xception's second
//! convolution: 2 of its 8 filters, 144 weights between 6e-36 and 1e-20). Their products with
//! activations or gradients are subnormal floats, which x86 CPUs, natively and in wasm alike,
//! handle through a slow microcode path: that one layer's transposed pass for LRP took 1.8 ms
//! instead of 0.5 ms natively, and 3.2 ms in V8, a quarter of the whole explanation.
//!
//! A weight below [`RELATIVE`] times the largest magnitude of its tensor contributes to a sum
//! that a larger weight of the tensor enters some 13 orders of magnitude less than f32 resolves
//! (6e-8), for inputs of like magnitude; where a whole filter is that small, its output is its
//! bias up to the same factor. Only the constant operands of convolutions and matrix products
//! are touched.

use tract_onnx::prelude::tract_ndarray::ArrayViewD;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::Conv;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::konst::Const;

/// Weights below this fraction of their tensor's largest magnitude become 0.
pub const RELATIVE: f32 = 1e-20;

/// `w` with its negligible entries set to 0, if it has any.
fn flushed(w: ArrayViewD<f32>) -> Option<Tensor> {
    let max = w.iter().fold(0f32, |m, &v| m.max(v.abs()));
    let floor = max * RELATIVE;
    if !w.iter().any(|&v| v != 0.0 && v.abs() < floor) {
        return None;
    }
    let v = w.mapv(|v| if v.abs() < floor { 0.0 } else { v });
    Some(v.into_tensor())
}

/// Sets the negligible weights of every convolution kernel and constant einsum operand to 0;
/// returns how many constants changed.
pub fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    let mut consts = vec![];
    for node in model.nodes() {
        let slots: Vec<usize> = if node.op_is::<Conv>() {
            vec![1]
        } else if node.op_is::<EinSum>() {
            (0..node.inputs.len()).collect()
        } else {
            continue;
        };
        for s in slots {
            if let Some(&i) = node.inputs.get(s) {
                if model.nodes()[i.node].op_is::<Const>() && !consts.contains(&i.node) {
                    consts.push(i.node);
                }
            }
        }
    }
    let mut changed = 0;
    for c in consts {
        let node = &model.nodes()[c];
        let k = node.op_as::<Const>().expect("a Const");
        if k.exotic_fact().is_some() || k.val().datum_type() != f32::datum_type() {
            continue;
        }
        let Some(t) = flushed(k.val().to_plain_array_view::<f32>()?) else {
            continue;
        };
        let t = t.into_arc_tensor();
        let node = &mut model.nodes_mut()[c];
        node.op = Box::new(Const::new(t.clone())?);
        node.outputs[0].fact = TypedFact::try_from(t)?;
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::prelude::tract_ndarray::{arr1, IxDyn};

    #[test]
    fn only_negligible_weights_become_zero() {
        let w = arr1(&[0.5f32, -1e-35, 2e-21, -3e-20, 0.0, -2.0]).into_dyn();
        let t = flushed(w.view()).expect("two weights are below 2 * 1e-20");
        let v = t.to_plain_array_view::<f32>().unwrap();
        assert_eq!(
            v.as_slice().unwrap(),
            &[0.5, 0.0, 0.0, -3e-20, 0.0, -2.0],
            "below 2e-20 only"
        );
        // Nothing to do: no copy.
        let w = arr1(&[1e-30f32, -2e-30]).into_dyn();
        assert!(
            flushed(w.view()).is_none(),
            "relative to the tensor's own scale"
        );
        assert!(flushed(
            tract_onnx::prelude::tract_ndarray::ArrayD::<f32>::zeros(IxDyn(&[3])).view()
        )
        .is_none());
    }
}
