//! A session: one view's model (shared with other sessions on the same model), its current
//! input and its recent attributions, kept by key. The wasm shell's `Session` wraps it, so the
//! browser's worker only dispatches: the tensors stay here, and cross into JS only to be drawn
//! (RGBA pixels) or saved (`.npy`), or when a page asks for the values themselves.

use crate::array::Array;
use crate::err;
use crate::error::Result;
use crate::evaluate::{curves::Curve, CurveRequest, LocalizeReport, LocalizeRequest};
use crate::methods::Explainer;
use crate::model::{Model, Prediction};
use crate::render::{Display, Heatmap};
use crate::request::Request;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A model with its cached explanation plans, shareable between sessions (one thread).
pub type SharedModel = Rc<RefCell<Explainer>>;

/// One kept attribution.
#[derive(Debug, Clone)]
pub struct Kept {
    /// The attribution: the input's shape, or `[h, w]` for CAM and Grad-CAM.
    pub attribution: Array,
    /// What the explanation reports: `method`, `target`, `label`, `score`, `seconds`,
    /// `plan_seconds`, `completeness_gap`, `score_delta`, `lrp`, `channels` (docs/conventions.md).
    pub meta: Value,
    /// CAM / Grad-CAM: the layer's activations `[C, h, w]`, flat (`meta.channels` has their
    /// weights and shape); empty otherwise.
    pub channels: Vec<f32>,
}

/// Most attributions a session keeps (the oldest goes first): a comparison grid's panels and
/// the main view.
pub const MAX_KEPT: usize = 64;

/// One view's model, input and attributions.
pub struct Session {
    model: SharedModel,
    input: Option<Array>,
    kept: HashMap<String, Kept>,
    order: Vec<String>,
}

impl Session {
    /// A session on `model`, with no input yet.
    pub fn new(model: SharedModel) -> Session {
        Session {
            model,
            input: None,
            kept: HashMap::new(),
            order: vec![],
        }
    }

    /// The shared model.
    pub fn shared(&self) -> SharedModel {
        self.model.clone()
    }

    /// Runs `f` on the model.
    pub fn with_model<R>(&self, f: impl FnOnce(&Model) -> R) -> R {
        f(self.model.borrow().model())
    }

    /// Sets the input (`[1, C, H, W]`, checked against the model): the kept attributions,
    /// which belong to the previous input, are dropped.
    pub fn set_input(&mut self, x: Array) -> Result<()> {
        self.with_model(|m| m.check_input(&x))?;
        self.input = Some(x);
        self.kept.clear();
        self.order.clear();
        Ok(())
    }

    /// The current input; a `Parameter` error before one is given.
    pub fn input(&self) -> Result<&Array> {
        self.input
            .as_ref()
            .ok_or_else(|| err!(Parameter, "no input has been given yet"))
    }

    /// The top-`k` classes of the current input.
    pub fn predict(&self, k: usize) -> Result<Prediction> {
        let x = self.input()?;
        self.with_model(|m| {
            let logits = m.forward(x)?;
            Ok(Prediction::from_logits(
                &logits,
                k.clamp(1, m.classes),
                |i| m.sidecar.label(i),
            ))
        })
    }

    /// Explains the current input for a request; `now` reads a clock in seconds (the
    /// browser's or the system's). The attribution is returned, not kept ([`Session::keep`]).
    pub fn explain(&self, req: &Request, now: &dyn Fn() -> f64) -> Result<Kept> {
        let x = self.input()?;
        let mut ex = self.model.borrow_mut();
        let method = req.to_method(x, &ex.model().sidecar)?;
        let t0 = now();
        ex.prepare_for(&method)?;
        let t1 = now();
        let e = ex.explain_part(x, &method, req.target, req.part()?)?;
        let t2 = now();
        if e.attribution.iter().any(|v| !v.is_finite()) {
            return Err(err!(
                NonFinite,
                "the explanation contains NaN or infinite values"
            ));
        }
        let meta = json!({
            "method": method.name(), "target": e.target, "label": ex.model().sidecar.label(e.target), "score": e.score,
            "seconds": t2 - t1, "plan_seconds": t1 - t0, "completeness_gap": e.completeness_gap, "score_delta": e.score_delta, "lrp": e.lrp,
            "channels": e.channels.as_ref().map(|c| json!({"layer": c.layer, "weights": c.weights, "shape": c.maps.shape()})),
        });
        let channels = e
            .channels
            .map(|c| c.maps.as_standard_layout().iter().copied().collect())
            .unwrap_or_default();
        Ok(Kept {
            attribution: e.attribution,
            meta,
            channels,
        })
    }

    /// Keeps an attribution under `key` (replacing one of that key; past [`MAX_KEPT`], the
    /// oldest goes).
    pub fn keep(&mut self, key: &str, kept: Kept) {
        self.order.retain(|k| k != key);
        self.order.push(key.to_string());
        self.kept.insert(key.to_string(), kept);
        while self.order.len() > MAX_KEPT {
            let old = self.order.remove(0);
            self.kept.remove(&old);
        }
    }

    /// The attribution kept under `key`; a `Parameter` error when there is none.
    pub fn get(&self, key: &str) -> Result<&Kept> {
        self.kept.get(key).ok_or_else(|| {
            err!(
                Parameter,
                "nothing has been explained yet (no attribution '{key}')"
            )
        })
    }

    /// Drops the attribution kept under `key`, if any.
    pub fn forget(&mut self, key: &str) {
        self.kept.remove(key);
        self.order.retain(|k| k != key);
    }

    /// Draws the attribution kept under `key` at `h` x `w` (each 1..=4096).
    pub fn render(&self, key: &str, display: &Display, h: usize, w: usize) -> Result<Heatmap> {
        let a = &self.get(key)?.attribution;
        crate::render::render(a.shape(), &flat(a), h, w, display)
    }

    /// A deletion or insertion curve of the attribution kept under `key`, on the current input.
    pub fn curve(
        &self,
        key: &str,
        req: &CurveRequest,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Curve> {
        let x = self.input()?;
        let a = &self.get(key)?.attribution;
        self.with_model(|m| req.run(m, x, a.shape(), &flat(a), progress))
    }

    /// The CAM paper's box and the pointing game of the attribution kept under `key`, drawn at
    /// `h` x `w` (each 1..=4096).
    pub fn localize(
        &self,
        key: &str,
        req: &LocalizeRequest,
        h: usize,
        w: usize,
    ) -> Result<LocalizeReport> {
        let a = &self.get(key)?.attribution;
        req.run(a.shape(), &flat(a), h, w)
    }
}

/// An array's values in row-major order (borrowed when it is in standard layout).
fn flat(a: &Array) -> std::borrow::Cow<'_, [f32]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.iter().copied().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(root.join("models/mnist_cam.onnx")).unwrap();
        let side = std::fs::read_to_string(root.join("models/mnist_cam.json")).unwrap();
        let model = Model::load(&bytes, Some(&side)).unwrap();
        Session::new(Rc::new(RefCell::new(Explainer::new(model))))
    }

    /// A session keeps its input and attributions; two sessions on one model keep theirs apart;
    /// a new input drops the old input's attributions; errors name what is missing.
    #[test]
    fn sessions_keep_their_own_inputs_and_attributions() {
        let mut a = session();
        let mut b = Session::new(a.shared());
        assert!(a.predict(3).unwrap_err().message().contains("no input"));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let x = crate::npy::read_f32(
            &std::fs::read(root.join("tests/fixtures/mnist_cam.input.npy")).unwrap(),
        )
        .unwrap();
        a.set_input(x.clone()).unwrap();
        b.set_input(x.mapv(|v| -v)).unwrap();
        let req = Request::from_json(r#"{"method":"gradient"}"#).unwrap();
        let ka = a.explain(&req, &|| 0.0).unwrap();
        let kb = b.explain(&req, &|| 0.0).unwrap();
        assert_ne!(ka.attribution, kb.attribution);
        a.keep("main", ka.clone());
        assert!(b.get("main").is_err(), "b keeps its own");
        let h = a.render("main", &Display::default(), 28, 28).unwrap();
        assert_eq!(h.rgba.len(), 28 * 28 * 4);
        assert!(a.render("main", &Display::default(), 0, 28).is_err());
        assert_eq!(
            a.predict(1).unwrap().top[0].index,
            ka.meta["target"].as_u64().unwrap() as usize
        );
        a.set_input(x).unwrap();
        assert!(
            a.get("main").is_err(),
            "a new input drops the old attributions"
        );
        for i in 0..MAX_KEPT + 5 {
            a.keep(&format!("k{i}"), ka.clone());
        }
        assert!(a.get("k0").is_err() && a.get(&format!("k{}", MAX_KEPT + 4)).is_ok());
    }
}
