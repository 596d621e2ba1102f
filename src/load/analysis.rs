//! tract's shape analysis of an ONNX model, run node by node with each node first checked
//! against what is known of its inputs.
//!
//! tract's operators index shapes by their attributes (an axis, a kernel rank, a count of split
//! sizes) without checking them against the input's rank: on a damaged model that is a panic,
//! which in wasm kills the module. Probing every operator with out-of-range attributes found
//! 36 such panics and hangs in 315 small models (reduce axes, Split, Squeeze, Unsqueeze, Slice,
//! MatMul on a scalar, a window of the wrong rank, negative Expand/Resize sizes, ...). Two
//! defences:
//! - [`check_operators`]: only operators image classifiers are made of (and their shape
//!   arithmetic) are read at all; anything else is refused by name before tract parses it;
//! - [`analyse`]: the same fixed-point analysis as tract's `InferenceModel::analyse`, but a
//!   node is analysed only once its checked attributes are known to fit its inputs.

use super::limits::{MAX_CONSTANT_ELEMENTS, MAX_PAD, MAX_TENSOR_ELEMENTS};
use super::proto::node_label;
use crate::err;
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::bail;

/// The ONNX operators a model may use: what image classifiers are made of, the arithmetic
/// exporters write around reshapes, and the ops the engine can propagate through or that fold
/// to constants. Others (control flow, recurrent layers, ArgMax, TopK, ...) cannot be
/// explained anyway; refusing them by name keeps tract's less common shape code out of reach.
pub const OPERATORS: &[&str] = &[
    "Abs",
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Ceil",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "Div",
    "Dropout",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "GatherND",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "InstanceNormalization",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "Log",
    "LogSoftmax",
    "LRN",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mish",
    "Mul",
    "Neg",
    "Not",
    "Pad",
    "Pow",
    "PRelu",
    "Reciprocal",
    "ReduceL2",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Resize",
    "Selu",
    "Shape",
    "Sigmoid",
    "Sign",
    "Slice",
    "Softmax",
    "Softplus",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Upsample",
    "Where",
];

/// Refuses, as `UnsupportedOperator`, the first node whose operator is not in [`OPERATORS`]
/// (or that belongs to another ONNX domain).
pub fn check_operators(graph: &pb::GraphProto) -> Result<()> {
    for (i, n) in graph.node.iter().enumerate() {
        let onnx_domain = n.domain.is_empty() || n.domain == "ai.onnx";
        if !onnx_domain || !OPERATORS.contains(&n.op_type.as_str()) {
            let name = if n.name.is_empty() {
                format!("#{i}")
            } else {
                format!("'{}'", n.name)
            };
            let op = if onnx_domain {
                n.op_type.clone()
            } else {
                format!("{}.{}", n.domain, n.op_type)
            };
            return Err(err!(
                UnsupportedOperator,
                "unsupported operator {op} at node {name}"
            ));
        }
    }
    Ok(())
}

/// For each tract node, the ONNX node it was parsed from (and its index in the graph). tract-onnx
/// adds the graph's inputs and initializers first (an initializer equal to one already added is
/// not added again: two empty tensors, two identical shape constants), then one node per ONNX
/// node in order, then sources for unresolved names; so the ONNX nodes end where the trailing
/// sources begin. The names are checked too (matching is by position, not by name: names may be
/// empty or repeat).
fn protos_by_node<'a>(
    model: &InferenceModel,
    graph: &'a pb::GraphProto,
) -> Result<Vec<Option<(usize, &'a pb::NodeProto)>>> {
    let nodes = model.nodes();
    let unmapped = || {
        err!(
            CorruptModel,
            "cannot read model: its nodes could not be matched to the parsed graph"
        )
    };
    let unresolved = nodes
        .iter()
        .rev()
        .take_while(|n| n.op_is::<tract_onnx::tract_hir::ops::source::Source>())
        .count();
    let first = nodes
        .len()
        .checked_sub(unresolved + graph.node.len())
        .ok_or_else(unmapped)?;
    let mut out = vec![None; nodes.len()];
    for (i, n) in graph.node.iter().enumerate() {
        let id = first + i;
        let expected = if !n.name.is_empty() {
            n.name.clone()
        } else if let Some(o) = n.output.first().filter(|o| !o.is_empty()) {
            o.clone()
        } else {
            format!("{id}-{}", n.op_type)
        };
        if nodes[id].name != expected {
            return Err(unmapped());
        }
        out[id] = Some((i, n));
    }
    Ok(out)
}

/// Runs tract's analysis to its fixed point, checking each node (see `check` in this file)
/// before it is analysed. Errors from tract are `Shape` errors (as before: usually a wrong input
/// shape).
pub fn analyse(
    model: &mut InferenceModel,
    graph: &pb::GraphProto,
    opset: i64,
    typing: impl Fn(TractError) -> Error,
) -> Result<()> {
    let protos = protos_by_node(model, graph)?;
    let mut todo: BTreeSet<usize> = (0..model.nodes().len()).collect();
    while let Some(n) = todo.pop_first() {
        let node = &model.nodes()[n];
        let nb = node.op.nboutputs().map_err(&typing)?;
        if nb != node.outputs.len() {
            return Err(err!(
                CorruptModel,
                "cannot read model: node '{}' has {} outputs, its operator {} gives {nb}",
                node.name,
                node.outputs.len(),
                node.op.name()
            ));
        }
        if let Some((i, proto)) = protos[n] {
            let (inputs, _) = model.node_facts(n).map_err(&typing)?;
            if !check(proto, i, opset, &inputs)? {
                // Not decidable yet: analysed once an input is refined (or never, and then
                // refused below).
                continue;
            }
        }
        for outlet in analyse_one(model, n).map_err(&typing)? {
            for succ in &model.nodes()[outlet.node].outputs[outlet.slot].successors {
                if succ.node != outlet.node {
                    todo.insert(succ.node);
                }
            }
            if outlet.node != n {
                todo.insert(outlet.node);
            }
        }
    }
    // A node never analysed because its checks could not be decided (an input whose rank or
    // value stayed unknown) must not reach tract's typing either.
    for n in 0..model.nodes().len() {
        if let Some((i, proto)) = protos[n] {
            let (inputs, _) = model.node_facts(n).map_err(&typing)?;
            if !check(proto, i, opset, &inputs)? {
                return Err(err!(
                    Shape,
                    "cannot type the model: the input shapes or constant operands of {} stay unknown",
                    node_label(proto, i)
                ));
            }
        }
    }
    Ok(())
}

/// One step of tract's analyser (tract-hir's `Analyser::analyse_one`, which is private): infers
/// the node's facts and unifies them into the graph; returns the refined outlets.
fn analyse_one(model: &mut InferenceModel, n: usize) -> TractResult<Vec<OutletId>> {
    let (inputs, outputs) = model.node_facts(n)?;
    let inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
    let outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
    let op = &mut model.node_mut(n).op;
    // tract's `infer` evaluates a node whose inputs are all constants and only then drops a
    // result larger than its folding budget: an Expand, Resize or broadcast of small constants
    // to 2^28 values allocated a gigabyte while loading. The rules alone give the output's
    // shape: when that is over the budget, keep what they infer and skip the evaluation (the
    // same facts tract keeps after dropping the result).
    let (ruled_inputs, ruled_outputs, _) =
        op.infer_facts(inputs.iter().collect(), outputs.iter().collect(), tvec!())?;
    let (new_inputs, new_outputs) = if folds_over_budget(&ruled_inputs, &ruled_outputs) {
        (ruled_inputs, ruled_outputs)
    } else {
        let (i, o, _) = op.infer(inputs.iter().collect(), outputs.iter().collect(), tvec!())?;
        (i, o)
    };
    if new_inputs.len() != inputs.len() || new_outputs.len() != outputs.len() {
        bail!("inference returned the wrong number of facts");
    }
    let node_inputs = model.nodes()[n].inputs.clone();
    let mut changed = vec![];
    for (outlet, fact) in node_inputs.into_iter().zip(&new_inputs) {
        let old = model.outlet_fact(outlet)?;
        let unified = fact.unify(old)?;
        if &unified != old {
            changed.push((outlet, unified));
        }
    }
    for (ix, fact) in new_outputs.iter().enumerate() {
        let outlet = OutletId::new(n, ix);
        let old = model.outlet_fact(outlet)?;
        let unified = old.unify(fact)?;
        if &unified != old {
            changed.push((outlet, unified));
        }
    }
    for (outlet, fact) in &changed {
        model.set_outlet_fact(*outlet, fact.clone())?;
    }
    Ok(changed.into_iter().map(|(o, _)| o).collect())
}

/// Whether tract's eager evaluation of a node with these facts would build outputs it then
/// drops: every input a constant, and the outputs' known shapes holding more bytes than the
/// inputs and than tract's constant-folding budget.
fn folds_over_budget(inputs: &[InferenceFact], outputs: &[InferenceFact]) -> bool {
    // A lower bound: what is not known yet (type, a dimension, the rank) counts as 1.
    let bytes = |f: &InferenceFact| -> u64 {
        let size = f.datum_type.concretize().map_or(1, |t| t.size_of() as u64);
        f.shape.dims().fold(size, |acc, d| {
            let d = d
                .concretize()
                .and_then(|d| d.as_i64())
                .map_or(1, |d| d.max(0) as u64);
            acc.saturating_mul(d)
        })
    };
    if inputs.is_empty() || inputs.iter().any(|f| f.value.concretize().is_none()) {
        return false;
    }
    let input_bytes: u64 = inputs
        .iter()
        .map(|f| {
            f.value
                .concretize()
                .map_or(0, |t| (t.len() * t.datum_type().size_of()) as u64)
        })
        .sum();
    let budget = input_bytes.max(tract_onnx::tract_core::optim::CONST_FOLD_MEM_BUDGET);
    outputs.iter().map(bytes).fold(0u64, u64::saturating_add) > budget
}

/// What is known of a node's inputs, and its attributes, for the checks.
struct Node<'a> {
    proto: &'a pb::NodeProto,
    label: String,
    /// The model's ONNX operator set (what tract parses the node as).
    opset: i64,
    inputs: &'a [&'a InferenceFact],
}

/// A check that cannot be decided until more is known.
struct Later;

impl Node<'_> {
    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        let a = self.proto.attribute.iter().find(|a| a.name == name)?;
        Some(a.ints.clone())
    }

    fn int(&self, name: &str) -> Option<i64> {
        let a = self.proto.attribute.iter().find(|a| a.name == name)?;
        Some(a.i)
    }

    fn given(&self, i: usize) -> bool {
        self.proto.input.get(i).is_some_and(|x| !x.is_empty())
    }

    /// The position of the `k`-th given input (tract numbers the given inputs only).
    fn nth_given(&self, k: usize) -> Option<usize> {
        (0..self.proto.input.len())
            .filter(|&i| self.given(i))
            .nth(k)
    }

    /// The fact of ONNX input `i` (tract's node lists the non-empty inputs only).
    fn fact(&self, i: usize) -> std::result::Result<&InferenceFact, Later> {
        if !self.given(i) {
            return Err(Later);
        }
        let at = self.proto.input[..i]
            .iter()
            .filter(|x| !x.is_empty())
            .count();
        self.inputs.get(at).copied().ok_or(Later)
    }

    fn rank(&self, i: usize) -> std::result::Result<usize, Later> {
        let f = self.fact(i)?;
        let r = f.shape.rank().concretize().ok_or(Later)?;
        usize::try_from(r).map_err(|_| Later)
    }

    fn dims(&self, i: usize) -> std::result::Result<Vec<Option<usize>>, Later> {
        let f = self.fact(i)?;
        if !f.shape.is_concrete() && f.shape.rank().concretize().is_none() {
            return Err(Later);
        }
        Ok(f.shape
            .dims()
            .map(|d| {
                d.concretize()
                    .and_then(|d| d.as_i64())
                    .and_then(|d| usize::try_from(d).ok())
            })
            .collect())
    }

    /// Input `i`'s value as integers, once known.
    fn value_ints(&self, i: usize) -> std::result::Result<Vec<i64>, Later> {
        let f = self.fact(i)?;
        let v = f.value.concretize().ok_or(Later)?;
        let v = v.cast_to::<i64>().map_err(|_| Later)?;
        Ok(v.to_plain_array_view::<i64>()
            .map_err(|_| Later)?
            .iter()
            .copied()
            .collect())
    }

    fn value_floats(&self, i: usize) -> std::result::Result<Vec<f32>, Later> {
        let f = self.fact(i)?;
        let v = f.value.concretize().ok_or(Later)?;
        let v = v.cast_to::<f32>().map_err(|_| Later)?;
        Ok(v.to_plain_array_view::<f32>()
            .map_err(|_| Later)?
            .iter()
            .copied()
            .collect())
    }

    /// The axes tract reads: the `axes` attribute before operator set `from` (ReduceSum,
    /// Squeeze and Unsqueeze: 13; the other reductions: 18), input `i` from then on (tract
    /// ignores the other of the two when a node has both).
    fn axes(&self, i: usize, from: i64) -> std::result::Result<Option<Vec<i64>>, Later> {
        if self.opset < from {
            return Ok(self.ints("axes"));
        }
        if self.given(i) {
            return self.value_ints(i).map(Some);
        }
        Ok(None)
    }

    /// Conv and pool windows: kernel, strides, dilations and pads must have one value per
    /// spatial axis (two for pads), whatever the weights' origin (an earlier check that took
    /// the rank from a weight initializer missed weights made by a Constant node).
    fn check_window(&self, spatial: usize) -> Result<()> {
        super::proto::check_window_values(&self.label, spatial, |name| self.ints(name))
    }

    fn corrupt(&self, what: String) -> Error {
        err!(CorruptModel, "cannot read model: {} {what}", self.label)
    }

    /// Each axis in [-rank, rank), none twice.
    fn check_axes(&self, axes: &[i64], rank: usize) -> Result<()> {
        let r = rank as i64;
        let mut seen = vec![false; rank];
        for &a in axes {
            if a < -r || a >= r {
                return Err(self.corrupt(format!(
                    "has axis {a}, out of range for an input of rank {rank}"
                )));
            }
            let a = a.rem_euclid(r) as usize;
            if std::mem::replace(&mut seen[a], true) {
                return Err(self.corrupt(format!("names axis {a} twice")));
            }
        }
        Ok(())
    }

    /// Dimensions for a tensor to be created: each >= 0, at most [`MAX_TENSOR_ELEMENTS`] in all.
    fn check_size(&self, what: &str, dims: &[i64]) -> Result<()> {
        self.check_size_within(what, dims, MAX_TENSOR_ELEMENTS)
    }

    fn check_size_within(&self, what: &str, dims: &[i64], max: usize) -> Result<()> {
        let elements = dims.iter().try_fold(1u64, |acc, &d| {
            u64::try_from(d)
                .ok()
                .and_then(|d| acc.checked_mul(d.max(1)))
        });
        match elements {
            None => Err(self.corrupt(format!("has {what} {dims:?} (dimensions must be >= 0)"))),
            Some(e) if e > max as u64 => Err(err!(
                Limit,
                "{} has {what} {dims:?}: more than {max} elements",
                self.label
            )),
            Some(_) => Ok(()),
        }
    }
}

/// Checks a node's attributes against its inputs' ranks (and constant operands) before tract
/// analyses it. `Ok(false)`: not decidable yet.
fn check(proto: &pb::NodeProto, i: usize, opset: i64, inputs: &[&InferenceFact]) -> Result<bool> {
    let node = Node {
        proto,
        label: node_label(proto, i),
        opset,
        inputs,
    };
    match check_node(&node) {
        Ok(Ok(())) => Ok(true),
        Ok(Err(Later)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn check_node(n: &Node) -> Result<std::result::Result<(), Later>> {
    macro_rules! known {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(Later) => return Ok(Err(Later)),
            }
        };
    }
    let outputs = n.proto.output.iter().filter(|o| !o.is_empty()).count();
    // An empty float tensor has no place in a classifier, and tract's kernels divide by the
    // size of the axis they reduce (a fuzzed Resize to 0 rows made a ReduceSum divide by zero).
    // (Resize's roi and scales may be empty: exporters pass empty ones to mean "not given".)
    let data_inputs = if n.proto.op_type == "Resize" {
        1
    } else {
        n.inputs.len()
    };
    for (i, f) in n.inputs.iter().enumerate().take(data_inputs) {
        let float = f.datum_type.concretize().is_some_and(|t| t.is_float());
        if float
            && f.shape
                .dims()
                .any(|d| d.concretize().and_then(|d| d.as_i64()) == Some(0))
        {
            return Err(n.corrupt(format!("receives an empty tensor (input {i})")));
        }
    }
    match n.proto.op_type.as_str() {
        "ReduceL2" | "ReduceMax" | "ReduceMean" | "ReduceMin" | "ReduceSum" => {
            let rank = known!(n.rank(0));
            let from = if n.proto.op_type == "ReduceSum" {
                13
            } else {
                18
            };
            if let Some(axes) = known!(n.axes(1, from)) {
                n.check_axes(&axes, rank)?;
            }
        }
        "Softmax" | "LogSoftmax" | "Concat" | "LayerNormalization" => {
            let rank = known!(n.rank(0));
            if let Some(axis) = n.int("axis") {
                n.check_axes(&[axis], rank)?;
            }
        }
        "Gather" => {
            let rank = known!(n.rank(0));
            let axis = n.int("axis").unwrap_or(0);
            n.check_axes(&[axis], rank)?;
            // Constant indices into a known axis (a shape being gathered while the model is
            // typed: tract's eager evaluation indexed by them unchecked).
            let dims = known!(n.dims(0));
            if let (Some(d), Ok(indices)) =
                (dims[axis.rem_euclid(rank as i64) as usize], n.value_ints(1))
            {
                let d = d as i64;
                if let Some(i) = indices.iter().find(|&&i| i < -d || i >= d) {
                    return Err(n.corrupt(format!("gathers index {i} of an axis of {d}")));
                }
            }
        }
        "GatherND" => {
            // Tuples of constant indices into the data's leading axes, each within its axis
            // (tract's evaluation indexes by them unchecked); batch_dims 0 only.
            let batch = n.int("batch_dims").unwrap_or(0);
            if batch != 0 {
                return Err(err!(
                    UnsupportedOperator,
                    "{} gathers with batch_dims {batch}: only 0 is supported",
                    n.label
                ));
            }
            let dims = known!(n.dims(0));
            let Some(&Some(depth)) = known!(n.dims(1)).last() else {
                return Ok(Err(Later));
            };
            if depth == 0 || depth > dims.len() {
                return Err(n.corrupt(format!(
                    "gathers with tuples of {depth} indices from {} axes",
                    dims.len()
                )));
            }
            if let Ok(indices) = n.value_ints(1) {
                for tuple in indices.chunks(depth) {
                    for (&i, d) in tuple.iter().zip(&dims) {
                        if let Some(d) = d.map(|d| d as i64) {
                            if i < -d || i >= d {
                                return Err(
                                    n.corrupt(format!("gathers index {i} of an axis of {d}"))
                                );
                            }
                        }
                    }
                }
            }
        }
        "Pad" => {
            // Pads: the attribute (before opset 11) or input 1; axes (opset 18): input 3.
            let pads = if n.opset < 11 {
                n.ints("pads").unwrap_or_default()
            } else {
                known!(n.value_ints(1))
            };
            if let Some(p) = pads.iter().find(|&&p| p < 0) {
                return Err(err!(
                    UnsupportedOperator,
                    "{} crops (pad {p}): negative pads are not supported",
                    n.label
                ));
            }
            if let Some(p) = pads.iter().find(|&&p| p as u64 > MAX_PAD as u64) {
                return Err(err!(
                    Limit,
                    "{} pads an axis by {p} (at most {MAX_PAD})",
                    n.label
                ));
            }
            let rank = known!(n.rank(0));
            let axes = if n.given(3) {
                let axes = known!(n.value_ints(3));
                n.check_axes(&axes, rank)?;
                axes.len()
            } else {
                rank
            };
            if pads.len() != 2 * axes {
                return Err(n.corrupt(format!(
                    "has {} pads for {axes} axes (two per axis)",
                    pads.len()
                )));
            }
        }
        "Split" => {
            let rank = known!(n.rank(0));
            let axis = n.int("axis").unwrap_or(0);
            n.check_axes(&[axis], rank)?;
            if let Some(k) = n.int("num_outputs") {
                if k < 1 || k as usize != outputs {
                    return Err(n.corrupt(format!("has num_outputs {k} but {outputs} outputs")));
                }
            }
            // tract reads the `split` attribute before opset 13 or with one input, input 1
            // otherwise (ignoring the attribute).
            let sizes = if n.opset < 13 || n.proto.input.len() == 1 {
                n.ints("split")
            } else {
                Some(known!(n.value_ints(1)))
            };
            if let Some(sizes) = sizes {
                if sizes.len() != outputs || sizes.iter().any(|&s| s < 0) {
                    return Err(
                        n.corrupt(format!("has split sizes {sizes:?} for {outputs} outputs"))
                    );
                }
                let dims = known!(n.dims(0));
                let a = axis.rem_euclid(rank as i64) as usize;
                if let Some(d) = dims[a] {
                    if sizes.iter().sum::<i64>() != d as i64 {
                        return Err(n.corrupt(format!("splits an axis of {d} into {sizes:?}")));
                    }
                }
            }
        }
        "Squeeze" => {
            let rank = known!(n.rank(0));
            if let Some(axes) = known!(n.axes(1, 13)) {
                n.check_axes(&axes, rank)?;
                // tract removes the axes in the reverse of the order given.
                let normal: Vec<i64> = axes.iter().map(|a| a.rem_euclid(rank as i64)).collect();
                if normal.windows(2).any(|w| w[0] > w[1]) {
                    return Err(err!(
                        UnsupportedOperator,
                        "{} lists its axes {axes:?} out of order (not supported)",
                        n.label
                    ));
                }
                let dims = known!(n.dims(0));
                for a in axes {
                    let a = a.rem_euclid(rank as i64) as usize;
                    if dims[a].is_some_and(|d| d != 1) {
                        return Err(n.corrupt(format!(
                            "squeezes axis {a} of size {}",
                            dims[a].unwrap_or(0)
                        )));
                    }
                }
            }
        }
        "Unsqueeze" => {
            let rank = known!(n.rank(0));
            let axes = known!(n.axes(1, 13)).ok_or_else(|| n.corrupt("has no axes".to_string()))?;
            n.check_axes(&axes, rank + axes.len())?;
        }
        "Slice" => {
            let rank = known!(n.rank(0));
            let (starts, ends, axes) = if n.given(1) {
                let starts = known!(n.value_ints(1));
                let ends = known!(n.value_ints(2));
                let axes = if n.given(3) {
                    Some(known!(n.value_ints(3)))
                } else {
                    None
                };
                if n.given(4) {
                    let steps = known!(n.value_ints(4));
                    if steps.len() != starts.len()
                        || steps
                            .iter()
                            .any(|&s| s == 0 || s <= i32::MIN as i64 || s > i32::MAX as i64)
                    {
                        return Err(n.corrupt(format!(
                            "has steps {steps:?} (one non-zero 32-bit step per axis)"
                        )));
                    }
                }
                (starts, ends, axes)
            } else {
                (
                    n.ints("starts").unwrap_or_default(),
                    n.ints("ends").unwrap_or_default(),
                    n.ints("axes"),
                )
            };
            let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
            if starts.len() != ends.len() || starts.len() != axes.len() {
                return Err(n.corrupt(format!(
                    "has {} starts, {} ends and {} axes",
                    starts.len(),
                    ends.len(),
                    axes.len()
                )));
            }
            n.check_axes(&axes, rank)?;
        }
        "Transpose" => {
            let rank = known!(n.rank(0));
            if let Some(perm) = n.ints("perm") {
                if perm.len() != rank {
                    return Err(n.corrupt(format!("has perm {perm:?} for an input of rank {rank}")));
                }
            }
        }
        "MatMul" | "Gemm" => {
            let (a, b) = (known!(n.rank(0)), known!(n.rank(1)));
            let ok = if n.proto.op_type == "Gemm" {
                a == 2 && b == 2
            } else {
                a >= 1 && b >= 1
            };
            if !ok {
                return Err(n.corrupt(format!("multiplies tensors of rank {a} and {b}")));
            }
        }
        "Conv" | "MaxPool" | "AveragePool" => {
            let rank = known!(n.rank(0));
            if rank < 3 {
                return Err(n.corrupt(format!("has an input of rank {rank} (at least 3)")));
            }
            if let Some(k) = n.ints("kernel_shape") {
                if k.len() != rank - 2 {
                    return Err(n.corrupt(format!(
                        "has a {}-D kernel for a {}-D input",
                        k.len(),
                        rank - 2
                    )));
                }
            }
            n.check_window(rank - 2)?;
            if n.proto.op_type == "Conv" {
                let w = known!(n.rank(1));
                if w != rank {
                    return Err(n.corrupt(format!(
                        "has a kernel of rank {w} for an input of rank {rank}"
                    )));
                }
            }
        }
        "GlobalAveragePool"
        | "GlobalMaxPool"
        | "InstanceNormalization"
        | "LRN"
        | "BatchNormalization" => {
            let rank = known!(n.rank(0));
            let min = if n.proto.op_type == "BatchNormalization" {
                2
            } else {
                3
            };
            if rank < min {
                return Err(n.corrupt(format!("has an input of rank {rank} (at least {min})")));
            }
            // tract computes size - 1 unchecked.
            if n.proto.op_type == "LRN" && n.int("size").is_none_or(|s| s < 1) {
                return Err(n.corrupt("has no size of at least 1".to_string()));
            }
        }
        "Pow" => {
            // tract casts both to a common type, which numbers and booleans do not have.
            for i in 0..2 {
                let t = known!(n
                    .fact(i)
                    .and_then(|f| f.datum_type.concretize().ok_or(Later)));
                if !(t.is_float() || t.is_integer()) {
                    return Err(n.corrupt(format!("raises to a power of type {t:?} (input {i})")));
                }
            }
        }
        "Expand" => {
            let shape = known!(n.value_ints(1));
            n.check_size("shape", &shape)?;
        }
        "ConstantOfShape" => {
            let shape = known!(n.value_ints(0));
            n.check_size_within("shape", &shape, MAX_CONSTANT_ELEMENTS)?;
        }
        "Reshape" => {
            let shape = known!(n.value_ints(1));
            if shape.iter().any(|&d| d < -1) || shape.iter().filter(|&&d| d == -1).count() > 1 {
                return Err(n.corrupt(format!("has shape {shape:?}")));
            }
        }
        "Resize" | "Upsample" => {
            let rank = known!(n.rank(0));
            // Where tract reads the scales and sizes (tract-onnx's ops/resize.rs): Upsample and
            // Resize-10 take scales as their second given input, Resize-11/12 as their third
            // (and tract indexes it unchecked: a fuzzed Resize-10 relabelled opset 11 panicked),
            // Resize-13+ by position, each optional. Scales of length 0 mean "use the sizes".
            let upsample = n.proto.op_type == "Upsample";
            let (scales_at, sizes_at) = if upsample || n.opset <= 10 {
                (n.nth_given(1), None)
            } else if n.opset <= 12 {
                (n.nth_given(2), n.given(3).then_some(3))
            } else {
                (n.given(2).then_some(2), n.given(3).then_some(3))
            };
            if !upsample && n.opset <= 12 && scales_at.is_none() {
                return Err(n.corrupt(format!(
                    "has no scales input (Resize-{} takes X, {}scales)",
                    n.opset,
                    if n.opset <= 10 { "" } else { "roi, " }
                )));
            }
            let use_sizes = match scales_at {
                Some(sc) => {
                    let dims = known!(n.dims(sc));
                    if dims.len() != 1 {
                        return Err(n.corrupt(format!("has scales of rank {}", dims.len())));
                    }
                    dims[0] == Some(0)
                }
                // Upsample-7 and -8 have their scales as an attribute.
                None => !upsample,
            };
            if use_sizes {
                let s = sizes_at.ok_or_else(|| n.corrupt("has neither scales nor sizes".into()))?;
                let sizes = known!(n.value_ints(s));
                if sizes.len() != rank {
                    return Err(n.corrupt(format!("has {} sizes for rank {rank}", sizes.len())));
                }
                n.check_size("sizes", &sizes)?;
                if sizes.contains(&0) {
                    return Err(n.corrupt(format!("resizes to sizes {sizes:?}")));
                }
            } else if let Some(sc) = scales_at {
                let scales = known!(n.value_floats(sc));
                let dims = known!(n.dims(0));
                if scales.len() != rank || scales.iter().any(|s| !s.is_finite() || *s <= 0.0) {
                    return Err(n.corrupt(format!(
                        "has scales {scales:?} (one finite positive scale per axis)"
                    )));
                }
                let out: Vec<i64> = dims
                    .iter()
                    .zip(&scales)
                    .map(|(d, s)| (d.unwrap_or(1) as f64 * *s as f64).min(i64::MAX as f64) as i64)
                    .collect();
                n.check_size("an output of", &out)?;
                if out.contains(&0) {
                    return Err(n.corrupt(format!("resizes to an empty tensor {out:?}")));
                }
            }
        }
        _ => {}
    }
    Ok(Ok(()))
}
