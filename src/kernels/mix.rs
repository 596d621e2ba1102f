//! Products of a small constant matrix with channels-first activations: `y[m, p] = sum_k
//! w[m, k] x[k, p]`, the 1x1 convolutions (and their transposes) of narrow layers, 8 to a few
//! hundred channels over many pixels. tract packs the activations and runs kernels sized for
//! wide matrices (on 8-16 channels at 60x60 a 40x2 kernel reached 6 GMAC/s natively); this op
//! runs register tiles of 4 rows by 16 pixels straight over the activations, with FMA where
//! the CPU has it.
//!
//! [`rewrite`] swaps an eligible `EinSum` for a [`Mix`] in place (same node, inputs and outputs,
//! so captured outlets keep their ids), right before the model is optimised
//! ([`super::optimize`]), like [`super::winograd::rewrite`]. Eligible: two f32 operands, one a
//! constant matrix whose axes are the summed one (k) and one output axis (m); the other is
//! `[k, rest..]` and the output `[m, rest..]` once axes of size 1 are dropped, with the same
//! `rest`.

use std::sync::Arc;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::einsum::EinSum;

/// Rows of a register tile.
const MR: usize = 4;
/// Columns (pixels) of a register tile. (8 in wasm, for V8's 16 vector registers, measured the
/// same.)
const NR: usize = 16;

/// Where the op pays, measured per build (`bench/bench_mix.rs` natively, the same shapes in
/// Chromium through wasm-bindgen-test). Natively with AVX2 and FMA it was 1.1x-6x faster than
/// tract up to 40 000 weights (e.g. 16 x 8 on 60x60: 13 against 77 us; 40 x 240 on 28x28: 195
/// against 565 us; 480 x 80 on 14x14: a tie) and slower beyond (192 x 1152 on 7x7: 290 against
/// 230 us); without AVX2 it is half as fast, and is used up to 4096 weights. In wasm (SIMD128,
/// no FMA) it took 0.51-0.94x tract's time up to 2048 weights (16 x 8 on 60x60: 45 against
/// 86 us; 96 x 16 on 56x56: 0.8x) and 0.97-1.12x beyond.
fn accepts(m: usize, k: usize, p: usize) -> bool {
    if p < NR || m == 0 || k == 0 {
        return false;
    }
    let weights = m * k;
    #[cfg(target_arch = "wasm32")]
    {
        weights <= WASM_MAX_WEIGHTS
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        if fma() {
            weights <= 40_000
        } else {
            weights <= 4096
        }
    }
}

#[cfg(target_arch = "wasm32")]
const WASM_MAX_WEIGHTS: usize = 2048;

#[cfg(target_arch = "x86_64")]
fn fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "wasm32")))]
fn fma() -> bool {
    false
}

/// The product `y[m, p] = sum_k w[m, k] x[k, p]` of a constant `m x k` float32 matrix with `p`
/// pixels of activations, plus a per-row bias when the op took over the `Add` after it (made by
/// [`Mix::for_einsum`]).
#[derive(Clone)]
pub struct Mix {
    m: usize,
    k: usize,
    p: usize,
    /// Which operand carries the activations.
    x_slot: usize,
    /// The weights by blocks of MR rows: [block][k][MR], rows past m zero.
    packed: Arc<Vec<f32>>,
    /// Per row (m), when the op took over the `Add` of a bias after the product: by blocks of
    /// MR like the weights.
    bias: Option<Arc<Vec<f32>>>,
    out_shape: TVec<usize>,
    /// The output axis of m.
    row_axis: usize,
}

impl std::fmt::Debug for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mix {}x{} over {}", self.m, self.k, self.p)
    }
}

impl PartialEq for Mix {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.packed, &other.packed) && self.x_slot == other.x_slot
    }
}

impl Eq for Mix {}

impl Mix {
    /// The op for `es` at `node`, if the product has the form above (whatever its size).
    pub fn for_einsum(
        model: &TypedModel,
        node: &TypedNode,
        es: &EinSum,
    ) -> TractResult<Option<Mix>> {
        if node.inputs.len() != 2
            || es.q_params.is_some()
            || es.operating_dt != f32::datum_type()
            || node.outputs.len() != 1
        {
            return Ok(None);
        }
        let facts = [
            model.outlet_fact(node.inputs[0])?,
            model.outlet_fact(node.inputs[1])?,
        ];
        if facts.iter().any(|f| f.datum_type != f32::datum_type()) {
            return Ok(None);
        }
        let Some(w_slot) = (0..2).find(|&i| facts[i].konst.is_some() && facts[i].rank() == 2)
        else {
            return Ok(None);
        };
        let x_slot = 1 - w_slot;
        if facts[x_slot].konst.is_some() {
            return Ok(None);
        }
        let (Some(xs), Some(ys)) = (
            facts[x_slot].shape.as_concrete(),
            node.outputs[0].fact.shape.as_concrete(),
        ) else {
            return Ok(None);
        };
        let expr = es.axes.to_string();
        let Some((ins, out)) = expr.split_once("->") else {
            return Ok(None);
        };
        let ins: Vec<Vec<char>> = ins.split(',').map(|s| s.chars().collect()).collect();
        let out: Vec<char> = out.chars().collect();
        if ins.len() != 2
            || ins[w_slot].len() != 2
            || ins[x_slot].len() != xs.len()
            || out.len() != ys.len()
        {
            return Ok(None);
        }
        let (d, w) = (&ins[x_slot], &ins[w_slot]);
        let summed = |c: char| d.contains(&c) && !out.contains(&c);
        let kept = |c: char| out.contains(&c) && !d.contains(&c);
        let (kc, mc) = if summed(w[0]) && kept(w[1]) {
            (w[0], w[1])
        } else if summed(w[1]) && kept(w[0]) {
            (w[1], w[0])
        } else {
            return Ok(None);
        };
        // Drop the axes of size 1 (but k and m): what remains must be [k, rest] and [m, rest].
        let sized = |axes: &[char], dims: &[usize], keep: char| -> Vec<(char, usize)> {
            axes.iter()
                .zip(dims)
                .filter(|(c, n)| **n != 1 || **c == keep)
                .map(|(c, n)| (*c, *n))
                .collect()
        };
        let (dn, on) = (sized(d, xs, kc), sized(&out, ys, mc));
        if dn.first().map(|x| x.0) != Some(kc)
            || on.first().map(|x| x.0) != Some(mc)
            || dn[1..] != on[1..]
        {
            return Ok(None);
        }
        let (k, m) = (dn[0].1, on[0].1);
        let p: usize = dn[1..].iter().map(|x| x.1).product();
        if k == 0 || m == 0 || p == 0 {
            return Ok(None);
        }
        let wt = facts[w_slot].konst.as_ref().expect("checked above");
        let wv = wt.to_plain_array_view::<f32>()?;
        let m_first = w[0] == mc;
        if wv.shape() != if m_first { [m, k] } else { [k, m] } {
            return Ok(None);
        }
        let blocks = m.div_ceil(MR);
        let mut packed = vec![0f32; blocks * k * MR];
        for mi in 0..m {
            for ki in 0..k {
                let v = if m_first { wv[[mi, ki]] } else { wv[[ki, mi]] };
                packed[((mi / MR) * k + ki) * MR + mi % MR] = v;
            }
        }
        Ok(Some(Mix {
            m,
            k,
            p,
            x_slot,
            packed: Arc::new(packed),
            bias: None,
            out_shape: ys.into(),
            row_axis: out
                .iter()
                .position(|&c| c == mc)
                .expect("m is an output axis"),
        }))
    }

    /// `out = W x` with x `[k, p]` and out `[m, p]`, row-major.
    pub fn run(&self, x: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { run_fma(self, x, out) };
            return;
        }
        self.tiles::<false>(x, out)
    }

    /// The tiles: for each block of MR rows, NR pixels at a time, `acc += w[r, k] x[k, pixels]`
    /// over k (plain code the compiler vectorises: SSE, AVX2 or wasm SIMD128).
    #[inline(always)]
    fn tiles<const FMA: bool>(&self, x: &[f32], out: &mut [f32]) {
        let (m, k, p) = (self.m, self.k, self.p);
        let full = p / NR * NR;
        for (b, wb) in self.packed.chunks_exact(k * MR).enumerate() {
            let m0 = b * MR;
            let rows = MR.min(m - m0);
            let mut b0 = [0f32; MR];
            if let Some(bias) = &self.bias {
                b0.copy_from_slice(&bias[m0..m0 + MR]);
            }
            for start in (0..full).step_by(NR) {
                let mut acc = [[0f32; NR]; MR];
                for (ki, wk) in wb.chunks_exact(MR).enumerate() {
                    let xr: &[f32; NR] = x[ki * p + start..][..NR].try_into().expect("NR values");
                    for r in 0..MR {
                        let wr = wk[r];
                        for j in 0..NR {
                            acc[r][j] = if FMA {
                                wr.mul_add(xr[j], acc[r][j])
                            } else {
                                acc[r][j] + wr * xr[j]
                            };
                        }
                    }
                }
                // The bias after the sum, as a separate Add would: the same result to the bit
                // whether or not the op took the Add over.
                for (r, a) in acc.iter().enumerate().take(rows) {
                    for (o, v) in out[(m0 + r) * p + start..][..NR].iter_mut().zip(a) {
                        *o = v + b0[r];
                    }
                }
            }
            for j in full..p {
                let mut acc = [0f32; MR];
                for (ki, wk) in wb.chunks_exact(MR).enumerate() {
                    let xv = x[ki * p + j];
                    for r in 0..MR {
                        acc[r] += wk[r] * xv;
                    }
                }
                for (r, a) in acc.iter().enumerate().take(rows) {
                    out[(m0 + r) * p + j] = a + b0[r];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_fma(op: &Mix, x: &[f32], out: &mut [f32]) {
    op.tiles::<true>(x, out)
}

impl Op for Mix {
    fn name(&self) -> StaticName {
        "Mix".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Mix {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs
            .get(self.x_slot)
            .context("Mix: missing operand")?
            .try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        ensure!(
            x.len() == self.k * self.p,
            "Mix: input size {} for {}x{}",
            x.len(),
            self.k,
            self.p
        );
        // SAFETY: every element is written by `run` (full tiles, then the tail columns).
        let mut y = unsafe { Tensor::uninitialized::<f32>(&self.out_shape)? };
        {
            let mut yv = y.try_as_plain_ram_mut()?;
            let ys = yv.as_slice_mut::<f32>()?;
            ensure!(ys.len() == self.m * self.p, "Mix: output size");
            self.run(x, ys);
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for Mix {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.out_shape)))
    }

    as_op!();
}

/// Replaces every EinSum of `model` that [`Mix::for_einsum`] takes and [`takes`] pays for, in
/// place.
pub fn rewrite(model: &mut TypedModel) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        let node = &model.nodes()[id];
        let Some(es) = node.op_as::<EinSum>() else {
            continue;
        };
        let Some(mut op) = Mix::for_einsum(model, node, es)? else {
            continue;
        };
        if !accepts(op.m, op.k, op.p) {
            continue;
        }
        // A bias added right after (the product's only use): the op adds it, in the Add's
        // node, reading the product's input; the product's own node is left unused.
        if let Some((add, slot, bias)) = bias_after(model, id, &op)? {
            let x = model.nodes()[id].inputs[op.x_slot];
            op.x_slot = slot;
            let mut b = vec![0f32; op.m.div_ceil(MR) * MR];
            b[..op.m].copy_from_slice(&bias);
            op.bias = Some(Arc::new(b));
            model.add_edge(x, InletId::new(add, slot))?;
            model.node_mut(add).op = Box::new(op);
            continue;
        }
        model.node_mut(id).op = Box::new(op);
    }
    Ok(())
}

/// The node adding a constant per-row bias to product `id`'s output, when that is the output's
/// only use: (node, the slot the product feeds, the bias per row).
fn bias_after(
    model: &TypedModel,
    id: usize,
    op: &Mix,
) -> TractResult<Option<(usize, usize, Vec<f32>)>> {
    let out = OutletId::new(id, 0);
    if model.output_outlets()?.contains(&out) {
        return Ok(None);
    }
    let [succ] = model.outlet_successors(out) else {
        return Ok(None);
    };
    let add = &model.nodes()[succ.node];
    let is_add = add
        .op_as::<TypedBinOp>()
        .is_some_and(|b| b.0.is::<tract_onnx::tract_core::ops::math::Add>());
    if !is_add
        || add.inputs.len() != 2
        || add.outputs[0].fact.shape.as_concrete() != Some(&*op.out_shape)
    {
        return Ok(None);
    }
    let Some(k) = model.outlet_fact(add.inputs[1 - succ.slot])?.konst.clone() else {
        return Ok(None);
    };
    if k.datum_type() != f32::datum_type() || k.rank() > op.out_shape.len() {
        return Ok(None);
    }
    // Right-aligned against the output: 1 everywhere but (optionally) the row axis.
    let rank = op.out_shape.len();
    let shape: Vec<usize> = std::iter::repeat_n(1, rank - k.rank())
        .chain(k.shape().iter().copied())
        .collect();
    let v = k.to_plain_array_view::<f32>()?;
    let v: Vec<f32> = v.iter().copied().collect();
    let row_axis = op.row_axis;
    let bias = if v.len() == 1 {
        vec![v[0]; op.m]
    } else if shape
        .iter()
        .enumerate()
        .all(|(i, &n)| n == 1 || (i == row_axis && n == op.m))
    {
        v
    } else {
        return Ok(None);
    };
    Ok(Some((succ.node, succ.slot, bias)))
}

/// Whether the rewrite takes an `m x k` product over `p` pixels on this build and CPU.
pub fn takes(m: usize, k: usize, p: usize) -> bool {
    accepts(m, k, p)
}
