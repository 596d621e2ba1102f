//! Weights too small to matter, set to zero once at load time ([`rewrite`], on the decluttered
//! model every plan and every explanation reads its weights from).
//!
//! A trained net can hold filters that weight decay drove to ~1e-35 (mini-Xception's first two
//! convolutions: 2 of 8 filters each, 162 weights between 6e-36 and 1e-20). Their products with
//! activations or gradients are subnormal floats, which x86 CPUs, natively and in wasm alike,
//! handle through a slow microcode path: the second one's transposed pass for LRP took 1.8 ms
//! instead of 0.5 ms natively, and 3.2 ms in V8, a quarter of the whole explanation.
//!
//! A weight below [`RELATIVE`] times the largest magnitude of its tensor contributes to a sum
//! that a larger weight of the tensor enters some 13 orders of magnitude less than f32 resolves
//! (6e-8), for inputs of like magnitude; where a whole filter is that small, its output is its
//! bias up to the same factor. Only constants whose every use is a convolution's kernel or an
//! einsum operand are touched (one also read by, say, a Div keeps its values).

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

/// Sets the negligible weights of every constant used only as convolution kernels and einsum
/// operands to 0; returns how many constants changed.
pub fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    // Whether input `slot` of `node` reads a weight.
    let weight_slot = |node: &TypedNode, slot: usize| {
        (node.op_is::<Conv>() && slot == 1) || node.op_is::<EinSum>()
    };
    let mut consts = vec![];
    for node in model.nodes() {
        for (slot, &i) in node.inputs.iter().enumerate() {
            if !weight_slot(node, slot)
                || !model.nodes()[i.node].op_is::<Const>()
                || consts.contains(&i.node)
            {
                continue;
            }
            let only_weights = model.nodes().iter().all(|n| {
                n.inputs
                    .iter()
                    .enumerate()
                    .all(|(s, j)| j.node != i.node || weight_slot(n, s))
            }) && !model.output_outlets()?.iter().any(|o| o.node == i.node);
            if only_weights {
                consts.push(i.node);
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

    /// A constant that something other than a weight slot also reads keeps its values.
    #[test]
    fn shared_constants_are_left_alone() -> TractResult<()> {
        use tract_onnx::tract_core::ops::math;
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([2]))?;
        let tiny = |v: f32| tract_ndarray::arr2(&[[1.0f32, 1e-30], [v, -2.0]]).into_tensor();
        let w1 = m.add_const("w1", tiny(0.5))?;
        let w2 = m.add_const("w2", tiny(0.25))?;
        let es = || -> TractResult<EinSum> {
            Ok(EinSum::new(
                AxesMapping::from_strs(&["ij", "j"], &["i"])?,
                f32::datum_type(),
            ))
        };
        let y1 = m.wire_node("y1", es()?, &[w1, x])?[0];
        let y2 = m.wire_node("y2", es()?, &[w2, x])?[0];
        // (An Add of two constants would be folded into one when wired.)
        let x2 = m.add_source("x2", f32::fact([2, 2]))?;
        let s = m.wire_node("s", math::add(), &[w2, x2])?[0];
        m.select_output_outlets(&[y1, y2, s])?;
        assert_eq!(rewrite(&mut m)?, 1);
        let value = |o: OutletId| -> TractResult<Vec<f32>> {
            let k = m
                .node(o.node)
                .op_as::<Const>()
                .expect("a Const")
                .val()
                .clone();
            Ok(k.to_plain_array_view::<f32>()?.iter().copied().collect())
        };
        assert_eq!(value(w1)?, vec![1.0, 0.0, 0.5, -2.0]);
        assert_eq!(value(w2)?, vec![1.0, 1e-30, 0.25, -2.0]);
        Ok(())
    }
}
