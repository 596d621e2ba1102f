//! Loading: bytes → a checked, analysed ONNX graph → tract's decluttered typed model.
//!
//! Every step refuses what would make tract panic, hang or exhaust memory with one error that
//! names the problem: the file's size and external data ([`external`]), the protobuf's own
//! consistency ([`proto`]), the operators and their attributes while tract analyses them
//! ([`analysis`], with the operators this crate adds or guards in `checked_ops`), and the sizes
//! of the tensors ([`limits`]). [`crate::model::Model`] turns the result into a runnable plan.

pub mod analysis;
mod checked_ops;
pub mod external;
pub mod limits;
pub mod proto;

use crate::err;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Model, OnnxNode};
use crate::sidecar::{Layout, Sidecar};
use std::collections::HashMap;
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::unimpl::UnimplementedOp;

/// A parsed ONNX model (tract-onnx's protobuf type).
pub type Proto = pb::ModelProto;

impl Model {
    /// Loads a model from ONNX bytes and an optional sidecar (JSON text).
    pub fn load(bytes: &[u8], sidecar_json: Option<&str>) -> Result<Model> {
        let sidecar = sidecar_json.map(Sidecar::from_json).transpose()?;
        Model::load_with(bytes, sidecar)
    }

    /// Loads a model from ONNX bytes and an optional parsed sidecar (without one,
    /// [`Sidecar::default_for`] of the model's input).
    pub fn load_with(bytes: &[u8], sidecar: Option<Sidecar>) -> Result<Model> {
        Model::from_proto(&Model::read_proto(bytes)?, sidecar)
    }

    /// The ONNX protobuf of a model file (checked for size, not yet for content).
    pub fn read_proto(bytes: &[u8]) -> Result<pb::ModelProto> {
        if bytes.is_empty() {
            return Err(err!(CorruptModel, "cannot read model: the file is empty"));
        }
        if bytes.len() > limits::MAX_MODEL_BYTES {
            return Err(err!(
                Limit,
                "model too large: {} MiB (at most {} MiB here; loading it would need about {} MiB of memory)",
                bytes.len() >> 20,
                limits::MAX_MODEL_BYTES >> 20,
                2 * (bytes.len() >> 20)
            ));
        }
        tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| {
                Error::tract(
                    ErrorKind::CorruptModel,
                    "cannot read model: not a valid ONNX file",
                    e,
                )
            })
    }

    /// The ONNX protobuf of a model file whose tensors may live in other files
    /// ([`external`]): `file` gives the bytes of each file the model names.
    pub fn read_proto_with<'a>(
        bytes: &[u8],
        file: &dyn Fn(&str) -> Option<&'a [u8]>,
    ) -> Result<pb::ModelProto> {
        let mut proto = Model::read_proto(bytes)?;
        external::inline(&mut proto, bytes.len(), file)?;
        Ok(proto)
    }

    /// Loads a model from its parsed protobuf (e.g. one whose weights were rewritten): checks
    /// and analyses it, types it for its input shape, simplifies it and plans its forward pass.
    pub fn from_proto(proto: &pb::ModelProto, sidecar: Option<Sidecar>) -> Result<Model> {
        // Tensors still stored outside: the caller had no way to give their files.
        if let Some(loc) = external::locations(proto)?.first() {
            return Err(external::not_given(loc));
        }
        let onnx = checked_ops::onnx();
        let graph = proto.graph.as_ref().ok_or_else(|| {
            err!(
                CorruptModel,
                "cannot read model: the ONNX file has no graph"
            )
        })?;
        if graph.node.is_empty() {
            return Err(err!(
                CorruptModel,
                "cannot read model: the ONNX graph has no nodes"
            ));
        }
        if graph.node.len() > limits::MAX_NODES {
            return Err(err!(
                Limit,
                "model has {} nodes (at most {})",
                graph.node.len(),
                limits::MAX_NODES
            ));
        }
        let nodes: Vec<OnnxNode> = graph
            .node
            .iter()
            .enumerate()
            .map(|(index, n)| OnnxNode {
                index,
                name: if n.name.is_empty() {
                    n.output.first().cloned().unwrap_or_default()
                } else {
                    n.name.clone()
                },
                op_type: n.op_type.clone(),
                inputs: n.input.clone(),
                outputs: n.output.clone(),
            })
            .collect();
        let initializers: Vec<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
        let real_inputs: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(&i.name))
            .collect();
        if real_inputs.len() != 1 {
            return Err(err!(
                Shape,
                "model has {} inputs; an image classifier has exactly one",
                real_inputs.len()
            ));
        }
        let input_name = real_inputs[0].name.clone();
        let declared = dims_of(real_inputs[0]);

        // The input shape: the sidecar's, checked against what the file declares (in the
        // model's own layout); without a sidecar, the file's, its layout read from the graph.
        let (sidecar, sidecar_given) = match sidecar {
            Some(s) => {
                if let Some(d) = &declared {
                    let want = s.input.layout.model_shape(&s.input.shape);
                    let ok = d.len() == want.len()
                        && d.iter().zip(&want).all(|(a, b)| a.is_none_or(|a| a == *b));
                    if !ok {
                        return Err(err!(
                            Shape,
                            "wrong input shape: the model declares {} but its sidecar says {:?}{}",
                            fmt_dims(d),
                            s.input.shape,
                            match s.input.layout {
                                Layout::Nchw => String::new(),
                                Layout::Nhwc => format!(" (channels-last: {want:?})"),
                            }
                        ));
                    }
                }
                (s, true)
            }
            None => {
                let d = declared.clone().ok_or_else(|| err!(Shape, "the model does not declare its input shape; give a sidecar JSON with input.shape"))?;
                let shape: Vec<usize> = d.iter().enumerate().map(|(i, v)| if i == 0 { Some(v.unwrap_or(1)) } else { *v }).collect::<Option<_>>().ok_or_else(|| {
                    err!(Shape, "the model's input shape {} has unknown sizes; give a sidecar JSON with input.shape", fmt_dims(&d))
                })?;
                if shape.len() != 4 {
                    return Err(err!(
                        Shape,
                        "model input has rank {} ({shape:?}); an image classifier takes [1, C, H, W] or [1, H, W, C]",
                        shape.len()
                    ));
                }
                let layout = detect_layout(graph, &input_name, &shape);
                let mut s = Sidecar::default_for(&layout.nchw_shape(&shape))?;
                s.input.layout = layout;
                (s, false)
            }
        };
        // A channels-last model gets a Transpose in front, so that the rest of the crate (the
        // preprocessing, the explanations, the drawing) sees [1, C, H, W] as for any other.
        let nchw_proto;
        let (proto, graph) = if sidecar.input.layout == Layout::Nhwc {
            nchw_proto = channels_first(proto, &input_name, &sidecar.input.shape);
            let g = nchw_proto.graph.as_ref().expect("a graph, checked above");
            (&nchw_proto, g)
        } else {
            (proto, graph)
        };

        proto::check(graph)?;
        analysis::check_operators(graph)?;
        let mut inference = onnx
            .model_for_proto_model(proto)
            .map_err(|e| Error::tract(ErrorKind::CorruptModel, "cannot interpret model", e))?;
        for node in inference.nodes() {
            if node.op_is::<UnimplementedOp>() {
                let op = nodes
                    .iter()
                    .find(|n| n.name == node.name)
                    .map(|n| n.op_type.clone())
                    .unwrap_or_else(|| node.op.name().to_string());
                return Err(err!(
                    UnsupportedOperator,
                    "unsupported operator {op} at node '{}'",
                    node.name
                ));
            }
        }

        // Scores are taken before a final Softmax / LogSoftmax.
        let outputs = inference
            .output_outlets()
            .map_err(|e| Error::tract(ErrorKind::CorruptModel, "cannot interpret model", e))?
            .to_vec();
        let Some(&out) = outputs.first() else {
            return Err(err!(
                CorruptModel,
                "cannot interpret model: it has no output"
            ));
        };
        let out_node = &inference.nodes()[out.node];
        let mut final_softmax = None;
        let mut logits_outlet = out;
        if let Some(n) = nodes.iter().find(|n| n.name == out_node.name) {
            if matches!(n.op_type.as_str(), "Softmax" | "LogSoftmax") {
                final_softmax = Some(n.op_type.clone());
                logits_outlet = out_node.inputs[0];
            }
        }
        inference
            .select_output_outlets(&[logits_outlet])
            .map_err(|e| Error::tract(ErrorKind::CorruptModel, "cannot interpret model", e))?;
        let logits_name = inference
            .outlet_label(logits_outlet)
            .map(|s| s.to_string())
            .unwrap_or_else(|| inference.nodes()[logits_outlet.node].name.clone());

        let shape = sidecar.input.shape.clone();
        inference
            .set_input_fact(0, f32::fact(&shape).into())
            .map_err(|e| Error::tract(ErrorKind::Shape, "wrong input shape", e))?;
        let typing = |e| {
            Error::tract(ErrorKind::Shape, &format!("cannot type the model for input shape {shape:?} (is it the right input shape?)"), e)
        };
        // The operator set tract parses the nodes as (the first import of the ONNX domain).
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map_or(0, |o| o.version);
        analysis::analyse(&mut inference, graph, opset, typing)?;
        let activation_values = limits::check_analysed_sizes(&inference)?;
        let typed = inference.into_typed().map_err(typing)?;
        limits::check_finite_weights(&typed)?;
        limits::check_tensor_sizes(&typed)?;
        let mut shapes = HashMap::new();
        for node in typed.nodes() {
            for (ix, o) in node.outputs.iter().enumerate() {
                if let (Some(label), Some(s)) = (
                    typed.outlet_label(OutletId::new(node.id, ix)),
                    o.fact.shape.as_concrete(),
                ) {
                    shapes.insert(label.to_string(), s.to_vec());
                }
            }
        }
        let mut typed = typed
            .into_decluttered()
            .map_err(|e| Error::tract(ErrorKind::Runtime, "cannot simplify the model", e))?;
        crate::kernels::flush::rewrite(&mut typed)
            .map_err(|e| Error::tract(ErrorKind::Runtime, "cannot simplify the model", e))?;
        let out_fact = typed
            .output_fact(0)
            .map_err(|e| Error::tract(ErrorKind::Runtime, "cannot read the model output", e))?;
        let out_shape = out_fact
            .shape
            .as_concrete()
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let classes: usize = out_shape.iter().product();
        if classes < 2 || out_shape.iter().filter(|&&d| d > 1).count() != 1 {
            return Err(err!(
                Shape,
                "model output has shape {out_shape:?}; a classifier outputs one score per class"
            ));
        }
        if !sidecar.labels.is_empty() && sidecar.labels.len() != classes {
            return Err(err!(
                Sidecar,
                "sidecar has {} labels but the model outputs {classes} classes",
                sidecar.labels.len()
            ));
        }
        let optimized = crate::kernels::optimize(typed.clone())
            .map_err(|e| Error::tract(ErrorKind::Runtime, "cannot optimize the model", e))?;
        let plan = tract_onnx::tract_core::plan::SimplePlan::new(optimized)
            .map_err(|e| Error::tract(ErrorKind::Runtime, "cannot plan the model", e))?;
        Ok(Model {
            plan,
            sidecar,
            sidecar_given,
            nodes,
            initializers,
            input_name,
            logits_name,
            final_softmax,
            shapes,
            typed,
            classes,
            activation_values,
        })
    }
}

fn dims_of(vi: &pb::ValueInfoProto) -> Option<Vec<Option<usize>>> {
    use pb::tensor_shape_proto::dimension::Value;
    let Some(pb::type_proto::Value::TensorType(t)) = vi.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let shape = t.shape.as_ref()?;
    Some(
        shape
            .dim
            .iter()
            .map(|d| match d.value {
                Some(Value::DimValue(v)) if v > 0 => Some(v as usize),
                _ => None,
            })
            .collect(),
    )
}

fn fmt_dims(d: &[Option<usize>]) -> String {
    let parts: Vec<String> = d
        .iter()
        .map(|v| v.map(|v| v.to_string()).unwrap_or_else(|| "?".into()))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The layout of a model input `[1, a, b, c]` without a sidecar: channels-last when the input
/// goes straight into a Transpose to channels-first (`perm` 0, 3, 1, 2; Keras and tf2onnx
/// exports), or when its last axis is a plausible channel count (1 to 4) and the second is not
/// (a 224x224x3 image); channels-first otherwise.
pub fn detect_layout(graph: &pb::GraphProto, input: &str, shape: &[usize]) -> Layout {
    let to_nchw = graph.node.iter().any(|n| {
        n.op_type == "Transpose"
            && n.input.first().is_some_and(|i| i == input)
            && n.attribute
                .iter()
                .any(|a| a.name == "perm" && a.ints == [0, 3, 1, 2])
    });
    if to_nchw || (shape[3] <= 4 && shape[1] > 4 && shape[2] > 4) {
        Layout::Nhwc
    } else {
        Layout::Nchw
    }
}

/// The model with a channels-first input: a new input `[1, C, H, W]`, transposed into the
/// original (channels-last) one by a node at the end of the list (tract wires nodes by name,
/// and the ONNX node numbering that layers are named by stays as in the file).
fn channels_first(proto: &pb::ModelProto, input: &str, nchw: &[usize]) -> pb::ModelProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let mut p = proto.clone();
    let g = p.graph.as_mut().expect("a graph, checked by the caller");
    let new_name = format!("{input}.nchw");
    for vi in g.input.iter_mut().filter(|vi| vi.name == input) {
        vi.name = new_name.clone();
        if let Some(pb::type_proto::Value::TensorType(t)) =
            vi.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.shape = Some(pb::TensorShapeProto {
                dim: nchw
                    .iter()
                    .map(|&d| Dimension {
                        value: Some(Value::DimValue(d as i64)),
                        ..Default::default()
                    })
                    .collect(),
            });
        }
    }
    g.node.push(pb::NodeProto {
        name: format!("{input}.to_channels_last"),
        op_type: "Transpose".into(),
        input: vec![new_name],
        output: vec![input.to_string()],
        attribute: vec![pb::AttributeProto {
            name: "perm".into(),
            r#type: pb::attribute_proto::AttributeType::Ints as i32,
            ints: vec![0, 2, 3, 1],
            ..Default::default()
        }],
        ..Default::default()
    });
    p
}
