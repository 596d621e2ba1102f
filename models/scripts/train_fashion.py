"""Train the small BatchNorm CNN on Fashion-MNIST and export it to ONNX with
BatchNormalization nodes kept (not folded into the convolutions).

    apt-get install -y dataset-fashion-mnist      (-> /usr/share/datasets/fashion-mnist)
    /tmp/venv-models/bin/python models/scripts/train_fashion.py

Trained on the 60 000 training images, accuracy measured on the official
10 000 test images.  Normalisation: (pixel/255 - 0.2860) / 0.3530.

Writes models/fashion_bn.onnx and models/scripts/results/fashion_bn.json.
"""
import os

import onnx
import torch

from common import FASHION_MEAN, FASHION_STD, MODELS, RESULTS, load_fashion, write_json
from nets import FashionBn
from torch_common import (evaluate, export_onnx, normalise, onnx_accuracy, set_determinism,
                          summary, train, verify_onnx)

EPOCHS = 7
LR = 3e-3


def main():
    xi, yi = load_fashion("train")
    ti, tl = load_fashion("t10k")
    xtr, ytr = normalise(xi, FASHION_MEAN, FASHION_STD), torch.from_numpy(yi)
    xte, yte = normalise(ti, FASHION_MEAN, FASHION_STD), torch.from_numpy(tl)
    set_determinism(0)
    model = FashionBn()
    print(f"fashion_bn: training {EPOCHS} epochs on {len(xtr)}")
    secs = train(model, xtr, ytr, EPOCHS, LR, seed=0)
    acc = evaluate(model, xte, yte)
    path = os.path.join(MODELS, "fashion_bn.onnx")
    m = export_onnx(model, (1, 1, 28, 28), path, preserve_bn=True)
    ops = [n.op_type for n in m.graph.node]
    assert ops.count("BatchNormalization") == 3, ops
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            # inference form: one output, no training_mode=1
            assert len(n.output) == 1, n
            assert all(not (a.name == "training_mode" and a.i == 1) for a in n.attribute), n
    md, same = verify_onnx(model, path, [xte[i:i + 1] for i in range(0, 10000, 50)])
    acc_onnx, _ = onnx_accuracy(path, xte, yte)
    res = summary("fashion_bn", model, path, acc, acc_onnx, len(xte),
                  "official Fashion-MNIST test set (10000)", md, same, secs,
                  {"epochs": EPOCHS, "lr": LR, "optimizer": "Adam + OneCycle", "seed": 0})
    print(res)
    write_json(os.path.join(RESULTS, "fashion_bn.json"), res)
    assert md <= 1e-4, md


if __name__ == "__main__":
    main()
