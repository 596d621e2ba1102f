//! Implementation invariance (Sundararajan et al. 2017, axiom 2): two networks that compute
//! the same function must get the same attributions. [`rescale`] builds such a twin: layer k's
//! weights and bias are multiplied by c > 0 and layer k+1's weights by 1/c. Between them only
//! positively homogeneous operations are allowed (ReLU, max/average pooling, reshapes), so
//! ReLU(c z) / c = ReLU(z) and the function is unchanged, while every activation in between is
//! c times larger. Gradient-based methods cannot tell the twins apart; a rule with a fixed
//! stabiliser (LRP-epsilon) can.

use super::sanity::{weight_layers, WeightLayer};
use crate::err;
use crate::error::Result;
use tract_onnx::pb;

const HOMOGENEOUS: [&str; 7] = [
    "Relu",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Flatten",
    "Reshape",
    "Identity",
];

/// The twin of `proto` with layers `k` and `k + 1` (of [`weight_layers`]) rescaled by `c`.
pub fn rescale(proto: &pb::ModelProto, k: usize, c: f32) -> Result<pb::ModelProto> {
    if !(c.is_finite() && c > 0.0) {
        return Err(err!(
            Parameter,
            "the rescaling factor must be a finite number > 0, got {c}"
        ));
    }
    let layers = weight_layers(proto);
    if k + 1 >= layers.len() {
        return Err(err!(
            Parameter,
            "layer {k} has no next weight layer (the model has {} weight layers)",
            layers.len()
        ));
    }
    let g = proto
        .graph
        .as_ref()
        .ok_or_else(|| err!(CorruptModel, "the ONNX file has no graph"))?;
    let node = |l: &WeightLayer| {
        g.node
            .iter()
            .find(|n| n.name == l.name || n.output.first() == Some(&l.name))
    };
    let (a, b) = (
        node(&layers[k]).expect("listed"),
        node(&layers[k + 1]).expect("listed"),
    );
    // Walk from a's output to b through single-consumer, positively homogeneous nodes.
    let mut t = a.output[0].clone();
    loop {
        let users: Vec<&pb::NodeProto> = g.node.iter().filter(|n| n.input.contains(&t)).collect();
        match users[..] {
            [u] if std::ptr::eq(u, b) => break,
            [u] if HOMOGENEOUS.contains(&u.op_type.as_str()) => t = u.output[0].clone(),
            [u] => return Err(err!(Parameter, "layers {k} and {} are separated by {} ('{}'), which is not positively homogeneous: the rescaled net would compute another function", k + 1, u.op_type, u.name)),
            _ => return Err(err!(Parameter, "layer {k}'s output branches (or does not reach layer {}): rescaling needs a plain chain", k + 1)),
        }
    }
    // a: weight and bias (inputs 1, 2) times c; b: weight (input 1) divided by c.
    let scale: Vec<(String, f32)> = a
        .input
        .iter()
        .skip(1)
        .map(|n| (n.clone(), c))
        .chain(b.input.get(1).map(|n| (n.clone(), 1.0 / c)))
        .collect();
    let mut p = proto.clone();
    let graph = p.graph.as_mut().expect("checked");
    for (name, f) in scale {
        let t = graph
            .initializer
            .iter_mut()
            .find(|t| t.name == name)
            .ok_or_else(|| err!(Parameter, "weight '{name}' is not stored in the file"))?;
        let v = super::sanity::floats(t);
        t.float_data = v.iter().map(|x| x * f).collect();
        t.raw_data.clear();
    }
    Ok(p)
}

/// The twin of a model file, loaded: [`rescale`] on its layers `k` and `k + 1`.
pub fn twin(
    onnx: &[u8],
    sidecar: Option<crate::Sidecar>,
    k: usize,
    c: f32,
) -> Result<crate::Model> {
    crate::Model::from_proto(&rescale(&crate::Model::read_proto(onnx)?, k, c)?, sidecar)
}

#[cfg(test)]
mod tests {
    #[test]
    fn factor_must_be_positive() {
        let p = tract_onnx::pb::ModelProto::default();
        assert!(super::rescale(&p, 0, 0.0).is_err());
        assert!(super::rescale(&p, 0, f32::NAN).is_err());
        assert!(super::rescale(&p, 0, 2.0)
            .unwrap_err()
            .to_string()
            .contains("no next weight layer"));
    }
}
