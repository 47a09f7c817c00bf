#!/usr/bin/env bash
# Benchmark: our wasm engine (cpu-simd128, cpu-simd128-tN and cpu-relaxed-tN on the threaded builds, cpu-relaxed, cpu-scalar, webgpu) beside ONNX Runtime Web (ort-wasm,
# ort-webgpu) and TensorFlow.js wasm (tfjs-wasm, tfjs-wasm-t2) in headless Debian Chromium. One JSON line per configuration on stdout.
# Usage: ./bench.sh [--backend NAME] [--width W] [--batch B] [--runs N] [--load N]   (./bench.sh --help)
#        ./bench.sh --guidelines [--backend cpu-simd128,webgpu] [--runs N] [--scales 1,2,4]   the paper's Tables 1-4 (docs/guidelines.md)
#        ./bench.sh --startup [--width 0.5,1.0] [--mbps 20] [--rtt 40] [--webgpu both|on|off] [--host project|static] [--no-build]
#          the page's first minute behind a throttled link (tools/bench/startup.mjs, docs/startup.md)
#        ./bench.sh --page [--width 1.0] [--threads 1,2] [--frames 80] [--camera 320x240] [--no-build]
#          the page's own camera frame on the CPU, part by part (tools/bench/page.mjs, docs/performance.md)
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

if [ "${1:-}" = --startup ] || [ "${1:-}" = --page ]; then
  script=tools/bench/startup.mjs
  [ "$1" = --page ] && script=tools/bench/page.mjs
  shift
  build=1
  args=()
  for a in "$@"; do [ "$a" = --no-build ] && build= || args+=("$a"); done
  if [ -n "$build" ]; then
    build_pkg pkg >&2
    build_pkg_threads pkg-threads >&2 || log "the threaded build failed: one CPU thread"
    build_pkg_relaxed pkg-relaxed >&2 || log "the relaxed-SIMD build failed"
    build_pkg_threads_relaxed pkg-threads-relaxed >&2 || log "the threaded relaxed-SIMD build failed"
  fi
  node tools/builds.mjs .
  node tools/precompress.mjs index.html sw.js www pkg pkg-threads pkg-threads-relaxed pkg-relaxed >&2
  # Untrained stand-ins unless WEIGHTS_DIR names real weights: the bytes are the same.
  if [ -z "${WEIGHTS_DIR:-}" ]; then
    export WEIGHTS_DIR="$PWD/target/startup-weights"
    if [ ! -f "$WEIGHTS_DIR/manifest.json" ]; then
      cargo build -q --release --bin shufflenet
      SHUFFLENET_OFFLINE=1 tools/weights.sh target/release/shufflenet >&2
    fi
  fi
  exec node "$script" "${args[@]}"
fi

# The driver passes the wasm toolchain's variables to its wasm builds only, not to native cargo.
WASM_ENV="${WASM_ENV[*]:-}" THREADS_RUSTFLAGS="$(echo $THREADS_RUSTFLAGS)" \
  THREADS_RELAXED_RUSTFLAGS="$(echo $THREADS_RELAXED_RUSTFLAGS)" exec node tools/bench.mjs "$@"
