//! The JSON file that travels with each model: input shape, preprocessing, labels, provenance.
//! A model dropped without one gets [`Sidecar::default_for`] (values 0..1, no normalisation).

use crate::err;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// What an image becomes in the input tensor. Images map onto 1, 3 or 4 channels; a model
/// with any other number of channels (two-channel, multispectral) takes tensors only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// One channel: the image's luma (JSON `gray`).
    Gray,
    /// Three channels: red, green, blue (JSON `rgb`).
    Rgb,
    /// Four channels: red, green, blue, alpha (JSON `rgba`).
    Rgba,
    /// No image mapping: inputs are tensors (`.npy`, a JS `Float32Array`).
    Tensor,
}

impl Color {
    /// The channels an image is mapped onto; `None` for [`Color::Tensor`].
    pub fn channels(self) -> Option<usize> {
        match self {
            Color::Gray => Some(1),
            Color::Rgb => Some(3),
            Color::Rgba => Some(4),
            Color::Tensor => None,
        }
    }

    /// The image mapping for a model input with `c` channels.
    pub fn for_channels(c: usize) -> Color {
        match c {
            1 => Color::Gray,
            3 => Color::Rgb,
            4 => Color::Rgba,
            _ => Color::Tensor,
        }
    }
}

/// How the model lays out its input. `input.shape` is always `[1, C, H, W]`; a channels-last
/// model (Keras, tf2onnx, a `permute` at the input) takes the same values as `[1, H, W, C]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Channels first, `[1, C, H, W]` (JSON `nchw`; the default).
    #[default]
    Nchw,
    /// Channels last, `[1, H, W, C]` (JSON `nhwc`).
    Nhwc,
}

impl Layout {
    /// The model's own shape for an `[1, C, H, W]` input.
    pub fn model_shape(self, nchw: &[usize]) -> Vec<usize> {
        match self {
            Layout::Nchw => nchw.to_vec(),
            Layout::Nhwc => vec![nchw[0], nchw[2], nchw[3], nchw[1]],
        }
    }

    /// `[1, C, H, W]` for the model's own input shape.
    pub fn nchw_shape(self, model: &[usize]) -> Vec<usize> {
        match self {
            Layout::Nchw => model.to_vec(),
            Layout::Nhwc => vec![model[0], model[3], model[1], model[2]],
        }
    }
}

/// The sidecar's `input` block: the model's input tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// `[1, C, H, W]`, whatever the model's layout.
    pub shape: Vec<usize>,
    /// What an image becomes in it; its channel count must be `C` (any `C` for `tensor`).
    pub color: Color,
    /// How the model lays the tensor out (JSON optional, default `nchw`).
    #[serde(default)]
    pub layout: Layout,
}

/// The sidecar's `preprocess` block: how an image becomes the input tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// The shorter image side is resized (bilinear) to this many pixels.
    pub resize: u32,
    /// Then the centre `[h, w]` is cropped (must equal the input's `[H, W]`).
    pub crop: [u32; 2],
    /// Then `x = (pixel / 255 - mean[c]) / std[c]`: 1 value (every channel) or `C` values,
    /// finite.
    pub mean: Vec<f32>,
    /// The divisors of that formula: 1 or `C` values, finite and positive.
    pub std: Vec<f32>,
}

/// One recorded prediction (an entry of the sidecar's `spot_checks`): provenance only, the core
/// does not check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotCheck {
    /// The image's path, relative to the sidecar's folder.
    pub image: String,
    /// The label of the top class the model gave it.
    pub top1: String,
}

/// A model's sidecar JSON; fields with defaults may be left out, unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// A short identifier, e.g. `mnist_cam` (default empty).
    #[serde(default)]
    pub name: String,
    /// A human-readable title (default empty).
    #[serde(default)]
    pub title: String,
    /// The model file's name, relative to the sidecar's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The model file's SHA-256, in hex (recorded, not checked by the core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The input tensor (required).
    pub input: InputSpec,
    /// The image preprocessing (required).
    pub preprocess: Preprocess,
    /// One label per class, in output order (default none: `class i`); when given, exactly as
    /// many as the model has classes.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The image the viewer opens the model with, relative to the sidecar's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_image: Option<String>,
    /// Free-form provenance (package, version, script, notes), kept as JSON.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub source: serde_json::Value,
    /// The model's licence, e.g. `MIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The measured accuracy (`top1`, `split`, `n`), kept as JSON.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub accuracy: serde_json::Value,
    /// Predictions recorded for sample images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spot_checks: Vec<SpotCheck>,
}

/// Most channels a model input may have (multispectral nets have tens).
pub const MAX_CHANNELS: usize = 1024;

/// Largest input side we accept for a model input (pixels).
pub const MAX_INPUT_SIDE: usize = 4096;

impl Sidecar {
    /// Parses and validates a sidecar's JSON (a `Sidecar` error if it is malformed or fails
    /// [`Sidecar::validate`]).
    pub fn from_json(text: &str) -> Result<Sidecar> {
        let s: Sidecar =
            serde_json::from_str(text).map_err(|e| err!(Sidecar, "invalid sidecar JSON: {e}"))?;
        s.validate()?;
        Ok(s)
    }

    /// The sidecar assumed when a model comes without one: the model's own input shape,
    /// pixel values scaled to 0..1 and no normalisation.
    pub fn default_for(shape: &[usize]) -> Result<Sidecar> {
        if shape.len() != 4 {
            return Err(err!(
                Shape,
                "model input has rank {} ({shape:?}); an image classifier takes [1, C, H, W]",
                shape.len()
            ));
        }
        let color = Color::for_channels(shape[1]);
        let (h, w) = (shape[2], shape[3]);
        let s = Sidecar {
            name: String::new(),
            title: String::new(),
            file: None,
            sha256: None,
            input: InputSpec {
                shape: shape.to_vec(),
                color,
                layout: Layout::Nchw,
            },
            preprocess: Preprocess {
                resize: h.min(w) as u32,
                crop: [h as u32, w as u32],
                mean: vec![0.0],
                std: vec![1.0],
            },
            labels: vec![],
            default_image: None,
            source: serde_json::Value::Null,
            license: None,
            accuracy: serde_json::Value::Null,
            spot_checks: vec![],
        };
        s.validate()?;
        Ok(s)
    }

    /// Checks the sidecar on its own (a `Sidecar` error): `input.shape` is `[1, C, H, W]` with
    /// `C` in 1..=[`MAX_CHANNELS`] and `H`, `W` in 1..=[`MAX_INPUT_SIDE`], `color` has `C`
    /// channels (or is `tensor`), `crop` is `[H, W]`, `resize` at least `min(H, W)` (and at most
    /// 4 * [`MAX_INPUT_SIDE`]), `mean` and `std` have 1 or `C` finite values, `std` positive.
    pub fn validate(&self) -> Result<()> {
        let shape = &self.input.shape;
        if shape.len() != 4 || shape[0] != 1 {
            return Err(err!(
                Sidecar,
                "sidecar input.shape must be [1, C, H, W], got {shape:?}"
            ));
        }
        if shape[1] == 0 || shape[1] > MAX_CHANNELS {
            return Err(err!(
                Sidecar,
                "sidecar input.shape {shape:?}: channels must be 1..={MAX_CHANNELS}"
            ));
        }
        if self.input.color.channels().is_some_and(|c| c != shape[1]) {
            return Err(err!(
                Sidecar,
                "sidecar input.shape {shape:?} has {} channels but color is {:?}",
                shape[1],
                self.input.color
            ));
        }
        if shape[2] == 0 || shape[3] == 0 || shape[2] > MAX_INPUT_SIDE || shape[3] > MAX_INPUT_SIDE
        {
            return Err(err!(
                Sidecar,
                "sidecar input.shape {shape:?}: height and width must be 1..={MAX_INPUT_SIDE}"
            ));
        }
        let p = &self.preprocess;
        if p.crop != [shape[2] as u32, shape[3] as u32] {
            return Err(err!(
                Sidecar,
                "sidecar preprocess.crop {:?} must equal the input's [H, W] [{}, {}]",
                p.crop,
                shape[2],
                shape[3]
            ));
        }
        if (p.resize as usize) < shape[2].min(shape[3]) || p.resize as usize > 4 * MAX_INPUT_SIDE {
            return Err(err!(
                Sidecar,
                "sidecar preprocess.resize {} must be at least the crop's shorter side {}",
                p.resize,
                shape[2].min(shape[3])
            ));
        }
        for (what, v) in [("mean", &p.mean), ("std", &p.std)] {
            if v.len() != 1 && v.len() != shape[1] {
                return Err(err!(
                    Sidecar,
                    "sidecar preprocess.{what} needs 1 or {} values, got {}",
                    shape[1],
                    v.len()
                ));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(err!(
                    Sidecar,
                    "sidecar preprocess.{what} has a non-finite value"
                ));
            }
        }
        if p.std.iter().any(|&s| s <= 0.0) {
            return Err(err!(Sidecar, "sidecar preprocess.std must be positive"));
        }
        Ok(())
    }

    /// The normalisation mean of channel `c` (the one value when `mean` has one).
    pub fn mean(&self, c: usize) -> f32 {
        self.preprocess.mean[if self.preprocess.mean.len() == 1 {
            0
        } else {
            c
        }]
    }

    /// The normalisation divisor of channel `c` (the one value when `std` has one).
    pub fn std(&self, c: usize) -> f32 {
        self.preprocess.std[if self.preprocess.std.len() == 1 { 0 } else { c }]
    }

    /// The label of class `i`, or `class i` when the sidecar has none.
    pub fn label(&self, i: usize) -> String {
        self.labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("class {i}"))
    }
}
