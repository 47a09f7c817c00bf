#!/usr/bin/env bash
# For a machine with a real GPU: build natively, then time `shufflenet bench --backend webgpu`
# with both kernel sets at every width, printing one JSON line per run (stdout) and each
# frame's work-shape table (stderr). Seeded random weights: the timings do not depend on them.
# Usage: tools/gpu-check.sh [--runs N] [--batch B] [--size S] [--widths "0.5 1.0 1.5 2.0"]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=30 batch=1 size=224 widths="0.5 1.0 1.5 2.0"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --widths) widths="$2"; shift 2 ;;
    *) echo "usage: tools/gpu-check.sh [--runs N] [--batch B] [--size S] [--widths \"0.5 1.0\"]" >&2; exit 2 ;;
  esac
done
cargo build --release --bin shufflenet >&2
bin=target/release/shufflenet
dir=target/gpu-check
mkdir -p "$dir"
for w in $widths; do
  [ -f "$dir/x$w.safetensors" ] || "$bin" random "$dir/x$w.safetensors" --width "$w" >&2
  for kernels in hardware software; do
    echo "== x$w, $kernels kernels" >&2
    "$bin" bench "$dir/x$w.safetensors" --backend webgpu --kernels "$kernels" \
      --runs "$runs" --batch "$batch" --size "$size" --json --shape
  done
done
