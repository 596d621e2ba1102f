//! The limits a model must stay within, and the checks of its tensors' sizes and weights.

use crate::err;
use crate::error::Result;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// Largest model accepted (bytes, the `.onnx` and its external data together). Natively 1 GiB:
/// VGG-16 is 528 MB, and a 24 GiB laptop explains it. In wasm 256 MiB: a wasm32 page has at most
/// 4 GiB of memory, and tract holds the weights twice (as read, and packed for its kernels)
/// beside the activations an explanation keeps.
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_MODEL_BYTES: usize = 1 << 30;
/// Largest model accepted (bytes, the `.onnx` and its external data together): 256 MiB in wasm.
#[cfg(target_arch = "wasm32")]
pub const MAX_MODEL_BYTES: usize = 256 << 20;
/// Largest number of ONNX nodes accepted.
pub const MAX_NODES: usize = 20_000;
/// Largest tensor (elements) any node may produce: 2^28 float32 values are 1 GiB. A file can
/// declare a conv whose padding or a reshape whose shape makes one huge; tract's optimizer
/// then works per output position (minutes), and running it would exhaust memory anyway.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 28;
/// Largest number of values all of a model's computed (non-constant) tensors may hold together,
/// before decluttering (ResNet-18 at 224x224 holds 5.9 M, EfficientNet-Lite0 19.4 M,
/// ConvNeXt-Tiny 80 M through the legacy exporter and 98.6 M through torch.export; explanations
/// keep up to about three times as much). In wasm 2^26 float32 values (256 MiB); natively 2^27
/// (512 MiB: ConvNeXt-Tiny's LRP peaks at 1.1 GB).
#[cfg(target_arch = "wasm32")]
pub const MAX_ACTIVATION_ELEMENTS: usize = 1 << 26;
/// Largest number of values all of a model's computed tensors may hold together: natively 2^27
/// (512 MiB of float32).
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_ACTIVATION_ELEMENTS: usize = 1 << 27;
/// Largest tensor a ConstantOfShape may create: tract builds it while loading, and copies it
/// several times (a fuzzed one of 202 M values took 12.6 GB and 29 s to load). Classifiers use
/// it for pads and masks; 2^22 values are 16 MiB.
pub const MAX_CONSTANT_ELEMENTS: usize = 1 << 22;

/// Largest padding accepted on one side of one axis of a Pad node.
pub const MAX_PAD: usize = 65_536;

/// Bounds each computed tensor and all of them together, from the shapes analysis found: run
/// on the analysed model before tract types it (typing evaluates nodes whose inputs are small
/// constants, and tract's simplification folds constants, each of those building the result
/// before weighing it: an Expand of two tiny constants to 2^27 values built 512 MiB), and again
/// on the typed model.
fn check_sizes<'a>(
    outputs: impl Iterator<Item = (&'a str, Option<Vec<usize>>, bool)>,
) -> Result<usize> {
    let mut total = 0usize;
    for (name, shape, constant) in outputs {
        let Some(shape) = shape else {
            continue;
        };
        let elements = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if elements.is_none_or(|n| n > MAX_TENSOR_ELEMENTS) {
            return Err(err!(
                Limit,
                "node '{name}' would produce a tensor of shape {shape:?}, over {MAX_TENSOR_ELEMENTS} elements (1 GiB)"
            ));
        }
        if !constant {
            total = total.saturating_add(elements.unwrap_or(usize::MAX));
        }
    }
    // Explanations keep the activations (and LRP several modified copies of them): a fuzzed
    // model whose every tensor was under the bound above still took 2.5 GB and minutes.
    if total > MAX_ACTIVATION_ELEMENTS {
        return Err(err!(
            Limit,
            "the model's intermediate tensors hold {total} values for its input shape, over {MAX_ACTIVATION_ELEMENTS} ({} MiB) here; explaining it would need about {} MiB of memory",
            MAX_ACTIVATION_ELEMENTS >> 18,
            memory_mib(total)
        ));
    }
    Ok(total)
}

/// The memory an explanation of a model needs, from its activations (`values`, float32): the
/// forward run keeps them, the gradient and LRP's modified copies about three times as much more
/// (ConvNeXt-Tiny: 80 M values, LRP peaks at 1.1 GB natively).
pub fn memory_mib(values: usize) -> usize {
    (values * 4 * 4) >> 20
}

pub(crate) fn check_analysed_sizes(model: &InferenceModel) -> Result<usize> {
    check_sizes(model.nodes().iter().flat_map(|node| {
        node.outputs.iter().map(|o| {
            let shape = o
                .fact
                .shape
                .as_concrete_finite()
                .ok()
                .flatten()
                .map(|s| s.to_vec());
            (node.name.as_str(), shape, o.fact.value.is_concrete())
        })
    }))
}

pub(crate) fn check_tensor_sizes(model: &TypedModel) -> Result<()> {
    check_sizes(model.nodes().iter().flat_map(|node| {
        node.outputs.iter().map(|o| {
            let shape = o.fact.shape.as_concrete().map(|s| s.to_vec());
            (node.name.as_str(), shape, o.fact.konst.is_some())
        })
    }))?;
    for node in model.nodes() {
        // tract adds pads as `usize` (and folds a Pad into the conv after it, adding them to the
        // conv's): a huge one overflows (found by fuzzing `onnx_load`: an add-with-overflow panic
        // in tract-core's cnn/padding.rs under overflow checks, silent wrapping without).
        if let Some(pad) = node.op_as::<tract_onnx::tract_core::ops::array::Pad>() {
            if let Some(p) = pad
                .pads
                .iter()
                .flat_map(|&(a, b)| [a, b])
                .find(|&p| p > MAX_PAD)
            {
                return Err(err!(
                    Limit,
                    "Pad node '{}' pads an axis by {p} (at most {MAX_PAD})",
                    node.name
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn check_finite_weights(model: &TypedModel) -> Result<()> {
    for node in model.nodes() {
        if let Some(k) = node.op_as::<tract_onnx::tract_core::ops::konst::Const>() {
            if let Ok(v) = k.val().to_plain_array_view::<f32>() {
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(err!(
                        NonFinite,
                        "model weights '{}' contain NaN or infinite values",
                        node.name
                    ));
                }
            }
        }
    }
    Ok(())
}
