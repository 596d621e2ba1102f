//! The transposes of the heavy linear operators, as small tract plans built once per node:
//! a convolution's input gradient is a transposed convolution (`Deconv`) with the same
//! kernel, an einsum's is the einsum that maps the output back onto one operand. tract
//! optimises each plan like a forward layer. A grouped (depthwise) convolution's transpose is
//! itself a convolution (kernel flipped, channels swapped, padding d(k-1)-p; a strided one's
//! runs on the gradient spread out by the stride), which tract runs much faster than a
//! `Deconv` (direct depthwise kernels); so is that of a dense 3x3 stride-1 convolution large
//! enough to run as [`super::winograd`], which every plan here is rewritten with.

use crate::array::Array;
use std::sync::Arc;
use tract_onnx::prelude::tract_ndarray::{ArrayViewD, Axis, IxDyn, Slice};
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::deconv::adjustments;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::einsum::EinSum;

pub struct LinearPlan {
    plan: Arc<TypedSimplePlan>,
    /// The operand's shape, and the plan's output shape with 1 on the axes the plan drops
    /// (those of an einsum operand that were summed in the forward): broadcast back.
    shape: Vec<usize>,
    reduced: Vec<usize>,
    /// The node inputs fed to the plan after the gradient (non-constant other operands).
    feeds: Vec<usize>,
    /// A strided conv's transpose: the shape to spread the gradient into, and the stride of
    /// each spatial axis.
    spread: Option<(Vec<usize>, Vec<(usize, usize)>)>,
}

fn concrete(f: &TypedFact) -> TractResult<Vec<usize>> {
    Ok(f.shape.as_concrete().context("symbolic shape")?.to_vec())
}

impl LinearPlan {
    pub fn conv(model: &TypedModel, node: &TypedNode, conv: &Conv) -> TractResult<LinearPlan> {
        Self::conv_with(model, node, conv, None)
    }

    /// As [`LinearPlan::conv`], with another kernel of the same shape (LRP's modified weights).
    pub fn conv_with(
        model: &TypedModel,
        node: &TypedNode,
        conv: &Conv,
        kernel: Option<Arc<Tensor>>,
    ) -> TractResult<LinearPlan> {
        ensure!(conv.q_params.is_none(), "quantized");
        let x_shape = concrete(model.outlet_fact(node.inputs[0])?)?;
        let y_shape = concrete(&node.outputs[0].fact)?;
        let kernel = match kernel {
            Some(k) => k,
            None => model
                .outlet_fact(node.inputs[1])?
                .konst
                .clone()
                .context("the kernel is not a constant")?,
        };
        let geo = conv.pool_spec.data_format.shape(x_shape.clone())?;
        let hw: Vec<usize> = geo.hw_dims().to_vec();
        let y_geo = conv.pool_spec.data_format.shape(y_shape.clone())?;
        let pads = conv.pool_spec.computed_padding(&hw);
        ensure!(
            conv.kernel_fmt == KernelFormat::OIHW,
            "kernel layout {:?}",
            conv.kernel_fmt
        );
        // Deconv wants its kernel as (group * out, in / group, h, w) in its own terms: ours is
        // (group * cout/g, cin/g, hw), so swap the two channel axes inside each group.
        let g = conv.group;
        let ks = kernel.shape().to_vec();
        let (co, ci) = (ks[0], ks[1]);
        let hw_len: usize = ks[2..].iter().product();
        let k = kernel
            .to_plain_array_view::<f32>()?
            .as_standard_layout()
            .into_owned();
        let k = k
            .into_shape_with_order(IxDyn(&[g, co / g, ci, hw_len]))?
            .permuted_axes(IxDyn(&[0, 2, 1, 3]));
        let mut new_shape = vec![g * ci, co / g];
        new_shape.extend_from_slice(&ks[2..]);
        let mut kernel = k
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&new_shape))?;
        let mut spec = conv.pool_spec.clone();
        spec.input_channels = conv.pool_spec.output_channels;
        spec.output_channels = conv.pool_spec.input_channels;
        spec.padding = PaddingSpec::Explicit(
            pads.iter().map(|p| p.pad_before).collect(),
            pads.iter().map(|p| p.pad_after).collect(),
        );
        let dil = conv.pool_spec.dilations();
        let reach: Vec<usize> = ks[2..]
            .iter()
            .zip(dil.iter())
            .map(|(&k, &d)| d * (k - 1))
            .collect();
        let strides: Vec<usize> = conv.pool_spec.strides().to_vec();
        // A strided conv's transpose is the same on the output gradient spread out by the
        // stride (zeros between): its size, and the padding after that gives back the input's.
        let y_hw = y_geo.hw_dims();
        ensure!(y_hw.iter().all(|&o| o > 0), "an empty output {y_hw:?}");
        let up_hw: Vec<usize> = y_hw
            .iter()
            .zip(&strides)
            .map(|(&o, &s)| (o - 1) * s + 1)
            .collect();
        let after: Vec<isize> = (0..hw.len())
            .map(|a| hw[a] as isize - up_hw[a] as isize + pads[a].pad_before as isize)
            .collect();
        // Only for grouped (depthwise) convolutions and those that run as Winograd: for other
        // dense ones tract's Deconv (one matrix product, then a scatter) measured faster than
        // the im2col of the flipped Conv.
        if (g > 1 || crate::kernels::winograd::accepts(conv, &ks, &hw))
            && pads.iter().zip(&reach).all(|(p, &r)| p.pad_before <= r)
            && after.iter().all(|&a| a >= 0)
        {
            // Correlating with the flipped kernel over the output padded by d(k-1)-p gives back
            // the input's size.
            for ax in 2..kernel.ndim() {
                kernel.invert_axis(Axis(ax));
            }
            let kernel = kernel
                .as_standard_layout()
                .into_owned()
                .into_tensor()
                .into_arc_tensor();
            spec.padding = PaddingSpec::Explicit(
                pads.iter()
                    .zip(&reach)
                    .map(|(p, r)| r - p.pad_before)
                    .collect(),
                after.iter().map(|&a| a as usize).collect(),
            );
            spec.strides = None;
            let op = Conv {
                pool_spec: spec,
                kernel_fmt: conv.kernel_fmt,
                group: conv.group,
                q_params: None,
            };
            let mut up_shape = y_shape.clone();
            for (ax, &d) in y_geo.hw_axes().zip(&up_hw) {
                up_shape[ax] = d;
            }
            let mut m = TypedModel::default();
            let g = m.add_source("g", f32::fact(&up_shape))?;
            let k = m.add_const("kernel", kernel)?;
            let b = m.add_const("bias", Tensor::zero_scalar::<f32>()?)?;
            let out = m.wire_node("conv_t", op, &[g, k, b])?;
            m.select_output_outlets(&out)?;
            let mut plan = Self::finish(m, x_shape.clone(), x_shape, vec![])?;
            if strides.iter().any(|&s| s > 1) {
                plan.spread = Some((up_shape, y_geo.hw_axes().zip(strides).collect()));
            }
            return Ok(plan);
        }
        // tract's Deconv sizes its output (y - 1) * s + field - before - after + adjustment: a
        // conv whose padding is wider than that (an output that sees only padding) would make
        // it underflow, so it is refused here, before any run.
        for a in 0..hw.len() {
            let field = (y_hw[a] - 1) * strides[a] + reach[a] + 1;
            let padded = hw[a] + pads[a].pad_before + pads[a].pad_after;
            ensure!(
                field >= pads[a].pad_before + pads[a].pad_after && field <= padded,
                "padding {}+{} on spatial axis {a} is wider than the kernel reaches",
                pads[a].pad_before,
                pads[a].pad_after
            );
        }
        let kernel = kernel.into_tensor().into_arc_tensor();
        // Rows/columns a strided conv never reached get a zero gradient: `adjustments` pads them.
        let adj = adjustments(&spec, y_geo.hw_dims(), &hw)?;
        let op = Deconv::new(spec, conv.kernel_fmt, adj, conv.group);
        let mut m = TypedModel::default();
        let g = m.add_source("g", f32::fact(&y_shape))?;
        let k = m.add_const("kernel", kernel)?;
        let b = m.add_const("bias", Tensor::zero_scalar::<f32>()?)?;
        let out = m.wire_node("deconv", op, &[g, k, b])?;
        m.select_output_outlets(&out)?;
        Self::finish(m, x_shape.clone(), x_shape, vec![])
    }

    /// The plan for d/d(operand `i`) of an einsum: the output gradient comes first, then the
    /// other operands (inlined when constant, else given to [`LinearPlan::run`]).
    pub fn einsum(
        model: &TypedModel,
        node: &TypedNode,
        es: &EinSum,
        i: usize,
    ) -> TractResult<LinearPlan> {
        Self::einsum_with(model, node, es, i, None)
    }

    /// As [`LinearPlan::einsum`], with operand `j` replaced by the constant `t` (same shape).
    pub fn einsum_with(
        model: &TypedModel,
        node: &TypedNode,
        es: &EinSum,
        i: usize,
        replace: Option<(usize, Arc<Tensor>)>,
    ) -> TractResult<LinearPlan> {
        let expr = es.axes.to_string();
        let (ins, out) = expr.split_once("->").context("einsum expression")?;
        let ins: Vec<&str> = ins.split(',').collect();
        ensure!(!out.contains(','), "several outputs");
        let others: Vec<usize> = (0..ins.len()).filter(|&j| j != i).collect();
        // Axes of operand i seen nowhere else were summed in the forward: the gradient is
        // constant along them (broadcast after the plan).
        let seen = |c: char| out.contains(c) || others.iter().any(|&j| ins[j].contains(c));
        let target: String = ins[i].chars().filter(|&c| seen(c)).collect();
        let mut srcs = vec![out.to_string()];
        srcs.extend(others.iter().map(|&j| ins[j].to_string()));
        let axes = AxesMapping::from_strs(&srcs, std::slice::from_ref(&target))?;
        let mut m = TypedModel::default();
        let mut wires = vec![m.add_source("g", f32::fact(concrete(&node.outputs[0].fact)?))?];
        let mut feeds = vec![];
        for &j in &others {
            let f = model.outlet_fact(node.inputs[j])?;
            let konst = match &replace {
                Some((r, t)) if *r == j => Some(t.clone()),
                _ => f.konst.clone(),
            };
            wires.push(match &konst {
                Some(k) => m.add_const(format!("k{j}"), k.clone())?,
                None => {
                    feeds.push(j);
                    m.add_source(format!("x{j}"), f32::fact(concrete(f)?))?
                }
            });
        }
        let out = m.wire_node("einsum_t", EinSum::new(axes, f32::datum_type()), &wires)?;
        m.select_output_outlets(&out)?;
        let shape = concrete(model.outlet_fact(node.inputs[i])?)?;
        let reduced = ins[i]
            .chars()
            .zip(&shape)
            .map(|(c, &d)| if seen(c) { d } else { 1 })
            .collect();
        Self::finish(m, shape, reduced, feeds)
    }

    fn finish(
        m: TypedModel,
        shape: Vec<usize>,
        reduced: Vec<usize>,
        feeds: Vec<usize>,
    ) -> TractResult<LinearPlan> {
        let plan = SimplePlan::new(crate::kernels::optimize(m)?)?;
        Ok(LinearPlan {
            plan,
            shape,
            reduced,
            feeds,
            spread: None,
        })
    }

    /// The node inputs the plan reads besides the gradient.
    pub fn feeds(&self) -> &[usize] {
        &self.feeds
    }

    /// Applies the transpose to `g`; `inputs`: the forward values of the node's inputs (those
    /// of [`LinearPlan::feeds`] at least).
    pub fn run(&self, g: Array, inputs: &[Option<ArrayViewD<f32>>]) -> TractResult<Array> {
        let g = match &self.spread {
            None => g,
            Some((shape, strides)) => {
                let mut up = Array::zeros(IxDyn(shape));
                let mut view = up.view_mut();
                for &(ax, s) in strides {
                    view.slice_axis_inplace(Axis(ax), Slice::new(0, None, s as isize));
                }
                view.assign(&g);
                up
            }
        };
        let mut feed: TVec<TValue> = tvec!(g.into_tensor().into_tvalue());
        for &j in &self.feeds {
            let x = inputs[j]
                .as_ref()
                .with_context(|| format!("einsum operand {j} was not kept"))?;
            feed.push(crate::array::tensor_of(x.view())?.into_tvalue());
        }
        let out = self.plan.run(feed)?;
        let v = out[0]
            .to_plain_array_view::<f32>()?
            .to_owned()
            .into_shape_with_order(IxDyn(&self.reduced))?;
        if self.reduced == self.shape {
            return Ok(v);
        }
        crate::array::spread(&v, &self.shape).context("einsum gradient broadcast")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104729) % 2003) as f32 / 1001.5 - 1.0)
            .collect()
    }

    /// <conv(x), g> = <x, conv^T(g)>: the transposes that run as Winograd (dense 3x3
    /// convolutions large enough) and one that does not (strided: tract's Deconv).
    #[test]
    fn conv_transposes_are_adjoints() -> TractResult<()> {
        for (c, h, before, after, stride, winograd) in [
            (32, 56, 1, 1, 1, true),
            (32, 60, 0, 0, 1, true),
            (32, 58, 2, 0, 1, true),
            (32, 57, 1, 1, 2, false),
        ] {
            let mut m = TypedModel::default();
            let x = m.add_source("x", f32::fact([1, c, h, h]))?;
            let w = tract_ndarray::Array4::from_shape_vec((c, c, 3, 3), values(c * c * 9, 1))?;
            let w = m.add_const("w", w.into_tensor())?;
            let b = m.add_const("b", Tensor::zero::<f32>(&[c])?)?;
            let op = crate::kernels::winograd::conv3x3(c, c, [before; 2], [after; 2], stride);
            let y = m.wire_node("conv", op, &[x, w, b])?;
            m.select_output_outlets(&y)?;
            let node = m.node(y[0].node);
            let conv = node.op_as::<Conv>().unwrap();
            let y_shape = concrete(&node.outputs[0].fact)?;
            let ks = [c, c, 3, 3];
            assert_eq!(
                crate::kernels::winograd::accepts(conv, &ks, &[h, h]),
                winograd
            );
            let transpose = LinearPlan::conv(&m, node, conv)?;
            let xs = values(c * h * h, 2);
            let xt = tract_ndarray::ArrayD::from_shape_vec(IxDyn(&[1, c, h, h]), xs.clone())?;
            let forward = SimplePlan::new(m.clone().into_optimized()?)?
                .run(tvec!(xt.into_tensor().into_tvalue()))?;
            let yv: Vec<f32> = forward[0]
                .to_plain_array_view::<f32>()?
                .iter()
                .copied()
                .collect();
            let gs = values(yv.len(), 3);
            let g = Array::from_shape_vec(IxDyn(&y_shape), gs.clone())?;
            let back = transpose.run(g, &[])?;
            assert_eq!(back.shape(), &[1, c, h, h]);
            let lhs: f64 = yv.iter().zip(&gs).map(|(a, b)| *a as f64 * *b as f64).sum();
            let rhs: f64 = back
                .iter()
                .zip(&xs)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            let scale: f64 = yv
                .iter()
                .zip(&gs)
                .map(|(a, b)| (*a as f64 * *b as f64).abs())
                .sum();
            assert!(
                (lhs - rhs).abs() <= 1e-5 * scale,
                "{c} channels, {h}x{h}, pads {before}/{after}, stride {stride}: {lhs} vs {rhs}"
            );
        }
        Ok(())
    }
}
