//! Integrated gradients (Sundararajan et al.): (x - x') * sum_i w_i dy_c/dx(x' + a_i (x - x')).
//! One forward + backward per step, looped (batching is slower on CPU and memory would grow
//! with the steps), each starting after the input's affine prefix ([`Engine::prefix`]).
//!
//! [`Engine::prefix`]: crate::engine::Engine::prefix

use super::quadrature::IgRule;
use super::{Baseline, Subject};
use crate::array::Array;
use crate::engine::Mode;
use crate::err;
use crate::error::Result;

/// The attribution (of the subject's shard of the quadrature points) and y(x) - y(x').
pub(crate) fn explain(
    s: &Subject,
    steps: usize,
    rule: IgRule,
    baseline: &Baseline,
) -> Result<(Array, f64)> {
    let x0 = match baseline {
        Baseline::Constant(v) => s.x.mapv(|_| *v),
        Baseline::Tensor(b) => {
            if b.shape() != s.x.shape() {
                return Err(err!(
                    Shape,
                    "wrong baseline shape: the input is {:?}, the baseline {:?}",
                    s.x.shape(),
                    b.shape()
                ));
            }
            b.clone()
        }
    };
    let delta = s.x - &x0;
    let points = rule.points(steps).into_iter().enumerate();
    let points: Vec<(f64, f64)> = points
        .filter(|(i, _)| s.part.owns(*i))
        .map(|(_, p)| p)
        .collect();
    // Each step starts after the affine prefix, whose value moves along a line too, and the
    // gradients are summed at its end: its backward runs once, on the sum.
    let at = s.engine.prefix().filter(|_| !points.is_empty());
    let ends = match at {
        Some(_) => Some((
            s.engine.prefix_value(s.model, &x0)?,
            s.engine.prefix_value(s.model, s.x)?,
        )),
        None => None,
    };
    let mut sum: Option<Array> = None;
    for (a, w) in points {
        let a = a as f32;
        let tape = match &ends {
            Some((v0, v1)) => s
                .engine
                .forward_from_prefix(s.model, v0 * (1.0 - a) + &(v1 * a))?,
            None => s.engine.forward(&(&x0 + &(&delta * a)))?,
        };
        let g = s
            .engine
            .gradient(s.model, &tape, s.target, at, Mode::Gradient)?;
        match &mut sum {
            Some(acc) => acc.scaled_add(w as f32, &g),
            None => sum = Some(g * w as f32),
        }
    }
    let sum = match (sum, at) {
        (None, _) => Array::zeros(s.x.raw_dim()),
        (Some(g), None) => g,
        (Some(g), Some(_)) => s.engine.prefix_backward(s.model, g)?,
    };
    let attr = sum * &delta;
    let y = s.logits[s.target] as f64;
    let y0 = s.scores.logits(s.engine, &x0)?[s.target] as f64;
    Ok((attr, y - y0))
}
