//! SmoothGrad (Smilkov et al.): the mean gradient over `samples` noisy copies
//! x + N(0, sigma^2), sigma = noise * (max x - min x). Deterministic for a seed.

use super::rng::Normal;
use super::Subject;
use crate::array::Array;
use crate::engine::Mode;
use crate::error::Result;

pub(crate) fn explain(s: &Subject, samples: usize, noise: f32, seed: u64) -> Result<Array> {
    let (lo, hi) =
        s.x.iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
    let sigma = (noise * (hi - lo)) as f64;
    // The sum of the gradients is taken at the end of the affine prefix, whose backward then
    // runs once.
    let at = s.engine.prefix();
    let mut sum: Option<Array> = None;
    for i in (0..samples).filter(|&i| s.part.owns(i)) {
        // Each sample has its own stream, so shards computed apart add up to the same result.
        let mut rng = Normal::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let xi = s.x.mapv(|v| v + (sigma * rng.sample()) as f32);
        let tape = s.engine.forward(&xi)?;
        let g = s
            .engine
            .gradient(s.model, &tape, s.target, at, Mode::Gradient)?;
        match &mut sum {
            Some(acc) => *acc += &g,
            None => sum = Some(g),
        }
    }
    let sum = match (sum, at) {
        (None, _) => Array::zeros(s.x.raw_dim()),
        (Some(g), None) => g,
        (Some(g), Some(_)) => s.engine.prefix_backward(s.model, g)?,
    };
    Ok(sum / samples as f32)
}
