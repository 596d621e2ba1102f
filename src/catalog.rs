//! The one description of the methods and their parameters: id, label, each parameter's type,
//! default, range or options and unit, and how a map of the method is drawn by default. The
//! request parser ([`crate::request`]) and the CLI take their defaults from here, `saliency
//! info --json` and the wasm API (`catalog()`) return it, and the viewer builds its controls
//! from it: adding a method or a parameter touches Rust only (tests/catalog.rs checks that
//! the three agree and that the viewer defines none of it).

use crate::lrp::COMPOSITES;
use crate::methods::quadrature::IgRule;
use crate::methods::{MAX_SAMPLES, MAX_STEPS};
use serde::Serialize;

/// Integrated gradients' default number of quadrature points (`steps`).
pub const DEFAULT_STEPS: usize = 50;
/// Integrated gradients' default quadrature rule (`ig_rule`).
pub const DEFAULT_IG_RULE: &str = "gauss-legendre";
/// Integrated gradients' default baseline kind: the constant 0 in model-input units (Captum's
/// default; for an image normalised by mean and std, the mean image).
pub const DEFAULT_BASELINE: &str = "constant";
/// SmoothGrad's default number of noisy samples (`samples`).
pub const DEFAULT_SAMPLES: usize = 50;
/// SmoothGrad's default noise level (`noise`): the noise's standard deviation as a fraction of
/// the input's value range (max - min).
pub const DEFAULT_NOISE: f32 = 0.15;
/// SmoothGrad's and the noise baseline's default seed.
pub const DEFAULT_SEED: u64 = 0;
/// LRP's default composite, when a request names neither a composite nor rules (Zennit's
/// recommendation for image classifiers).
pub const DEFAULT_COMPOSITE: &str = "epsilon-gamma-box";
/// The blurred baseline's default standard deviation, in pixels.
pub const DEFAULT_BLUR_SIGMA: f32 = 5.0;

/// One parameter of a method (or of a baseline kind, or of an LRP rule).
#[derive(Debug, Clone, Serialize)]
pub struct Param {
    /// The request field (JSON) it sets; the CLI flag is `--` + the key with `-` for `_`.
    pub key: &'static str,
    /// Its name in the viewer.
    pub label: &'static str,
    /// What kind of value it takes, with its default and bounds.
    #[serde(flatten)]
    pub kind: Kind,
    /// The unit of the value, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    /// Shown (and sent) only when the parameter `.0` has the value `.1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_if: Option<(&'static str, &'static str)>,
    /// One line on what it does.
    pub help: &'static str,
    /// Whether each unit of it costs one gradient (a forward and a backward pass): the viewer
    /// estimates a run's time from it before the run starts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub gradients: bool,
}

/// A parameter's type, default and bounds (JSON: `"type": "int"`, ... beside the other fields).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Kind {
    /// A whole number in `min..=max`; `log`: spread a slider logarithmically.
    Int {
        /// The default (None: no value unless given).
        default: Option<u64>,
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted (None: unbounded).
        max: Option<u64>,
        /// Whether a slider over it should be logarithmic.
        log: bool,
    },
    /// A real number.
    Float {
        /// The default (None: no value unless given; the method derives one).
        default: Option<f32>,
        /// The smallest value accepted, if bounded.
        min: Option<f32>,
        /// The largest value accepted, if bounded.
        max: Option<f32>,
        /// A slider's or a spin box's step.
        step: f32,
    },
    /// One of a list of names.
    Choice {
        /// The default.
        default: &'static str,
        /// The names accepted, each with its label and its own parameters.
        options: Vec<Choice>,
    },
    /// An ONNX tensor name of the model (its spatial layers); `required` or optional.
    Layer {
        /// Whether the method needs one.
        required: bool,
    },
    /// A `.npy` tensor of the input's shape, in model-input units.
    Tensor,
    /// LRP's per-layer rules: `(layers, rule)` pairs, each rule one of [`Catalog::lrp_rules`].
    Rules {
        /// The rows a new table starts with.
        default: Vec<(&'static str, &'static str)>,
    },
}

/// One option of a choice.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    /// Its name in requests.
    pub value: &'static str,
    /// Its name in the viewer.
    pub label: &'static str,
    /// The parameters it takes (a baseline kind's), if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
}

/// How a method's maps are drawn unless the user says otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct DisplayDefaults {
    /// `signed` (diverging colours around 0) or `positive` (the map's positive part).
    pub sign: &'static str,
    /// The colormap.
    pub colormap: &'static str,
    /// Captum's `outlier_perc`: the share (in %) of the |attribution| mass clipped at the top.
    pub outlier_percent: f32,
}

/// One explanation method.
#[derive(Debug, Clone, Serialize)]
pub struct MethodDesc {
    /// Its id in requests and on the CLI (`--method`).
    pub id: &'static str,
    /// Its name in the viewer.
    pub label: &'static str,
    /// Whether its maps have a meaningful sign (drawn diverging by default).
    pub signed: bool,
    /// How its maps are drawn by default.
    pub display: DisplayDefaults,
    /// Its parameters, in the order the viewer shows them.
    pub params: Vec<Param>,
}

/// One LRP rule with its parameters (the `--rule` syntax: `name:v1,v2`).
#[derive(Debug, Clone, Serialize)]
pub struct RuleDesc {
    /// The rule's name (`epsilon`, `alpha-beta`, ...).
    pub name: &'static str,
    /// Its values, in `--rule` order, with their defaults.
    pub params: Vec<RuleParam>,
    /// What the viewer says beside it, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// The drawing options of every map, each list's first entry its default.
#[derive(Debug, Clone, Serialize)]
pub struct DisplayOptions {
    /// The colormaps.
    pub colormaps: Vec<&'static str>,
    /// Which values are drawn (`signed`, `absolute`, `positive`).
    pub signs: Vec<&'static str>,
    /// How an attribution's channels become one map.
    pub reduce: Vec<&'static str>,
    /// How a map is resampled to the drawing size.
    pub upsample: Vec<&'static str>,
    /// The colormap of a map drawn signed, unless one is chosen.
    pub colormap_signed: &'static str,
    /// The colormap of a map drawn absolute or positive, unless one is chosen.
    pub colormap_unsigned: &'static str,
    /// The heatmap's default opacity over the image (0 to 1).
    pub opacity: f32,
}

/// One value of an LRP rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleParam {
    /// Its symbol (ε, γ, α, β).
    pub label: &'static str,
    /// The value a new table row starts with.
    pub default: f32,
}

/// Everything the description holds.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// The methods, in the order the viewer lists them.
    pub methods: Vec<MethodDesc>,
    /// LRP's rules and their values.
    pub lrp_rules: Vec<RuleDesc>,
    /// The rule of a layer no composite or rule assigns (`--rule` syntax).
    pub lrp_default_rule: String,
    /// The methods the viewer opens on, in order of preference: the first that applies to
    /// the model (Grad-CAM's map of the last spatial layer is the most telling first picture;
    /// the gradient's speckle the least).
    pub open_with: Vec<&'static str>,
    /// How maps can be drawn.
    pub display: DisplayOptions,
}

fn int(
    key: &'static str,
    label: &'static str,
    default: Option<u64>,
    min: u64,
    max: Option<u64>,
    log: bool,
    help: &'static str,
) -> Param {
    Param {
        key,
        label,
        kind: Kind::Int {
            default,
            min,
            max,
            log,
        },
        unit: None,
        show_if: None,
        help,
        gradients: false,
    }
}

fn float(
    key: &'static str,
    label: &'static str,
    default: Option<f32>,
    (min, max): (Option<f32>, Option<f32>),
    step: f32,
    help: &'static str,
) -> Param {
    Param {
        key,
        label,
        kind: Kind::Float {
            default,
            min,
            max,
            step,
        },
        unit: None,
        show_if: None,
        help,
        gradients: false,
    }
}

fn choice(value: &'static str, label: &'static str, params: Vec<Param>) -> Choice {
    Choice {
        value,
        label,
        params,
    }
}

impl Param {
    fn unit(mut self, unit: &'static str) -> Param {
        self.unit = Some(unit);
        self
    }
    fn when(mut self, key: &'static str, value: &'static str) -> Param {
        self.show_if = Some((key, value));
        self
    }
    fn per_gradient(mut self) -> Param {
        self.gradients = true;
        self
    }
}

/// The colormap of signed maps (negative blue, positive red).
const COLORMAP_SIGNED: &str = "blue-white-red";
/// The colormap of unsigned maps: jet, as the CAM and Grad-CAM papers and pytorch-grad-cam draw.
const COLORMAP_UNSIGNED: &str = "jet";
const SIGNED: DisplayDefaults = DisplayDefaults {
    sign: "signed",
    colormap: COLORMAP_SIGNED,
    outlier_percent: 2.0,
};
const POSITIVE: DisplayDefaults = DisplayDefaults {
    sign: "positive",
    colormap: COLORMAP_UNSIGNED,
    outlier_percent: 0.0,
};

fn method(id: &'static str, label: &'static str, signed: bool, params: Vec<Param>) -> MethodDesc {
    MethodDesc {
        id,
        label,
        signed,
        display: if signed { SIGNED } else { POSITIVE },
        params,
    }
}

/// The description (docs/conventions.md gives each method's definition).
pub fn catalog() -> Catalog {
    let seed = |label| {
        int(
            "seed",
            label,
            Some(DEFAULT_SEED),
            0,
            None,
            false,
            "the random generator's seed: the same seed gives the same map",
        )
    };
    let baselines = vec![
        choice(
            "constant",
            "constant (model-input units)",
            vec![float(
                "value",
                "value",
                Some(0.0),
                (None, None),
                0.1,
                "the value of every input element, after preprocessing",
            )],
        ),
        choice("black", "black image", vec![]),
        choice("white", "white image", vec![]),
        choice(
            "blurred",
            "blurred input",
            vec![float(
                "sigma",
                "blur σ",
                Some(DEFAULT_BLUR_SIGMA),
                (Some(0.5), Some(100.0)),
                0.5,
                "the Gaussian blur's standard deviation",
            )
            .unit("px")],
        ),
        choice("noise", "uniform noise", vec![seed("noise seed")]),
        choice(
            "tensor",
            "a .npy file",
            vec![Param {
                key: "values",
                label: "baseline .npy",
                kind: Kind::Tensor,
                unit: None,
                show_if: None,
                help: "a tensor of the input's shape, in model-input units",
                gradients: false,
            }],
        ),
    ];
    let composites: Vec<Choice> = COMPOSITES
        .iter()
        .map(|&c| choice(c, c, vec![]))
        .chain([choice("custom", "rules per layer", vec![])])
        .collect();
    let zbox = "the lowest and highest model-input value for the z-box rule of the first layer (default: from the preprocessing)";
    Catalog {
        methods: vec![
            method("gradient", "Gradient (saliency)", true, vec![]),
            method("gradient-x-input", "Gradient × input", true, vec![]),
            method("guided-backprop", "Guided backprop", true, vec![]),
            method("integrated-gradients", "Integrated Gradients", true, vec![
                int("steps", "steps", Some(DEFAULT_STEPS as u64), 1, Some(MAX_STEPS as u64), true, "quadrature points along the path (one gradient each)").per_gradient(),
                Param { key: "ig_rule", label: "quadrature", kind: Kind::Choice { default: DEFAULT_IG_RULE, options: IgRule::NAMES.iter().map(|&n| choice(n, n, vec![])).collect() }, unit: None, show_if: None, help: "how the path integral is sampled and weighted", gradients: false },
                Param { key: "baseline", label: "baseline", kind: Kind::Choice { default: DEFAULT_BASELINE, options: baselines }, unit: None, show_if: None, help: "the input the path starts from", gradients: false },
            ]),
            method("smoothgrad", "SmoothGrad", true, vec![
                int("samples", "samples", Some(DEFAULT_SAMPLES as u64), 1, Some(MAX_SAMPLES as u64), true, "noisy copies of the input averaged (one gradient each)").per_gradient(),
                float("noise", "noise level", Some(DEFAULT_NOISE), (Some(0.0), Some(1.0)), 0.01, "the noise's standard deviation as a fraction of the input's value range"),
                seed("seed"),
            ]),
            method("grad-cam", "Grad-CAM", false, vec![Param { key: "layer", label: "layer", kind: Kind::Layer { required: true }, unit: None, show_if: None, help: "the spatial layer whose activations are weighted by their mean gradient", gradients: false }]),
            method("cam", "CAM", false, vec![]),
            method("lrp", "LRP", true, vec![
                Param { key: "composite", label: "composite", kind: Kind::Choice { default: DEFAULT_COMPOSITE, options: composites }, unit: None, show_if: None, help: "which rule each layer gets (Zennit's composites), or rules per layer", gradients: false },
                float("low", "z-box low", None, (None, None), 0.1, zbox).when("composite", "epsilon-gamma-box"),
                float("high", "z-box high", None, (None, None), 0.1, zbox).when("composite", "epsilon-gamma-box"),
                int("lower_end", "γ up to layer", None, 1, None, false, "layered: the first layer after the gamma layers (default: the lowest quarter)").when("composite", "layered"),
                int("upper_start", "LRP-0 from layer", None, 1, None, false, "layered: the first epsilon layer (default: the upper half)").when("composite", "layered"),
                Param { key: "rules", label: "rules per layer", kind: Kind::Rules { default: vec![("0", "zbox"), ("1-", "epsilon:0.25")] }, unit: None, show_if: Some(("composite", "custom")), help: "LAYERS=RULE rows; later rows override earlier ones", gradients: false },
            ]),
        ],
        lrp_rules: vec![
            RuleDesc { name: "zero", params: vec![], note: None },
            RuleDesc { name: "epsilon", params: vec![RuleParam { label: "ε", default: 0.25 }], note: None },
            RuleDesc { name: "gamma", params: vec![RuleParam { label: "γ", default: 0.25 }], note: None },
            RuleDesc { name: "alpha-beta", params: vec![RuleParam { label: "α", default: 2.0 }, RuleParam { label: "β", default: 1.0 }], note: Some("α − β must be 1") },
            RuleDesc { name: "flat", params: vec![], note: None },
            RuleDesc { name: "w-square", params: vec![], note: None },
            RuleDesc { name: "zbox", params: vec![], note: Some("bounds from the preprocessing") },
        ],
        lrp_default_rule: crate::lrp::DEFAULT_RULE.to_string(),
        open_with: vec!["grad-cam", "gradient"],
        display: DisplayOptions {
            colormaps: vec![COLORMAP_SIGNED, "purple-green", "viridis", "inferno", "magma", "plasma", "turbo", COLORMAP_UNSIGNED, "greys"],
            signs: vec!["signed", "absolute", "positive"],
            reduce: vec!["sum", "max-abs", "l2"],
            upsample: vec!["bilinear", "bicubic", "nearest"],
            colormap_signed: COLORMAP_SIGNED,
            colormap_unsigned: COLORMAP_UNSIGNED,
            opacity: 0.6,
        },
    }
}

impl Catalog {
    /// The method with this id.
    pub fn method(&self, id: &str) -> Option<&MethodDesc> {
        self.methods.iter().find(|m| m.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog's names are the ones the parsers accept.
    #[test]
    fn every_name_parses() {
        let c = catalog();
        let ids: Vec<&str> = c.methods.iter().map(|m| m.id).collect();
        assert_eq!(ids, crate::methods::METHODS);
        for r in &c.lrp_rules {
            let vals: Vec<String> = r.params.iter().map(|p| p.default.to_string()).collect();
            let text = if vals.is_empty() {
                r.name.to_string()
            } else {
                format!("{}:{}", r.name, vals.join(","))
            };
            crate::lrp::LrpRule::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        let d = &c.display;
        for m in &d.colormaps {
            serde_json::from_value::<crate::render::Colormap>(serde_json::json!(m)).unwrap();
        }
        for u in &d.upsample {
            serde_json::from_value::<crate::render::Upsample>(serde_json::json!(u)).unwrap();
        }
        for v in &d.signs {
            serde_json::from_value::<crate::render::Sign>(serde_json::json!(v)).unwrap();
        }
        for v in &d.reduce {
            serde_json::from_value::<crate::render::Reduce>(serde_json::json!(v)).unwrap();
        }
        // Each list's first entry is the renderer's own default.
        let r = crate::render::Display::default();
        assert_eq!(
            serde_json::json!(r.upsample),
            serde_json::json!(d.upsample[0])
        );
        assert_eq!(serde_json::json!(r.reduce), serde_json::json!(d.reduce[0]));
        assert_eq!(serde_json::json!(r.sign), serde_json::json!(d.signs[0]));
        assert_eq!(r.outlier_percent, SIGNED.outlier_percent);
    }
}
