#!/usr/bin/env bash
# Builds every libFuzzer target with clang and runs each for a bounded time
# on a scratch copy of its seed corpus (the checked-in corpus stays as is).
#
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET]
#
# clang needs its own C++ toolchain configuration, so this uses a second
# Bazel output base rather than disturbing the main one's cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
targets=(spiffe_id_fuzz x509_verify_fuzz)
# One output base per checkout, as Bazel's own is.
checkout_hash=$(pwd | md5sum | cut -c1-12)
output_base="${MAYFLY_FUZZ_OUTPUT_BASE:-$HOME/.cache/mayfly-fuzz-bazel/$checkout_hash}"

bazel --output_base="$output_base" build --config=fuzz --noshow_progress \
  "${targets[@]/#/\/\/tests/fuzz:}" 2>&1 | grep -vE '^\(|^INFO|^Target|^  bazel|ld.gold: warning' || true
bin=$(bazel --output_base="$output_base" info --config=fuzz bazel-bin 2>/dev/null)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/${target%_fuzz}
  mkdir -p "$scratch/$target"
  cp "$corpus"/* "$scratch/$target/"
  echo "fuzz: $target for ${seconds}s on $(ls "$corpus" | wc -l) seeds" >&2
  "$bin/tests/fuzz/$target" -max_total_time="$seconds" -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$scratch/" "$scratch/$target" \
    2>"$scratch/$target.log" || {
    tail -n 40 "$scratch/$target.log" >&2
    echo "fuzz: $target FAILED" >&2
    exit 1
  }
  grep -E 'stat::number_of_executed_units|stat::new_units_added' \
    "$scratch/$target.log" | sed "s/^/fuzz: $target /" >&2
done
