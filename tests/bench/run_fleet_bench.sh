#!/usr/bin/env bash
# The fleet benchmark (issue 18, "1,000 agents against one fleet"):
# simulated agents (tests/bench/fleet, one process, each agent with its own
# key, agent SVID and mTLS connection) attest, sync, sign and renew against
# 2 mayfly-server replicas on a real 3-member etcd, all on 127.0.0.1.
# Prints one line per figure (fleet-bench: NAME = VALUE UNIT); how each is
# taken is in tests/bench/fleet/fleet_bench.cc and docs/benchmarks.md.
#
# Usage: run_fleet_bench.sh [--short]
#   --short: the CI run (tests/run_all.sh): 100 agents x 10 entries, SVIDs
#            of 20 s (agent SVIDs 60 s), 10 s windows (well under 2 minutes
#            with etcd's start).
#   full:    1,000 agents x 100 entries, SVIDs and agent SVIDs of 900 s, 30 s
#            windows (about 15 minutes on 2 busy cores).
# Exit 1 if any call failed or an agent never got all its SVIDs.
set -euo pipefail
if [[ $# -gt 1 || ($# == 1 && $1 != --short) ]]; then
  echo "usage: run_fleet_bench.sh [--short]" >&2
  exit 2
fi
cd "$(dirname "$0")/../.."
procs_tag=fleet-bench
source tests/lib/procs.sh
source tests/cluster/lib/etcd.sh
source tests/cluster/lib/fleet.sh

if [[ ${1:-} == --short ]]; then
  mode=short agents=100 entries=10 entry_ttl=20 agent_ttl=60s window=10
  change_rate=10 cold_timeout=60
else
  mode=full agents=1000 entries=100 entry_ttl=900 agent_ttl=900s window=30
  change_rate=10 cold_timeout=900
fi
td=example.org
net_host=127.0.0.1
svid_ttl=5m # default_ttl; every bench entry names its own TTL

echo "fleet-bench: $mode mode, $(date -u '+%F %T UTC'), nproc $(nproc)," \
  "load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bazel build -c opt --noshow_progress //:mayfly //:mayfly-server \
  //tests/bench:fleet_bench 2>&1 | grep -vE '^\(|^INFO|^Target|^  bazel' || true
# Resolved now: a later build in another configuration moves bazel-bin.
obin=$(bazel info -c opt bazel-bin 2>/dev/null)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

run=$(mktemp -d /tmp/mayfly-fleet-bench.XXXXXX)
bin=$run/bin
mkdir -p "$bin"
for program in mayfly identity/server/mayfly-server tests/bench/fleet_bench; do
  install -m 755 "$obin/$program" "$bin/"
done
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  etcd_stop_cluster
  if ((rc != 0)); then
    tail -n 5 "$run"/server-*/server.log >&2 2>/dev/null || true
  fi
  rm -rf "$run"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$SECONDS
etcd_start_cluster "$run/etcd"
fleet_ca
for name in a b; do
  server_config "$name"
  # One log line per registration and renewal is not what is measured.
  sed -i 's/^log_level: info/log_level: warn/' "$run/server-$name/server.yaml"
  server_start "$name"
done
echo "fleet-bench: etcd and 2 replicas up in $((SECONDS - started)) s" >&2

rc=0
"$bin/fleet_bench" \
  --trust_domain="$td" --bundle="$run/admin-ca/bundle.pem" \
  --servers="${server_port[a]},${server_port[b]}" \
  --admin_sockets="$run/server-a/admin.sock,$run/server-b/admin.sock" \
  --server_pids="${server_pid[a]},${server_pid[b]}" \
  --etcd_ports="$(
    IFS=,
    echo "${ETCD_CLIENT_PORTS[*]}"
  )" \
  --etcd_pids="$(
    IFS=,
    echo "${ETCD_PIDS[*]}"
  )" \
  --agents="$agents" --entries_per_agent="$entries" \
  --entry_ttl_s="$entry_ttl" --window_s="$window" \
  --change_rate="$change_rate" --cold_timeout_s="$cold_timeout" || rc=$?
echo "fleet-bench: for scale, SPIRE: ~3,500 agents and 31,000 workloads drove" \
  "~47,000 MySQL queries/s from its polling sync (spiffe/spire issue 1351)"
echo "fleet-bench: $mode mode done in $((SECONDS - started)) s, nproc $(nproc)," \
  "load: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$rc"
