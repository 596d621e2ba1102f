"""Torch-side helpers: deterministic setup, training loop, ONNX export + check."""
import os
import random
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from common import op_counts


def set_determinism(seed=0, threads=1):
    torch.set_num_threads(threads)  # leave the second core free
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def normalise(u8, mean, std):
    """uint8 [N,28,28] -> float32 tensor [N,1,28,28], same maths as common.preprocess."""
    v = torch.from_numpy(u8.astype(np.float32) / np.float32(255.0))
    return ((v - mean) / std).unsqueeze(1)


def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def train(model, x, y, epochs, lr, batch=64, seed=0, log=print, augment_shift=0):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    lossf = nn.CrossEntropyLoss()
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        tot = 0.0
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            if augment_shift:
                # random integer translation by up to +-augment_shift pixels
                dx, dy = torch.randint(-augment_shift, augment_shift + 1, (2,), generator=g).tolist()
                xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            opt.zero_grad()
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        log(f"  epoch {ep + 1}/{epochs} loss {tot / len(x):.4f} ({time.time() - t0:.0f}s)")
    return time.time() - t0


def export_onnx(model, shape, path, preserve_bn=False):
    """Legacy torch.onnx exporter, opset 13, batch fixed at 1, input/logits names."""
    model.eval()
    dummy = torch.zeros(shape)
    kw = dict(opset_version=13, input_names=["input"], output_names=["logits"],
              dynamo=False)
    if preserve_bn:
        # Eval-mode export would fold BatchNorm into the preceding Conv; PRESERVE
        # with constant folding off keeps BatchNormalization nodes (inference form).
        kw.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    else:
        kw.update(do_constant_folding=True)
    torch.onnx.export(model, (dummy,), path, **kw)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def verify_onnx(model, path, inputs):
    """Max |torch - onnxruntime| over the given [1,...] inputs."""
    model.eval()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    md = 0.0
    same_top1 = True
    with torch.no_grad():
        for x in inputs:
            ref = model(x).numpy()
            got = sess.run(["logits"], {"input": x.numpy()})[0]
            md = max(md, float(np.abs(ref - got).max()))
            same_top1 &= int(ref.argmax()) == int(got.argmax())
    return md, same_top1


def onnx_accuracy(path, x, y):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    xs = x.numpy()
    pred = np.array([sess.run(["logits"], {"input": xs[i:i + 1]})[0].argmax()
                     for i in range(len(xs))])
    return float((pred == y.numpy()).mean()), pred


def param_count(model):
    return int(sum(p.numel() for p in model.parameters()))


def summary(name, model, path, acc, acc_onnx, n, split, md, same, secs, extra=None):
    d = {
        "name": name,
        "params": param_count(model),
        "accuracy": {"top1": round(acc_onnx, 4), "split": split, "n": n,
                     "torch_top1": round(acc, 4)},
        "verify": {"max_abs_diff_logits_vs_torch": md, "same_top1": same},
        "op_counts": op_counts(path),
        "train_seconds": round(secs, 1),
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                     "onnxruntime": ort.__version__},
    }
    if extra:
        d.update(extra)
    return d
