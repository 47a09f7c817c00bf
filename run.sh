#!/usr/bin/env bash
# Builds the wasm package and serves the page on http://127.0.0.1:8080.
#
#   ./run.sh                          weights from weights/, else torchvision's, else stand-ins
#   ./run.sh --weights FILE.pth       use this .pth, .mdl or .safetensors (any width, or your own
#                                     fine-tune: the page opens it first as "custom model")
#   ./run.sh --weights F --labels L   ... with its class names (class_indices.json or labels.txt)
#   ./run.sh --port 9000 --no-build   skip the wasm builds (reuse pkg/, pkg-threads/, pkg-threads-relaxed/, pkg-relaxed/)
#   ./run.sh --weights-dir DIR        serve DIR as /weights/ (default weights/)
#   ./run.sh --host 0.0.0.0           listen beyond this machine (default 127.0.0.1 only)
#   ./run.sh --public-host NAME[:PORT] accept requests for NAME too (a reverse proxy in front)
#   ./run.sh --export DIR             write the page as a static site into DIR, then stop
#                                     (any host; docs/publish.md)
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")"
source tools/setup.sh

PORT=8080 WEIGHTS_IN= LABELS_IN= BUILD=1 EXPORT= PUBLIC_HOSTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --weights) WEIGHTS_IN="$(cd "$CALLER_DIR" && realpath "$2")"; shift 2 ;;
    --labels) LABELS_IN="$(cd "$CALLER_DIR" && realpath "$2")"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --no-build) BUILD=; shift ;;
    --weights-dir) export WEIGHTS_DIR="$(cd "$CALLER_DIR" && realpath -m "$2")"; shift 2 ;;
    --host) export HOST="$2"; shift 2 ;;
    --public-host) PUBLIC_HOSTS+=(--public-host "$2"); shift 2 ;;
    --export) EXPORT="$(cd "$CALLER_DIR" && realpath -m "$2")"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

if [ -n "$LABELS_IN" ] && [ -z "$WEIGHTS_IN" ]; then
  echo "--labels names the classes of --weights FILE: give both" >&2; exit 2
fi
setup_all
if [ -n "$BUILD" ] || [ ! -f pkg/shufflenet_web.js ]; then
  log "building the wasm package"
  build_pkg pkg
fi
# The threaded build (CPU on several threads when the page is cross-origin isolated). Without
# it the page runs the CPU on one thread and says so.
if [ -n "$BUILD" ] || [ ! -f pkg-threads/shufflenet_web.js ]; then
  log "building the threaded wasm package (pkg-threads/)"
  build_pkg_threads pkg-threads || log "the threaded build failed: the page will run the CPU on one thread"
fi
# The threaded relaxed-SIMD build, which several CPU threads run where the browser has relaxed
# SIMD (pkg-threads/ elsewhere).
if [ -n "$BUILD" ] || [ ! -f pkg-threads-relaxed/shufflenet_web.js ]; then
  log "building the threaded relaxed-SIMD wasm package (pkg-threads-relaxed/)"
  build_pkg_threads_relaxed pkg-threads-relaxed || log "the threaded relaxed-SIMD build failed: threads will run pkg-threads/"
fi
# The relaxed-SIMD build, which one CPU thread runs where the browser has relaxed SIMD.
if [ -n "$BUILD" ] || [ ! -f pkg-relaxed/shufflenet_web.js ]; then
  log "building the relaxed-SIMD wasm package (pkg-relaxed/)"
  build_pkg_relaxed pkg-relaxed || log "the relaxed-SIMD build failed: one CPU thread will run pkg/"
fi
if [ -n "$WEIGHTS_IN" ] || [ ! -f "${WEIGHTS_DIR:-weights}/manifest.json" ]; then
  cargo build --release -q --bin shufflenet
  tools/weights.sh target/release/shufflenet "$WEIGHTS_IN" "$LABELS_IN"
fi
# builds.json: the builds' SHA-256, so the page loads them by content (cached for good).
node tools/builds.mjs .
if [ -n "$EXPORT" ]; then
  exec node tools/export.mjs "$EXPORT" "${WEIGHTS_DIR:-weights}"
fi
# Brotli and gzip siblings of the page, the wasm builds and the manifest (only what changed).
node tools/precompress.mjs index.html sw.js www examples pkg pkg-threads pkg-threads-relaxed pkg-relaxed "${WEIGHTS_DIR:-weights}"
log "open http://127.0.0.1:$PORT/"
exec node tools/serve.mjs . "$PORT" "${PUBLIC_HOSTS[@]}"
