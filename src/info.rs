//! What `saliency info` and the viewer show about a model: its nodes with tensor names and
//! shapes, the numbered conv/dense layers (CONVENTIONS.md), spatial layers for Grad-CAM, and
//! which explanation methods apply.

use crate::model::Model;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    pub index: usize,
    pub name: String,
    pub op_type: String,
    /// The ONNX name of the node's first output tensor.
    pub output: String,
    pub shape: Option<Vec<usize>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    /// Layer number: Conv / Gemm / MatMul nodes counted in ONNX file order from 0.
    pub layer: usize,
    pub node: usize,
    pub name: String,
    pub op_type: String,
    pub output: String,
    pub shape: Option<Vec<usize>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodInfo {
    pub method: &'static str,
    pub applies: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub title: String,
    pub input_name: String,
    pub input_shape: Vec<usize>,
    pub color: crate::sidecar::Color,
    /// How the model lays out its input (`input_shape` is always [1, C, H, W]).
    pub layout: crate::sidecar::Layout,
    pub preprocess: crate::sidecar::Preprocess,
    pub sidecar_given: bool,
    pub classes: usize,
    /// The values the model's computed tensors hold for one input, and the memory an
    /// explanation needs for them (model::memory_mib).
    pub activation_values: usize,
    pub memory_mib: usize,
    pub labels: Vec<String>,
    pub logits: String,
    pub final_softmax: Option<String>,
    pub nodes: Vec<NodeInfo>,
    pub layers: Vec<LayerInfo>,
    /// Tensors with a [1, C, H, W] shape: Grad-CAM candidates.
    pub spatial_layers: Vec<NodeInfo>,
    /// The feature map CAM uses (the input of the global average pool), if CAM applies.
    pub cam_layer: Option<String>,
    pub methods: Vec<MethodInfo>,
    /// LRP canonisation: the BatchNorms merged into the layer before them (one line each), or
    /// why LRP cannot map this model's layers.
    pub lrp_canonization: Vec<String>,
}

pub const LAYER_OPS: [&str; 3] = ["Conv", "Gemm", "MatMul"];
const PASS_THROUGH: [&str; 6] = [
    "Flatten",
    "Reshape",
    "Squeeze",
    "Identity",
    "Dropout",
    "Unsqueeze",
];

/// A global average pool in any of the forms exporters write: `GlobalAveragePool`, or a
/// `ReduceMean` (torch's `.mean((2, 3))`, `adaptive_avg_pool2d(x, 1)` through torch.export) that
/// takes a [1, C, H, W] tensor to C values, whatever its axes input or attribute and `keepdims`.
fn is_global_average_pool(model: &Model, n: &crate::model::OnnxNode) -> bool {
    match n.op_type.as_str() {
        "GlobalAveragePool" => true,
        "ReduceMean" => {
            let shape = |t: Option<&String>| t.and_then(|t| model.shapes.get(t));
            match (shape(n.inputs.first()), shape(n.outputs.first())) {
                (Some(i), Some(o)) => {
                    i.len() == 4
                        && i[0] == 1
                        && i[2] * i[3] > 1
                        && o.iter().product::<usize>() == i[1]
                        && o.get(1) == Some(&i[1])
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// Finds the CAM structure: a global average pool whose output, through reshapes only, feeds a
/// dense layer producing the scores, or is itself the scores (a conv with one channel per
/// class). Returns the pooled feature map's tensor name, or why CAM does not apply.
pub fn cam_layer(model: &Model) -> Result<String, String> {
    let nodes = &model.nodes;
    let consumers = |t: &str| {
        nodes
            .iter()
            .filter(|n| n.inputs.iter().any(|i| i == t))
            .collect::<Vec<_>>()
    };
    let Some(gap) = nodes
        .iter()
        .rev()
        .find(|n| is_global_average_pool(model, n))
    else {
        return Err("CAM needs a global average pool feeding a dense layer; this model has none (no GlobalAveragePool, nor a ReduceMean over the spatial axes)".into());
    };
    let mut t = gap.outputs[0].clone();
    loop {
        if t == model.logits_name {
            return Ok(gap.inputs[0].clone());
        }
        let c = consumers(&t);
        if c.len() != 1 {
            break;
        }
        let n = c[0];
        // torch.export writes AdaptiveAvgPool2d's [1, C, 1, 1] -> [1, C] as a Gather
        // (`as_strided`) between Reshapes: a re-indexing of the C values, as a Reshape is.
        let count = |t: Option<&String>| {
            t.and_then(|t| model.shapes.get(t))
                .map(|s| s.iter().product::<usize>())
        };
        let reindexes = n.op_type == "Gather"
            && count(n.inputs.first()).is_some()
            && count(n.inputs.first()) == count(n.outputs.first());
        if PASS_THROUGH.contains(&n.op_type.as_str()) || reindexes {
            t = n.outputs[0].clone();
            continue;
        }
        if n.op_type == "Gemm" || n.op_type == "MatMul" {
            let mut out = n.outputs[0].clone();
            // MatMul + Add(bias)
            let next = consumers(&out);
            if n.op_type == "MatMul" && next.len() == 1 && next[0].op_type == "Add" {
                out = next[0].outputs[0].clone();
            }
            if out == model.logits_name {
                return Ok(gap.inputs[0].clone());
            }
        }
        break;
    }
    Err(format!(
        "CAM needs the global average pool '{}' to feed the final dense layer directly",
        gap.name
    ))
}

pub fn describe(model: &Model) -> ModelInfo {
    let shape_of = |t: &str| model.shapes.get(t).cloned();
    let nodes: Vec<NodeInfo> = model
        .nodes
        .iter()
        .map(|n| {
            let output = n.outputs.first().cloned().unwrap_or_default();
            NodeInfo {
                index: n.index,
                name: n.name.clone(),
                op_type: n.op_type.clone(),
                shape: shape_of(&output),
                output,
            }
        })
        .collect();
    let layers: Vec<LayerInfo> = nodes
        .iter()
        .filter(|n| LAYER_OPS.contains(&n.op_type.as_str()))
        .enumerate()
        .map(|(layer, n)| LayerInfo {
            layer,
            node: n.index,
            name: n.name.clone(),
            op_type: n.op_type.clone(),
            output: n.output.clone(),
            shape: n.shape.clone(),
        })
        .collect();
    // Only layers Grad-CAM can find in the simplified graph are offered (nearly all are: see
    // Engine::resolve_layer for fused and scaled tensors).
    let engine = crate::engine::Engine::new(model).ok();
    let explainable = |t: &str| {
        engine
            .as_ref()
            .is_none_or(|e| e.resolve_layer(model, t).is_ok())
    };
    let spatial_layers: Vec<NodeInfo> = nodes
        .iter()
        .filter(|n| matches!(&n.shape, Some(s) if s.len() == 4 && s[2] * s[3] > 1))
        .filter(|n| explainable(&n.output))
        .cloned()
        .collect();
    let cam = cam_layer(model).and_then(|l| {
        if explainable(&l) {
            Ok(l)
        } else {
            Err(format!(
                "CAM's feature map '{l}' was fused away when the model was simplified"
            ))
        }
    });
    let gradient_family = [
        "gradient",
        "gradient-x-input",
        "guided-backprop",
        "integrated-gradients",
        "smoothgrad",
    ];
    let mut methods: Vec<MethodInfo> = gradient_family
        .iter()
        .map(|m| MethodInfo {
            method: m,
            applies: true,
            reason: "any differentiable classifier".into(),
        })
        .collect();
    methods.push(MethodInfo {
        method: "grad-cam",
        applies: !spatial_layers.is_empty(),
        reason: if spatial_layers.is_empty() {
            "no layer with a spatial [1, C, H, W] output".into()
        } else {
            format!("{} spatial layers", spatial_layers.len())
        },
    });
    methods.push(MethodInfo {
        method: "cam",
        applies: cam.is_ok(),
        reason: match &cam {
            Ok(l) => format!("global average pool of '{l}' feeds the class scores"),
            Err(e) => e.clone(),
        },
    });
    let lrp_graph = crate::lrp::LrpGraph::build(model);
    methods.push(MethodInfo {
        method: "lrp",
        applies: !layers.is_empty() && lrp_graph.is_ok(),
        reason: match &lrp_graph {
            _ if layers.is_empty() => "no Conv/Gemm/MatMul layer".into(),
            Ok(_) => format!("{} conv/dense layers", layers.len()),
            Err(e) => e.to_string(),
        },
    });
    let lrp_canonization = match lrp_graph {
        Ok(g) if g.canonization.is_empty() => {
            vec!["nothing to merge (no BatchNormalization directly after a layer)".to_string()]
        }
        Ok(g) => g.canonization,
        Err(e) => vec![format!("LRP does not apply: {e}")],
    };
    ModelInfo {
        lrp_canonization,
        name: model.sidecar.name.clone(),
        title: model.sidecar.title.clone(),
        input_name: model.input_name.clone(),
        input_shape: model.input_shape().to_vec(),
        color: model.sidecar.input.color,
        layout: model.sidecar.input.layout,
        preprocess: model.sidecar.preprocess.clone(),
        sidecar_given: model.sidecar_given,
        classes: model.classes,
        activation_values: model.activation_values,
        memory_mib: crate::model::memory_mib(model.activation_values),
        labels: (0..model.classes).map(|i| model.sidecar.label(i)).collect(),
        logits: model.logits_name.clone(),
        final_softmax: model.final_softmax.clone(),
        nodes,
        layers,
        spatial_layers,
        cam_layer: cam.ok(),
        methods,
    }
}

impl ModelInfo {
    /// The human-readable report printed by `saliency info`.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let shp = |s: &Option<Vec<usize>>| {
            s.as_ref()
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "?".into())
        };
        let _ = writeln!(
            s,
            "model: {}{}",
            if self.name.is_empty() {
                "(unnamed)"
            } else {
                &self.name
            },
            if self.title.is_empty() {
                String::new()
            } else {
                format!(" — {}", self.title)
            }
        );
        let _ = writeln!(
            s,
            "input: '{}' {:?} {:?}{}",
            self.input_name,
            self.input_shape,
            self.color,
            match self.layout {
                crate::sidecar::Layout::Nchw => "",
                crate::sidecar::Layout::Nhwc => " (the model takes it channels-last, [1, H, W, C])",
            }
        );
        let p = &self.preprocess;
        let _ = writeln!(
            s,
            "preprocess{}: resize shorter side to {}, centre crop {}x{}, x = (pixel/255 - mean) / std, mean {:?}, std {:?}",
            if self.sidecar_given { "" } else { " (no sidecar: defaults)" },
            p.resize, p.crop[0], p.crop[1], p.mean, p.std
        );
        let _ = writeln!(
            s,
            "output: '{}', {} classes{}",
            self.logits,
            self.classes,
            self.final_softmax
                .as_ref()
                .map(|o| format!(" (scores taken before the final {o})"))
                .unwrap_or_default()
        );
        let _ = writeln!(s, "\nnodes ({}):", self.nodes.len());
        let _ = writeln!(
            s,
            "  {:>5}  {:<20} {:<40} {:<18} {}",
            "index", "op", "output tensor", "shape", "node"
        );
        for n in &self.nodes {
            let _ = writeln!(
                s,
                "  {:>5}  {:<20} {:<40} {:<18} {}",
                n.index,
                n.op_type,
                n.output,
                shp(&n.shape),
                n.name
            );
        }
        let _ = writeln!(s, "\nlayers (conv/dense, numbered for --rule):");
        for l in &self.layers {
            let _ = writeln!(
                s,
                "  {:>3}  {:<6} {:<40} {}",
                l.layer,
                l.op_type,
                l.output,
                shp(&l.shape)
            );
        }
        let _ = writeln!(s, "\nLRP canonisation (before the rules apply):");
        for c in &self.lrp_canonization {
            let _ = writeln!(s, "  {c}");
        }
        let _ = writeln!(s, "\nspatial layers (for --layer):");
        for n in &self.spatial_layers {
            let _ = writeln!(s, "  {:<40} {:<18} {}", n.output, shp(&n.shape), n.op_type);
        }
        let _ = writeln!(s, "\nmethods:");
        for m in &self.methods {
            let _ = writeln!(
                s,
                "  {:<22} {:<4} {}",
                m.method,
                if m.applies { "yes" } else { "no" },
                m.reason
            );
        }
        s
    }
}
