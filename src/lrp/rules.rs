//! The LRP rules, as Zennit writes them: every rule is a small configuration of ONE generic
//! linear-layer relevance step ([`Step`]), Zennit's `BasicHook`:
//!
//! 1. for each term t: a modified input `in_t(a)` goes through the layer with modified weights
//!    and bias: `z_t = W_t in_t(a) + b_t`;
//! 2. for each group g of terms: `s_g = mask_g * R / stab(sum over its terms of sign_t z_t)`;
//! 3. `R_in = sum_t coef_t * in_t(a) * (W_t^T s_{group(t)})` — the transposed map of the layer
//!    with the term's weights.
//!
//! `stab(d) = d + e * sign(d)`, sign(0) = +1, with e = 1e-6 unless the rule says otherwise.
//! The table below is the whole rule set; `src/lrp/propagate.rs` only runs it.

use crate::err;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// The default stabiliser of every rule but epsilon (Zennit's `stabilizer=1e-6`).
pub const STABILIZER: f32 = 1e-6;

/// Input bounds for the z-box rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Bounds {
    /// The same lowest / highest value for every input element.
    Scalar {
        /// The lowest input value l, in model-input units.
        low: f32,
        /// The highest input value h, in model-input units (`low <= high`).
        high: f32,
    },
    /// One value per input channel.
    PerChannel {
        /// The lowest value l_c of each channel of the layer's input, in model-input units.
        low: Vec<f32>,
        /// The highest value h_c of each channel, as many as `low`, each `>=` its `low`.
        high: Vec<f32>,
    },
    /// From the model's preprocessing: (0 - mean_c) / std_c and (1 - mean_c) / std_c.
    Preprocessing,
}

/// One LRP rule (the `--rule` syntax in brackets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum LrpRule {
    /// `epsilon:E` (`zero` is `epsilon:0`): a_j w_jk / (z_k + E sign(z_k)).
    Epsilon {
        /// E >= 0, the stabiliser added to z_k with z_k's sign (sign(0) = +1); 0 is LRP-0.
        epsilon: f32,
    },
    /// `gamma:G`: generalised gamma (both signs of z_k, see the table in [`LrpRule::step`]).
    Gamma {
        /// G >= 0: the contributions a_j w_jk of z_k's sign are multiplied by 1 + G (w + G w+
        /// on a+ and w + G w- on a- where z_k > 0; w + G w- on a+ and w + G w+ on a- where
        /// z_k < 0).
        gamma: f32,
    },
    /// `alpha-beta:A,B` with A - B = 1: A (a+ w+ + a- w-) / stab(sum_j same + b+) -
    /// B (a+ w- + a- w+) / stab(sum_j same + b-), both groups over all outputs.
    AlphaBeta {
        /// A >= 0, the factor of the positive contributions (a+ w+ + a- w-).
        alpha: f32,
        /// B = A - 1 >= 0, the factor subtracted for the negative contributions (a+ w- + a- w+).
        beta: f32,
    },
    /// `flat`: 1 / stab(number of inputs connected to k); bias ignored.
    Flat,
    /// `w-square`: w_jk^2 / stab(sum_j w_jk^2 + b_k^2).
    WSquare,
    /// `zbox:L,H` (scalars), `zbox:L1/L2/L3,H1/H2/H3` (per channel) or `zbox` (from the
    /// preprocessing).
    ZBox {
        /// The lowest and highest input values l, h.
        bounds: Bounds,
    },
}

/// What a term feeds the layer instead of its input a.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum In {
    /// a itself, the layer's recorded input.
    A,
    /// a^+ = max(a, 0)
    Pos,
    /// a^- = min(a, 0)
    Neg,
    /// An all-ones input (flat, w-square).
    Ones,
    /// The z-box lowest input l.
    Low,
    /// The z-box highest input h.
    High,
    /// |a|: no rule's term, but the walk's shortcut for gamma on a mixed-sign input.
    Abs,
}

/// How a term modifies the weights (and the same for the bias, with [`Bias`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weight {
    /// w unchanged.
    W,
    /// w^+ = max(w, 0)
    Pos,
    /// w^- = min(w, 0)
    Neg,
    /// w + g w^+
    PlusPos(f32),
    /// w + g w^-
    PlusNeg(f32),
    /// w^2 (w-square).
    Square,
    /// All-ones weights (flat).
    Ones,
    /// |w|: no rule's term, but the walk's shortcut for gamma on a mixed-sign input.
    Abs,
}

impl Weight {
    /// The modification as alpha W + beta W+, where it is one.
    pub fn basis(self) -> Option<(f32, f32)> {
        match self {
            Weight::W => Some((1.0, 0.0)),
            Weight::Pos => Some((0.0, 1.0)),
            Weight::Neg => Some((1.0, -1.0)),
            Weight::PlusPos(g) => Some((1.0, g)),
            Weight::PlusNeg(g) => Some((1.0 + g, -g)),
            Weight::Square | Weight::Ones | Weight::Abs => None,
        }
    }
}

/// How a term modifies the bias b (the same modifications as [`Weight`], plus none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bias {
    /// b unchanged.
    B,
    /// No bias: flat's, and the a^- terms' (the bias enters each group once, with its a^+ term).
    Zero,
    /// b^+ = max(b, 0)
    Pos,
    /// b^- = min(b, 0)
    Neg,
    /// b + g b^+
    PlusPos(f32),
    /// b + g b^-
    PlusNeg(f32),
    /// b^2 (w-square).
    Square,
}

impl Bias {
    /// The modification as kb b + kp b+ + ks b^2: (kb, kp, ks).
    pub fn coefs(self) -> (f32, f32, f32) {
        match self {
            Bias::B => (1.0, 0.0, 0.0),
            Bias::Zero => (0.0, 0.0, 0.0),
            Bias::Pos => (0.0, 1.0, 0.0),
            Bias::Neg => (1.0, -1.0, 0.0),
            Bias::PlusPos(g) => (1.0, g, 0.0),
            Bias::PlusNeg(g) => (1.0 + g, -g, 0.0),
            Bias::Square => (0.0, 0.0, 1.0),
        }
    }
}

/// Which outputs a group's relevance reaches, by the sign of the layer's real output z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mask {
    /// Every output k.
    All,
    /// Only the outputs with z_k > 0.
    Positive,
    /// Only the outputs with z_k < 0.
    Negative,
}

/// One term t of the generic step: `z_t = W_t in_t(a) + b_t`, and how it enters its group's
/// denominator and the relevance sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// `in_t(a)`: what the term feeds the layer.
    pub input: In,
    /// `W_t`: the term's modification of the weights.
    pub weight: Weight,
    /// `b_t`: the term's modification of the bias.
    pub bias: Bias,
    /// The denominator group g (an index into [`Step::groups`]).
    pub group: usize,
    /// sign_t (+1 or -1): the term's sign in its group's denominator sum_t sign_t z_t.
    pub sign: f32,
    /// The term's factor in the relevance sum.
    pub coef: f32,
}

/// One configuration of the generic step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The terms t, each with its input, weights, bias, group, sign and coefficient.
    pub terms: Vec<Term>,
    /// The mask of each denominator group g, indexed by [`Term::group`].
    pub groups: Vec<Mask>,
    /// e in stab(d) = d + e sign(d). With e = 0 (LRP-0), a zero denominator gives zero relevance.
    pub stabilizer: f32,
    /// Whether the transposed passes must use each term's own weights instead of combining W
    /// and W+: alpha-beta's beta denominator can vanish where relevance does not, and its
    /// W- pass must then meet exact zeros (W+ - W would cancel a huge s only approximately).
    pub own_weights: bool,
}

const fn t(input: In, weight: Weight, bias: Bias, group: usize, sign: f32, coef: f32) -> Term {
    Term {
        input,
        weight,
        bias,
        group,
        sign,
        coef,
    }
}

impl LrpRule {
    /// The rule table (Zennit 0.5 `zennit.rules`).
    pub fn step(&self) -> Step {
        use Bias as B;
        use In as I;
        use Weight as W;
        let s = STABILIZER;
        match *self {
            // R_j = a_j w_jk R_k / (z_k + E sign(z_k))
            LrpRule::Epsilon { epsilon } => Step {
                terms: vec![t(I::A, W::W, B::B, 0, 1.0, 1.0)],
                groups: vec![Mask::All],
                stabilizer: epsilon,
                own_weights: false,
            },
            // where z_k > 0: (a+ (w + g w+) + a- (w + g w-)) / stab(sum_j same + b + g b+)
            // where z_k < 0: (a+ (w + g w-) + a- (w + g w+)) / stab(sum_j same + b + g b-)
            LrpRule::Gamma { gamma: g } => Step {
                terms: vec![
                    t(I::Pos, W::PlusPos(g), B::PlusPos(g), 0, 1.0, 1.0),
                    t(I::Neg, W::PlusNeg(g), B::Zero, 0, 1.0, 1.0),
                    t(I::Pos, W::PlusNeg(g), B::PlusNeg(g), 1, 1.0, 1.0),
                    t(I::Neg, W::PlusPos(g), B::Zero, 1, 1.0, 1.0),
                ],
                groups: vec![Mask::Positive, Mask::Negative],
                stabilizer: s,
                own_weights: false,
            },
            // A (a+ w+ + a- w-) / stab(sum_j same + b+) - B (a+ w- + a- w+) / stab(sum_j same + b-)
            LrpRule::AlphaBeta { alpha, beta } => Step {
                terms: vec![
                    t(I::Pos, W::Pos, B::Pos, 0, 1.0, alpha),
                    t(I::Neg, W::Neg, B::Zero, 0, 1.0, alpha),
                    t(I::Pos, W::Neg, B::Neg, 1, 1.0, -beta),
                    t(I::Neg, W::Pos, B::Zero, 1, 1.0, -beta),
                ],
                groups: vec![Mask::All, Mask::All],
                stabilizer: s,
                own_weights: true,
            },
            // 1 / stab(sum_j 1): the layer on an all-ones input with all-ones weights, no bias
            LrpRule::Flat => Step {
                terms: vec![t(I::Ones, W::Ones, B::Zero, 0, 1.0, 1.0)],
                groups: vec![Mask::All],
                stabilizer: s,
                own_weights: false,
            },
            // w_jk^2 / stab(sum_j w_jk^2 + b_k^2)
            LrpRule::WSquare => Step {
                terms: vec![t(I::Ones, W::Square, B::Square, 0, 1.0, 1.0)],
                groups: vec![Mask::All],
                stabilizer: s,
                own_weights: false,
            },
            // (a_j w_jk - l_j w+_jk - h_j w-_jk) / stab(sum_j same); the biases cancel (b - b+ - b-)
            LrpRule::ZBox { .. } => Step {
                terms: vec![
                    t(I::A, W::W, B::B, 0, 1.0, 1.0),
                    t(I::Low, W::Pos, B::Pos, 0, -1.0, -1.0),
                    t(I::High, W::Neg, B::Neg, 0, -1.0, -1.0),
                ],
                groups: vec![Mask::All],
                stabilizer: s,
                own_weights: false,
            },
        }
    }

    /// Parses the `--rule` syntax (the part after `LAYERS=`).
    pub fn parse(text: &str) -> Result<LrpRule> {
        let s = text.trim();
        let (name, args) = match s.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s, None),
        };
        let bad = |why: String| err!(Parameter, "bad LRP rule '{text}': {why}");
        let num = |v: &str| -> Result<f32> {
            let x: f32 = v
                .trim()
                .parse()
                .map_err(|_| bad(format!("'{}' is not a number", v.trim())))?;
            if !x.is_finite() {
                return Err(bad(format!("'{}' is not finite", v.trim())));
            }
            Ok(x)
        };
        let list = |a: Option<&str>| -> Vec<String> { a.map(split_top).unwrap_or_default() };
        let want = |n: usize| -> Result<Vec<String>> {
            let v = list(args);
            if v.len() != n || (n == 0 && args.is_some()) {
                let form = match name {
                    "epsilon" => "epsilon:E",
                    "gamma" => "gamma:G",
                    "alpha-beta" => "alpha-beta:A,B",
                    other => other,
                };
                return Err(bad(format!(
                    "'{name}' takes {n} value{} ({form})",
                    if n == 1 { "" } else { "s" }
                )));
            }
            Ok(v)
        };
        Ok(match name {
            "zero" => {
                want(0)?;
                LrpRule::Epsilon { epsilon: 0.0 }
            }
            "epsilon" => {
                let e = num(&want(1)?[0])?;
                if e < 0.0 {
                    return Err(bad("epsilon must be >= 0".into()));
                }
                LrpRule::Epsilon { epsilon: e }
            }
            "gamma" => {
                let g = num(&want(1)?[0])?;
                if g < 0.0 {
                    return Err(bad("gamma must be >= 0".into()));
                }
                LrpRule::Gamma { gamma: g }
            }
            "alpha-beta" => {
                let v = want(2)?;
                let (a, b) = (num(&v[0])?, num(&v[1])?);
                if a < 0.0 || b < 0.0 {
                    return Err(bad("alpha and beta must be >= 0".into()));
                }
                if ((a - b) - 1.0).abs() > 1e-6 {
                    return Err(bad(format!("alpha - beta must be 1, got {a} - {b}")));
                }
                LrpRule::AlphaBeta { alpha: a, beta: b }
            }
            "flat" => {
                want(0)?;
                LrpRule::Flat
            }
            "w-square" | "wsquare" => {
                want(0)?;
                LrpRule::WSquare
            }
            "zbox" => {
                let v = list(args);
                if args.is_none() {
                    return Ok(LrpRule::ZBox { bounds: Bounds::Preprocessing });
                }
                if v.len() != 2 {
                    return Err(bad("zbox takes no values (bounds from the preprocessing) or two: zbox:LOW,HIGH (scalars or per-channel lists L1/L2/L3)".into()));
                }
                let vals = |p: &str| -> Result<Vec<f32>> {
                    let p = p.trim().trim_start_matches('[').trim_end_matches(']');
                    p.split(['/', ';', ',']).map(num).collect()
                };
                let (lo, hi) = (vals(&v[0])?, vals(&v[1])?);
                if lo.len() != hi.len() {
                    return Err(bad(format!("zbox bounds need as many low values as high values ({} vs {})", lo.len(), hi.len())));
                }
                if lo.iter().zip(&hi).any(|(l, h)| l > h) {
                    return Err(bad("zbox low bound above its high bound".into()));
                }
                if lo.len() == 1 {
                    LrpRule::ZBox { bounds: Bounds::Scalar { low: lo[0], high: hi[0] } }
                } else {
                    LrpRule::ZBox { bounds: Bounds::PerChannel { low: lo, high: hi } }
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown rule '{other}' (one of zero, epsilon:E, gamma:G, alpha-beta:A,B, flat, w-square, zbox, zbox:L,H)"
                )))
            }
        })
    }
}

/// Splits `a,b` at top-level commas (not inside brackets).
fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (vec![], String::new(), 0);
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

impl std::fmt::Display for LrpRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[f32]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("/")
        };
        match self {
            LrpRule::Epsilon { epsilon } if *epsilon == 0.0 => write!(f, "zero"),
            LrpRule::Epsilon { epsilon } => write!(f, "epsilon:{epsilon}"),
            LrpRule::Gamma { gamma } => write!(f, "gamma:{gamma}"),
            LrpRule::AlphaBeta { alpha, beta } => write!(f, "alpha-beta:{alpha},{beta}"),
            LrpRule::Flat => write!(f, "flat"),
            LrpRule::WSquare => write!(f, "w-square"),
            LrpRule::ZBox {
                bounds: Bounds::Preprocessing,
            } => write!(f, "zbox"),
            LrpRule::ZBox {
                bounds: Bounds::Scalar { low, high },
            } => write!(f, "zbox:{low},{high}"),
            LrpRule::ZBox {
                bounds: Bounds::PerChannel { low, high },
            } => write!(f, "zbox:{},{}", list(low), list(high)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_rules() {
        for s in [
            "zero",
            "epsilon:0.25",
            "gamma:0.25",
            "alpha-beta:2,1",
            "flat",
            "w-square",
            "zbox",
            "zbox:0,1",
            "zbox:-1/-2/-3,1/2/3",
        ] {
            assert_eq!(LrpRule::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            LrpRule::parse("epsilon:1e-06").unwrap(),
            LrpRule::Epsilon { epsilon: 1e-6 }
        );
        assert_eq!(
            LrpRule::parse("zbox:[-1,-2],[1,2]").unwrap(),
            LrpRule::ZBox {
                bounds: Bounds::PerChannel {
                    low: vec![-1.0, -2.0],
                    high: vec![1.0, 2.0]
                }
            }
        );
        for (bad, part) in [
            ("gamma", "gamma:G"),
            ("alpha-beta:2,2", "alpha - beta"),
            ("epsilon:x", "'x'"),
            ("magic:1", "unknown rule 'magic'"),
            ("flat:1", "flat"),
            ("zbox:1,0", "above"),
        ] {
            let e = LrpRule::parse(bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Parameter);
            assert!(e.message().contains(part), "{bad}: {e}");
        }
    }
}
