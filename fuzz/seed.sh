#!/usr/bin/env bash
# Seeds the fuzz corpora from the repository's own files (models, images, fixtures).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/onnx_load corpus/image_decode corpus/npy_read corpus/request_parse corpus/lrp_rules
# onnx_load: the small test nets (every operator family the engine has) and damaged models;
# not the bundled 90-380 KB models, whose mutants cost ten times as much per execution and
# mostly differ in weights (the test suite covers those models).
cp ../tests/fixtures/bad/*.onnx corpus/onnx_load/
cp ../tests/fixtures/nets/*.onnx corpus/onnx_load/ 2>/dev/null || true
# The probe models: one operator each with an attribute out of range, or a small valid chain.
cp ../tests/fixtures/probes/*.onnx corpus/onnx_load/
# image_decode: small images only (under 2 KB: digits, fashion items, and one of each JPEG and
# PNG flavour from make_image_seeds.py), so that time goes to decoding, not to big photos.
cp ../models/images/digit_*.png ../models/images/fashion_*.png seeds/image_decode/* corpus/image_decode/
cp ../tests/fixtures/*.input.npy corpus/npy_read/
# The bad-input corpus and earlier crashes seed their targets too.
cp ../tests/fixtures/bad/*.png corpus/image_decode/
cp ../tests/fixtures/bad/*.npy corpus/npy_read/
cp ../tests/fixtures/fuzz-regressions/onnx_load-* corpus/onnx_load/ 2>/dev/null || true
python3 - <<'PY'
import json, pathlib
cases = json.load(open("../tests/fixtures/explain/cases.json"))["cases"]
for i, c in enumerate(cases):
    pathlib.Path(f"corpus/request_parse/case{i}.json").write_text(json.dumps(c["request"]))
PY
printf 'epsilon-gamma-box\n0=zbox\n1-=gamma:0.25\n' > corpus/lrp_rules/a
printf 'layered:1,3\n0,2-3=alpha-beta:2,1\n-=epsilon:1e-6\n' > corpus/lrp_rules/b
printf '\n0=zbox:-1/-2/-3,1/2/3\n4-=flat\n' > corpus/lrp_rules/c
