//! A deliberately naive LRP as a test oracle (Zennit's `BasicHook` loop, written out from each
//! rule's textbook formula in docs/conventions.md, in f64, one connection at a time), against the
//! crate's LRP on random small layers: every rule, dense and convolutional (strided, padded,
//! grouped), on mixed-sign and non-negative inputs.
//!
//! Each model is `x [1, C, H, W] -> layer 0 (the rule under test) -> Flatten -> Gemm (layer 1,
//! LRP-0) -> scores`, so the relevance reaching layer 0 is dense and of both signs (gamma's two
//! groups both receive relevance). The oracle expands layer 0 into its connections (j, k, w_jk),
//! so a convolution is checked through the same loop as a dense layer.

mod common;

use common::rel_l2;
use saliency::lrp::LrpSpec;
use saliency::{Explainer, Method, Model};
use tract_onnx::pb;
use tract_onnx::prelude::tract_ndarray::{ArrayD, IxDyn};

/// xorshift64*: reproducible weights and inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
    fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// The first layer: a dense map of the flattened input, or a 2-D convolution.
#[derive(Clone, Debug)]
enum Layer {
    Dense {
        outputs: usize,
    },
    Conv {
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        group: usize,
    },
}

/// One random net: the first layer's weights and bias, the Gemm's, and the input.
struct Net {
    input: [usize; 4],
    layer: Layer,
    w0: Vec<f32>,
    w0_shape: Vec<usize>,
    b0: Vec<f32>,
    /// Layer 0's output shape [1, K, OH, OW] (dense: [1, K]).
    z0_shape: Vec<usize>,
    w1: Vec<f32>,
    b1: Vec<f32>,
    classes: usize,
}

impl Net {
    fn new(rng: &mut Rng, input: [usize; 4], layer: Layer, classes: usize) -> Net {
        let [_, c, h, w] = input;
        let (w0_shape, z0_shape) = match &layer {
            Layer::Dense { outputs } => (vec![c * h * w, *outputs], vec![1, *outputs]),
            Layer::Conv {
                out_channels,
                kernel,
                stride,
                pad,
                group,
            } => {
                let oh = (h + 2 * pad - kernel) / stride + 1;
                let ow = (w + 2 * pad - kernel) / stride + 1;
                (
                    vec![*out_channels, c / group, *kernel, *kernel],
                    vec![1, *out_channels, oh, ow],
                )
            }
        };
        let k0 = match &layer {
            Layer::Dense { outputs } => *outputs,
            Layer::Conv { out_channels, .. } => *out_channels,
        };
        let n0: usize = w0_shape.iter().product();
        let hidden: usize = z0_shape.iter().product();
        Net {
            input,
            w0: rng.vec(n0, -1.0, 1.0),
            b0: rng.vec(k0, -0.3, 0.3),
            w0_shape,
            z0_shape,
            w1: rng.vec(hidden * classes, -1.0, 1.0),
            b1: rng.vec(classes, -0.3, 0.3),
            layer,
            classes,
        }
    }

    /// The ONNX model, built as a protobuf (opset 13).
    fn onnx(&self) -> pb::ModelProto {
        let hidden: usize = self.z0_shape.iter().product();
        let tensor = |name: &str, dims: &[usize], v: &[f32]| pb::TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: v.to_vec(),
            ..Default::default()
        };
        let ints = |name: &str, v: &[usize]| pb::AttributeProto {
            name: name.into(),
            r#type: pb::attribute_proto::AttributeType::Ints as i32,
            ints: v.iter().map(|&x| x as i64).collect(),
            ..Default::default()
        };
        let int = |name: &str, v: i64| pb::AttributeProto {
            name: name.into(),
            r#type: pb::attribute_proto::AttributeType::Int as i32,
            i: v,
            ..Default::default()
        };
        let node = |op: &str, name: &str, ins: &[&str], out: &str, attribute| pb::NodeProto {
            op_type: op.into(),
            name: name.into(),
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: vec![out.into()],
            attribute,
            ..Default::default()
        };
        let value = |name: &str, dims: &[usize]| pb::ValueInfoProto {
            name: name.into(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: pb::tensor_proto::DataType::Float as i32,
                    shape: Some(pb::TensorShapeProto {
                        dim: dims
                            .iter()
                            .map(|&d| pb::tensor_shape_proto::Dimension {
                                value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(
                                    d as i64,
                                )),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut nodes = vec![];
        match &self.layer {
            Layer::Dense { .. } => {
                nodes.push(node("Flatten", "flat0", &["x"], "xf", vec![int("axis", 1)]));
                nodes.push(node("Gemm", "layer0", &["xf", "w0", "b0"], "z0", vec![]));
            }
            Layer::Conv {
                kernel,
                stride,
                pad,
                group,
                ..
            } => nodes.push(node(
                "Conv",
                "layer0",
                &["x", "w0", "b0"],
                "z0",
                vec![
                    ints("kernel_shape", &[*kernel, *kernel]),
                    ints("strides", &[*stride, *stride]),
                    ints("pads", &[*pad, *pad, *pad, *pad]),
                    int("group", *group as i64),
                ],
            )),
        }
        nodes.push(node("Flatten", "flat1", &["z0"], "h", vec![int("axis", 1)]));
        nodes.push(node("Gemm", "layer1", &["h", "w1", "b1"], "scores", vec![]));
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(pb::GraphProto {
                name: "oracle".into(),
                node: nodes,
                initializer: vec![
                    tensor("w0", &self.w0_shape, &self.w0),
                    tensor("b0", &[self.b0.len()], &self.b0),
                    tensor("w1", &[hidden, self.classes], &self.w1),
                    tensor("b1", &[self.classes], &self.b1),
                ],
                input: vec![value("x", &self.input)],
                output: vec![value("scores", &[1, self.classes])],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Layer 0 as connections (input index j, output index k, weight), over the flattened
    /// input and output: a convolution's taps that land on padding are not connections.
    fn connections(&self) -> Vec<(usize, usize, f64)> {
        let [_, c, h, w] = self.input;
        let mut out = vec![];
        match &self.layer {
            Layer::Dense { outputs } => {
                for j in 0..c * h * w {
                    for k in 0..*outputs {
                        out.push((j, k, self.w0[j * outputs + k] as f64));
                    }
                }
            }
            Layer::Conv {
                out_channels,
                kernel,
                stride,
                pad,
                group,
            } => {
                let (oh, ow) = (self.z0_shape[2], self.z0_shape[3]);
                let (cin_g, cout_g) = (c / group, out_channels / group);
                for o in 0..*out_channels {
                    let g = o / cout_g;
                    for ci in 0..cin_g {
                        let cin = g * cin_g + ci;
                        for (y, x) in (0..oh).flat_map(|y| (0..ow).map(move |x| (y, x))) {
                            for (ky, kx) in
                                (0..*kernel).flat_map(|a| (0..*kernel).map(move |b| (a, b)))
                            {
                                let iy = (y * stride + ky) as isize - *pad as isize;
                                let ix = (x * stride + kx) as isize - *pad as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let j = (cin * h + iy as usize) * w + ix as usize;
                                let k = (o * oh + y) * ow + x;
                                let wi = ((o * cin_g + ci) * kernel + ky) * kernel + kx;
                                out.push((j, k, self.w0[wi] as f64));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The bias of each flattened output of layer 0.
    fn bias0(&self) -> Vec<f64> {
        let per = self.z0_shape[2..].iter().product::<usize>();
        (0..self.z0_shape.iter().product::<usize>())
            .map(|k| self.b0[k / per] as f64)
            .collect()
    }
}

/// stab(d) = d + e sign(d), sign(0) = +1; with e = 0 a zero denominator gives 0.
fn divide(num: f64, d: f64, e: f64) -> f64 {
    let s = d + e * if d >= 0.0 { 1.0 } else { -1.0 };
    if s == 0.0 {
        0.0
    } else {
        num / s
    }
}

fn pos(v: f64) -> f64 {
    v.max(0.0)
}

fn neg(v: f64) -> f64 {
    v.min(0.0)
}

/// One rule of docs/conventions.md on one layer, Zennit's `BasicHook` written out: for each
/// of the rule's terms a modified input and modified weights and bias give `z_t`; the gradient
/// mapper divides the relevance by the stabilised sum of a group's `z_t` (masked by the sign of
/// the real output); the reducer sums `in_t(a) * W_t^T s`.
#[derive(Clone, Debug)]
enum Rule {
    Epsilon(f64),
    Gamma(f64),
    AlphaBeta(f64, f64),
    Flat,
    WSquare,
    /// Per-input-element bounds (expanded from scalars or channels).
    ZBox(Vec<f64>, Vec<f64>),
}

const E: f64 = 1e-6;

fn oracle(rule: &Rule, conn: &[(usize, usize, f64)], a: &[f64], b: &[f64], r: &[f64]) -> Vec<f64> {
    let k_n = b.len();
    let mut out = vec![0.0; a.len()];
    // z_k with per-connection contribution c(j, k, w) and bias bias(k).
    let sum = |c: &dyn Fn(usize, f64) -> f64, bias: &dyn Fn(f64) -> f64| -> Vec<f64> {
        let mut z: Vec<f64> = b.iter().map(|&b| bias(b)).collect();
        for &(j, k, w) in conn {
            z[k] += c(j, w);
        }
        z
    };
    let z = sum(&|j, w| a[j] * w, &|b| b);
    // R_j += sum_k c(j, k, w) * s_k.
    let mut reduce = |c: &dyn Fn(usize, f64) -> f64, s: &[f64]| {
        for &(j, k, w) in conn {
            out[j] += c(j, w) * s[k];
        }
    };
    match rule {
        Rule::Epsilon(e) => {
            let s: Vec<f64> = (0..k_n).map(|k| divide(r[k], z[k], *e)).collect();
            reduce(&|j, w| a[j] * w, &s);
        }
        Rule::Gamma(g) => {
            let g = *g;
            // z > 0: a+ (w + g w+) + a- (w + g w-), bias b + g b+;
            // z < 0: a+ (w + g w-) + a- (w + g w+), bias b + g b-.
            let up = |j: usize, w: f64| pos(a[j]) * (w + g * pos(w)) + neg(a[j]) * (w + g * neg(w));
            let down =
                |j: usize, w: f64| pos(a[j]) * (w + g * neg(w)) + neg(a[j]) * (w + g * pos(w));
            let d_up = sum(&up, &|b| b + g * pos(b));
            let d_down = sum(&down, &|b| b + g * neg(b));
            let s_up: Vec<f64> = (0..k_n)
                .map(|k| {
                    if z[k] > 0.0 {
                        divide(r[k], d_up[k], E)
                    } else {
                        0.0
                    }
                })
                .collect();
            let s_down: Vec<f64> = (0..k_n)
                .map(|k| {
                    if z[k] < 0.0 {
                        divide(r[k], d_down[k], E)
                    } else {
                        0.0
                    }
                })
                .collect();
            reduce(&up, &s_up);
            reduce(&down, &s_down);
        }
        Rule::AlphaBeta(alpha, beta) => {
            let act = |j: usize, w: f64| pos(a[j]) * pos(w) + neg(a[j]) * neg(w);
            let inh = |j: usize, w: f64| pos(a[j]) * neg(w) + neg(a[j]) * pos(w);
            let d_act = sum(&act, &|b| pos(b));
            let d_inh = sum(&inh, &|b| neg(b));
            let s_act: Vec<f64> = (0..k_n)
                .map(|k| alpha * divide(r[k], d_act[k], E))
                .collect();
            let s_inh: Vec<f64> = (0..k_n)
                .map(|k| -beta * divide(r[k], d_inh[k], E))
                .collect();
            reduce(&act, &s_act);
            reduce(&inh, &s_inh);
        }
        Rule::Flat => {
            let d = sum(&|_, _| 1.0, &|_| 0.0);
            let s: Vec<f64> = (0..k_n).map(|k| divide(r[k], d[k], E)).collect();
            reduce(&|_, _| 1.0, &s);
        }
        Rule::WSquare => {
            let d = sum(&|_, w| w * w, &|b| b * b);
            let s: Vec<f64> = (0..k_n).map(|k| divide(r[k], d[k], E)).collect();
            reduce(&|_, w| w * w, &s);
        }
        Rule::ZBox(lo, hi) => {
            let c = |j: usize, w: f64| a[j] * w - lo[j] * pos(w) - hi[j] * neg(w);
            // The biases cancel: b - b+ - b- = 0.
            let d = sum(&c, &|_| 0.0);
            let s: Vec<f64> = (0..k_n).map(|k| divide(r[k], d[k], E)).collect();
            reduce(&c, &s);
        }
    }
    out
}

/// The oracle's input relevance for `target`: LRP-0 through the Gemm, `rule` through layer 0.
fn expected(net: &Net, rule: &Rule, x: &[f32], target: usize) -> Vec<f64> {
    let a: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let conn = net.connections();
    let b0 = net.bias0();
    let mut z0 = b0.clone();
    for &(j, k, w) in &conn {
        z0[k] += a[j] * w;
    }
    // Layer 1 (Gemm h [1, H] x w1 [H, classes]) as connections; R = the target's score.
    let hidden = z0.len();
    let conn1: Vec<(usize, usize, f64)> = (0..hidden)
        .flat_map(|j| (0..net.classes).map(move |c| (j, c)))
        .map(|(j, c)| (j, c, net.w1[j * net.classes + c] as f64))
        .collect();
    let b1: Vec<f64> = net.b1.iter().map(|&b| b as f64).collect();
    let mut z1 = b1.clone();
    for &(j, c, w) in &conn1 {
        z1[c] += z0[j] * w;
    }
    let mut r1 = vec![0.0; net.classes];
    r1[target] = z1[target];
    let r0 = oracle(&Rule::Epsilon(0.0), &conn1, &z0, &b1, &r1);
    oracle(rule, &conn, &a, &b0, &r0)
}

/// The rule under test as the crate spells it (`--rule` syntax), and the oracle's.
fn rules(net: &Net) -> Vec<(String, Rule)> {
    let [_, c, h, w] = net.input;
    let n = c * h * w;
    let per_channel = |v: &[f64]| -> Vec<f64> { (0..n).map(|j| v[j / (h * w)]).collect() };
    let lo: Vec<f64> = (0..c).map(|i| -1.0 - 0.1 * i as f64).collect();
    let hi: Vec<f64> = (0..c).map(|i| 1.0 + 0.2 * i as f64).collect();
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x}"))
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut v: Vec<(String, Rule)> = vec![
        ("zero".into(), Rule::Epsilon(0.0)),
        ("epsilon:0.25".into(), Rule::Epsilon(0.25)),
        ("gamma:0.25".into(), Rule::Gamma(0.25)),
        ("gamma:0".into(), Rule::Gamma(0.0)),
        ("alpha-beta:1,0".into(), Rule::AlphaBeta(1.0, 0.0)),
        ("alpha-beta:2,1".into(), Rule::AlphaBeta(2.0, 1.0)),
        ("flat".into(), Rule::Flat),
        ("w-square".into(), Rule::WSquare),
        ("zbox:-1,1".into(), Rule::ZBox(vec![-1.0; n], vec![1.0; n])),
    ];
    // Per-channel bounds need a layer input with a channel axis (not a flattened one).
    if let Layer::Conv { .. } = net.layer {
        v.push((
            format!("zbox:{},{}", list(&lo), list(&hi)),
            Rule::ZBox(per_channel(&lo), per_channel(&hi)),
        ));
    }
    v
}

fn check(name: &str, net: &Net, x: &[f32]) {
    let model = Model::from_proto(&net.onnx(), None).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut ex = Explainer::new(model);
    let xa = ArrayD::from_shape_vec(IxDyn(&net.input), x.to_vec()).unwrap();
    for (spec, rule) in rules(net) {
        let assign = vec![
            ("0".to_string(), spec.clone()),
            ("1".to_string(), "zero".to_string()),
        ];
        let method = Method::Lrp(LrpSpec::parse(&assign, None, None, None).unwrap());
        for target in 0..net.classes {
            let got = ex
                .explain(&xa, &method, Some(target))
                .unwrap_or_else(|e| panic!("{name} {spec}: {e}"))
                .attribution;
            let want: Vec<f32> = expected(net, &rule, x, target)
                .iter()
                .map(|&v| v as f32)
                .collect();
            let want = ArrayD::from_shape_vec(IxDyn(&net.input), want).unwrap();
            assert!(
                want.iter().any(|&v| v != 0.0),
                "{name}, rule {spec}, class {target}: the oracle's relevance is all zero"
            );
            let err = rel_l2(&got, &want);
            assert!(
                err < 1e-4,
                "{name}, rule {spec}, class {target}: rel-L2 {err:.2e} against the naive oracle\n got  {:?}\n want {:?}",
                got.iter().take(8).collect::<Vec<_>>(),
                want.iter().take(8).collect::<Vec<_>>()
            );
        }
    }
}

fn nets(rng: &mut Rng) -> Vec<(&'static str, Net)> {
    vec![
        (
            "dense",
            Net::new(rng, [1, 2, 3, 3], Layer::Dense { outputs: 5 }, 3),
        ),
        (
            "conv 3x3 pad 1",
            Net::new(
                rng,
                [1, 2, 5, 5],
                Layer::Conv {
                    out_channels: 3,
                    kernel: 3,
                    stride: 1,
                    pad: 1,
                    group: 1,
                },
                3,
            ),
        ),
        (
            "conv 3x3 stride 2",
            Net::new(
                rng,
                [1, 3, 7, 7],
                Layer::Conv {
                    out_channels: 4,
                    kernel: 3,
                    stride: 2,
                    pad: 1,
                    group: 1,
                },
                2,
            ),
        ),
        (
            "depthwise conv",
            Net::new(
                rng,
                [1, 3, 6, 6],
                Layer::Conv {
                    out_channels: 3,
                    kernel: 3,
                    stride: 1,
                    pad: 0,
                    group: 3,
                },
                2,
            ),
        ),
        (
            "1x1 conv",
            Net::new(
                rng,
                [1, 4, 4, 4],
                Layer::Conv {
                    out_channels: 3,
                    kernel: 1,
                    stride: 1,
                    pad: 0,
                    group: 1,
                },
                2,
            ),
        ),
    ]
}

/// Inputs of both signs: every rule's a+ / a- terms and gamma's folded passes are used.
#[test]
fn every_rule_matches_the_naive_oracle_on_mixed_sign_inputs() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for (name, net) in nets(&mut rng) {
        let n: usize = net.input.iter().product();
        let x = rng.vec(n, -1.0, 1.0);
        check(name, &net, &x);
    }
}

/// Non-negative inputs (as after a ReLU or an image's [0, 1] range): the walk takes its
/// shortcuts (a+ is a, a- terms vanish).
#[test]
fn every_rule_matches_the_naive_oracle_on_non_negative_inputs() {
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    for (name, net) in nets(&mut rng) {
        let n: usize = net.input.iter().product();
        let x = rng.vec(n, 0.0, 1.0);
        check(name, &net, &x);
    }
}
