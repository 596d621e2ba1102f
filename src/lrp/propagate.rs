//! The LRP reverse walk over the decluttered graph.
//!
//! Start: R = y_c at the target output, 0 elsewhere. Then, node by node from the output:
//!
//! | node | relevance |
//! | --- | --- |
//! | a layer unit (conv / dense, canonised) | its rule: the generic step of [`super::rules`] |
//! | element-wise op with one variable operand (ReLU = Max(x, 0), Clip, LeakyReLU, Sigmoid, ..., and Add/Mul by a constant not merged into a layer) | unchanged |
//! | `Add` / `Sub` of two variables (residual sum) | Norm: R_i = ±x_i R / stab(x_1 ± x_2) |
//! | `SumPool` (AveragePool) | Norm: R_in = x * pool^T(R / stab(pool(x))) |
//! | `Reduce<Sum>` (+ the `Mul` by 1/HW of a GlobalAveragePool) | Norm: R_in = x * c R / stab(c sum(x)) |
//! | MaxPool | the gradient: to the arg-max |
//! | Concat, Slice, Pad, reshapes, Downsample | routed unchanged (the gradient) |
//! | `Mul` of x by an element-wise function of x (HardSwish = x * HardSigmoid(x), SiLU, the tanh GELU's pattern) | to x, unchanged (an activation) |
//! | `Mul` / `Div` / `Max` / `Min` of two variables otherwise (e.g. squeeze-excite gating) | the gradient (as Zennit on a functional op) |
//! | LayerNorm's centering `x - mean(x)` and its mean; a `Mul` / `Div` by a constant that ONNX wrote as such (a layer scale) or as LayerNormalization's affine, not a BatchNorm's | the gradient (Zennit has no rule for them; `LrpGraph::gradient`) |
//! | a `Div` of a sum of gathered values by constant window sizes (torch.export's adaptive pool with unequal windows) | unchanged: with the Adds' split, Zennit's Norm rule on the pool |

use super::layers::{shape_of, Core, LrpGraph};
use super::linear::{key, Plans};
use super::plan;
use super::rules::{Bounds, In, LrpRule, Mask, Weight, STABILIZER};
use super::{Conservation, LayerRelevance};
use crate::array::{neg, pos, Array};
use crate::array::{spread, unbroadcast};
use crate::engine::ops::{pool, Ctx, Lrp, Rule};
use crate::engine::{Engine, Mode, Tape};
use crate::err;
use crate::error::Result;
use crate::model::Model;
use std::collections::HashMap;
use tract_onnx::prelude::tract_ndarray::{ArrayBase, ArrayViewD, CowArray, Data, IxDyn, Zip};
use tract_onnx::tract_core::internal::*;

fn stab(d: f32, e: f32) -> f32 {
    d + e * if d >= 0.0 { 1.0 } else { -1.0 }
}

/// `num / stab(den)`; with e = 0 a zero denominator gives 0.
fn divide<S: Data<Elem = f32>>(num: Array, den: &ArrayBase<S, IxDyn>, e: f32) -> Array {
    let mut out = num;
    Zip::from(&mut out).and(den).for_each(|o, &d| {
        let s = stab(d, e);
        *o = if s == 0.0 { 0.0 } else { *o / s };
    });
    out
}

/// One group's normalised relevance `mask(z) R / stab(d)` with the denominator
/// `d = cz z + k0 b + k1 b+ + k2 b^2 + sum c P` (a zero stab(d) gives 0): over flat slices,
/// one simple loop per term, which vectorise (ndarray's Zip over four or more dynamic-rank
/// arrays measured slower than the separate passes it replaced).
#[allow(clippy::too_many_arguments)]
fn normalised(
    r: &Array,
    z: &ArrayViewD<f32>,
    b: &Array,
    cz: f32,
    k: [f32; 3],
    prods: &[(f32, &Array)],
    e: f32,
    mask: Mask,
) -> Array {
    let (zs, bs, rs) = (
        z.as_standard_layout(),
        b.as_standard_layout(),
        r.as_standard_layout(),
    );
    let [zs, bs, rs] = [&zs, &bs, &rs].map(|a| a.as_slice().expect("standard layout"));
    // (b^2 only where it is wanted: a bias near 1e-20 would make it subnormal, and every
    // later operation on it slow.)
    let zb = zs.iter().zip(bs);
    let mut d: Vec<f32> = match k {
        [k0, 0.0, 0.0] => zb.map(|(&z, &b)| cz * z + k0 * b).collect(),
        [k0, k1, 0.0] => zb.map(|(&z, &b)| cz * z + k0 * b + k1 * pos(b)).collect(),
        [k0, k1, k2] => zb
            .map(|(&z, &b)| cz * z + k0 * b + k1 * pos(b) + k2 * b * b)
            .collect(),
    };
    for (c, p) in prods {
        let ps = p.as_standard_layout();
        for (d, &p) in d.iter_mut().zip(ps.as_slice().expect("standard layout")) {
            *d += c * p;
        }
    }
    // Branch-free (z's sign is a coin toss for the branch predictor), one loop per mask.
    fn finish(d: &mut [f32], rs: &[f32], zs: &[f32], e: f32, keep: impl Fn(f32) -> bool) {
        for ((d, &r), &z) in d.iter_mut().zip(rs).zip(zs) {
            let s = stab(*d, e);
            let q = r / s;
            *d = if keep(z) & (s != 0.0) { q } else { 0.0 };
        }
    }
    match mask {
        Mask::All => finish(&mut d, rs, zs, e, |_| true),
        Mask::Positive => finish(&mut d, rs, zs, e, |z| z > 0.0),
        Mask::Negative => finish(&mut d, rs, zs, e, |z| z < 0.0),
    }
    Array::from_shape_vec(z.raw_dim(), d).expect("same size")
}

/// The sum in f64 (of f32 partial sums over short runs, which vectorise).
fn sum(a: &Array) -> f64 {
    match a.as_slice_memory_order() {
        Some(v) => v
            .chunks(64)
            .map(|c| {
                let mut acc = [0f32; 8];
                let mut it = c.chunks_exact(8);
                for q in &mut it {
                    for (a, &x) in acc.iter_mut().zip(q) {
                        *a += x;
                    }
                }
                let tail: f32 = it.remainder().iter().sum();
                (acc.iter().sum::<f32>() + tail) as f64
            })
            .sum(),
        None => a.iter().map(|&v| v as f64).sum(),
    }
}

/// The z-box bounds as arrays of the shape of a layer input (`channel_axis`: its channel axis).
fn bounds(
    model: &Model,
    b: &Bounds,
    shape: &[usize],
    channel_axis: Option<usize>,
    layer: usize,
) -> Result<(Array, Array)> {
    let (lo, hi): (Vec<f32>, Vec<f32>) = match b {
        Bounds::Scalar { low, high } => (vec![*low], vec![*high]),
        Bounds::PerChannel { low, high } => (low.clone(), high.clone()),
        Bounds::Preprocessing => {
            let c = model.input_shape()[1];
            let sc = &model.sidecar;
            (
                (0..c).map(|i| (0.0 - sc.mean(i)) / sc.std(i)).collect(),
                (0..c).map(|i| (1.0 - sc.mean(i)) / sc.std(i)).collect(),
            )
        }
    };
    let expand = |v: &[f32]| -> Result<Array> {
        if v.len() == 1 || v.iter().all(|&x| x == v[0]) {
            return Ok(Array::from_elem(IxDyn(shape), v[0]));
        }
        let ax = channel_axis.filter(|&a| shape[a] == v.len()).ok_or_else(|| {
            err!(Parameter, "zbox has {} per-channel bounds but layer {layer}'s input {shape:?} does not have {} channels", v.len(), v.len())
        })?;
        let mut s = vec![1; shape.len()];
        s[ax] = v.len();
        let a = Array::from_shape_vec(IxDyn(&s), v.to_vec()).expect("bounds shape");
        Ok(a.broadcast(IxDyn(shape))
            .expect("bounds broadcast")
            .to_owned())
    };
    Ok((expand(&lo)?, expand(&hi)?))
}

/// `acc += l * back * a` (`acc` starts as the first product), over flat slices where all
/// three are in standard layout.
fn accumulate(acc: &mut Option<Array>, back: &Array, a: &ArrayViewD<f32>, l: f32) {
    match (acc.as_mut(), back.as_slice(), a.as_slice()) {
        (Some(acc), Some(b), Some(x)) if acc.is_standard_layout() => {
            let o = acc.as_slice_mut().expect("standard layout");
            for ((o, &b), &x) in o.iter_mut().zip(b).zip(x) {
                *o += b * x * l;
            }
        }
        (None, Some(b), Some(x)) => {
            let v: Vec<f32> = b.iter().zip(x).map(|(&b, &x)| b * x * l).collect();
            *acc = Some(Array::from_shape_vec(a.raw_dim(), v).expect("same size"));
        }
        (Some(acc), ..) => Zip::from(acc)
            .and(back)
            .and(a)
            .for_each(|o, &b, &x| *o += b * x * l),
        (None, ..) => *acc = Some(Zip::from(back).and(a).map_collect(|&b, &x| b * x * l)),
    }
}

/// Whether `f` holds for every element (over a slice where the array is contiguous:
/// ndarray's dynamic-rank iterator is several times slower).
fn all(a: &ArrayViewD<f32>, f: impl Fn(f32) -> bool) -> bool {
    match a.as_slice_memory_order() {
        Some(v) => v
            .chunks(1024)
            .all(|c| c.iter().fold(true, |ok, &x| ok & f(x))),
        None => a.iter().all(|&x| f(x)),
    }
}

/// Whether some output with nonzero relevance exists at all, has z > 0, has z < 0 (one
/// branch-free pass, stopping once both signs are seen).
fn reached<S: Data<Elem = f32>>(r: &ArrayBase<S, IxDyn>, z: &ArrayViewD<f32>) -> [bool; 3] {
    fn visit(f: &mut [bool; 3], r: f32, z: f32) {
        let nz = r != 0.0;
        f[0] |= nz;
        f[1] |= nz & (z > 0.0);
        f[2] |= nz & (z < 0.0);
    }
    let mut f = [false; 3];
    match (r.as_slice(), z.as_slice()) {
        (Some(r), Some(z)) => {
            for (rc, zc) in r.chunks(1024).zip(z.chunks(1024)) {
                for (&r, &z) in rc.iter().zip(zc) {
                    visit(&mut f, r, z);
                }
                if f[1] && f[2] {
                    break;
                }
            }
        }
        _ => Zip::from(r).and(z).for_each(|&r, &z| visit(&mut f, r, z)),
    }
    f
}

/// The products `W' in` (summed over the unit's parts) one step needs, each computed once.
struct Products<'a, 'b> {
    plans: &'a mut Plans,
    typed: &'a TypedModel,
    graph: &'a LrpGraph,
    u: usize,
    z_shape: &'a [usize],
    inputs: &'a HashMap<In, Vec<Option<CowArray<'b, f32, IxDyn>>>>,
    /// What identifies the constant inputs (the z-box bounds) in [`Plans`]' cache.
    konst: String,
    memo: HashMap<((u8, u32), In), Option<Array>>,
}

impl Products<'_, '_> {
    /// `W' in`; None when the input is all zero (checked for a+, a-, ones and the z-box
    /// bounds; a and |a| are taken as they are).
    /// (`(w, i)` comes from [`Products::terms_of`], which maps a+ to a and drops a- on a
    /// non-negative input.)
    fn get(&mut self, w: Weight, i: In) -> Result<Option<&Array>> {
        let k = (key(w), i);
        if !self.memo.contains_key(&k) {
            let v = self.compute(w, i)?;
            self.memo.insert(k, v);
        }
        Ok(self.memo[&k].as_ref())
    }

    fn compute(&mut self, w: Weight, i: In) -> Result<Option<Array>> {
        Ok(match i {
            // Products with constant inputs do not depend on the input: cached across calls.
            In::Low | In::High | In::Ones => {
                let ck = (self.u, key(w), i, self.konst.clone());
                if let Some(c) = self.plans.konst.get(&ck) {
                    return Ok(c.clone());
                }
                let v = self.pass(w, i)?;
                self.plans.konst.insert(ck, v.clone());
                v
            }
            _ => self.pass(w, i)?,
        })
    }

    /// One forward pass of each part with weights `w` on input `i`.
    fn pass(&mut self, w: Weight, i: In) -> Result<Option<Array>> {
        let mut acc: Option<Array> = None;
        for (p, a) in self.inputs[&i].iter().enumerate() {
            let Some(a) = a else { continue };
            let y = self
                .plans
                .forward(self.typed, self.graph, self.u, p, w)?
                .run(a.view())?
                .into_shape_with_order(IxDyn(self.z_shape))
                .map_err(|e| err!(Runtime, "LRP: layer output shape: {e}"))?;
            acc = Some(match acc {
                Some(s) => s + &y,
                None => y,
            });
        }
        Ok(acc)
    }
}

struct Walk<'a> {
    model: &'a Model,
    engine: &'a Engine,
    graph: &'a LrpGraph,
    tape: &'a Tape,
}

impl<'a> Walk<'a> {
    fn view(&self, o: OutletId) -> Result<ArrayViewD<'a, f32>> {
        self.tape.view(&self.model.typed, o)
    }

    /// One layer unit: the rule's generic step. Returns the relevance of each part's input.
    ///
    /// Every weight modification but w² and 1 is alpha W + beta W+, and the terms' inputs are a,
    /// a+, a- (= a - a+) or constants, so the step needs few passes of the layer:
    ///
    /// - forward: W a is the recorded output minus the bias; W+ a is one pass; when a has both
    ///   signs, a group whose terms fold ([`fold`], gamma's) needs only |W| |a|, one pass for
    ///   both groups, and other rules W a+, W+ a+ and W+ a-; products with the z-box bounds or
    ///   an all-ones input do not depend on the input and are cached;
    /// - backward: `R_in = sum_in in * (W^T v_in + W+^T u_in)` where v and u are combinations
    ///   of the groups' normalised relevances, or for folded groups `a * W^T v + |a| * |W|^T u`;
    ///   entries with proportional combinations share one transposed pass (gamma: one pass on
    ///   a >= 0 with one group, two otherwise; z-box: two).
    fn unit(
        &self,
        plans: &mut Plans,
        u: usize,
        rule: &LrpRule,
        r: &Array,
    ) -> Result<Vec<(OutletId, Array)>> {
        let typed = &self.model.typed;
        let unit = &self.graph.units[u];
        let step = rule.step();
        let e = step.stabilizer;
        let z = self.view(unit.output)?;
        let xs: Vec<ArrayViewD<f32>> = unit
            .parts
            .iter()
            .map(|p| self.view(p.input))
            .collect::<Result<_>>()?;
        let zbox = match rule {
            LrpRule::ZBox { bounds: b } => Some(plans.zbox(u, b, || {
                unit.parts
                    .iter()
                    .zip(&xs)
                    .map(|(p, x)| {
                        let ca = match &p.core {
                            Core::Conv(c) => c
                                .pool_spec
                                .data_format
                                .shape(x.shape().to_vec())
                                .ok()
                                .map(|g| g.c_axis()),
                            Core::EinSum { .. } => (x.ndim() == 4).then_some(1),
                        };
                        bounds(self.model, b, x.shape(), ca, unit.layer)
                    })
                    .collect::<Result<Vec<_>>>()
            })?),
            _ => None,
        };
        let nonneg = xs.iter().all(|x| all(x, |v| v >= 0.0));
        let plan = plan::forward(&step, nonneg, reached(r, &z));
        // Each, per part (None: all zero, it contributes nothing; a and |a| are not checked).
        let mut inputs: HashMap<In, Vec<Option<CowArray<f32, IxDyn>>>> = HashMap::new();
        for &i in &plan.wanted {
            inputs.entry(i).or_insert_with(|| {
                xs.iter()
                    .enumerate()
                    .map(|(p, x)| {
                        let a: CowArray<f32, IxDyn> = match i {
                            In::A => return Some(x.view().into()),
                            In::Abs => return Some(x.mapv(f32::abs).into()),
                            In::Pos if nonneg => x.view().into(),
                            In::Neg if nonneg => return None,
                            In::Pos => x.mapv(pos).into(),
                            In::Neg => x.mapv(neg).into(),
                            In::Ones => x.mapv(|_| 1.0).into(),
                            In::Low => zbox.as_ref().expect("zbox bounds")[p].0.view().into(),
                            In::High => zbox.as_ref().expect("zbox bounds")[p].1.view().into(),
                        };
                        (!all(&a.view(), |v| v == 0.0)).then_some(a)
                    })
                    .collect()
            });
        }
        // Forward: each group's denominator.
        let mut products = Products {
            plans,
            typed,
            graph: self.graph,
            u,
            z_shape: z.shape(),
            inputs: &inputs,
            konst: match rule {
                LrpRule::ZBox { bounds: b } => format!("{b:?}"),
                _ => String::new(),
            },
            memo: HashMap::new(),
        };
        // Each used group's denominator as cz z + (kb b + kp b+ + ks b^2) + sum c P over
        // products that need a pass (W a is z - b), and from it the group's normalised
        // relevance ([`normalised`]): no denominator array, no z - b, no masked copy of R.
        let mut s: Vec<Option<Array>> = vec![None; step.groups.len()];
        for (g, d) in plan.denominators.iter().enumerate() {
            let Some(d) = d else { continue };
            let mut present = vec![];
            for &(c, (w, i)) in &d.products {
                if products.get(w, i)?.is_some() {
                    present.push((c, (w, i)));
                }
            }
            let prods: Vec<(f32, &Array)> = present
                .iter()
                .map(|&(c, (w, i))| (c, products.memo[&(key(w), i)].as_ref().expect("present")))
                .collect();
            s[g] = Some(normalised(
                r,
                &z,
                &unit.bias,
                d.cz,
                d.k,
                &prods,
                e,
                step.groups[g],
            ));
        }
        let plans = products.plans;
        let passes = plan::passes(&step, &plan, |i| inputs[&i].iter().any(Option::is_some));
        let mut out: Vec<Option<Array>> = vec![None; xs.len()];
        for (w, k, members) in &passes {
            let mut v: Option<Array> = None;
            for (g, &c) in k.iter().enumerate() {
                if c == 0.0 {
                    continue;
                }
                let sg = s[g].as_ref().expect("used group");
                v = Some(match v {
                    None => sg * c,
                    Some(mut v) => {
                        v.scaled_add(c, sg);
                        v
                    }
                });
            }
            let Some(v) = v else { continue };
            let parts: Vec<usize> = (0..xs.len())
                .filter(|&p| members.iter().any(|(i, _)| inputs[i][p].is_some()))
                .collect();
            let mut v = Some(v);
            for &p in &parts {
                let acc = &mut out[p];
                // (The last part takes v itself.)
                let v = if Some(&p) == parts.last() {
                    v.take().expect("v")
                } else {
                    v.clone().expect("v")
                };
                let part_shape = typed.nodes()[unit.parts[p].node].outputs[0]
                    .fact
                    .shape
                    .as_concrete()
                    .map(|s| s.to_vec())
                    .unwrap_or_default();
                let g = v
                    .into_shape_with_order(IxDyn(&part_shape))
                    .map_err(|e| err!(Runtime, "LRP: part shape: {e}"))?;
                let back = plans.backward(typed, self.graph, u, p, *w)?.run(g)?;
                for (i, l) in members {
                    if let Some(a) = &inputs[i][p] {
                        accumulate(acc, &back, &a.view(), *l);
                    }
                }
            }
        }
        Ok(unit
            .parts
            .iter()
            .zip(out)
            .zip(&xs)
            .map(|((p, r), x)| (p.input, r.unwrap_or_else(|| x.mapv(|_| 0.0))))
            .collect())
    }

    /// Whether `o` is computed from `root` by element-wise operations alone (a tree of them:
    /// the tanh GELU that the legacy exporter writes, 0.5 x (1 + tanh(k (x + c x x x))), has
    /// sums and products of two functions of x).
    fn elementwise_of(&self, o: OutletId, root: OutletId) -> bool {
        self.elementwise_within(o, root, 16)
    }

    fn elementwise_within(&self, o: OutletId, root: OutletId, depth: usize) -> bool {
        if o == root {
            return true;
        }
        if depth == 0 {
            return false;
        }
        let typed = &self.model.typed;
        let node = &typed.nodes()[o.node];
        let elementwise = self.engine.rule(o.node).is_some_and(|r| r.elementwise());
        let same = |i: OutletId| {
            typed.outlet_fact(i).ok().map(|f| f.shape.clone())
                == typed.outlet_fact(o).ok().map(|f| f.shape.clone())
        };
        let vars: Vec<OutletId> = node
            .inputs
            .iter()
            .copied()
            .filter(|i| self.engine.on_path[i.node])
            .collect();
        elementwise
            && !vars.is_empty()
            && vars
                .iter()
                .all(|&v| same(v) && self.elementwise_within(v, root, depth - 1))
    }

    /// Any other node (the table above).
    fn node(&self, n: usize, rule: &Rule, r: Array) -> Result<Vec<Option<Array>>> {
        let typed = &self.model.typed;
        let node = &typed.nodes()[n];
        let wants: Vec<bool> = node
            .inputs
            .iter()
            .map(|i| self.engine.on_path[i.node])
            .collect();
        // Values are read only by the rules that need them ([`reads`] lists the same).
        let shapes: Vec<Vec<usize>> = node
            .inputs
            .iter()
            .map(|&i| shape_of(typed, i))
            .collect::<Result<_>>()?;
        let x = |i: usize| self.view(node.inputs[i]);
        let y = || self.view(OutletId::new(n, 0));
        let vars = wants.iter().filter(|&&w| w).count();
        let pass = || -> Vec<Option<Array>> {
            wants
                .iter()
                .zip(&shapes)
                .map(|(&w, s)| w.then(|| unbroadcast(r.clone(), s)))
                .collect()
        };
        let unsupported = |what: &str| {
            err!(
                UnsupportedOperator,
                "LRP: no rule for {what} at node '{}'",
                node.name
            )
        };
        // The gradient (as Zennit on what has no rule of its own): only what the rule reads (a
        // Gather's indices or a Where's condition are not float values).
        let gradient = |r: Array| -> Result<Vec<Option<Array>>> {
            let reads = rule.reads(&wants);
            let views: Vec<Option<ArrayViewD<f32>>> = (0..node.inputs.len())
                .map(|i| reads.inputs[i].then(|| x(i)).transpose())
                .collect::<Result<_>>()?;
            let y = if reads.output { Some(y()?) } else { None };
            let ctx = Ctx {
                inputs: &views,
                output: y.as_ref().map(|y| y.view()),
                shapes: &shapes,
                wants: &wants,
                mode: Mode::Gradient,
            };
            rule.backward(&ctx, r)
                .map_err(|e| err!(Runtime, "LRP at node '{}': {e}", node.name))
        };
        Ok(match rule.lrp(vars) {
            Lrp::Layer => return Err(unsupported("a convolution or product that is not a layer")),
            _ if self.graph.gradient[n] => gradient(r)?,
            Lrp::Sum { sub } => {
                let s = divide(r.clone(), &y()?, STABILIZER);
                (0..2)
                    .map(|i| {
                        let sign = if sub && i == 1 { -1.0 } else { 1.0 };
                        Ok(Some(unbroadcast(&s * &x(i)? * sign, &shapes[i])))
                    })
                    .collect::<Result<_>>()?
            }
            Lrp::Unchanged => pass(),
            // A gated activation x * f(x) with f element-wise (HardSwish exported as
            // x * HardSigmoid(x), SiLU as x * Sigmoid(x)) is one activation: relevance to x.
            Lrp::Product
                if (0..2).any(|i| self.elementwise_of(node.inputs[1 - i], node.inputs[i])) =>
            {
                let i = (0..2)
                    .find(|&i| self.elementwise_of(node.inputs[1 - i], node.inputs[i]))
                    .expect("found above");
                let mut v = vec![None, None];
                v[i] = Some(unbroadcast(r, &shapes[i]));
                v
            }
            Lrp::Pool => {
                // The pool's own backward (it reads nothing) spreads R / stab(pool(x)).
                let s = divide(r.clone(), &y()?, STABILIZER);
                let spread = gradient(s)?.swap_remove(0).expect("the pool's input");
                vec![Some(spread * &x(0)?)]
            }
            Lrp::Reduce => {
                // A global average pool is Reduce<Sum> then Mul by 1/HW: normalise by the mean.
                let c = pool::scale_after(typed, n);
                let s = divide(&r * c, &(&y()? * c), STABILIZER);
                let x0 = x(0)?;
                let s = spread(&s, x0.shape()).map_err(|e| err!(Runtime, "LRP: {e}"))?;
                vec![Some(s * &x0)]
            }
            Lrp::Product | Lrp::Gradient | Lrp::GradientKeepingAll => gradient(r)?,
        })
    }
}

/// The activations the walk reads (layers' inputs and outputs, and what the node rules above
/// read): the LRP forward run keeps these and lets tract fuse the rest.
pub fn reads(model: &Model, engine: &Engine, graph: &LrpGraph) -> Vec<OutletId> {
    let typed = &model.typed;
    let walk_view = |o: OutletId, out: &mut Vec<OutletId>| out.push(o);
    let mut out = vec![engine.output, engine.source];
    for unit in &graph.units {
        walk_view(unit.output, &mut out);
        out.extend(unit.parts.iter().map(|p| p.input));
    }
    for &n in &engine.order {
        if n == engine.source.node || graph.unit_at.contains_key(&n) || graph.inside[n] {
            continue;
        }
        let Some(rule) = engine.rule(n) else { continue };
        let node = &typed.nodes()[n];
        let vars = node
            .inputs
            .iter()
            .filter(|i| engine.on_path[i.node])
            .count();
        let y = OutletId::new(n, 0);
        let wants: Vec<bool> = node.inputs.iter().map(|i| engine.on_path[i.node]).collect();
        let r = rule.reads(&wants);
        let read_by_rule = |out: &mut Vec<OutletId>| {
            out.extend(
                node.inputs
                    .iter()
                    .zip(&r.inputs)
                    .filter(|(_, &k)| k)
                    .map(|(&i, _)| i),
            );
            if r.output {
                out.push(y);
            }
        };
        match rule.lrp(vars) {
            _ if graph.gradient[n] => read_by_rule(&mut out),
            Lrp::Unchanged => {}
            Lrp::Gradient => read_by_rule(&mut out),
            Lrp::Pool | Lrp::Reduce => {
                out.push(node.inputs[0]);
                out.push(y);
            }
            // Every other walk reads both inputs and the output (the gated activation reads
            // nothing, but which products are gates is known only while walking).
            Lrp::Layer | Lrp::Sum { .. } | Lrp::Product | Lrp::GradientKeepingAll => {
                out.extend(node.inputs.iter().copied());
                out.push(y);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|o| seen.insert(*o));
    out
}

/// Relevance at the input for class `target`, with `rules[i]` the rule of layer i.
#[allow(clippy::too_many_arguments)]
pub fn explain(
    model: &Model,
    engine: &Engine,
    graph: &LrpGraph,
    plans: &mut Plans,
    tape: &Tape,
    target: usize,
    rules: &[LrpRule],
) -> Result<(Array, Conservation)> {
    let typed = &model.typed;
    let walk = Walk {
        model,
        engine,
        graph,
        tape,
    };
    let out = walk.view(engine.output)?;
    let score = *out
        .iter()
        .nth(target)
        .ok_or_else(|| err!(Parameter, "target class {target} out of range"))?;
    let mut seed = out.mapv(|_| 0.0);
    *seed.iter_mut().nth(target).expect("in range") = score;
    let mut rel: HashMap<OutletId, Array> = HashMap::new();
    rel.insert(engine.output, seed);
    let mut per_layer: Vec<LayerRelevance> = graph
        .layers
        .iter()
        .map(|l| LayerRelevance {
            layer: l.layer,
            name: l.name.clone(),
            rule: rules[l.layer].to_string(),
            relevance_in: 0.0,
            relevance_out: 0.0,
        })
        .collect();
    let add = |rel: &mut HashMap<OutletId, Array>, o: OutletId, r: Array| match rel.get_mut(&o) {
        Some(acc) => *acc += &r,
        None => {
            rel.insert(o, r);
        }
    };
    for &n in engine.order.iter().rev() {
        if n == engine.source.node {
            continue;
        }
        if let Some(&u) = graph.unit_at.get(&n) {
            let Some(r) = rel.remove(&OutletId::new(n, 0)) else {
                continue;
            };
            let layer = graph.units[u].layer;
            let outs = walk.unit(plans, u, &rules[layer], &r).map_err(|e| {
                crate::Error::new(e.kind, format!("{} (layer {layer})", e.message()))
            })?;
            per_layer[layer].relevance_in += sum(&r);
            for (o, ri) in outs {
                per_layer[layer].relevance_out += sum(&ri);
                add(&mut rel, o, ri);
            }
            continue;
        }
        if graph.inside[n] {
            continue;
        }
        let Some(rule) = engine.rule(n) else { continue };
        let Some(r) = rel.remove(&OutletId::new(n, 0)) else {
            continue;
        };
        let node = &typed.nodes()[n];
        let rin = walk.node(n, rule, r)?;
        for (&i, ri) in node.inputs.iter().zip(rin) {
            if let Some(ri) = ri {
                if engine.on_path[i.node] {
                    add(&mut rel, i, ri);
                }
            }
        }
    }
    let r = match rel.remove(&engine.source) {
        Some(r) => r,
        None => walk.view(engine.source)?.mapv(|_| 0.0),
    };
    let relevance_sum = sum(&r);
    let score = score as f64;
    Ok((r, Conservation::new(score, relevance_sum, per_layer)))
}
