//! The reverse pass over tract's decluttered `TypedModel`.
//!
//! tract has no autodiff, so the engine runs a forward pass that keeps the activations the
//! backward rules read (the [`Tape`]; [`Capture::All`] keeps every one), then walks the graph
//! backwards applying one rule per operator ([`ops`]). All
//! that depends only on the model — the rule of every node, the capturing forward plan, the
//! small tract plans that transpose convolutions and matrix products — is built once in
//! [`Engine::new`] and reused for every image, class and method. Every plan goes through
//! [`crate::kernels::optimize`], which first swaps some of tract's operators for faster ones.

pub(crate) mod linear;
pub mod ops;
mod window;

use crate::array::{tensor_of, Array};
use crate::err;
use crate::error::{tract_err, Result};
use crate::model::Model;
pub use ops::Mode;
use ops::{Ctx, Reads, Rule};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tract_onnx::prelude::tract_ndarray::{ArrayViewD, IxDyn};
use tract_onnx::tract_core::internal::*;

/// The activations of one forward run, by decluttered outlet.
pub struct Tape {
    values: HashMap<OutletId, TValue>,
    output: OutletId,
}

impl Tape {
    /// Whether the run kept the value at `o`.
    pub fn has(&self, o: OutletId) -> bool {
        self.values.contains_key(&o)
    }

    pub(crate) fn view<'a>(
        &'a self,
        model: &'a TypedModel,
        o: OutletId,
    ) -> Result<ArrayViewD<'a, f32>> {
        if let Some(v) = self.values.get(&o) {
            return v
                .to_plain_array_view::<f32>()
                .map_err(tract_err("reading an activation"));
        }
        // Constants are not captured: they live in the graph's facts.
        let k = model.outlet_fact(o).ok().and_then(|f| f.konst.as_ref());
        match k {
            Some(k) => k
                .to_plain_array_view::<f32>()
                .map_err(tract_err("reading a constant")),
            None => Err(err!(
                Runtime,
                "no value recorded for node '{}'",
                model.nodes()[o.node].name
            )),
        }
    }

    /// The class scores of this run, flattened.
    pub fn logits(&self) -> Result<Vec<f32>> {
        let v = self
            .values
            .get(&self.output)
            .ok_or_else(|| err!(Runtime, "no output recorded"))?;
        Ok(v.to_plain_array_view::<f32>()
            .map_err(tract_err("reading the scores"))?
            .iter()
            .copied()
            .collect())
    }

    /// The activation at `o` (an outlet of the decluttered graph).
    pub fn activation(&self, model: &Model, o: OutletId) -> Result<Array> {
        Ok(self.view(&model.typed, o)?.to_owned())
    }
}

/// Which activations a forward run keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capture {
    /// Those the backward rules read ([`Rule::reads`]): tract still fuses the rest.
    Needed,
    /// Every activation that depends on the input.
    All,
    /// These (and the scores), e.g. what LRP's walk reads: tract fuses everything else.
    Outlets(Vec<OutletId>),
}

/// One node's rule and what it is given.
struct Step {
    rule: Rule,
    reads: Reads,
    /// Which inputs depend on the model input.
    wants: Vec<bool>,
    shapes: Vec<Vec<usize>>,
    /// Where the rule reads the node's output ([`Rule::output_outlet`]).
    output_at: OutletId,
}

/// The per-model plans of the reverse pass.
pub struct Engine {
    steps: Vec<Option<Step>>,
    pub(crate) order: Vec<usize>,
    /// Outlets that depend on the input: the only ones that receive gradients.
    pub(crate) on_path: Vec<bool>,
    pub(crate) source: OutletId,
    pub(crate) output: OutletId,
    captured: Vec<OutletId>,
    capture: Arc<TypedSimplePlan>,
    /// Capturing plans that also keep one more outlet (a layer for Grad-CAM), built on demand.
    keeping: Mutex<HashMap<OutletId, (Vec<OutletId>, Arc<TypedSimplePlan>)>>,
    /// Where the input's affine prefix ends ([`Engine::prefix`]).
    prefix: Option<OutletId>,
    /// The forward plans split at `prefix`, built on demand.
    split: Mutex<Option<Arc<Split>>>,
}

/// The forward pass cut in two at the end of the affine prefix.
struct Split {
    /// The input to the prefix's end.
    head: Arc<TypedSimplePlan>,
    /// The prefix's end to the captured outlets (`outlets`).
    tail: Arc<TypedSimplePlan>,
    outlets: Vec<OutletId>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Engine({} nodes)", self.steps.len())
    }
}

impl Engine {
    /// Builds every plan. Fails with `UnsupportedOperator`, naming the first node the engine
    /// cannot differentiate, before any computation.
    pub fn new(model: &Model) -> Result<Engine> {
        Engine::with_capture(model, Capture::Needed)
    }

    /// As [`Engine::new`], keeping `capture` activations in every forward run.
    pub fn with_capture(model: &Model, capture: Capture) -> Result<Engine> {
        let typed = &model.typed;
        let source = typed
            .input_outlets()
            .map_err(tract_err("reading the model input"))?[0];
        let output = typed
            .output_outlets()
            .map_err(tract_err("reading the model output"))?[0];
        let order = typed
            .eval_order()
            .map_err(tract_err("ordering the model"))?;
        let mut depends = vec![false; typed.nodes().len()];
        for &n in &order {
            let node = &typed.nodes()[n];
            depends[n] = n == source.node || node.inputs.iter().any(|i| depends[i.node]);
        }
        // Only nodes between the input and the scores need a rule.
        let mut feeds = vec![false; typed.nodes().len()];
        feeds[output.node] = true;
        for &n in order.iter().rev() {
            if feeds[n] {
                for i in &typed.nodes()[n].inputs {
                    feeds[i.node] = true;
                }
            }
        }
        let mut steps = Vec::with_capacity(typed.nodes().len());
        for node in typed.nodes() {
            let needed = depends[node.id] && feeds[node.id] && node.id != source.node;
            steps.push(if needed {
                let rule = ops::classify(typed, node, &depends)?;
                let wants: Vec<bool> = node.inputs.iter().map(|i| depends[i.node]).collect();
                let shapes = node
                    .inputs
                    .iter()
                    .map(|&i| {
                        let f = typed.outlet_fact(i).map_err(tract_err("reading a shape"))?;
                        f.shape.as_concrete().map(|s| s.to_vec()).ok_or_else(|| {
                            err!(
                                UnsupportedOperator,
                                "symbolic shape at node '{}'",
                                node.name
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Some(Step {
                    reads: rule.reads(&wants),
                    output_at: rule.output_outlet(typed, node),
                    rule,
                    wants,
                    shapes,
                })
            } else {
                None
            });
        }
        let mut captured: Vec<OutletId> = match capture {
            Capture::All => order
                .iter()
                .filter(|&&n| depends[n] && n != source.node)
                .flat_map(|&n| {
                    (0..typed.nodes()[n].outputs.len()).map(move |s| OutletId::new(n, s))
                })
                .collect(),
            Capture::Outlets(list) => {
                let mut keep = vec![output];
                keep.extend(
                    list.iter()
                        .copied()
                        .filter(|o| depends[o.node] && o.node != source.node),
                );
                keep
            }
            Capture::Needed => {
                let mut keep = vec![output];
                for &n in &order {
                    let Some(step) = &steps[n] else { continue };
                    let node = &typed.nodes()[n];
                    keep.extend(
                        node.inputs
                            .iter()
                            .zip(&step.reads.inputs)
                            .filter(|(_, &r)| r)
                            .map(|(&i, _)| i),
                    );
                    if step.reads.output {
                        keep.push(step.output_at);
                    }
                }
                keep.retain(|o| depends[o.node] && o.node != source.node);
                keep
            }
        };
        let mut seen = std::collections::HashSet::new();
        captured.retain(|o| seen.insert(*o));
        let capture = Self::capture_plan(typed, &captured)?;
        let prefix = affine_prefix(typed, &steps, source, output);
        Ok(Engine {
            steps,
            order,
            on_path: depends,
            source,
            output,
            captured,
            capture,
            keeping: Mutex::new(HashMap::new()),
            prefix,
            split: Mutex::new(None),
        })
    }

    /// The end of the input's affine prefix: the outlet after the chain of nodes the input
    /// goes through first that are affine in it and whose backward reads no activation (a
    /// first convolution with its bias, a normalisation by constants), or None.
    ///
    /// Methods that run many passes use it twice. Along a line x' + a (x - x') (integrated
    /// gradients) the prefix's value is (1 - a) p(x') + a p(x), so the prefix runs twice instead
    /// of once per step ([`Engine::prefix_value`], [`Engine::forward_from_prefix`]). And a sum
    /// of gradients at the input is the prefix's transpose applied to the sum of the gradients
    /// at its end, so the prefix's backward runs once ([`Engine::prefix_backward`]).
    pub fn prefix(&self) -> Option<OutletId> {
        self.prefix
    }

    fn prefix_at(&self) -> Result<OutletId> {
        self.prefix
            .ok_or_else(|| err!(Runtime, "internal: this model has no affine prefix"))
    }

    fn split(&self, model: &Model) -> Result<Arc<Split>> {
        let p = self.prefix_at()?;
        let mut cache = self
            .split
            .lock()
            .map_err(|_| err!(Runtime, "a previous forward pass panicked"))?;
        if let Some(s) = &*cache {
            return Ok(s.clone());
        }
        let typed = &model.typed;
        let head = Self::capture_plan(typed, &[p])?;
        // The tail: a copy of the model whose input is a new source in place of p. What the
        // prefix computed before p is dropped by the optimiser as unreachable.
        let mut prefix_nodes = vec![false; typed.nodes().len()];
        let mut o = p;
        while o != self.source {
            prefix_nodes[o.node] = true;
            o = typed.nodes()[o.node]
                .inputs
                .iter()
                .copied()
                .find(|i| self.on_path[i.node])
                .ok_or_else(|| err!(Runtime, "internal: broken affine prefix"))?;
        }
        let outlets: Vec<OutletId> = self
            .captured
            .iter()
            .copied()
            .filter(|o| !prefix_nodes[o.node])
            .collect();
        let plan = (|| -> TractResult<_> {
            let mut tail = typed.clone();
            let fact = typed.outlet_fact(p)?.without_value();
            let name = format!("{}.prefix", typed.nodes()[p.node].name);
            let src = tail.add_source(name, fact)?;
            for inlet in typed.outlet_successors(p).to_vec() {
                tail.add_edge(src, inlet)?;
            }
            tail.set_input_outlets(&[src])?;
            tail.select_output_outlets(&outlets)?;
            SimplePlan::new(crate::kernels::optimize(tail)?)
        })()
        .map_err(tract_err(
            "planning the forward pass after the affine prefix",
        ))?;
        let split = Arc::new(Split {
            head,
            tail: plan,
            outlets,
        });
        *cache = Some(split.clone());
        Ok(split)
    }

    /// The value at [`Engine::prefix`] for the input `x`.
    pub fn prefix_value(&self, model: &Model, x: &Array) -> Result<Array> {
        let split = self.split(model)?;
        let input = tensor_of(x.view())
            .map_err(tract_err("reading the input"))?
            .into_tvalue();
        let out = run_plan(&split.head, input)?;
        let v = out[0]
            .to_plain_array_view::<f32>()
            .map_err(tract_err("reading an activation"))?;
        Ok(v.to_owned())
    }

    /// The forward pass from the value `v` at [`Engine::prefix`] on, keeping what
    /// [`Engine::gradient`] down to the prefix (`at = prefix()`) reads.
    pub fn forward_from_prefix(&self, model: &Model, v: Array) -> Result<Tape> {
        let split = self.split(model)?;
        let p = self.prefix_at()?;
        let input = v.into_tensor().into_tvalue();
        let outs = run_plan(&split.tail, input.clone())?;
        let mut values: HashMap<OutletId, TValue> =
            split.outlets.iter().copied().zip(outs).collect();
        values.insert(p, input);
        self.tape(values)
    }

    /// The gradient at the input given the gradient `g` at [`Engine::prefix`]: the prefix's
    /// transpose, which reads no activation.
    pub fn prefix_backward(&self, model: &Model, g: Array) -> Result<Array> {
        let p = self.prefix_at()?;
        let none = Tape {
            values: HashMap::new(),
            output: self.output,
        };
        self.walk(&model.typed, &none, p, g, self.source, Mode::Gradient)
    }

    fn capture_plan(typed: &TypedModel, outlets: &[OutletId]) -> Result<Arc<TypedSimplePlan>> {
        let mut cap = typed.clone();
        cap.select_output_outlets(outlets)
            .map_err(tract_err("planning the forward pass"))?;
        let cap =
            crate::kernels::optimize(cap).map_err(tract_err("optimizing the forward pass"))?;
        SimplePlan::new(cap).map_err(tract_err("planning the forward pass"))
    }

    /// A forward pass that keeps the activations the backward pass reads.
    pub fn forward(&self, x: &Array) -> Result<Tape> {
        self.run_capture(&self.capture, &self.captured, x)
    }

    /// A forward pass that also keeps the value at `keep` (a layer to explain).
    pub fn forward_keeping(&self, model: &Model, x: &Array, keep: OutletId) -> Result<Tape> {
        if self.captured.contains(&keep) || keep == self.source {
            return self.forward(x);
        }
        let (outlets, plan) = {
            let mut cache = self
                .keeping
                .lock()
                .map_err(|_| err!(Runtime, "a previous forward pass panicked"))?;
            if let Some(hit) = cache.get(&keep) {
                hit.clone()
            } else {
                let mut outlets = self.captured.clone();
                outlets.push(keep);
                let plan = Self::capture_plan(&model.typed, &outlets)?;
                cache.insert(keep, (outlets.clone(), plan.clone()));
                (outlets, plan)
            }
        };
        self.run_capture(&plan, &outlets, x)
    }

    fn run_capture(
        &self,
        plan: &Arc<TypedSimplePlan>,
        outlets: &[OutletId],
        x: &Array,
    ) -> Result<Tape> {
        let input = tensor_of(x.view())
            .map_err(tract_err("reading the input"))?
            .into_tvalue();
        let outs = run_plan(plan, input.clone())?;
        let mut values: HashMap<OutletId, TValue> = outlets.iter().copied().zip(outs).collect();
        values.insert(self.source, input);
        self.tape(values)
    }

    fn tape(&self, values: HashMap<OutletId, TValue>) -> Result<Tape> {
        let tape = Tape {
            values,
            output: self.output,
        };
        if tape.logits()?.iter().any(|v| !v.is_finite()) {
            return Err(err!(NonFinite, "the model produced NaN or infinite scores"));
        }
        Ok(tape)
    }

    /// Whether the model has a ReLU (a Max(x, 0) not clipped: what guided backprop modifies).
    pub fn has_relu(&self) -> bool {
        self.steps.iter().flatten().any(|s| {
            matches!(
                s.rule,
                Rule::Select(ops::select::Select::Max { relu: true, .. })
            )
        })
    }

    /// The backward rule of node `n` (None for constants and nodes off the input's path).
    pub(crate) fn rule(&self, n: usize) -> Option<&Rule> {
        self.steps[n].as_ref().map(|s| &s.rule)
    }

    /// d score\[class\] / d (the value at `at`, default: the input), for the run recorded in
    /// `tape`.
    pub fn gradient(
        &self,
        model: &Model,
        tape: &Tape,
        class: usize,
        at: Option<OutletId>,
        mode: Mode,
    ) -> Result<Array> {
        let typed = &model.typed;
        let at = at.unwrap_or(self.source);
        let out_shape = tape.view(typed, self.output)?.shape().to_vec();
        let mut seed = Array::zeros(IxDyn(&out_shape));
        let n = seed.len();
        *seed.iter_mut().nth(class).ok_or_else(|| {
            err!(
                Parameter,
                "target class {class} out of range (the model has {n} classes)"
            )
        })? = 1.0;
        self.walk(typed, tape, self.output, seed, at, mode)
    }

    /// The gradient at `at` given the gradient `seed` at `from` (downstream of `at`).
    fn walk(
        &self,
        typed: &TypedModel,
        tape: &Tape,
        from: OutletId,
        seed: Array,
        at: OutletId,
        mode: Mode,
    ) -> Result<Array> {
        let mut grads: HashMap<OutletId, Array> = HashMap::new();
        grads.insert(from, seed);
        for &n in self.order.iter().rev() {
            if n == at.node {
                break;
            }
            let Some(step) = &self.steps[n] else { continue };
            let node = &typed.nodes()[n];
            let Some(g) = grads.remove(&OutletId::new(n, 0)) else {
                continue;
            };
            let inputs = node
                .inputs
                .iter()
                .zip(&step.reads.inputs)
                .map(|(&i, &r)| r.then(|| tape.view(typed, i)).transpose())
                .collect::<Result<Vec<_>>>()?;
            let output = step
                .reads
                .output
                .then(|| tape.view(typed, step.output_at))
                .transpose()?;
            let ctx = Ctx {
                inputs: &inputs,
                output,
                shapes: &step.shapes,
                wants: &step.wants,
                mode,
            };
            let gin = step
                .rule
                .backward(&ctx, g)
                .map_err(|e| err!(Runtime, "backward pass at node '{}': {}", node.name, e))?;
            for (input, gi) in node.inputs.iter().zip(gin) {
                let Some(gi) = gi else { continue };
                match grads.get_mut(input) {
                    Some(acc) => *acc += &gi,
                    None => {
                        grads.insert(*input, gi);
                    }
                }
            }
        }
        match grads.remove(&at) {
            Some(g) => Ok(g),
            // The score does not depend on it at all.
            None => {
                let fact = typed
                    .outlet_fact(at)
                    .map_err(tract_err("reading a shape"))?;
                let shape = fact
                    .shape
                    .as_concrete()
                    .ok_or_else(|| err!(Runtime, "symbolic shape"))?;
                Ok(Array::zeros(IxDyn(shape)))
            }
        }
    }

    /// The decluttered outlet holding the ONNX tensor `name`, and that tensor's ONNX shape.
    ///
    /// Decluttering renames nodes (a Relu becomes `<node>.low`, a Clip `<node>.min` and
    /// `<node>.max`) and may drop the batch axis, so a name is matched by its outlet label
    /// first, then by the producing ONNX node's name as a prefix, with the same element count.
    pub fn resolve_layer(&self, model: &Model, name: &str) -> Result<(OutletId, Vec<usize>)> {
        let typed = &model.typed;
        let onnx = model.nodes.iter().find(|n| n.outputs.iter().any(|o| o == name)).ok_or_else(|| {
            err!(Parameter, "unknown layer '{name}': no tensor of that name (see `saliency info` for the spatial layers)")
        })?;
        let shape = model
            .shapes
            .get(name)
            .cloned()
            .ok_or_else(|| err!(Parameter, "layer '{name}' has no known shape"))?;
        let count: usize = shape.iter().product();
        // The layer's values: the ONNX shape but for axes of size 1, or with one axis moved (in
        // wasm the decluttered graph held ReXNet's squeeze-excite product channels-last, [10,
        // 10, 570] for [1, 570, 10, 10]; `to_onnx_layout` moves it back), not merely as many
        // values (read as [1, C, H, W], another layout would be scrambled).
        let fits = |o: OutletId| {
            self.on_path[o.node]
                && typed.outlet_fact(o).ok().and_then(|f| {
                    f.shape
                        .as_concrete()
                        .map(|s| layout_move(s, &shape).is_some())
                }) == Some(true)
        };
        for node in typed.nodes() {
            for slot in 0..node.outputs.len() {
                let o = OutletId::new(node.id, slot);
                if typed.outlet_label(o) == Some(name) && fits(o) {
                    return Ok((o, shape));
                }
            }
        }
        let prefix = format!("{}.", onnx.name);
        let mut candidates: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|&n| {
                let nn = &typed.nodes()[n].name;
                (*nn == onnx.name || nn.starts_with(&prefix)) && fits(OutletId::new(n, 0))
            })
            .collect();
        if candidates.is_empty() {
            candidates = self.fused_into(model, onnx, &fits);
        }
        if candidates.is_empty() {
            // A constant multiple of another tensor (GELU's final x * 0.5 moved into the pool
            // after it): Grad-CAM and CAM maps do not change when a layer is scaled (the
            // gradient scales inversely), so that other tensor stands in for it.
            let constant = |t: &String| {
                model.initializers.contains(t)
                    || model
                        .nodes
                        .iter()
                        .any(|n| n.op_type == "Constant" && n.outputs.contains(t))
            };
            let vars: Vec<&String> = onnx.inputs.iter().filter(|t| !constant(t)).collect();
            let scale = onnx.op_type == "Mul"
                || (onnx.op_type == "Div" && onnx.inputs.first() == vars.first().copied());
            if scale && vars.len() == 1 {
                let scaled = model.shapes.get(vars[0].as_str());
                if scaled.is_some_and(|s| s.iter().product::<usize>() == count) {
                    return self.resolve_layer(model, vars[0]).map(|(o, _)| (o, shape));
                }
            }
        }
        // The last of a chain (Clip.min -> Clip.max) is the tensor itself.
        let last: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&c| {
                !candidates
                    .iter()
                    .any(|&d| typed.nodes()[d].inputs.iter().any(|i| i.node == c))
            })
            .collect();
        match last.as_slice() {
            [n] => Ok((OutletId::new(*n, 0), shape)),
            [] => Err(err!(
                Parameter,
                "layer '{name}' was fused away when the model was simplified; choose another layer"
            )),
            _ => Err(err!(
                Parameter,
                "layer '{name}' was split when the model was simplified; choose another layer"
            )),
        }
    }
}

impl Engine {
    /// Where tract fused the ONNX node `onnx` with nodes before it into one (SiLU's Sigmoid and
    /// Mul into `<sigmoid>.silu`; GELU's Erf or Tanh pattern into `<erf>.gelu_exact`, ...): a
    /// node named `<ancestor>.<suffix>` after one of `onnx`'s ancestors (up to eight steps up),
    /// of the tensor's size, whose output goes on to the nodes that read `onnx`'s tensor in the
    /// file. That check keeps a fusion that ended elsewhere from standing in for the tensor.
    fn fused_into(
        &self,
        model: &Model,
        onnx: &crate::model::OnnxNode,
        fits: &dyn Fn(OutletId) -> bool,
    ) -> Vec<usize> {
        let typed = &model.typed;
        let producer = |t: &String| model.nodes.iter().find(|n| n.outputs.contains(t));
        let mut ancestors: Vec<&crate::model::OnnxNode> = vec![];
        let mut frontier = vec![onnx];
        for _ in 0..8 {
            let next: Vec<_> = frontier
                .iter()
                .flat_map(|n| n.inputs.iter().filter_map(producer))
                .filter(|p| !ancestors.iter().any(|a| a.index == p.index))
                .collect();
            ancestors.extend(next.iter().copied());
            frontier = next;
        }
        let named = |typed_name: &str, onnx_name: &str| {
            typed_name == onnx_name
                || typed_name
                    .strip_prefix(onnx_name)
                    .is_some_and(|r| r.starts_with('.'))
        };
        let readers: Vec<&crate::model::OnnxNode> = model
            .nodes
            .iter()
            .filter(|n| n.inputs.iter().any(|i| onnx.outputs.contains(i)))
            .collect();
        self.order
            .iter()
            .copied()
            .filter(|&n| {
                let node = &typed.nodes()[n];
                let fused = ancestors.iter().any(|a| {
                    node.name
                        .strip_prefix(a.name.as_str())
                        .is_some_and(|r| r.starts_with('.'))
                });
                let feeds_readers = !readers.is_empty()
                    && readers.iter().all(|r| {
                        typed
                            .outlet_successors(OutletId::new(n, 0))
                            .iter()
                            .any(|s| named(&typed.nodes()[s.node].name, &r.name))
                    });
                fused && feeds_readers && fits(OutletId::new(n, 0))
            })
            .collect()
    }
}

/// How a value of shape `got` holds a tensor of shape `want`: the same axes but for those of
/// size 1, with at most one of them moved (`Some(None)`: none moved; `Some(Some((from,
/// to)))`: axis `from` of `want`'s axes of size > 1 sits at `to` in `got`'s), or None.
pub(crate) fn layout_move(got: &[usize], want: &[usize]) -> Option<Option<(usize, usize)>> {
    let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
    let (g, w) = (squeeze(got), squeeze(want));
    if g == w {
        return Some(None);
    }
    if g.len() != w.len() {
        return None;
    }
    for from in 0..w.len() {
        for to in 0..w.len() {
            let mut m = w.clone();
            let d = m.remove(from);
            m.insert(to, d);
            if m == g {
                return Some(Some((from, to)));
            }
        }
    }
    None
}

/// A layer's value `t` in the layer's ONNX shape `want` (see [`layout_move`]).
pub(crate) fn to_onnx_layout(t: ArrayViewD<f32>, want: &[usize]) -> Result<Array> {
    let moved = layout_move(t.shape(), want).ok_or_else(|| {
        err!(
            Runtime,
            "internal: a layer of shape {want:?} was recorded as {:?}",
            t.shape()
        )
    })?;
    let squeezed: Vec<usize> = t.shape().iter().copied().filter(|&d| d != 1).collect();
    let mut v = t
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&squeezed))
        .map_err(|e| err!(Runtime, "internal: {e}"))?;
    if let Some((from, to)) = moved {
        let mut axes: Vec<usize> = (0..squeezed.len()).collect();
        let a = axes.remove(to);
        axes.insert(from, a);
        v = v.permuted_axes(IxDyn(&axes));
    }
    v.as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(want))
        .map_err(|e| err!(Runtime, "internal: {e}"))
}

/// Runs a capturing plan: every value in the shape its fact gives, or an error (a rule must
/// never read a value in another layout than it was planned for).
fn run_plan(plan: &Arc<TypedSimplePlan>, input: TValue) -> Result<TVec<TValue>> {
    let outs = plan
        .run(tvec!(input))
        .map_err(tract_err("forward pass failed"))?;
    let model = plan.model();
    for (i, v) in outs.iter().enumerate() {
        let fact = model
            .output_fact(i)
            .map_err(tract_err("reading the forward pass"))?;
        if fact.shape.as_concrete().is_some_and(|s| s != v.shape()) {
            let o = model
                .output_outlets()
                .map_err(tract_err("reading the forward pass"))?[i];
            return Err(err!(
                Runtime,
                "internal: the forward pass returned {:?} at node '{}', whose shape is {:?}",
                v.shape(),
                model.nodes()[o.node].name,
                fact.shape
            ));
        }
    }
    Ok(outs)
}

/// See [`Engine::prefix`]: follows the input through nodes that are its only consumer, affine in
/// it ([`Rule::affine`]) and read no activation backwards, never the scores' node; the outlet of
/// the last convolution or matrix product among them, if any.
fn affine_prefix(
    typed: &TypedModel,
    steps: &[Option<Step>],
    source: OutletId,
    output: OutletId,
) -> Option<OutletId> {
    let mut at = source;
    // The end of the prefix's last product: what follows it (a reshape) saves nothing.
    let mut end = None;
    while let [inlet] = typed.outlet_successors(at) {
        let n = inlet.node;
        let Some(step) = &steps[n] else { break };
        let wanted: Vec<usize> = (0..step.wants.len()).filter(|&i| step.wants[i]).collect();
        let reads_activation = step.reads.output
            || step
                .reads
                .inputs
                .iter()
                .zip(&typed.nodes()[n].inputs)
                .any(|(&r, &i)| r && typed.outlet_fact(i).map_or(true, |f| f.konst.is_none()));
        if n == output.node
            || typed.nodes()[n].outputs.len() != 1
            || wanted != [inlet.slot]
            || !step.rule.affine(inlet.slot)
            || reads_activation
        {
            break;
        }
        at = OutletId::new(n, 0);
        if matches!(step.rule, Rule::Layer(_)) {
            end = Some(at);
        }
    }
    end
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn a_layer_recorded_channels_last_is_read_back_in_its_onnx_layout() {
        // [1, C=3, H=2, W=2] recorded as [H, W, C] (tract's channels-last in wasm).
        let nchw = Array::from_shape_fn(IxDyn(&[1, 3, 2, 2]), |i| {
            (i[1] * 100 + i[2] * 10 + i[3]) as f32
        });
        let hwc = nchw
            .view()
            .into_shape_with_order(IxDyn(&[3, 2, 2]))
            .unwrap()
            .permuted_axes(IxDyn(&[1, 2, 0]))
            .as_standard_layout()
            .into_owned();
        assert_eq!(layout_move(hwc.shape(), &[1, 3, 2, 2]), Some(Some((0, 2))));
        assert_eq!(to_onnx_layout(hwc.view(), &[1, 3, 2, 2]).unwrap(), nchw);
        // The same layout without the batch axis, and a shape that is no layout of it.
        assert_eq!(layout_move(&[3, 2, 2], &[1, 3, 2, 2]), Some(None));
        assert_eq!(layout_move(&[6, 2], &[1, 3, 2, 2]), None);
        assert!(to_onnx_layout(Array::zeros(IxDyn(&[6, 2])).view(), &[1, 3, 2, 2]).is_err());
    }
}
