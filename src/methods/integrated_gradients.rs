//! Integrated gradients (Sundararajan et al.): (x - x') * sum_i w_i dy_c/dx(x' + a_i (x - x')).
//! One forward + backward per step, looped (batching is slower on CPU and memory would grow
//! with the steps), each starting after the input's affine prefix ([`Engine::prefix`]).
//!
//! [`Engine::prefix`]: crate::engine::Engine::prefix

use super::quadrature::IgRule;
use super::{Baseline, Subject};
use crate::engine::{Array, Mode};
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
    let sum = match s.engine.prefix() {
        // The steps start after the affine prefix, whose value moves along a line too, and
        // the prefix's backward runs once on the weighted sum of the gradients at its end.
        Some(p) if !points.is_empty() => {
            let v0 = s.engine.prefix_value(s.model, &x0)?;
            let v1 = s.engine.prefix_value(s.model, s.x)?;
            let mut sum = Array::zeros(v0.raw_dim());
            for (a, w) in points {
                let a = a as f32;
                let vi = &v0 * (1.0 - a) + &(&v1 * a);
                let tape = s.engine.forward_from_prefix(s.model, vi)?;
                let g = s
                    .engine
                    .gradient(s.model, &tape, s.target, Some(p), Mode::Gradient)?;
                sum.scaled_add(w as f32, &g);
            }
            s.engine.prefix_backward(s.model, sum)?
        }
        _ => {
            let mut sum = Array::zeros(s.x.raw_dim());
            for (a, w) in points {
                let xi = &x0 + &(&delta * a as f32);
                let tape = s.engine.forward(&xi)?;
                let g = s
                    .engine
                    .gradient(s.model, &tape, s.target, None, Mode::Gradient)?;
                sum.scaled_add(w as f32, &g);
            }
            sum
        }
    };
    let attr = sum * &delta;
    let y = s.logits[s.target] as f64;
    let y0 = s.scores.logits(s.engine, &x0)?[s.target] as f64;
    Ok((attr, y - y0))
}
