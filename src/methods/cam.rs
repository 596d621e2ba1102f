//! Class activation mapping (Zhou et al.): sum_k w_k^c f_k, f = the feature map fed to the
//! global average pool, w = the dense weights of class c (no bias, no ReLU).
//!
//! Behind the pool the score is linear in f, y_c = sum_k w_k mean(f_k) + b, so
//! dy_c/df_k(x, y) = w_k / (H W) everywhere and the map is H W sum_k f_k dy_c/df_k: one short
//! backward pass, which also covers a net whose pooled output is itself the scores.

use super::Subject;
use crate::array::Array;
use crate::err;
use crate::error::Result;
use crate::model::Model;
use tract_onnx::prelude::tract_ndarray::Axis;

/// CAM's map and its terms: the class weights w_k^c and the feature maps f_k ([C, h, w]).
pub(crate) fn explain(s: &Subject, layer: Option<&str>) -> Result<(Array, super::Channels)> {
    let feature = cam_layer(s.model)
        .map_err(|why| err!(Parameter, "CAM does not apply to this model: {why}"))?;
    if let Some(l) = layer {
        if l != feature {
            return Err(err!(Parameter, "CAM needs the feature map fed to the global average pool ('{feature}'), not '{l}'; use grad-cam for other layers"));
        }
    }
    let (a, g) = super::grad_cam::layer_maps(s, &feature, "cam")?;
    let hw = (a.shape()[2] * a.shape()[3]) as f32;
    let map = (&a * &g).sum_axis(Axis(1)).index_axis_move(Axis(0), 0) * hw;
    // dy/df_k is w_k / (H W) at every position: its spatial mean times H W is w_k.
    let weights = g
        .index_axis(Axis(0), 0)
        .outer_iter()
        .map(|gk| gk.mean().unwrap_or(0.0) * hw)
        .collect();
    Ok((
        map,
        super::Channels {
            layer: feature,
            weights,
            maps: a.index_axis_move(Axis(0), 0),
        },
    ))
}

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
pub fn cam_layer(model: &Model) -> std::result::Result<String, String> {
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
