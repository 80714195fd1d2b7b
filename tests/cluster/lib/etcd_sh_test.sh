#!/usr/bin/env bash
# etcd.sh itself: a cluster starts, its leader can be killed and another
# takes over, and etcd_stop_cluster leaves no member running.
set -euo pipefail
source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/cluster/lib/etcd.sh"
trap etcd_stop_cluster EXIT

etcd_start_cluster "$TEST_TMPDIR/etcd"
IFS=, read -r -a endpoints <<<"$ETCD_ENDPOINTS"
[[ ${#endpoints[@]} == 3 ]] || { echo "FAIL: endpoints $ETCD_ENDPOINTS" >&2; exit 1; }
pids=("${ETCD_PIDS[@]}")

first=$(etcd_leader)
etcd_kill_leader
[[ $ETCD_KILLED == "$first" ]] || { echo "FAIL: killed m$ETCD_KILLED, not m$first" >&2; exit 1; }
if kill -0 "${pids[first]}" 2>/dev/null; then
  echo "FAIL: m$first still runs" >&2
  exit 1
fi
second=$(etcd_leader)
[[ $second != "$first" ]] || { echo "FAIL: leader still m$first" >&2; exit 1; }
echo "leader m$first killed, m$second leads now"

etcd_stop_cluster
for pid in "${pids[@]}"; do
  if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: etcd $pid survived etcd_stop_cluster" >&2
    exit 1
  fi
done
echo "PASS"
