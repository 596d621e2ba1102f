//! The model-randomisation sanity check (Adebayo et al. 2018): re-draw the weights of the
//! model's layers cumulatively from the top (the logits) down and explain the same input for
//! the same class after each stage. A map that explains the model must change as the model is
//! destroyed; one that barely changes shows the input, not the model (the paper's finding for
//! guided backprop). Change is measured as Spearman's rank correlation with the original map,
//! of the signed maps and of their absolute values (the paper reports both).
//!
//! Layers are the ONNX Conv, ConvTranspose, Gemm and MatMul nodes with weights stored as
//! initializers, in file (topological) order. Each of their initializers is replaced with
//! Gaussian noise of the same standard deviation (a zero tensor stays zero), seeded.

use crate::array::Array;
use crate::err;
use crate::error::Result;
use crate::methods::{rng::Normal, Explainer, Method};
use crate::model::Model;
use crate::render::{Map2, Reduce};
use crate::sidecar::Sidecar;
use serde::Serialize;
use tract_onnx::pb;

/// A map whose absolute-value rank correlation with the original stays at or above this after
/// every layer is randomised is flagged as insensitive to the model.
pub const FLAG_CORRELATION: f64 = 0.5;

/// Most stages computed (each loads a model and explains once).
pub const MAX_STAGES: usize = 64;

/// A layer the check randomises: an ONNX Conv, ConvTranspose, Gemm or MatMul node with float
/// initializers among its inputs.
#[derive(Debug, Clone, Serialize)]
pub struct WeightLayer {
    /// The node's name, or its first output's when it has none.
    pub name: String,
    /// The ONNX operator.
    pub op_type: String,
    /// The names of its float initializer inputs (weights, bias), all of them randomised.
    pub initializers: Vec<String>,
}

/// One stage of the cascade.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// How many layers are randomised, counted from the top (0 = the original model).
    pub randomized: usize,
    /// The lowest layer randomised so far.
    pub layer: Option<String>,
    /// Spearman's rank correlation of this stage's map with the original's (1 at stage 0).
    pub spearman: f64,
    /// The same for the maps' absolute values.
    pub spearman_abs: f64,
    /// The explanation's map at the input's resolution (channel sum).
    #[serde(skip)]
    pub map: Map2,
}

/// The outcome of [`cascade`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The method's id ([`Method::name`]).
    pub method: String,
    /// The explained class, the same at every stage.
    pub target: usize,
    /// The model's weight layers, in file order ([`weight_layers`]).
    pub layers: Vec<WeightLayer>,
    /// Stage 0 (the original model), then one per cascade depth, deepest last.
    pub stages: Vec<Stage>,
    /// The map barely changed: |spearman_abs| >= FLAG_CORRELATION with every layer randomised.
    pub flagged: bool,
}

/// The model's weight layers, in file order.
pub fn weight_layers(proto: &pb::ModelProto) -> Vec<WeightLayer> {
    let Some(g) = proto.graph.as_ref() else {
        return vec![];
    };
    let inits: std::collections::HashSet<&str> = g
        .initializer
        .iter()
        .filter(|t| t.data_type == pb::tensor_proto::DataType::Float as i32)
        .map(|t| t.name.as_str())
        .collect();
    g.node
        .iter()
        .filter(|n| {
            matches!(
                n.op_type.as_str(),
                "Conv" | "ConvTranspose" | "Gemm" | "MatMul"
            )
        })
        .filter_map(|n| {
            let w: Vec<String> = n
                .input
                .iter()
                .filter(|i| inits.contains(i.as_str()))
                .cloned()
                .collect();
            (!w.is_empty()).then(|| WeightLayer {
                name: if n.name.is_empty() {
                    n.output.first().cloned().unwrap_or_default()
                } else {
                    n.name.clone()
                },
                op_type: n.op_type.clone(),
                initializers: w,
            })
        })
        .collect()
}

/// A float tensor's values, stored as `float_data` or little-endian `raw_data`.
pub fn floats(t: &pb::TensorProto) -> Vec<f32> {
    if !t.float_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

/// A copy of `proto` whose `layers` have Gaussian weights of the original standard deviation.
pub fn randomize(proto: &pb::ModelProto, layers: &[WeightLayer], seed: u64) -> pb::ModelProto {
    let mut p = proto.clone();
    let names: std::collections::HashSet<&str> = layers
        .iter()
        .flat_map(|l| l.initializers.iter().map(String::as_str))
        .collect();
    let mut rng = Normal::new(seed);
    if let Some(g) = p.graph.as_mut() {
        for t in g
            .initializer
            .iter_mut()
            .filter(|t| names.contains(t.name.as_str()))
        {
            let v = floats(t);
            let n = v.len().max(1) as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let std = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            t.float_data = v.iter().map(|_| (rng.sample() * std) as f32).collect();
            t.raw_data.clear();
        }
    }
    p
}

/// Which cascade depths to compute: every one up to `max_stages`, else evenly spaced ones
/// ending with all layers randomised.
pub fn stage_depths(layers: usize, max_stages: usize) -> Vec<usize> {
    if layers <= max_stages {
        return (1..=layers).collect();
    }
    let mut d: Vec<usize> = (1..=max_stages)
        .map(|j| ((j * layers) as f64 / max_stages as f64).round() as usize)
        .collect();
    d.dedup();
    d
}

/// Runs the cascade for `method` on input `x`, explaining `target` (default: the original
/// model's top class) at every stage. `progress(done, total)` follows the stages.
#[allow(clippy::too_many_arguments)]
pub fn cascade(
    proto: &pb::ModelProto,
    sidecar: &Sidecar,
    x: &Array,
    method: &Method,
    target: Option<usize>,
    max_stages: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report> {
    if !(1..=MAX_STAGES).contains(&max_stages) {
        return Err(err!(
            Parameter,
            "sanity stages must be between 1 and {MAX_STAGES}, got {max_stages}"
        ));
    }
    let layers = weight_layers(proto);
    if layers.is_empty() {
        return Err(err!(Parameter, "the sanity check needs Conv, Gemm or MatMul layers with stored weights; this model has none"));
    }
    let (h, w) = super::input_hw(x.shape())?;
    let depths = stage_depths(layers.len(), max_stages);
    let total = depths.len() + 1;
    let mut original = Explainer::new(Model::from_proto(proto, Some(sidecar.clone()))?);
    let e = original.explain(x, method, target)?;
    let target = e.target;
    let map_of = |a: &Array| -> Result<Map2> {
        let a = a.as_standard_layout();
        super::pixel_map(
            a.shape(),
            a.as_slice().expect("standard layout"),
            h,
            w,
            Reduce::Sum,
        )
    };
    let base = map_of(&e.attribution)?;
    let abs = |m: &Map2| m.data.iter().map(|v| v.abs()).collect::<Vec<f32>>();
    let base_abs = abs(&base);
    progress(1, total);
    let mut stages = vec![Stage {
        randomized: 0,
        layer: None,
        spearman: 1.0,
        spearman_abs: 1.0,
        map: base.clone(),
    }];
    for (i, &d) in depths.iter().enumerate() {
        let top = &layers[layers.len() - d..];
        let model = Model::from_proto(&randomize(proto, top, seed), Some(sidecar.clone()))?;
        let e = Explainer::new(model).explain(x, method, Some(target))?;
        let m = map_of(&e.attribution)?;
        stages.push(Stage {
            randomized: d,
            layer: Some(top[0].name.clone()),
            spearman: super::spearman(&base.data, &m.data),
            spearman_abs: super::spearman(&base_abs, &abs(&m)),
            map: m,
        });
        progress(i + 2, total);
    }
    let flagged = stages
        .last()
        .is_some_and(|s| s.spearman_abs.abs() >= FLAG_CORRELATION);
    Ok(Report {
        method: method.name().into(),
        target,
        layers,
        stages,
        flagged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_end_with_every_layer() {
        assert_eq!(stage_depths(3, 8), vec![1, 2, 3]);
        assert_eq!(stage_depths(10, 4), vec![3, 5, 8, 10]);
    }
}
