//! Integrated-gradients quadrature rules (as Captum's `approximation_methods`), on [0, 1]:
//! the points a_i at which the gradient is taken and their weights w_i.

use crate::err;
use crate::error::Result;

/// An integrated-gradients quadrature rule (`--ig-rule`): the n points a_i in [0, 1] and their
/// weights w_i, which sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgRule {
    /// `riemann-left`: a_i = i/n for i = 0..n-1, w_i = 1/n.
    RiemannLeft,
    /// `riemann-right`: a_i = i/n for i = 1..=n, w_i = 1/n.
    RiemannRight,
    /// `riemann-middle`: a_i = (i + 0.5)/n for i = 0..n-1, w_i = 1/n.
    RiemannMiddle,
    /// `riemann-trapezoid`: a_i = i/(n-1) for i = 0..n-1, w_i = 1/(n-1) with both end weights
    /// halved. The true trapezoid rule, weights summing to 1 (Captum's are n/(n-1) times
    /// smaller).
    RiemannTrapezoid,
    /// `gauss-legendre` (the default): a_i = (1 + t_i)/2, w_i = v_i/2, with t_i, v_i the n-point
    /// Gauss-Legendre nodes and weights on [-1, 1] ([`gauss_legendre`]).
    GaussLegendre,
}

impl IgRule {
    /// The rules' `--ig-rule` names, in variant order.
    pub const NAMES: [&'static str; 5] = [
        "riemann-left",
        "riemann-right",
        "riemann-middle",
        "riemann-trapezoid",
        "gauss-legendre",
    ];

    /// Parses an `--ig-rule` name; an unknown one is a `Parameter` error.
    pub fn parse(s: &str) -> Result<IgRule> {
        Ok(match s {
            "riemann-left" => IgRule::RiemannLeft,
            "riemann-right" => IgRule::RiemannRight,
            "riemann-middle" => IgRule::RiemannMiddle,
            "riemann-trapezoid" => IgRule::RiemannTrapezoid,
            "gauss-legendre" => IgRule::GaussLegendre,
            _ => {
                return Err(err!(
                    Parameter,
                    "unknown --ig-rule '{s}' (one of {})",
                    IgRule::NAMES.join(", ")
                ))
            }
        })
    }

    /// The rule's `--ig-rule` name.
    pub fn name(self) -> &'static str {
        IgRule::NAMES[self as usize]
    }

    /// The fewest points the rule takes: 2 for the trapezoid (its spacing is 1/(n-1)), else 1.
    pub fn min_steps(self) -> usize {
        if self == IgRule::RiemannTrapezoid {
            2
        } else {
            1
        }
    }

    /// The n points and weights, in f64.
    pub fn points(self, n: usize) -> Vec<(f64, f64)> {
        let nf = n as f64;
        match self {
            IgRule::RiemannLeft => (0..n).map(|i| (i as f64 / nf, 1.0 / nf)).collect(),
            IgRule::RiemannRight => (1..=n).map(|i| (i as f64 / nf, 1.0 / nf)).collect(),
            IgRule::RiemannMiddle => (0..n).map(|i| ((i as f64 + 0.5) / nf, 1.0 / nf)).collect(),
            IgRule::RiemannTrapezoid => {
                let h = 1.0 / (nf - 1.0);
                (0..n)
                    .map(|i| (i as f64 * h, if i == 0 || i == n - 1 { h / 2.0 } else { h }))
                    .collect()
            }
            IgRule::GaussLegendre => gauss_legendre(n)
                .into_iter()
                .map(|(t, v)| ((1.0 + t) / 2.0, v / 2.0))
                .collect(),
        }
    }
}

/// The n-point Gauss-Legendre nodes and weights on [-1, 1], ascending (Newton's method on
/// the Legendre polynomial from the Chebyshev guesses).
pub fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut x = -libm::cos(std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5));
        let mut dp = 1.0;
        for _ in 0..100 {
            // P_n(x) and P_n'(x) by the three-term recurrence.
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let kf = k as f64;
                let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
                p0 = p1;
                p1 = p2;
            }
            let p = if n == 0 {
                1.0
            } else if n == 1 {
                x
            } else {
                p1
            };
            let pm1 = if n == 1 { 1.0 } else { p0 };
            dp = n as f64 * (x * p - pm1) / (x * x - 1.0);
            let dx = p / dp;
            x -= dx;
            if dx.abs() < 1e-15 {
                break;
            }
        }
        out.push((x, 2.0 / ((1.0 - x * x) * dp * dp)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_integrate_polynomials() {
        for rule in [
            IgRule::RiemannLeft,
            IgRule::RiemannRight,
            IgRule::RiemannMiddle,
            IgRule::RiemannTrapezoid,
            IgRule::GaussLegendre,
        ] {
            let s: f64 = rule.points(7).iter().map(|p| p.1).sum();
            assert!((s - 1.0).abs() < 1e-12, "{rule:?} {s}");
        }
        // 5 Gauss-Legendre points integrate degree 9 exactly: int_0^1 x^9 = 0.1.
        let i: f64 = IgRule::GaussLegendre
            .points(5)
            .iter()
            .map(|(a, w)| w * a.powi(9))
            .sum();
        assert!((i - 0.1).abs() < 1e-14);
        let big = gauss_legendre(1000);
        assert!((big.iter().map(|p| p.1).sum::<f64>() - 2.0).abs() < 1e-10);
        assert!(big.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
