#!/usr/bin/env bash
# Installs whatever the project needs that this machine lacks, then exports the variables
# that make wasm32 builds work. Sourced by run.sh, test.sh and bench.sh; safe to run again.
#
# wasm32 toolchain, in order of preference:
#   1. rustup's wasm32-unknown-unknown target, already installed or added now (normal machines);
#   2. Debian's rustc-web, which builds std for wasm32 from source (machines where rustup
#      cannot download; `rustup target add` hangs there, so it gets a time limit).

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

APT_UPDATED=
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    log "please install: ${missing[*]}"; return 1
  fi
  log "apt-get install ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Browser, its driver, a software Vulkan driver (lavapipe) for native GPU tests.
setup_system() {
  if command -v apt-get >/dev/null; then
    apt_install chromium chromium-driver mesa-vulkan-drivers
    # A node from elsewhere ships its own npm, which Debian's npm package conflicts with.
    command -v node >/dev/null || apt_install nodejs
    command -v npm >/dev/null || apt_install npm
  fi
  export CHROME_BIN="${CHROME_BIN:-$(command -v chromium || command -v google-chrome || true)}"
}

WASM_ENV=()
setup_wasm_toolchain() {
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    return
  fi
  local debian_ready=
  rustup toolchain list 2>/dev/null | grep -q '^debian-web' && [ -d /usr/lib/rustlib/src/rust ] && debian_ready=1
  if [ -z "$debian_ready" ]; then
    if timeout 90 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
      return
    fi
    log "rustup cannot add wasm32 here: using Debian's rustc-web with std built from source"
  fi
  apt_install rustc-web cargo-web rust-web-src rust-web-llvm rust-web-clippy lld-22
  rustup toolchain list | grep -q '^debian-web' || rustup toolchain link debian-web /usr
  WASM_ENV=(RUSTUP_TOOLCHAIN=debian-web RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort)
}

# wasm-pack and wasm-bindgen-cli at exactly the wasm-bindgen version Cargo.lock pins.
setup_wasm_tools() {
  export PATH="$HOME/.cargo/bin:$PATH"
  command -v wasm-pack >/dev/null || { log "cargo install wasm-pack"; cargo install -q wasm-pack; }
  local want
  want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print}' "$ROOT/Cargo.lock")
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    log "cargo install wasm-bindgen-cli $want"
    cargo install -q --force wasm-bindgen-cli --version "$want"
  fi
}

setup_node() {
  if [ ! -d "$ROOT/node_modules" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    log "npm ci"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Runs a command with the wasm toolchain's variables.
wasm() { env "${WASM_ENV[@]}" "$@"; }

# The web glue (module, .d.ts, wasm) of the wasm cargo built in target/DIR (`.`: the default
# target dir) under PROFILE, into OUT: `web_glue DIR PROFILE OUT`.
web_glue() {
  wasm-bindgen --target web --out-dir "$ROOT/$3" "$ROOT/target/$1/wasm32-unknown-unknown/$2/shufflenet_web.wasm"
}

# Builds the npm package `shufflenet-web` into DIR (default pkg/): the module, its .d.ts, the
# wasm, package.json and README (templates in tools/pkg/). The layout `wasm-pack build --target
# web` makes, built with cargo + wasm-bindgen directly: wasm-pack's build refuses a toolchain
# whose std is built from source.
build_pkg() {
  local out="${1:-pkg}" version
  (cd "$ROOT" && wasm cargo build -q --lib --release --target wasm32-unknown-unknown)
  web_glue . release "$out"
  version=$(awk -F'"' '/^version = /{print $2; exit}' "$ROOT/Cargo.toml")
  sed "s/CARGO_VERSION/$version/" "$ROOT/tools/pkg/package.json" > "$ROOT/$out/package.json"
  cp "$ROOT/tools/pkg/README.md" "$ROOT/$out/README.md"
}

# The threaded build (pkg-threads/, issue 12): Web Workers on shared memory need atomics and
# bulk memory, and std built with them, which only a from-source std build gives
# (`-Z build-std`, allowed on stable by RUSTC_BOOTSTRAP). Debian's toolchain already builds std
# from source; on rustup that needs the rust-src component. Its own target dir, so the two
# builds do not invalidate each other. rustc no longer makes the memory shared by itself: the
# link arguments import a shared memory (at most 1 GiB: a shared memory needs a maximum, and
# every browser reserves it) and export what wasm-bindgen needs to give each thread its TLS.
THREADS_RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+simd128 -C link-arg=--shared-memory
  -C link-arg=--import-memory -C link-arg=--max-memory=1073741824 -C link-arg=--export=__wasm_init_tls
  -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
setup_threads_toolchain() {
  [ ${#WASM_ENV[@]} -gt 0 ] && return 0 # Debian's toolchain: std sources come with it
  rustup component list --installed 2>/dev/null | grep -q '^rust-src' && return 0
  log "rustup component add rust-src (the threaded build rebuilds std)"
  timeout 300 rustup component add rust-src >/dev/null
}

# Only the module, its .d.ts, the wasm and snippets/ (the pool's worker script): the page and
# the bench load it beside pkg/; it is not published as a package of its own.
build_pkg_threads() {
  local out="${1:-pkg-threads}"
  threads_cargo build -q --lib --release
  web_glue threads release "$out"
}

# The threaded build with the test hooks (`testing`: `trapCpuThreadForTests`) into DIR (default
# target/pkg-threads-testing), for the page's e2e test of a CPU thread that traps, which serves
# it in place of pkg-threads/; never shipped. Built as the threaded tests build the crate
# (CPU-only, dev profile), so it reuses their artifacts: a release build with other features
# would write pkg-threads/' own output file.
build_pkg_threads_testing() {
  local out="${1:-target/pkg-threads-testing}"
  threads_cargo build -q --lib --no-default-features --features testing
  web_glue threads debug "$out"
}

# Cargo with a threaded build's target dir and flags: `threaded_cargo DIR FLAGS build ...`.
threaded_cargo() {
  local dir=$1 flags=$2
  setup_threads_toolchain
  (cd "$ROOT" && wasm env RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$(echo $flags)" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}" \
    cargo "$3" --target wasm32-unknown-unknown -Z build-std=std,panic_abort \
    --target-dir "$ROOT/target/$dir" "${@:4}")
}
# Cargo with the threaded build's flags and target dir: `threads_cargo clippy ...`.
threads_cargo() { threaded_cargo threads "$THREADS_RUSTFLAGS" "$@"; }
wasm_clippy_threads() { threads_cargo clippy "$@"; }

# The threaded build's tests in headless Chrome: `cargo test` with wasm-bindgen-test-runner,
# whose page is cross-origin isolated (it sends COOP/COEP unless
# WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION is set), as shared memory needs. Arguments go to cargo.
wasm_test_threads() { threads_cargo test "$@"; }

# The threaded relaxed-SIMD build (pkg-threads-relaxed/): the threaded build's flags plus
# relaxed SIMD, in its own target dir. Several threads run it where the browser validates
# relaxed SIMD (pkg-threads/ elsewhere): 5 to 7 % faster on two threads (docs/threads.md).
THREADS_RELAXED_RUSTFLAGS="$THREADS_RUSTFLAGS -C target-feature=+relaxed-simd"
threads_relaxed_cargo() { threaded_cargo threads-relaxed "$THREADS_RELAXED_RUSTFLAGS" "$@"; }
build_pkg_threads_relaxed() {
  local out="${1:-pkg-threads-relaxed}"
  threads_relaxed_cargo build -q --lib --release
  web_glue threads-relaxed release "$out"
}
wasm_test_threads_relaxed() { threads_relaxed_cargo test "$@"; }

# The relaxed-SIMD build (pkg-relaxed/, issue 12): the multiply-adds as `f32x4_relaxed_madd`
# (one fused instruction where the CPU has FMA). Plain stable: simd128's std serves. Its own
# target dir. One CPU thread runs it where the browser validates relaxed SIMD: it measured
# 11-16 % faster than pkg/ (docs/performance.md, "CPU in the browser").
RELAXED_RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd"
relaxed_cargo() {
  (cd "$ROOT" && wasm env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$RELAXED_RUSTFLAGS" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}" \
    cargo "$1" --target wasm32-unknown-unknown --target-dir "$ROOT/target/relaxed" "${@:2}")
}
build_pkg_relaxed() {
  local out="${1:-pkg-relaxed}"
  relaxed_cargo build -q --lib --release
  web_glue relaxed release "$out"
}
# The relaxed build's tests in headless Chrome; arguments go to cargo.
wasm_test_relaxed() { relaxed_cargo test "$@"; }

setup_all() {
  setup_system
  setup_wasm_toolchain
  setup_wasm_tools
  setup_node
}
