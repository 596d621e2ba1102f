//! The clock of bench_mix and bench_winograd: the median over `runs` rounds of `per_round` runs
//! of one plan, in microseconds, after a warm-up run.
use std::time::Instant;
use tract_onnx::prelude::*;

pub fn median_us(
    plan: &std::sync::Arc<TypedSimplePlan>,
    x: &TValue,
    runs: usize,
    per_round: usize,
) -> TractResult<f64> {
    plan.run(tvec!(x.clone()))?;
    let mut t = vec![];
    for _ in 0..runs {
        let t0 = Instant::now();
        for _ in 0..per_round {
            plan.run(tvec!(x.clone()))?;
        }
        t.push(t0.elapsed().as_secs_f64() * 1e6 / per_round as f64);
    }
    t.sort_by(f64::total_cmp);
    Ok(t[runs / 2])
}
