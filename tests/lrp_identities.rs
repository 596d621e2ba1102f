//! What LRP must satisfy whatever the reference: LRP-0 equals gradient x input where no bias
//! absorbs relevance; the conservation report adds up; relevance is conserved between layers
//! where only ReLUs and max pools sit in between; bad rule strings fail clearly.

mod common;
use common::rel_l2;

use saliency::lrp::{LrpRule, LrpSpec};
use saliency::{npy, Explainer, Method, Model, Sidecar};
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn lrp(rules: &[(&str, &str)], composite: Option<&str>) -> Method {
    let r: Vec<(String, String)> = rules
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Method::Lrp(LrpSpec::parse(&r, composite, None, None).unwrap())
}

/// Without biases, LRP-0 (through ReLU, max pool, residual Add, average pools) is x * dy/dx,
/// and nothing is absorbed.
#[test]
fn lrp_zero_is_gradient_times_input_without_biases() {
    let dir = Path::new(ROOT).join("tests/fixtures/lrp");
    let mut ex = Explainer::new(
        Model::load_with(&std::fs::read(dir.join("nobias.onnx")).unwrap(), None).unwrap(),
    );
    let x = npy::read_f32(&std::fs::read(dir.join("nobias.input.npy")).unwrap()).unwrap();
    let gxi = ex.explain(&x, &Method::GradientXInput, None).unwrap();
    for rule in ["zero", "epsilon:1e-9"] {
        let e = ex.explain(&x, &lrp(&[("-", rule)], None), None).unwrap();
        let err = rel_l2(
            e.attribution.as_slice().unwrap(),
            gxi.attribution.as_slice().unwrap(),
        );
        assert!(
            err < 1e-4,
            "{rule}: LRP-0 vs gradient x input: rel-L2 {err:.2e}"
        );
        let c = e.lrp.unwrap();
        assert!(
            c.absorbed.abs() < 1e-5 * c.score.abs(),
            "{rule}: absorbed {} of {}",
            c.absorbed,
            c.score
        );
    }
}

fn bundled(name: &str) -> (Explainer, tract_onnx::prelude::tract_ndarray::ArrayD<f32>) {
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

/// mnist_lrp is a chain conv, max pool, ReLU, conv, max pool, ReLU, dense, ReLU, dense: max
/// pools and ReLUs pass all relevance on, so each layer receives exactly what the one above
/// passed down, the last layer receives the score, and the input receives the first layer's.
#[test]
fn relevance_is_conserved_between_layers() {
    let (mut ex, x) = bundled("mnist_lrp");
    for m in [
        lrp(&[], None),
        lrp(&[("-", "gamma:0.25")], None),
        lrp(&[], Some("epsilon-gamma-box")),
        lrp(&[], Some("epsilon-plus-flat")),
    ] {
        let e = ex.explain(&x, &m, None).unwrap();
        let c = e.lrp.unwrap();
        let sum_input: f64 = e.attribution.iter().map(|&v| v as f64).sum();
        assert!((c.relevance_sum - sum_input).abs() < 1e-6 * (1.0 + sum_input.abs()));
        assert!((c.relevance_sum + c.absorbed - c.score).abs() < 1e-9);
        let l = &c.per_layer;
        assert_eq!(l.len(), 4);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4 * (1.0 + b.abs());
        assert!(close(l[3].relevance_in, c.score), "{m:?}: {l:?}");
        for i in 0..3 {
            assert!(
                close(l[i].relevance_in, l[i + 1].relevance_out),
                "{m:?}: layer {i}: {l:?}"
            );
        }
        assert!(close(c.relevance_sum, l[0].relevance_out), "{m:?}: {l:?}");
        // The biases absorb something, but not most of the score.
        assert!(c.absorbed.abs() < 0.5 * c.score.abs(), "{m:?}: {c:?}");
    }
}

/// Every bundled model explains with the default rules and each composite, with finite
/// relevance of the input's shape.
#[test]
fn bundled_models_explain() {
    for name in ["mnist_cam", "fashion_bn", "emotion"] {
        let (mut ex, x) = bundled(name);
        for m in [
            lrp(&[], None),
            lrp(&[], Some("epsilon-gamma-box")),
            lrp(&[], Some("epsilon-alpha2-beta1-flat")),
            lrp(&[], Some("layered")),
        ] {
            let e = ex.explain(&x, &m, None).unwrap();
            assert_eq!(e.attribution.shape(), x.shape(), "{name}");
            assert!(e.attribution.iter().any(|&v| v != 0.0), "{name}: {m:?}");
        }
    }
}

#[test]
fn bad_rules_fail_clearly() {
    for (sel, rule, part) in [
        ("0", "gamma", "gamma:G"),
        ("x", "flat", "'x'"),
        ("0", "alpha-beta:1,1", "alpha - beta"),
        ("0", "zbox:1", "zbox"),
    ] {
        let e = LrpSpec::parse(&[(sel.into(), rule.into())], None, None, None).unwrap_err();
        assert_eq!(e.kind, saliency::ErrorKind::Parameter);
        assert!(e.message().contains(part), "{sel}={rule}: {e}");
    }
    let (mut ex, x) = bundled("mnist_lrp");
    let e = ex
        .explain(&x, &lrp(&[("9", "flat")], None), None)
        .unwrap_err();
    assert!(e.message().contains("layer 9 does not exist"), "{e}");
    // zbox bounds per channel must match the layer's input channels.
    let m = Method::Lrp(LrpSpec {
        composite: None,
        rules: vec![(
            saliency::lrp::LayerSelection::parse("0").unwrap(),
            LrpRule::parse("zbox:0/0.5,1/2").unwrap(),
        )],
    });
    assert!(ex.explain(&x, &m, None).is_err());
}

/// With biases too: on ReLU nets (ReLU, max pool, average pools), LRP-0 relevance at every
/// activation is a * dy/da by induction (R_k = z_k dy/dz_k makes R_j = a_j sum_k w_jk dy/dz_k),
/// so LRP-0 equals gradient x input; the biases only break conservation: sum(R) = sum(x dy/dx),
/// not the score. (Through ReLU6 or LeakyReLU, passed unchanged, the identity does not hold.)
#[test]
fn lrp_zero_is_gradient_times_input_on_relu_nets_with_biases() {
    for name in ["mnist_lrp", "mnist_cam", "fashion_bn"] {
        let (mut ex, x) = bundled(name);
        let gxi = ex.explain(&x, &Method::GradientXInput, None).unwrap();
        let e = ex.explain(&x, &lrp(&[("-", "zero")], None), None).unwrap();
        let err = rel_l2(
            e.attribution.as_slice().unwrap(),
            gxi.attribution.as_slice().unwrap(),
        );
        assert!(
            err < 1e-4,
            "{name}: LRP-0 vs gradient x input: rel-L2 {err:.2e}"
        );
        let c = e.lrp.unwrap();
        let sum_gxi: f64 = gxi.attribution.iter().map(|&v| v as f64).sum();
        assert!(
            (c.relevance_sum - sum_gxi).abs() < 1e-4 * (1.0 + sum_gxi.abs()),
            "{name}"
        );
    }
}
