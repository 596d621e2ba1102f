//! Deletion and insertion curves (Petsiuk et al. 2018, "RISE"). Pixels are taken in order of
//! decreasing attribution (ties: raster order); after step i of n, the first round(i P / n) of
//! the P pixels are changed in every channel. Deletion starts from the input and replaces
//! pixels with the baseline (default black); insertion starts from the baseline (default a
//! blurred input) and puts the input's pixels back. The curve is the target's score after each
//! step (softmax probability by default); its area is the trapezoid rule over the fraction of
//! pixels changed, in [0, 1] for probabilities. A faithful map has a low deletion area (the
//! score falls fast) and a high insertion area.

use crate::array::Array;
use crate::baseline::{self, BaselineSpec};
use crate::err;
use crate::error::Result;
use crate::model::{softmax, Model};
use crate::render::Map2;
use serde::{Deserialize, Serialize};

/// Most curve steps accepted (each is one forward pass).
pub const MAX_STEPS: usize = 4096;

/// Which curve: deletion or insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CurveKind {
    /// From the input, replace the pixels with the baseline's, most relevant first (default
    /// baseline: black); a faithful map makes the score fall fast (a low area).
    Deletion,
    /// From the baseline (default: the input blurred, sigma 5), put the input's pixels back,
    /// most relevant first; a faithful map makes the score rise fast (a high area).
    Insertion,
}

impl CurveKind {
    /// `deletion` or `insertion`.
    pub fn name(self) -> &'static str {
        match self {
            CurveKind::Deletion => "deletion",
            CurveKind::Insertion => "insertion",
        }
    }

    /// Petsiuk et al.'s choices: delete to black, insert into a blurred copy.
    pub fn default_baseline(self) -> BaselineSpec {
        match self {
            CurveKind::Deletion => BaselineSpec::Black,
            CurveKind::Insertion => BaselineSpec::Blurred { sigma: 5.0 },
        }
    }
}

/// What a curve's points are: the target's softmax probability or its logit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Score {
    /// Softmax probability of the target (the paper's choice).
    #[default]
    Probability,
    /// The target's logit.
    Logit,
}

/// One deletion or insertion curve and its area.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// Deletion or insertion.
    pub kind: CurveKind,
    /// Fraction of pixels changed at each point: 0, 1/n, ..., 1.
    pub fractions: Vec<f64>,
    /// The target's score ([`Score`]) at each point, n + 1 of them; the first is the unchanged
    /// start (the input for deletion, the baseline for insertion).
    pub scores: Vec<f32>,
    /// Trapezoid-rule area under `scores` over `fractions`.
    pub auc: f64,
}

/// Pixel indices (row-major over H x W) by decreasing value; ties keep raster order.
pub fn order(map: &Map2) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..map.data.len()).collect();
    idx.sort_by(|&a, &b| map.data[b].total_cmp(&map.data[a]));
    idx
}

/// Checks a step count: 1..=MAX_STEPS and no more than the number of pixels.
pub fn check_steps(steps: usize, pixels: usize) -> Result<()> {
    if steps < 1 || steps > MAX_STEPS.min(pixels) {
        return Err(err!(
            Parameter,
            "curve steps must be between 1 and {} (one forward pass each), got {steps}",
            MAX_STEPS.min(pixels)
        ));
    }
    Ok(())
}

/// The deletion or insertion curve of `map` (at the input's H x W) for class `target`.
/// `progress(done, total)` is called after each forward pass.
pub fn curve(
    model: &Model,
    x: &Array,
    map: &Map2,
    target: usize,
    kind: CurveKind,
    steps: usize,
    baseline: &BaselineSpec,
    score: Score,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Curve> {
    model.check_input(x)?;
    let (h, w) = super::input_hw(x.shape())?;
    if (map.h, map.w) != (h, w) {
        return Err(err!(
            Shape,
            "the map is {}x{} but the input is {h}x{w}",
            map.h,
            map.w
        ));
    }
    if target >= model.classes {
        return Err(err!(
            Parameter,
            "target class {target} out of range (the model has {} classes)",
            model.classes
        ));
    }
    check_steps(steps, h * w)?;
    if map.data.iter().any(|v| !v.is_finite()) {
        return Err(err!(NonFinite, "the map contains NaN or infinite values"));
    }
    let base = baseline::make(baseline, x, &model.sidecar)?;
    let (from, to) = match kind {
        CurveKind::Deletion => (x, &base),
        CurveKind::Insertion => (&base, x),
    };
    let order = order(map);
    let channels = x.shape()[1];
    let plane = h * w;
    let src = to
        .as_slice()
        .ok_or_else(|| err!(Runtime, "input is not contiguous"))?;
    let mut cur = from.as_standard_layout().into_owned();
    let mut scores = Vec::with_capacity(steps + 1);
    let mut done = 0;
    for i in 0..=steps {
        let upto = ((i as f64 * plane as f64) / steps as f64).round() as usize;
        {
            let dst = cur.as_slice_mut().expect("standard layout");
            for &p in &order[done..upto] {
                for c in 0..channels {
                    dst[c * plane + p] = src[c * plane + p];
                }
            }
        }
        done = upto;
        let logits = model.forward(&cur)?;
        scores.push(match score {
            Score::Probability => softmax(&logits)[target],
            Score::Logit => logits[target],
        });
        progress(i + 1, steps + 1);
    }
    let fractions: Vec<f64> = (0..=steps).map(|i| i as f64 / steps as f64).collect();
    Ok(Curve {
        kind,
        fractions,
        auc: trapezoid(&scores),
        scores,
    })
}

/// Area under equally spaced points over [0, 1].
pub fn trapezoid(y: &[f32]) -> f64 {
    if y.len() < 2 {
        return y.first().map_or(0.0, |&v| v as f64);
    }
    let inner: f64 =
        y.iter().map(|&v| v as f64).sum::<f64>() - (y[0] as f64 + y[y.len() - 1] as f64) / 2.0;
    inner / (y.len() - 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_descending_and_stable() {
        let m = Map2 {
            h: 1,
            w: 5,
            data: vec![0.5, 2.0, 0.5, -1.0, 2.0],
        };
        assert_eq!(order(&m), vec![1, 4, 0, 2, 3]);
    }

    #[test]
    fn trapezoid_of_a_line() {
        assert!((trapezoid(&[1.0, 0.5, 0.0]) - 0.5).abs() < 1e-12);
        assert!((trapezoid(&[1.0, 1.0]) - 1.0).abs() < 1e-12);
    }
}
