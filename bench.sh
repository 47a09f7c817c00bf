#!/usr/bin/env bash
# Benchmark: our wasm engine (cpu-simd128, cpu-simd128-tN on the threaded build, cpu-scalar, webgpu) beside ONNX Runtime Web (ort-wasm,
# ort-webgpu) in headless Debian Chromium. One JSON line per configuration on stdout.
# Usage: ./bench.sh [--backend NAME] [--width W] [--batch B] [--runs N]   (./bench.sh --help)
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup.sh
setup_system >&2
setup_wasm_toolchain >&2
setup_wasm_tools >&2
setup_node >&2
setup_threads_toolchain >&2 # pkg-threads, for the cpu-simd128-tN lines
# wasm-objdump, to check that pkg/ has SIMD instructions and pkg-scalar/ has none.
apt_install wabt >&2 || log "without wabt the SIMD check of the wasm builds is skipped"

# The driver passes the wasm toolchain's variables to its wasm builds only, not to native cargo.
WASM_ENV="${WASM_ENV[*]:-}" THREADS_RUSTFLAGS="$(echo $THREADS_RUSTFLAGS)" exec node tools/bench.mjs "$@"
