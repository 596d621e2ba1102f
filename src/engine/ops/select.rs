//! Max, Min (ReLU = Max(x, 0), Clip = Max then Min) and Where: the gradient goes to the
//! operand the output took.

use super::{Ctx, Lrp, Mode, Node, OpRule, Reads, Rule};
use crate::array::{pos, unbroadcast, Array};

use crate::error::Result;
use tract_onnx::prelude::tract_ndarray::{ArrayViewD, Zip};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::logic::Iff;
use tract_onnx::tract_core::ops::math;

/// The selecting operators.
pub enum Select {
    /// `relu`: Max(x, 0) not followed by a Min, i.e. a ReLU (guided backprop modifies it).
    /// `konst`: the operand that is a constant, if any: the other operand then wins exactly
    /// where the output differs from the constant, which the rule reads instead of the input.
    Max {
        /// Whether it is a ReLU.
        relu: bool,
        /// The constant operand, if any.
        konst: Option<usize>,
    },
    /// Min; `konst` as for Max.
    Min {
        /// The constant operand, if any.
        konst: Option<usize>,
    },
    /// Where(cond, a, b) (tract's `Iff`): the gradient goes to `a` where the output is `a`, to
    /// `b` elsewhere (torch's softplus writes `x > 20 ? x : softplus(x)` so). The condition
    /// itself is boolean and not read.
    Where,
}

fn is_const_zero(model: &TypedModel, o: OutletId) -> bool {
    let k = model.outlet_fact(o).ok().and_then(|f| f.konst.clone());
    k.is_some_and(|k| {
        k.to_plain_array_view::<f32>()
            .is_ok_and(|v| v.iter().all(|&x| x == 0.0))
    })
}

/// The single value of a constant operand.
fn scalar_const(model: &TypedModel, o: OutletId) -> Option<f32> {
    let k = model.outlet_fact(o).ok()?.konst.clone()?;
    let v = k.to_plain_array_view::<f32>().ok()?;
    (v.len() == 1).then(|| *v.iter().next().expect("one value"))
}

/// Max, Min and Iff nodes.
pub fn classify(n: &Node) -> Option<Result<Rule>> {
    let (model, node) = (n.model, n.node);
    if node.op.is::<Iff>() {
        return Some(Ok(Rule::Select(Select::Where)));
    }
    let m = &node.op.downcast_ref::<TypedBinOp>()?.0;
    let konst = node
        .inputs
        .iter()
        .position(|&i| model.outlet_fact(i).is_ok_and(|f| f.konst.is_some()));
    let is_min = |n: usize| {
        model.nodes()[n]
            .op_as::<TypedBinOp>()
            .is_some_and(|b| b.0.is::<math::Min>())
    };
    if m.is::<math::Max>() {
        // A Clip (ReLU6, HardSigmoid) is a Max(x, 0) next to a Min: not a ReLU for guided
        // backprop, which modifies ReLUs alone (as Captum hooks nn.ReLU only).
        let zero = node.inputs.iter().any(|&i| is_const_zero(model, i));
        let succ = model.outlet_successors(OutletId::new(node.id, 0));
        let clipped = (!succ.is_empty() && succ.iter().all(|s| is_min(s.node)))
            || node.inputs.iter().any(|i| is_min(i.node));
        Some(Ok(Rule::Select(Select::Max {
            relu: zero && !clipped,
            konst,
        })))
    } else if m.is::<math::Min>() {
        Some(Ok(Rule::Select(Select::Min { konst })))
    } else {
        None
    }
}

impl OpRule for Select {
    fn reads(&self, wants: &[bool]) -> Reads {
        let mut r = Reads::none(wants.len());
        match self {
            Select::Max { konst: Some(k), .. } | Select::Min { konst: Some(k) } => {
                r.inputs[*k] = true;
                r.output = true;
            }
            Select::Max { konst: None, .. } | Select::Min { konst: None } => {
                r.inputs = vec![true; wants.len()]
            }
            Select::Where => {
                r.inputs[1] = true;
                r.inputs[2] = true;
                r.output = true;
            }
        }
        r
    }

    fn affine(&self, _: usize) -> bool {
        false
    }

    fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        match self {
            Select::Max { relu, konst } => {
                let guided = *relu && c.mode == Mode::Guided;
                select_binary(c, g, *konst, |a, b| a > b, guided)
            }
            Select::Min { konst } => select_binary(c, g, *konst, |a, b| a < b, false),
            Select::Where => {
                let y = c.output()?;
                let a = c.input(1)?;
                let to_a = Zip::from(&g)
                    .and(y)
                    .and_broadcast(a)
                    .map_collect(|&g, &y, &a| if y == a { g } else { 0.0 });
                let to_b = &g - &to_a;
                Ok(vec![
                    None,
                    c.wants[1].then(|| unbroadcast(to_a, &c.shapes[1])),
                    c.wants[2].then(|| unbroadcast(to_b, &c.shapes[2])),
                ])
            }
        }
    }

    fn elementwise(&self) -> bool {
        !matches!(self, Select::Where)
    }

    fn lrp(&self, vars: usize) -> Lrp {
        match self {
            Select::Where => Lrp::Gradient,
            _ if vars == 1 => Lrp::Unchanged,
            _ => Lrp::GradientKeepingAll,
        }
    }

    /// A Clip is Max(x, lo) then Min(., hi), lo < hi: the Max's rule compares its output with
    /// lo, and min(y, hi) > lo exactly where y > lo, so it reads the Min's output instead and the
    /// forward run need not keep the Max's (which lets tract fuse the pair into the layer
    /// before).
    fn output_outlet(&self, model: &TypedModel, node: &TypedNode) -> OutletId {
        let own = OutletId::new(node.id, 0);
        let Select::Max { konst: Some(k), .. } = self else {
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
            pos(g) * keep
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
    Zip::from(&mut out)
        .and(&a)
        .and(&b)
        .for_each(|o, &a, &b| *o = pass(*o, a, b));
    out
}
