#!/usr/bin/env bash
# The README's second command, and what CI runs: install what is missing, then
# the whole test suite.
#
#   1. formatting (clang-format; buildifier where it installed)
#   2. every test, normally
#   3. the unit tests of identity, the client library and the bridge again
#      under AddressSanitizer + UndefinedBehaviorSanitizer, and the client
#      library's under ThreadSanitizer
#   4. each libFuzzer target for a bounded time (MAYFLY_FUZZ_SECONDS, 60)
#   5. interop: go-spiffe (and the SPIRE CLI where it builds) and java-spiffe
#      against the real agent; the clients come from the Go module proxy and
#      Maven Central
#   5b. step-ca: mayfly-server with the real step-ca (built from the Go
#      module proxy, cached) as its upstream CA (tests/stepca)
#   6. the Kafka broker plugin's Maven build and its JUnit tests, each
#      counted as one test; then the differential test of the policy's two
#      readers and mappers (tests/yaml_differential.sh), one test
#   7. Kafka: tests/kafka/run_e2e against real Kafka 4.4.0 KRaft brokers
#      (Maven Central, cached) on mayfly-agent's certificates, stock and
#      with the plugin; each case counts as one test. The plugin group
#      includes the client soak (plugin_soak, 60 s; tests/kafka/run_soak
#      runs it alone) and the client benchmark's short mode
#      (plugin_client_bench, about a minute), on its broker
#   8. many nodes: tests/cluster/run, a 3-member etcd cluster, two
#      mayfly-server replicas and three agents in network namespaces
#      (push latency, cross-node refusal, tokens, outages, a network cut,
#      eviction); then tests/cluster/run_kafka, a three-broker Kafka
#      cluster on three of five nodes with clients on the other two (bridge
#      apply; a 200 s soak through an entry's deletion, an agent, an etcd
#      member, a server replica and a broker killed or restarted); each
#      case counts as one test
#   9. the README's first command, the product demo (tests/demo.sh), counted
#      as one test
#  10. the benchmarks, which print their figures and ratios (mint, agent,
#      server against SPIRE, the fleet of simulated agents on etcd)
set -euo pipefail
cd "$(dirname "$0")/.."

bash third_party/install_deps.sh

step() { printf '\n==> %s (at %d s)\n' "$*" "$SECONDS" >&2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# bazel test ARGS...: everything into $log, the summary lines on the
# terminal; returns bazel's exit code.
bazel_test() {
  bazel test "$@" 2>&1 | tee -a "$log" |
    grep -E 'PASSED|FAILED|TIMEOUT|NO STATUS|ERROR|Executed'
  return "${PIPESTATUS[0]}"
}

step "format"
bash tests/check_format.sh

step "bazel test //... (normal build)"
normal_rc=0
bazel_test //... || normal_rc=$?

step "bazel test //identity/... //kafka/client/... //bridge/... under ASan + UBSan"
sanitizer_rc=0
bazel_test --config=asan --config=ubsan //identity/... //kafka/client/... \
  //bridge/... || sanitizer_rc=$?

step "bazel test //kafka/client/... under TSan"
# kafka_identity_test's 6 s SVIDs leave its rotation windows too tight at
# TSan's speed; its threads are exercised by the relay tests.
bazel_test --config=tsan -- //kafka/client/... -//kafka/client:kafka_identity_test ||
  sanitizer_rc=$?

step "interop: third-party Workload API clients"
interop_bin="${MAYFLY_CACHE:-$HOME/.cache/mayfly}/interop"
interop_env=(--test_env=GOSPIFFE_CHECK="$(bash tests/interop/build_gospiffe.sh "$interop_bin" | tail -1)")
if spire_agent=$(bash tests/interop/build_spire.sh "$interop_bin" 2>&1 | tail -1) &&
  [[ -x $spire_agent ]]; then
  interop_env+=(--test_env=SPIRE_AGENT="$spire_agent")
else
  echo "SPIRE did not build here ($spire_agent); its CLI checks are skipped" >&2
fi
# A failed Maven build leaves JAVASPIFFE_CHECK empty, and the test fails.
javaspiffe_check=$(bash tests/interop/build_javaspiffe.sh "$interop_bin" | tail -1) ||
  javaspiffe_check=""
interop_env+=(--test_env=JAVASPIFFE_CHECK="$javaspiffe_check")
interop_rc=0
bazel_test "${interop_env[@]}" //tests/interop:gospiffe_test \
  //tests/interop:javaspiffe_test || interop_rc=$?

step "step-ca upstream: mayfly-server on the real step-ca (tests/stepca)"
# Builds step-ca v0.30.2 from the Go module proxy on a fresh machine (about
# 260 CPU-seconds from an empty Go build cache: 2-3 min on 2 idle cores;
# cached in ~/.cache/mayfly/stepca), then the test: about 50 s (a 1-minute
# intermediate renewed at half-life). A failed build leaves STEP_CA empty,
# and the test fails.
stepca_bin=$(bash tests/stepca/build_stepca.sh \
  "${MAYFLY_CACHE:-$HOME/.cache/mayfly}/stepca" | tail -1) || stepca_bin=""
stepca_rc=0
bazel_test --test_env=STEP_CA="$stepca_bin" //tests/stepca:stepca_e2e_test ||
  stepca_rc=$?

step "Kafka broker plugin: Maven build and JUnit (kafka/broker-plugin)"
plugin_rc=0
plugin_reports=kafka/broker-plugin/target/surefire-reports
rm -rf "$plugin_reports"
bash kafka/broker-plugin/build.sh || plugin_rc=$?
# Each JUnit test counts as one test; a build that ran none counts as one
# failure.
read -r plugin_tests plugin_bad < <(grep -ho '<testsuite [^>]*>' \
  "$plugin_reports"/TEST-*.xml 2>/dev/null | awk '
    function attr(name) {
      if (!match($0, " " name "=\"[0-9]+\"")) return 0
      return substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 4)
    }
    { t += attr("tests"); b += attr("failures") + attr("errors") }
    END { print t + 0, b + 0 }')
plugin_passed=$((plugin_tests - plugin_bad))
if ((plugin_tests == 0)); then plugin_bad=1; fi
if ((plugin_rc != 0 && plugin_bad == 0)); then plugin_bad=1; fi
echo "broker plugin: $plugin_passed JUnit tests passed, $plugin_bad failed" >&2

step "the policy read by both: C++ bridge against Java plugin (tests/yaml_differential.sh)"
# 300 mutated policies plus the YAML vectors, and 2000 generated IDs mapped
# by every policy that loads; any difference fails. Counted as one test.
diff_rc=0
bazel build --noshow_progress //bridge:policy_dump_main 2>&1 | grep -v '^(' || true
bash tests/yaml_differential.sh 300 1 2000 || diff_rc=$?
if ((diff_rc == 0)); then diff_passed=1 diff_failed=0; else diff_passed=0 diff_failed=1; fi

# harness NAME COMMAND...: runs a harness that ends with "N passed, M
# failed" (each case one test), its output shown and kept; adds its counts
# to harness_passed/harness_failed. No such line (it could not start) or a
# failed exit with no failed case counts as one failure.
harness_passed=0
harness_failed=0
harness() {
  local name=$1 rc=0 out p f
  shift
  out=$(mktemp)
  "$@" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
  read -r p f < <(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' \
    "$out" | tail -n 1) || true
  rm -f "$out"
  if [[ -z ${p:-} ]]; then p=0 f=1; fi
  if ((rc != 0 && f == 0)); then f=1; fi
  echo "$name: $p passed, $f failed" >&2
  harness_passed=$((harness_passed + p))
  harness_failed=$((harness_failed + f))
}

step "Kafka: a real broker (tests/kafka/run_e2e)"
harness kafka tests/kafka/run_e2e

step "many nodes: etcd, two mayfly-servers, three agents in namespaces (tests/cluster/run)"
harness cluster tests/cluster/run

step "a Kafka cluster across nodes: three brokers, clients on two more (tests/cluster/run_kafka)"
harness kafka-cluster tests/cluster/run_kafka

step "the product demo (tests/demo.sh)"
demo_rc=0
bash tests/demo.sh || demo_rc=$?
if ((demo_rc == 0)); then demo_passed=1 demo_failed=0; else demo_passed=0 demo_failed=1; fi

fuzz_rc=0
step "fuzzers, ${MAYFLY_FUZZ_SECONDS:-60}s each"
bash tests/fuzz/run_fuzzers.sh "${MAYFLY_FUZZ_SECONDS:-60}" || fuzz_rc=$?

step "benchmarks"
bench_rc=0
bash tests/bench/run_mint_bench.sh || bench_rc=$?
bash tests/bench/run_agent_bench.sh --short || bench_rc=$?
bash tests/bench/run_server_bench.sh --short || bench_rc=$?
bash tests/bench/run_fleet_bench.sh --short || bench_rc=$?

passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|NO STATUS)' "$log" || true)
passed=$((passed + harness_passed + plugin_passed + demo_passed + diff_passed))
failed=$((failed + harness_failed + plugin_bad + demo_failed + diff_failed))
echo
echo "run_all: $((SECONDS / 60)) min $((SECONDS % 60)) s"
echo "tests: ${passed} passed, ${failed} failed"
if ((normal_rc != 0 || sanitizer_rc != 0 || interop_rc != 0 || stepca_rc != 0 ||
  harness_failed != 0 || plugin_rc != 0 || diff_rc != 0 ||
  demo_rc != 0 || fuzz_rc != 0 || bench_rc != 0)); then
  echo "run_all: failed (tests normal=$normal_rc sanitizers=$sanitizer_rc" \
    "interop=$interop_rc stepca=$stepca_rc plugin=$plugin_rc" \
    "harness cases failed=$harness_failed" \
    "differential=$diff_rc demo=$demo_rc fuzz=$fuzz_rc bench=$bench_rc)" >&2
  exit 1
fi
