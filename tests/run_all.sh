#!/usr/bin/env bash
# The README's second command, and what CI runs: install what is missing, then
# the whole test suite.
#
#   1. formatting (clang-format; buildifier where it installed)
#   2. every test, normally
#   3. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#   4. each libFuzzer target for a bounded time (MAYFLY_FUZZ_SECONDS, 60)
#   5. the minting benchmark, which prints mint_vs_openssl_floor=R
set -euo pipefail
cd "$(dirname "$0")/.."

bash third_party/install_deps.sh

step() { printf '\n==> %s\n' "$*" >&2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "format"
bash tests/check_format.sh

step "bazel test //... (normal build)"
bazel test //... 2>&1 | tee "$log" | grep -E 'PASSED|FAILED|TIMEOUT|NO STATUS|ERROR|Executed' || true
normal_rc=${PIPESTATUS[0]}

step "bazel test //identity/... under ASan + UBSan"
bazel test --config=asan --config=ubsan //identity/... 2>&1 |
  tee -a "$log" | grep -E 'PASSED|FAILED|TIMEOUT|NO STATUS|ERROR|Executed' || true
sanitizer_rc=${PIPESTATUS[0]}

fuzz_rc=0
step "fuzzers, ${MAYFLY_FUZZ_SECONDS:-60}s each"
bash tests/fuzz/run_fuzzers.sh "${MAYFLY_FUZZ_SECONDS:-60}" || fuzz_rc=$?

step "benchmark"
bench_rc=0
bash tests/bench/run_mint_bench.sh || bench_rc=$?

passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|NO STATUS)' "$log" || true)
echo
echo "tests: ${passed} passed, ${failed} failed"
if ((normal_rc != 0 || sanitizer_rc != 0 || fuzz_rc != 0 || bench_rc != 0)); then
  echo "run_all: failed (tests normal=$normal_rc sanitizers=$sanitizer_rc" \
    "fuzz=$fuzz_rc bench=$bench_rc)" >&2
  exit 1
fi
