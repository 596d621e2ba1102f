//! The wasm-bindgen shell: converts types and turns every core error into a JS exception
//! (`Error` with the core's message and `name` = the error kind). No logic lives here.

use crate::{info, npy, preprocess, Error, Model, Prediction};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

fn js_err(e: Error) -> JsValue {
    let err = js_sys::Error::new(e.message());
    err.set_name(e.kind.name());
    err.into()
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, JsValue> {
    serde_json::to_string(v).map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))
}

/// A loaded model. Construct with `new SaliencyModel(onnxBytes, sidecarJsonOrNull)`.
#[wasm_bindgen]
pub struct SaliencyModel {
    model: Model,
}

#[wasm_bindgen]
impl SaliencyModel {
    #[wasm_bindgen(constructor)]
    pub fn new(onnx: &[u8], sidecar_json: Option<String>) -> Result<SaliencyModel, JsValue> {
        Model::load(onnx, sidecar_json.as_deref()).map(|model| SaliencyModel { model }).map_err(js_err)
    }

    /// The model description (`saliency info --json`), as a JSON string.
    pub fn info(&self) -> Result<String, JsValue> {
        to_json(&info::describe(&self.model))
    }

    /// Preprocesses image bytes (PNG/JPEG) into the input tensor (flat NCHW float32).
    pub fn preprocess_image(&self, bytes: &[u8]) -> Result<Vec<f32>, JsValue> {
        let x = preprocess::image_bytes_to_tensor(bytes, &self.model.sidecar).map_err(js_err)?;
        Ok(x.into_raw_vec_and_offset().0)
    }

    /// Preprocesses canvas RGBA pixels into the input tensor.
    pub fn preprocess_rgba(&self, rgba: Vec<u8>, width: u32, height: u32) -> Result<Vec<f32>, JsValue> {
        let img = preprocess::from_rgba(rgba, width, height).map_err(js_err)?;
        let x = preprocess::to_tensor(&img, &self.model.sidecar).map_err(js_err)?;
        Ok(x.into_raw_vec_and_offset().0)
    }

    /// The resized and cropped image as RGBA (what the model sees), for drawing.
    pub fn model_view_rgba(&self, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
        let img = preprocess::decode(bytes).map_err(js_err)?;
        let (px, _, _) = preprocess::resize_and_crop(&img, &self.model.sidecar);
        let c = self.model.sidecar.input.color.channels();
        Ok(px.chunks_exact(c).flat_map(|p| if c == 1 { [p[0], p[0], p[0], 255] } else { [p[0], p[1], p[2], 255] }).collect())
    }

    /// Class scores (before any final softmax) for a flat NCHW input tensor.
    pub fn logits(&self, input: Vec<f32>) -> Result<Vec<f32>, JsValue> {
        let x = self.tensor(input)?;
        self.model.forward(&x).map_err(js_err)
    }

    /// Top-k prediction for a flat input tensor, as a JSON string.
    pub fn predict(&self, input: Vec<f32>, k: usize) -> Result<String, JsValue> {
        let x = self.tensor(input)?;
        let logits = self.model.forward(&x).map_err(js_err)?;
        to_json(&Prediction::from_logits(&logits, k.min(self.model.classes), |i| self.model.sidecar.label(i)))
    }

    /// A flat tensor of the input's shape as `.npy` bytes (for export).
    pub fn input_npy(&self, input: Vec<f32>) -> Result<Vec<u8>, JsValue> {
        let x = self.tensor(input)?;
        npy::write_f32(&x).map_err(js_err)
    }

    fn tensor(&self, input: Vec<f32>) -> Result<tract_onnx::prelude::tract_ndarray::ArrayD<f32>, JsValue> {
        let shape = self.model.input_shape().to_vec();
        let n: usize = shape.iter().product();
        if input.len() != n {
            return Err(js_err(crate::err!(Shape, "wrong input size: the model takes {shape:?} ({n} values), got {} values", input.len())));
        }
        let x = tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape, input).map_err(|e| js_err(crate::err!(Shape, "{e}")))?;
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
    pub fn rgba(&self) -> Vec<u8> {
        self.rgba.clone()
    }
    pub fn meta(&self) -> String {
        self.meta.clone()
    }
}

/// Reduces, upsamples to `height` x `width`, clips and colours an attribution of the given
/// shape. `display_json` is a `render::Display` (reduce, sign, outlier_percent, upsample, colormap).
#[wasm_bindgen]
pub fn render_heatmap(shape: Vec<usize>, data: &[f32], height: usize, width: usize, display_json: &str) -> Result<RenderedHeatmap, JsValue> {
    let display: crate::render::Display =
        serde_json::from_str(display_json).map_err(|e| js_err(crate::err!(Parameter, "bad display settings: {e}")))?;
    if height == 0 || width == 0 || height > 4096 || width > 4096 {
        return Err(js_err(crate::err!(Parameter, "heatmap size {height}x{width} must be 1..=4096 on each side")));
    }
    let h = crate::render::render(&shape, data, height, width, &display).map_err(js_err)?;
    let meta = to_json(&h)?;
    Ok(RenderedHeatmap { rgba: h.rgba, meta })
}

/// `n` colours of a colormap as RGBA (a legend strip).
#[wasm_bindgen]
pub fn colormap_strip(name: &str, n: usize) -> Result<Vec<u8>, JsValue> {
    let cmap: crate::render::Colormap =
        serde_json::from_value(serde_json::Value::String(name.into())).map_err(|_| js_err(crate::err!(Parameter, "unknown colormap '{name}'")))?;
    let n = n.clamp(2, 4096);
    Ok((0..n).flat_map(|i| {
        let [r, g, b] = cmap.at(i as f32 / (n - 1) as f32);
        [r, g, b, 255]
    }).collect())
}
