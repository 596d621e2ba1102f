//! What `saliency info` and the viewer show about a model: its nodes with tensor names and
//! shapes, the numbered conv/dense layers (docs/conventions.md), spatial layers for Grad-CAM, and
//! which explanation methods apply.

use crate::model::Model;
use serde::Serialize;

/// One ONNX node as `saliency info` lists it (JSON: an entry of `nodes` or `spatial_layers`).
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    /// Position in the ONNX file's node list, from 0.
    pub index: usize,
    /// The node's ONNX name (its first output's name when the file gives none).
    pub name: String,
    /// The ONNX operator, e.g. `Conv`, `Relu`.
    pub op_type: String,
    /// The ONNX name of the node's first output tensor.
    pub output: String,
    /// That tensor's concrete shape, `None` when tract could not type it.
    pub shape: Option<Vec<usize>>,
}

/// One numbered conv/dense layer (JSON: an entry of `layers`), as LRP's `--rule` ranges name it.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    /// Layer number: Conv / Gemm / MatMul nodes counted in ONNX file order from 0.
    pub layer: usize,
    /// The node's position in the ONNX node list ([`NodeInfo::index`]).
    pub node: usize,
    /// The node's ONNX name (its first output's name when the file gives none).
    pub name: String,
    /// `Conv`, `Gemm` or `MatMul`.
    pub op_type: String,
    /// The ONNX name of the layer's first output tensor.
    pub output: String,
    /// That tensor's concrete shape, `None` when tract could not type it.
    pub shape: Option<Vec<usize>>,
}

/// Everything `saliency info` reports about a model; serialised as `saliency info --json` and
/// the JS `SaliencyModel.info()`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// The sidecar's `name` (empty without one).
    pub name: String,
    /// The sidecar's `title` (empty without one).
    pub title: String,
    /// The ONNX name of the model's one input tensor.
    pub input_name: String,
    /// The input tensor's shape, `[1, C, H, W]`.
    pub input_shape: Vec<usize>,
    /// What an image becomes in the input (the sidecar's `input.color`).
    pub color: crate::sidecar::Color,
    /// How the model lays out its input (`input_shape` is always [1, C, H, W]).
    pub layout: crate::sidecar::Layout,
    /// The image preprocessing (the sidecar's, or the defaults without one).
    pub preprocess: crate::sidecar::Preprocess,
    /// Whether a sidecar came with the model (else [`crate::Sidecar::default_for`] made one).
    pub sidecar_given: bool,
    /// The number of class scores the model outputs.
    pub classes: usize,
    /// The values the model's computed tensors hold for one input
    /// ([`Model::activation_values`]).
    pub activation_values: usize,
    /// The memory (MiB) an explanation needs for those values
    /// ([`crate::load::limits::memory_mib`]).
    pub memory_mib: usize,
    /// One label per class: the sidecar's, or `class i` without labels.
    pub labels: Vec<String>,
    /// The ONNX name of the tensor holding the class scores (before any final softmax).
    pub logits: String,
    /// The operator (`Softmax` or `LogSoftmax`) cut off the model's output, if any.
    pub final_softmax: Option<String>,
    /// Every ONNX node, in file order.
    pub nodes: Vec<NodeInfo>,
    /// The numbered conv/dense layers.
    pub layers: Vec<LayerInfo>,
    /// Tensors with a [1, C, H, W] shape: Grad-CAM candidates.
    pub spatial_layers: Vec<NodeInfo>,
    /// The feature map CAM uses (the input of the global average pool), if CAM applies.
    pub cam_layer: Option<String>,
    /// Every method of [`crate::methods::METHODS`], whether it applies and why.
    pub methods: Vec<crate::methods::MethodInfo>,
    /// The methods' parameters, defaults and options ([`crate::catalog`]): the same for every
    /// model, so that one `info` call tells a client all it needs to build its controls.
    pub catalog: crate::catalog::Catalog,
    /// LRP canonisation: the BatchNorms merged into the layer before them (one line each), or
    /// why LRP cannot map this model's layers.
    pub lrp_canonization: Vec<String>,
}

/// The description of a loaded model.
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
    let layers: Vec<LayerInfo> = crate::lrp::layers::numbered(model)
        .map(|(layer, n)| LayerInfo {
            layer,
            node: n.index,
            name: n.name.clone(),
            op_type: n.op_type.clone(),
            output: n.outputs.first().cloned().unwrap_or_default(),
            shape: n.outputs.first().and_then(|t| shape_of(t)),
        })
        .collect();
    let found = crate::methods::applicability(model);
    let spatial_layers: Vec<NodeInfo> = found
        .spatial_layers
        .iter()
        .filter_map(|t| nodes.iter().find(|n| &n.output == t).cloned())
        .collect();
    let (cam, methods, lrp_canonization) = (found.cam_layer, found.methods, found.lrp_canonization);
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
        memory_mib: crate::load::limits::memory_mib(model.activation_values),
        labels: (0..model.classes).map(|i| model.sidecar.label(i)).collect(),
        logits: model.logits_name.clone(),
        final_softmax: model.final_softmax.clone(),
        nodes,
        layers,
        spatial_layers,
        cam_layer: cam,
        methods,
        catalog: crate::catalog::catalog(),
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
            "  {:>5}  {:<20} {:<40} {:<18} node",
            "index", "op", "output tensor", "shape"
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
