#!/usr/bin/env bash
# Builds the minting benchmark optimised and runs it on one core. The last
# line it prints is mint_vs_openssl_floor=R (goal: R >= 0.8).
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build -c opt --noshow_progress //tests/bench:mint_bench 2>&1 |
  grep -vE '^\(|^INFO|^Target|^  bazel' || true
# One core: pin to CPU 0 where taskset exists.
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
"${pin[@]}" bazel-bin/tests/bench/mint_bench \
  --benchmark_min_time="${MAYFLY_BENCH_MIN_TIME:-0.3}" "$@"
