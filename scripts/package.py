#!/usr/bin/env python3
"""Packs the viewer as an npm package a static site can use without Rust (`make package`).

    dist/package/            the package's files
    dist/saliency-viewer-VERSION.tgz   `npm pack` of it: `npm install` that file, or serve the
                                       folder from any static host or CDN

Contents: the JS API (saliency.js + .d.ts), the <saliency-viewer> element (+ .d.ts, CSS), the
worker and the modules they import, and both wasm builds (www/pkg, www/pkg-relaxed: run
`make build` first). No models unless `--with-models` (then www/models/, so that the element's
bundled names such as model="mnist_cam" work)."""
import json, pathlib, re, shutil, subprocess, sys

root = pathlib.Path(__file__).resolve().parent.parent
www = root / "www"
out = root / "dist" / "package"
version = re.search(r'^version = "([^"]+)"', (root / "Cargo.toml").read_text(), re.M).group(1)

# The modules the API and the element import, found by following their imports.
entry = ["saliency.js", "saliency-viewer.js", "worker.js"]
files, todo = set(), list(entry)
while todo:
    f = todo.pop()
    if f in files:
        continue
    files.add(f)
    for m in re.findall(r"""^import[^'"]*['"]\./([\w.-]+\.js)['"]""", (www / f).read_text(), re.M):
        todo.append(m)
files |= {"saliency.d.ts", "saliency-viewer.d.ts", "saliency-viewer.css"}
for pkg in ("pkg", "pkg-relaxed"):
    if not (www / pkg / "saliency_bg.wasm").exists():
        sys.exit(f"www/{pkg} is missing: run `make build` first (both wasm builds go into the package)")

if out.exists():
    shutil.rmtree(out)
out.mkdir(parents=True)
for f in sorted(files):
    shutil.copy2(www / f, out / f)
for pkg in ("pkg", "pkg-relaxed"):
    (out / pkg).mkdir()
    for f in ("saliency.js", "saliency_bg.wasm"):
        shutil.copy2(www / pkg / f, out / pkg / f)
if "--with-models" in sys.argv:
    shutil.copytree(www / "models", out / "models", symlinks=False)

(out / "package.json").write_text(json.dumps({
    "name": "saliency-viewer",
    "version": version,
    "description": "Saliency maps (CAM, Grad-CAM, gradients, IG, SmoothGrad, LRP) of ONNX image classifiers, computed in the browser (WebAssembly, no server)",
    "license": "MIT OR Apache-2.0",
    "type": "module",
    "types": "./saliency.d.ts",
    "exports": {
        ".": {"types": "./saliency.d.ts", "default": "./saliency.js"},
        "./element": {"types": "./saliency-viewer.d.ts", "default": "./saliency-viewer.js"},
        "./saliency-viewer.js": {"types": "./saliency-viewer.d.ts", "default": "./saliency-viewer.js"},
        "./*": "./*",
    },
    "sideEffects": ["./saliency-viewer.js"],
}, indent=2) + "\n")
(out / "README.md").write_text(f"""# saliency-viewer {version}

Saliency maps of ONNX image classifiers, computed in the browser (WebAssembly in a Web Worker;
nothing leaves the page). No build step and no bundler: serve these files from any static host.

    <script type="module" src="node_modules/saliency-viewer/saliency-viewer.js"></script>
    <saliency-viewer model="my_model.onnx" sidecar="my_model.json" image="cat.png" method="grad-cam"></saliency-viewer>

or the JS API (types in saliency.d.ts):

    import {{ load }} from './node_modules/saliency-viewer/saliency.js';
    const model = await load({{ url: 'my_model.onnx', sidecar: 'my_model.json' }});
    await model.setInput(imageBytes);
    const map = await (await model.explain({{ method: 'grad-cam' }})).render();

Served from another origin than the page (a CDN), the files need CORS headers; the worker still
starts (from a same-origin blob that imports it).
""")
subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(out.parent)], cwd=out, check=True, stdout=subprocess.DEVNULL)
tgz = out.parent / f"saliency-viewer-{version}.tgz"
print(f"packed {tgz.relative_to(root)} ({tgz.stat().st_size / 1e6:.1f} MB): {len(files)} files + pkg, pkg-relaxed", flush=True)
