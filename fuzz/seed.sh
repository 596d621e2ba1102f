#!/usr/bin/env bash
# Seeds the fuzz corpora from the repository's own files (models, images, fixtures).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/onnx_load corpus/image_decode corpus/npy_read corpus/request_parse
cp ../models/mnist_lrp.onnx ../models/mnist_cam.onnx ../tests/fixtures/bad/*.onnx corpus/onnx_load/
cp ../tests/fixtures/nets/*.onnx corpus/onnx_load/ 2>/dev/null || true
cp ../models/images/digit_*.png ../models/images/fashion_*.png ../models/images/rocket.jpg corpus/image_decode/
cp ../tests/fixtures/*.input.npy corpus/npy_read/
python3 - <<'PY'
import json, pathlib
cases = json.load(open("../tests/fixtures/explain/cases.json"))["cases"]
for i, c in enumerate(cases):
    pathlib.Path(f"corpus/request_parse/case{i}.json").write_text(json.dumps(c["request"]))
PY
