//! Identities the explanations must satisfy on the bundled models, whatever the reference:
//! integrated-gradients completeness, CAM's mean + bias = the logit, gradients of a linear net
//! equal to finite differences, SmoothGrad reproducible per seed.

mod common;
use common::rel_l2;

use saliency::{npy, Baseline, Explainer, IgRule, Method, Model, Sidecar};
use std::path::Path;
use tract_onnx::prelude::tract_ndarray::ArrayD;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn bundled(name: &str) -> (Explainer, ArrayD<f32>) {
    let sc = Sidecar::from_json(
        &std::fs::read_to_string(Path::new(ROOT).join(format!("models/{name}.json"))).unwrap(),
    )
    .unwrap();
    let bytes =
        std::fs::read(Path::new(ROOT).join(format!("models/{}", sc.file.as_ref().unwrap())))
            .unwrap();
    let x = npy::read_f32(
        &std::fs::read(Path::new(ROOT).join(format!("tests/fixtures/{name}.input.npy"))).unwrap(),
    )
    .unwrap();
    (
        Explainer::new(Model::load_with(&bytes, Some(sc)).unwrap()),
        x,
    )
}

#[test]
fn integrated_gradients_completeness_gap_shrinks_with_steps() {
    let (mut ex, x) = bundled("mnist_cam");
    let ig = |ex: &mut Explainer, steps| {
        let m = Method::IntegratedGradients {
            steps,
            rule: IgRule::GaussLegendre,
            baseline: Baseline::Constant(0.0),
        };
        let e = ex.explain(&x, &m, None).unwrap();
        (e.completeness_gap.unwrap().abs(), e.score as f64)
    };
    let (gap8, _) = ig(&mut ex, 8);
    let (gap256, score) = ig(&mut ex, 256);
    let y0 = ex.model().forward(&x.mapv(|_| 0.0)).unwrap();
    let delta =
        (score - y0[saliency::methods::argmax(&ex.model().forward(&x).unwrap())] as f64).abs();
    assert!(
        gap256 < gap8,
        "gap {gap256} with 256 steps vs {gap8} with 8"
    );
    assert!(
        gap256 < 0.01 * delta,
        "gap {gap256} vs y(x) - y(x') = {delta}"
    );
}

/// y_c = mean(CAM_c) + b_c: the bias, measured on one input, predicts the score of another.
fn cam_mean_plus_bias_is_the_logit(name: &str) {
    let (mut ex, x) = bundled(name);
    let x2 = x.mapv(|v| 0.5 * v + 0.1);
    let c = saliency::methods::argmax(&ex.model().forward(&x).unwrap());
    let cam = Method::Cam { layer: None };
    let e1 = ex.explain(&x, &cam, Some(c)).unwrap();
    let e2 = ex.explain(&x2, &cam, Some(c)).unwrap();
    let bias = e1.score - e1.attribution.mean().unwrap();
    let predicted = e2.attribution.mean().unwrap() + bias;
    assert!(
        (predicted - e2.score).abs() < 1e-4 * (1.0 + e2.score.abs()),
        "{name}: {predicted} vs {}",
        e2.score
    );
}

#[test]
fn cam_identity_mnist_cam() {
    cam_mean_plus_bias_is_the_logit("mnist_cam");
}

#[test]
fn cam_identity_fashion_bn() {
    cam_mean_plus_bias_is_the_logit("fashion_bn");
}

#[test]
fn cam_identity_efficientnet() {
    cam_mean_plus_bias_is_the_logit("efficientnet_lite0");
}

#[test]
fn gradient_of_a_linear_net_equals_finite_differences() {
    let dir = Path::new(ROOT).join("tests/fixtures/nets");
    let mut ex = Explainer::new(
        Model::load(&std::fs::read(dir.join("linear.onnx")).unwrap(), None).unwrap(),
    );
    let x = npy::read_f32(&std::fs::read(dir.join("linear.input.npy")).unwrap()).unwrap();
    let g = ex
        .explain(&x, &Method::Gradient, Some(1))
        .unwrap()
        .attribution;
    let h = 0.5f32; // exact for a linear function, up to float32 rounding
    let mut worst = 0f32;
    for i in 0..x.len() {
        let mut xp = x.clone();
        let mut xm = x.clone();
        xp.as_slice_mut().unwrap()[i] += h;
        xm.as_slice_mut().unwrap()[i] -= h;
        let fd =
            (ex.model().forward(&xp).unwrap()[1] - ex.model().forward(&xm).unwrap()[1]) / (2.0 * h);
        worst = worst.max((fd - g.as_slice().unwrap()[i]).abs());
    }
    let scale = g.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        worst < 1e-3 * scale,
        "max |fd - grad| = {worst}, max |grad| = {scale}"
    );
}

#[test]
fn smoothgrad_is_reproducible_per_seed() {
    let (mut ex, x) = bundled("mnist_cam");
    let sg = |ex: &mut Explainer, seed| {
        ex.explain(
            &x,
            &Method::SmoothGrad {
                samples: 4,
                noise: 0.15,
                seed,
            },
            Some(3),
        )
        .unwrap()
        .attribution
    };
    let a = sg(&mut ex, 1);
    assert_eq!(a, sg(&mut ex, 1));
    assert_ne!(a, sg(&mut ex, 2));
    // No noise: the mean of identical gradients is the gradient.
    let g = ex
        .explain(&x, &Method::Gradient, Some(3))
        .unwrap()
        .attribution;
    let s0 = ex
        .explain(
            &x,
            &Method::SmoothGrad {
                samples: 3,
                noise: 0.0,
                seed: 0,
            },
            Some(3),
        )
        .unwrap()
        .attribution;
    assert!(g
        .iter()
        .zip(&s0)
        .all(|(a, b)| (a - b).abs() <= 1e-6 * (1.0 + a.abs())));
}

#[test]
fn every_bundled_model_supports_the_gradient() {
    for name in [
        "mnist_cam",
        "mnist_lrp",
        "fashion_bn",
        "emotion",
        "efficientnet_lite0",
    ] {
        let (mut ex, x) = bundled(name);
        let g = ex.explain(&x, &Method::Gradient, None).unwrap().attribution;
        assert_eq!(g.shape(), x.shape());
        assert!(g.iter().any(|&v| v != 0.0), "{name}: zero gradient");
    }
}

/// The engine splits off the input's affine prefix (a first convolution, say) for integrated
/// gradients and SmoothGrad: running the rest from the prefix's value must give the same scores,
/// and the prefix's backward applied to the gradient at its end the same gradient.
#[test]
fn splitting_off_the_affine_prefix_changes_nothing() {
    use saliency::engine::{Engine, Mode};
    let probes = Path::new(ROOT).join("tests/fixtures/probes");
    let mut nets: Vec<(String, Explainer, ArrayD<f32>)> = ["mnist_cam", "mnist_lrp", "emotion"]
        .iter()
        .map(|n| {
            let (ex, x) = bundled(n);
            (n.to_string(), ex, x)
        })
        .collect();
    // A product after a product (a depthwise convolution after a dense one), and a matrix
    // product whose operands are both in the graph.
    for name in ["conv_depthwise_c4", "matmul_chain_bcast"] {
        let m = Model::load(
            &std::fs::read(probes.join(format!("{name}.onnx"))).unwrap(),
            None,
        )
        .unwrap();
        let n: usize = m.input_shape().iter().product();
        let x = ArrayD::from_shape_vec(
            m.input_shape().to_vec(),
            (0..n)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
                .collect(),
        )
        .unwrap();
        nets.push((name.to_string(), Explainer::new(m), x));
    }
    for (name, ex, x) in &mut nets {
        let m = ex.model();
        let e = Engine::new(m).unwrap();
        let p = e
            .prefix()
            .unwrap_or_else(|| panic!("{name}: no affine prefix"));
        assert_ne!(
            p,
            m.typed.input_outlets().unwrap()[0],
            "{name}: the prefix is the input"
        );
        let tape = e.forward(x).unwrap();
        let split = e
            .forward_from_prefix(m, e.prefix_value(m, x).unwrap())
            .unwrap();
        let (l, ls) = (tape.logits().unwrap(), split.logits().unwrap());
        for (a, b) in l.iter().zip(&ls) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
                "{name}: logits {l:?} vs {ls:?}"
            );
        }
        let class = saliency::methods::argmax(&l);
        let g = e.gradient(m, &tape, class, None, Mode::Gradient).unwrap();
        let gp = e
            .gradient(m, &split, class, Some(p), Mode::Gradient)
            .unwrap();
        let back = e.prefix_backward(m, gp).unwrap();
        let err = rel_l2(&back, &g);
        assert!(
            err <= 1e-5,
            "{name}: gradient through the split moved by {err}"
        );
    }
    // Integrated gradients over the split equal the plain loop of forward and backward passes
    // (with a rule whose points are not symmetric about the middle of the path).
    let (name, ex, x) = &mut nets[0];
    let e = ex
        .explain(
            x,
            &Method::IntegratedGradients {
                steps: 16,
                rule: IgRule::RiemannRight,
                baseline: Baseline::Constant(0.0),
            },
            Some(3),
        )
        .unwrap();
    let m = ex.model();
    let engine = Engine::new(m).unwrap();
    let mut sum = x.mapv(|_| 0.0);
    for (a, w) in IgRule::RiemannRight.points(16) {
        let tape = engine.forward(&x.mapv(|v| v * a as f32)).unwrap();
        let g = engine.gradient(m, &tape, 3, None, Mode::Gradient).unwrap();
        sum.scaled_add(w as f32, &g);
    }
    let err = rel_l2(&e.attribution, &(sum * &*x));
    assert!(err <= 1e-5, "{name}: IG over the split moved by {err}");
}

#[test]
fn shards_add_up_to_the_whole() {
    use saliency::methods::Part;
    let (mut ex, x) = bundled("mnist_cam");
    for m in [
        Method::IntegratedGradients {
            steps: 9,
            rule: IgRule::RiemannTrapezoid,
            baseline: Baseline::Constant(0.0),
        },
        Method::SmoothGrad {
            samples: 7,
            noise: 0.2,
            seed: 5,
        },
    ] {
        let whole = ex.explain(&x, &m, Some(2)).unwrap();
        let mut sum = whole.attribution.mapv(|_| 0.0f32);
        for k in 0..3 {
            let p = ex
                .explain_part(&x, &m, Some(2), Part::new(k, 3).unwrap())
                .unwrap();
            sum += &p.attribution;
        }
        let err = (&sum - &whole.attribution)
            .mapv(|v| v.abs())
            .iter()
            .copied()
            .fold(0.0f32, f32::max);
        let scale = whole
            .attribution
            .mapv(|v| v.abs())
            .iter()
            .copied()
            .fold(0.0f32, f32::max);
        assert!(
            err <= 1e-5 * scale,
            "{}: shards differ from the whole by {err} (scale {scale})",
            m.name()
        );
        if let Some(gap) = whole.completeness_gap {
            let total: f64 = sum.iter().map(|&v| v as f64).sum();
            assert!((total - whole.score_delta.unwrap() - gap).abs() < 1e-4);
        }
    }
    assert!(Part::new(3, 3).is_err() && Part::new(0, 0).is_err());
}

#[test]
fn capturing_every_activation_changes_no_gradient() {
    use saliency::engine::{Capture, Engine, Mode};
    for name in ["mnist_cam", "emotion", "fashion_bn"] {
        let (ex, x) = bundled(name);
        let m = ex.model();
        let needed = Engine::with_capture(m, Capture::Needed).unwrap();
        let all = Engine::with_capture(m, Capture::All).unwrap();
        let (tn, ta) = (needed.forward(&x).unwrap(), all.forward(&x).unwrap());
        assert_eq!(tn.logits().unwrap(), ta.logits().unwrap(), "{name}: logits");
        for mode in [Mode::Gradient, Mode::Guided] {
            let gn = needed.gradient(m, &tn, 1, None, mode).unwrap();
            let ga = all.gradient(m, &ta, 1, None, mode).unwrap();
            assert_eq!(
                gn, ga,
                "{name} {mode:?}: the gradient depends on what the forward run kept"
            );
        }
        // Capture::All keeps every activation on the path, e.g. each node's output.
        let kept = m
            .typed
            .nodes()
            .iter()
            .filter(|n| !n.inputs.is_empty() && ta.has(tract_onnx::prelude::OutletId::new(n.id, 0)))
            .count();
        assert!(
            kept > m
                .typed
                .nodes()
                .iter()
                .filter(|n| tn.has(tract_onnx::prelude::OutletId::new(n.id, 0)))
                .count(),
            "{name}: All keeps more"
        );
    }
}

/// CAM's terms: its weights are the dense layer's row for the class (read from the ONNX file),
/// and sum_k w_k f_k rebuilds the map; Grad-CAM's are alpha_k with ReLU(sum alpha_k A^k).
#[test]
fn cam_and_grad_cam_report_their_terms() {
    let (mut ex, x) = bundled("mnist_cam");
    let e = ex.explain(&x, &Method::Cam { layer: None }, None).unwrap();
    let c = e.channels.as_ref().expect("CAM reports its terms");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto =
        Model::read_proto(&std::fs::read(root.join("models/mnist_cam.onnx")).unwrap()).unwrap();
    let w = proto
        .graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .find(|t| t.name == "fc.weight")
        .unwrap();
    let w = saliency::evaluate::sanity::floats(w);
    let row = &w[e.target * 128..(e.target + 1) * 128];
    assert_eq!(c.weights.len(), 128);
    for (a, b) in c.weights.iter().zip(row) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let rebuilt = c
        .maps
        .axis_iter(tract_onnx::prelude::tract_ndarray::Axis(0))
        .zip(&c.weights)
        .fold(
            ArrayD::<f32>::zeros(e.attribution.shape()),
            |acc, (f, &wk)| acc + &f * wk,
        );
    let diff = (&rebuilt - &e.attribution)
        .mapv(f32::abs)
        .iter()
        .copied()
        .fold(0.0, f32::max);
    assert!(diff < 1e-4, "CAM rebuilt from its terms differs by {diff}");

    let layer = "/features/features.4/Relu_output_0".to_string();
    let g = ex
        .explain(
            &x,
            &Method::GradCam {
                layer: layer.clone(),
            },
            None,
        )
        .unwrap();
    let c = g.channels.as_ref().expect("Grad-CAM reports its terms");
    assert_eq!(
        (c.layer.as_str(), c.maps.shape()),
        (layer.as_str(), &[64usize, 14, 14][..])
    );
    let rebuilt = c
        .maps
        .axis_iter(tract_onnx::prelude::tract_ndarray::Axis(0))
        .zip(&c.weights)
        .fold(
            ArrayD::<f32>::zeros(g.attribution.shape()),
            |acc, (f, &a)| acc + &f * a,
        )
        .mapv(|v| v.max(0.0));
    let diff = (&rebuilt - &g.attribution)
        .mapv(f32::abs)
        .iter()
        .copied()
        .fold(0.0, f32::max);
    assert!(
        diff < 1e-5,
        "Grad-CAM rebuilt from its terms differs by {diff}"
    );
    assert!(ex
        .explain(&x, &Method::Gradient, None)
        .unwrap()
        .channels
        .is_none());
}

/// The explainer keeps the scores of recent inputs (IG's shards and repeated requests reuse
/// them): whatever the order of inputs and baselines, y(x) - y(x') and the score must be those
/// of a fresh forward run, more inputs than the cache holds included.
#[test]
fn remembered_scores_belong_to_their_input() {
    let (mut ex, x) = bundled("mnist_cam");
    let inputs: Vec<ArrayD<f32>> = (0..3)
        .map(|k| x.mapv(|v| v * (1.0 - 0.3 * k as f32)))
        .collect();
    let baselines = [0.0f32, -0.4242, 1.0, 2.8215, 0.5];
    for round in 0..2 {
        for (i, xi) in inputs.iter().enumerate() {
            for (b, &v) in baselines.iter().enumerate() {
                let m = Method::IntegratedGradients {
                    steps: 2,
                    rule: IgRule::RiemannMiddle,
                    baseline: Baseline::Constant(v),
                };
                let target = (i + b + round) % 10;
                let e = ex.explain(xi, &m, Some(target)).unwrap();
                let y = ex.model().forward(xi).unwrap()[target];
                let y0 = ex.model().forward(&xi.mapv(|_| v)).unwrap()[target];
                assert_eq!(e.score, y, "input {i}, baseline {v}");
                assert!(
                    (e.score_delta.unwrap() - (y - y0) as f64).abs() < 1e-5,
                    "input {i}, baseline {v}: {} vs {}",
                    e.score_delta.unwrap(),
                    y - y0
                );
            }
        }
    }
}
