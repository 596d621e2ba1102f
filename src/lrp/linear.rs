//! The forward and transposed maps of one layer part with modified weights, as small tract
//! plans, built on first use and cached per (part, weight modification).

use super::layers::{Core, LrpGraph, Part};
use super::rules::{Bounds, In, Weight};
use crate::engine::linear::LinearPlan;
use crate::engine::{tract_err, Array};
use crate::error::Result;
use std::collections::HashMap;
use std::sync::Arc;
use tract_onnx::prelude::tract_ndarray::{ArrayViewD, IxDyn};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

pub struct PartPlans {
    forward: Arc<TypedSimplePlan>,
    backward: LinearPlan,
    out_shape: Vec<usize>,
}

impl PartPlans {
    /// W' x (no bias).
    pub fn forward(&self, x: ArrayViewD<f32>) -> Result<Array> {
        let x = match x.as_slice() {
            Some(v) => Tensor::from_shape(x.shape(), v),
            None => Ok(x.to_owned().into_tensor()),
        }
        .map_err(tract_err("LRP forward"))?;
        let out = self
            .forward
            .run(tvec!(x.into_tvalue()))
            .map_err(tract_err("LRP forward"))?;
        let v = out[0]
            .to_plain_array_view::<f32>()
            .map_err(tract_err("LRP forward"))?
            .to_owned();
        v.into_shape_with_order(IxDyn(&self.out_shape))
            .map_err(|e| crate::err!(Runtime, "LRP forward shape: {e}"))
    }

    /// W'^T g.
    pub fn backward(&self, g: Array) -> Result<Array> {
        self.backward.run(g, &[]).map_err(tract_err("LRP backward"))
    }
}

pub(super) fn key(w: Weight) -> (u8, u32) {
    match w {
        Weight::W => (0, 0),
        Weight::Pos => (1, 0),
        Weight::Neg => (2, 0),
        Weight::PlusPos(g) => (3, g.to_bits()),
        Weight::PlusNeg(g) => (4, g.to_bits()),
        Weight::Square => (5, 0),
        Weight::Ones => (6, 0),
    }
}

pub fn modify(w: &Array, m: Weight) -> Array {
    match m {
        Weight::W => w.clone(),
        Weight::Pos => w.mapv(|v| v.max(0.0)),
        Weight::Neg => w.mapv(|v| v.min(0.0)),
        Weight::PlusPos(g) => w.mapv(|v| v + g * v.max(0.0)),
        Weight::PlusNeg(g) => w.mapv(|v| v + g * v.min(0.0)),
        Weight::Square => w.mapv(|v| v * v),
        Weight::Ones => w.mapv(|_| 1.0),
    }
}

/// (unit, weight modification, constant input, what identifies the z-box bounds).
type KonstKey = (usize, (u8, u32), In, String);

/// Per unit, the z-box bounds of each part's input (low, high).
type ZBoxBounds = Arc<Vec<(Array, Array)>>;

#[derive(Default)]
pub struct Plans {
    map: HashMap<(usize, usize, (u8, u32)), PartPlans>,
    /// Layer products with constant inputs (z-box bounds, ones), by (unit, weight, input,
    /// bounds).
    pub(super) konst: HashMap<KonstKey, Option<Array>>,
    zbox: HashMap<(usize, String), ZBoxBounds>,
}

impl Plans {
    pub fn get(
        &mut self,
        model: &TypedModel,
        graph: &LrpGraph,
        unit: usize,
        part: usize,
        m: Weight,
    ) -> Result<&PartPlans> {
        match self.map.entry((unit, part, key(m))) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                let p = &graph.units[unit].parts[part];
                let plans = build(model, p, m).map_err(|e| {
                    crate::err!(
                        UnsupportedOperator,
                        "LRP: cannot plan layer node '{}': {e:#}",
                        model.nodes()[p.node].name
                    )
                })?;
                Ok(e.insert(plans))
            }
        }
    }
}

impl Plans {
    /// Builds the plans every layer's rule will use; returns whether any was missing.
    pub fn prepare(
        &mut self,
        model: &TypedModel,
        graph: &LrpGraph,
        rules: &[super::LrpRule],
    ) -> Result<bool> {
        let before = self.map.len();
        for (u, unit) in graph.units.iter().enumerate() {
            let step = rules[unit.layer].step();
            for t in step.terms {
                let identity = (t.input, t.weight, t.bias)
                    == (super::rules::In::A, Weight::W, super::rules::Bias::B);
                if t.coef == 0.0 && !identity {
                    continue;
                }
                // The step runs W and W+ for every weight that is a combination of the two
                // (propagate.rs), and W + g W+ backward where the two merge (gamma when its
                // z < 0 group carries no relevance); a rule with its own weights runs those
                // backward, and W+ forward.
                let weights = match t.weight.basis() {
                    Some((_, beta)) if step.own_weights => {
                        let mut v = vec![t.weight];
                        if beta != 0.0 {
                            v.push(Weight::Pos);
                        }
                        v
                    }
                    Some((alpha, beta)) => {
                        let mut v: Vec<Weight> = [(alpha, Weight::W), (beta, Weight::Pos)]
                            .into_iter()
                            .filter(|(c, _)| *c != 0.0)
                            .map(|(_, w)| w)
                            .collect();
                        if matches!(t.weight, Weight::PlusPos(_)) {
                            v.push(t.weight);
                        }
                        v
                    }
                    None => vec![t.weight],
                };
                for w in weights {
                    for p in 0..unit.parts.len() {
                        self.get(model, graph, u, p, w)?;
                    }
                }
            }
        }
        Ok(self.map.len() > before)
    }

    /// The z-box bounds of unit `u`'s inputs, made by `make` on first use.
    pub fn zbox(
        &mut self,
        u: usize,
        b: &Bounds,
        make: impl FnOnce() -> Result<Vec<(Array, Array)>>,
    ) -> Result<ZBoxBounds> {
        let k = (u, format!("{b:?}"));
        if let Some(v) = self.zbox.get(&k) {
            return Ok(v.clone());
        }
        let v = Arc::new(make()?);
        self.zbox.insert(k, v.clone());
        Ok(v)
    }
}

fn build(model: &TypedModel, p: &Part, m: Weight) -> TractResult<PartPlans> {
    let node = &model.nodes()[p.node];
    let w = modify(&p.weight, m).into_tensor().into_arc_tensor();
    let x_shape = model
        .outlet_fact(p.input)?
        .shape
        .as_concrete()
        .context("symbolic shape")?
        .to_vec();
    let out_shape = node.outputs[0]
        .fact
        .shape
        .as_concrete()
        .context("symbolic shape")?
        .to_vec();
    let mut f = TypedModel::default();
    let x = f.add_source("x", f32::fact(&x_shape))?;
    let (out, backward) = match &p.core {
        Core::Conv(conv) => {
            let k = f.add_const("kernel", w.clone())?;
            let b = f.add_const("bias", Tensor::zero::<f32>(&[p.weight.shape()[0]])?)?;
            let out = f.wire_node("conv", conv.clone(), &[x, k, b])?;
            (out, LinearPlan::conv_with(model, node, conv, Some(w))?)
        }
        Core::EinSum { es, x_slot, w_slot } => {
            let k = f.add_const("weight", w.clone())?;
            let mut wires = [x, x];
            wires[*x_slot] = x;
            wires[*w_slot] = k;
            let out = f.wire_node(
                "einsum",
                EinSum::new(es.axes.clone(), f32::datum_type()),
                &wires,
            )?;
            (
                out,
                LinearPlan::einsum_with(model, node, es, *x_slot, Some((*w_slot, w)))?,
            )
        }
    };
    f.select_output_outlets(&out)?;
    let forward = SimplePlan::new(crate::engine::optimize(f)?)?;
    Ok(PartPlans {
        forward,
        backward,
        out_shape,
    })
}
