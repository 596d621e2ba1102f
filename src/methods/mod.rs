//! Attribution methods, one per file (as Captum's `attr/_core`), each a short composition of
//! the engine's forward tape and backward pass. Definitions: docs/conventions.md.

mod cam;
mod grad_cam;
mod gradient;
mod gradient_x_input;
mod guided_backprop;
mod integrated_gradients;
mod lrp;
pub mod quadrature;
pub(crate) mod rng;
mod smoothgrad;

use crate::array::Array;
use crate::engine::{Engine, Tape};
use crate::err;
use crate::error::Result;
use crate::model::Model;
pub use cam::cam_layer;
pub use quadrature::IgRule;

/// The integrated-gradients baseline x'.
#[derive(Debug, Clone)]
pub enum Baseline {
    /// The same value everywhere, in model-input units (after preprocessing).
    Constant(f32),
    /// A tensor of the input's shape, in model-input units.
    Tensor(Array),
}

/// An attribution method with its parameters (docs/conventions.md defines each).
#[derive(Debug, Clone)]
pub enum Method {
    /// `gradient`: dy_c/dx, signed.
    Gradient,
    /// `gradient-x-input`: x * dy_c/dx.
    GradientXInput,
    /// `guided-backprop`: the gradient, except that every ReLU passes back max(g, 0) where its
    /// input is > 0.
    GuidedBackprop,
    /// `integrated-gradients`: (x - x') * sum_i w_i dy_c/dx(x' + a_i (x - x')).
    IntegratedGradients {
        /// n, the number of quadrature points: 1..=[`MAX_STEPS`] (from 2 for the trapezoid).
        steps: usize,
        /// The quadrature rule, which gives the points a_i and weights w_i.
        rule: IgRule,
        /// The baseline x'.
        baseline: Baseline,
    },
    /// `smoothgrad`: the mean of dy_c/dx over `samples` noisy inputs x + N(0, sigma^2).
    SmoothGrad {
        /// n, the number of noisy samples: 1..=[`MAX_SAMPLES`].
        samples: usize,
        /// sigma as a fraction of the input's range: sigma = noise * (max x - min x); finite,
        /// >= 0.
        noise: f32,
        /// The noise seed: sample i draws from a generator seeded with
        /// `seed ^ (i * 0x9E3779B97F4A7C15)` (wrapping).
        seed: u64,
    },
    /// `grad-cam`: ReLU(sum_k alpha_k A^k) at the layer's (h, w), alpha_k the spatial mean of
    /// dy_c/dA^k.
    GradCam {
        /// A: an ONNX tensor name with a [1, C, H, W] shape.
        layer: String,
    },
    /// `cam`: sum_k w_k^c f_k at the layer's (h, w), w^c the dense layer's row for class c.
    Cam {
        /// f: the feature map fed to the global average pool (default: found from the graph).
        layer: Option<String>,
    },
    /// Layer-wise relevance propagation: the rule of each layer (composite and/or assignments).
    Lrp(crate::lrp::LrpSpec),
}

/// Every method's id, as `--method` and requests spell it ([`Method::name`]).
pub const METHODS: [&str; 8] = [
    "gradient",
    "gradient-x-input",
    "guided-backprop",
    "integrated-gradients",
    "smoothgrad",
    "grad-cam",
    "cam",
    "lrp",
];

/// Most integrated-gradients steps accepted.
pub const MAX_STEPS: usize = 10_000;
/// Most SmoothGrad samples accepted.
pub const MAX_SAMPLES: usize = 10_000;

impl Method {
    /// The method's id, one of [`METHODS`].
    pub fn name(&self) -> &'static str {
        match self {
            Method::Gradient => "gradient",
            Method::GradientXInput => "gradient-x-input",
            Method::GuidedBackprop => "guided-backprop",
            Method::IntegratedGradients { .. } => "integrated-gradients",
            Method::SmoothGrad { .. } => "smoothgrad",
            Method::GradCam { .. } => "grad-cam",
            Method::Cam { .. } => "cam",
            Method::Lrp(_) => "lrp",
        }
    }

    /// Checks the parameters before any work.
    pub fn validate(&self) -> Result<()> {
        match self {
            Method::IntegratedGradients { steps, rule, .. } => {
                let min = rule.min_steps();
                if *steps < min || *steps > MAX_STEPS {
                    return Err(err!(
                        Parameter,
                        "--steps must be between {min} and {MAX_STEPS} for {}, got {steps}",
                        rule.name()
                    ));
                }
            }
            Method::SmoothGrad { samples, noise, .. } => {
                if *samples < 1 || *samples > MAX_SAMPLES {
                    return Err(err!(
                        Parameter,
                        "--samples must be between 1 and {MAX_SAMPLES}, got {samples}"
                    ));
                }
                if !noise.is_finite() || *noise < 0.0 {
                    return Err(err!(
                        Parameter,
                        "--noise must be a finite number >= 0, got {noise}"
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One attribution and what it explains.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The input's shape, or (h, w) for CAM and Grad-CAM.
    pub attribution: Array,
    /// The explained class c: the one asked for, or the arg-max of the scores.
    pub target: usize,
    /// The target's score (logit) for the input.
    pub score: f32,
    /// Integrated gradients: sum(attribution) - (y(x) - y(x')).
    pub completeness_gap: Option<f64>,
    /// Integrated gradients: y(x) - y(x').
    pub score_delta: Option<f64>,
    /// LRP: sum of the input relevance, what biases and stabilisers absorbed, per layer.
    pub lrp: Option<crate::lrp::Conservation>,
    /// CAM / Grad-CAM: the map's terms, map = sum_k weights\[k\] * maps\[k\] (before Grad-CAM's ReLU).
    pub channels: Option<Channels>,
}

/// The terms of a channel-weighted map (CAM's w_k^c f_k, Grad-CAM's alpha_k A^k).
#[derive(Debug, Clone)]
pub struct Channels {
    /// The layer (ONNX tensor name) the maps come from.
    pub layer: String,
    /// Each channel's weight: CAM's w_k^c (the dense layer's row for the class), Grad-CAM's
    /// alpha_k.
    pub weights: Vec<f32>,
    /// [C, h, w] activations.
    pub maps: Array,
}

/// A shard of a sum-over-points method (integrated gradients' quadrature points, SmoothGrad's
/// samples): point `i` belongs to shard `i % count == index`. The shards' attributions add up
/// to the whole one, so several workers can share one explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// This shard's number k, `0 <= k < count`.
    pub index: usize,
    /// The number of shards m, 1..=1024.
    pub count: usize,
}

impl Part {
    /// The whole explanation: shard 0 of 1.
    pub const WHOLE: Part = Part { index: 0, count: 1 };

    /// Shard `index` of `count`; a `Parameter` error unless `0 <= index < count <= 1024`.
    pub fn new(index: usize, count: usize) -> Result<Part> {
        if count == 0 || index >= count || count > 1024 {
            return Err(err!(
                Parameter,
                "bad part [{index}, {count}]: need 0 <= index < count <= 1024"
            ));
        }
        Ok(Part { index, count })
    }

    /// Whether point `point` (a quadrature point or a sample, from 0) is this shard's.
    pub fn owns(&self, point: usize) -> bool {
        point % self.count == self.index
    }
}

/// A model with its explanation plans, built on first use and kept for every later call.
pub struct Explainer {
    model: Model,
    engine: Option<Engine>,
    /// LRP's layers and their modified-weight plans, built on first use.
    lrp: Option<(crate::lrp::LrpGraph, crate::lrp::linear::Plans)>,
    /// LRP reads every layer's input and output: an engine whose forward run keeps those
    /// ([`crate::lrp::propagate::reads`]; the gradient engine keeps what its rules read).
    engine_all: Option<Engine>,
    /// The scores of the last few inputs seen (the input and IG's baselines): a slider moving
    /// IG's steps or SmoothGrad's samples, or a click on another class, asks again for the same
    /// input, and each shard of a split run for the same input and baseline.
    scores: ScoreCache,
}

/// Scores (logits) of recently seen inputs, matched by value.
#[derive(Default)]
pub(crate) struct ScoreCache(std::sync::Mutex<std::collections::VecDeque<(Array, Vec<f32>)>>);

impl ScoreCache {
    const ENTRIES: usize = 4;

    /// The model's scores for `x`, from the cache or by a forward run.
    pub(crate) fn logits(&self, engine: &Engine, x: &Array) -> Result<Vec<f32>> {
        let same = |a: &Array| {
            a.shape() == x.shape() && a.iter().zip(x).all(|(p, q)| p.to_bits() == q.to_bits())
        };
        if let Ok(cache) = self.0.lock() {
            if let Some((_, logits)) = cache.iter().find(|(a, _)| same(a)) {
                return Ok(logits.clone());
            }
        }
        let logits = engine.forward(x)?.logits()?;
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() == Self::ENTRIES {
                cache.pop_front();
            }
            cache.push_back((x.clone(), logits.clone()));
        }
        Ok(logits)
    }
}

impl Explainer {
    /// Wraps `model`; plans are built by [`Explainer::prepare`] or the first explanation.
    pub fn new(model: Model) -> Explainer {
        Explainer {
            model,
            engine: None,
            lrp: None,
            engine_all: None,
            scores: ScoreCache::default(),
        }
    }

    /// The model it explains.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Builds the plans if not built yet; returns whether it built them (for `plan_seconds`).
    /// Fails on an operator the engine cannot propagate through.
    pub fn prepare(&mut self) -> Result<bool> {
        if self.engine.is_some() {
            return Ok(false);
        }
        self.engine = Some(Engine::new(&self.model)?);
        Ok(true)
    }

    /// [`Explainer::prepare`], plus what `method` alone needs: for LRP, the layer map and the
    /// modified-weight plans of its rules. Returns whether it built anything.
    pub fn prepare_for(&mut self, method: &Method) -> Result<bool> {
        let mut built = self.prepare()?;
        if let Method::Lrp(spec) = method {
            built |= self.prepare_lrp()?;
            let (graph, plans) = self.lrp.as_mut().expect("built above");
            let rules = spec.resolve(&graph.kinds())?;
            built |= plans.prepare(&self.model.typed, graph, &rules)?;
        }
        Ok(built)
    }

    /// LRP's layer map and the engine whose forward run keeps what LRP's walk reads (and lets
    /// tract fuse the rest). Returns whether it built anything.
    fn prepare_lrp(&mut self) -> Result<bool> {
        let mut built = false;
        if self.lrp.is_none() {
            self.lrp = Some((
                crate::lrp::LrpGraph::build(&self.model)?,
                Default::default(),
            ));
            built = true;
        }
        if self.engine_all.is_none() {
            let (graph, _) = self.lrp.as_ref().expect("built above");
            let reads = crate::lrp::propagate::reads(
                &self.model,
                self.engine.as_ref().expect("prepared"),
                graph,
            );
            self.engine_all = Some(Engine::with_capture(
                &self.model,
                crate::engine::Capture::Outlets(reads),
            )?);
            built = true;
        }
        Ok(built)
    }

    /// Explains `target` (default: the arg-max class) for input `x` with `method`.
    pub fn explain(
        &mut self,
        x: &Array,
        method: &Method,
        target: Option<usize>,
    ) -> Result<Explanation> {
        self.explain_part(x, method, target, Part::WHOLE)
    }

    /// One shard of an explanation (see [`Part`]); methods that are not sums over points
    /// ignore all but shard 0, which computes them whole. A shard of integrated gradients has no
    /// completeness gap of its own: it reports `score_delta` = y(x) - y(x') for the combiner.
    pub fn explain_part(
        &mut self,
        x: &Array,
        method: &Method,
        target: Option<usize>,
        part: Part,
    ) -> Result<Explanation> {
        method.validate()?;
        self.model.check_input(x)?;
        if let Some(t) = target {
            if t >= self.model.classes {
                return Err(err!(
                    Parameter,
                    "target class {t} out of range (the model has {} classes)",
                    self.model.classes
                ));
            }
        }
        self.prepare()?;
        if matches!(method, Method::Lrp(_)) {
            self.prepare_lrp()?;
        }
        let engine = match method {
            Method::Lrp(_) => self.engine_all.as_ref().expect("built above"),
            _ => self.engine.as_ref().expect("prepared"),
        };
        let m = &self.model;
        // Grad-CAM and CAM read a layer's activation: keep it from the forward run too.
        let layer = match method {
            Method::GradCam { layer } | Method::Cam { layer: Some(layer) } => {
                engine.resolve_layer(m, layer).ok()
            }
            Method::Cam { layer: None } => cam::cam_layer(m)
                .ok()
                .and_then(|l| engine.resolve_layer(m, &l).ok()),
            _ => None,
        };
        // Sums over points run their own forward passes: of x they need only the scores.
        let scores_only = matches!(
            method,
            Method::IntegratedGradients { .. } | Method::SmoothGrad { .. }
        );
        let tape = match layer {
            _ if scores_only => None,
            Some((o, _)) => Some(engine.forward_keeping(m, x, o)?),
            None => Some(engine.forward(x)?),
        };
        let logits = match &tape {
            Some(t) => t.logits()?,
            None => self.scores.logits(engine, x)?,
        };
        let target = target.unwrap_or_else(|| argmax(&logits));
        let s = Subject {
            model: m,
            engine,
            x,
            tape: tape.as_ref(),
            logits: &logits,
            scores: &self.scores,
            target,
            part,
        };
        let mut lrp = None;
        let mut score_delta = None;
        let mut channels = None;
        let (attribution, completeness_gap) = match method {
            Method::Gradient => (gradient::explain(&s)?, None),
            Method::GradientXInput => (gradient_x_input::explain(&s)?, None),
            Method::GuidedBackprop => (guided_backprop::explain(&s)?, None),
            Method::IntegratedGradients {
                steps,
                rule,
                baseline,
            } => {
                let (a, delta) = integrated_gradients::explain(&s, *steps, *rule, baseline)?;
                score_delta = Some(delta);
                let gap =
                    (part == Part::WHOLE).then(|| a.iter().map(|&v| v as f64).sum::<f64>() - delta);
                (a, gap)
            }
            Method::SmoothGrad {
                samples,
                noise,
                seed,
            } => (smoothgrad::explain(&s, *samples, *noise, *seed)?, None),
            Method::GradCam { layer } => {
                let (a, c) = grad_cam::explain(&s, layer)?;
                channels = Some(c);
                (a, None)
            }
            Method::Cam { layer } => {
                let (a, c) = cam::explain(&s, layer.as_deref())?;
                channels = Some(c);
                (a, None)
            }
            Method::Lrp(spec) => {
                let (graph, plans) = self.lrp.as_mut().expect("built above");
                let (a, c) = lrp::explain(&s, graph, plans, spec)?;
                lrp = Some(c);
                (a, None)
            }
        };
        if attribution.iter().any(|v| !v.is_finite()) {
            return Err(err!(
                NonFinite,
                "the {} attribution contains NaN or infinite values",
                method.name()
            ));
        }
        Ok(Explanation {
            attribution,
            target,
            score: logits[target],
            completeness_gap,
            score_delta,
            lrp,
            channels,
        })
    }
}

/// What every method gets: the model, its plans, the input, its forward tape (except the sums
/// over points, which run their own), its scores, the class.
pub(crate) struct Subject<'a> {
    pub model: &'a Model,
    pub engine: &'a Engine,
    pub x: &'a Array,
    tape: Option<&'a Tape>,
    pub logits: &'a [f32],
    pub scores: &'a ScoreCache,
    pub target: usize,
    pub part: Part,
}

impl Subject<'_> {
    /// The forward run of x (every method but integrated gradients and SmoothGrad gets one).
    pub fn tape(&self) -> Result<&Tape> {
        self.tape
            .ok_or_else(|| err!(Runtime, "internal: this method was given no forward run"))
    }
}

/// The index of the largest value, the first one on ties (the default target class); 0 for an
/// empty slice.
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Whether a method applies to a model, and why (or why not).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MethodInfo {
    /// The method's id ([`METHODS`]).
    pub method: &'static str,
    /// Whether it can explain this model.
    pub applies: bool,
    /// Why (or why not), in a few words.
    pub reason: String,
    /// What a user should know about its pictures on this model, if anything (e.g. guided
    /// backprop on a net without a ReLU is the plain gradient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which methods apply to a model, with what each found in it.
pub struct Applicability {
    /// One entry per method.
    pub methods: Vec<MethodInfo>,
    /// The tensors with a spatial [1, C, H, W] shape Grad-CAM can find in the simplified graph
    /// (nearly all: see `Engine::resolve_layer` for fused and scaled tensors).
    pub spatial_layers: Vec<String>,
    /// The feature map CAM uses, if CAM applies.
    pub cam_layer: Option<String>,
    /// LRP canonisation: the BatchNorms merged into the layer before them (one line each), or
    /// why LRP cannot map this model's layers.
    pub lrp_canonization: Vec<String>,
}

/// What each method needs of `model`, checked: the gradient family applies to any
/// differentiable classifier, Grad-CAM needs a spatial layer, CAM a global average pool feeding
/// the scores, LRP conv/dense layers it can map.
pub fn applicability(model: &Model) -> Applicability {
    let engine = Engine::new(model).ok();
    let explainable = |t: &str| {
        engine
            .as_ref()
            .is_none_or(|e| e.resolve_layer(model, t).is_ok())
    };
    let spatial_layers: Vec<String> = model
        .nodes
        .iter()
        .filter_map(|n| n.outputs.first())
        .filter(|t| matches!(model.shapes.get(*t), Some(s) if s.len() == 4 && s[2] * s[3] > 1))
        .filter(|t| explainable(t))
        .cloned()
        .collect();
    let cam = cam::cam_layer(model).and_then(|l| {
        if explainable(&l) {
            Ok(l)
        } else {
            Err(format!(
                "CAM's feature map '{l}' was fused away when the model was simplified"
            ))
        }
    });
    let gradient_family = [
        "gradient",
        "gradient-x-input",
        "guided-backprop",
        "integrated-gradients",
        "smoothgrad",
    ];
    let mut methods: Vec<MethodInfo> = gradient_family
        .iter()
        .map(|m| MethodInfo {
            method: m,
            applies: true,
            reason: "any differentiable classifier".into(),
            note: None,
        })
        .collect();
    // Guided backprop modifies ReLUs alone (as Captum hooks nn.ReLU): without one it is the
    // gradient, pixel for pixel.
    if engine.as_ref().is_some_and(|e| !e.has_relu()) {
        if let Some(g) = methods.iter_mut().find(|m| m.method == "guided-backprop") {
            g.note = Some("this net has no ReLU (ReLU6 and other clipped activations keep their gradient): guided backprop is identical to the gradient here".into());
        }
    }
    methods.push(MethodInfo {
        method: "grad-cam",
        note: None,
        applies: !spatial_layers.is_empty(),
        reason: if spatial_layers.is_empty() {
            "no layer with a spatial [1, C, H, W] output".into()
        } else {
            format!("{} spatial layers", spatial_layers.len())
        },
    });
    methods.push(MethodInfo {
        method: "cam",
        note: None,
        applies: cam.is_ok(),
        reason: match &cam {
            Ok(l) => format!("global average pool of '{l}' feeds the class scores"),
            Err(e) => e.clone(),
        },
    });
    let layers = crate::lrp::layers::numbered(model).count();
    let lrp_graph = crate::lrp::LrpGraph::build(model);
    methods.push(MethodInfo {
        method: "lrp",
        note: None,
        applies: layers > 0 && lrp_graph.is_ok(),
        reason: match &lrp_graph {
            _ if layers == 0 => "no Conv/Gemm/MatMul layer".into(),
            Ok(_) => format!("{layers} conv/dense layers"),
            Err(e) => e.to_string(),
        },
    });
    let lrp_canonization = match lrp_graph {
        Ok(g) if g.canonization.is_empty() => {
            vec!["nothing to merge (no BatchNormalization directly after a layer)".to_string()]
        }
        Ok(g) => g.canonization,
        Err(e) => vec![format!("LRP does not apply: {e}")],
    };
    Applicability {
        methods,
        spatial_layers,
        cam_layer: cam.ok(),
        lrp_canonization,
    }
}
