//! A loaded ONNX classifier ([`crate::load`] makes it), and its forward pass.
//!
//! A [`Model`] keeps three views of one network:
//! - the ONNX node list (names, operator types, tensor names) for `info` and layer numbering;
//! - the decluttered `TypedModel`, which the explanation engine walks;
//! - an optimized, cached plan for fast forward passes.

use crate::err;
use crate::error::{Error, ErrorKind, Result};
use crate::sidecar::{Layout, Sidecar};
use std::collections::HashMap;
use std::sync::Arc;
use tract_onnx::prelude::*;

/// One node of the ONNX graph, in file order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OnnxNode {
    /// Position in the ONNX file's node list, from 0.
    pub index: usize,
    /// The node's ONNX name, or its first output's name when the file gives none.
    pub name: String,
    /// The ONNX operator, e.g. `Conv`.
    pub op_type: String,
    /// The ONNX names of its input tensors (weights included), in order.
    pub inputs: Vec<String>,
    /// The ONNX names of its output tensors, in order.
    pub outputs: Vec<String>,
}

/// A loaded, checked ONNX image classifier with one `[1, C, H, W]` input and one score per
/// class, ready to run (made by [`Model::load`] and its siblings in [`crate::load`]).
pub struct Model {
    /// The sidecar: given with the model, or [`Sidecar::default_for`] of its input.
    pub sidecar: Sidecar,
    /// Whether the sidecar came with the model or was derived from its input.
    pub sidecar_given: bool,
    /// The ONNX graph's nodes, in file order.
    pub nodes: Vec<OnnxNode>,
    /// Names of the ONNX initializers (weights).
    pub initializers: Vec<String>,
    /// The ONNX name of the one input tensor that is not an initializer.
    pub input_name: String,
    /// The tensor whose values are the class scores (before any final Softmax).
    pub logits_name: String,
    /// The operator (`Softmax` or `LogSoftmax`) of the final node that was cut off, if any.
    pub final_softmax: Option<String>,
    /// Concrete shape of every ONNX tensor tract could type.
    pub shapes: HashMap<String, Vec<usize>>,
    /// The decluttered typed graph (input fact fixed to the sidecar shape).
    pub typed: TypedModel,
    pub(crate) plan: Arc<TypedSimplePlan>,
    /// The number of class scores (the output's element count, at least 2).
    pub classes: usize,
    /// The values all computed tensors hold for one input (before simplification): what
    /// bounds memory ([`crate::load::limits::MAX_ACTIVATION_ELEMENTS`], [`crate::load::limits::memory_mib`]).
    pub activation_values: usize,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Model({:?}, {} nodes)",
            self.sidecar.name,
            self.nodes.len()
        )
    }
}

impl Model {
    /// The input tensor's shape, `[1, C, H, W]` whatever the model's layout (the sidecar's
    /// `input.shape`).
    pub fn input_shape(&self) -> &[usize] {
        &self.sidecar.input.shape
    }

    /// A tensor given in the model's own layout as `[1, C, H, W]`: a channels-last model's
    /// `[1, H, W, C]` input is transposed; anything else is returned as it is (and checked by
    /// [`Model::check_input`]).
    pub fn to_nchw(&self, x: tract_ndarray::ArrayD<f32>) -> tract_ndarray::ArrayD<f32> {
        let input = &self.sidecar.input;
        if input.layout == Layout::Nhwc
            && x.shape() == input.layout.model_shape(&input.shape).as_slice()
            && x.shape() != input.shape.as_slice()
        {
            x.permuted_axes(vec![0, 3, 1, 2])
                .as_standard_layout()
                .into_owned()
        } else {
            x
        }
    }

    /// Checks that `x` has the model's input shape and finite values.
    pub fn check_input(&self, x: &tract_ndarray::ArrayD<f32>) -> Result<()> {
        if x.shape() != self.input_shape() {
            return Err(err!(
                Shape,
                "wrong input shape: the model takes {:?}, got {:?}",
                self.input_shape(),
                x.shape()
            ));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(err!(NonFinite, "input contains NaN or infinite values"));
        }
        Ok(())
    }

    /// The class scores (logits) for one input tensor.
    pub fn forward(&self, x: &tract_ndarray::ArrayD<f32>) -> Result<Vec<f32>> {
        self.check_input(x)?;
        let t: Tensor = x.clone().into();
        let out = self
            .plan
            .run(tvec!(t.into_tvalue()))
            .map_err(|e| Error::tract(ErrorKind::Runtime, "forward pass failed", e))?;
        let v = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| Error::tract(ErrorKind::Runtime, "forward pass output", e))?;
        let logits: Vec<f32> = v.iter().copied().collect();
        if logits.iter().any(|v| !v.is_finite()) {
            return Err(err!(NonFinite, "the model produced NaN or infinite scores"));
        }
        Ok(logits)
    }

    /// Top-k classes with softmax probabilities.
    pub fn predict(&self, x: &tract_ndarray::ArrayD<f32>, k: usize) -> Result<Prediction> {
        let logits = self.forward(x)?;
        Ok(Prediction::from_logits(&logits, k, |i| {
            self.sidecar.label(i)
        }))
    }
}

/// One class of a prediction (JSON: an entry of `top`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClassScore {
    /// The class index, from 0.
    pub index: usize,
    /// The class label (the sidecar's, or `class i`).
    pub label: String,
    /// Softmax of the logits, in [0, 1].
    pub probability: f32,
    /// The class score before softmax.
    pub logit: f32,
}

/// The top classes for one input (`saliency predict`'s `top`, the JS `predict()` JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Prediction {
    /// The classes by decreasing logit (ties: lower index first).
    pub top: Vec<ClassScore>,
}

impl Prediction {
    /// The `k` (at least 1) highest of `logits`, with softmax probabilities and `label(i)` as
    /// each class's label.
    pub fn from_logits(logits: &[f32], k: usize, label: impl Fn(usize) -> String) -> Prediction {
        let p = softmax(logits);
        let mut idx: Vec<usize> = (0..logits.len()).collect();
        idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        let top = idx
            .into_iter()
            .take(k.max(1))
            .map(|i| ClassScore {
                index: i,
                label: label(i),
                probability: p[i],
                logit: logits[i],
            })
            .collect();
        Prediction { top }
    }
}

/// Softmax of `v` (max-shifted, summed in f64).
pub(crate) fn softmax(v: &[f32]) -> Vec<f32> {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = v.iter().map(|&x| ((x - m) as f64).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|&x| (x / s) as f32).collect()
}
