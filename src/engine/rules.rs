//! The backward rule of every operator the engine supports, as tract's decluttered graph
//! spells it. [`classify`] reads a node once, at plan time (so an unsupported operator is
//! reported before any computation); [`Rule::backward`] maps the gradient of the node's
//! output to the gradients of its inputs.
//!
//! | decluttered op | what it is in ONNX | backward |
//! | --- | --- | --- |
//! | `Conv` | Conv (any stride, padding, dilation, group) | transposed convolution (tract `Deconv`; grouped: a `Conv` with the flipped kernel) |
//! | `EinSum` | Gemm, MatMul, 1x1 Conv | the einsum that maps the output back to the operand |
//! | `Add` / `Sub` | bias, residual sum | identity / negation, summed over broadcast axes |
//! | `Mul` / `Div` | BatchNorm scale, 1/HW of a global pool, squeeze-excite | product / quotient rule |
//! | `Max` / `Min` | Relu = Max(x, 0), Clip = Max then Min | to the larger (smaller) operand (against a constant: where the output passes it); guided ReLU clamps |
//! | `ElementWiseOp` | Sigmoid, Tanh, LeakyRelu, HardSwish, Silu, Exp, Erf, Ln, Pow, Gelu, HardSigmoid, Softplus, Mish, ... | times the derivative |
//! | `MaxPool` | MaxPool | to the window's arg-max |
//! | `SumPool` | AveragePool | spread over the window (divided as the forward did) |
//! | `Reduce<Sum>` | GlobalAveragePool (with a Mul), ReduceSum | broadcast back |
//! | `AxisOp`, `Concat`, `Pad`, `Slice`, `Downsample` | Reshape, Flatten, Transpose, Concat, Pad, Split, strided 1x1 conv | route back |
//! | `Resize`, `NearestUpsample` | Resize, Upsample (nearest, linear, cubic; any coordinate mode) | tract's per-axis plan, transposed / block sums |
//! | `RmsNorm` | LayerNormalization (its normalisation, after the mean is subtracted) | r (g - y mean(g y)) |
//! | `Gather` (constant indices) | Gather, torch.export's `as_strided` | scatter-add |
//! | `Iff` | Where | to the chosen operand |
//! | comparisons (boolean outputs) | Greater, Less, Equal, ... | none |
//! | `Softmax` | Softmax, LogSoftmax | Jacobian-vector product |
//!
//! [`Rule::reads`] lists the forward values each rule reads: the engine keeps only those from
//! the forward run (so tract still fuses the rest), unless asked to keep everything.

use super::linear::LinearPlan;
use super::pool::Window;
use super::{Array, Mode};
use crate::err;
use crate::error::Result;
use tract_onnx::prelude::tract_ndarray::{ArrayViewD, Axis, IxDyn, Slice, Zip};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::{Pad, PadMode, Slice as SliceOp, TypedConcat};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, MaxPool, SumPool};
use tract_onnx::tract_core::ops::downsample::Downsample;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::{self as tnn, Reduce, Reducer, Softmax, SoftmaxKind};

/// What the backward rule of one node needs from the forward run.
pub struct Ctx<'a> {
    /// The forward values of the inputs the rule reads ([`Rule::reads`]), None for the others.
    pub inputs: &'a [Option<ArrayViewD<'a, f32>>],
    pub output: Option<ArrayViewD<'a, f32>>,
    /// The shapes of all inputs.
    pub shapes: &'a [Vec<usize>],
    /// Which inputs need a gradient (those that depend on the model input).
    pub wants: &'a [bool],
    pub mode: Mode,
}

impl<'a> Ctx<'a> {
    pub fn input(&self, i: usize) -> TractResult<&ArrayViewD<'a, f32>> {
        self.inputs[i]
            .as_ref()
            .with_context(|| format!("input {i} was not kept from the forward run"))
    }

    pub fn output(&self) -> TractResult<&ArrayViewD<'a, f32>> {
        self.output
            .as_ref()
            .context("the output was not kept from the forward run")
    }
}

/// The forward values a backward rule reads.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    pub inputs: Vec<bool>,
    pub output: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Unary {
    Sigmoid,
    Tanh,
    LeakyRelu(f32),
    HardSwish,
    Silu,
    Exp,
    Neg,
    Square,
    Sqrt,
    Recip,
    Abs,
    /// `1 / sqrt(x)` (LayerNorm's decomposition).
    Rsqrt,
    Ln,
    Erf,
    /// `x^e` for a constant e (tract's `PowConst`).
    Pow(f32),
    /// tract's tanh-approximated GELU (ONNX Gelu with `approximate = "tanh"`, or the pattern).
    GeluTanh,
    /// tract's exact GELU, x Φ(x) (ONNX Gelu, or the Erf pattern legacy exports write).
    GeluErf,
    /// The activations kept as one op ([`crate::activations`]).
    Act(crate::activations::Activation),
}

pub enum Rule {
    Conv(LinearPlan),
    /// One plan per operand that needs a gradient.
    EinSum(Vec<Option<LinearPlan>>),
    Add,
    Sub,
    Mul,
    Div,
    /// `relu`: Max(x, 0) not followed by a Min, i.e. a ReLU (guided backprop modifies it).
    /// `konst`: the operand that is a constant, if any: the other operand then wins exactly
    /// where the output differs from the constant, which the rule reads instead of the input.
    Max {
        relu: bool,
        konst: Option<usize>,
    },
    Min {
        konst: Option<usize>,
    },
    Unary(Unary),
    MaxPool(Window),
    SumPool {
        window: Window,
        count_include_pad: bool,
        normalize: bool,
    },
    ReduceSum,
    Move(usize, usize),
    Reshape,
    Concat(usize),
    Pad(Vec<(usize, usize)>),
    Slice {
        axis: usize,
        start: usize,
    },
    Downsample {
        axis: usize,
        stride: usize,
        modulo: usize,
    },
    Softmax {
        axes: Vec<usize>,
        log: bool,
    },
    /// Resize (linear, cubic or nearest, any coordinate mode): per resized axis, tract's own
    /// plan of which inputs each output reads with which weights; backward scatters through it.
    Resize(Vec<(usize, ResizeAxis)>),
    /// Integer nearest upsampling (tract's lowering of Resize/Upsample): each input value is
    /// copied `scales[a]` times along axis a; backward sums each block.
    NearestUpsample(Vec<usize>),
    /// Gather along `axis` with constant `indices` (already wrapped to >= 0): backward adds
    /// each gathered slice's gradient back at its index.
    Gather {
        axis: usize,
        indices: Vec<usize>,
    },
    /// A node with a boolean output (Greater, Less, Equal, And, ...): no gradient.
    NoGradient,
    /// Where(cond, a, b) (tract's `Iff`): the gradient goes to `a` where the output is `a`, to
    /// `b` elsewhere (torch's softplus writes `x > 20 ? x : softplus(x)` so). The condition
    /// itself is boolean and not read.
    Where,
    /// x / sqrt(mean(x², axis) + eps): tract's fusion of LayerNormalization's second half.
    RmsNorm {
        axis: usize,
        eps: f32,
    },
}

/// One axis of a Resize: `len_in` inputs, and tract's plan (window, indices, weights).
pub struct ResizeAxis {
    pub len_in: usize,
    pub plan: tract_onnx::tract_core::ops::nn::resize::AxisPlan,
}

/// The plans of a Resize's axes, as its `eval` makes them: the scales from its constant scales
/// input (one per axis), else the ratio of the output and input lengths.
fn resize_rule(model: &TypedModel, node: &TypedNode, r: &tnn::resize::Resize) -> Result<Rule> {
    let fact = |o: OutletId| {
        model
            .outlet_fact(o)
            .map_err(super::tract_err("reading a shape"))
    };
    let concrete = |o: OutletId| -> Result<Vec<usize>> {
        fact(o)?
            .shape
            .as_concrete()
            .map(|s| s.to_vec())
            .ok_or_else(|| unsupported(node, "Resize with symbolic shapes"))
    };
    let input = concrete(node.inputs[0])?;
    let output = concrete(OutletId::new(node.id, 0))?;
    let scales: Option<Vec<f32>> = r
        .optional_scales_input
        .and_then(|i| node.inputs.get(i))
        .and_then(|&o| fact(o).ok()?.konst.clone())
        .filter(|k| k.len() == input.len())
        .and_then(|k| {
            k.cast_to::<f32>()
                .ok()?
                .to_plain_array_view::<f32>()
                .ok()
                .map(|v| v.iter().copied().collect())
        });
    let mut axes = vec![];
    for a in 0..input.len() {
        let (len_in, len_out) = (input[a], output[a]);
        let scale = scales
            .as_ref()
            .map_or(len_out as f32 / len_in as f32, |s| s[a]);
        if len_in == len_out && scale == 1.0 {
            continue;
        }
        axes.push((
            a,
            ResizeAxis {
                len_in,
                plan: r.plan_axis(scale, len_in, len_out),
            },
        ));
    }
    Ok(Rule::Resize(axes))
}

/// The transpose of tract's `resample_axis`: `g` (shape `shape`, axis `axis` of the plan's
/// output length) scattered back onto `len_in` positions.
fn unresample_axis(g: &[f32], shape: &[usize], axis: usize, r: &ResizeAxis) -> Vec<f32> {
    let len_out = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let w = r.plan.window;
    let mut out = vec![0f32; outer * r.len_in * inner];
    if inner == 0 || len_out == 0 {
        return out;
    }
    for (src, dst) in g
        .chunks_exact(len_out * inner)
        .zip(out.chunks_exact_mut(r.len_in * inner))
    {
        for (x, gx) in src.chunks_exact(inner).enumerate() {
            if r.plan.extrapolated[x] {
                continue;
            }
            let taps = r.plan.indices[x * w..][..w]
                .iter()
                .zip(&r.plan.weights[x * w..][..w]);
            for (&i, &wt) in taps {
                if wt == 0.0 {
                    continue;
                }
                for (d, s) in dst[i * inner..][..inner].iter_mut().zip(gx) {
                    *d += wt * s;
                }
            }
        }
    }
    out
}

fn unsupported(node: &TypedNode, what: &str) -> crate::Error {
    err!(UnsupportedOperator, "unsupported operator {what} at node '{}' (the explanation engine cannot propagate through it)", node.name)
}

fn is_const_zero(model: &TypedModel, o: OutletId) -> bool {
    let k = model.outlet_fact(o).ok().and_then(|f| f.konst.clone());
    k.is_some_and(|k| {
        k.to_plain_array_view::<f32>()
            .is_ok_and(|v| v.iter().all(|&x| x == 0.0))
    })
}

/// Reads one node into its rule. `depends[n]`: node n depends on the model input.
pub fn classify(model: &TypedModel, node: &TypedNode, depends: &[bool]) -> Result<Rule> {
    let op = &node.op;
    let konst = node
        .inputs
        .iter()
        .position(|&i| model.outlet_fact(i).is_ok_and(|f| f.konst.is_some()));
    if node.outputs.len() != 1 {
        return Err(unsupported(
            node,
            &format!("{} with {} outputs", op.name(), node.outputs.len()),
        ));
    }
    // A boolean output (a comparison, And, Or) is piecewise constant: no gradient flows.
    let comparison = node.outputs[0].fact.datum_type == bool::datum_type();
    if comparison {
        return Ok(Rule::NoGradient);
    }
    if node.outputs[0].fact.datum_type != f32::datum_type() {
        return Err(unsupported(
            node,
            &format!(
                "{} on {:?} values",
                op.name(),
                node.outputs[0].fact.datum_type
            ),
        ));
    }
    if let Some(conv) = op.downcast_ref::<Conv>() {
        return Ok(Rule::Conv(
            LinearPlan::conv(model, node, conv)
                .map_err(|e| unsupported(node, &format!("Conv ({e})")))?,
        ));
    }
    if let Some(es) = op.downcast_ref::<EinSum>() {
        if es.q_params.is_some() {
            return Err(unsupported(node, "quantized EinSum"));
        }
        let plans = (0..node.inputs.len())
            .map(|i| {
                if depends[node.inputs[i].node] {
                    LinearPlan::einsum(model, node, es, i).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<TractResult<Vec<_>>>()
            .map_err(|e| unsupported(node, &format!("EinSum ({e})")))?;
        return Ok(Rule::EinSum(plans));
    }
    if let Some(bin) = op.downcast_ref::<TypedBinOp>() {
        let m = &bin.0;
        return Ok(if m.is::<math::Add>() {
            Rule::Add
        } else if m.is::<math::Sub>() {
            Rule::Sub
        } else if m.is::<math::Mul>() {
            Rule::Mul
        } else if m.is::<math::Div>() {
            Rule::Div
        } else if m.is::<math::Max>() {
            // A Clip (ReLU6, HardSigmoid) is a Max(x, 0) next to a Min: not a ReLU for
            // guided backprop, which modifies ReLUs alone (as Captum hooks nn.ReLU only).
            let is_min = |n: usize| {
                model.nodes()[n]
                    .op_as::<TypedBinOp>()
                    .is_some_and(|b| b.0.is::<math::Min>())
            };
            let zero = node.inputs.iter().any(|&i| is_const_zero(model, i));
            let succ = model.outlet_successors(OutletId::new(node.id, 0));
            let clipped = (!succ.is_empty() && succ.iter().all(|s| is_min(s.node)))
                || node.inputs.iter().any(|i| is_min(i.node));
            Rule::Max {
                relu: zero && !clipped,
                konst,
            }
        } else if m.is::<math::Min>() {
            Rule::Min { konst }
        } else {
            return Err(unsupported(node, &format!("binary {}", m.name())));
        });
    }
    if let Some(ew) = op.downcast_ref::<ElementWiseOp>() {
        let m = &ew.0;
        let u = if m.is::<tnn::Sigmoid>() {
            Unary::Sigmoid
        } else if m.is::<math::Tanh>() {
            Unary::Tanh
        } else if let Some(l) = m.downcast_ref::<tnn::LeakyRelu>() {
            Unary::LeakyRelu(l.alpha)
        } else if m.is::<tnn::HardSwish>() {
            Unary::HardSwish
        } else if m.is::<tnn::Silu>() {
            Unary::Silu
        } else if m.is::<math::Exp>() {
            Unary::Exp
        } else if m.is::<math::Neg>() {
            Unary::Neg
        } else if m.is::<math::Square>() {
            Unary::Square
        } else if m.is::<math::Sqrt>() {
            Unary::Sqrt
        } else if m.is::<math::Recip>() {
            Unary::Recip
        } else if m.is::<math::Abs>() {
            Unary::Abs
        } else if m.is::<math::Rsqrt>() {
            Unary::Rsqrt
        } else if m.is::<math::Ln>() {
            Unary::Ln
        } else if m.is::<math::Erf>() {
            Unary::Erf
        } else if let Some(p) = m.downcast_ref::<math::PowConst>() {
            Unary::Pow(p.exponent)
        } else if let Some(g) = m.downcast_ref::<tnn::GeluApproximate>() {
            if g.fast_impl {
                return Err(unsupported(node, "GeluApproximate (fast)"));
            }
            Unary::GeluTanh
        } else if m.is::<tnn::gelu_exact::GeluExact>() {
            Unary::GeluErf
        } else if let Some(a) = m.downcast_ref::<crate::activations::Activation>() {
            Unary::Act(*a)
        } else {
            return Err(unsupported(node, &m.name()));
        };
        return Ok(Rule::Unary(u));
    }
    let in_shape = |i: usize| -> Result<Vec<usize>> {
        let f = model
            .outlet_fact(node.inputs[i])
            .map_err(super::tract_err("reading a shape"))?;
        f.shape
            .as_concrete()
            .map(|s| s.to_vec())
            .ok_or_else(|| unsupported(node, "symbolic shapes"))
    };
    if let Some(mp) = op.downcast_ref::<MaxPool>() {
        let w = Window::new(
            &mp.pool_spec,
            &in_shape(0)?,
            node.outputs[0].fact.shape.as_concrete().unwrap_or(&[]),
        )
        .map_err(|e| unsupported(node, &format!("MaxPool ({e})")))?;
        return Ok(Rule::MaxPool(w));
    }
    if let Some(sp) = op.downcast_ref::<SumPool>() {
        let w = Window::new(
            &sp.pool_spec,
            &in_shape(0)?,
            node.outputs[0].fact.shape.as_concrete().unwrap_or(&[]),
        )
        .map_err(|e| unsupported(node, &format!("AveragePool ({e})")))?;
        return Ok(Rule::SumPool {
            window: w,
            count_include_pad: sp.count_include_pad,
            normalize: sp.normalize,
        });
    }
    if let Some(r) = op.downcast_ref::<Reduce>() {
        return match r.reducer {
            Reducer::Sum => Ok(Rule::ReduceSum),
            other => Err(unsupported(node, &format!("Reduce<{other:?}>"))),
        };
    }
    if let Some(a) = op.downcast_ref::<AxisOp>() {
        return Ok(match a {
            AxisOp::Move(from, to) => Rule::Move(*from, *to),
            _ => Rule::Reshape,
        });
    }
    if let Some(c) = op.downcast_ref::<TypedConcat>() {
        return Ok(Rule::Concat(c.axis));
    }
    if let Some(p) = op.downcast_ref::<Pad>() {
        return match p.mode {
            PadMode::Constant(_) => Ok(Rule::Pad(p.pads.clone())),
            _ => Err(unsupported(node, &format!("Pad ({:?} mode)", p.mode))),
        };
    }
    if let Some(s) = op.downcast_ref::<SliceOp>() {
        let start = s
            .start
            .to_usize()
            .map_err(|_| unsupported(node, "Slice with a symbolic start"))?;
        return Ok(Rule::Slice {
            axis: s.axis,
            start,
        });
    }
    if let Some(d) = op.downcast_ref::<Downsample>() {
        if d.stride <= 0 {
            return Err(unsupported(node, "Downsample with a negative stride"));
        }
        return Ok(Rule::Downsample {
            axis: d.axis,
            stride: d.stride as usize,
            modulo: d.modulo,
        });
    }
    if let Some(r) = op.downcast_ref::<tnn::resize::Resize>() {
        return resize_rule(model, node, r);
    }
    if let Some(gather) = op.downcast_ref::<tract_onnx::tract_core::ops::array::Gather>() {
        let len = model
            .outlet_fact(node.inputs[0])
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|s| s[gather.axis]))
            .ok_or_else(|| unsupported(node, "Gather with a symbolic shape"))?;
        let indices = model
            .outlet_fact(node.inputs[1])
            .ok()
            .and_then(|f| f.konst.clone())
            .and_then(|k| {
                k.cast_to::<i64>()
                    .ok()?
                    .to_plain_array_view::<i64>()
                    .ok()
                    .map(|v| v.iter().copied().collect::<Vec<_>>())
            })
            .ok_or_else(|| unsupported(node, "Gather with computed indices"))?;
        let indices = indices
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + len as i64 } else { i };
                usize::try_from(j)
                    .ok()
                    .filter(|&j| j < len)
                    .ok_or_else(|| unsupported(node, &format!("Gather index {i} outside 0..{len}")))
            })
            .collect::<Result<_>>()?;
        return Ok(Rule::Gather {
            axis: gather.axis,
            indices,
        });
    }
    if op.is::<tract_onnx::tract_core::ops::logic::Iff>() {
        return Ok(Rule::Where);
    }
    if let Some(r) = op.downcast_ref::<tnn::rms_norm::RmsNorm>() {
        let eps = r
            .eps
            .cast_to_scalar::<f32>()
            .map_err(|_| unsupported(node, "RmsNorm with a non-scalar epsilon"))?;
        return Ok(Rule::RmsNorm { axis: r.axis, eps });
    }
    if let Some(u) = op.downcast_ref::<tnn::resize::NearestUpsample>() {
        return Ok(Rule::NearestUpsample(u.scales.to_vec()));
    }
    if let Some(s) = op.downcast_ref::<Softmax>() {
        return Ok(Rule::Softmax {
            axes: s.axes.to_vec(),
            log: matches!(s.kind, SoftmaxKind::LogSoftmax),
        });
    }
    Err(unsupported(node, &op.name()))
}

/// The single value of a constant operand.
fn scalar_const(model: &TypedModel, o: OutletId) -> Option<f32> {
    let k = model.outlet_fact(o).ok()?.konst.clone()?;
    let v = k.to_plain_array_view::<f32>().ok()?;
    (v.len() == 1).then(|| *v.iter().next().expect("one value"))
}

/// Where the rule of `node` reads the node's output from. A Clip is Max(x, lo) then Min(., hi),
/// lo < hi: the Max's rule compares its output with lo, and min(y, hi) > lo exactly where
/// y > lo, so it reads the Min's output instead and the forward run need not keep the Max's
/// (which lets tract fuse the pair into the layer before).
pub fn output_outlet(model: &TypedModel, node: &TypedNode, rule: &Rule) -> OutletId {
    let own = OutletId::new(node.id, 0);
    let Rule::Max { konst: Some(k), .. } = rule else {
        return own;
    };
    let Some(lo) = scalar_const(model, node.inputs[*k]) else {
        return own;
    };
    let succ = model.outlet_successors(own);
    let [s] = succ else { return own };
    let next = &model.nodes()[s.node];
    let hi = next.inputs.iter().find_map(|&i| scalar_const(model, i));
    let is_min = next
        .op_as::<TypedBinOp>()
        .is_some_and(|b| b.0.is::<math::Min>());
    if is_min
        && hi.is_some_and(|hi| hi > lo)
        && !model.output_outlets().is_ok_and(|o| o.contains(&own))
    {
        OutletId::new(s.node, 0)
    } else {
        own
    }
}

/// Sums `g` over the axes where `shape` has size 1 (undoing a broadcast).
pub(crate) fn unbroadcast(g: Array, shape: &[usize]) -> Array {
    if g.shape() == shape {
        return g;
    }
    let mut g = g;
    for ax in 0..shape.len().min(g.ndim()) {
        if shape[ax] == 1 && g.shape()[ax] != 1 {
            g = g.sum_axis(Axis(ax)).insert_axis(Axis(ax));
        }
    }
    g.into_shape_with_order(IxDyn(shape))
        .expect("broadcast shapes")
}

impl Rule {
    /// The forward values [`Rule::backward`] reads, given which inputs want a gradient.
    /// Constant inputs cost nothing to read (they live in the graph).
    pub fn reads(&self, wants: &[bool]) -> Reads {
        let n = wants.len();
        let mut r = Reads {
            inputs: vec![false; n],
            output: false,
        };
        match self {
            Rule::EinSum(plans) => {
                for p in plans.iter().flatten() {
                    for &j in p.feeds() {
                        r.inputs[j] = true;
                    }
                }
            }
            Rule::Mul => {
                for i in 0..2 {
                    r.inputs[1 - i] |= wants[i];
                }
            }
            Rule::Div => {
                r.inputs[1] = true;
                r.output = wants[1];
            }
            Rule::Max { konst: Some(k), .. } | Rule::Min { konst: Some(k) } => {
                r.inputs[*k] = true;
                r.output = true;
            }
            Rule::Max { konst: None, .. } | Rule::Min { konst: None } => r.inputs = vec![true; n],
            Rule::Unary(u) => match u {
                Unary::Sigmoid
                | Unary::Tanh
                | Unary::Exp
                | Unary::Sqrt
                | Unary::Recip
                | Unary::Rsqrt => r.output = true,
                Unary::Neg => {}
                _ => r.inputs[0] = true,
            },
            Rule::MaxPool(_) | Rule::RmsNorm { .. } => r.inputs[0] = true,
            Rule::Where => {
                r.inputs[1] = true;
                r.inputs[2] = true;
                r.output = true;
            }
            Rule::NoGradient => {}
            Rule::Softmax { .. } => r.output = true,
            Rule::Conv(_)
            | Rule::Add
            | Rule::Sub
            | Rule::SumPool { .. }
            | Rule::ReduceSum
            | Rule::Move(..)
            | Rule::Reshape
            | Rule::Concat(_)
            | Rule::Pad(_)
            | Rule::Slice { .. }
            | Rule::Downsample { .. }
            | Rule::Resize(_)
            | Rule::NearestUpsample(_)
            | Rule::Gather { .. } => {}
        }
        r
    }

    /// Whether the node's output is affine in its operand `wanted` when the others are
    /// constants.
    pub fn affine(&self, wanted: usize) -> bool {
        match self {
            Rule::Conv(_)
            | Rule::EinSum(_)
            | Rule::Add
            | Rule::Sub
            | Rule::Mul
            | Rule::SumPool { .. }
            | Rule::ReduceSum
            | Rule::Move(..)
            | Rule::Reshape
            | Rule::Concat(_)
            | Rule::Pad(_)
            | Rule::Slice { .. }
            | Rule::Downsample { .. }
            | Rule::Resize(_)
            | Rule::NearestUpsample(_)
            | Rule::Gather { .. }
            | Rule::Unary(Unary::Neg) => true,
            Rule::Div => wanted == 0,
            Rule::Max { .. }
            | Rule::Min { .. }
            | Rule::Unary(_)
            | Rule::MaxPool(_)
            | Rule::RmsNorm { .. }
            | Rule::NoGradient
            | Rule::Where
            | Rule::Softmax { .. } => false,
        }
    }

    pub fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        let n = c.shapes.len();
        let shape = |i: usize| c.shapes[i].clone();
        let want = |i: usize| c.wants[i];
        // For two-operand element-wise ops: the gradient of each wanted operand.
        let binary = |f: &dyn Fn(usize) -> TractResult<Array>| -> TractResult<Vec<Option<Array>>> {
            (0..2)
                .map(|i| {
                    if want(i) {
                        Ok(Some(unbroadcast(f(i)?, &shape(i))))
                    } else {
                        Ok(None)
                    }
                })
                .collect()
        };
        Ok(match self {
            Rule::Conv(plan) => {
                let mut v = vec![None; n];
                v[0] = Some(plan.run(g, c.inputs)?);
                v
            }
            Rule::EinSum(plans) => {
                let mut v = vec![None; n];
                let last = plans.iter().rposition(|p| p.is_some());
                let mut g = Some(g);
                for (i, p) in plans.iter().enumerate() {
                    if let Some(p) = p {
                        let gi = if Some(i) == last {
                            g.take().expect("gradient")
                        } else {
                            g.clone().expect("gradient")
                        };
                        v[i] = Some(p.run(gi, c.inputs)?);
                    }
                }
                v
            }
            Rule::Add => {
                if want(0) && want(1) {
                    binary(&|_| Ok(g.clone()))?
                } else {
                    let i = if want(0) { 0 } else { 1 };
                    let mut v = vec![None; 2];
                    v[i] = Some(unbroadcast(g, &shape(i)));
                    v
                }
            }
            Rule::Sub => binary(&|i| Ok(if i == 0 { g.clone() } else { -&g }))?,
            Rule::Mul => binary(&|i| Ok(&g * c.input(1 - i)?))?,
            Rule::Div => binary(&|i| {
                Ok(if i == 0 {
                    &g / c.input(1)?
                } else {
                    -(&g * c.output()?) / c.input(1)?
                })
            })?,
            Rule::Max { relu, konst } => {
                let guided = *relu && c.mode == Mode::Guided;
                select_binary(c, g, *konst, |a, b| a > b, guided)?
            }
            Rule::Min { konst } => select_binary(c, g, *konst, |a, b| a < b, false)?,
            Rule::Unary(u) => {
                let d = match u {
                    Unary::Sigmoid => c.output()?.mapv(|y| y * (1.0 - y)),
                    Unary::Tanh => c.output()?.mapv(|y| 1.0 - y * y),
                    Unary::LeakyRelu(a) => c.input(0)?.mapv(|x| if x > 0.0 { 1.0 } else { *a }),
                    // As torch: 0 below -3, x/3 + 1/2 up to 3 (inclusive), 1 above.
                    Unary::HardSwish => c.input(0)?.mapv(|x| {
                        if x < -3.0 {
                            0.0
                        } else if x <= 3.0 {
                            x / 3.0 + 0.5
                        } else {
                            1.0
                        }
                    }),
                    Unary::Silu => c.input(0)?.mapv(|x| {
                        let s = 1.0 / (1.0 + libm::expf(-x));
                        s * (1.0 + x * (1.0 - s))
                    }),
                    Unary::Exp => c.output()?.to_owned(),
                    Unary::Neg => return Ok(vec![Some(-g)]),
                    Unary::Square => c.input(0)?.mapv(|x| 2.0 * x),
                    Unary::Sqrt => c.output()?.mapv(|y| 0.5 / y),
                    Unary::Recip => c.output()?.mapv(|y| -y * y),
                    Unary::Rsqrt => c.output()?.mapv(|y| -0.5 * y * y * y),
                    Unary::Ln => c.input(0)?.mapv(|x| 1.0 / x),
                    Unary::Erf => c
                        .input(0)?
                        .mapv(|x| std::f32::consts::FRAC_2_SQRT_PI * libm::expf(-x * x)),
                    Unary::Pow(e) => c.input(0)?.mapv(|x| *e * libm::powf(x, *e - 1.0)),
                    Unary::GeluTanh => c.input(0)?.mapv(|x| {
                        const K: f32 = 0.797_884_6; // sqrt(2 / pi)
                        let t = libm::tanhf(K * (x + 0.044715 * x * x * x));
                        0.5 * (1.0 + t)
                            + 0.5 * x * (1.0 - t * t) * K * (1.0 + 3.0 * 0.044715 * x * x)
                    }),
                    Unary::GeluErf => c.input(0)?.mapv(|x| {
                        let cdf = 0.5 * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2));
                        cdf + x * libm::expf(-0.5 * x * x) * 0.398_942_3 // 1 / sqrt(2 pi)
                    }),
                    Unary::Act(a) => c.input(0)?.mapv(|x| a.derivative(x)),
                    Unary::Abs => c.input(0)?.mapv(|x| {
                        if x > 0.0 {
                            1.0
                        } else if x < 0.0 {
                            -1.0
                        } else {
                            0.0
                        }
                    }),
                };
                vec![Some(g * d)]
            }
            Rule::MaxPool(w) => vec![Some(w.max_backward(c.input(0)?, &g))],
            Rule::SumPool {
                window,
                count_include_pad,
                normalize,
            } => vec![Some(window.sum_backward(
                &g,
                *count_include_pad,
                *normalize,
            ))],
            Rule::ReduceSum => vec![Some(spread(&g, &shape(0))?)],
            Rule::Move(from, to) => {
                // Output axis k holds input axis perm[k]; put each back.
                let mut perm: Vec<usize> = (0..g.ndim()).collect();
                let a = perm.remove(*from);
                perm.insert(*to, a);
                let mut inv = vec![0; perm.len()];
                for (k, &p) in perm.iter().enumerate() {
                    inv[p] = k;
                }
                vec![Some(
                    g.permuted_axes(IxDyn(&inv))
                        .as_standard_layout()
                        .into_owned(),
                )]
            }
            Rule::Reshape => vec![Some(
                g.as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&shape(0)))?,
            )],
            Rule::Concat(axis) => {
                let mut at = 0;
                (0..n)
                    .map(|i| {
                        let len = c.shapes[i][*axis];
                        let part = g
                            .slice_axis(Axis(*axis), Slice::from(at..at + len))
                            .to_owned();
                        at += len;
                        want(i).then_some(part)
                    })
                    .collect()
            }
            Rule::Pad(pads) => {
                let mut v = g.view();
                for (ax, &(before, _)) in pads.iter().enumerate() {
                    let len = c.shapes[0][ax];
                    v.slice_axis_inplace(Axis(ax), Slice::from(before..before + len));
                }
                vec![Some(v.to_owned())]
            }
            Rule::Slice { axis, start } => {
                let mut out = Array::zeros(IxDyn(&shape(0)));
                let len = g.shape()[*axis];
                out.slice_axis_mut(Axis(*axis), Slice::from(*start..*start + len))
                    .assign(&g);
                let mut v = vec![None; n];
                v[0] = Some(out);
                v
            }
            Rule::Downsample {
                axis,
                stride,
                modulo,
            } => {
                let mut out = Array::zeros(IxDyn(&shape(0)));
                let len = g.shape()[*axis];
                out.slice_axis_mut(
                    Axis(*axis),
                    Slice::new(
                        *modulo as isize,
                        Some((*modulo + (len - 1) * *stride + 1) as isize),
                        *stride as isize,
                    ),
                )
                .assign(&g);
                vec![Some(out)]
            }
            Rule::Resize(axes) => {
                let mut shape = g.shape().to_vec();
                let mut data = g
                    .as_standard_layout()
                    .into_owned()
                    .into_raw_vec_and_offset()
                    .0;
                for (axis, r) in axes.iter().rev() {
                    data = unresample_axis(&data, &shape, *axis, r);
                    shape[*axis] = r.len_in;
                }
                vec![Some(
                    Array::from_shape_vec(IxDyn(&shape), data).map_err(|e| anyhow!("{e}"))?,
                )]
            }
            Rule::NoGradient => vec![None; n],
            Rule::Gather { axis, indices } => {
                let data = shape(0);
                let mut out = Array::zeros(IxDyn(&data));
                // g's shape: data[..axis] + indices' shape + data[axis + 1..], indices flattened.
                let mut flat = data.clone();
                flat[*axis] = indices.len();
                let g = g
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&flat))
                    .map_err(|e| anyhow!("{e}"))?;
                for (k, &i) in indices.iter().enumerate() {
                    let mut dst = out.index_axis_mut(Axis(*axis), i);
                    dst += &g.index_axis(Axis(*axis), k);
                }
                let mut v = vec![None; n];
                v[0] = Some(out);
                v
            }
            Rule::Where => {
                let y = c.output()?;
                let a = c.input(1)?;
                let to_a = Zip::from(&g)
                    .and(y)
                    .and_broadcast(a)
                    .map_collect(|&g, &y, &a| if y == a { g } else { 0.0 });
                let to_b = &g - &to_a;
                vec![
                    None,
                    want(1).then(|| unbroadcast(to_a, &shape(1))),
                    want(2).then(|| unbroadcast(to_b, &shape(2))),
                ]
            }
            Rule::RmsNorm { axis, eps } => {
                // y = x r, r = 1 / sqrt(mean(x²) + eps): dx = r (g - y mean(g y)).
                let x = c.input(0)?;
                let n = x.shape()[*axis] as f32;
                let r = x
                    .mapv(|v| v * v)
                    .sum_axis(Axis(*axis))
                    .insert_axis(Axis(*axis))
                    .mapv(|s| 1.0 / (s / n + eps).sqrt());
                let y = x * &r;
                let gy = (&g * &y).sum_axis(Axis(*axis)).insert_axis(Axis(*axis)) / n;
                vec![Some((&g - &(&y * &gy)) * &r)]
            }
            Rule::NearestUpsample(scales) => {
                // out[.., i, ..] = in[.., i / s, ..]: split each axis into (len, s), sum the s.
                let split: Vec<usize> = g
                    .shape()
                    .iter()
                    .zip(scales)
                    .flat_map(|(&len, &s)| [len / s, s])
                    .collect();
                let mut a = g
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&split))
                    .map_err(|e| anyhow!("{e}"))?;
                for ax in (0..scales.len()).rev() {
                    a = a.sum_axis(Axis(2 * ax + 1));
                }
                vec![Some(a)]
            }
            Rule::Softmax { axes, log } => {
                let y = c.output()?;
                let sum_axes = |mut a: Array| {
                    for &ax in axes {
                        a = a.sum_axis(Axis(ax)).insert_axis(Axis(ax));
                    }
                    a
                };
                let gi = if *log {
                    let s = sum_axes(g.clone());
                    &g - &(y.mapv(f32::exp) * &s)
                } else {
                    let s = sum_axes(&g * y);
                    (&g - &s) * y
                };
                vec![Some(gi)]
            }
        })
    }
}

/// Max / Min: the gradient of each wanted operand, which wins against the other (against a
/// constant operand `konst`: where the output differs from it).
fn select_binary(
    c: &Ctx,
    g: Array,
    konst: Option<usize>,
    wins: impl Fn(f32, f32) -> bool + Copy,
    guided: bool,
) -> TractResult<Vec<Option<Array>>> {
    let winner = |i: usize| {
        if konst == Some(1 - i) {
            c.output()
        } else {
            c.input(i)
        }
    };
    let mut g = Some(g);
    let last = if c.wants[1] { 1 } else { 0 };
    (0..2)
        .map(|i| {
            if !c.wants[i] {
                return Ok(None);
            }
            let gi = if i == last {
                g.take().expect("gradient")
            } else {
                g.clone().expect("gradient")
            };
            Ok(Some(unbroadcast(
                select(gi, winner(i)?, c.input(1 - i)?, wins, guided),
                &c.shapes[i],
            )))
        })
        .collect()
}

/// `g` broadcast to `shape`. The common case, a sum over trailing axes (global average pooling),
/// repeats each value over a contiguous run: ndarray's general broadcast copy goes element by
/// element through an n-dimensional index (7 % of an IG step on the MNIST CAM net).
pub(crate) fn spread(g: &Array, shape: &[usize]) -> TractResult<Array> {
    let k = (0..=g.ndim())
        .rev()
        .find(|&k| k == 0 || g.shape()[k - 1] != 1)
        .unwrap_or(0);
    if g.ndim() == shape.len() && g.shape()[..k] == shape[..k] {
        if let Some(src) = g.as_slice() {
            let run: usize = shape[k..].iter().product();
            let mut out = Vec::with_capacity(src.len() * run);
            for &v in src {
                out.extend(std::iter::repeat_n(v, run));
            }
            return Ok(Array::from_shape_vec(IxDyn(shape), out)?);
        }
    }
    Ok(g.broadcast(IxDyn(shape))
        .ok_or_else(|| format_err!("reduce broadcast"))?
        .to_owned())
}

/// Gradient of max/min to operand `a`: where `wins(a, b)` strictly, so a tie goes to neither
/// operand (torch's ReLU and ReLU6 give 0 at the kink). `guided`: also clamp g at 0.
fn select(
    g: Array,
    a: &ArrayViewD<f32>,
    b: &ArrayViewD<f32>,
    wins: impl Fn(f32, f32) -> bool,
    guided: bool,
) -> Array {
    let pass = |g: f32, a: f32, b: f32| {
        let keep = if wins(a, b) { 1.0 } else { 0.0 };
        if guided {
            super::pos(g) * keep
        } else {
            g * keep
        }
    };
    let mut out = if g.is_standard_layout() {
        g
    } else {
        g.as_standard_layout().into_owned()
    };
    // The common cases as flat loops: same-shape operands, or one scalar (ReLU, Clip).
    if a.shape() == out.shape() {
        if let (Some(os), Some(av)) = (out.as_slice_mut(), a.as_slice()) {
            if b.len() == 1 {
                let b = *b.iter().next().expect("one element");
                os.iter_mut()
                    .zip(av)
                    .for_each(|(o, &a)| *o = pass(*o, a, b));
                return out;
            }
            if let Some(bv) = b.as_slice().filter(|bv| bv.len() == os.len()) {
                os.iter_mut()
                    .zip(av)
                    .zip(bv)
                    .for_each(|((o, &a), &b)| *o = pass(*o, a, b));
                return out;
            }
        }
    }
    let b = b
        .broadcast(out.raw_dim())
        .expect("operands broadcast to the output");
    let a = a
        .broadcast(out.raw_dim())
        .expect("operands broadcast to the output");
    tract_onnx::prelude::tract_ndarray::Zip::from(&mut out)
        .and(&a)
        .and(&b)
        .for_each(|o, &a, &b| *o = pass(*o, a, b));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path (a sum over trailing axes) and the general one give ndarray's broadcast.
    #[test]
    fn spread_equals_the_broadcast() {
        let cases: [(&[usize], &[usize]); 5] = [
            (&[1, 3, 1, 1], &[1, 3, 4, 5]),
            (&[2, 3, 1], &[2, 3, 4]),
            (&[1, 1, 1], &[2, 3, 4]),
            (&[2, 1, 4], &[2, 3, 4]),
            (&[2, 3], &[2, 3]),
        ];
        for (from, to) in cases {
            let n: usize = from.iter().product();
            let g = Array::from_shape_vec(IxDyn(from), (0..n).map(|v| v as f32).collect()).unwrap();
            let want = g.broadcast(IxDyn(to)).unwrap().to_owned();
            assert_eq!(spread(&g, to).unwrap(), want, "{from:?} -> {to:?}");
        }
        let g = Array::zeros(IxDyn(&[2, 3]));
        assert!(spread(&g, &[4, 3]).is_err());
    }
}
