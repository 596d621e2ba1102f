#!/usr/bin/env bash
# Pins the native tract logits of each bundled model on its fixture input
# (tests/fixtures/NAME.tract_logits.npy), which the wasm test compares against.
# Re-run after upgrading tract; tests/models.rs fails if the native output moves.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin saliency
for f in tests/fixtures/*.input.npy; do
  name=$(basename "$f" .input.npy)
  ./target/release/saliency predict --model "models/$name.onnx" --input "$f" --logits-out "tests/fixtures/$name.tract_logits.npy" >/dev/null
  echo "pinned tests/fixtures/$name.tract_logits.npy"
done
