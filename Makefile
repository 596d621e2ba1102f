# The two commands: `make serve` (build, then serve the viewer) and `make test` (every test).
PORT ?= 8080
export PORT

.PHONY: serve test build build-site package setup-build setup-test test-native test-wasm test-browser cli

# `make serve` builds the one wasm module every browser runs (SIMD128); the worker falls back
# to it where the relaxed-SIMD build is absent. `make build` (and so `make test`) builds both.
serve: build-site
	python3 scripts/serve.py

build-site: setup-build
	python3 scripts/build-web.py --only-main
	scripts/sync-models.sh

build: setup-build
	python3 scripts/build-web.py
	scripts/sync-models.sh

# An npm-installable tarball a static site can use without Rust (dist/saliency-viewer-*.tgz):
# the JS API, the element, the worker, both wasm builds; MODELS=1 adds the bundled models.
package: build
	python3 scripts/package.py $(if $(MODELS),--with-models)

test: setup-test test-native test-wasm build package test-browser

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

# Benchmarks (not tests): bench/README.md says what each measures and needs; results are kept in
# bench/RESULTS.md. `make bench` lists them; ARGS=... is handed on (e.g. `make bench-forward ARGS=50`).
.PHONY: bench bench-forward bench-explain bench-mix bench-winograd bench-browser bench-redraw bench-page bench-references
ARGS ?=
BENCH_VENV ?= /tmp/venv-bench

bench:
	@sed -n 's/^## /make /p' $(firstword $(MAKEFILE_LIST))

## bench-forward     forward-pass time per bundled model, native (bench/bench_forward.rs) [ARGS=RUNS]
bench-forward:
	cargo run --release --example bench_forward $(if $(ARGS),-- $(ARGS))

## bench-explain     each method's time per bundled model and its ratio to the forward pass, native [ARGS=RUNS]
bench-explain:
	cargo run --release --example bench_explain $(if $(ARGS),-- $(ARGS))

## bench-mix         the Mix op (1x1 products) against tract's own plan, per shape, native [ARGS=RUNS]
bench-mix:
	cargo run --release --example bench_mix $(if $(ARGS),-- $(ARGS))

## bench-winograd    the Winograd 3x3 convolution against tract's own plan, per shape, native [ARGS=RUNS]
bench-winograd:
	cargo run --release --example bench_winograd $(if $(ARGS),-- $(ARGS))

## bench-browser     per-model times of both wasm builds, IG over all workers, wasm size, page open, in Chromium [ARGS=--ig-only]
bench-browser: setup-test build
	node bench/bench-browser.mjs $(ARGS)

## bench-redraw      the viewer's redraw time after a parameter change, per MNIST model and method, in Chromium [ARGS="LOADS CHANGES"]
bench-redraw: setup-test build
	node bench/bench-redraw.mjs $(ARGS)

## bench-page        the browser benchmark by hand: serves www/ + bench/browser/, open /bench/bench.html in any browser
bench-page: build
	python3 scripts/serve.py --bench

## bench-references  native speed against Captum/Zennit on one thread (needs the venv of bench/requirements.txt) [ARGS=--runs 7]
bench-references: cli
	@test -x $(BENCH_VENV)/bin/python || { echo "bench-references needs a venv with bench/requirements.txt (torch, ~5 GB):"; \
	  echo "  python3 -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install -r bench/requirements.txt"; exit 1; }
	$(BENCH_VENV)/bin/python bench/compare_references.py $(ARGS)
