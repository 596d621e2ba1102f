//! Every input that crashed, hung or ran out of memory under the fuzz targets (fuzz/, see
//! fuzz/RESULTS.md), fed to the same API: each must now return an `Err` of the right kind with a
//! clear message, quickly, instead of panicking or hanging.

use saliency::error::ErrorKind;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn input(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz-regressions")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Loads the fuzz input `name` as a model and checks it is refused with `kind` and a message
/// containing `text`.
fn assert_refused(name: &str, kind: ErrorKind, text: &str) {
    let e = saliency::Model::load(&input(name), None).unwrap_err();
    assert_eq!(e.kind, kind, "{name}: {e}");
    assert!(e.message().contains(text), "{name}: {e}");
}

/// Runs `f` and checks it took less than `limit` (the fuzzers' timeout was 20 s).
fn quick<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    assert!(
        t.elapsed() < limit,
        "took {:?} (limit {limit:?})",
        t.elapsed()
    );
    out
}

/// npy_read: a header whose descr opens ~30 braces and never closes them made the header
/// parser (py_literal, under ndarray-npy) backtrack exponentially: a 144-byte file ran for
/// minutes. Now refused by its nesting depth before parsing.
#[test]
fn npy_nested_braces_header_is_refused_quickly() {
    let e = quick(Duration::from_secs(2), || {
        saliency::npy::read_f32(&input("npy_read-nested-braces-timeout.npy"))
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Npy, "{e}");
    assert!(e.message().contains("nests brackets"), "{e}");
    // Real headers (depth 2) still read.
    let ok = saliency::npy::write_f32(&tract_onnx::prelude::tract_ndarray::ArrayD::<f32>::zeros(
        vec![1, 2, 3],
    ))
    .unwrap();
    assert_eq!(saliency::npy::read_f32(&ok).unwrap().shape(), &[1, 2, 3]);
}

/// onnx_load: a graph output naming no tensor of the graph made tract's ONNX parser panic
/// ("no entry found for key", tract-onnx model.rs). Now checked before tract sees the graph.
#[test]
fn onnx_unknown_graph_output_is_a_corrupt_model() {
    let e = saliency::Model::load(&input("onnx_load-unknown-graph-output.onnx"), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::CorruptModel, "{e}");
    assert!(
        e.message().contains("graph output")
            && e.message().contains("is not a tensor of the graph"),
        "{e}"
    );
}

/// image_decode: a valid 112-byte 1x16384 gray PNG. For a 224x224 RGB model its shorter side
/// was resized to 224, making a 224x3670016 image: over 2 minutes and 2.5 GB under the
/// image_decode target (its 28x28 gray pass alone was 28x458752). Found reading the
/// preprocessing while the target ran and confirmed with the target's binary (the run had not
/// reached it yet). Now a Limit error before resizing; the 28x28 model's pass is refused too.
#[test]
fn elongated_image_is_refused_before_resizing() {
    let bytes = input("image_decode-tall-1x16384.png");
    for shape in [[1usize, 3, 224, 224], [1, 1, 28, 28]] {
        let sc = saliency::Sidecar::default_for(&shape).unwrap();
        let e = quick(Duration::from_secs(5), || {
            saliency::preprocess::image_bytes_to_tensor(&bytes, &sc)
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit, "{e}");
        assert!(e.message().contains("too elongated"), "{e}");
    }
}

/// onnx_load: a Pad whose pads make a [1, 12, 1816461319, 7] tensor (found as a 20 s timeout): tract's
/// optimizer (Conv codegen, patch_axis::make_invalid_regions) worked through it output position
/// by output position. Now every node's output is bounded before decluttering and optimizing.
#[test]
fn onnx_huge_intermediate_tensor_is_refused_quickly() {
    let bytes = input("onnx_load-huge-conv-padding-timeout.onnx");
    let e = quick(Duration::from_secs(10), || {
        saliency::Model::load(&bytes, None)
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit, "{e}");
    // Its Pad (by 1816461312) is now refused before typing; the output bound catches the rest.
    assert!(e.message().contains("pads an axis by 1816461312"), "{e}");
    // Two later timeouts of the same kind: a Pad by 851969, and one making 1752457550 rows.
    for name in [
        "onnx_load-huge-pad-timeout-2.onnx",
        "onnx_load-huge-pad-timeout-3.onnx",
    ] {
        let e = quick(Duration::from_secs(10), || {
            saliency::Model::load(&input(name), None)
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit, "{name}: {e}");
        assert!(
            e.message().contains("elements") || e.message().contains("pads an axis by"),
            "{name}: {e}"
        );
    }
}

/// onnx_load: a Pad with a padding near `usize::MAX` before a conv: tract folds it into the
/// conv's padding and overflows adding them (an add-with-overflow panic in tract-core's
/// cnn/padding.rs under the fuzz build's overflow checks; without them, the model silently loaded
/// with wrapped sizes). The pad is -1: negative pads are now refused before typing.
#[test]
fn onnx_pad_overflow_is_refused() {
    assert_refused(
        "onnx_load-pad-overflow.onnx",
        ErrorKind::UnsupportedOperator,
        "crops (pad -1): negative pads are not supported",
    );
}

/// onnx_load: a 2-D conv with 2 pads instead of 4 made tract index past the list (index out of
/// bounds in tract-core's cnn/padding.rs). Window attributes are now checked against the
/// window's rank before tract sees the graph.
#[test]
fn onnx_conv_short_pads_is_a_corrupt_model() {
    assert_refused(
        "onnx_load-conv-short-pads.onnx",
        ErrorKind::CorruptModel,
        "pads values for a 2-D window",
    );
}

/// onnx_load: a Transpose with perm [65, 0] on a rank-2 tensor: tract-hir's permute_axes.rs
/// indexed the shape with 65 (index out of bounds). Checked before tract sees the graph.
#[test]
fn onnx_transpose_perm_out_of_range_is_a_corrupt_model() {
    assert_refused(
        "onnx_load-transpose-perm-out-of-range.onnx",
        ErrorKind::CorruptModel,
        "Transpose node '/Transpose' has perm [65, 0], not a permutation of 0..2",
    );
}

/// onnx_load: a Pad (opset 13) whose pads are computed (a Cast) and come out negative: tract
/// converted them with `as usize` while typing and asserted on the negative dimension
/// (tract-core's model/fact.rs, an `assert!` even in release builds). Checked after analysis,
/// when the computed pads are known, before typing.
#[test]
fn onnx_negative_computed_pad_is_unsupported() {
    assert_refused(
        "onnx_load-negative-pad.onnx",
        ErrorKind::UnsupportedOperator,
        "Pad node '/Pad' crops (pad -256): negative pads are not supported",
    );
}

/// onnx_load: a Flatten with axis 65 on a rank-4 tensor: tract-hir's flatten.rs sliced the
/// shape at the axis while analysing the model (slice index out of range). Flatten is parsed by
/// a checked replacement (src/load/checked_ops.rs) that refuses the axis once the rank is known.
#[test]
fn onnx_flatten_axis_out_of_range_is_an_error() {
    assert_refused(
        "onnx_load-flatten-axis-out-of-range.onnx",
        ErrorKind::Shape,
        "Flatten axis 65 is out of range for an input of rank 4",
    );
}

/// onnx_load: a Flatten with no input panicked in the checked Flatten's own inference rules
/// (tract's Flatten does not check its arity either; index out of bounds). Nodes without inputs
/// or outputs are now refused before tract sees the graph, and the checked Flatten checks its
/// arity too.
#[test]
fn onnx_node_without_input_is_a_corrupt_model() {
    assert_refused(
        "onnx_load-flatten-without-input.onnx",
        ErrorKind::CorruptModel,
        "Flatten node 'flat' has no input",
    );
}

/// onnx_load: a Slice whose constant step is -4294967296, 0 as tract's `i32`: tract-core's
/// strided_slice.rs divided by it while analysing. Checked before tract sees the graph.
#[test]
fn onnx_slice_step_zero_is_a_corrupt_model() {
    assert_refused(
        "onnx_load-slice-step-zero.onnx",
        ErrorKind::CorruptModel,
        "Slice node '/Slice' has step -4294967296",
    );
}

/// onnx_load: an initializer with raw bytes of a type tract has no raw reader for hit
/// `unimplemented!("FIXME, raw tensor loading")` in tract-onnx's tensor.rs. Checked before
/// tract sees the graph.
#[test]
fn onnx_raw_tensor_of_unreadable_type_is_a_corrupt_model() {
    assert_refused(
        "onnx_load-raw-tensor-unreadable-type.onnx",
        ErrorKind::CorruptModel,
        "holds raw data of type",
    );
}

/// lrp_rules (found reading LayerSelection::layers while extending the target to models with 0
/// and 1 layers, which now exercises it): `-` or `3-` on a model with no conv/dense layers
/// selected layer 0 of none, and LrpSpec::resolve then indexed an empty rule list.
#[test]
fn layer_selection_on_a_model_without_layers_is_an_error() {
    use saliency::lrp::{LayerSelection, LrpSpec};
    for text in ["-", "0-", "0"] {
        let e = LayerSelection::parse(text).unwrap().layers(0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Parameter, "{text}: {e}");
    }
    let spec = LrpSpec::parse(&[("-".into(), "epsilon:0.25".into())], None, None, None).unwrap();
    let e = spec.resolve(&[]).unwrap_err();
    assert!(e.message().contains("no conv/dense layers"), "{e}");
}

/// onnx_load: mutations of one model where a Constant feeding a ConstantOfShape holds a
/// negative dimension (1-3) or, read as a dimension, 1099511625220 (4): tract evaluated it while
/// typing the model and failed an assertion (tract-core model/fact.rs, "dims ... >= 0").
/// Constant shapes are now checked first.
#[test]
fn onnx_negative_constant_of_shape_is_a_corrupt_model() {
    for i in 1..=4 {
        let name = format!("onnx_load-negative-constant-of-shape-{i}.onnx");
        assert_refused(&name, ErrorKind::CorruptModel, "ConstantOfShape");
    }
}

/// onnx_load: a fuzzed conv whose padding its transposed conv cannot give back made our
/// backward pass build a tract `Deconv` whose output size underflowed (subtract with overflow in
/// tract-core's `explicit_for_deconv`; a wrapped size in release builds). Now refused when the
/// explanation plan is built, naming the node.
#[test]
fn onnx_conv_padding_beyond_its_transpose_is_unsupported() {
    let model = saliency::Model::load(&input("onnx_load-deconv-padding-sub-overflow.onnx"), None)
        .expect("the model itself loads and runs forward");
    let x = saliency::array::Array::zeros(model.input_shape().to_vec());
    let sc = model.sidecar.clone();
    let mut ex = saliency::Explainer::new(model);
    let m = saliency::request::Request::from_json(r#"{"method":"gradient"}"#)
        .and_then(|r| r.to_method(&x, &sc))
        .unwrap();
    let e = ex.explain(&x, &m, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedOperator, "{e}");
    assert!(e.message().contains("padding"), "{e}");
}

/// onnx_load (third session, plain release build): a Resize whose scales round the batch and
/// channel axes to 0 rows fed a ReduceSum, and tract's sum divided by the empty axis's size
/// while typing the model. Resizes to empty tensors are refused, and so is any empty float
/// tensor reaching a node.
#[test]
fn onnx_resize_to_an_empty_tensor_is_a_corrupt_model() {
    assert_refused(
        "onnx_load-resize-to-empty-reduce.onnx",
        ErrorKind::CorruptModel,
        "Resize node #0 resizes to an empty tensor",
    );
}

/// onnx_load (third session, on the code before the per-node checks): a Pad by -16777216 on
/// an unnamed node. The Pad check then looked nodes up by name and skipped it, and tract
/// asserted that dimensions are >= 0 while typing. Now checked with every node, by position.
#[test]
fn onnx_negative_pad_on_an_unnamed_node_is_unsupported() {
    assert_refused(
        "onnx_load-computed-negative-pad-unnamed.onnx",
        ErrorKind::UnsupportedOperator,
        "Pad node #0 crops (pad -16777216)",
    );
}

/// onnx_load with every method family (third session): a fuzzed model whose tensors were each
/// under the 2^28-element bound but held 208 M values together; its gradient took 1.5 GB and
/// LRP 2.5 GB natively (an out-of-memory and a 130 s unit under the fuzzer; in wasm, a failed
/// allocation would abort the module). The total is now bounded too, before any work (counted
/// on the analysed model, before tract types it: 130 M of the 208 M the typed graph held). The
/// bound is the browser's (2^26 values) in wasm; natively it is 2^27 since ConvNeXt-Tiny at
/// 224x224 holds 98.6 M (its LRP peaks at 1.1 GB), so natively this model loads, quickly, and
/// records the total that the browser refuses.
#[test]
fn onnx_huge_total_activations_are_counted_quickly() {
    quick(Duration::from_secs(10), || {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fuzz-regressions/onnx_load-huge-activations-oom.onnx");
        let m = saliency::Model::load(&std::fs::read(p).unwrap(), None).unwrap();
        assert_eq!(m.activation_values, 130_342_985);
        assert!(m.activation_values > 1 << 26, "over the browser's bound");
        assert!(m.activation_values <= saliency::load::limits::MAX_ACTIVATION_ELEMENTS);
    });
}

/// onnx_load with every method family (third session): a ConstantOfShape of [202375168, 1]
/// (under the 2^28-element tensor bound) made tract build and copy an 800 MB constant while
/// loading: 12.6 GB and 29 s, an out-of-memory under the fuzzer. ConstantOfShape is now bounded
/// by 2^22 values.
#[test]
fn onnx_huge_constant_of_shape_is_refused_quickly() {
    quick(Duration::from_secs(10), || {
        assert_refused(
            "onnx_load-constant-of-shape-202M-oom.onnx",
            ErrorKind::CorruptModel,
            "has shape [202375168, 1]",
        )
    });
}

/// onnx_load (fourth session, item 21): a Resize-10 model relabelled opset 12 by one bit. tract
/// parses Resize-11/12's scales as the third given input and indexed it unchecked (an index
/// out of bounds in tract-onnx's resize.rs while analysing). Where Resize's operands are is now
/// decided by the operator set, and a missing one is refused.
#[test]
fn onnx_resize_without_its_scales_input_is_a_corrupt_model() {
    quick(Duration::from_secs(10), || {
        assert_refused(
            "onnx_load-resize12-two-inputs.onnx",
            ErrorKind::CorruptModel,
            "has no scales input (Resize-12 takes X, roi, scales)",
        )
    });
}
