//! Models as users export them today (tests/fixtures/user, made by make_user_exports.py):
//! torch's default export with its weights in a `.onnx.data` file beside it, the legacy
//! exporter at opset 17, a two-channel input, an RGBA input and a channels-last input. Logits
//! against torch, every gradient method against Captum (float64), CAM on a ReduceMean pool, LRP
//! against Zennit on MobileNetV3's HardSwish + squeeze-excite (HardSigmoid) pattern. And a
//! real Keras export (tests/fixtures/keras, made by make_keras_export.py: a channels-last Keras
//! CNN through tf2onnx) against TensorFlow's own gradients in float64, and torch.export's
//! GatherND for overlapping adaptive pools (tests/fixtures/gathernd, make_gathernd_export.py):
//! equal windows (GatherND + ReduceMean) and unequal ones (GatherND, Where, Gather, Add, Div:
//! the Div belongs to the pool, which Zennit's Norm rule treats as one).

mod common;

use common::{logit_gap, method_of, rel_l2};
use saliency::load::external;
use saliency::sidecar::{Color, Layout};
use saliency::{npy, ErrorKind, Explainer, Model};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tract_onnx::prelude::tract_ndarray::ArrayD;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/user")
}

fn npy_file(name: &str) -> ArrayD<f32> {
    npy::read_f32(&std::fs::read(dir().join(name)).unwrap()).unwrap()
}

/// The nets of both fixture folders, each with its folder under "dir".
fn index() -> Vec<Value> {
    let mut nets = vec![];
    for folder in ["user", "keras", "gathernd"] {
        let d = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(folder);
        let text = std::fs::read_to_string(d.join("index.json")).unwrap();
        for mut net in serde_json::from_str::<Value>(&text).unwrap()["nets"]
            .as_array()
            .unwrap()
            .clone()
        {
            net["dir"] = Value::from(d.to_string_lossy().to_string());
            nets.push(net);
        }
    }
    nets
}

/// A file of a net's fixture folder.
fn net_file(net: &Value, name: &str) -> PathBuf {
    Path::new(net["dir"].as_str().unwrap()).join(name)
}

fn net_npy(net: &Value, key: &str) -> ArrayD<f32> {
    npy::read_f32(&std::fs::read(net_file(net, net[key].as_str().unwrap())).unwrap()).unwrap()
}

fn load(net: &Value) -> Model {
    let p = net_file(net, net["onnx"].as_str().unwrap());
    Model::from_proto(&external::read_path(&p).unwrap(), None)
        .unwrap_or_else(|e| panic!("{}: {e}", net["net"]))
}

#[test]
fn user_exports_match_torch_and_captum() {
    let mut failures = vec![];
    let mut n = 0;
    for net in index() {
        let name = net["net"].as_str().unwrap();
        let model = load(&net);
        let x = model.to_nchw(net_npy(&net, "input"));
        let logits = model.forward(&x).unwrap();
        let want = net_npy(&net, "logits");
        let (d, scale) = logit_gap(&logits, &want);
        assert!(d <= 1e-4 * scale.max(1.0), "{name}: logits differ by {d}");
        let mut ex = Explainer::new(model);
        for case in net["cases"].as_array().unwrap() {
            let key = case["key"].as_str().unwrap();
            let target = case["target"].as_u64().unwrap() as usize;
            let got = match ex.explain(&x, &method_of(case), Some(target)) {
                Ok(e) => e.attribution,
                Err(e) => {
                    failures.push(format!("{name}/{key}: {e}"));
                    continue;
                }
            };
            let file = net_file(&net, case["file"].as_str().unwrap());
            let want = npy::read_f32(&std::fs::read(file).unwrap()).unwrap();
            // LRP within 1e-5: a reference taken with Zennit's own BatchNorm merge (which leaves
            // x / sqrt(1 + eps) behind) is 6e-4 off on a MobileNetV3 stem with its eps-1e-3 BatchNorm.
            let tol = match case["method"].as_str() {
                Some("integrated-gradients") => 1e-3,
                Some("lrp") => 1e-5,
                _ => 1e-4,
            };
            let err = if got.shape() == want.shape() {
                rel_l2(&got, &want)
            } else {
                f64::INFINITY
            };
            n += 1;
            eprintln!("{name}/{key}: rel-L2 {err:.1e}");
            if err > tol {
                failures.push(format!(
                    "{name}/{key}: rel-L2 {err:.1e} (shape {:?} vs {:?})",
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
fn layouts_and_colors_are_read_from_the_graph() {
    for net in index() {
        let m = load(&net);
        let name = net["net"].as_str().unwrap();
        let (layout, color) = match name {
            "nhwc" | "keras_nhwc" => (Layout::Nhwc, Color::Rgb),
            "two_channel" => (Layout::Nchw, Color::Tensor),
            "rgba" => (Layout::Nchw, Color::Rgba),
            _ => (Layout::Nchw, Color::Rgb),
        };
        assert_eq!(m.sidecar.input.layout, layout, "{name}");
        assert_eq!(m.sidecar.input.color, color, "{name}");
        assert_eq!(m.input_shape()[0], 1);
        let info = saliency::info::describe(&m);
        let cam = info.methods.iter().find(|m| m.method == "cam").unwrap();
        // (The gathernd nets pool to 3 x 3 and 6 x 6, not globally: no CAM, and it says why.)
        let global = !name.starts_with("gathernd");
        assert_eq!(cam.applies, global, "{name}: {}", cam.reason);
    }
}

#[test]
fn a_two_channel_model_refuses_images_with_one_clear_error() {
    let net = index()
        .into_iter()
        .find(|n| n["net"] == "two_channel")
        .unwrap();
    let m = load(&net);
    let png =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/images/chelsea.png"))
            .unwrap();
    let e = saliency::preprocess::image_bytes_to_tensor(&png, &m.sidecar).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Shape);
    assert!(e.message().contains("takes 2 input channels"), "{e}");
    assert!(e.message().contains("give it a tensor"), "{e}");
}

#[test]
fn an_rgba_image_becomes_four_channels() {
    let net = index().into_iter().find(|n| n["net"] == "rgba").unwrap();
    let m = load(&net);
    // A 2x2 RGBA PNG whose alpha differs per pixel, resized to the model's 16x16.
    let mut png = vec![];
    image::RgbaImage::from_fn(2, 2, |x, y| {
        image::Rgba([200, 100, 50, (x * 100 + y * 50) as u8])
    })
    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
    .unwrap();
    let x = saliency::preprocess::image_bytes_to_tensor(&png, &m.sidecar).unwrap();
    assert_eq!(x.shape(), &[1, 4, 16, 16]);
    assert!((x[[0, 0, 8, 8]] - 200.0 / 255.0).abs() < 1e-6);
    let alpha: Vec<f32> = (0..16).map(|i| x[[0, 3, i, i]]).collect();
    assert!(
        alpha.windows(2).any(|w| w[0] != w[1]),
        "alpha is kept: {alpha:?}"
    );
    assert!(m.forward(&x).is_ok());
}

#[test]
fn the_default_export_needs_its_data_file() {
    let bytes = std::fs::read(dir().join("se_dynamo.onnx")).unwrap();
    let proto = Model::read_proto(&bytes).unwrap();
    assert_eq!(
        external::locations(&proto).unwrap(),
        vec!["se_dynamo.onnx.data".to_string()]
    );
    // Without the file: one error naming it.
    let e = Model::read_proto_with(&bytes, &|_| None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e.message().contains("'se_dynamo.onnx.data'"), "{e}");
    // Truncated: one error naming the tensor and the file's size.
    let data = std::fs::read(dir().join("se_dynamo.onnx.data")).unwrap();
    let short = &data[..data.len() - 10];
    let e = Model::read_proto_with(&bytes, &|_| Some(short)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::CorruptModel);
    assert!(e.message().contains("past the end of that file"), "{e}");
    // A self-contained copy loads like the pair.
    let mut proto = Model::read_proto_with(&bytes, &|_| Some(&data[..])).unwrap();
    let one = external::self_contained(&proto);
    assert!(external::locations(&Model::read_proto(&one).unwrap())
        .unwrap()
        .is_empty());
    let a = Model::load(&one, None).unwrap();
    let b = Model::from_proto(&proto, None).unwrap();
    let x = npy_file("se_dynamo.input.npy");
    assert_eq!(a.forward(&x).unwrap(), b.forward(&x).unwrap());
    // Nothing else depends on file order: the proto is unchanged by a second inline.
    external::inline(&mut proto, bytes.len(), &|_| None).unwrap();
}

#[test]
fn a_channels_last_tensor_is_taken_in_either_layout() {
    let net = index().into_iter().find(|n| n["net"] == "nhwc").unwrap();
    let m = load(&net);
    let nhwc = npy_file("nhwc.input.npy");
    assert_eq!(nhwc.shape(), &[1, 16, 16, 3]);
    let nchw = m.to_nchw(nhwc.clone());
    assert_eq!(nchw.shape(), &[1, 3, 16, 16]);
    assert_eq!(nchw[[0, 2, 5, 7]], nhwc[[0, 5, 7, 2]]);
    assert_eq!(m.to_nchw(nchw.clone()), nchw);
}

/// The CLI finds the weights file beside the model, from any working directory.
#[test]
fn the_cli_reads_the_weights_file_beside_the_model() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let run = |model: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_saliency"))
            .args(["predict", "--model"])
            .arg(bad.join(model))
            .arg("--input")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/images/digit_3.png"))
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap()
    };
    let a = run("ext_ok.onnx");
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = run("tiny_ok.onnx");
    let top = |o: &std::process::Output| {
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["top"].clone()
    };
    assert_eq!(
        top(&a),
        top(&b),
        "the pair predicts as the self-contained file"
    );
}
