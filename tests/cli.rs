//! The CLI's contract on bad input: non-zero exit, exactly one stderr line naming the problem,
//! no panic, no partial output file. And its happy paths on a bundled model.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn saliency(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saliency"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run saliency")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("saliency-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Asserts a clean failure and returns its one stderr line.
fn fails(args: &[&str]) -> String {
    let out = saliency(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "{args:?} should fail, stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: expected one stderr line, got:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{args:?} panicked: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

const MNIST: &str = "models/mnist_lrp.onnx";

#[test]
fn missing_model_file() {
    let e = fails(&["info", "--model", "does/not/exist.onnx"]);
    assert!(e.contains("cannot read model 'does/not/exist.onnx'"), "{e}");
}

#[test]
fn corrupt_and_truncated_onnx() {
    let garbage = tmp("garbage.onnx");
    std::fs::write(&garbage, b"this is not a protobuf \xff\xfe\x00\x01 at all").unwrap();
    let e = fails(&["info", "--model", garbage.to_str().unwrap()]);
    assert!(
        e.contains("not a valid ONNX file") || e.contains("cannot interpret model"),
        "{e}"
    );

    let bytes = std::fs::read(root().join(MNIST)).unwrap();
    let truncated = tmp("truncated.onnx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = fails(&[
        "predict",
        "--model",
        truncated.to_str().unwrap(),
        "--input",
        "models/images/digit_7.png",
    ]);
    assert!(
        e.contains("not a valid ONNX file") || e.contains("cannot interpret model"),
        "{e}"
    );

    let empty = tmp("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let e = fails(&["info", "--model", empty.to_str().unwrap()]);
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn unsupported_operator_is_named() {
    let e = fails(&["info", "--model", "tests/fixtures/bad/unsupported_op.onnx"]);
    assert!(
        e.contains("unsupported operator FancyAttention") && e.contains("'act'"),
        "{e}"
    );
}

#[test]
fn nan_weights_and_wrong_rank() {
    let e = fails(&["info", "--model", "tests/fixtures/bad/nan_weights.onnx"]);
    assert!(e.contains("NaN"), "{e}");
    let e = fails(&["info", "--model", "tests/fixtures/bad/rank3_input.onnx"]);
    assert!(e.contains("rank 3"), "{e}");
}

#[test]
fn wrong_input_shape_writes_nothing() {
    let x = tmp("wrong_shape.npy");
    // A valid .npy of shape [1, 3, 28, 28]: the MNIST net takes [1, 1, 28, 28].
    let a = tract_onnx::prelude::tract_ndarray::ArrayD::<f32>::zeros(vec![1, 3, 28, 28]);
    std::fs::write(&x, saliency::npy::write_f32(&a).unwrap()).unwrap();
    let out = tmp("never_written.npy");
    let e = fails(&[
        "predict",
        "--model",
        MNIST,
        "--input",
        x.to_str().unwrap(),
        "--logits-out",
        out.to_str().unwrap(),
    ]);
    assert!(
        e.contains("wrong input shape") && e.contains("[1, 1, 28, 28]"),
        "{e}"
    );
    assert!(!out.exists(), "a partial output file was written");
}

#[test]
fn bad_npy_and_bad_images() {
    let bad = tmp("bad_header.npy");
    std::fs::write(&bad, b"\x93NUMPY\x01\x00\x10\x00{'descr': nonsense").unwrap();
    let e = fails(&[
        "predict",
        "--model",
        MNIST,
        "--input",
        bad.to_str().unwrap(),
    ]);
    assert!(e.contains(".npy"), "{e}");

    let fake = tmp("not_an_image.png");
    std::fs::write(&fake, b"hello, I am a text file").unwrap();
    let e = fails(&[
        "predict",
        "--model",
        MNIST,
        "--input",
        fake.to_str().unwrap(),
    ]);
    assert!(e.contains("cannot decode image"), "{e}");

    let e = fails(&["predict", "--model", MNIST, "--input", "no/such/image.png"]);
    assert!(e.contains("cannot read input"), "{e}");
}

#[test]
fn huge_image_is_refused_before_decoding() {
    // A valid PNG header announcing 20000 x 20000 pixels (the data is never read).
    let mut png = image::RgbImage::new(1, 1);
    png.put_pixel(0, 0, image::Rgb([1, 2, 3]));
    let mut bytes = Vec::new();
    png.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    // IHDR width/height live at bytes 16..24; patch them (the CRC then fails, but the limit is checked first or the decode fails: either way no huge allocation).
    bytes[16..20].copy_from_slice(&20000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&20000u32.to_be_bytes());
    let p = tmp("huge.png");
    std::fs::write(&p, &bytes).unwrap();
    let e = fails(&["predict", "--model", MNIST, "--input", p.to_str().unwrap()]);
    assert!(
        e.contains("image too large") || e.contains("cannot decode image"),
        "{e}"
    );
}

#[test]
fn bad_arguments_are_one_line() {
    let e = fails(&["predict", "--model", MNIST]);
    assert!(e.contains("--input"), "{e}");
    let e = fails(&["frobnicate"]);
    assert!(e.contains("frobnicate"), "{e}");
    let e = fails(&[
        "predict",
        "--model",
        MNIST,
        "--input",
        "models/images/digit_7.png",
        "--top",
        "0",
    ]);
    assert!(e.contains("--top"), "{e}");
    let bad_side = tmp("bad_sidecar.json");
    std::fs::write(
        &bad_side,
        b"{\"input\": {\"shape\": [1, 3, 28, 28], \"color\": \"gray\"}}",
    )
    .unwrap();
    let e = fails(&[
        "info",
        "--model",
        MNIST,
        "--sidecar",
        bad_side.to_str().unwrap(),
    ]);
    assert!(e.contains("sidecar"), "{e}");
}

#[test]
fn info_lists_nodes_layers_and_methods() {
    let out = saliency(&["info", "--model", "models/mnist_cam.onnx", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["input_shape"], serde_json::json!([1, 1, 28, 28]));
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(
        layers
            .iter()
            .map(|l| l["op_type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Conv", "Conv", "Conv", "Gemm"]
    );
    let cam = v["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"] == "cam")
        .unwrap();
    assert_eq!(cam["applies"], true);
    assert!(
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["shape"].is_array()),
        "every node has a shape"
    );

    // The dense-head LRP net has no global average pool: CAM does not apply, and says why.
    let out = saliency(&["info", "--model", MNIST, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cam = v["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"] == "cam")
        .unwrap();
    assert_eq!(cam["applies"], false);
    assert!(cam["reason"]
        .as_str()
        .unwrap()
        .contains("GlobalAveragePool"));

    let text = saliency(&["info", "--model", MNIST]);
    let text = String::from_utf8(text.stdout).unwrap();
    for needle in ["layers (conv/dense", "Gemm", "preprocess", "methods:"] {
        assert!(text.contains(needle), "info text lacks {needle}:\n{text}");
    }
}

#[test]
fn predict_prints_top5_json_and_writes_logits() {
    let logits = tmp("logits.npy");
    let out = saliency(&[
        "predict",
        "--model",
        MNIST,
        "--input",
        "models/images/digit_7.png",
        "--logits-out",
        logits.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    assert_eq!(top[0]["label"], "7");
    let p: Vec<f64> = top
        .iter()
        .map(|c| c["probability"].as_f64().unwrap())
        .collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]), "sorted by probability");
    let a = saliency::npy::read_f32(&std::fs::read(&logits).unwrap()).unwrap();
    assert_eq!(a.shape(), &[1, 10]);
    assert!(Path::new(&logits).exists());
}

/// `saliency explain` of MNIST CAM on the bundled 7 with these method flags, into `out`.
fn explain_digit(flags: &[&str], out: &std::path::Path) -> Output {
    let mut args = vec![
        "explain",
        "--model",
        "models/mnist_cam.onnx",
        "--input",
        "models/images/digit_7.png",
    ];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    saliency(&args)
}

#[test]
fn explain_writes_the_attribution_and_one_json_line() {
    let out = tmp("gxi.npy");
    let o = explain_digit(&["--method", "integrated-gradients", "--steps", "8"], &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in [
        "target",
        "score",
        "seconds",
        "plan_seconds",
        "completeness_gap",
    ] {
        assert!(v.get(k).is_some(), "JSON lacks {k}: {v}");
    }
    assert_eq!(v["target"], 7);
    let a = saliency::npy::read_f32(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(a.shape(), &[1, 1, 28, 28]);
    let o = saliency(&[
        "explain",
        "--model",
        "models/mnist_cam.onnx",
        "--input",
        "models/images/digit_7.png",
        "--method",
        "grad-cam",
        "--layer",
        "/features/features.4/Relu_output_0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        saliency::npy::read_f32(&std::fs::read(&out).unwrap())
            .unwrap()
            .shape(),
        &[14, 14]
    );
}

/// `--repeat N` explains N times: the same attribution as one run, `seconds` the median of
/// `seconds_each`; `--repeat 0` is a parameter error.
#[test]
fn explain_repeat_reports_every_run() {
    let (one, five) = (tmp("once.npy"), tmp("five.npy"));
    let run = |out: &PathBuf, repeat: &str| {
        explain_digit(
            &[
                "--method",
                "integrated-gradients",
                "--steps",
                "4",
                "--repeat",
                repeat,
            ],
            out,
        )
    };
    let o = run(&one, "1");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("seconds_each").is_none(), "{v}");
    let o = run(&five, "5");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut each: Vec<f64> = v["seconds_each"]
        .as_array()
        .expect("seconds_each")
        .iter()
        .map(|s| s.as_f64().unwrap())
        .collect();
    assert_eq!(each.len(), 5);
    each.sort_by(f64::total_cmp);
    assert_eq!(v["seconds"].as_f64().unwrap(), each[2]);
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&five).unwrap());
    let bad = tmp("repeat0.npy");
    let o = run(&bad, "0");
    assert_eq!(o.status.code(), Some(9));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--repeat"));
    assert!(!bad.exists());
}

#[test]
fn explain_bad_parameters_write_nothing() {
    let out = tmp("never.npy");
    let base = [
        "explain",
        "--model",
        "models/mnist_cam.onnx",
        "--input",
        "models/images/digit_7.png",
        "--out",
        out.to_str().unwrap(),
    ];
    let cases: &[(&[&str], &str)] = &[
        (&["--method", "magic"], "unknown method"),
        (
            &["--method", "integrated-gradients", "--steps", "0"],
            "steps",
        ),
        (
            &["--method", "integrated-gradients", "--steps", "20000"],
            "steps",
        ),
        (
            &["--method", "integrated-gradients", "--ig-rule", "simpson"],
            "simpson",
        ),
        (
            &[
                "--method",
                "integrated-gradients",
                "--baseline",
                "no/such/baseline.npy",
            ],
            "baseline",
        ),
        (&["--method", "smoothgrad", "--samples", "0"], "samples"),
        (&["--method", "smoothgrad", "--noise", "-1"], "noise"),
        (&["--method", "grad-cam"], "layer"),
        (
            &["--method", "grad-cam", "--layer", "/no/such/tensor"],
            "/no/such/tensor",
        ),
        (&["--method", "gradient", "--target", "10"], "target"),
        (
            &[
                "--method",
                "cam",
                "--layer",
                "/features/features.4/Relu_output_0",
            ],
            "cam",
        ),
    ];
    for (extra, needle) in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        let e = fails(&args);
        assert!(
            e.to_lowercase().contains(&needle.to_lowercase()),
            "{extra:?}: {e}"
        );
        assert!(!out.exists(), "{extra:?} left an output file");
    }
    // An operator the engine cannot propagate through is named before any work.
    let e = fails(&[
        "explain",
        "--model",
        "tests/fixtures/nets/unsupported_floor.onnx",
        "--input",
        "models/images/digit_7.png",
        "--method",
        "gradient",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("Floor") || e.contains("unsupported"), "{e}");
}

#[test]
fn lrp_bad_rules_fail_on_one_line() {
    let out = tmp("lrp_never.npy");
    let o = out.to_str().unwrap().to_string();
    let with = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "explain",
            "--model",
            MNIST,
            "--input",
            "tests/fixtures/mnist_lrp.input.npy",
            "--method",
            "lrp",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push(o.clone());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let fails = |v: Vec<String>| fails(&v.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let e = fails(with(&["--rule", "0=gamma"]));
    assert!(
        e.contains("bad LRP rule 'gamma'") && e.contains("gamma:G"),
        "{e}"
    );
    let e = fails(with(&["--rule", "0-x=flat"]));
    assert!(e.contains("bad layer selection '0-x'"), "{e}");
    let e = fails(with(&["--rule", "flat"]));
    assert!(e.contains("LAYERS=RULE"), "{e}");
    let e = fails(with(&["--rule", "7=flat"]));
    assert!(e.contains("layer 7 does not exist"), "{e}");
    let e = fails(with(&["--composite", "magic"]));
    assert!(e.contains("unknown composite 'magic'"), "{e}");
    assert!(!out.exists());
}

#[test]
fn lrp_prints_conservation() {
    let out = tmp("lrp.npy");
    let o = saliency(&[
        "explain",
        "--model",
        MNIST,
        "--input",
        "tests/fixtures/mnist_lrp.input.npy",
        "--method",
        "lrp",
        "--rule",
        "0=zbox:-1,1",
        "--rule",
        "-=epsilon:0.25",
        "--rule",
        "0=w-square",
        "--composite",
        "epsilon-gamma-box",
        "--low",
        "-0.5",
        "--high",
        "3",
        "--per-layer",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (sum, absorbed, score) = (
        v["relevance_sum"].as_f64().unwrap(),
        v["absorbed"].as_f64().unwrap(),
        v["score"].as_f64().unwrap(),
    );
    assert!(
        (sum + absorbed - score).abs() < 1e-4 * (1.0 + score.abs()),
        "{v}"
    );
    let layers = v["per_layer"].as_array().unwrap();
    assert_eq!(layers.len(), 4);
    assert_eq!(layers[0]["rule"], "w-square");
    assert_eq!(layers[3]["rule"], "epsilon:0.25");
    let a = saliency::npy::read_f32(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(a.shape(), &[1, 1, 28, 28]);
}

#[test]
fn evaluate_prints_areas_box_pointing_and_sanity() {
    let out = saliency(&[
        "evaluate",
        "--model",
        "models/mnist_cam.onnx",
        "--input",
        "models/images/digit_9.png",
        "--method",
        "grad-cam",
        "--layer",
        "/features/features.7/Relu_output_0",
        "--metrics",
        "deletion,insertion,box,pointing,sanity",
        "--truth",
        "5,5,20,25",
        "--curve-steps",
        "8",
        "--sanity-stages",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["method"], "grad-cam");
    assert_eq!(v["deletion"].as_array().unwrap().len(), 9);
    let (d, i) = (
        v["deletion_auc"].as_f64().unwrap(),
        v["insertion_auc"].as_f64().unwrap(),
    );
    assert!(
        (0.0..=1.0).contains(&d) && (0.0..=1.0).contains(&i) && d < i,
        "deletion {d} insertion {i}"
    );
    assert!(v["box"]["x1"].as_u64().unwrap() > v["box"]["x0"].as_u64().unwrap());
    assert!(v["box_iou"].as_f64().unwrap() > 0.0);
    assert!(v["pointing"]["hit"].is_boolean());
    assert_eq!(v["sanity"]["stages"].as_array().unwrap().len(), 3);

    // A given attribution file is scored the same way as the method's own map.
    let a = tmp("eval_attr.npy");
    assert!(saliency(&[
        "explain",
        "--model",
        "models/mnist_cam.onnx",
        "--input",
        "models/images/digit_9.png",
        "--method",
        "gradient",
        "--out",
        a.to_str().unwrap()
    ])
    .status
    .success());
    let run = |extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--model",
            "models/mnist_cam.onnx",
            "--input",
            "models/images/digit_9.png",
            "--method",
            "gradient",
            "--curve-steps",
            "8",
        ];
        args.extend_from_slice(extra);
        let o = saliency(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let own = run(&[]);
    let file = run(&["--attribution", a.to_str().unwrap()]);
    assert_eq!(own["deletion"], file["deletion"]);
    assert_eq!(file["method"], "file");
}

#[test]
fn evaluate_bad_parameters_fail_on_one_line() {
    let base = [
        "evaluate",
        "--model",
        MNIST,
        "--input",
        "models/images/digit_9.png",
        "--method",
        "gradient",
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        fails(&a)
    };
    assert!(with(&["--metrics", "deletion,foo"]).contains("unknown metric 'foo'"));
    assert!(with(&["--metrics", "pointing"]).contains("needs --truth"));
    assert!(with(&["--metrics", "pointing", "--truth", "1,2,3"]).contains("x0,y0,x1,y1"));
    assert!(
        with(&["--metrics", "pointing", "--truth", "0,0,40,40"]).contains("inside the 28x28 input")
    );
    assert!(with(&["--curve-steps", "0"]).contains("curve steps"));
    assert!(with(&["--score", "odds"]).contains("--score"));
    assert!(with(&["--deletion-baseline", "grey"]).contains("baseline must be"));
    assert!(with(&["--metrics", "box", "--box-threshold", "1.5"]).contains("box threshold"));
    assert!(with(&["--metrics", "sanity", "--sanity-stages", "0"]).contains("sanity stages"));
    let a = tmp("eval_bad.npy");
    std::fs::write(&a, b"\x93NUMPY garbage").unwrap();
    assert!(with(&["--attribution", a.to_str().unwrap()])
        .to_lowercase()
        .contains("npy"));
}
