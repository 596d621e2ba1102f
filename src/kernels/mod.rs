//! The forward kernels: tract operators swapped for faster ones of ours, and the activations
//! kept as one op. Every plan of the crate (the model's forward pass, the engine's capturing
//! run, LRP's layer passes) is built by [`optimize`].

pub mod activations;
pub mod downsample;
pub mod flush;
pub mod maxpool;
pub mod mix;
pub mod winograd;

use tract_onnx::tract_core::internal::*;

/// Puts `swap`'s op, where it gives one, in place of every node whose op is a `T` (same node,
/// inputs and outputs): the in-place rewrites of [`optimize`] share this loop.
pub(crate) fn swap_ops<T: TypedOp>(
    model: &mut TypedModel,
    swap: impl Fn(&TypedModel, &TypedNode, &T) -> TractResult<Option<Box<dyn TypedOp>>>,
) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        let node = &model.nodes()[id];
        let Some(op) = node.op_as::<T>() else {
            continue;
        };
        if let Some(new) = swap(model, node, op)? {
            model.node_mut(id).op = new;
        }
    }
    Ok(())
}

/// How every plan of this crate is built: tract's SiLU computed without its saturated tail
/// ([`activations::rewrite`]), `model`'s dense 3x3 convolutions rewritten as
/// [`winograd`] where that pays, its max pools as [`maxpool`], its narrow 1x1 products as
/// [`mix`] and its strided slices as [`downsample`] (all in place, so the outlets keep their
/// ids), then tract's optimiser.
pub fn optimize(mut model: TypedModel) -> TractResult<TypedModel> {
    activations::rewrite(&mut model)?;
    winograd::rewrite(&mut model)?;
    maxpool::rewrite(&mut model)?;
    mix::rewrite(&mut model)?;
    downsample::rewrite(&mut model)?;
    model.into_optimized()
}
