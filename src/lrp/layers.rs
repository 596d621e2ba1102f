//! The conv/dense layers of LRP, found in tract's decluttered graph, and canonisation.
//!
//! Layers are the ONNX Conv/Gemm/MatMul nodes in file order (docs/conventions.md). Decluttering
//! keeps each ONNX node's name as the prefix of the tract nodes it becomes, so a *core* (a
//! `Conv`, or an `EinSum` with one constant operand) belongs to the ONNX layer whose name is
//! its own or a `NAME.` prefix of it. What tract makes of one layer:
//!
//! - `Conv` with the bias as an input, or `EinSum` + `Add` (1x1 convs, Gemm), `Downsample` +
//!   `EinSum` (strided 1x1 conv: the Downsample stays a routing op);
//! - several `EinSum`s summed by `Add`s, one per slice of a concatenated input (tract pushes a
//!   Concat into the next layer): one *unit* with several *parts*, whose rule shares one
//!   denominator per output;
//! - a BatchNormalization after a layer is folded into the kernel by tract, or left as a
//!   per-channel `Mul` + `Add`.
//!
//! Canonisation (Zennit's `MergeBatchNorm`): every element-wise `Add`/`Sub`/`Mul`/`Div` by a
//! constant that directly follows a layer (its only consumer) is merged into that layer's
//! weights and bias, so the rules see `z = W' a + b'` with the BatchNorm inside.

use crate::err;
use crate::error::Result;
use crate::model::Model;
use ndarray::{Axis, IxDyn};
use serde::Serialize;
use std::collections::HashMap;
use tract_onnx::prelude::tract_ndarray as ndarray;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::math;

pub use crate::array::Array;

/// The operators LRP's layers are: Conv, Gemm and MatMul nodes, numbered in ONNX file order from
/// 0 (the numbers `--rule` and composites' layer assignments use).
pub const LAYER_OPS: [&str; 3] = ["Conv", "Gemm", "MatMul"];

/// The model's layers with their numbers ([`LAYER_OPS`]).
pub fn numbered(model: &Model) -> impl Iterator<Item = (usize, &crate::model::OnnxNode)> {
    model
        .nodes
        .iter()
        .filter(|n| LAYER_OPS.contains(&n.op_type.as_str()))
        .enumerate()
}

/// What kind of layer an LRP layer is; composites give conv and dense layers different rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// An ONNX `Conv` node.
    Conv,
    /// An ONNX `Gemm` or `MatMul` node.
    Dense,
}

/// One LRP layer, as `saliency info` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct LayerDesc {
    /// The layer number: its position among the model's Conv/Gemm/MatMul nodes in ONNX file
    /// order, from 0.
    pub layer: usize,
    /// The ONNX node's name.
    pub name: String,
    /// The ONNX operator: `Conv`, `Gemm` or `MatMul`.
    pub op_type: String,
    /// Conv for a `Conv`, dense for the others.
    pub kind: LayerKind,
}

/// The linear operator of one layer part, as tract made it: a convolution, or an einsum with
/// one constant operand.
///
/// (Conv is large, but there is one `Core` per layer: boxing it would buy nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Core {
    /// A tract `Conv` (OIHW kernel), activations on input 0, the kernel on input 1 and the bias,
    /// if any, on input 2.
    Conv(Conv),
    /// A tract `EinSum` of the activations and one constant weight operand (1x1 convs, Gemm,
    /// MatMul).
    EinSum {
        /// The einsum: its axes expression and operand order.
        es: Box<EinSum>,
        /// Which of its two inputs carries the activations.
        x_slot: usize,
        /// Which of its two inputs is the constant weight.
        w_slot: usize,
    },
}

/// One linear operator of a layer unit, with its (canonised) weights.
#[derive(Debug, Clone)]
pub struct Part {
    /// The id of the core's node in the decluttered typed model.
    pub node: usize,
    /// The operand carrying activations.
    pub input: OutletId,
    /// The core operator, with its geometry (strides, padding, einsum axes).
    pub core: Core,
    /// The weights after merging, in the layout of the core's weight operand.
    pub weight: Array,
    /// For each axis of the unit's output, the weight axis it indexes (if any).
    out_to_weight: Vec<Option<usize>>,
}

/// A layer as the rules see it: z = sum_parts W_p a_p + bias.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The ONNX layer number.
    pub layer: usize,
    /// The linear operators whose outputs sum to z (several when tract pushed a Concat into the
    /// layer), ordered by node id.
    pub parts: Vec<Part>,
    /// The outlet carrying z: the last node merged into the unit (its core, the Add of its
    /// parts, or the last BatchNorm Mul/Add merged by canonisation).
    pub output: OutletId,
    /// The merged bias, with the output's shape.
    pub bias: Array,
}

/// LRP's view of a model: its numbered layers, and the canonised units found for them in
/// tract's decluttered graph, with what each graph node is to the walk (by node id).
#[derive(Debug, Clone)]
pub struct LrpGraph {
    /// Every Conv/Gemm/MatMul node of the ONNX file, by layer number.
    pub layers: Vec<LayerDesc>,
    /// The units, in the evaluation order of their output nodes.
    pub units: Vec<Unit>,
    /// Unit index by the node producing its output.
    pub unit_at: HashMap<usize, usize>,
    /// Nodes inside a unit (not its output node): they never see relevance.
    pub inside: Vec<bool>,
    /// What canonisation did, one line per merge.
    pub canonization: Vec<String>,
    /// Nodes whose relevance follows the gradient, as Zennit's composites treat what they come
    /// from (`gradient_nodes`).
    pub gradient: Vec<bool>,
}

/// The ONNX node a decluttered node comes from: tract keeps the ONNX name as the prefix of the
/// nodes it makes (`NAME` or `NAME.something`); the longest such name.
pub fn onnx_origin<'m>(model: &'m Model, typed_name: &str) -> Option<&'m crate::model::OnnxNode> {
    model
        .nodes
        .iter()
        .filter(|n| {
            !n.name.is_empty()
                && typed_name
                    .strip_prefix(n.name.as_str())
                    .is_some_and(|r| r.is_empty() || r.starts_with('.'))
        })
        .max_by_key(|n| n.name.len())
}

/// The nodes whose relevance takes the gradient, as Zennit does for what has no rule of its
/// own: a product or quotient by a constant that a functional op wrote (torch's `x * gamma`: a
/// layer scale; LayerNorm's affine), as opposed to a BatchNorm's remnant (Zennit's Pass); and
/// LayerNorm's centering, `x - mean(x)` with its mean (Zennit has no rule for LayerNorm), where
/// the Norm rule of a difference would divide by values near zero.
fn gradient_nodes(model: &Model) -> Vec<bool> {
    let typed = &model.typed;
    let is_const = |o: OutletId| typed.outlet_fact(o).is_ok_and(|f| f.konst.is_some());
    let mut out = vec![false; typed.nodes().len()];
    for node in typed.nodes() {
        let Some(bin) = node.op_as::<TypedBinOp>() else {
            continue;
        };
        let origin = onnx_origin(model, &node.name).map(|n| n.op_type.as_str());
        let consts = node.inputs.iter().filter(|&&i| is_const(i)).count();
        let scale = bin.0.is::<math::Mul>() || bin.0.is::<math::Div>();
        if scale
            && consts == 1
            && matches!(origin, Some("Mul" | "Div" | "LayerNormalization"))
            && !node
                .inputs
                .iter()
                .any(|&i| !is_const(i) && sum_of_picks(typed, i))
        {
            out[node.id] = true;
        }
        // x - mean(x): the second operand is (a Mul by a constant of) a Reduce<Sum> of the first.
        if bin.0.is::<math::Sub>() && node.inputs.len() == 2 && consts == 0 {
            let x = node.inputs[0];
            let mut m = node.inputs[1];
            let mut chain = vec![];
            if typed.nodes()[m.node]
                .op_as::<TypedBinOp>()
                .is_some_and(|b| b.0.is::<math::Mul>())
            {
                chain.push(m.node);
                let inputs = &typed.nodes()[m.node].inputs;
                match inputs.iter().find(|&&i| !is_const(i)) {
                    Some(&i) => m = i,
                    None => continue,
                }
            }
            let reduce = &typed.nodes()[m.node];
            if reduce.op_is::<tract_onnx::tract_core::ops::nn::Reduce>()
                && reduce.inputs.first() == Some(&x)
            {
                chain.push(m.node);
                out[node.id] = true;
                for c in chain {
                    out[c] = true;
                }
            }
        }
    }
    out
}

/// Whether `o` is a sum of values picked out of tensors (an `Add` of two variables whose
/// operands are such sums or gathers, slices, reshapes or masks): divided by constant counts, it
/// is torch.export's form of an adaptive average pool whose windows differ in size (AlexNet's
/// 4 x 4 -> 6 x 6 at 160 x 160: GatherND, two Where masks, Gathers, Adds, a Div). Zennit's
/// Norm rule on the pool module is the Adds' proportional split with relevance passing the
/// Div unchanged, not the gradient of a functional division.
fn sum_of_picks(typed: &TypedModel, o: OutletId) -> bool {
    use tract_onnx::tract_core::ops::array::{Gather, GatherNd, Slice};
    use tract_onnx::tract_core::ops::logic::Iff;
    let picked = |o: OutletId| {
        let n = &typed.nodes()[o.node];
        n.op_is::<Gather>()
            || n.op_is::<GatherNd>()
            || n.op_is::<Slice>()
            || n.op_is::<AxisOp>()
            || n.op_is::<Iff>()
    };
    let node = &typed.nodes()[o.node];
    let is_add = node
        .op_as::<TypedBinOp>()
        .is_some_and(|b| b.0.is::<math::Add>());
    is_add
        && node.inputs.len() == 2
        && node
            .inputs
            .iter()
            .all(|&i| picked(i) || sum_of_picks(typed, i))
}

fn konst(model: &TypedModel, o: OutletId) -> Option<Array> {
    let k = model.outlet_fact(o).ok()?.konst.clone()?;
    k.to_plain_array_view::<f32>().ok().map(|v| v.to_owned())
}

pub(crate) fn shape_of(model: &TypedModel, o: OutletId) -> Result<Vec<usize>> {
    model
        .outlet_fact(o)
        .ok()
        .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
        .ok_or_else(|| {
            err!(
                UnsupportedOperator,
                "LRP needs concrete shapes (node '{}')",
                model.nodes()[o.node].name
            )
        })
}

/// Reshapes `c` (with the output's rank) to multiply a weight of rank `rank`: None when c varies
/// along an output axis that the weight does not index.
fn to_weight_axes(c: &Array, map: &[Option<usize>], rank: usize) -> Option<Array> {
    if c.ndim() != map.len() {
        return None;
    }
    let mut pairs = vec![];
    for (k, &d) in c.shape().iter().enumerate() {
        if d > 1 {
            pairs.push((k, map[k]?));
        }
    }
    let mut v = c.clone();
    for k in (0..c.ndim()).rev() {
        if c.shape()[k] == 1 {
            v = v.index_axis_move(Axis(k), 0);
        }
    }
    // v's axes follow the output order of `pairs`; order them by weight axis.
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by_key(|&i| pairs[i].1);
    let v = v
        .permuted_axes(IxDyn(&order))
        .as_standard_layout()
        .into_owned();
    let mut shape = vec![1; rank];
    for &(k, p) in &pairs {
        shape[p] = c.shape()[k];
    }
    v.into_shape_with_order(IxDyn(&shape)).ok()
}

impl LrpGraph {
    /// Numbers `model`'s layers, finds their units in the decluttered graph and canonises
    /// them. Fails (`UnsupportedOperator`) where LRP cannot map a layer: e.g. a kernel computed
    /// from the input or not in OIHW layout, a product without constant weights, a core not
    /// traced to its ONNX Conv/Gemm/MatMul node, a shape that is not concrete.
    pub fn build(model: &Model) -> Result<LrpGraph> {
        let typed = &model.typed;
        let layers: Vec<LayerDesc> = numbered(model)
            .map(|(layer, n)| LayerDesc {
                layer,
                name: n.name.clone(),
                op_type: n.op_type.clone(),
                kind: if n.op_type == "Conv" {
                    LayerKind::Conv
                } else {
                    LayerKind::Dense
                },
            })
            .collect();
        let order = typed
            .eval_order()
            .map_err(crate::error::tract_err("ordering the model"))?;
        let source = typed
            .input_outlets()
            .map_err(crate::error::tract_err("reading the model input"))?[0];
        let mut on_path = vec![false; typed.nodes().len()];
        for &n in &order {
            on_path[n] =
                n == source.node || typed.nodes()[n].inputs.iter().any(|i| on_path[i.node]);
        }
        let layer_of_name = |name: &str| -> Option<usize> {
            layers
                .iter()
                .filter(|l| {
                    name == l.name
                        || (name.starts_with(&l.name) && name[l.name.len()..].starts_with('.'))
                })
                .max_by_key(|l| l.name.len())
                .map(|l| l.layer)
        };
        let succ = |n: usize| typed.outlet_successors(OutletId::new(n, 0)).to_vec();

        // 1. Cores and the Adds that sum the parts of one layer.
        let mut member: HashMap<usize, usize> = HashMap::new(); // node -> layer
        let mut cores: HashMap<usize, Part> = HashMap::new();
        for &n in &order {
            let node = &typed.nodes()[n];
            if !on_path[n] || n == source.node {
                continue;
            }
            let core = if let Some(conv) = node.op_as::<Conv>() {
                if !on_path[node.inputs[0].node]
                    || node.inputs.iter().skip(1).any(|i| on_path[i.node])
                {
                    return Err(err!(
                        UnsupportedOperator,
                        "LRP: the convolution '{}' has a kernel computed from the input",
                        node.name
                    ));
                }
                if conv.kernel_fmt != KernelFormat::OIHW {
                    return Err(err!(
                        UnsupportedOperator,
                        "LRP: kernel layout {:?} at '{}'",
                        conv.kernel_fmt,
                        node.name
                    ));
                }
                Some((Core::Conv(conv.clone()), 0, 1))
            } else if let Some(es) = node.op_as::<EinSum>() {
                let vars: Vec<usize> = (0..node.inputs.len())
                    .filter(|&i| on_path[node.inputs[i].node])
                    .collect();
                let consts: Vec<usize> = (0..node.inputs.len())
                    .filter(|&i| konst(typed, node.inputs[i]).is_some())
                    .collect();
                if node.inputs.len() != 2 || vars.len() != 1 || consts.len() != 1 {
                    return Err(err!(
                        UnsupportedOperator,
                        "LRP: the product '{}' is not a layer with constant weights",
                        node.name
                    ));
                }
                Some((
                    Core::EinSum {
                        es: Box::new(es.clone()),
                        x_slot: vars[0],
                        w_slot: consts[0],
                    },
                    vars[0],
                    consts[0],
                ))
            } else {
                None
            };
            if let Some((core, x_slot, w_slot)) = core {
                let layer = layer_of_name(&node.name).ok_or_else(|| {
                    err!(
                        UnsupportedOperator,
                        "LRP: cannot tell which ONNX Conv/Gemm/MatMul node '{}' comes from",
                        node.name
                    )
                })?;
                let weight = konst(typed, node.inputs[w_slot]).ok_or_else(|| {
                    err!(
                        UnsupportedOperator,
                        "LRP: '{}' has no constant weights",
                        node.name
                    )
                })?;
                let out_shape = shape_of(typed, OutletId::new(n, 0))?;
                let out_to_weight = match &core {
                    Core::Conv(conv) => {
                        let geo = conv
                            .pool_spec
                            .data_format
                            .shape(out_shape.clone())
                            .map_err(crate::error::tract_err("conv shape"))?;
                        let c = geo.c_axis();
                        (0..out_shape.len())
                            .map(|k| (k == c).then_some(0))
                            .collect()
                    }
                    Core::EinSum { es, .. } => {
                        let expr = es.axes.to_string();
                        let (ins, out) = expr.split_once("->").unwrap_or((&expr, ""));
                        let w: Vec<char> =
                            ins.split(',').nth(w_slot).unwrap_or("").chars().collect();
                        out.chars()
                            .map(|c| w.iter().position(|&x| x == c))
                            .collect()
                    }
                };
                member.insert(n, layer);
                cores.insert(
                    n,
                    Part {
                        node: n,
                        input: node.inputs[x_slot],
                        core,
                        weight,
                        out_to_weight,
                    },
                );
                continue;
            }
            // An Add of two members of the same layer, each used only there.
            if let Some(bin) = node.op_as::<TypedBinOp>() {
                if bin.0.is::<math::Add>() && node.inputs.len() == 2 {
                    let l: Vec<Option<usize>> = node
                        .inputs
                        .iter()
                        .map(|i| member.get(&i.node).copied())
                        .collect();
                    let same_shape = node.inputs.iter().all(|&i| {
                        shape_of(typed, i).ok() == shape_of(typed, OutletId::new(n, 0)).ok()
                    });
                    if l[0].is_some()
                        && l[0] == l[1]
                        && same_shape
                        && node.inputs.iter().all(|i| succ(i.node).len() == 1)
                    {
                        member.insert(n, l[0].unwrap());
                    }
                }
            }
        }

        // 2. Units: from the top of each sum of parts, down the chain of constant affine ops.
        let mut units = vec![];
        let mut inside = vec![false; typed.nodes().len()];
        let mut canonization = vec![];
        for &n in &order {
            let Some(&layer) = member.get(&n) else {
                continue;
            };
            let s = succ(n);
            if s.len() == 1 && member.get(&s[0].node) == Some(&layer) {
                continue; // not the top
            }
            // The parts under this top.
            let mut parts = vec![];
            let mut stack = vec![n];
            while let Some(m) = stack.pop() {
                inside[m] = true;
                match cores.get(&m) {
                    Some(p) => parts.push(p.clone()),
                    None => stack.extend(typed.nodes()[m].inputs.iter().map(|i| i.node)),
                }
            }
            parts.sort_by_key(|p| p.node);
            let out_shape = shape_of(typed, OutletId::new(n, 0))?;
            let mut bias = Array::zeros(IxDyn(&out_shape));
            for p in &parts {
                if let Core::Conv(conv) = &p.core {
                    let node = &typed.nodes()[p.node];
                    if let Some(b) = node.inputs.get(2).and_then(|&i| konst(typed, i)) {
                        let geo = conv
                            .pool_spec
                            .data_format
                            .shape(out_shape.clone())
                            .map_err(crate::error::tract_err("conv shape"))?;
                        let mut shape = vec![1; out_shape.len()];
                        shape[geo.c_axis()] = b.len();
                        let b = if b.len() == 1 {
                            b.into_shape_with_order(IxDyn(&vec![1; out_shape.len()]))
                        } else {
                            b.into_shape_with_order(IxDyn(&shape))
                        }
                        .map_err(|e| {
                            err!(
                                UnsupportedOperator,
                                "LRP: conv bias at '{}': {e}",
                                node.name
                            )
                        })?;
                        bias += &b;
                    }
                }
            }
            let mut cur = n;
            let mut merged: Vec<String> = vec![];
            loop {
                let s = succ(cur);
                if s.len() != 1 {
                    break;
                }
                let next = &typed.nodes()[s[0].node];
                let Some(bin) = next.op_as::<TypedBinOp>() else {
                    break;
                };
                if next.inputs.len() != 2
                    || shape_of(typed, OutletId::new(next.id, 0)).ok().as_deref()
                        != Some(&out_shape[..])
                {
                    break;
                }
                let var = s[0].slot;
                let Some(c) = konst(typed, next.inputs[1 - var]) else {
                    break;
                };
                if c.ndim() != out_shape.len() {
                    break;
                }
                let op = &bin.0;
                // A scale is merged when it is a BatchNorm's (or the layer's own); a functional
                // product by a constant (a layer scale) is not a BatchNorm to Zennit.
                let origin = onnx_origin(model, &next.name);
                // A BatchNormalization is merged into the layer that feeds it in the ONNX graph
                // only: tract also pushes one that follows a Concat of several layers' outputs
                // (MixNet's mixed convolutions) into each of them, and Zennit, which cannot merge
                // it there, passes relevance through it (as the walk does when it stays apart).
                if let Some(bn) = origin.filter(|o| o.op_type == "BatchNormalization") {
                    let feeds = model
                        .nodes
                        .iter()
                        .find(|x| x.name == layers[layer].name)
                        .and_then(|x| x.outputs.first());
                    if bn.inputs.first() != feeds {
                        break;
                    }
                }
                let bn_or_own = origin.is_none_or(|o| {
                    o.op_type == "BatchNormalization" || o.name == layers[layer].name
                });
                if (op.is::<math::Mul>() || op.is::<math::Div>()) && !bn_or_own {
                    break;
                }
                let (scale, shift): (Option<Array>, Option<Array>) = if op.is::<math::Add>() {
                    (None, Some(c.clone()))
                } else if op.is::<math::Sub>() && var == 0 {
                    (None, Some(-&c))
                } else if op.is::<math::Mul>() {
                    (Some(c.clone()), None)
                } else if op.is::<math::Div>() && var == 0 {
                    (Some(c.mapv(|v| 1.0 / v)), None)
                } else {
                    break;
                };
                if let Some(sc) = &scale {
                    let ws: Option<Vec<Array>> = parts
                        .iter()
                        .map(|p| to_weight_axes(sc, &p.out_to_weight, p.weight.ndim()))
                        .collect();
                    let Some(ws) = ws else { break };
                    for (p, w) in parts.iter_mut().zip(ws) {
                        p.weight = &p.weight * &w;
                    }
                    bias *= sc;
                }
                if let Some(sh) = &shift {
                    bias += sh;
                }
                inside[cur] = true;
                merged.push(next.name.clone());
                cur = next.id;
            }
            inside[cur] = false;
            let l = &layers[layer];
            // Report BatchNorms: folded by tract (the ONNX layer feeds a BatchNormalization
            // alone) or merged here (its Mul/Add remnants).
            if let Some(onnx) = model.nodes.iter().find(|x| x.name == l.name) {
                let consumers: Vec<&crate::model::OnnxNode> = model
                    .nodes
                    .iter()
                    .filter(|x| x.inputs.iter().any(|i| Some(i) == onnx.outputs.first()))
                    .collect();
                if let [bn] = consumers.as_slice() {
                    if bn.op_type == "BatchNormalization" {
                        let ours: Vec<&String> = merged
                            .iter()
                            .filter(|m| *m == &bn.name || m.starts_with(&format!("{}.", bn.name)))
                            .collect();
                        let line = if ours.is_empty() {
                            format!("layer {} '{}': BatchNormalization '{}' merged into its weights and bias (folded when the model was simplified)", l.layer, l.name, bn.name)
                        } else {
                            format!("layer {} '{}': BatchNormalization '{}' merged into its weights and bias (its per-channel Mul/Add)", l.layer, l.name, bn.name)
                        };
                        if !canonization.contains(&line) {
                            canonization.push(line);
                        }
                    }
                }
            }
            units.push(Unit {
                layer,
                parts,
                output: OutletId::new(cur, 0),
                bias,
            });
        }
        let unit_at = units
            .iter()
            .enumerate()
            .map(|(i, u)| (u.output.node, i))
            .collect();
        Ok(LrpGraph {
            layers,
            units,
            unit_at,
            inside,
            canonization,
            gradient: gradient_nodes(model),
        })
    }

    /// The kind of each layer, by layer number (what [`super::Composite::rules`] and
    /// [`super::LrpSpec::resolve`] take).
    pub fn kinds(&self) -> Vec<LayerKind> {
        self.layers.iter().map(|l| l.kind).collect()
    }
}
