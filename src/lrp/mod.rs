//! Layer-wise relevance propagation, with Zennit's conventions (docs/conventions.md).
//!
//! - [`rules`]: the rule table, each rule one configuration of a generic linear-layer step;
//! - [`layers`]: the conv/dense layers found in tract's decluttered graph, mapped to the ONNX
//!   layer numbers, with canonisation (BatchNorm merged into the layer before it);
//! - [`propagate`]: the reverse walk (layers by their rule, everything else as
//!   docs/conventions.md says);
//! - this file: which rule each layer gets (`--rule LAYERS=RULE`, composites) and what the
//!   explanation reports about conservation.

pub mod layers;
pub mod linear;
pub mod plan;
pub mod propagate;
pub mod rules;

use crate::err;
use crate::error::Result;
pub use layers::{LayerKind, LrpGraph};
pub use rules::{Bounds, LrpRule};
use serde::{Deserialize, Serialize};

/// The default rule of a layer nobody assigned one.
pub const DEFAULT_RULE: LrpRule = LrpRule::Epsilon { epsilon: 1e-6 };

/// A set of layer numbers: `3`, `1-4`, `5-` (to the last), `-` (all), or a comma list of those.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSelection(pub Vec<(Option<usize>, Option<usize>)>);

impl LayerSelection {
    /// Every layer (`-`).
    pub fn all() -> LayerSelection {
        LayerSelection(vec![(None, None)])
    }

    /// Parses the `LAYERS` syntax into inclusive `(first, last)` ranges, `None` for an open end;
    /// a part that is empty, not a number or a reversed range is a `Parameter` error. Layer
    /// numbers are checked against the model in [`LayerSelection::layers`].
    pub fn parse(text: &str) -> Result<LayerSelection> {
        let bad = |why: &str| {
            err!(
                Parameter,
                "bad layer selection '{text}': {why} (use 3, 1-4, 5-, - or a comma list)"
            )
        };
        let num = |s: &str| -> Result<usize> {
            s.trim()
                .parse()
                .map_err(|_| bad(&format!("'{}' is not a layer number", s.trim())))
        };
        let mut v = vec![];
        for part in text.split(',') {
            let p = part.trim();
            if p.is_empty() {
                return Err(bad("empty part"));
            }
            v.push(match p.split_once('-') {
                None => {
                    let n = num(p)?;
                    (Some(n), Some(n))
                }
                Some((a, b)) => {
                    let a = if a.trim().is_empty() {
                        None
                    } else {
                        Some(num(a)?)
                    };
                    let b = if b.trim().is_empty() {
                        None
                    } else {
                        Some(num(b)?)
                    };
                    if let (Some(a), Some(b)) = (a, b) {
                        if a > b {
                            return Err(bad(&format!("range {a}-{b} is reversed")));
                        }
                    }
                    (a, b)
                }
            });
        }
        Ok(LayerSelection(v))
    }

    /// The layers selected among `n`; a number past the last layer is an error.
    pub fn layers(&self, n: usize) -> Result<Vec<usize>> {
        if n == 0 {
            // `-` or `5-` would otherwise select layer 0 of none.
            return Err(err!(
                Parameter,
                "layer selection '{self}' selects nothing: the model has no conv/dense layers"
            ));
        }
        let mut out = vec![];
        for &(a, b) in &self.0 {
            for x in [a, b].into_iter().flatten() {
                if x >= n {
                    return Err(err!(
                        Parameter,
                        "layer {x} does not exist: the model has {n} conv/dense layers (0-{})",
                        n.saturating_sub(1)
                    ));
                }
            }
            let (a, b) = (a.unwrap_or(0), b.unwrap_or(n.saturating_sub(1)));
            out.extend(a..=b.min(n.saturating_sub(1)));
        }
        Ok(out)
    }
}

impl std::fmt::Display for LayerSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(a, b)| match (a, b) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (a, b) => format!(
                    "{}-{}",
                    a.map(|a| a.to_string()).unwrap_or_default(),
                    b.map(|b| b.to_string()).unwrap_or_default()
                ),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Preset rule maps (Zennit's composites), first layer = layer 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "composite")]
pub enum Composite {
    /// zbox (bounds `low`, `high`, or the preprocessing's when absent) on layer 0, gamma:0.25 on
    /// the other convs, epsilon:1e-6 on dense layers.
    EpsilonGammaBox {
        /// The z-box lowest input value of layer 0 (`--low`), in model-input units.
        low: Option<f32>,
        /// The z-box highest input value of layer 0 (`--high`); given with `low` or not at all.
        high: Option<f32>,
    },
    /// flat on layer 0, alpha-beta:1,0 on the other convs, epsilon:1e-6 on dense layers.
    EpsilonPlusFlat,
    /// flat on layer 0, alpha-beta:2,1 on the other convs, epsilon:1e-6 on dense layers.
    EpsilonAlpha2Beta1Flat,
    /// Montavon et al. (2019), "Layer-wise relevance propagation: an overview": zbox on layer 0
    /// (the pixel layer), gamma:0.25 on the lower layers `1..lower_end`, epsilon:0.25 on the
    /// middle layers `lower_end..upper_start`, epsilon:1e-6 (LRP-0 with a stabiliser) on the upper
    /// layers `upper_start..`. Split points, when not given (`layered:LOWER_END,UPPER_START`),
    /// for n layers: upper_start = n - ceil((n-1)/2) (the upper half of the layers after the
    /// first), lower_end = 1 + floor((n-2)/4) (the lowest quarter).
    Layered {
        /// The z-box lowest input value of layer 0 (`--low`), in model-input units.
        low: Option<f32>,
        /// The z-box highest input value of layer 0 (`--high`); given with `low` or not at all.
        high: Option<f32>,
        /// `LOWER_END`: the first layer after the gamma layers (>= 1).
        lower_end: Option<usize>,
        /// `UPPER_START`: the first epsilon:1e-6 layer (>= `lower_end`).
        upper_start: Option<usize>,
    },
}

/// The composite names `--composite` accepts (`layered` also as `layered:LOWER_END,UPPER_START`).
pub const COMPOSITES: [&str; 4] = [
    "epsilon-gamma-box",
    "epsilon-plus-flat",
    "epsilon-alpha2-beta1-flat",
    "layered",
];

impl Composite {
    /// Parses a `--composite` value with the z-box bounds `--low` / `--high` (both or neither,
    /// finite, low <= high); an unknown name or bad values is a `Parameter` error.
    pub fn parse(text: &str, low: Option<f32>, high: Option<f32>) -> Result<Composite> {
        let (name, args) = match text.trim().split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (text.trim(), None),
        };
        if let (Some(l), Some(h)) = (low, high) {
            if !(l.is_finite() && h.is_finite()) || l > h {
                return Err(err!(
                    Parameter,
                    "--low {l} and --high {h} must be finite with low <= high"
                ));
            }
        }
        if low.is_some() != high.is_some() {
            return Err(err!(Parameter, "--low and --high go together"));
        }
        let no_args = |c: Composite| {
            if args.is_some() {
                Err(err!(
                    Parameter,
                    "bad composite '{text}': '{name}' takes no values"
                ))
            } else {
                Ok(c)
            }
        };
        match name {
            "epsilon-gamma-box" => no_args(Composite::EpsilonGammaBox { low, high }),
            // Their first layer is flat: z-box bounds would be silently ignored.
            "epsilon-plus-flat" | "epsilon-alpha2-beta1-flat" if low.is_some() => Err(err!(
                Parameter,
                "--low and --high are the z-box bounds of epsilon-gamma-box and layered; '{name}' has no z-box layer"
            )),
            "epsilon-plus-flat" => no_args(Composite::EpsilonPlusFlat),
            "epsilon-alpha2-beta1-flat" => no_args(Composite::EpsilonAlpha2Beta1Flat),
            "layered" => {
                let (lower_end, upper_start) = match args {
                    None => (None, None),
                    Some(a) => {
                        let v: Vec<&str> = a.split(',').collect();
                        let p = |s: &str| {
                            s.trim().parse::<usize>().map_err(|_| err!(Parameter, "bad composite '{text}': '{}' is not a layer number (layered:LOWER_END,UPPER_START)", s.trim()))
                        };
                        if v.len() != 2 {
                            return Err(err!(Parameter, "bad composite '{text}': layered takes two split points (layered:LOWER_END,UPPER_START)"));
                        }
                        let (a, b) = (p(v[0])?, p(v[1])?);
                        if a < 1 || a > b {
                            return Err(err!(
                                Parameter,
                                "bad composite '{text}': need 1 <= LOWER_END <= UPPER_START"
                            ));
                        }
                        (Some(a), Some(b))
                    }
                };
                Ok(Composite::Layered {
                    low,
                    high,
                    lower_end,
                    upper_start,
                })
            }
            other => Err(err!(
                Parameter,
                "unknown composite '{other}' (one of {})",
                COMPOSITES.join(", ")
            )),
        }
    }

    /// The rule of every layer; `kinds[i]`: whether layer i is a conv or a dense layer.
    pub fn rules(&self, kinds: &[LayerKind]) -> Vec<LrpRule> {
        let n = kinds.len();
        let zbox = |low: &Option<f32>, high: &Option<f32>| match (low, high) {
            (Some(l), Some(h)) => LrpRule::ZBox {
                bounds: Bounds::Scalar { low: *l, high: *h },
            },
            _ => LrpRule::ZBox {
                bounds: Bounds::Preprocessing,
            },
        };
        let eps = DEFAULT_RULE;
        let by_kind = |first: LrpRule, conv: LrpRule| -> Vec<LrpRule> {
            kinds
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    if i == 0 {
                        first.clone()
                    } else if *k == LayerKind::Conv {
                        conv.clone()
                    } else {
                        eps.clone()
                    }
                })
                .collect()
        };
        match self {
            Composite::EpsilonGammaBox { low, high } => {
                by_kind(zbox(low, high), LrpRule::Gamma { gamma: 0.25 })
            }
            Composite::EpsilonPlusFlat => by_kind(
                LrpRule::Flat,
                LrpRule::AlphaBeta {
                    alpha: 1.0,
                    beta: 0.0,
                },
            ),
            Composite::EpsilonAlpha2Beta1Flat => by_kind(
                LrpRule::Flat,
                LrpRule::AlphaBeta {
                    alpha: 2.0,
                    beta: 1.0,
                },
            ),
            Composite::Layered {
                low,
                high,
                lower_end,
                upper_start,
            } => {
                let (lo, up) = Composite::layered_splits(n, *lower_end, *upper_start);
                (0..n)
                    .map(|i| {
                        if i == 0 {
                            zbox(low, high)
                        } else if i < lo {
                            LrpRule::Gamma { gamma: 0.25 }
                        } else if i < up {
                            LrpRule::Epsilon { epsilon: 0.25 }
                        } else {
                            eps.clone()
                        }
                    })
                    .collect()
            }
        }
    }

    /// (lower_end, upper_start) of the layered composite for n layers.
    pub fn layered_splits(
        n: usize,
        lower_end: Option<usize>,
        upper_start: Option<usize>,
    ) -> (usize, usize) {
        let up = upper_start.unwrap_or_else(|| n.saturating_sub(n.saturating_sub(1).div_ceil(2)));
        let lo = lower_end.unwrap_or(1 + n.saturating_sub(2) / 4).min(up);
        (lo, up)
    }
}

/// Which rule each layer gets: a composite's (if any), then every `(selection, rule)` pair in
/// order (a later pair overrides an earlier one); `epsilon:1e-6` where nothing applies.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LrpSpec {
    /// The composite that sets every layer's rule first, if any.
    #[serde(default)]
    pub composite: Option<Composite>,
    /// `LAYERS=RULE` assignments, applied in order after the composite.
    #[serde(default)]
    pub rules: Vec<(LayerSelection, LrpRule)>,
}

impl LrpSpec {
    /// From the request's strings: `(selection, rule)` pairs and an optional composite name.
    pub fn parse(
        rules: &[(String, String)],
        composite: Option<&str>,
        low: Option<f32>,
        high: Option<f32>,
    ) -> Result<LrpSpec> {
        let composite = composite
            .map(|c| Composite::parse(c, low, high))
            .transpose()?;
        if composite.is_none() && (low.is_some() || high.is_some()) {
            return Err(err!(Parameter, "--low/--high set the z-box bounds of a composite (epsilon-gamma-box, layered); without one, give them in the rule: --rule 0=zbox:L,H"));
        }
        let rules = rules
            .iter()
            .map(|(s, r)| Ok((LayerSelection::parse(s)?, LrpRule::parse(r)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(LrpSpec { composite, rules })
    }

    /// Parses one `LAYERS=RULE` command-line value into its two strings.
    pub fn split_assignment(text: &str) -> Result<(String, String)> {
        match text.split_once('=') {
            Some((l, r)) => Ok((l.trim().to_string(), r.trim().to_string())),
            None => Err(err!(
                Parameter,
                "bad --rule '{text}': expected LAYERS=RULE, e.g. 0=zbox:0,1 or 1-=epsilon:0.25"
            )),
        }
    }

    /// The rule of each of the model's layers.
    pub fn resolve(&self, kinds: &[LayerKind]) -> Result<Vec<LrpRule>> {
        let n = kinds.len();
        let mut out = match &self.composite {
            Some(c) => c.rules(kinds),
            None => vec![DEFAULT_RULE; n],
        };
        for (sel, rule) in &self.rules {
            for i in sel.layers(n)? {
                out[i] = rule.clone();
            }
        }
        Ok(out)
    }
}

/// Where the relevance went, layer by layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRelevance {
    /// The layer number.
    pub layer: usize,
    /// The layer's ONNX node name.
    pub name: String,
    /// The layer's rule, in the `--rule` syntax (e.g. `gamma:0.25`).
    pub rule: String,
    /// Sum of the relevance entering the layer (at its output).
    pub relevance_in: f64,
    /// Sum of the relevance it passed to its input.
    pub relevance_out: f64,
}

/// The conservation report of one LRP explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conservation {
    /// The target score y_c (the relevance put at the output).
    pub score: f64,
    /// sum(R) at the input.
    pub relevance_sum: f64,
    /// score - relevance_sum: absorbed by biases and stabilisers (and lost where a rule does
    /// not conserve, e.g. at a non-linear element-wise product).
    pub absorbed: f64,
    /// One entry per layer, by layer number (zero sums for a layer the relevance never reached).
    pub per_layer: Vec<LayerRelevance>,
    /// Where most of `absorbed` went, in one sentence (empty when under 5 % of the score).
    pub absorbed_where: String,
}

impl Conservation {
    /// The report, with [`Conservation::absorbed_where`] worked out from the per-layer sums: the
    /// layer that kept the most (its bias, or the stabiliser), or, when more was lost between
    /// the layers, the operations there (products of two computed tensors, such as
    /// squeeze-excite gates, take the gradient and need not conserve relevance).
    pub fn new(score: f64, relevance_sum: f64, per_layer: Vec<LayerRelevance>) -> Conservation {
        let absorbed = score - relevance_sum;
        let share = |v: f64| 100.0 * v / score.abs().max(1e-30);
        let mut absorbed_where = String::new();
        if share(absorbed.abs()) >= 5.0 {
            let by_layer = |l: &LayerRelevance| l.relevance_in - l.relevance_out;
            let worst = per_layer
                .iter()
                .max_by(|a, b| by_layer(a).abs().total_cmp(&by_layer(b).abs()));
            let in_layers: f64 = per_layer.iter().map(by_layer).sum();
            let between = absorbed - in_layers;
            absorbed_where = match worst {
                Some(l) if by_layer(l).abs() >= between.abs() => format!(
                    "most at layer {} '{}' ({}): {:.0} % of the score, kept by its bias or stabiliser",
                    l.layer,
                    l.name,
                    l.rule,
                    share(by_layer(l))
                ),
                _ => format!(
                    "most between the layers ({:.0} % of the score): products of two computed tensors (e.g. squeeze-excite gates) take the gradient, which need not conserve relevance",
                    share(between)
                ),
            };
        }
        Conservation {
            score,
            relevance_sum,
            absorbed,
            per_layer,
            absorbed_where,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections() {
        let s = |t: &str| LayerSelection::parse(t).unwrap().layers(5).unwrap();
        assert_eq!(s("3"), vec![3]);
        assert_eq!(s("1-3"), vec![1, 2, 3]);
        assert_eq!(s("3-"), vec![3, 4]);
        assert_eq!(s("-"), vec![0, 1, 2, 3, 4]);
        assert_eq!(s("0,2-3"), vec![0, 2, 3]);
        assert_eq!(s("-1"), vec![0, 1]);
        assert!(LayerSelection::parse("a").is_err());
        assert!(LayerSelection::parse("3-1").is_err());
        assert!(LayerSelection::parse("7").unwrap().layers(5).is_err());
    }

    #[test]
    fn composites() {
        use LayerKind::*;
        let kinds = [Conv, Conv, Conv, Dense];
        let r = Composite::parse("epsilon-gamma-box", Some(0.0), Some(1.0))
            .unwrap()
            .rules(&kinds);
        assert_eq!(
            r.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            ["zbox:0,1", "gamma:0.25", "gamma:0.25", "epsilon:0.000001"]
        );
        let r = Composite::parse("epsilon-plus-flat", None, None)
            .unwrap()
            .rules(&kinds);
        assert_eq!(r[0], LrpRule::Flat);
        assert_eq!(
            r[1],
            LrpRule::AlphaBeta {
                alpha: 1.0,
                beta: 0.0
            }
        );
        // The reference's layered split: 4 layers -> 0 | - | 1 | 2-3; 5 layers -> 0 | - | 1-2 | 3-4.
        assert_eq!(Composite::layered_splits(4, None, None), (1, 2));
        assert_eq!(Composite::layered_splits(5, None, None), (1, 3));
        // Bounds for a composite without a z-box are an error, not ignored.
        let e = Composite::parse("epsilon-plus-flat", Some(0.0), Some(1.0)).unwrap_err();
        assert!(e.message().contains("no z-box"), "{e}");
        let e = LrpSpec::parse(&[("0".into(), "gamma".into())], None, None, None).unwrap_err();
        assert!(e.message().contains("gamma:G"), "{e}");
        assert!(Composite::parse("magic", None, None)
            .unwrap_err()
            .message()
            .contains("unknown composite"));
        assert!(
            LrpSpec::parse(&[("0".into(), "flat".into())], None, Some(0.0), Some(1.0))
                .unwrap_err()
                .message()
                .contains("--low")
        );
    }
}
