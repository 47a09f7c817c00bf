#!/usr/bin/env bash
# Runs every test: formatting and lints, native tests (CPU and lavapipe GPU), the shared
# suite in headless Chrome (CPU SIMD128 and WebGPU on SwiftShader), and the page end to end.
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup.sh

# A run from a fresh clone builds about 6 GB under target/ and writes a few hundred MB of
# temporary files. On a full disk every page test would wait out its timeout (a CI run did,
# past its 90 minutes), so a disk without the room left is refused at once.
require_disk() {
  local built_kb free_kb need_kb=$((7 * 1024 * 1024))
  built_kb=$(du -sk target 2>/dev/null | cut -f1 || echo 0)
  free_kb=$(df -Pk . "${TMPDIR:-/tmp}" | awk 'NR > 1 && (min == "" || $4 < min) {min = $4} END {print min}')
  if [ $((free_kb + ${built_kb:-0})) -lt "$need_kb" ]; then
    echo "test.sh: $((free_kb / 1024)) MB free on the disk; a full run needs about $(((need_kb - ${built_kb:-0}) / 1024)) MB more (builds under target/, temporary files)" >&2
    exit 1
  fi
}
require_disk
setup_all

# Whatever the tests write to the temporary folder (Chromium's profiles, webcam clips, copies of
# the weights) lands in one folder that goes when the run ends, however it ends.
TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/shufflenet-test.XXXXXX")"
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

step() { printf '\n\033[1;32m==> %s\033[0m\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "eslint (page, worker, example, server, e2e tests)"
npx eslint .

step "cargo clippy (native and wasm32)"
cargo clippy -q --all-targets -- -D warnings
wasm cargo clippy -q --lib --target wasm32-unknown-unknown -- -D warnings
# The threaded build's own code (atomics: the pool's Web Workers).
wasm_clippy_threads -q --lib -- -D warnings

step "native tests"
cargo test -q 2>&1 | tee target/native-tests.log
grep -q "test result: ok" target/native-tests.log

step "static server against hostile requests (node --test tests/server/)"
node --test tests/server/

step "browser tests (wasm-pack test, headless Chrome; WebGPU on SwiftShader)"
WASM_BINDGEN_TEST_TIMEOUT=600 wasm wasm-pack test --headless --chrome --mode no-install 2>&1 | tee target/wasm-tests.log

step "threaded build in headless Chrome (shared memory; the runner's page is cross-origin isolated)"
# The pool's Web Workers against one thread, and the shared suite on three threads. CPU-only:
# no wgpu to build a second time with std rebuilt.
WASM_BINDGEN_TEST_TIMEOUT=600 wasm_test_threads --no-default-features --test threads
WASM_BINDGEN_TEST_TIMEOUT=600 wasm_test_threads --no-default-features --test conformance -- fast_cpu_threads

step "threaded relaxed-SIMD build in headless Chrome (the shared suite on three threads)"
WASM_BINDGEN_TEST_TIMEOUT=600 wasm_test_threads_relaxed --no-default-features --test conformance -- fast_cpu_threads

step "relaxed-SIMD build in headless Chrome (fused multiply-adds within the suite's bounds)"
WASM_BINDGEN_TEST_TIMEOUT=600 wasm_test_relaxed --no-default-features --test conformance -- fast_cpu
WASM_BINDGEN_TEST_TIMEOUT=600 wasm_test_relaxed --no-default-features --test kernels

step "page end to end (playwright-core, Debian chromium)"
build_pkg pkg
build_pkg_threads pkg-threads
build_pkg_threads_testing target/pkg-threads-testing # only tests/e2e/threads.test.mjs serves it
build_pkg_relaxed pkg-relaxed
build_pkg_threads_relaxed pkg-threads-relaxed
# The page and the embed example against the generated pkg/shufflenet_web.d.ts.
npx tsc -p jsconfig.json
# The page tests run on the untrained stand-ins, the same on every machine.
export WEIGHTS_DIR="$PWD/target/e2e-weights"
rm -rf "$WEIGHTS_DIR" && SHUFFLENET_OFFLINE=1 tools/weights.sh target/debug/shufflenet
PORT=${E2E_PORT:-8087}
./run.sh --no-build --port "$PORT" --weights-dir "$WEIGHTS_DIR" > target/e2e-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$TMPDIR"' EXIT
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/weights/manifest.json" >/dev/null 2>&1 && break
  sleep 1
done
SHUFFLENET_URL="http://127.0.0.1:$PORT" node --test tests/e2e/ tests/bench/

step "page memory soak (webcam frames for a few minutes)"
SHUFFLENET_URL="http://127.0.0.1:$PORT" SHUFFLENET_SOAK_SECONDS=${SOAK_SECONDS:-150} node --test tests/e2e/soak.mjs
