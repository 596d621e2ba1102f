#!/usr/bin/env bash
# Installs what the build and the tests need, idempotently (fast when all is present).
#   scripts/setup.sh build   the wasm target and wasm-bindgen-cli at Cargo.lock's version
#   scripts/setup.sh test    the above + Debian chromium/chromium-driver + npm playwright-core
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-test}"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "setup: rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "setup: cargo install wasm-bindgen-cli --version $want (have: ${have:-none}; takes ~4 min)"
  cargo install wasm-bindgen-cli --version "$want"
fi

[ "$what" = build ] && exit 0

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "setup: apt-get install chromium chromium-driver"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/typescript ]; then
  echo "setup: npm ci (playwright-core, driving Debian's chromium, no browser download; typescript for the .d.ts check)"
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi
