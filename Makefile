# The two commands: `make serve` (build, then serve the viewer) and `make test` (every test).
PORT ?= 8080
export PORT

.PHONY: serve test build setup-build setup-test test-native test-wasm test-browser cli bench-forward

serve: build
	python3 scripts/serve.py

build: setup-build
	python3 scripts/build-web.py
	scripts/sync-models.sh

test: setup-test test-native test-wasm build test-browser

setup-build:
	scripts/setup.sh build

setup-test:
	scripts/setup.sh test

# Native: core, CLI (release, as the reference check uses it) and fixtures.
test-native:
	cargo test --release

# The same engine in headless Chromium (wasm-bindgen-test).
test-wasm:
	scripts/test-wasm.sh

# The served site in Debian Chromium, driven by playwright-core (node's test runner).
test-browser:
	cd tests/browser && node --test --test-concurrency=1

cli:
	cargo build --release --bin saliency

bench-forward: cli
	scripts/bench-forward.sh
