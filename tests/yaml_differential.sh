#!/usr/bin/env bash
# Differential test of the policy's two readers: the C++ bridge (yaml-cpp,
# bridge:policy_dump_main) and the Java broker plugin (SnakeYAML,
# dev.mayfly.kafka.policy.PolicyDump) load the same mutated policy files,
# and each prints what it would enforce (bridge/policy_dump.h) or its
# error. Any difference fails (tests/yaml_diff/compare.py): a file one
# loads and the other refuses, two different policies, or two different
# errors, except that a YAML syntax error on either side matches any error
# on the other (the parsers word and place those differently; both refuse).
#
# Each policy that loads also maps IDS generated IDs (tests/yaml_diff/ids.py),
# and the two mappers must give the same principal or denial and detail for
# each.
#
# Usage (after `bazel build //bridge:policy_dump_main` and the Maven build):
#   tests/yaml_differential.sh [COUNT [SEED [IDS]]]
# COUNT (default 300) inputs and IDS (default 1000) IDs from SEED (default
# 1), deterministic.
# MAYFLY_POLICY_DUMP and MAYFLY_PLUGIN_JAR override where the two are.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-300}
seed=${2:-1}
ids=${3:-1000}
cxx=${MAYFLY_POLICY_DUMP:-bazel-bin/bridge/policy_dump_main}
jar=${MAYFLY_PLUGIN_JAR:-$(ls kafka/broker-plugin/target/mayfly-kafka-broker-plugin-*.jar 2>/dev/null |
  grep -v -e sources -e original | head -n 1 || true)}
[[ -x "$cxx" ]] || { echo "yaml_differential: no $cxx; bazel build //bridge:policy_dump_main" >&2; exit 2; }
[[ -f "$jar" ]] || { echo "yaml_differential: no plugin jar; bash kafka/broker-plugin/build.sh" >&2; exit 2; }

work=$(mktemp -d)
trap '[[ -n "${MAYFLY_KEEP:-}" ]] || rm -rf "$work"' EXIT
[[ -n "${MAYFLY_KEEP:-}" ]] && echo "yaml_differential: inputs in $work" >&2
mkdir "$work/in"
seeds=(bridge/testdata/mapping_policy.yaml)
while read -r name result; do
  [[ $result == "=> ok" && -f bridge/testdata/yaml_vectors/$name ]] &&
    seeds+=("bridge/testdata/yaml_vectors/$name")
done < <(grep -v '^#' bridge/testdata/yaml_vectors/expectations.txt)
python3 tests/yaml_diff/mutate.py "$work/in" "$count" "$seed" "${seeds[@]}"
# The vectors themselves too: every refusal must match, not only the seeds.
cp bridge/testdata/yaml_vectors/*.yaml "$work/in/"

# And the IDs each loaded policy maps: near misses of the seed's rules,
# IDs that break one SPIFFE rule, the 2048-byte limit (tests/yaml_diff/ids.py).
python3 tests/yaml_diff/ids.py "$ids" "$seed" >"$work/ids.txt"

files=("$work/in"/*.yaml)
"$cxx" --ids "$work/ids.txt" "${files[@]}" >"$work/cxx.txt"
java -cp "$jar" dev.mayfly.kafka.policy.PolicyDump --ids "$work/ids.txt" \
  "${files[@]}" >"$work/java.txt"
if ! summary=$(python3 tests/yaml_diff/compare.py "$work/cxx.txt" "$work/java.txt"); then
  echo "yaml_differential: $summary" >&2
  echo "yaml_differential: FAIL: the C++ bridge and the Java plugin differ (seed $seed)" >&2
  exit 1
fi
echo "yaml_differential: $summary (seed $seed)"
