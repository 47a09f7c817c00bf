#!/usr/bin/env bash
# Benchmark: our wasm engine (cpu-simd128, cpu-scalar, webgpu) beside ONNX Runtime Web (ort-wasm,
# ort-webgpu) in headless Debian Chromium. One JSON line per configuration on stdout.
# Usage: ./bench.sh [--backend NAME] [--width W] [--batch B] [--runs N]   (./bench.sh --help)
set -euo pipefail
cd "$(dirname "$0")"

# playwright-core and onnxruntime-web (no browser download: we drive /usr/bin/chromium).
if [[ ! -d node_modules/onnxruntime-web || ! -d node_modules/playwright-core \
      || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund >&2
fi

exec node tools/bench.mjs "$@"
