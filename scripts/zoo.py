#!/usr/bin/env python3
"""Your own zoo: torchvision and timm classifiers with random weights, exported the three ways
users export them, run through the CLI and compared with onnxruntime, Captum and Zennit.

Not run by CI: it needs torch, torchvision, timm, onnx, onnxscript, onnxruntime, captum and
zennit from PyPI (no weights are downloaded; the models are built with random weights):

    python3 -m venv /tmp/venv-models
    /tmp/venv-models/bin/pip install torch torchvision timm onnx onnxscript onnxruntime captum zennit
    cargo build --release
    /tmp/venv-models/bin/python scripts/zoo.py                       # the default list, 224x224
    /tmp/venv-models/bin/python scripts/zoo.py --models resnet18,timm:mixnet_s --exporters dynamo
    /tmp/venv-models/bin/python scripts/zoo.py --size 160 --keep /tmp/zoo   # then, in Chromium:
    node scripts/zoo-browser.mjs /tmp/zoo

Exporters: `legacy13` and `legacy17` (`dynamo=False`, one file), `dynamo` (today's default,
`torch.onnx.export(m, x, path)`: torch.export, opset 20, weights in `path.data`).

For each model and exporter it prints one row:
- load: the CLI loads the model (else the first words of its error);
- logits: max |CLI - onnxruntime| / max |logit|;
- grad, ig, lrp: the relative L2 distance to Captum's Saliency, Captum's IntegratedGradients
  (Gauss-Legendre, 8 steps, baseline 0) and Zennit's EpsilonGammaBox (low -3, high 3; BN
  merged and residual sums as Zennit's Sum, see `as_onnx_reads_it`) in float64, next to
  `floor`, the same computation's float32-vs-float64 distance in torch; outside that, "at a kink"
  when torch's own float32 in channels-last memory format (other kernels) lands as far away; `ok` when within max(1e-3, 30 x floor); a gradient outside that on
  a ReLU / ReLU6 net is checked against the float64 gradients with one near-kink unit flipped
  (`across_a_kink`: float32 rounding may put such a unit on either side);
- cam: whether CAM is offered (and runs); gradcam: the Grad-CAM layers `info` offers that
  explain without error, out of those tried (at most --gradcam-layers of them, spread evenly),
  and for the default exporter (whose tensor names are torch.export's node names) the worst
  of them against Captum's LayerGradCam formula on that node, as for grad.

With --keep DIR the exports stay in DIR with the input, the CLI's logits and maps, and
DIR/zoo.json listing them: `scripts/zoo-browser.mjs` loads each in Chromium through the
viewer's JS API and compares what the browser computes with the CLI's results.
"""
import argparse, json, os, pathlib, subprocess, sys, tempfile, time
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent

TORCHVISION = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
               "efficientnet_b0", "regnet_y_400mf", "densenet121", "googlenet", "shufflenet_v2_x1_0",
               "mnasnet0_5", "squeezenet1_1", "alexnet", "vgg11", "vgg16", "convnext_tiny"]
TIMM = ["timm:resnet18", "timm:mobilenetv3_small_100", "timm:efficientnet_b0", "timm:tf_efficientnet_b0",
        "timm:mixnet_s", "timm:rexnet_100", "timm:lcnet_050", "timm:ghostnet_100", "timm:regnetx_002",
        "timm:densenet121", "timm:convnext_atto", "timm:hardcorenas_a"]


def build(name):
    torch.manual_seed(0)
    if name.startswith("timm:"):
        import timm
        m = timm.create_model(name[5:], pretrained=False)
    else:
        import torchvision
        kw = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        m = getattr(torchvision.models, name)(weights=None, **kw)
    # Fresh BatchNorms are the identity and a fresh classifier is ~N(0, 0.01): deep nets then
    # score ~1e-10 or less, where LRP's epsilon (1e-6) dominates every denominator. Statistics
    # away from the identity, as a trained net has, give scores of order one.
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)) and mod.affine and mod.track_running_stats:
            with torch.no_grad():
                n = mod.num_features
                mod.weight.copy_(torch.rand(n, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(n, generator=g) * 0.2)
                mod.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                mod.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return m.eval()


def export(model, x, path, how):
    if how == "dynamo":
        return torch.onnx.export(model, (x,), str(path))
    else:
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=int(how[6:]),
                          input_names=["input"], output_names=["logits"])


def cli(*args, timeout=1800):
    r = subprocess.run([str(ARGS.cli), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip().removeprefix("error: "))
    return r.stdout


def rel(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def verdict(err, floor):
    return f"{err:.1e}/{floor:.0e} {'ok' if err <= max(1e-3, 30 * floor) else 'FAIL'}"


CHANNELS_LAST = "float32, channels-last"


def references(model, x32, target, want):
    """float64 and float32 attributions from Captum / Zennit; float32 twice: in torch's default
    memory format and channels-last (other kernels, as valid: a float32 floor measured once can
    miss a unit that rounding puts on the other side of a ReLU or max-pool kink)."""
    from captum.attr import IntegratedGradients, Saliency
    out = {}
    for dt in (torch.float64, torch.float32, CHANNELS_LAST):
        if dt == CHANNELS_LAST:
            m = model.float().to(memory_format=torch.channels_last)
            x = x32.float().to(memory_format=torch.channels_last)
        else:
            m, x = model.to(dt), x32.to(dt)
        r = {}
        if "grad" in want:
            r["grad"] = Saliency(m).attribute(x.clone(), target=target, abs=False).detach().numpy()
        if "ig" in want:
            r["ig"] = IntegratedGradients(m).attribute(x.clone(), target=target, n_steps=8,
                                                       method="gausslegendre").detach().numpy()
        if "lrp" in want:
            try:
                r["lrp"] = zennit_lrp(m, x, target)
            except Exception as e:  # noqa: BLE001 - torch.fx cannot trace every model
                r["lrp"] = f"no reference ({str(e).splitlines()[0][:40]})"
        out[dt] = r
    model.float().to(memory_format=torch.contiguous_format)
    return out


def floors_of(refs, k):
    """The float32 noise floors of reference `k`: the distances of the default float32 run and
    of the channels-last one to the float64 one (None where that run failed)."""
    f64 = refs[torch.float64][k]
    return tuple(None if isinstance(refs[dt][k], str) else rel(refs[dt][k], f64) for dt in (torch.float32, CHANNELS_LAST))


def judged(err, floor, floor_cl):
    """`verdict` against the default float32 floor; outside it, whether torch's channels-last
    float32 lands as far from float64 (a kink that rounding decides)."""
    v = verdict(err, floor)
    if v.endswith("FAIL") and floor_cl is not None and err <= max(1e-3, 30 * floor_cl):
        v = f"{v[:-5]} at a kink: torch's float32 channels-last is {floor_cl:.1e} away"
    return v


def timm_activations():
    """timm's own activation modules (every module class of timm.layers.activations and
    activations_me), if timm is installed."""
    import inspect
    try:
        import timm.layers.activations as a, timm.layers.activations_me as b
    except ImportError:
        return ()
    return tuple(c for mod in (a, b) for _, c in inspect.getmembers(mod, inspect.isclass)
                 if issubclass(c, torch.nn.Module) and c.__module__ == mod.__name__)


def as_onnx_reads_it(model):
    """The torch model as the ONNX graph presents it to LRP, for Zennit: every BatchNorm that
    follows a convolution merged into it (tract folds them; Zennit's NamedMergeBatchNorm, pairs
    found by torch.fx), and every sum of two computed tensors (residual connections, functional
    `x + y` that Zennit cannot hook) made a `zennit.layer.Sum`, which Zennit's composites give
    the Norm rule, as its ResNetCanonizer does; global average pools written as functions made
    AdaptiveAvgPool2d modules (Norm). Activation modules keep Zennit's Pass, layers their rules,
    functional products their gradient."""
    import operator
    import torch.fx as fx
    from zennit.canonizers import NamedMergeBatchNorm
    from zennit.layer import Sum
    class Tracer(fx.Tracer):
        # timm's BatchNormAct2d (a BatchNorm2d with its activation inside) stays one module, so
        # that its BatchNorm can be merged into the convolution before it, as in ONNX. Subclasses
        # of torch's layers stay modules too: torch.fx traces into any module defined outside
        # torch.nn, and timm's classifier `timm.layers.Linear` (an nn.Linear) would become a
        # functional `linear`, which Zennit's composites cannot hook (the gradient instead of
        # Epsilon: MobileNetV3's, LCNet's, HardCoReNAS's and GhostNet's LRP 3.3e0..5.6e-1 off).
        # timm's own activation modules (timm.layers.activations: Sigmoid, GELU, Swish, ...)
        # stay modules as well, which `zennit_lrp` gives Pass as Zennit gives torch's: ONNX
        # writes them as torch's (Sigmoid, Gelu, ...), and traced into they would be functional
        # ops that Zennit cannot hook (the gradient: ReXNet's SE gate, a timm.layers.Sigmoid,
        # put ReXNet's LRP 2e5 off).
        def is_leaf_module(self, m, name):
            return isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Conv2d, torch.nn.Linear, *timm_activations())) \
                or super().is_leaf_module(m, name)

    gm = fx.GraphModule(model, Tracer().trace(model))
    mods = dict(gm.named_modules())
    pairs = []
    for n in gm.graph.nodes:
        if n.op == "call_module" and isinstance(mods[n.target], torch.nn.BatchNorm2d):
            src = n.args[0]
            if (src.op == "call_module" and isinstance(mods[src.target], torch.nn.Conv2d)
                    and len(src.users) == 1):
                pairs.append(([src.target], n.target))
    sums = 0
    for n in list(gm.graph.nodes):
        if n.op == "call_function" and n.target in (operator.add, torch.add, operator.iadd) \
                and len(n.args) == 2 and all(isinstance(a, fx.Node) for a in n.args):
            name = f"zoo_sum{sums}"
            gm.add_submodule(name, Sum())
            sums += 1
            with gm.graph.inserting_before(n):
                stacked = gm.graph.call_function(torch.stack, (list(n.args),), {"dim": -1})
                new = gm.graph.call_module(name, (stacked,))
            n.replace_all_uses_with(new)
            gm.graph.erase_node(n)
    # Global average pools written as functions (`F.adaptive_avg_pool2d(x, 1)`, `x.mean([2, 3])`)
    # become AdaptiveAvgPool2d modules, which Zennit gives Norm: ONNX cannot tell them from the
    # module (both are GlobalAveragePool or ReduceMean), and the crate reads every one as a pool.
    pools = 0
    for n in list(gm.graph.nodes):
        functional = n.op == "call_function" and n.target is torch.nn.functional.adaptive_avg_pool2d \
            and tuple(n.args[1:2]) in ((1,), ((1, 1),))
        dims = n.args[1] if len(n.args) >= 2 else n.kwargs.get("dim")
        keep = n.kwargs.get("keepdim", n.args[2] if len(n.args) >= 3 else False)
        mean = n.op == "call_method" and n.target == "mean" and isinstance(dims, (list, tuple)) \
            and list(dims) in ([2, 3], [-2, -1])
        if not (functional or mean):
            continue
        name = f"zoo_pool{pools}"
        gm.add_submodule(name, torch.nn.AdaptiveAvgPool2d(1))
        pools += 1
        with gm.graph.inserting_before(n):
            new = gm.graph.call_module(name, (n.args[0],))
            if mean and not keep:
                new = gm.graph.call_function(torch.flatten, (new, 1))
        n.replace_all_uses_with(new)
        gm.graph.erase_node(n)
    gm.graph.lint()
    gm.recompile()
    gm.zoo_merged = [bn for _, bn in pairs]
    return gm, [NamedMergeBatchNorm(pairs)] if pairs else []


def kink_flips(model, x, target, candidates=120):
    """The float64 gradient of a ReLU / ReLU6 net at x, and the same gradient with one unit's
    derivative flipped, for each of the `candidates` units whose pre-activation lies closest to
    a kink (float32 rounding may put such a unit on either side): (gradient, [(the unit's
    distance to its kink relative to its layer's largest value, layer, flipped gradient)]),
    lazily; None without such activations."""
    import copy
    m = copy.deepcopy(model).double()
    acts = {n: a for n, a in m.named_modules() if isinstance(a, (torch.nn.ReLU, torch.nn.ReLU6))}
    if not acts:
        return None
    for a in acts.values():
        a.inplace = False
    pre = {}
    hooks = [a.register_forward_pre_hook(lambda mod, i, n=n: pre.__setitem__(n, i[0].detach().clone()))
             for n, a in acts.items()]
    x64 = x.double()
    with torch.no_grad():
        m(x64)
    for h in hooks:
        h.remove()

    def gradient(flip=None):
        hooks = []
        for n, a in acts.items():
            v = pre[n]
            d = ((v > 0) & (v < 6)).double() if isinstance(a, torch.nn.ReLU6) else (v > 0).double()
            if flip and flip[0] == n:
                d.view(-1)[flip[1]] = 1 - d.view(-1)[flip[1]]
            hooks.append(a.register_full_backward_hook(lambda mod, gi, go, d=d: (go[0] * d,)))
        xx = x64.clone().requires_grad_(True)
        m(xx)[0, target].backward()
        for h in hooks:
            h.remove()
        return xx.grad.numpy()

    near = []
    for n, v in pre.items():
        kinks = (0.0, 6.0) if isinstance(acts[n], torch.nn.ReLU6) else (0.0,)
        for k in kinks:
            dist = (v - k).abs().view(-1)
            for i in torch.argsort(dist)[:15]:
                near.append((dist[i].item() / max(v.abs().max().item(), 1e-30), n, int(i)))
    near.sort()
    return gradient(), ((d, n, gradient((n, i))) for d, n, i in near[:candidates])


def across_a_kink(model, x, target, got):
    """When the CLI's gradient misses Captum's on a ReLU net: the flip of `kink_flips` that
    brings the float64 gradient closest to it: (distance, the unit's distance to its kink,
    layer), or None."""
    found = kink_flips(model, x, target)
    if not found:
        return None
    return min(((rel(got, g), d, n) for d, n, g in found[1]), key=lambda t: t[0])


def ig_across_a_kink(model, x, target, got):
    """The same for IG (8 Gauss-Legendre steps, baseline 0): float32 rounding of a step's point
    may put a unit on the other side of its kink there. For each step and each of its
    near-kink units, the float64 IG with that unit flipped at that step: (distance, step,
    the unit's distance to its kink, layer) of the closest, or None."""
    nodes, weights = np.polynomial.legendre.leggauss(8)
    x64 = x.double().numpy()
    steps = []
    for t in nodes:
        found = kink_flips(model, x * float((t + 1) / 2), target)
        if not found:
            return None
        steps.append(found)
    ig = sum(w / 2 * g for w, (g, _) in zip(weights, steps)) * x64
    best = None
    for k, (w, (g, flips)) in enumerate(zip(weights, steps)):
        for d, n, gf in flips:
            e = rel(got, ig + w / 2 * (gf - g) * x64)
            if best is None or e < best[0]:
                best = (e, k, d, n)
    return best


def gradcam_references(program, x32, target, names):
    """Grad-CAM as Captum's LayerGradCam computes it (relu(sum_c mean_hw(dy/dA_c) A_c)) on the
    tensors `names` of the graph the default exporter translated (`program.exported_program`),
    whose node names it kept as the ONNX tensor names: {name: (float64 map, float32 map, float32
    channels-last map)}."""
    out = {}
    gm = program.exported_program.module()
    for dt in (torch.float64, torch.float32, CHANNELS_LAST):
        if dt == CHANNELS_LAST:
            gm, x = gm.float().to(memory_format=torch.channels_last), x32.float().to(memory_format=torch.channels_last)
        else:
            gm, x = gm.to(dt), x32.to(dt)
        kept = {}

        class Keep(torch.fx.Interpreter):
            def run_node(self, n):
                v = super().run_node(n)
                if n.name in names and isinstance(v, torch.Tensor) and v.dim() == 4:
                    v.retain_grad()
                    kept[n.name] = v
                return v

        xx = x.clone().requires_grad_(True)
        Keep(gm).run(xx)[0, target].backward()
        for n, a in kept.items():
            cam = torch.relu((a.grad.mean(dim=(2, 3), keepdim=True) * a).sum(1))[0]
            out.setdefault(n, []).append(cam.detach().double().numpy())
    return {n: v for n, v in out.items() if len(v) == 3}


def zennit_lrp(model, x, target):
    """Zennit's EpsilonGammaBox on the model as ONNX presents it. One correction: Zennit's
    MergeBatchNorm leaves each merged BatchNorm as x / sqrt(1 + eps) (it sets running_var to 1
    but keeps eps), so its canonised net is not the original (MobileNetV3's eps 1e-3 moved the
    map 9e-3); the merge here is exact, so eps is 0 while Zennit runs."""
    from zennit.composites import EpsilonGammaBox
    from zennit.rules import Pass
    gm, canon = as_onnx_reads_it(model)
    comp = EpsilonGammaBox(low=torch.full_like(x, -3.0), high=torch.full_like(x, 3.0), canonizers=canon,
                           layer_map=[(timm_activations(), Pass())] if timm_activations() else None)
    x = x.clone().requires_grad_(True)
    bns = [gm.get_submodule(name) for name in gm.zoo_merged]
    eps = [b.eps for b in bns]
    try:
        with comp.context(gm) as m:
            for b in bns:
                b.eps = 0.0
            y = m(x)
            onehot = torch.zeros_like(y)
            onehot[0, target] = y[0, target]
            (r,) = torch.autograd.grad(y, x, grad_outputs=onehot)
    finally:
        for b, e in zip(bns, eps):
            b.eps = e
    return r.detach().numpy()


def run(name, how, work):
    row = {"model": name, "exporter": how}
    model = build(name)
    x = torch.rand(1, 3, ARGS.size, ARGS.size) * 4 - 2
    path = work / f"{name.replace(':', '_')}.{how}.onnx"
    try:
        program = export(model, x, path, how)
    except Exception as e:  # noqa: BLE001 - the exporter's own failure is a row too
        row["load"] = f"export failed: {str(e).splitlines()[0][:60]}"
        return row
    stem = path.name.removesuffix(".onnx")
    xin = work / f"{stem}.x.npy"
    np.save(xin, x.numpy())
    try:
        info = json.loads(cli("info", "--model", path, "--json"))
    except RuntimeError as e:
        row["load"] = str(e)[:90]
        return row
    row["load"] = "ok"
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0].ravel()
    cli("predict", "--model", path, "--input", xin, "--logits-out", work / f"{stem}.logits.npy")
    got = np.load(work / f"{stem}.logits.npy").ravel()
    row["logits"] = f"{np.abs(got - ref).max() / np.abs(ref).max():.1e}"
    target = int(ref.argmax())
    # What the CLI computed, for scripts/zoo-browser.mjs: method, request fields, file.
    kept = row["kept"] = {"stem": stem, "files": sorted(p.name for p in work.glob(f"{stem}.onnx*")),
                          "input": xin.name, "logits": f"{stem}.logits.npy", "onnxruntime": f"{stem}.ort.npy",
                          "target": target, "maps": []}
    np.save(work / f"{stem}.ort.npy", ref.astype(np.float32))
    requests = {"grad": ("gradient", {}), "ig": ("integrated-gradients", {"steps": 8, "ig_rule": "gauss-legendre"}),
                "lrp": ("lrp", {"composite": "epsilon-gamma-box", "low": -3.0, "high": 3.0})}
    applies = {m["method"]: m["applies"] for m in info["methods"]}
    want = [k for k in ("grad", "ig", "lrp") if k in ARGS.methods.split(",")]
    if not applies.get("lrp"):
        want = [k for k in want if k != "lrp"]
        row["lrp"] = "n/a"
    refs = references(model, x, target, want)
    flags = {"grad": ["--method", "gradient"],
             "ig": ["--method", "integrated-gradients", "--steps", "8", "--ig-rule", "gauss-legendre"],
             "lrp": ["--method", "lrp", "--composite", "epsilon-gamma-box", "--low", "-3", "--high", "3"]}
    for k in want:
        try:
            t0 = time.time()
            out = work / f"{stem}.{k}.npy"
            cli("explain", "--model", path, "--input", xin, "--target", target, *flags[k], "--out", out)
            a = np.load(out)
            kept["maps"].append({"method": requests[k][0], "params": requests[k][1], "file": out.name})
            if isinstance(refs[torch.float64][k], str):
                row[k] = refs[torch.float64][k]
                continue
            floor, floor_cl = floors_of(refs, k)
            row[k] = judged(rel(a, refs[torch.float64][k]), floor, floor_cl)
            if k == "grad" and row[k].endswith("FAIL"):
                kink = across_a_kink(model, x, target, a)
                if kink and kink[0] <= max(1e-3, 30 * floor):
                    row[k] = (f"{row[k][:-5]} at a kink: {kink[0]:.0e} from the float64 gradient with one "
                              f"{kink[2]} unit ({kink[1]:.0e} of the layer's range from its kink) flipped")
            if k == "ig" and row[k].endswith("FAIL"):
                found = ig_across_a_kink(model, x, target, a)
                if found and found[0] <= max(1e-3, 30 * floor):
                    e, step, d, layer = found
                    row[k] = (f"{row[k][:-5]} at a kink: {e:.0e} from the float64 IG with one {layer} unit "
                              f"({d:.0e} of the layer's range from its kink) flipped at step {step + 1} of 8")
            np.save(work / f"{stem}.{k}.reference.npy", np.asarray(refs[torch.float64][k], np.float32))
            kept["maps"][-1].update(reference=f"{stem}.{k}.reference.npy", floor=floor, floor_channels_last=floor_cl)
            kept["maps"][-1]["verdict"] = row[k]
            row[k + "_s"] = time.time() - t0
        except RuntimeError as e:
            row[k] = f"error: {str(e)[:50]}"
    if applies.get("cam"):
        try:
            cli("explain", "--model", path, "--input", xin, "--target", target, "--method", "cam",
                "--out", work / f"{stem}.cam.npy")
            kept["maps"].append({"method": "cam", "params": {}, "file": f"{stem}.cam.npy"})
            row["cam"] = "ok"
        except RuntimeError as e:
            row["cam"] = f"error: {str(e)[:50]}"
    else:
        row["cam"] = "not offered"
    layers = [l["output"] for l in info["spatial_layers"]]
    pick = sorted(set(np.linspace(0, len(layers) - 1, min(ARGS.gradcam_layers, len(layers))).round().astype(int))) if layers else []
    ok = 0
    cams = {}
    if how == "dynamo" and pick:
        try:
            cams = gradcam_references(program, x, target, {layers[i] for i in pick})
        except Exception as e:  # noqa: BLE001 - torch.export may refuse a model the exporter took
            row["gradcam_reference"] = f"no reference ({str(e).splitlines()[0][:40]})"
    worst = None
    for i in pick:
        try:
            out = work / f"{stem}.gradcam{i}.npy"
            cli("explain", "--model", path, "--input", xin, "--target", target, "--method", "grad-cam",
                "--layer", layers[i], "--out", out)
            kept["maps"].append({"method": "grad-cam", "params": {"layer": layers[i]}, "file": out.name})
            ok += 1
            if layers[i] in cams:
                r64, r32, rcl = cams[layers[i]]
                # A layer whose weighted channels all but cancel gives a map of rounding noise
                # (all zero after the ReLU, or not): a map under 1e-3 of the net's largest
                # reference map is measured against that.
                scale = max(np.linalg.norm(c[0]) for c in cams.values())
                d = lambda a, b: float(np.linalg.norm(np.ravel(a) - np.ravel(b)) / max(np.linalg.norm(b), 1e-3 * scale))
                err, floor, floor_cl = d(np.load(out), r64), d(r32, r64), d(rcl, r64)
                np.save(work / f"{stem}.gradcam{i}.reference.npy", r64.astype(np.float32))
                kept["maps"][-1].update(reference=f"{stem}.gradcam{i}.reference.npy", floor=floor,
                                        floor_channels_last=floor_cl)
                if worst is None or err / max(1e-3, 30 * floor) > worst[0] / max(1e-3, 30 * worst[1]):
                    worst = (err, floor, floor_cl)
        except RuntimeError as e:
            row.setdefault("gradcam_error", str(e)[:80])
    row["gradcam"] = f"{ok}/{len(pick)} of {len(layers)}"
    if worst:
        row["gradcam"] += f", worst {judged(*worst)}"
    elif "gradcam_reference" in row:
        row["gradcam"] += f", {row['gradcam_reference']}"
    return row


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(TORCHVISION + TIMM))
    p.add_argument("--exporters", default="legacy13,legacy17,dynamo")
    p.add_argument("--methods", default="grad,ig,lrp")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--gradcam-layers", type=int, default=6)
    p.add_argument("--cli", type=pathlib.Path, default=ROOT / "target/release/saliency")
    p.add_argument("--json", type=pathlib.Path, help="also write the rows here")
    p.add_argument("--keep", type=pathlib.Path, help="keep the exports, inputs and the CLI's results here")
    ARGS = p.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cols = ["model", "exporter", "load", "logits", "grad", "ig", "lrp", "cam", "gradcam"]
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    rows = []
    with tempfile.TemporaryDirectory() as d:
        work = ARGS.keep or pathlib.Path(d)
        work.mkdir(parents=True, exist_ok=True)
        for name in ARGS.models.split(","):
            for how in ARGS.exporters.split(","):
                try:
                    row = run(name, how, work)
                except Exception as e:  # noqa: BLE001 - one broken model must not stop the table
                    row = {"model": name, "exporter": how, "load": f"script error: {e}"[:90]}
                rows.append(row)
                print("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |", flush=True)
                if ARGS.keep:
                    kept = [dict(r["kept"], model=r["model"], exporter=r["exporter"]) for r in rows if "kept" in r]
                    (work / "zoo.json").write_text(json.dumps({"size": ARGS.size, "nets": kept}, indent=1))
                else:
                    for f in work.glob("*"):
                        f.unlink()
    if ARGS.json:
        ARGS.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
