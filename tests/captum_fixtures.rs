//! The engine against Captum (float64) on the small nets of tests/fixtures/nets, which cover
//! every operator the engine supports (see make_captum_refs.py for what each net holds).

mod common;

use common::{method_of, rel_l2};
use saliency::{npy, ErrorKind, Explainer, Method, Model};
use serde_json::Value;
use std::path::Path;
use tract_onnx::prelude::tract_ndarray::ArrayD;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nets");

fn npy_file(name: &str) -> ArrayD<f32> {
    npy::read_f32(&std::fs::read(Path::new(DIR).join(name)).unwrap()).unwrap()
}

#[test]
fn engine_matches_captum() {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(DIR).join("index.json")).unwrap())
            .unwrap();
    let mut failures = vec![];
    let mut n = 0;
    for net in index["nets"].as_array().unwrap() {
        let bytes = std::fs::read(Path::new(DIR).join(net["onnx"].as_str().unwrap())).unwrap();
        let mut ex = Explainer::new(Model::load(&bytes, None).unwrap());
        let x = npy_file(net["input"].as_str().unwrap());
        for case in net["cases"].as_array().unwrap() {
            let m = method_of(case);
            let target = case["target"].as_u64().unwrap() as usize;
            let got = ex.explain(&x, &m, Some(target)).unwrap().attribution;
            let want = npy_file(case["file"].as_str().unwrap());
            let tol = if case["method"] == "integrated-gradients" {
                1e-3
            } else {
                1e-4
            };
            let err = if got.shape() == want.shape() {
                rel_l2(&got, &want)
            } else {
                f64::INFINITY
            };
            n += 1;
            if err > tol {
                failures.push(format!(
                    "{}/{}: rel-L2 {err:.1e} (shape {:?} vs {:?})",
                    net["net"],
                    case["key"],
                    got.shape(),
                    want.shape()
                ));
            }
        }
    }
    assert!(n >= 20, "only {n} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cam_needs_a_global_average_pool() {
    let bytes = std::fs::read(Path::new(DIR).join("blocks.onnx")).unwrap();
    let mut ex = Explainer::new(Model::load(&bytes, None).unwrap());
    let e = ex
        .explain(
            &npy_file("blocks.input.npy"),
            &Method::Cam { layer: None },
            None,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parameter, "{e}");
}

/// tract pushes conv_zoo's stride-2 1x1 conv up through the layers before it, so the
/// full-resolution ReLU6 output no longer exists in the simplified graph: a clear error, not a
/// wrong map.
#[test]
fn fused_layer_is_a_clear_error() {
    let bytes = std::fs::read(Path::new(DIR).join("conv_zoo.onnx")).unwrap();
    let mut ex = Explainer::new(Model::load(&bytes, None).unwrap());
    let e = ex
        .explain(
            &npy_file("conv_zoo.input.npy"),
            &Method::GradCam {
                layer: "/r6/Clip_output_0".into(),
            },
            None,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parameter);
    assert!(e.to_string().contains("fused away"), "{e}");
}

#[test]
fn unknown_layer_is_a_clear_error() {
    let bytes = std::fs::read(Path::new(DIR).join("conv_zoo.onnx")).unwrap();
    let mut ex = Explainer::new(Model::load(&bytes, None).unwrap());
    let e = ex
        .explain(
            &npy_file("conv_zoo.input.npy"),
            &Method::GradCam {
                layer: "/nope/Relu_output_0".into(),
            },
            None,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parameter);
    assert!(e.to_string().contains("/nope/Relu_output_0"), "{e}");
}

#[test]
fn unsupported_operator_is_named_before_computing() {
    let bytes = std::fs::read(Path::new(DIR).join("unsupported_floor.onnx")).unwrap();
    let mut ex = Explainer::new(Model::load(&bytes, None).unwrap());
    let e = ex.prepare().unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedOperator);
    let msg = e.to_string();
    assert!(msg.contains("Floor") && msg.contains("floor"), "{msg}");
    assert!(!msg.contains('\n'));
}
