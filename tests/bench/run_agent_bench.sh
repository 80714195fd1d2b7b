#!/usr/bin/env bash
# The agent benchmark: the same load, from the same client
# (tests/bench/workload_bench.cc), against mayfly-agent and, where SPIRE
# v1.13.3 builds from the Go module proxy, against a SPIRE agent and server
# on this machine, one after the other in one run. Prints every figure and
# the ratio SPIRE/Mayfly (above 1: Mayfly is better) for each.
#
#   latency    FetchX509SVID first response, N clients on their own
#              connections, each calling again as soon as it has its answer
#              (closed loop: the server is saturated)
#   paced      the same clients each calling once per period (open loop:
#              N clients' worth of real traffic)
#   fanout     STREAMS open watch streams; spread from the first to the last
#              stream receiving a rotated SVID
#   workloads  N workloads (one supplementary group each) registered and
#              fetched once: agent RSS growth per workload, and SVIDs minted
#              and served per CPU-second of the agent (plus the SPIRE
#              server, which signs for its agent)
#
# Env: MAYFLY_BENCH_SPIRE=0 skips SPIRE; MAYFLY_BENCH_WORKLOADS (10000).
set -euo pipefail
cd "$(dirname "$0")/../.."
# wait_for
source tests/lib/checks.sh

bazel build -c opt --noshow_progress //:mayfly-agent //tests/bench:workload_bench \
  2>&1 | grep -vE '^\(|^INFO|^Target|^  bazel' || true
agent_bin=$PWD/bazel-bin/identity/agent/mayfly-agent
bench=$PWD/bazel-bin/tests/bench/workload_bench
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
workloads=${MAYFLY_BENCH_WORKLOADS:-10000}
streams=10000
first_gid=300000
hz=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/mayfly-bench.XXXXXX)
chmod 755 "$work"
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

spire_dir=""
if [[ ${MAYFLY_BENCH_SPIRE:-1} == 1 ]]; then
  if agent=$(bash tests/interop/build_spire.sh \
    "${MAYFLY_CACHE:-$HOME/.cache/mayfly}/interop" | tail -1) && [[ -x $agent ]]; then
    spire_dir=$(dirname "$agent")
  else
    echo "bench: SPIRE did not build; Mayfly figures only" >&2
  fi
fi

cpu_ticks() { # utime + stime of the given pids
  local total=0 p
  for p in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# --- the two systems: start SYSTEM, register N, stop --------------------------
# start_X sets: sock, agent_pid (the process whose RSS counts), cpu_pids.
start_mayfly() {
  local dir="$work/mayfly-$1"
  mkdir -p "$dir"
  cat >"$dir/entries.yaml" <<YAML
entries:
  - spiffe_id: spiffe://example.org/bench
    selectors: ["unix:uid:0"]
    ttl: 10s
YAML
  cat >"$dir/agent.yaml" <<YAML
trust_domain: example.org
socket_path: $dir/api.sock
state_dir: $dir/state
log_level: warn
entries_file: entries.yaml
limits:
  max_connections: 15000
  max_streams_per_caller: 20000
  requests_per_second_per_caller: 1000000
  request_burst: 1000000
YAML
  "$agent_bin" --config "$dir/agent.yaml" 2>"$dir/agent.log" &
  agent_pid=$!
  pids+=("$agent_pid")
  cpu_pids=("$agent_pid")
  sock="$dir/api.sock"
  wait_for 30 "$bench" latency "$sock" 1 1
}
register_mayfly() { # N: entries for supplementary groups first_gid..
  local dir
  dir=$(dirname "$sock")
  {
    cat "$dir/entries.yaml"
    for ((i = 0; i < $1; i++)); do
      printf '  - spiffe_id: spiffe://example.org/w%d\n    selectors: ["unix:supplementary_gid:%d"]\n' \
        "$i" $((first_gid + i))
    done
  } >"$dir/entries.new"
  mv "$dir/entries.new" "$dir/entries.yaml"
  kill -HUP "$agent_pid"
  # Registered once the last entry's workload gets its SVID.
  wait_for 60 "$bench" groups "$sock" $((first_gid + $1 - 1)) 1
}

start_spire() {
  local dir="$work/spire-$1" port
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/server.conf" <<HCL
server {
  bind_address = "127.0.0.1"
  bind_port = "$port"
  socket_path = "$dir/server.sock"
  trust_domain = "example.org"
  data_dir = "$dir/server-data"
  log_level = "ERROR"
  default_x509_svid_ttl = "5m"
  ca_ttl = "24h"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "$dir/server-data/datastore.sqlite3"
    }
  }
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "memory" { plugin_data {} }
}
HCL
  cat >"$dir/agent.conf" <<HCL
agent {
  data_dir = "$dir/agent-data"
  log_level = "ERROR"
  server_address = "127.0.0.1"
  server_port = "$port"
  socket_path = "$dir/agent.sock"
  trust_domain = "example.org"
  insecure_bootstrap = true
  # Its LRU cache holds 1,000 SVIDs by default; beyond that a new workload
  # waits for the next sync. Sized to the benchmark, as an operator would.
  x509_svid_cache_max_size = $((workloads + 1000))
}
plugins {
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "memory" { plugin_data {} }
  WorkloadAttestor "unix" { plugin_data {} }
}
HCL
  "$spire_dir/spire-server" run -config "$dir/server.conf" >"$dir/server.log" 2>&1 &
  local server_pid=$!
  pids+=("$server_pid")
  wait_for 60 "$spire_dir/spire-server" healthcheck -socketPath "$dir/server.sock"
  local token
  token=$("$spire_dir/spire-server" token generate -socketPath "$dir/server.sock" \
    -spiffeID spiffe://example.org/agent | awk '{print $2}')
  "$spire_dir/spire-server" entry create -socketPath "$dir/server.sock" \
    -parentID spiffe://example.org/agent -spiffeID spiffe://example.org/bench \
    -selector unix:uid:0 -x509SVIDTTL 10 >/dev/null
  "$spire_dir/spire-agent" run -config "$dir/agent.conf" -joinToken "$token" \
    >"$dir/agent.log" 2>&1 &
  agent_pid=$!
  pids+=("$agent_pid")
  cpu_pids=("$agent_pid" "$server_pid")
  sock="$dir/agent.sock"
  spire_server_sock="$dir/server.sock"
  wait_for 60 "$bench" latency "$sock" 1 1
}
register_spire() {
  local dir
  dir=$(dirname "$sock")
  python3 - "$1" "$first_gid" >"$dir/entries.json" <<'PY'
import json, sys
n, gid = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps({"entries": [{
    "spiffe_id": "spiffe://example.org/w%d" % i,
    "parent_id": "spiffe://example.org/agent",
    "selectors": [{"type": "unix", "value": "supplementary_gid:%d" % (gid + i)}],
    "x509_svid_ttl": 300} for i in range(n)]}))
PY
  "$spire_dir/spire-server" entry create -socketPath "$spire_server_sock" \
    -data "$dir/entries.json" >/dev/null
}

# --- one system's figures ------------------------------------------------------
declare -A fig
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

measure() {
  local sys=$1 out
  echo "== $sys" >&2
  "start_$sys" load
  for c in 100 1000; do
    local rounds=$((c == 100 ? 20 : 5))
    # A run with failures still prints its figures and its failed= count.
    out=$("$bench" latency "$sock" "$c" "$rounds" || true)
    echo "$sys $out"
    fig[$sys.latency$c.p50]=$(field p50_ms "$out")
    fig[$sys.latency$c.p99]=$(field p99_ms "$out")
    local period=$((c == 100 ? 100 : 1000))
    out=$("$bench" paced "$sock" "$c" "$period" 10 || true)
    echo "$sys $out"
    fig[$sys.paced$c.p50]=$(field p50_ms "$out")
    fig[$sys.paced$c.p99]=$(field p99_ms "$out")
  done
  out=$("$bench" fanout "$sock" "$streams" 100 60 || true)
  echo "$sys $out"
  fig[$sys.fanout]=$(field spread_ms "$out")
  stop_all

  "start_$sys" workloads
  local rss0 cpu0 rss1 cpu1
  rss0=$(rss_kb "$agent_pid")
  "register_$sys" "$workloads"
  cpu0=$(cpu_ticks "${cpu_pids[@]}")
  out=$("$bench" groups "$sock" "$first_gid" "$workloads" || true)
  echo "$sys $out"
  cpu1=$(cpu_ticks "${cpu_pids[@]}")
  rss1=$(rss_kb "$agent_pid")
  fig[$sys.bytes_per_workload]=$(((rss1 - rss0) * 1024 / workloads))
  fig[$sys.mints_per_cpu_s]=$(python3 -c "print(round($workloads / max(($cpu1 - $cpu0) / $hz, 1e-9)))")
  echo "$sys workloads=$workloads rss_kb=$rss0->$rss1 cpu_s=$(python3 -c "print(($cpu1-$cpu0)/$hz)")"
  stop_all
}

measure mayfly
if [[ -n $spire_dir ]]; then measure spire; fi

# --- the table ---------------------------------------------------------------------
row() { # NAME KEY UNIT BETTER(lower|higher)
  local m=${fig[mayfly.$2]} s=${fig[spire.$2]:-}
  if [[ -z $s ]]; then
    printf '%-36s %12s %-6s\n' "$1" "$m" "$3"
    return
  fi
  local ratio
  if [[ $4 == lower ]]; then
    ratio=$(python3 -c "print('%.2f' % ($s / $m if $m else float('inf')))")
  else
    ratio=$(python3 -c "print('%.2f' % ($m / $s if $s else float('inf')))")
  fi
  printf '%-36s %12s %12s %-6s  spire/mayfly=%s\n' "$1" "$m" "$s" "$3" "$ratio"
}
echo
printf '%-36s %12s %12s\n' figure mayfly spire
row "FetchX509SVID p50, 100 closed-loop" latency100.p50 ms lower
row "FetchX509SVID p99, 100 closed-loop" latency100.p99 ms lower
row "FetchX509SVID p50, 1000 closed-loop" latency1000.p50 ms lower
row "FetchX509SVID p99, 1000 closed-loop" latency1000.p99 ms lower
row "FetchX509SVID p50, 100 x 10/s" paced100.p50 ms lower
row "FetchX509SVID p99, 100 x 10/s" paced100.p99 ms lower
row "FetchX509SVID p50, 1000 x 1/s" paced1000.p50 ms lower
row "FetchX509SVID p99, 1000 x 1/s" paced1000.p99 ms lower
row "rotation reaching $streams streams" fanout ms lower
row "agent RSS per workload" bytes_per_workload B lower
row "SVIDs minted+served per CPU-s" mints_per_cpu_s /s higher
