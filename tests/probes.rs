//! The probe models (tests/fixtures/probes, written by make_probe_models.py): one operator with
//! an attribute or operand out of range, or a small valid chain of one operator family. Each
//! must load or be refused with an error; those that load must explain (or refuse) with every
//! method family. Nothing may panic: in wasm a panic kills the module.

use saliency::error::ErrorKind;
use saliency::request::Request;
use saliency::{Explainer, Model};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/probes")
}

fn load(name: &str) -> saliency::Result<Model> {
    let p = dir().join(format!("{name}.onnx"));
    Model::load(&std::fs::read(&p).unwrap(), None)
}

/// The probes that panicked in tract (an index out of bounds, an assertion, a division by zero,
/// an overflow) or ran for minutes before the loader checked them, and what they are refused as
/// now. The last four came from the second batch, after the node-by-node checks.
const WERE_PANICS: &[(&str, ErrorKind, &str)] = &[
    ("argmax_9", ErrorKind::UnsupportedOperator, "ArgMax"),
    ("argmin_m9", ErrorKind::UnsupportedOperator, "ArgMin"),
    (
        "convt_group0",
        ErrorKind::UnsupportedOperator,
        "ConvTranspose",
    ),
    (
        "convt_outshape_small",
        ErrorKind::UnsupportedOperator,
        "ConvTranspose",
    ),
    ("d2s_0", ErrorKind::UnsupportedOperator, "DepthToSpace"),
    ("expand_huge", ErrorKind::Limit, "Expand"),
    (
        "expand_neg",
        ErrorKind::CorruptModel,
        "dimensions must be >= 0",
    ),
    ("hardmax_9", ErrorKind::UnsupportedOperator, "Hardmax"),
    ("matmul_scalar", ErrorKind::CorruptModel, "rank 4 and 0"),
    (
        "maxpool_krank",
        ErrorKind::CorruptModel,
        "1-D kernel for a 2-D input",
    ),
    ("range_huge", ErrorKind::UnsupportedOperator, "Range"),
    ("range_zero_step", ErrorKind::UnsupportedOperator, "Range"),
    ("reducemax_m9", ErrorKind::CorruptModel, "axis -9"),
    ("reducemean_9", ErrorKind::CorruptModel, "axis 9"),
    ("reducesum_9", ErrorKind::CorruptModel, "axis 9"),
    ("resize_sizes_huge", ErrorKind::Limit, "Resize"),
    (
        "resize_sizes_neg",
        ErrorKind::CorruptModel,
        "dimensions must be >= 0",
    ),
    ("s2d_0", ErrorKind::UnsupportedOperator, "SpaceToDepth"),
    ("scan_node", ErrorKind::UnsupportedOperator, "Scan"),
    ("slice10_attr", ErrorKind::CorruptModel, "axis 9"),
    (
        "slice_neg_step_huge",
        ErrorKind::CorruptModel,
        "step -2147483648",
    ),
    ("split_axis7", ErrorKind::CorruptModel, "axis 7"),
    ("split_axis_m9", ErrorKind::CorruptModel, "axis -9"),
    (
        "split_one_out_two_sizes",
        ErrorKind::CorruptModel,
        "split sizes [4, 4] for 1 outputs",
    ),
    ("squeeze11_9", ErrorKind::CorruptModel, "axis 9"),
    ("squeeze_axes9", ErrorKind::CorruptModel, "axis 9"),
    ("tile_neg", ErrorKind::UnsupportedOperator, "Tile"),
    ("topk_axis9", ErrorKind::UnsupportedOperator, "TopK"),
    ("topk_neg", ErrorKind::UnsupportedOperator, "TopK"),
    ("unsqueeze11_9", ErrorKind::CorruptModel, "axis 9"),
    ("unsqueeze_9", ErrorKind::CorruptModel, "axis 9"),
    ("unsqueeze_m9", ErrorKind::CorruptModel, "axis -9"),
    (
        "shape_gather_oob",
        ErrorKind::CorruptModel,
        "gathers index 7 of an axis of 4",
    ),
    (
        "shape_pad_neg",
        ErrorKind::UnsupportedOperator,
        "crops (pad -1)",
    ),
    ("layernorm_axis_m9", ErrorKind::CorruptModel, "axis -9"),
    (
        "maxpool_huge_kernel",
        ErrorKind::Limit,
        "kernel_shape value 1099511627776",
    ),
];

/// Resize reads its scales at a position that depends on the operator set; tract indexed a
/// missing third input of a Resize labelled opset 11/12 (found by fuzzing `onnx_load`), and
/// would unwrap a missing sizes input when the scales are empty.
const RESIZE_BY_OPSET: &[(&str, Option<&str>)] = &[
    (
        "resize11_two_inputs",
        Some("has no scales input (Resize-11"),
    ),
    ("resize12_roi_empty", Some("has no scales input (Resize-12")),
    (
        "resize10_empty_scales",
        Some("has neither scales nor sizes"),
    ),
    (
        "resize11_empty_scales_no_sizes",
        Some("has neither scales nor sizes"),
    ),
    ("resize13_scalar_scales", Some("has scales of rank 0")),
    // Scales win over sizes when both are given (as in tract and the ONNX spec).
    ("resize13_scales_and_sizes", Some("[1, 1, 800000, 800000]")),
    // An opset-11 export with empty roi and scales and the sizes as input 3 (PyTorch writes
    // these); its two empty initializers are equal, which tract-onnx adds once.
    ("resize11_sizes", None),
];

/// Found by reading tract-onnx's parsers against the checks (fourth session): nodes where tract
/// reads another operand than the checks did (an attribute and an input both given; which one
/// counts depends on the operator set), or indexes an operand the node does not have. The
/// first six panicked before the fix (index out of bounds in tract-hir's conv.rs and
/// tract-core's padding.rs, smallvec's insert, tract-hir's expandable.rs, an unwrap in
/// tract-onnx's pow.rs).
const FROM_THE_AUDIT: &[(&str, ErrorKind, &str)] = &[
    (
        "conv_empty_bias",
        ErrorKind::CorruptModel,
        "ends its inputs with an empty name",
    ),
    (
        "conv_const_w_short_strides",
        ErrorKind::CorruptModel,
        "1 strides values for a 2-D window",
    ),
    (
        "conv_const_w_short_pads",
        ErrorKind::CorruptModel,
        "2 pads values for a 2-D window",
    ),
    (
        "unsqueeze13_attr_and_input",
        ErrorKind::CorruptModel,
        "axis 5, out of range",
    ),
    (
        "split13_attr_and_input",
        ErrorKind::CorruptModel,
        "split sizes [16, 16, 32] for 2 outputs",
    ),
    (
        "pow_bool_exponent",
        ErrorKind::CorruptModel,
        "raises to a power of type Bool",
    ),
    (
        "squeeze11_unsorted",
        ErrorKind::UnsupportedOperator,
        "axes [3, 0] out of order",
    ),
    (
        "squeeze13_unsorted",
        ErrorKind::UnsupportedOperator,
        "axes [3, 0] out of order",
    ),
    (
        "reduce13_empty_axes_name",
        ErrorKind::CorruptModel,
        "ends its inputs with an empty name",
    ),
    (
        "reducesum13_three_inputs",
        ErrorKind::CorruptModel,
        "has 3 inputs (a reduction takes its data and at most its axes)",
    ),
    (
        "reducemean13_attr_and_input",
        ErrorKind::CorruptModel,
        "axis 9, out of range",
    ),
    (
        "pad11_attr_and_input",
        ErrorKind::UnsupportedOperator,
        "crops (pad -10)",
    ),
    (
        "lrn_size0",
        ErrorKind::CorruptModel,
        "has no size of at least 1",
    ),
];

/// Each probe of `table` is refused with its kind and a message containing its text.
fn assert_refused(table: &[(&str, ErrorKind, &str)]) {
    for &(name, kind, text) in table {
        let e = load(name).expect_err(name);
        assert_eq!(e.kind, kind, "{name}: {e}");
        assert!(e.message().contains(text), "{name}: {e}");
    }
}

#[test]
fn operands_are_checked_where_tract_reads_them() {
    assert_refused(FROM_THE_AUDIT);
}

#[test]
fn resize_reads_its_operands_where_its_operator_set_puts_them() {
    for &(name, refused) in RESIZE_BY_OPSET {
        match (load(name), refused) {
            (Err(e), Some(text)) => assert!(e.message().contains(text), "{name}: {e}"),
            (Ok(m), None) => assert_eq!(m.classes, 3, "{name}"),
            (r, _) => panic!("{name}: {:?}", r.map(|m| m.classes)),
        }
    }
}

/// Initializers with equal values are one node in tract's graph: the ONNX nodes are still
/// matched to theirs (an off-by-one here refused any such model, e.g. two equal shape
/// constants, as "could not be matched").
#[test]
fn equal_initializers_load() {
    let m = load("equal_initializers").unwrap();
    assert_eq!(m.classes, 3);
}

#[test]
fn former_panics_are_refused_with_a_clear_error() {
    assert_refused(WERE_PANICS);
}

#[test]
fn every_probe_loads_or_is_refused_and_explains_or_is_refused() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "onnx").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 300, "{} probes", names.len());
    let (mut loaded, mut explained) = (0, 0);
    for name in &names {
        let Ok(model) = load(name) else { continue };
        loaded += 1;
        let x = saliency::array::Array::from_elem(model.input_shape().to_vec(), 0.5);
        let sc = model.sidecar.clone();
        let mut ex = Explainer::new(model);
        for req in [
            r#"{"method":"gradient"}"#,
            r#"{"method":"guided-backprop"}"#,
            r#"{"method":"integrated-gradients","steps":2}"#,
            r#"{"method":"smoothgrad","samples":2}"#,
            r#"{"method":"grad-cam"}"#,
            r#"{"method":"lrp","composite":"epsilon-gamma-box"}"#,
            r#"{"method":"lrp","composite":"epsilon-alpha2-beta1-flat"}"#,
        ] {
            let Ok(m) = Request::from_json(req).and_then(|r| r.to_method(&x, &sc)) else {
                continue;
            };
            if ex.explain(&x, &m, None).is_ok() {
                explained += 1;
            }
        }
    }
    eprintln!(
        "{} probes: {loaded} loaded, {explained} explanations",
        names.len()
    );
    // The valid chains load and most explain: the test would be vacuous otherwise.
    assert!(loaded >= 50, "{loaded} probes loaded");
    assert!(explained >= 150, "{explained} explanations");
}
