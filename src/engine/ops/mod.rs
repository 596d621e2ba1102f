//! The backward rule of every operator the engine supports, as tract's decluttered graph
//! spells it: one file per family of operators, holding all an operator's facets together —
//! how a node is recognised ([`classify`], at plan time, so an unsupported operator is reported
//! before any computation), which forward values its rule reads ([`OpRule::reads`]), whether it
//! is affine ([`OpRule::affine`]), its gradient ([`OpRule::backward`]) and how LRP treats it
//! ([`OpRule::lrp`]). [`Rule`] only dispatches to the families.
//!
//! | family | decluttered op | what it is in ONNX | backward |
//! | --- | --- | --- | --- |
//! | [`layer`] | `Conv` | Conv (any stride, padding, dilation, group) | transposed convolution (tract `Deconv`; grouped: a `Conv` with the flipped kernel) |
//! | [`layer`] | `EinSum` | Gemm, MatMul, 1x1 Conv | the einsum that maps the output back to the operand |
//! | [`arith`] | `Add` / `Sub` | bias, residual sum | identity / negation, summed over broadcast axes |
//! | [`arith`] | `Mul` / `Div` | BatchNorm scale, 1/HW of a global pool, squeeze-excite | product / quotient rule |
//! | [`select`] | `Max` / `Min` | Relu = Max(x, 0), Clip = Max then Min | to the larger (smaller) operand (against a constant: where the output passes it); guided ReLU clamps |
//! | [`select`] | `Iff` | Where | to the chosen operand |
//! | [`unary`] | `ElementWiseOp` | Sigmoid, Tanh, LeakyRelu, HardSwish, Silu, Exp, Erf, Ln, Pow, Gelu, HardSigmoid, Softplus, Mish, ... | times the derivative |
//! | [`pool`] | `MaxPool` | MaxPool | to the window's arg-max |
//! | [`pool`] | `SumPool` | AveragePool | spread over the window (divided as the forward did) |
//! | [`pool`] | `Reduce<Sum>` | GlobalAveragePool (with a Mul), ReduceSum | broadcast back |
//! | [`route`] | `AxisOp`, `Concat`, `Pad`, `Slice`, `Downsample` | Reshape, Flatten, Transpose, Concat, Pad, Split, strided 1x1 conv | route back |
//! | [`route`] | `Gather`, `GatherNd` (constant indices) | Gather, torch.export's `as_strided` and overlapping adaptive pools | scatter-add |
//! | [`resize`] | `Resize`, `NearestUpsample` | Resize, Upsample (nearest, linear, cubic; any coordinate mode) | tract's per-axis plan, transposed / block sums |
//! | [`norm`] | `RmsNorm` | LayerNormalization (its normalisation, after the mean is subtracted) | r (g - y mean(g y)) |
//! | [`norm`] | `Softmax` | Softmax, LogSoftmax | Jacobian-vector product |
//! | (here) | comparisons (boolean outputs) | Greater, Less, Equal, ... | none |
//!
//! The engine keeps only the forward values the rules read (so tract still fuses the rest),
//! unless asked to keep everything.

pub mod arith;
pub mod layer;
pub mod norm;
pub mod pool;
pub mod resize;
pub mod route;
pub mod select;
pub mod unary;

use crate::array::Array;
use crate::err;
use crate::error::Result;
use tract_onnx::prelude::tract_ndarray::ArrayViewD;
use tract_onnx::tract_core::internal::*;

/// How ReLUs propagate in the backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The plain gradient.
    Gradient,
    /// Guided backpropagation: a ReLU passes only positive gradients at positive inputs.
    Guided,
}

/// What the backward rule of one node needs from the forward run.
pub struct Ctx<'a> {
    /// The forward values of the inputs the rule reads ([`OpRule::reads`]), None for the others.
    pub inputs: &'a [Option<ArrayViewD<'a, f32>>],
    /// The node's output, if the rule reads it.
    pub output: Option<ArrayViewD<'a, f32>>,
    /// The shapes of all inputs.
    pub shapes: &'a [Vec<usize>],
    /// Which inputs need a gradient (those that depend on the model input).
    pub wants: &'a [bool],
    /// Plain gradient or guided backpropagation.
    pub mode: Mode,
}

impl<'a> Ctx<'a> {
    /// The forward value of input `i` (an error if the rule did not ask to read it).
    pub fn input(&self, i: usize) -> TractResult<&ArrayViewD<'a, f32>> {
        self.inputs[i]
            .as_ref()
            .with_context(|| format!("input {i} was not kept from the forward run"))
    }

    /// The forward value of the output (an error if the rule did not ask to read it).
    pub fn output(&self) -> TractResult<&ArrayViewD<'a, f32>> {
        self.output
            .as_ref()
            .context("the output was not kept from the forward run")
    }
}

/// The forward values a backward rule reads.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    /// Per input: whether the rule reads its value.
    pub inputs: Vec<bool>,
    /// Whether the rule reads the node's output.
    pub output: bool,
}

impl Reads {
    /// Nothing, for a node with `n` inputs.
    pub fn none(n: usize) -> Reads {
        Reads {
            inputs: vec![false; n],
            output: false,
        }
    }
}

/// How LRP's walk treats a node that is not inside a layer unit ([`crate::lrp::propagate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lrp {
    /// A convolution or product: LRP's rules apply to it as a layer unit, nowhere else.
    Layer,
    /// Relevance handed on unchanged, reading nothing: an element-wise op with one operand on
    /// the input's path (ReLU, Clip, a bias, an activation).
    Unchanged,
    /// A sum of two operands on the input's path (a residual): split in proportion to the
    /// summands (`sub`: the second one is subtracted).
    Sum {
        /// Whether the second operand is subtracted.
        sub: bool,
    },
    /// A product of two operands on the input's path: an activation when one operand is an
    /// element-wise function of the other (relevance to it unchanged), the gradient otherwise.
    Product,
    /// An average pool: split in proportion to the window's summands.
    Pool,
    /// A sum over axes (a global average pool with the Mul after it): in proportion.
    Reduce,
    /// The gradient, reading only what the backward rule reads.
    Gradient,
    /// The gradient, with the node's inputs and output all kept from the forward run.
    GradientKeepingAll,
}

/// The facets of one family of operators: each file of this module implements them for its
/// operators, and [`Rule`] dispatches to them.
pub trait OpRule {
    /// The forward values [`OpRule::backward`] reads, given which inputs want a gradient.
    /// Constant inputs cost nothing to read (they live in the graph).
    fn reads(&self, wants: &[bool]) -> Reads;
    /// Whether the node's output is affine in its operand `wanted` when the others are
    /// constants.
    fn affine(&self, wanted: usize) -> bool;
    /// Maps the gradient of the node's output to the gradients of the inputs that want one.
    fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>>;
    /// How LRP treats the node, `vars` of whose operands are on the input's path.
    fn lrp(&self, vars: usize) -> Lrp;
    /// Whether the op is element-wise (each output value a function of the operands' values at
    /// the same position, after broadcasting).
    fn elementwise(&self) -> bool {
        false
    }
    /// Where the rule reads the node's output from (the node's own outlet but for a Clip's Max:
    /// [`select::Select`]).
    fn output_outlet(&self, _model: &TypedModel, node: &TypedNode) -> OutletId {
        OutletId::new(node.id, 0)
    }
}

/// A node with a boolean output (Greater, Less, Equal, And, ...): piecewise constant, no
/// gradient.
pub struct NoGradient;

impl OpRule for NoGradient {
    fn reads(&self, wants: &[bool]) -> Reads {
        Reads::none(wants.len())
    }
    fn affine(&self, _: usize) -> bool {
        false
    }
    fn backward(&self, c: &Ctx, _: Array) -> TractResult<Vec<Option<Array>>> {
        Ok(vec![None; c.shapes.len()])
    }
    fn lrp(&self, _: usize) -> Lrp {
        Lrp::Gradient
    }
}

/// The backward rule of one node: one variant per family, each only dispatching.
pub enum Rule {
    /// Conv and EinSum ([`layer`]).
    Layer(layer::Layer),
    /// Add, Sub, Mul, Div ([`arith`]).
    Arith(arith::Arith),
    /// Max, Min, Where ([`select`]).
    Select(select::Select),
    /// Element-wise functions of one operand ([`unary`]).
    Unary(unary::Unary),
    /// MaxPool, AveragePool, `Reduce<Sum>` ([`pool`]).
    Pool(pool::Pool),
    /// Reshapes, transposes, concatenation, padding, slices, gathers ([`route`]).
    Route(route::Route),
    /// Resize and nearest upsampling ([`resize`]).
    Resize(resize::Resize),
    /// RmsNorm and Softmax ([`norm`]).
    Norm(norm::Norm),
    /// Boolean outputs ([`NoGradient`]).
    NoGradient(NoGradient),
}

macro_rules! dispatch {
    ($self:expr, $r:ident => $e:expr) => {
        match $self {
            Rule::Layer($r) => $e,
            Rule::Arith($r) => $e,
            Rule::Select($r) => $e,
            Rule::Unary($r) => $e,
            Rule::Pool($r) => $e,
            Rule::Route($r) => $e,
            Rule::Resize($r) => $e,
            Rule::Norm($r) => $e,
            Rule::NoGradient($r) => $e,
        }
    };
}

impl Rule {
    /// [`OpRule::reads`] of the node's family.
    pub fn reads(&self, wants: &[bool]) -> Reads {
        dispatch!(self, r => r.reads(wants))
    }
    /// [`OpRule::affine`] of the node's family.
    pub fn affine(&self, wanted: usize) -> bool {
        dispatch!(self, r => r.affine(wanted))
    }
    /// [`OpRule::backward`] of the node's family.
    pub fn backward(&self, c: &Ctx, g: Array) -> TractResult<Vec<Option<Array>>> {
        dispatch!(self, r => r.backward(c, g))
    }
    /// [`OpRule::lrp`] of the node's family.
    pub fn lrp(&self, vars: usize) -> Lrp {
        dispatch!(self, r => r.lrp(vars))
    }
    /// [`OpRule::elementwise`] of the node's family.
    pub fn elementwise(&self) -> bool {
        dispatch!(self, r => r.elementwise())
    }
    /// [`OpRule::output_outlet`] of the node's family.
    pub fn output_outlet(&self, model: &TypedModel, node: &TypedNode) -> OutletId {
        dispatch!(self, r => r.output_outlet(model, node))
    }
}

/// A node being classified, with what the families' recognisers ask of it.
pub struct Node<'a> {
    /// The decluttered model.
    pub model: &'a TypedModel,
    /// The node.
    pub node: &'a TypedNode,
    /// `depends[n]`: node n depends on the model input.
    pub depends: &'a [bool],
}

impl Node<'_> {
    /// The error for an operator (or a form of one) the engine cannot propagate through.
    pub fn unsupported(&self, what: &str) -> crate::Error {
        err!(UnsupportedOperator, "unsupported operator {what} at node '{}' (the explanation engine cannot propagate through it)", self.node.name)
    }

    /// The concrete shape of input `i`.
    pub fn in_shape(&self, i: usize) -> Result<Vec<usize>> {
        let f = self
            .model
            .outlet_fact(self.node.inputs[i])
            .map_err(crate::error::tract_err("reading a shape"))?;
        f.shape
            .as_concrete()
            .map(|s| s.to_vec())
            .ok_or_else(|| self.unsupported("symbolic shapes"))
    }

    /// The concrete shape of the output (empty when symbolic).
    pub fn out_shape(&self) -> &[usize] {
        self.node.outputs[0].fact.shape.as_concrete().unwrap_or(&[])
    }

    /// The value of input `i` when it is a constant.
    pub fn konst(&self, i: usize) -> Option<Arc<Tensor>> {
        self.model
            .outlet_fact(self.node.inputs[i])
            .ok()
            .and_then(|f| f.konst.clone())
    }
}

/// A family's recogniser: its rule for the node, None when the node is not one of its
/// operators.
type Recognise = fn(&Node) -> Option<Result<Rule>>;

/// Every family, asked in turn.
const FAMILIES: [Recognise; 8] = [
    layer::classify,
    arith::classify,
    select::classify,
    unary::classify,
    pool::classify,
    route::classify,
    resize::classify,
    norm::classify,
];

/// Reads one node into its rule. `depends[n]`: node n depends on the model input.
pub fn classify(model: &TypedModel, node: &TypedNode, depends: &[bool]) -> Result<Rule> {
    let n = Node {
        model,
        node,
        depends,
    };
    let op = &node.op;
    if node.outputs.len() != 1 {
        return Err(n.unsupported(&format!(
            "{} with {} outputs",
            op.name(),
            node.outputs.len()
        )));
    }
    // A boolean output (a comparison, And, Or) is piecewise constant: no gradient flows.
    if node.outputs[0].fact.datum_type == bool::datum_type() {
        return Ok(Rule::NoGradient(NoGradient));
    }
    if node.outputs[0].fact.datum_type != f32::datum_type() {
        return Err(n.unsupported(&format!(
            "{} on {:?} values",
            op.name(),
            node.outputs[0].fact.datum_type
        )));
    }
    FAMILIES
        .iter()
        .find_map(|recognise| recognise(&n))
        .unwrap_or_else(|| Err(n.unsupported(&op.name())))
}
