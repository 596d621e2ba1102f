#!/usr/bin/env bash
# Copies the bundled models and images into www/models so www/ is the whole static site.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p www/models/images
cp -u models/*.onnx models/*.json www/models/
cp -u models/images/* www/models/images/
