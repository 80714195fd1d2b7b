#!/usr/bin/env bash
# Builds every libFuzzer target with clang and runs each for a bounded time
# on a scratch copy of its seed corpus (the checked-in corpus stays as is).
#
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET [TARGET_NAME...]]
#
# With target names (e.g. frame_fuzz), only those are built and run.
# clang needs its own C++ toolchain configuration, so this uses a second
# Bazel output base rather than disturbing the main one's cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
# Every target, as "label seed_corpus_directory".
all_targets=(
  "//tests/fuzz:spiffe_id_fuzz tests/fuzz/corpus/spiffe_id"
  "//tests/fuzz:x509_verify_fuzz tests/fuzz/corpus/x509_verify"
  "//kafka/client/internal:frame_fuzz kafka/client/internal/testdata/frame_fuzz"
)
targets=()
for entry in "${all_targets[@]}"; do
  label=${entry%% *}
  if [[ $# -eq 0 ]] || [[ " $* " == *" ${label##*:} "* ]]; then
    targets+=("$entry")
  fi
done
if [[ ${#targets[@]} -ne $# ]] && [[ $# -ne 0 ]]; then
  echo "fuzz: unknown target among: $* (known: ${all_targets[*]%% *})" >&2
  exit 2
fi
labels=("${targets[@]%% *}")
# One output base per checkout, as Bazel's own is.
checkout_hash=$(pwd | md5sum | cut -c1-12)
output_base="${MAYFLY_FUZZ_OUTPUT_BASE:-$HOME/.cache/mayfly-fuzz-bazel/$checkout_hash}"

bazel --output_base="$output_base" build --config=fuzz --noshow_progress \
  "${labels[@]}" 2>&1 | grep -vE '^\(|^INFO|^Target|^  bazel|ld.gold: warning' || true
bin=$(bazel --output_base="$output_base" info --config=fuzz bazel-bin 2>/dev/null)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for entry in "${targets[@]}"; do
  label=${entry%% *}
  corpus=${entry#* }
  target=${label##*:}
  binary=$bin/${label#//}
  binary=${binary/://}
  mkdir -p "$scratch/$target"
  cp "$corpus"/* "$scratch/$target/"
  echo "fuzz: $target for ${seconds}s on $(ls "$corpus" | wc -l) seeds" >&2
  "$binary" -max_total_time="$seconds" -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$scratch/" "$scratch/$target" \
    2>"$scratch/$target.log" || {
    tail -n 40 "$scratch/$target.log" >&2
    echo "fuzz: $target FAILED" >&2
    exit 1
  }
  grep -E 'stat::number_of_executed_units|stat::new_units_added' \
    "$scratch/$target.log" | sed "s/^/fuzz: $target /" >&2
done
