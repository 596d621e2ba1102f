//! Class activation mapping (Zhou et al.): sum_k w_k^c f_k, f = the feature map fed to the
//! global average pool, w = the dense weights of class c (no bias, no ReLU).
//!
//! Behind the pool the score is linear in f, y_c = sum_k w_k mean(f_k) + b, so
//! dy_c/df_k(x, y) = w_k / (H W) everywhere and the map is H W sum_k f_k dy_c/df_k: one short
//! backward pass, which also covers a net whose pooled output is itself the scores.

use super::Subject;
use crate::engine::Array;
use crate::err;
use crate::error::Result;
use crate::info::cam_layer;
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
