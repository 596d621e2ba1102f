//! An explanation request as plain data (JSON from the viewer, or built by the CLI), turned
//! into a [`Method`] in one place, with the same defaults and checks everywhere.

use crate::baseline::{self, BaselineSpec};
use crate::err;
use crate::error::Result;
use crate::methods::{Baseline, IgRule, Method};
use crate::sidecar::Sidecar;
use serde::{Deserialize, Serialize};
use tract_onnx::prelude::tract_ndarray::ArrayD;

use crate::catalog::{
    DEFAULT_COMPOSITE, DEFAULT_IG_RULE, DEFAULT_NOISE, DEFAULT_SAMPLES, DEFAULT_SEED, DEFAULT_STEPS,
};

/// One explanation request; its JSON form has these field names, all but `method` optional,
/// and unknown fields are errors (docs/conventions.md, "Requests").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The method's id, one of [`crate::methods::METHODS`] (e.g. `integrated-gradients`).
    pub method: String,
    /// Class to explain; default: the top class.
    #[serde(default)]
    pub target: Option<usize>,
    /// Integrated gradients: the number of quadrature points (default [`DEFAULT_STEPS`]; at
    /// least 1, 2 for `riemann-trapezoid`; at most [`crate::methods::MAX_STEPS`]).
    #[serde(default)]
    pub steps: Option<usize>,
    /// Integrated gradients: the quadrature rule, one of [`IgRule::NAMES`] (default
    /// [`DEFAULT_IG_RULE`]).
    #[serde(default)]
    pub ig_rule: Option<String>,
    /// Integrated gradients: the baseline, e.g. `{"kind": "black"}` (default: the constant 0 in
    /// model-input units).
    #[serde(default)]
    pub baseline: Option<BaselineSpec>,
    /// SmoothGrad: the number of noisy samples (default [`DEFAULT_SAMPLES`]; at most
    /// [`crate::methods::MAX_SAMPLES`]).
    #[serde(default)]
    pub samples: Option<usize>,
    /// SmoothGrad: the noise's standard deviation as a fraction of the input's value range
    /// (default [`DEFAULT_NOISE`]; finite, >= 0).
    #[serde(default)]
    pub noise: Option<f32>,
    /// SmoothGrad: the noise's seed (default [`DEFAULT_SEED`]).
    #[serde(default)]
    pub seed: Option<u64>,
    /// An ONNX tensor name. Grad-CAM (required): any `[1, C, H, W]` tensor; CAM (optional): the
    /// feature map fed to the global average pool (default: found from the graph).
    #[serde(default)]
    pub layer: Option<String>,
    /// `[k, n]`: compute shard k of n (integrated gradients and SmoothGrad; see `methods::Part`).
    #[serde(default)]
    pub part: Option<[usize; 2]>,
    /// LRP: `(layers, rule)` pairs, e.g. `["0", "zbox:0,1"]`, `["1-", "epsilon:0.25"]`.
    #[serde(default)]
    pub rules: Option<Vec<(String, String)>>,
    /// LRP preset: epsilon-gamma-box, epsilon-plus-flat, epsilon-alpha2-beta1-flat, layered
    /// (default [`DEFAULT_COMPOSITE`] when `rules` are not given either).
    #[serde(default)]
    pub composite: Option<String>,
    /// LRP z-box bounds of the composites (default: from the model's preprocessing).
    /// The lower bound: given only together with `high` and a `composite`; finite, `low <= high`.
    #[serde(default)]
    pub low: Option<f32>,
    /// The upper z-box bound (see `low`).
    #[serde(default)]
    pub high: Option<f32>,
}

impl Request {
    /// The shard to compute: [`crate::methods::Part::WHOLE`] without `part`; a `Parameter`
    /// error unless `0 <= k < n <= 1024`.
    pub fn part(&self) -> Result<crate::methods::Part> {
        match self.part {
            None => Ok(crate::methods::Part::WHOLE),
            Some([k, n]) => crate::methods::Part::new(k, n),
        }
    }

    /// Parses a request's JSON (a `Parameter` error for bad JSON, a wrong type or an unknown
    /// field); the values are checked by [`Request::to_method`].
    pub fn from_json(text: &str) -> Result<Request> {
        serde_json::from_str(text).map_err(|e| err!(Parameter, "bad explanation request: {e}"))
    }

    /// The method with its parameters, checked; `x` and the sidecar build image baselines.
    pub fn to_method(&self, x: &ArrayD<f32>, sc: &Sidecar) -> Result<Method> {
        let m = match self.method.as_str() {
            "gradient" => Method::Gradient,
            "gradient-x-input" => Method::GradientXInput,
            "guided-backprop" => Method::GuidedBackprop,
            "integrated-gradients" => {
                let baseline = match &self.baseline {
                    None => Baseline::Constant(0.0),
                    Some(BaselineSpec::Constant { value }) if value.is_finite() => {
                        Baseline::Constant(*value)
                    }
                    Some(spec) => Baseline::Tensor(baseline::make(spec, x, sc)?),
                };
                let rule = IgRule::parse(self.ig_rule.as_deref().unwrap_or(DEFAULT_IG_RULE))?;
                Method::IntegratedGradients {
                    steps: self.steps.unwrap_or(DEFAULT_STEPS),
                    rule,
                    baseline,
                }
            }
            "smoothgrad" => Method::SmoothGrad {
                samples: self.samples.unwrap_or(DEFAULT_SAMPLES),
                noise: self.noise.unwrap_or(DEFAULT_NOISE),
                seed: self.seed.unwrap_or(DEFAULT_SEED),
            },
            "grad-cam" => Method::GradCam {
                layer: self.layer.clone().ok_or_else(|| {
                    err!(
                        Parameter,
                        "grad-cam needs a layer (see the model's spatial layers)"
                    )
                })?,
            },
            "cam" => Method::Cam {
                layer: self.layer.clone(),
            },
            "lrp" => Method::Lrp(crate::lrp::LrpSpec::parse(
                self.rules.as_deref().unwrap_or(&[]),
                // Neither rules nor a composite: the default composite.
                match (&self.composite, &self.rules) {
                    (None, None) => Some(DEFAULT_COMPOSITE),
                    (c, _) => c.as_deref(),
                },
                self.low,
                self.high,
            )?),
            m => {
                return Err(err!(
                    Parameter,
                    "unknown method '{m}' (one of {})",
                    crate::methods::METHODS.join(", ")
                ))
            }
        };
        m.validate()?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_viewer_requests() {
        let sc = Sidecar::default_for(&[1, 1, 4, 4]).unwrap();
        let x = ArrayD::<f32>::zeros(vec![1, 1, 4, 4]);
        let r = Request::from_json(r#"{"method":"integrated-gradients","target":3,"steps":8,"ig_rule":"riemann-left","baseline":{"kind":"white"}}"#).unwrap();
        match r.to_method(&x, &sc).unwrap() {
            Method::IntegratedGradients {
                steps: 8,
                baseline: Baseline::Tensor(t),
                ..
            } => assert!(t.iter().all(|&v| v == 1.0)),
            m => panic!("{m:?}"),
        }
        assert!(
            Request::from_json(r#"{"method":"gradient","stpes":3}"#).is_err(),
            "typos are errors"
        );
        let e = Request::from_json(r#"{"method":"integrated-gradients","steps":0}"#)
            .unwrap()
            .to_method(&x, &sc)
            .unwrap_err();
        assert!(e.message().contains("steps"), "{e}");
        let e = Request::from_json(r#"{"method":"magic"}"#)
            .unwrap()
            .to_method(&x, &sc)
            .unwrap_err();
        assert!(e.message().contains("unknown method"), "{e}");
        assert!(Request::from_json(r#"{"method":"grad-cam"}"#)
            .unwrap()
            .to_method(&x, &sc)
            .is_err());
        let r = Request::from_json(r#"{"method":"lrp","composite":"epsilon-gamma-box","low":0,"high":1,"rules":[["3-","epsilon:0.25"]]}"#).unwrap();
        match r.to_method(&x, &sc).unwrap() {
            Method::Lrp(spec) => assert_eq!(spec.rules.len(), 1),
            m => panic!("{m:?}"),
        }
        let e = Request::from_json(r#"{"method":"lrp","rules":[["0","gama:1"]]}"#)
            .unwrap()
            .to_method(&x, &sc)
            .unwrap_err();
        assert!(e.message().contains("gama"), "{e}");
    }
}
