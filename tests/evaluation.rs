//! The evaluation tools against an independent, straightforward computation
//! (tests/fixtures/make_eval_refs.py: onnxruntime + numpy + scipy), and the sanity check's
//! known behaviour on a trained net: gradient maps change a lot when the weights are
//! randomised from the top down.

use saliency::baseline::BaselineSpec;
use saliency::evaluate::{curves, localize, pixel_map, sanity};
use saliency::render::{Map2, Reduce};
use saliency::{npy, Explainer, Method, Model};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tract_onnx::prelude::tract_ndarray::ArrayD;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn npy_file(p: &Path) -> ArrayD<f32> {
    npy::read_f32(&std::fs::read(p).unwrap()).unwrap()
}

/// The net, its input and the map the reference used.
fn subject(net: &str) -> (Model, ArrayD<f32>, Map2) {
    let r = root();
    let (onnx, input, map_src) = if net.starts_with("mnist") {
        let input = r.join(format!("tests/fixtures/{net}.input.npy"));
        (r.join(format!("models/{net}.onnx")), input.clone(), input)
    } else {
        let d = r.join("tests/fixtures/nets");
        (
            d.join(format!("{net}.onnx")),
            d.join(format!("{net}.input.npy")),
            d.join(format!("{net}.gradient.npy")),
        )
    };
    let m = Model::load(&std::fs::read(onnx).unwrap(), None).unwrap();
    let x = npy_file(&input);
    let a = npy_file(&map_src).into_shape_with_order(x.shape()).unwrap();
    let (h, w) = (x.shape()[2], x.shape()[3]);
    let map = pixel_map(a.shape(), a.as_slice().unwrap(), h, w, Reduce::Sum).unwrap();
    (m, x, map)
}

fn cases() -> Vec<Value> {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/eval/expected.json")).unwrap(),
    )
    .unwrap();
    v["cases"].as_array().unwrap().clone()
}

#[test]
fn deletion_and_insertion_match_the_reference() {
    let mut checked = 0;
    for c in cases().iter().filter(|c| c["kind"] != "localize") {
        let net = c["net"].as_str().unwrap();
        let (m, x, map) = subject(net);
        let kind = if c["kind"] == "deletion" {
            curves::CurveKind::Deletion
        } else {
            curves::CurveKind::Insertion
        };
        let score = if c["score"] == "logit" {
            curves::Score::Logit
        } else {
            curves::Score::Probability
        };
        let steps = c["steps"].as_u64().unwrap() as usize;
        let target = c["target"].as_u64().unwrap() as usize;
        let base = BaselineSpec::Constant {
            value: c["baseline"].as_f64().unwrap() as f32,
        };
        let mut calls = 0;
        let got = curves::curve(
            &m,
            &x,
            &map,
            target,
            kind,
            steps,
            &base,
            score,
            &mut |_, _| calls += 1,
        )
        .unwrap();
        assert_eq!(calls, steps + 1);
        let want: Vec<f64> = c["curve"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(got.scores.len(), want.len());
        for (i, (g, w)) in got.scores.iter().zip(&want).enumerate() {
            assert!(
                (*g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{net} {:?} {steps} {score:?} point {i}: {g} vs {w}",
                kind
            );
        }
        let auc = c["auc"].as_f64().unwrap();
        assert!(
            (got.auc - auc).abs() <= 1e-5 * (1.0 + auc.abs()),
            "{net} {kind:?} {steps}: auc {} vs {auc}",
            got.auc
        );
        checked += 1;
    }
    assert_eq!(checked, 24);
}

#[test]
fn faithful_order_beats_reverse_order_on_a_trained_net() {
    // Deleting the bright strokes first kills the score; deleting the background first does not.
    let (m, x, map) = subject("mnist_cam");
    let target = saliency::methods::argmax(&m.forward(&x).unwrap());
    let reversed = Map2 {
        data: map.data.iter().map(|v| -v).collect(),
        ..map.clone()
    };
    let base = BaselineSpec::Constant {
        value: x.iter().copied().fold(f32::INFINITY, f32::min),
    };
    let run = |mp: &Map2| {
        curves::curve(
            &m,
            &x,
            mp,
            target,
            curves::CurveKind::Deletion,
            16,
            &base,
            curves::Score::Probability,
            &mut |_, _| {},
        )
        .unwrap()
        .auc
    };
    let (good, bad) = (run(&map), run(&reversed));
    assert!(
        good < 0.3 && bad > 0.5,
        "deletion AUC strokes-first {good}, background-first {bad}"
    );
}

#[test]
fn box_and_pointing_match_scipy() {
    for c in cases().iter().filter(|c| c["kind"] == "localize") {
        let net = c["net"].as_str().unwrap();
        let (_, _, map) = subject(net);
        for (frac, b) in c["boxes"].as_object().unwrap() {
            let l = localize::cam_box(&map, frac.parse().unwrap()).unwrap();
            let got = l.bbox.unwrap();
            let want = localize::PixelBox {
                x0: b["x0"].as_u64().unwrap() as usize,
                y0: b["y0"].as_u64().unwrap() as usize,
                x1: b["x1"].as_u64().unwrap() as usize,
                y1: b["y1"].as_u64().unwrap() as usize,
            };
            assert_eq!(got, want, "{net} at {frac}");
            assert_eq!(l.component_pixels as u64, b["pixels"].as_u64().unwrap());
        }
        let (ax, ay) = (
            c["argmax"]["x"].as_u64().unwrap() as usize,
            c["argmax"]["y"].as_u64().unwrap() as usize,
        );
        let p = localize::pointing_game(
            &map,
            &localize::PixelBox {
                x0: ax,
                y0: ay,
                x1: ax + 1,
                y1: ay + 1,
            },
            0.0,
        )
        .unwrap();
        assert_eq!((p.x, p.y, p.hit), (ax, ay, true), "{net}");
    }
}

fn mnist_cam() -> (saliency::model::Model, Vec<u8>, ArrayD<f32>) {
    let bytes = std::fs::read(root().join("models/mnist_cam.onnx")).unwrap();
    let side = std::fs::read_to_string(root().join("models/mnist_cam.json")).unwrap();
    let m = Model::load(&bytes, Some(&side)).unwrap();
    let x = npy_file(&root().join("tests/fixtures/mnist_cam.input.npy"));
    (m, bytes, x)
}

#[test]
fn randomising_the_weights_changes_gradient_maps() {
    let (m, bytes, x) = mnist_cam();
    let proto = Model::read_proto(&bytes).unwrap();
    let layers = sanity::weight_layers(&proto);
    assert_eq!(
        layers
            .iter()
            .map(|l| l.op_type.as_str())
            .collect::<Vec<_>>(),
        ["Conv", "Conv", "Conv", "Gemm"]
    );
    let r = sanity::cascade(
        &proto,
        &m.sidecar,
        &x,
        &Method::Gradient,
        None,
        8,
        0,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(
        r.stages.iter().map(|s| s.randomized).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(r.stages[1].layer.as_deref(), Some("/fc/Gemm"));
    // Stage 0 is the plain explanation.
    let e = Explainer::new(
        Model::load(
            &bytes,
            Some(&std::fs::read_to_string(root().join("models/mnist_cam.json")).unwrap()),
        )
        .unwrap(),
    )
    .explain(&x, &Method::Gradient, None)
    .unwrap();
    let plain = pixel_map(
        e.attribution.shape(),
        e.attribution.as_slice().unwrap(),
        28,
        28,
        Reduce::Sum,
    )
    .unwrap();
    assert_eq!(r.stages[0].map, plain);
    assert_eq!(r.target, e.target);
    // Known behaviour (Adebayo et al.): the gradient decorrelates as the model is destroyed.
    let last = r.stages.last().unwrap();
    assert!(
        last.spearman_abs < 0.35,
        "gradient rank correlation after full randomisation: {}",
        last.spearman_abs
    );
    assert!(!r.flagged);
    // Seeded: the same seed gives the same maps, another seed other maps.
    let again = sanity::cascade(
        &proto,
        &m.sidecar,
        &x,
        &Method::Gradient,
        None,
        2,
        0,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(again.stages.last().unwrap().map, last.map);
    let other = sanity::cascade(
        &proto,
        &m.sidecar,
        &x,
        &Method::Gradient,
        None,
        2,
        1,
        &mut |_, _| {},
    )
    .unwrap();
    assert_ne!(other.stages.last().unwrap().map, last.map);
}

#[test]
fn randomize_rewrites_only_the_chosen_layers() {
    let (_, bytes, _) = mnist_cam();
    let proto = Model::read_proto(&bytes).unwrap();
    let layers = sanity::weight_layers(&proto);
    let top = &layers[3..];
    let p = sanity::randomize(&proto, top, 7);
    let g0 = proto.graph.as_ref().unwrap();
    let g1 = p.graph.as_ref().unwrap();
    for (a, b) in g0.initializer.iter().zip(&g1.initializer) {
        let changed = a.float_data != b.float_data || a.raw_data != b.raw_data;
        assert_eq!(changed, top[0].initializers.contains(&a.name), "{}", a.name);
    }
    // The new weights keep the scale: their std is that of the originals (within sampling).
    let std = |v: &[f32]| {
        let n = v.len() as f64;
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        (v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n).sqrt()
    };
    let w0 = g0
        .initializer
        .iter()
        .find(|t| t.name == "fc.weight")
        .unwrap();
    let w1 = g1
        .initializer
        .iter()
        .find(|t| t.name == "fc.weight")
        .unwrap();
    let orig = saliency::evaluate::sanity::floats(w0);
    let r = std(&w1.float_data) / std(&orig);
    assert!((0.85..1.15).contains(&r), "std ratio {r}");
}

#[test]
fn bad_evaluation_parameters_are_errors() {
    let (m, _, x) = mnist_cam();
    let map = Map2 {
        h: 28,
        w: 28,
        data: vec![0.0; 784],
    };
    let run = |mp: &Map2, t: usize, steps: usize| {
        curves::curve(
            &m,
            &x,
            mp,
            t,
            curves::CurveKind::Deletion,
            steps,
            &BaselineSpec::Black,
            curves::Score::Probability,
            &mut |_, _| {},
        )
    };
    assert!(run(&map, 0, 0)
        .unwrap_err()
        .to_string()
        .contains("curve steps"));
    assert!(run(&map, 0, 785).is_err());
    assert!(run(&map, 10, 4)
        .unwrap_err()
        .to_string()
        .contains("out of range"));
    assert!(run(
        &Map2 {
            h: 14,
            w: 14,
            data: vec![0.0; 196]
        },
        0,
        4
    )
    .unwrap_err()
    .to_string()
    .contains("14x14"));
    assert!(run(
        &Map2 {
            h: 28,
            w: 28,
            data: vec![f32::NAN; 784]
        },
        0,
        4
    )
    .unwrap_err()
    .to_string()
    .contains("NaN"));
    assert!(localize::PixelBox::parse("1,2,3").is_err());
    assert!(localize::PixelBox::parse("a,b,c,d").is_err());
    let proto =
        Model::read_proto(&std::fs::read(root().join("models/mnist_cam.onnx")).unwrap()).unwrap();
    assert!(sanity::cascade(
        &proto,
        &m.sidecar,
        &x,
        &Method::Gradient,
        None,
        0,
        0,
        &mut |_, _| {}
    )
    .is_err());
}

#[test]
fn rescaled_twin_computes_the_same_function_and_gradients_but_lrp_epsilon_tells_them_apart() {
    use saliency::evaluate::invariance;
    let root = root();
    let bytes = std::fs::read(root.join("models/mnist_lrp.onnx")).unwrap();
    let side = saliency::Sidecar::from_json(
        &std::fs::read_to_string(root.join("models/mnist_lrp.json")).unwrap(),
    )
    .unwrap();
    let x = npy_file(&root.join("tests/fixtures/mnist_lrp.input.npy"));
    let proto = Model::read_proto(&bytes).unwrap();
    let mut a = Explainer::new(Model::from_proto(&proto, Some(side.clone())).unwrap());
    let mut b = Explainer::new(
        Model::from_proto(
            &invariance::rescale(&proto, 0, 0.01).unwrap(),
            Some(side.clone()),
        )
        .unwrap(),
    );
    let (la, lb) = (
        a.model().forward(&x).unwrap(),
        b.model().forward(&x).unwrap(),
    );
    for (p, q) in la.iter().zip(&lb) {
        assert!(
            (p - q).abs() < 1e-3 * (1.0 + p.abs()),
            "logits differ: {p} vs {q}"
        );
    }
    let rel = |p: &ArrayD<f32>, q: &ArrayD<f32>| {
        let n: f64 = p
            .iter()
            .zip(q)
            .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
            .sum();
        (n / q.iter().map(|v| (*v as f64).powi(2)).sum::<f64>()).sqrt()
    };
    let ig = Method::IntegratedGradients {
        steps: 16,
        rule: saliency::IgRule::parse("gauss-legendre").unwrap(),
        baseline: saliency::Baseline::Constant(0.0),
    };
    for m in [Method::Gradient, ig] {
        let (p, q) = (
            a.explain(&x, &m, None).unwrap().attribution,
            b.explain(&x, &m, None).unwrap().attribution,
        );
        assert!(
            rel(&p, &q) < 1e-3,
            "{} differs between the twins: {}",
            m.name(),
            rel(&p, &q)
        );
    }
    let lrp = |e: &mut Explainer| {
        let spec = saliency::request::Request::from_json(
            r#"{"method":"lrp","rules":[["-","epsilon:0.25"]]}"#,
        )
        .unwrap()
        .to_method(&x, &side)
        .unwrap();
        e.explain(&x, &spec, None).unwrap().attribution
    };
    let d = rel(&lrp(&mut a), &lrp(&mut b));
    assert!(
        d > 0.05,
        "LRP-epsilon should see the rescaling, rel diff {d}"
    );
    assert!(invariance::rescale(&proto, 3, 2.0).is_err());
}
