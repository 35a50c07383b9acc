# slotkv: the project's only entry points. `make demo` and `make test` work on
# a fresh Debian 12 machine with rustup and Node 20: `setup` installs what is
# missing (idempotent, seconds when everything is present).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)

WASM_BINDGEN_VERSION := 0.2.130
WASM_TARGET := wasm32-unknown-unknown
WASM_OUT := target/$(WASM_TARGET)/release/slotkv.wasm
PORT ?= 8080
# What Rust emits for wasm32 by default and every current browser and Node 20 run.
WASM_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals --enable-reference-types --enable-multivalue
# Rust's wasm layout leaves the first KiB of memory unused (the stack is
# first and grows down from 1 MiB), which lets wasm-opt fold offsets; the
# producers and target-features sections are metadata no browser reads.
# wasm-opt inlines a function with one caller into it whatever its size by
# default; bounding that at 20 bytes keeps functions apart, which makes the
# module 4% larger raw but 8% smaller gzipped (repeated code then looks alike
# to gzip). In A/B runs the W1-W4 figures moved within this host's noise;
# tab-to-tab latency kept its p50 and post-warm-up p99, and its p99 while V8
# tiers up rose from 1.32x to 1.53x raw (more functions to tier up one by one).
WASM_OPT_FLAGS := -Os --one-caller-inline-max-function-size=20 $(WASM_FEATURES) --low-memory-unused --strip-producers --strip-target-features
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup setup-rust setup-browser setup-node build demo test test-rust test-wasm test-js test-e2e test-long bench fuzz miri clean

setup: setup-rust setup-browser setup-node

setup-rust:
	@rustup target list --installed | grep -qx '$(WASM_TARGET)' || rustup target add $(WASM_TARGET)
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (about 3 minutes)"; \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	fi

setup-browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "installing chromium and chromedriver"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

setup-node: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: setup-rust setup-node
	cargo build --release --lib --target $(WASM_TARGET) --features bundle
	wasm-bindgen --target web --out-dir pkg --out-name slotkv_wasm $(WASM_OUT)
	wasm-opt $(WASM_OPT_FLAGS) pkg/slotkv_wasm_bg.wasm -o pkg/slotkv_wasm_bg.wasm
	@printf 'pkg/slotkv_wasm_bg.wasm: %s bytes, %s gzipped\n' "$$(wc -c < pkg/slotkv_wasm_bg.wasm)" "$$(gzip -9c pkg/slotkv_wasm_bg.wasm | wc -c)"

demo: setup build
	node tools/serve.mjs --port $(PORT)

test: setup build
	$(MAKE) --no-print-directory test-rust test-wasm test-js test-e2e
	@echo "make test: every suite passed"

test-rust:
	@echo "== Rust unit, property and integration tests (native)"
	cargo test --quiet

test-wasm:
	@echo "== wasm-bindgen tests in headless Chromium"
	CHROMEDRIVER=/usr/bin/chromedriver cargo test --target $(WASM_TARGET) --test browser

test-js:
	@echo "== TypeScript: pkg/index.d.ts against a typed usage file"
	tsc -p tests/types/tsconfig.json && echo "types: 1 passed, 0 failed"
	@echo "== Node tests of the npm package"
	node --test --test-reporter=spec tests/js/

test-e2e:
	@echo "== Playwright tests of the demo in Chromium"
	node --test --test-reporter=spec --test-concurrency=1 tests/e2e/

# The property tests at 10 000 cases each.
test-long: setup
	PROPTEST_CASES=10000 SLOTKV_PROPTEST_CASES=10000 cargo test --release --quiet

# Benchmarks against yjs, Automerge and Loro: regenerates bench/RESULTS.md.
BENCH_PREREQS := setup build
include bench/Makefile.inc

# Every cargo-fuzz target for FUZZ_SECONDS each (default 60), on nightly.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

# Miri (nightly) over the tests of the code that moves items by their bytes:
# src/moves.rs, the crate's one unsafe code outside the wasm binding, and
# the sort that uses it. MIRI_CASES property-test cases each (Miri is slow).
MIRI_CASES ?= 8
miri:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@rustup +nightly component list --installed | grep -q '^miri' || rustup +nightly component add miri
	@rustup +nightly component list --installed | grep -q '^rust-src' || rustup +nightly component add rust-src
	MIRIFLAGS=-Zmiri-disable-isolation PROPTEST_CASES=$(MIRI_CASES) cargo +nightly miri test --lib -- moves:: sort::

clean:
	cargo clean
	rm -f pkg/slotkv_wasm*
