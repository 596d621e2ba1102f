//! Loading an ONNX classifier into tract, and the forward pass.
//!
//! A [`Model`] keeps three views of one network:
//! - the ONNX node list (names, operator types, tensor names) for `info` and layer numbering;
//! - the decluttered `TypedModel`, which the explanation engine walks;
//! - an optimized, cached plan for fast forward passes.

use crate::err;
use crate::error::{Error, ErrorKind, Result};
use crate::sidecar::{Layout, Sidecar};
use std::collections::HashMap;
use std::sync::Arc;
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::unimpl::UnimplementedOp;
use tract_onnx::tract_hir::infer::Factoid;

/// A parsed ONNX model (tract-onnx's protobuf type).
pub type Proto = pb::ModelProto;

/// Largest model accepted (bytes, the `.onnx` and its external data together). Natively 1 GiB:
/// VGG-16 is 528 MB, and a 24 GiB laptop explains it. In wasm 256 MiB: a wasm32 page has at most
/// 4 GiB of memory, and tract holds the weights twice (as read, and packed for its kernels)
/// beside the activations an explanation keeps.
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_MODEL_BYTES: usize = 1 << 30;
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
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_ACTIVATION_ELEMENTS: usize = 1 << 27;
/// Largest tensor a ConstantOfShape may create: tract builds it while loading, and copies it
/// several times (a fuzzed one of 202 M values took 12.6 GB and 29 s to load). Classifiers use
/// it for pads and masks; 2^22 values are 16 MiB.
pub const MAX_CONSTANT_ELEMENTS: usize = 1 << 22;

/// One node of the ONNX graph, in file order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OnnxNode {
    pub index: usize,
    pub name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

pub struct Model {
    pub sidecar: Sidecar,
    /// Whether the sidecar came with the model or was derived from its input.
    pub sidecar_given: bool,
    pub nodes: Vec<OnnxNode>,
    /// Names of the ONNX initializers (weights).
    pub initializers: Vec<String>,
    pub input_name: String,
    /// The tensor whose values are the class scores (before any final Softmax).
    pub logits_name: String,
    /// The final Softmax/LogSoftmax node that was cut off, if any.
    pub final_softmax: Option<String>,
    /// Concrete shape of every ONNX tensor tract could type.
    pub shapes: HashMap<String, Vec<usize>>,
    /// The decluttered typed graph (input fact fixed to the sidecar shape).
    pub typed: TypedModel,
    plan: Arc<TypedSimplePlan>,
    pub classes: usize,
    /// The values all computed tensors hold for one input (before simplification): what
    /// bounds memory ([`MAX_ACTIVATION_ELEMENTS`], [`memory_mib`]).
    pub activation_values: usize,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Model({:?}, {} nodes)",
            self.sidecar.name,
            self.nodes.len()
        )
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

impl Model {
    /// Loads a model from ONNX bytes and an optional sidecar (JSON text).
    pub fn load(bytes: &[u8], sidecar_json: Option<&str>) -> Result<Model> {
        let sidecar = sidecar_json.map(Sidecar::from_json).transpose()?;
        Model::load_with(bytes, sidecar)
    }

    pub fn load_with(bytes: &[u8], sidecar: Option<Sidecar>) -> Result<Model> {
        Model::from_proto(&Model::read_proto(bytes)?, sidecar)
    }

    /// The ONNX protobuf of a model file (checked for size, not yet for content).
    pub fn read_proto(bytes: &[u8]) -> Result<pb::ModelProto> {
        if bytes.is_empty() {
            return Err(err!(CorruptModel, "cannot read model: the file is empty"));
        }
        if bytes.len() > MAX_MODEL_BYTES {
            return Err(err!(
                Limit,
                "model too large: {} MiB (at most {} MiB here; loading it would need about {} MiB of memory)",
                bytes.len() >> 20,
                MAX_MODEL_BYTES >> 20,
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
    /// ([`crate::external`]): `file` gives the bytes of each file the model names.
    pub fn read_proto_with<'a>(
        bytes: &[u8],
        file: &dyn Fn(&str) -> Option<&'a [u8]>,
    ) -> Result<pb::ModelProto> {
        let mut proto = Model::read_proto(bytes)?;
        crate::external::inline(&mut proto, bytes.len(), file)?;
        Ok(proto)
    }

    /// Loads a model from its parsed protobuf (e.g. one whose weights were rewritten).
    pub fn from_proto(proto: &pb::ModelProto, sidecar: Option<Sidecar>) -> Result<Model> {
        // Tensors still stored outside: the caller had no way to give their files.
        if let Some(loc) = crate::external::locations(proto)?.first() {
            return Err(crate::external::not_given(loc));
        }
        let onnx = crate::checked_ops::onnx();
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
        if graph.node.len() > MAX_NODES {
            return Err(err!(
                Limit,
                "model has {} nodes (at most {MAX_NODES})",
                graph.node.len()
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

        check_graph_outputs(graph)?;
        check_raw_tensors(graph)?;
        check_constant_shapes(graph)?;
        check_transpose_perms(graph)?;
        check_node_arity(graph)?;
        check_slice_steps(graph)?;
        crate::analysis::check_operators(graph)?;
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
        crate::analysis::analyse(&mut inference, graph, opset, typing)?;
        let activation_values = check_analysed_sizes(&inference)?;
        let typed = inference.into_typed().map_err(typing)?;
        check_finite_weights(&typed)?;
        check_tensor_sizes(&typed)?;
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
        crate::engine::flush::rewrite(&mut typed)
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
        let optimized = crate::engine::optimize(typed.clone())
            .map_err(|e| Error::tract(ErrorKind::Runtime, "cannot optimize the model", e))?;
        let plan = tract_onnx::tract_core::plan::SimplePlan::new(optimized)
            .map_err(|e| Error::tract(ErrorKind::Runtime, "cannot plan the model", e))?;
        Ok(Model {
            sidecar,
            sidecar_given,
            nodes,
            initializers,
            input_name,
            logits_name,
            final_softmax,
            shapes,
            typed,
            plan,
            classes,
            activation_values,
        })
    }

    pub fn input_shape(&self) -> &[usize] {
        &self.sidecar.input.shape
    }

    /// A tensor given in the model's own layout as `[1, C, H, W]`: a channels-last model's
    /// `[1, H, W, C]` input is transposed; anything else is returned as it is (and checked by
    /// [`Model::check_input`]).
    pub fn to_nchw(&self, x: tract_ndarray::ArrayD<f32>) -> tract_ndarray::ArrayD<f32> {
        let input = &self.sidecar.input;
        if input.layout == Layout::Nhwc
            && x.shape() == input.layout.model_shape(&input.shape).as_slice()
            && x.shape() != input.shape.as_slice()
        {
            x.permuted_axes(vec![0, 3, 1, 2])
                .as_standard_layout()
                .into_owned()
        } else {
            x
        }
    }

    /// Checks that `x` has the model's input shape and finite values.
    pub fn check_input(&self, x: &tract_ndarray::ArrayD<f32>) -> Result<()> {
        if x.shape() != self.input_shape() {
            return Err(err!(
                Shape,
                "wrong input shape: the model takes {:?}, got {:?}",
                self.input_shape(),
                x.shape()
            ));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(err!(NonFinite, "input contains NaN or infinite values"));
        }
        Ok(())
    }

    /// The class scores (logits) for one input tensor.
    pub fn forward(&self, x: &tract_ndarray::ArrayD<f32>) -> Result<Vec<f32>> {
        self.check_input(x)?;
        let t: Tensor = x.clone().into();
        let out = self
            .plan
            .run(tvec!(t.into_tvalue()))
            .map_err(|e| Error::tract(ErrorKind::Runtime, "forward pass failed", e))?;
        let v = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| Error::tract(ErrorKind::Runtime, "forward pass output", e))?;
        let logits: Vec<f32> = v.iter().copied().collect();
        if logits.iter().any(|v| !v.is_finite()) {
            return Err(err!(NonFinite, "the model produced NaN or infinite scores"));
        }
        Ok(logits)
    }

    /// Top-k classes with softmax probabilities.
    pub fn predict(&self, x: &tract_ndarray::ArrayD<f32>, k: usize) -> Result<Prediction> {
        let logits = self.forward(x)?;
        Ok(Prediction::from_logits(&logits, k, |i| {
            self.sidecar.label(i)
        }))
    }
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
/// [`MAX_TENSOR_ELEMENTS`] elements: tract evaluates it while typing the model, asserts that
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

fn fmt_dims(d: &[Option<usize>]) -> String {
    let parts: Vec<String> = d
        .iter()
        .map(|v| v.map(|v| v.to_string()).unwrap_or_else(|| "?".into()))
        .collect();
    format!("[{}]", parts.join(", "))
}

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

fn check_analysed_sizes(model: &InferenceModel) -> Result<usize> {
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

fn check_tensor_sizes(model: &TypedModel) -> Result<()> {
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

fn check_finite_weights(model: &TypedModel) -> Result<()> {
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

#[derive(Debug, Clone, serde::Serialize)]
pub struct ClassScore {
    pub index: usize,
    pub label: String,
    pub probability: f32,
    pub logit: f32,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Prediction {
    pub top: Vec<ClassScore>,
}

impl Prediction {
    pub fn from_logits(logits: &[f32], k: usize, label: impl Fn(usize) -> String) -> Prediction {
        let p = softmax(logits);
        let mut idx: Vec<usize> = (0..logits.len()).collect();
        idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        let top = idx
            .into_iter()
            .take(k.max(1))
            .map(|i| ClassScore {
                index: i,
                label: label(i),
                probability: p[i],
                logit: logits[i],
            })
            .collect();
        Prediction { top }
    }
}

pub fn softmax(v: &[f32]) -> Vec<f32> {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = v.iter().map(|&x| ((x - m) as f64).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|&x| (x / s) as f32).collect()
}
