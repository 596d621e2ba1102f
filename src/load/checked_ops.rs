//! tract's ONNX front end with checked replacements for the operators whose shape rules index
//! by an attribute without checking it against the input's rank (a panic on a damaged model,
//! which in wasm would kill the module). Each replacement checks the attribute once the rank is
//! known, in its inference rules and when wired, then behaves exactly as tract's operator.
//! Found by fuzzing `onnx_load` (fuzz/RESULTS.md); the others are checked before tract sees
//! the graph (`model.rs`).

use crate::kernels::activations::Activation;
use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::array::Flatten;
use tract_onnx::tract_hir::ops::expandable::expand;
use tract_onnx::Onnx;

/// `tract_onnx::onnx()` with the checked operators, and the activations kept as one op
/// ([`crate::activations`]).
pub(crate) fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register.insert("Flatten", flatten);
    onnx.op_register.insert("HardSigmoid", hard_sigmoid);
    onnx.op_register.insert("Softplus", |_, _| {
        Ok((Activation::Softplus.op().into_hir(), vec![]))
    });
    onnx.op_register.insert("Mish", |_, _| {
        Ok((Activation::Mish.op().into_hir(), vec![]))
    });
    onnx
}

/// ONNX HardSigmoid: `max(0, min(1, alpha x + beta))`, alpha 0.2 and beta 0.5 by default.
fn hard_sigmoid(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let alpha = node.get_attr_opt("alpha")?.unwrap_or(0.2);
    let beta = node.get_attr_opt("beta")?.unwrap_or(0.5);
    Ok((
        Activation::HardSigmoid { alpha, beta }.op().into_hir(),
        vec![],
    ))
}

/// ONNX Flatten: one input, one output, `axis` in [-rank, rank]. tract's `Flatten::compute_shape` slices the shape at
/// the axis and panicked on axis 7 of a rank-4 input (slice index out of range, tract-hir's
/// ops/array/flatten.rs).
fn flatten(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let axis: i64 = node.get_attr_opt("axis")?.unwrap_or(1);
    Ok((expand(CheckedFlatten(Flatten::new(axis))), vec![]))
}

fn check_axis(op: &str, axis: i64, rank: usize) -> TractResult<()> {
    let rank = rank as i64;
    if axis < -rank || axis > rank {
        bail!("{op} axis {axis} is out of range for an input of rank {rank}");
    }
    Ok(())
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct CheckedFlatten(Flatten);

impl Expansion for CheckedFlatten {
    fn name(&self) -> StaticName {
        "Flatten".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        // tract's Flatten indexes both lists without checking them either (a fuzzed Flatten
        // with no output panicked here).
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.given(&inputs[0].shape, move |s, shape| {
            check_axis("Flatten", self.0.axis, shape.len())?;
            let [a, b] = self.0.compute_shape(&shape)?;
            s.equals(&outputs[0].shape, ShapeFactoid::from(vec![a, b]))
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let input = *inputs.first().context("Flatten without an input")?;
        check_axis("Flatten", self.0.axis, model.outlet_fact(input)?.rank())?;
        self.0.wire(prefix, model, inputs)
    }
}
