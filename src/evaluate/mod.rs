//! Evaluating explanations: does a map point at what the model uses (deletion / insertion
//! curves), where it points (the CAM paper's box, the pointing game), and does it depend on
//! the model at all (cascading weight randomisation). One file per tool; all of them read an
//! attribution as one map at the input's resolution ([`pixel_map`]).

pub mod curves;
pub mod invariance;
pub mod localize;
pub mod sanity;

use crate::error::Result;
use crate::render::{reduce, upsample, Map2, Reduce, Upsample};

/// An attribution of any drawable shape as one (H, W) map at the input's spatial size:
/// channels reduced (`Reduce::Sum` keeps the sign), a smaller map (CAM, Grad-CAM) resized
/// bilinearly with half-pixel centres, as the viewer draws it.
pub fn pixel_map(shape: &[usize], data: &[f32], h: usize, w: usize, how: Reduce) -> Result<Map2> {
    let m = reduce(shape, data, how)?;
    Ok(upsample(&m, h, w, Upsample::Bilinear))
}

/// The input's spatial size (H, W) from a `[1, C, H, W]` shape.
pub fn input_hw(shape: &[usize]) -> Result<(usize, usize)> {
    match shape {
        [1, _, h, w] => Ok((*h, *w)),
        _ => Err(crate::err!(
            Shape,
            "evaluation needs a [1, C, H, W] image input, the model takes {shape:?}"
        )),
    }
}

/// A deletion/insertion request as the viewer sends it (JSON).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurveRequest {
    /// Deletion or insertion.
    pub kind: curves::CurveKind,
    /// The number of steps n (default 50; 1 to [`curves::MAX_STEPS`] and at most the number of
    /// pixels): n + 1 forward passes.
    #[serde(default = "default_curve_steps")]
    pub steps: usize,
    /// Default: the kind's (black for deletion, blurred for insertion).
    #[serde(default)]
    pub baseline: Option<crate::baseline::BaselineSpec>,
    /// What the curve's points are (default: the softmax probability).
    #[serde(default)]
    pub score: curves::Score,
    /// Default: the model's top class for the input.
    #[serde(default)]
    pub target: Option<usize>,
}

fn default_curve_steps() -> usize {
    50
}

impl CurveRequest {
    /// Parses the request's JSON; a malformed request or an unknown field is a `Parameter`
    /// error.
    pub fn from_json(text: &str) -> Result<CurveRequest> {
        serde_json::from_str(text).map_err(|e| crate::err!(Parameter, "bad curve request: {e}"))
    }

    /// The curve of an attribution (any drawable shape) for input `x`.
    pub fn run(
        &self,
        model: &crate::Model,
        x: &crate::array::Array,
        shape: &[usize],
        data: &[f32],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<curves::Curve> {
        let (h, w) = input_hw(x.shape())?;
        let map = pixel_map(shape, data, h, w, Reduce::Sum)?;
        let target = match self.target {
            Some(t) => t,
            None => crate::methods::argmax(&model.forward(x)?),
        };
        let baseline = self
            .baseline
            .clone()
            .unwrap_or_else(|| self.kind.default_baseline());
        curves::curve(
            model, x, &map, target, self.kind, self.steps, &baseline, self.score, progress,
        )
    }
}

/// A localisation request (JSON): the box threshold, and a ground-truth box for the pointing
/// game and the box's IoU.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizeRequest {
    /// The box threshold, a fraction of the map's maximum in [0, 1] (default 0.2).
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    /// The ground-truth box, in input pixels (needed for the pointing game and the IoU).
    #[serde(default)]
    pub truth: Option<localize::PixelBox>,
    /// How far (pixels) outside the truth box the map's maximum still hits (default 0).
    #[serde(default)]
    pub tolerance: f32,
}

fn default_threshold() -> f32 {
    0.2
}

/// What [`LocalizeRequest::run`] found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalizeReport {
    /// The CAM paper's box (serialised flat: `bbox`, `threshold`, `component_pixels`).
    #[serde(flatten)]
    pub box_: localize::Localization,
    /// The pointing game, when a truth box was given.
    pub pointing: Option<localize::Pointing>,
    /// The IoU of the box with the truth box, when both exist.
    pub iou: Option<f64>,
}

impl LocalizeRequest {
    /// Parses the request's JSON; a malformed request or an unknown field is a `Parameter`
    /// error.
    pub fn from_json(text: &str) -> Result<LocalizeRequest> {
        serde_json::from_str(text)
            .map_err(|e| crate::err!(Parameter, "bad localisation request: {e}"))
    }

    /// Box, pointing game and IoU of an attribution drawn at `h` x `w`.
    pub fn run(&self, shape: &[usize], data: &[f32], h: usize, w: usize) -> Result<LocalizeReport> {
        crate::render::check_size(h, w)?;
        let map = pixel_map(shape, data, h, w, Reduce::Sum)?;
        let b = localize::cam_box(&map, self.threshold)?;
        let (pointing, iou) = match &self.truth {
            Some(t) => (
                Some(localize::pointing_game(&map, t, self.tolerance)?),
                b.bbox.map(|bb| bb.iou(t)),
            ),
            None => (None, None),
        };
        Ok(LocalizeReport {
            box_: b,
            pointing,
            iou,
        })
    }
}

/// Spearman's rank correlation (average ranks for ties); 0 when either side is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "spearman: lengths differ");
    pearson(&ranks(a), &ranks(b))
}

/// Ranks 1..=n, ties sharing their average rank.
pub fn ranks(v: &[f32]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), vec![2.5, 4.0, 2.5, 1.0]);
    }

    #[test]
    fn spearman_of_monotone_maps_is_one() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&a, &[10.0, 20.0, 30.0, 400.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&a, &[1.0, 1.0, 1.0, 1.0]), 0.0);
    }
}
