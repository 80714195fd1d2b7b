#!/usr/bin/env bash
# The server benchmark: mayfly-server (file store, root in its ca_dir) with
# mayfly-agents against spire-server v1.13.3 (sqlite, its default store)
# with spire-agents, both attested with join tokens, one after the other in
# one run, everything on 127.0.0.1. Prints every figure with the calls that
# failed while taking it, and the ratio SPIRE/Mayfly (above 1: Mayfly is
# better). How each figure is taken: lib/server_bench_measure.sh.
#
#   cold   N agents started at once (tokens and one entry each made first):
#          time until every agent serves its workload's SVID; their RSS
#   reg    an entry created -> its workload gets the SVID from agent 0
#   cpu    server CPU-seconds per 1,000 SVIDs signed for the agents
#   rss    server RSS growth per 10,000 entries (a server of its own)
#
# Usage: run_server_bench.sh [--short]
#   --short: the CI run (tests/run_all.sh): 20 agents, 20 rounds, 500 SVIDs,
#   2,000 entries; full: 100 agents, 100 rounds, 2,000 SVIDs, 10,000 entries.
# Exit 1 if any Mayfly call fails; SPIRE's failures are reported.
# Needs root (workloads under their own uids). Env: MAYFLY_BENCH_SPIRE=0
# skips SPIRE.
set -euo pipefail
if [[ $# -gt 1 || ($# == 1 && $1 != --short) ]]; then
  echo "usage: run_server_bench.sh [--short]" >&2
  exit 2
fi
cd "$(dirname "$0")/../.."
procs_tag=server-bench
source tests/lib/procs.sh
source tests/lib/checks.sh # wait_for
source tests/bench/lib/server_bench_measure.sh
source tests/bench/lib/server_bench_mayfly.sh
source tests/bench/lib/server_bench_spire.sh

if ((EUID != 0)); then
  echo "server-bench: needs root (workloads run under uids of their own)" >&2
  exit 2
fi
if [[ ${1:-} == --short ]]; then
  mode=short agents=20 rounds=20 cpu_entries=500 rss_entries=2000
else
  mode=full agents=100 rounds=100 cpu_entries=2000 rss_entries=10000
fi
cpu_agents=10                 # agents the cpu entries are spread over
cache_size=$((cpu_entries + 100)) # SPIRE agents' SVID cache
# Bounds: a system slower than these has its stragglers counted as failed.
cold_timeout_s=120 reg_timeout_s=15 cpu_timeout_s=120
uid_cold=6100 uid_cpu=6200 uid_reg=6300
td=example.org
hz=$(getconf CLK_TCK)

echo "server-bench: $mode mode, load: $(uptime)" >&2
bazel build -c opt --noshow_progress //:mayfly //:mayfly-agent //:mayfly-server \
  2>&1 | grep -vE '^\(|^INFO|^Target|^  bazel' || true
# Resolved now: a later build in another configuration moves bazel-bin.
obin=$(bazel info -c opt bazel-bin 2>/dev/null)
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

run=$(mktemp -d /tmp/mayfly-server-bench.XXXXXX)
chmod 755 "$run"
bin=$run/bin
mkdir -p "$bin"
for program in mayfly identity/agent/mayfly-agent identity/server/mayfly-server; do
  install -m 755 "$obin/$program" "$bin/"
done
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  rm -rf "$run"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

spire_bin=""
if [[ ${MAYFLY_BENCH_SPIRE:-1} == 1 ]]; then
  if spire_agent=$(bash tests/interop/build_spire.sh \
    "${MAYFLY_CACHE:-$HOME/.cache/mayfly}/interop" | tail -1) && [[ -x $spire_agent ]]; then
    spire_bin=$(dirname "$spire_agent")
  else
    echo "server-bench: SPIRE did not build; Mayfly figures only" >&2
  fi
fi

declare -A fig
# measure SYS: all four figures of one system; a step that cannot run
# leaves its figures out (shown as -, and counted as a Mayfly failure).
measure() {
  sys=$1
  local started=$SECONDS
  declare -ga agent_id=() sock=() agent_pid=()
  echo "== $sys ($(uptime))" >&2
  if "${sys}_server_start" "$run/$sys" && measure_cold "$agents"; then
    measure_registration "$rounds" || true
    measure_cpu "$cpu_entries" "$cpu_agents" || true
  fi
  stop_all
  if "${sys}_server_start" "$run/$sys-rss"; then measure_rss "$rss_entries" || true; fi
  stop_all
  echo "$sys: $((SECONDS - started)) s" >&2
}

measure mayfly
if [[ -n $spire_bin ]]; then measure spire; fi

# --- the table ---------------------------------------------------------------
mayfly_failed_rows=()
row() { # NAME KEY UNIT BETTER(lower|higher)
  local m=${fig[mayfly.$2]:--} s=${fig[spire.$2]:--} ratio=n/a
  local base=${2%.p50}
  base=${base%.p99}
  base=${base%.max}
  local mf=${fig[mayfly.$base.failed]:--} sf=${fig[spire.$base.failed]:--}
  if [[ $m == - || ($mf != - && $mf != 0) ]]; then mayfly_failed_rows+=("$1"); fi
  if [[ -z $spire_bin ]]; then s=n/a sf=n/a; fi
  if [[ $m != - && $s != - && $s != n/a ]]; then
    ratio=$(python3 -c "m, s = $m, $s; r = (s / m if m else float('inf')) if '$4' == 'lower' else (m / s if s else float('inf')); print('%.2f' % r)")
  fi
  # A ratio over calls that failed is not a like-for-like comparison.
  if [[ ($mf != - && $mf != 0) || ($sf != - && $sf != 0 && $sf != n/a) ]]; then
    ratio="$ratio WITH FAILURES (mayfly $mf, spire $sf)"
  fi
  printf '%-46s %9s %6s %9s %6s %-3s  %s\n' "$1" "$m" "$mf" "$s" "$sf" "$3" "$ratio"
}
echo
echo "server bench, $mode mode; load at the end: $(uptime)"
printf '%-46s %9s %6s %9s %6s %-3s  %s\n' figure mayfly failed spire failed "" spire/mayfly
row "registration -> fetchable p50 ($rounds rounds)" reg.p50 ms lower
row "registration -> fetchable p99" reg.p99 ms lower
row "registration -> fetchable max" reg.max ms lower
row "cold start, $agents agents: all served" cold.max ms lower
row "cold start, $agents agents: p50 agent served" cold.p50 ms lower
row "RSS of $agents agents after cold start" agents_rss MB lower
row "server CPU-s per 1,000 SVIDs ($cpu_entries signed)" cpu s lower
row "server RSS with 1 entry" rss1 MB lower
row "server RSS per 10,000 entries ($rss_entries made)" rss MB lower
row "time to create $rss_entries entries (2 batches)" rss_load_s s lower
row "server CPU-s to create them (no agents)" rss_load_cpu s lower

if ((${#mayfly_failed_rows[@]} > 0)); then
  echo "server-bench: Mayfly calls failed in: ${mayfly_failed_rows[*]}" >&2
  exit 1
fi
