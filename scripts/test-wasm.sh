#!/usr/bin/env bash
# Runs the wasm-bindgen tests (tests/wasm.rs, tests/rewrites.rs) in headless Debian Chromium, built with the same
# flags as the site (read from wasm-pack.toml). Runner: .cargo/config.toml; browser flags: webdriver.json.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(python3 scripts/build-web.py --print-env)"
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT=600
exec cargo test --profile "$SALIENCY_WASM_PROFILE" --target wasm32-unknown-unknown --test wasm --test rewrites "$@"
