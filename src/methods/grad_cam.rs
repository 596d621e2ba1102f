//! Grad-CAM (Selvaraju et al.): ReLU(sum_k alpha_k A^k), alpha_k = the spatial mean of
//! dy_c/dA^k, at the layer's own (h, w).

use super::Subject;
use crate::array::Array;
use crate::engine::{to_onnx_layout, Mode};
use crate::err;
use crate::error::Result;
use tract_onnx::prelude::tract_ndarray::{Axis, Ix4};

/// A layer's activation and gradient, as [1, C, H, W] arrays.
pub(crate) fn layer_maps(s: &Subject, layer: &str, method: &str) -> Result<(Array, Array)> {
    let (outlet, shape) = s.engine.resolve_layer(s.model, layer)?;
    if shape.len() != 4 || shape[0] != 1 {
        return Err(err!(
            Parameter,
            "{method} needs a layer with a [1, C, H, W] output; '{layer}' is {shape:?}"
        ));
    }
    // The forward run keeps only what the backward pass reads: rerun it keeping this layer.
    let kept;
    let run = s.tape()?;
    let tape = if run.has(outlet) {
        run
    } else {
        kept = s.engine.forward_keeping(s.model, s.x, outlet)?;
        &kept
    };
    let a = tape.activation(s.model, outlet)?;
    let g = s
        .engine
        .gradient(s.model, tape, s.target, Some(outlet), Mode::Gradient)?;
    let fix = |t: Array| to_onnx_layout(t.view(), &shape);
    Ok((fix(a)?, fix(g)?))
}

/// Grad-CAM's map and its terms: alpha_k and the activations A^k ([C, h, w]).
pub(crate) fn explain(s: &Subject, layer: &str) -> Result<(Array, super::Channels)> {
    let (a, g) = layer_maps(s, layer, "grad-cam")?;
    let a = a.into_dimensionality::<Ix4>().expect("4-D");
    let g = g.into_dimensionality::<Ix4>().expect("4-D");
    let (c, h, w) = (a.shape()[1], a.shape()[2], a.shape()[3]);
    let mut cam = tract_onnx::prelude::tract_ndarray::Array2::<f32>::zeros((h, w));
    let mut alphas = Vec::with_capacity(c);
    for k in 0..c {
        let alpha = g.index_axis(Axis(1), k).sum() / (h * w) as f32;
        cam.scaled_add(alpha, &a.index_axis(Axis(1), k).index_axis(Axis(0), 0));
        alphas.push(alpha);
    }
    let maps = a.index_axis_move(Axis(0), 0).into_dyn();
    Ok((
        cam.mapv(|v| v.max(0.0)).into_dyn(),
        super::Channels {
            layer: layer.to_string(),
            weights: alphas,
            maps,
        },
    ))
}
