//! The wasm-bindgen shell: converts types and turns every core error into a JS exception
//! (`Error` with the core's message and `name` = the error kind). No logic lives here.
//!
//! Types as JS sees them: `&[u8]` / `Vec<u8>` are `Uint8Array`, `&[f32]` / `Vec<f32>`
//! `Float32Array`, `Vec<usize>` `Uint32Array`, `Option<String>` a string or `null` /
//! `undefined`, `u64` a `BigInt`. Every "throws" below is such an `Error`; its `name` is one of
//! the [`crate::ErrorKind`] names (`io`, `corrupt-model`, `unsupported-operator`, `shape`,
//! `image`, `sidecar`, `parameter`, `limit`, `non-finite`, `npy`, `runtime`).

use crate::request::Request;
use crate::{info, npy, preprocess, Error, Explainer, Model, Prediction};
use wasm_bindgen::prelude::*;

/// The module's start function: [`init`], when the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    init();
}

extern "C" {
    /// The linker's function that runs every static constructor (tract registers its kernels
    /// and operators in ~150 of them).
    fn __wasm_call_ctors();
}

/// Runs the static constructors and installs the panic hook, once per instance. Called from
/// the start function and from every entry point that does not need an object made by another
/// (wasm-bindgen-test does not run the start function). Without an explicit call the linker
/// treats the module as a command and runs all the constructors again at the start of every
/// exported function, wasm-bindgen's malloc and free included: every call from JS paid for
/// them, about 3 % of a 0.4 ms explanation in V8. Rust code linked into another wasm binary that
/// uses tract directly (the wasm tests) calls it first.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: runs once, before anything reads what the constructors register.
        unsafe { __wasm_call_ctors() };
        console_error_panic_hook::set_once();
    });
}

fn js_err(e: Error) -> JsValue {
    let err = js_sys::Error::new(e.message());
    err.set_name(e.kind.name());
    err.into()
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, JsValue> {
    serde_json::to_string(v).map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))
}

/// A loaded model and its cached explanation plans. Construct with
/// `new SaliencyModel(onnxBytes, sidecarJsonOrNull)`; free with `.free()`.
#[wasm_bindgen]
pub struct SaliencyModel {
    ex: crate::session::SharedModel,
}

#[wasm_bindgen]
extern "C" {
    /// Milliseconds from the page's (or worker's) `performance.now()`: one direct import call
    /// (looking `performance` up on the global object each time cost 1 % of a 0.3 ms
    /// explanation in V8).
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn now_ms() -> f64;
}

/// One explanation: `shape()`, `data()` (flat float32) and `meta()` JSON
/// (`method`, `target`, `label`, `score`, `seconds`, `plan_seconds`, `completeness_gap` and
/// `score_delta` (integrated gradients, else `null`), `lrp`: the conservation report of an LRP
/// explanation, `channels`: CAM / Grad-CAM's `layer`, `weights` and `shape`, else `null`).
#[wasm_bindgen]
pub struct Attribution {
    shape: Vec<usize>,
    data: Vec<f32>,
    meta: String,
    channel_maps: Vec<f32>,
}

impl Attribution {
    fn of(k: crate::session::Kept) -> Attribution {
        Attribution {
            shape: k.attribution.shape().to_vec(),
            data: k.attribution.into_raw_vec_and_offset().0,
            meta: k.meta.to_string(),
            channel_maps: k.channels,
        }
    }
}

#[wasm_bindgen]
impl Attribution {
    /// The attribution's shape (`Uint32Array`): the input's `[1, C, H, W]`, or `[h, w]` for CAM
    /// and Grad-CAM.
    pub fn shape(&self) -> Vec<usize> {
        self.shape.clone()
    }
    /// The attribution's values, row-major (`Float32Array`, a copy).
    pub fn data(&self) -> Vec<f32> {
        self.data.clone()
    }
    /// The explanation's metadata as a JSON string (the fields listed on [`Attribution`]).
    pub fn meta(&self) -> String {
        self.meta.clone()
    }
    /// CAM / Grad-CAM: the layer's activations [C, h, w], flat (`meta.channels` has the
    /// weights and the shape); empty for other methods.
    pub fn channel_maps(&self) -> Vec<f32> {
        self.channel_maps.clone()
    }
}

/// A sanity check's report: `meta()` JSON (`crate::evaluate::sanity::Report`: method, target,
/// layers, stages with their rank correlations, flagged) and `maps()`, every stage's map at the
/// input's (h, w), one after another.
#[wasm_bindgen]
pub struct SanityCheck {
    meta: String,
    maps: Vec<f32>,
}

#[wasm_bindgen]
impl SanityCheck {
    /// The report as a JSON string: `method`, `target`, `layers`, `stages` (each `randomized`,
    /// `layer`, `spearman`, `spearman_abs`), `flagged`.
    pub fn meta(&self) -> String {
        self.meta.clone()
    }
    /// The stages' maps (channel sums at the input's H x W, row-major), in the order of
    /// `stages`, the original model's first (`Float32Array`, stages x H x W values).
    pub fn maps(&self) -> Vec<f32> {
        self.maps.clone()
    }
}

#[wasm_bindgen]
impl SaliencyModel {
    /// `new SaliencyModel(onnx, sidecarJson)`: loads a self-contained ONNX model (a model with
    /// external weights goes through [`self_contained`] first) with its sidecar JSON, or with a
    /// sidecar derived from its input when `sidecarJson` is `null`. Throws when the file is
    /// corrupt, too large or unsupported, keeps weights outside (`io`), or the sidecar is bad.
    #[wasm_bindgen(constructor)]
    pub fn new(onnx: &[u8], sidecar_json: Option<String>) -> Result<SaliencyModel, JsValue> {
        init();
        Model::load(onnx, sidecar_json.as_deref())
            .map(|model| SaliencyModel {
                ex: std::rc::Rc::new(std::cell::RefCell::new(Explainer::new(model))),
            })
            .map_err(js_err)
    }

    /// The implementation-invariance twin of a model file: weight layers `layer` and
    /// `layer + 1` rescaled by `factor` and 1 / `factor` (the same function, see
    /// `crate::evaluate::invariance`). A static method; throws what the constructor throws, and
    /// `parameter` for a bad layer or a factor that is not finite and positive.
    pub fn rescaled(
        onnx: &[u8],
        sidecar_json: Option<String>,
        layer: usize,
        factor: f32,
    ) -> Result<SaliencyModel, JsValue> {
        init();
        let sidecar = sidecar_json
            .as_deref()
            .map(crate::Sidecar::from_json)
            .transpose()
            .map_err(js_err)?;
        crate::evaluate::invariance::twin(onnx, sidecar, layer, factor)
            .map(|model| SaliencyModel {
                ex: std::rc::Rc::new(std::cell::RefCell::new(Explainer::new(model))),
            })
            .map_err(js_err)
    }

    /// The model description (`saliency info --json`), as a JSON string.
    pub fn info(&self) -> Result<String, JsValue> {
        to_json(&info::describe(self.ex.borrow().model()))
    }

    /// Preprocesses image bytes (PNG/JPEG) into the input tensor (flat NCHW float32). Throws
    /// `image` (undecodable), `limit` (too large or too elongated) or `shape` (a tensor-only
    /// model).
    pub fn preprocess_image(&self, bytes: &[u8]) -> Result<Vec<f32>, JsValue> {
        let x = preprocess::image_bytes_to_tensor(bytes, &self.ex.borrow().model().sidecar)
            .map_err(js_err)?;
        Ok(x.into_raw_vec_and_offset().0)
    }

    /// Preprocesses canvas RGBA pixels (`width * height * 4` bytes, an `ImageData`'s `data`)
    /// into the input tensor (flat NCHW float32). Throws `image` (bad size), `limit` or `shape`
    /// (a tensor-only model).
    pub fn preprocess_rgba(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
    ) -> Result<Vec<f32>, JsValue> {
        let img = preprocess::from_rgba(rgba, width, height).map_err(js_err)?;
        let x = preprocess::to_tensor(&img, &self.ex.borrow().model().sidecar).map_err(js_err)?;
        Ok(x.into_raw_vec_and_offset().0)
    }

    /// An input tensor from a `.npy` file (in the model's own layout: a channels-last model's
    /// `[1, H, W, C]` is transposed), checked against the model's input, flat NCHW. Throws `npy`,
    /// `limit`, `shape` (wrong shape) or `non-finite`.
    pub fn tensor_from_npy(&self, bytes: &[u8]) -> Result<Vec<f32>, JsValue> {
        let ex = self.ex.borrow();
        let model = ex.model();
        let x = model.to_nchw(npy::read_f32(bytes).map_err(js_err)?);
        model.check_input(&x).map_err(js_err)?;
        Ok(x.into_raw_vec_and_offset().0)
    }

    /// What to draw under a heatmap for an input tensor (flat NCHW), as H x W RGBA pixels: an
    /// image model's pixels with the normalisation undone, else the channel mean in gray.
    /// Throws `shape` for a tensor of the wrong size.
    pub fn tensor_view_rgba(&self, input: Vec<f32>) -> Result<Vec<u8>, JsValue> {
        let x = self.tensor(input)?;
        preprocess::tensor_view_rgba(&x, &self.ex.borrow().model().sidecar).map_err(js_err)
    }

    /// The resized and cropped image as H x W RGBA pixels (what the model sees), for drawing.
    /// Throws `image`, `limit` or `shape` (a tensor-only model).
    pub fn model_view_rgba(&self, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
        let img = preprocess::decode(bytes).map_err(js_err)?;
        let (px, w, h) =
            preprocess::resize_and_crop(&img, &self.ex.borrow().model().sidecar).map_err(js_err)?;
        let c = px.len() / (w as usize * h as usize);
        Ok(px
            .chunks_exact(c)
            .flat_map(|p| match c {
                1 => [p[0], p[0], p[0], 255],
                3 => [p[0], p[1], p[2], 255],
                _ => [p[0], p[1], p[2], p[3]],
            })
            .collect())
    }

    /// Class scores (before any final softmax) for a flat NCHW input tensor, one per class.
    /// Throws `shape` (wrong size), `non-finite` or `runtime`.
    pub fn logits(&self, input: Vec<f32>) -> Result<Vec<f32>, JsValue> {
        let x = self.tensor(input)?;
        self.ex.borrow().model().forward(&x).map_err(js_err)
    }

    /// Top-k prediction for a flat input tensor, as a JSON string: `{"top": [{"index",
    /// "label", "probability", "logit"}, ...]}`, `k` clamped to 1..=classes. Throws as
    /// `logits`.
    pub fn predict(&self, input: Vec<f32>, k: usize) -> Result<String, JsValue> {
        let x = self.tensor(input)?;
        let logits = self.ex.borrow().model().forward(&x).map_err(js_err)?;
        to_json(&Prediction::from_logits(
            &logits,
            k.min(self.ex.borrow().model().classes),
            |i| self.ex.borrow().model().sidecar.label(i),
        ))
    }

    /// A flat tensor of the input's shape as float32 `.npy` bytes, shaped `[1, C, H, W]` (for
    /// export). Throws `shape` for a tensor of the wrong size.
    pub fn input_npy(&self, input: Vec<f32>) -> Result<Vec<u8>, JsValue> {
        let x = self.tensor(input)?;
        npy::write_f32(&x).map_err(js_err)
    }

    /// Explains the input for a request (JSON: `method`, `target`, `steps`, `ig_rule`,
    /// `baseline` {kind: black|white|blurred|noise|constant|tensor}, `samples`, `noise`, `seed`,
    /// `layer`; LRP: `rules` [[layers, rule], ...], `composite`, `low`, `high`; `part` [k, n] for
    /// one shard of integrated gradients or SmoothGrad; see [`crate::request::Request`]).
    /// Plans are built on first use and cached in this object. Throws `shape` (input size),
    /// `parameter` (bad request, method, layer or class), `unsupported-operator` (an operator
    /// the method cannot go through), `non-finite` or `runtime`.
    pub fn explain(&mut self, input: Vec<f32>, request_json: &str) -> Result<Attribution, JsValue> {
        let mut s = crate::session::Session::new(self.ex.clone());
        s.set_input(self.tensor(input)?).map_err(js_err)?;
        let req = Request::from_json(request_json).map_err(js_err)?;
        s.explain(&req, &|| now_ms() / 1000.0)
            .map(Attribution::of)
            .map_err(js_err)
    }

    /// A deletion or insertion curve of an attribution (`shape`, flat `data`) for this input;
    /// `request_json` is a `crate::evaluate::CurveRequest` (kind, steps, baseline, score,
    /// target). Returns the curve as JSON (kind, fractions, scores, auc). Throws `parameter`,
    /// `shape`, `non-finite` or `runtime`.
    pub fn curve(
        &self,
        input: Vec<f32>,
        shape: Vec<usize>,
        data: &[f32],
        request_json: &str,
    ) -> Result<String, JsValue> {
        let x = self.tensor(input)?;
        let req = crate::evaluate::CurveRequest::from_json(request_json).map_err(js_err)?;
        let c = req
            .run(self.ex.borrow().model(), &x, &shape, data, &mut |_, _| {})
            .map_err(js_err)?;
        to_json(&c)
    }

    /// The cascading-randomisation sanity check of an explanation request for this input.
    /// `onnx` is this model's file again (the check rewrites its weights); at most `stages`
    /// stages after the original, new weights from `seed` (a `BigInt`). Throws `parameter`
    /// (bad request, stages outside 1..=the maximum, no weight layers) and what loading and
    /// explaining throw.
    pub fn sanity_check(
        &self,
        onnx: &[u8],
        input: Vec<f32>,
        request_json: &str,
        stages: usize,
        seed: u64,
    ) -> Result<SanityCheck, JsValue> {
        let x = self.tensor(input)?;
        let req = Request::from_json(request_json).map_err(js_err)?;
        let method = req
            .to_method(&x, &self.ex.borrow().model().sidecar)
            .map_err(js_err)?;
        let proto = Model::read_proto(onnx).map_err(js_err)?;
        let r = crate::evaluate::sanity::cascade(
            &proto,
            &self.ex.borrow().model().sidecar,
            &x,
            &method,
            req.target,
            stages,
            seed,
            &mut |_, _| {},
        )
        .map_err(js_err)?;
        let maps = r
            .stages
            .iter()
            .flat_map(|s| s.map.data.iter().copied())
            .collect();
        Ok(SanityCheck {
            meta: to_json(&r)?,
            maps,
        })
    }

    /// Any tensor as float32 `.npy` bytes (attribution export); throws `shape` when `data` does
    /// not hold `shape`'s product of values.
    pub fn npy(&self, shape: Vec<usize>, data: Vec<f32>) -> Result<Vec<u8>, JsValue> {
        let a = tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape, data)
            .map_err(|e| js_err(crate::err!(Shape, "{e}")))?;
        npy::write_f32(&a).map_err(js_err)
    }

    fn tensor(
        &self,
        input: Vec<f32>,
    ) -> Result<tract_onnx::prelude::tract_ndarray::ArrayD<f32>, JsValue> {
        let shape = self.ex.borrow().model().input_shape().to_vec();
        let n: usize = shape.iter().product();
        if input.len() != n {
            return Err(js_err(crate::err!(
                Shape,
                "wrong input size: the model takes {shape:?} ({n} values), got {} values",
                input.len()
            )));
        }
        let x = tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape, input)
            .map_err(|e| js_err(crate::err!(Shape, "{e}")))?;
        Ok(x)
    }
}

/// A rendered heatmap: `rgba()` pixels and `meta()` JSON (`vmin`, `vmax`, `colormap`, size).
#[wasm_bindgen]
pub struct RenderedHeatmap {
    rgba: Vec<u8>,
    meta: String,
}

#[wasm_bindgen]
impl RenderedHeatmap {
    /// The pixels, `height * width * 4` bytes row by row, alpha 255 (`Uint8Array`, a copy).
    pub fn rgba(&self) -> Vec<u8> {
        self.rgba.clone()
    }
    /// `{"width", "height", "vmin", "vmax", "colormap"}` as a JSON string: the values at the
    /// colormap's ends, for the legend.
    pub fn meta(&self) -> String {
        self.meta.clone()
    }
}

/// Reduces, upsamples to `height` x `width`, clips and colours an attribution of the given
/// shape. `display_json` is a `render::Display` (reduce, sign, outlier_percent, upsample, colormap).
/// Throws `parameter` (bad settings, a size outside 1..=4096), `shape` or `non-finite`.
#[wasm_bindgen]
pub fn render_heatmap(
    shape: Vec<usize>,
    data: &[f32],
    height: usize,
    width: usize,
    display_json: &str,
) -> Result<RenderedHeatmap, JsValue> {
    init();
    let display: crate::render::Display = serde_json::from_str(display_json)
        .map_err(|e| js_err(crate::err!(Parameter, "bad display settings: {e}")))?;
    let h = crate::render::render(&shape, data, height, width, &display).map_err(js_err)?;
    let meta = to_json(&h)?;
    Ok(RenderedHeatmap { rgba: h.rgba, meta })
}

/// `n` colours of a colormap (its kebab-case name, e.g. `inferno`) as RGBA, from its low end
/// to its high end (a legend strip); `n` is clamped to 2..=4096. Throws `parameter` for an
/// unknown name.
#[wasm_bindgen]
pub fn colormap_strip(name: &str, n: usize) -> Result<Vec<u8>, JsValue> {
    init();
    let cmap: crate::render::Colormap =
        serde_json::from_value(serde_json::Value::String(name.into()))
            .map_err(|_| js_err(crate::err!(Parameter, "unknown colormap '{name}'")))?;
    let n = n.clamp(2, 4096);
    Ok((0..n)
        .flat_map(|i| {
            let [r, g, b] = cmap.at(i as f32 / (n - 1) as f32);
            [r, g, b, 255]
        })
        .collect())
}

/// The files (names relative to the model's folder) that hold the model's external tensors,
/// as today's default PyTorch export writes them (`m.onnx` + `m.onnx.data`); empty when the
/// model is self-contained. Throws `corrupt-model` or `limit`.
#[wasm_bindgen]
pub fn external_data_files(onnx: &[u8]) -> Result<Vec<String>, JsValue> {
    init();
    Model::read_proto(onnx)
        .and_then(|p| crate::load::external::locations(&p))
        .map_err(js_err)
}

/// The model with its external tensors copied in, as one ONNX file: `files[i]` holds the bytes
/// of the file named `names[i]` (as [`external_data_files`] lists them). Throws `io` when a
/// named file is missing, `corrupt-model` or `limit`.
#[wasm_bindgen]
pub fn self_contained(
    onnx: &[u8],
    names: Vec<String>,
    files: Vec<js_sys::Uint8Array>,
) -> Result<Vec<u8>, JsValue> {
    init();
    let files: Vec<Vec<u8>> = files.iter().map(|f| f.to_vec()).collect();
    Model::read_proto_with(onnx, &|n| {
        names.iter().position(|m| m == n).map(|i| &files[i][..])
    })
    .map(|p| crate::load::external::self_contained(&p))
    .map_err(js_err)
}

/// A float32 (or float64, converted) `.npy` file's values, flat (its shape must be known to
/// the caller). Throws `npy` or `limit`.
#[wasm_bindgen]
pub fn read_npy(bytes: &[u8]) -> Result<Vec<f32>, JsValue> {
    init();
    npy::read_f32(bytes)
        .map(|a| a.into_raw_vec_and_offset().0)
        .map_err(js_err)
}

/// The CAM paper's box and the pointing game for an attribution drawn at `height` x `width`;
/// `request_json` is a `crate::evaluate::LocalizeRequest` (threshold, truth, tolerance).
/// Returns JSON: `bbox`, `threshold`, `component_pixels`, `pointing`, `iou`. Throws
/// `parameter` (bad request, a size outside 1..=4096) or `shape`.
#[wasm_bindgen]
pub fn localize(
    shape: Vec<usize>,
    data: &[f32],
    height: usize,
    width: usize,
    request_json: &str,
) -> Result<String, JsValue> {
    init();
    let req = crate::evaluate::LocalizeRequest::from_json(request_json).map_err(js_err)?;
    to_json(&req.run(&shape, data, height, width).map_err(js_err)?)
}

/// The methods' description (`saliency::catalog`) as JSON: ids, labels, parameters with their
/// types, defaults, ranges and options, LRP's rules, colormaps. The viewer builds its controls
/// from it; it is the same for every model, and needs none loaded.
#[wasm_bindgen]
pub fn catalog() -> Result<String, JsValue> {
    to_json(&crate::catalog::catalog())
}

/// One view's state in the worker (`crate::session::Session`): a model shared with other
/// sessions, the current input and its recent attributions by key. Tensors stay here; JS gets
/// RGBA pixels to draw, `.npy` bytes to save, and JSON reports. `new Session(model)`; free with
/// `.free()` (the model stays usable).
#[wasm_bindgen]
pub struct Session {
    s: crate::session::Session,
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, JsValue> {
    serde_json::from_str(json).map_err(|e| js_err(crate::err!(Parameter, "bad {what}: {e}")))
}

#[wasm_bindgen]
impl Session {
    /// A session on `model`, with no input.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &SaliencyModel) -> Session {
        Session {
            s: crate::session::Session::new(model.ex.clone()),
        }
    }

    /// Sets the input from PNG/JPEG bytes (preprocessed as the sidecar says) or a `.npy`
    /// tensor (by its magic bytes), dropping the previous input's attributions. Throws `image`,
    /// `npy`, `limit`, `shape` or `non-finite`.
    pub fn set_input(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        let x = if bytes.starts_with(b"\x93NUMPY") {
            let x = npy::read_f32(bytes).map_err(js_err)?;
            self.s.with_model(|m| m.to_nchw(x))
        } else {
            self.s
                .with_model(|m| preprocess::image_bytes_to_tensor(bytes, &m.sidecar))
                .map_err(js_err)?
        };
        self.s.set_input(x).map_err(js_err)
    }

    /// Sets the input from a flat NCHW float32 tensor of the input's size.
    pub fn set_tensor(&mut self, input: Vec<f32>) -> Result<(), JsValue> {
        let shape = self.s.with_model(|m| m.input_shape().to_vec());
        let x = tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape.clone(), input)
            .map_err(|_| {
                js_err(crate::err!(
                    Shape,
                    "wrong input size: the model takes {shape:?}"
                ))
            })?;
        self.s.set_input(x).map_err(js_err)
    }

    /// The current input, flat NCHW (`Float32Array`, a copy). Throws `parameter` before one.
    pub fn input(&self) -> Result<Vec<f32>, JsValue> {
        Ok(self.s.input().map_err(js_err)?.iter().copied().collect())
    }

    /// The current input as H x W RGBA pixels (the normalisation undone; gray for tensors).
    pub fn input_rgba(&self) -> Result<Vec<u8>, JsValue> {
        let x = self.s.input().map_err(js_err)?;
        self.s
            .with_model(|m| preprocess::tensor_view_rgba(x, &m.sidecar))
            .map_err(js_err)
    }

    /// The current input as float32 `.npy` bytes.
    pub fn input_npy(&self) -> Result<Vec<u8>, JsValue> {
        npy::write_f32(self.s.input().map_err(js_err)?).map_err(js_err)
    }

    /// The current input's class scores (before any final softmax).
    pub fn logits(&self) -> Result<Vec<f32>, JsValue> {
        let x = self.s.input().map_err(js_err)?;
        self.s.with_model(|m| m.forward(x)).map_err(js_err)
    }

    /// The current input's top-`k` classes as JSON (`{"top": [...]}`).
    pub fn predict(&self, k: usize) -> Result<String, JsValue> {
        to_json(&self.s.predict(k).map_err(js_err)?)
    }

    /// Explains the current input (a request as JSON, see [`SaliencyModel::explain`]) and
    /// keeps the attribution under `key`; returns its meta JSON.
    pub fn explain(&mut self, key: &str, request_json: &str) -> Result<String, JsValue> {
        let req = Request::from_json(request_json).map_err(js_err)?;
        let k = self
            .s
            .explain(&req, &|| now_ms() / 1000.0)
            .map_err(js_err)?;
        let meta = k.meta.to_string();
        self.s.keep(key, k);
        Ok(meta)
    }

    /// Explains the current input without keeping anything (a shard of a parallel run).
    pub fn explain_values(&self, request_json: &str) -> Result<Attribution, JsValue> {
        let req = Request::from_json(request_json).map_err(js_err)?;
        self.s
            .explain(&req, &|| now_ms() / 1000.0)
            .map(Attribution::of)
            .map_err(js_err)
    }

    /// The shape of the attribution kept under `key` (`Uint32Array`), without copying it.
    pub fn shape(&self, key: &str) -> Result<Vec<usize>, JsValue> {
        self.s
            .get(key)
            .map(|k| k.attribution.shape().to_vec())
            .map_err(js_err)
    }

    /// The attribution kept under `key`, its values copied out (for the JS API and exports).
    pub fn attribution(&self, key: &str) -> Result<Attribution, JsValue> {
        self.s
            .get(key)
            .cloned()
            .map(Attribution::of)
            .map_err(js_err)
    }

    /// Keeps an attribution computed elsewhere (the sum of a parallel run's shards) under `key`.
    pub fn keep(
        &mut self,
        key: &str,
        shape: Vec<usize>,
        data: Vec<f32>,
        meta_json: &str,
    ) -> Result<(), JsValue> {
        let attribution = tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape, data)
            .map_err(|e| js_err(crate::err!(Shape, "{e}")))?;
        let meta: serde_json::Value = parse("attribution meta", meta_json)?;
        self.s.keep(
            key,
            crate::session::Kept {
                attribution,
                meta,
                channels: vec![],
            },
        );
        Ok(())
    }

    /// Drops the attribution kept under `key`.
    pub fn forget(&mut self, key: &str) {
        self.s.forget(key);
    }

    /// Draws the attribution kept under `key` at `height` x `width` with display settings
    /// (`render::Display` JSON). Throws `parameter` (bad settings, size, or nothing kept),
    /// `shape` or `non-finite`.
    pub fn render(
        &self,
        key: &str,
        display_json: &str,
        height: usize,
        width: usize,
    ) -> Result<RenderedHeatmap, JsValue> {
        let display: crate::render::Display = parse("display settings", display_json)?;
        let h = self
            .s
            .render(key, &display, height, width)
            .map_err(js_err)?;
        let meta = to_json(&h)?;
        Ok(RenderedHeatmap { rgba: h.rgba, meta })
    }

    /// A deletion or insertion curve (`crate::evaluate::CurveRequest` JSON) of the attribution
    /// kept under `key`, as JSON.
    pub fn curve(&self, key: &str, request_json: &str) -> Result<String, JsValue> {
        let req = crate::evaluate::CurveRequest::from_json(request_json).map_err(js_err)?;
        to_json(&self.s.curve(key, &req, &mut |_, _| {}).map_err(js_err)?)
    }

    /// The CAM paper's box and the pointing game (`crate::evaluate::LocalizeRequest` JSON) of
    /// the attribution kept under `key`, drawn at the input's size; as JSON.
    pub fn localize(&self, key: &str, request_json: &str) -> Result<String, JsValue> {
        let req = crate::evaluate::LocalizeRequest::from_json(request_json).map_err(js_err)?;
        let (h, w) = self
            .s
            .with_model(|m| (m.input_shape()[2], m.input_shape()[3]));
        to_json(&self.s.localize(key, &req, h, w).map_err(js_err)?)
    }

    /// The attribution kept under `key` as float32 `.npy` bytes.
    pub fn npy(&self, key: &str) -> Result<Vec<u8>, JsValue> {
        npy::write_f32(&self.s.get(key).map_err(js_err)?.attribution).map_err(js_err)
    }

    /// The cascading-randomisation sanity check of a request on the current input; `onnx` is
    /// the model's file (the check rewrites its weights). See [`SaliencyModel::sanity_check`].
    pub fn sanity_check(
        &self,
        onnx: &[u8],
        request_json: &str,
        stages: usize,
        seed: u64,
    ) -> Result<SanityCheck, JsValue> {
        let x: Vec<f32> = self.s.input().map_err(js_err)?.iter().copied().collect();
        SaliencyModel {
            ex: self.s.shared(),
        }
        .sanity_check(onnx, x, request_json, stages, seed)
    }
}
