//! Checks of the ONNX protobuf itself, before tract reads it: each refuses something that made
//! tract panic (most were found by fuzzing `onnx_load`).

use super::limits::{MAX_CONSTANT_ELEMENTS, MAX_PAD};
use crate::err;
use crate::error::Result;
use tract_onnx::pb;

/// Runs every check on `graph`.
pub fn check(graph: &pb::GraphProto) -> Result<()> {
    check_graph_outputs(graph)?;
    check_raw_tensors(graph)?;
    check_constant_shapes(graph)?;
    check_transpose_perms(graph)?;
    check_node_arity(graph)?;
    check_slice_steps(graph)?;
    Ok(())
}

/// Every graph output must name a tensor of the graph: tract's ONNX parser indexes its tensor
/// map by output name and panics on an unknown one (found by fuzzing `onnx_load`).
fn check_graph_outputs(graph: &pb::GraphProto) -> Result<()> {
    let known = |name: &str| {
        !name.is_empty()
            && (graph.input.iter().any(|i| i.name == name)
                || graph.initializer.iter().any(|t| t.name == name)
                || graph
                    .node
                    .iter()
                    .any(|n| n.output.iter().chain(&n.input).any(|t| t == name)))
    };
    match graph.output.iter().find(|o| !known(&o.name)) {
        Some(o) => Err(err!(
            CorruptModel,
            "cannot read model: graph output '{}' is not a tensor of the graph",
            o.name
        )),
        None => Ok(()),
    }
}

/// Tensors stored as raw bytes must have a type tract can read raw: tract-onnx's create_tensor
/// hits `unimplemented!` on any other (found by fuzzing `onnx_load`: an initializer whose type
/// was flipped to one without a raw reader). Checks initializers and tensor attributes, also in
/// subgraphs.
fn check_raw_tensors(graph: &pb::GraphProto) -> Result<()> {
    use pb::tensor_proto::DataType as D;
    const RAW: [D; 12] = [
        D::Float,
        D::Uint8,
        D::Int8,
        D::Uint16,
        D::Int16,
        D::Int32,
        D::Int64,
        D::Bool,
        D::Float16,
        D::Double,
        D::Uint32,
        D::Uint64,
    ];
    let check = |t: &pb::TensorProto| {
        if !t.raw_data.is_empty() && !RAW.iter().any(|&d| d as i32 == t.data_type) {
            let ty = D::try_from(t.data_type)
                .map(|d| d.as_str_name().to_string())
                .unwrap_or_else(|_| t.data_type.to_string());
            return Err(err!(CorruptModel, "cannot read model: tensor '{}' holds raw data of type {ty}, which cannot be loaded", t.name));
        }
        Ok(())
    };
    graph.initializer.iter().try_for_each(check)?;
    for a in graph.node.iter().flat_map(|n| &n.attribute) {
        a.t.iter().chain(&a.tensors).try_for_each(check)?;
        a.g.iter()
            .chain(&a.graphs)
            .try_for_each(check_raw_tensors)?;
    }
    Ok(())
}

/// A ConstantOfShape whose shape is a constant must have dimensions >= 0 and at most
/// [`super::limits::MAX_TENSOR_ELEMENTS`] elements: tract evaluates it while typing the model, asserts that
/// every dimension is >= 0 (found by fuzzing `onnx_load`: a Constant of -18 feeding a
/// ConstantOfShape, an assertion in tract-core's model/fact.rs) and would allocate a huge one.
fn check_constant_shapes(graph: &pb::GraphProto) -> Result<()> {
    for n in graph.node.iter().filter(|n| n.op_type == "ConstantOfShape") {
        let Some(dims) = n.input.first().and_then(|i| constant_ints(graph, i)) else {
            continue;
        };
        let elements = dims.iter().try_fold(1u64, |acc, &d| {
            u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        });
        if elements.is_none_or(|e| e > MAX_CONSTANT_ELEMENTS as u64) {
            return Err(err!(
                CorruptModel,
                "cannot read model: ConstantOfShape node '{}' has shape {dims:?} (dimensions must be >= 0, at most {MAX_CONSTANT_ELEMENTS} elements)",
                n.name
            ));
        }
    }
    Ok(())
}

/// The tensor named `name` when it is a constant: an initializer or a Constant node's value.
fn constant<'a>(graph: &'a pb::GraphProto, name: &str) -> Option<&'a pb::TensorProto> {
    graph
        .initializer
        .iter()
        .find(|t| t.name == name)
        .or_else(|| {
            graph
                .node
                .iter()
                .filter(|n| n.op_type == "Constant" && n.output.iter().any(|o| o == name))
                .flat_map(|n| &n.attribute)
                .find(|a| a.name == "value")
                .and_then(|a| a.t.as_ref())
        })
}

/// A constant integer tensor's values, as tract reads them before casting to i64 (INT64, INT32
/// and, truncated, FLOAT/DOUBLE); `None` for other types or when `name` is not a constant.
fn constant_ints(graph: &pb::GraphProto, name: &str) -> Option<Vec<i64>> {
    use pb::tensor_proto::DataType;
    let t = constant(graph, name)?;
    let raw = |n: usize| t.raw_data.chunks_exact(n);
    Some(match DataType::try_from(t.data_type).ok()? {
        DataType::Int64 if t.raw_data.is_empty() => t.int64_data.clone(),
        DataType::Int64 => raw(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        DataType::Int32 if t.raw_data.is_empty() => {
            t.int32_data.iter().map(|&v| v.into()).collect()
        }
        DataType::Int32 => raw(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()).into())
            .collect(),
        DataType::Float if t.raw_data.is_empty() => {
            t.float_data.iter().map(|&v| v as i64).collect()
        }
        DataType::Float => raw(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as i64)
            .collect(),
        DataType::Double if t.raw_data.is_empty() => {
            t.double_data.iter().map(|&v| v as i64).collect()
        }
        DataType::Double => raw(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as i64)
            .collect(),
        _ => return None,
    })
}

/// A Conv or pool window's attributes against its number of spatial axes (`rank`, from the
/// input's rank while the model is analysed; `ints` reads an attribute): tract indexes them by
/// axis and panics on a short list (fuzzing found a 2-D conv with 2 pads instead of 4, index out
/// of bounds in tract-core's cnn/padding.rs). Sizes, strides and dilations must be at least 1,
/// paddings at least 0, and none over [`MAX_PAD`].
pub(crate) fn check_window_values(
    node: &str,
    rank: usize,
    ints: impl Fn(&str) -> Option<Vec<i64>>,
) -> Result<()> {
    for (attr, len, min) in [
        ("kernel_shape", rank, 1),
        ("strides", rank, 1),
        ("dilations", rank, 1),
        ("pads", 2 * rank, 0),
        ("output_padding", rank, 0),
    ] {
        let Some(v) = ints(attr) else { continue };
        if v.len() != len {
            return Err(err!(CorruptModel, "cannot read model: {node} has {} {attr} values for a {rank}-D window (expected {len})", v.len()));
        }
        if let Some(x) = v.iter().find(|&&x| x < min) {
            return Err(err!(
                CorruptModel,
                "cannot read model: {node} has {attr} value {x} (at least {min})"
            ));
        }
        // A probe with a kernel of 2^40 ran for minutes in tract's window arithmetic.
        if let Some(x) = v.iter().find(|&&x| x > MAX_PAD as i64) {
            return Err(err!(
                Limit,
                "{node} has {attr} value {x} (at most {MAX_PAD})"
            ));
        }
    }
    Ok(())
}

/// Transpose's `perm` must be a permutation of 0..rank: tract indexes the input's shape with
/// it and panics on a value out of range (found by fuzzing `onnx_load`: perm [0, 65] on a
/// rank-2 tensor, index out of bounds in tract-hir's permute_axes.rs; negative values become
/// huge `usize`s). tract checks the length against the rank itself.
fn check_transpose_perms(graph: &pb::GraphProto) -> Result<()> {
    for (i, n) in graph.node.iter().enumerate() {
        if n.op_type != "Transpose" {
            continue;
        }
        let Some(perm) = n
            .attribute
            .iter()
            .find(|a| a.name == "perm")
            .map(|a| &a.ints)
        else {
            continue;
        };
        let mut seen = vec![false; perm.len()];
        for &p in perm {
            let slot = usize::try_from(p).ok().and_then(|p| seen.get_mut(p));
            match slot {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(err!(
                        CorruptModel,
                        "cannot read model: {} has perm {perm:?}, not a permutation of 0..{}",
                        node_label(n, i),
                        perm.len()
                    ))
                }
            }
        }
    }
    Ok(())
}

/// Every node has an output, and an input unless its operator makes values from nothing:
/// tract's operators index `inputs[0]` / `outputs[0]` in their inference rules, several without
/// checking (found by fuzzing `onnx_load`: a Flatten with no input, index out of bounds).
fn check_node_arity(graph: &pb::GraphProto) -> Result<()> {
    const SOURCES: [&str; 3] = ["Constant", "RandomNormal", "RandomUniform"];
    for (i, n) in graph.node.iter().enumerate() {
        if n.output.iter().all(|o| o.is_empty()) {
            return Err(err!(
                CorruptModel,
                "cannot read model: {} has no output",
                node_label(n, i)
            ));
        }
        // An empty last input means "not given" (PyTorch writes Pad's absent axes so), but
        // tract's Conv and reductions count it: a Conv with inputs [X, W, ""] made tract read a
        // bias it had not wired (index out of bounds).
        let counts_empty = n.op_type == "Conv" || n.op_type.starts_with("Reduce");
        if counts_empty
            && n.input.last().is_some_and(|x| x.is_empty())
            && n.input.iter().any(|x| !x.is_empty())
        {
            return Err(err!(
                CorruptModel,
                "cannot read model: {} ends its inputs with an empty name (leave it out)",
                node_label(n, i)
            ));
        }
        // A reduction takes its data and at most its axes; tract-onnx reads a third input as
        // its only operand besides the data and ignores the axes the checks read.
        if n.op_type.starts_with("Reduce") && n.input.len() > 2 {
            return Err(err!(
                CorruptModel,
                "cannot read model: {} has {} inputs (a reduction takes its data and at most its axes)",
                node_label(n, i),
                n.input.len()
            ));
        }
        if n.input.iter().all(|x| x.is_empty()) && !SOURCES.contains(&n.op_type.as_str()) {
            return Err(err!(
                CorruptModel,
                "cannot read model: {} has no input",
                node_label(n, i)
            ));
        }
    }
    Ok(())
}

/// A Slice's constant `steps` must be non-zero 32-bit integers: tract keeps them as `i32` and
/// divides by them while analysing the model (found by fuzzing `onnx_load`: a step of
/// -4294967296 became 0, a division by zero in tract-core's strided_slice.rs).
fn check_slice_steps(graph: &pb::GraphProto) -> Result<()> {
    for (i, n) in graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "Slice")
    {
        let steps = n.input.get(4).filter(|x| !x.is_empty());
        let bad = steps.and_then(|x| constant_ints(graph, x)).and_then(|v| {
            v.into_iter()
                .find(|&s| s == 0 || s == i32::MIN as i64 || i32::try_from(s).is_err())
        });
        if let Some(s) = bad {
            return Err(err!(
                CorruptModel,
                "cannot read model: {} has step {s} (steps must be non-zero 32-bit integers)",
                node_label(n, i)
            ));
        }
    }
    Ok(())
}

/// How an error names an ONNX node: by name, or by operator and position when unnamed.
pub(crate) fn node_label(n: &pb::NodeProto, i: usize) -> String {
    if n.name.is_empty() {
        format!("{} node #{i}", n.op_type)
    } else {
        format!("{} node '{}'", n.op_type, n.name)
    }
}
