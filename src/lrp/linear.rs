//! The forward and transposed maps of one layer part with modified weights, as small tract
//! plans, built on first use and cached per (part, weight modification, direction). The two
//! directions are built apart: many weights are only ever used one way (W forward is the
//! recorded output, W + g W+ runs only backward), and each plan holds its own packed weights.

use super::layers::{Core, LrpGraph, Part};
use super::rules::{Bounds, In, Weight};
use crate::engine::linear::LinearPlan;
use crate::error::Result;
use crate::{array::Array, error::tract_err};
use std::collections::HashMap;
use std::sync::Arc;
use tract_onnx::prelude::tract_ndarray::{ArrayViewD, IxDyn};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

/// x -> W' x (no bias) for one part.
pub struct Forward {
    plan: Arc<TypedSimplePlan>,
    out_shape: Vec<usize>,
}

/// g -> W'^T g for one part.
pub struct Backward(LinearPlan);

impl Forward {
    /// W' x (no bias).
    pub fn run(&self, x: ArrayViewD<f32>) -> Result<Array> {
        let x = crate::array::tensor_of(x).map_err(tract_err("LRP forward"))?;
        let out = self
            .plan
            .run(tvec!(x.into_tvalue()))
            .map_err(tract_err("LRP forward"))?;
        let v = out[0]
            .to_plain_array_view::<f32>()
            .map_err(tract_err("LRP forward"))?
            .to_owned();
        v.into_shape_with_order(IxDyn(&self.out_shape))
            .map_err(|e| crate::err!(Runtime, "LRP forward shape: {e}"))
    }
}

impl Backward {
    /// W'^T g.
    pub fn run(&self, g: Array) -> Result<Array> {
        self.0.run(g, &[]).map_err(tract_err("LRP backward"))
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
        Weight::Abs => (7, 0),
    }
}

/// The weights `w` modified by `m`.
fn modify(w: &Array, m: Weight) -> Array {
    match m {
        Weight::W => w.clone(),
        Weight::Pos => w.mapv(|v| v.max(0.0)),
        Weight::Neg => w.mapv(|v| v.min(0.0)),
        Weight::PlusPos(g) => w.mapv(|v| v + g * v.max(0.0)),
        Weight::PlusNeg(g) => w.mapv(|v| v + g * v.min(0.0)),
        Weight::Square => w.mapv(|v| v * v),
        Weight::Ones => w.mapv(|_| 1.0),
        Weight::Abs => w.mapv(f32::abs),
    }
}

/// (unit, weight modification, constant input, what identifies the z-box bounds).
type KonstKey = (usize, (u8, u32), In, String);

/// Per unit, the z-box bounds of each part's input (low, high).
type ZBoxBounds = Arc<Vec<(Array, Array)>>;

/// (unit, part, weight modification).
type PlanKey = (usize, usize, (u8, u32));

/// The forward and transposed plans of every (unit, part, weight modification) used so far,
/// with the cached layer products of constant inputs and the z-box bounds of each unit.
#[derive(Default)]
pub struct Plans {
    forward: HashMap<PlanKey, Forward>,
    backward: HashMap<PlanKey, Backward>,
    /// Layer products with constant inputs (z-box bounds, ones), by (unit, weight, input,
    /// bounds).
    pub(super) konst: HashMap<KonstKey, Option<Array>>,
    zbox: HashMap<(usize, String), ZBoxBounds>,
}

/// The plan in `map` for part `part` of unit `unit` with weights modified by `m`, built by
/// `build` on first use.
fn cached<'m, T>(
    map: &'m mut HashMap<PlanKey, T>,
    (model, graph): (&TypedModel, &LrpGraph),
    (unit, part, m): (usize, usize, Weight),
    build: fn(&TypedModel, &Part, Weight) -> TractResult<T>,
) -> Result<&'m T> {
    match map.entry((unit, part, key(m))) {
        std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
        std::collections::hash_map::Entry::Vacant(e) => {
            let p = &graph.units[unit].parts[part];
            let plan = build(model, p, m).map_err(|e| {
                crate::err!(
                    UnsupportedOperator,
                    "LRP: cannot plan layer node '{}': {e:#}",
                    model.nodes()[p.node].name
                )
            })?;
            Ok(e.insert(plan))
        }
    }
}

impl Plans {
    /// x -> W' x for part `part` of unit `unit`, W' the weights modified by `m`.
    pub fn forward(
        &mut self,
        model: &TypedModel,
        graph: &LrpGraph,
        unit: usize,
        part: usize,
        m: Weight,
    ) -> Result<&Forward> {
        cached(
            &mut self.forward,
            (model, graph),
            (unit, part, m),
            build_forward,
        )
    }

    /// g -> W'^T g, likewise.
    pub fn backward(
        &mut self,
        model: &TypedModel,
        graph: &LrpGraph,
        unit: usize,
        part: usize,
        m: Weight,
    ) -> Result<&Backward> {
        cached(
            &mut self.backward,
            (model, graph),
            (unit, part, m),
            build_backward,
        )
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
        let before = self.forward.len() + self.backward.len();
        for (u, unit) in graph.units.iter().enumerate() {
            let step = rules[unit.layer].step();
            for t in step.terms {
                let identity = (t.input, t.weight, t.bias)
                    == (super::rules::In::A, Weight::W, super::rules::Bias::B);
                if t.coef == 0.0 && !identity {
                    continue;
                }
                // (weights, forward, backward) on a non-negative input (propagate.rs): W and W+
                // for every weight that is a combination of the two, W + g W+ backward where the
                // two merge (gamma when its z < 0 group carries no relevance), W forward never
                // (W a is the recorded output); a rule with its own weights runs those backward
                // and W+ forward. What a mixed-sign input needs besides is built on first use.
                let weights: Vec<(Weight, bool, bool)> = match t.weight.basis() {
                    Some((_, beta)) if step.own_weights => {
                        let mut v = vec![(t.weight, false, true)];
                        if beta != 0.0 {
                            v.push((Weight::Pos, true, false));
                        }
                        v
                    }
                    Some((alpha, beta)) => {
                        let mut v = vec![];
                        if alpha != 0.0 {
                            v.push((Weight::W, false, true));
                        }
                        if beta != 0.0 {
                            v.push((Weight::Pos, true, true));
                        }
                        if matches!(t.weight, Weight::PlusPos(_)) {
                            v.push((t.weight, false, true));
                        }
                        v
                    }
                    None => vec![(t.weight, true, true)],
                };
                for (w, fwd, bwd) in weights {
                    for p in 0..unit.parts.len() {
                        if fwd {
                            self.forward(model, graph, u, p, w)?;
                        }
                        if bwd {
                            self.backward(model, graph, u, p, w)?;
                        }
                    }
                }
            }
        }
        Ok(self.forward.len() + self.backward.len() > before)
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

fn shape(f: &TypedFact) -> TractResult<Vec<usize>> {
    Ok(f.shape.as_concrete().context("symbolic shape")?.to_vec())
}

fn build_forward(model: &TypedModel, p: &Part, m: Weight) -> TractResult<Forward> {
    let node = &model.nodes()[p.node];
    let w = modify(&p.weight, m).into_tensor().into_arc_tensor();
    let x_shape = shape(model.outlet_fact(p.input)?)?;
    let out_shape = shape(&node.outputs[0].fact)?;
    let mut f = TypedModel::default();
    let x = f.add_source("x", f32::fact(&x_shape))?;
    let out = match &p.core {
        Core::Conv(conv) => {
            let k = f.add_const("kernel", w)?;
            let b = f.add_const("bias", Tensor::zero::<f32>(&[p.weight.shape()[0]])?)?;
            f.wire_node("conv", conv.clone(), &[x, k, b])?
        }
        Core::EinSum { es, x_slot, w_slot } => {
            let k = f.add_const("weight", w)?;
            let mut wires = [x, x];
            wires[*x_slot] = x;
            wires[*w_slot] = k;
            f.wire_node(
                "einsum",
                EinSum::new(es.axes.clone(), f32::datum_type()),
                &wires,
            )?
        }
    };
    f.select_output_outlets(&out)?;
    Ok(Forward {
        plan: SimplePlan::new(crate::kernels::optimize(f)?)?,
        out_shape,
    })
}

fn build_backward(model: &TypedModel, p: &Part, m: Weight) -> TractResult<Backward> {
    let node = &model.nodes()[p.node];
    let w = modify(&p.weight, m).into_tensor().into_arc_tensor();
    Ok(Backward(match &p.core {
        Core::Conv(conv) => LinearPlan::conv_with(model, node, conv, Some(w))?,
        Core::EinSum { es, x_slot, w_slot } => {
            LinearPlan::einsum_with(model, node, es, *x_slot, Some((*w_slot, w)))?
        }
    }))
}
