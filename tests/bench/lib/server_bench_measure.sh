# The four measurements of tests/bench/run_server_bench.sh, the same for
# both systems: each calls ${sys}_FUNCTION (server_bench_mayfly.sh,
# server_bench_spire.sh) and stores fig[SYS.KEY] and fig[SYS.KEY.failed].
#
# Workloads are `mayfly fetch x509` processes run as a uid of their own
# (setpriv); both agents serve the standard Workload API. A figure that
# waits for an SVID therefore includes one process start per poll (about
# 10 ms here) and up to one poll interval.

now_ms() { echo $(($(date +%s%N) / 1000000)); }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# fetch_as UID SOCKET: the SVIDs a workload running as UID gets, one
# `ID<TAB>expires ...` line each, in $out.
fetch_as() {
  out=$(setpriv --reuid "$1" --regid "$1" --clear-groups \
    "$bin/mayfly" fetch x509 --socket "$2" --timeout 2s 2>&1)
}
# has_svid UID SOCKET ID: whether that workload gets ID.
has_svid() { fetch_as "$1" "$2" && [[ $out == *"$3"$'\t'* ]]; }

# quantiles NAME VALUES...: fig[$sys.NAME.p50|p99|max] (nearest rank).
quantiles() {
  local name=$1 sorted n
  shift
  n=$#
  sorted=$(printf '%s\n' "$@" | sort -n)
  fig[$sys.$name.p50]=$(sed -n "$(((n + 1) / 2))p" <<<"$sorted")
  fig[$sys.$name.p99]=$(sed -n "$(((n * 99 + 99) / 100))p" <<<"$sorted")
  fig[$sys.$name.max]=$(tail -n 1 <<<"$sorted")
}

# 2. Cold start: N tokens and one entry per agent (all for uid_cold) made
# first, then all N agents started at once; time until every agent serves
# its entry's SVID. Agents are polled in turn, so each agent's time is
# rounded up to one sweep over those still pending.
measure_cold() {
  local n=$1 i t0 left deadline
  local -a done_ms=() pending=()
  "${sys}_tokens" "$n" || return
  for ((i = 0; i < n; i++)); do
    "${sys}_entry_create" "${agent_id[i]}" "spiffe://$td/cold/$i" "$uid_cold" ||
      return
  done
  t0=$(now_ms)
  for ((i = 0; i < n; i++)); do "${sys}_agent_spawn" "$i"; done
  mapfile -t pending < <(seq 0 $((n - 1)))
  deadline=$((SECONDS + cold_timeout_s))
  while ((${#pending[@]} > 0 && SECONDS < deadline)); do
    left=()
    for i in "${pending[@]}"; do
      if has_svid "$uid_cold" "${sock[i]}" "spiffe://$td/cold/$i"; then
        done_ms+=($(($(now_ms) - t0)))
      else
        left+=("$i")
      fi
    done
    pending=("${left[@]}")
    ((${#pending[@]} == 0)) || sleep 0.1
  done
  fig[$sys.cold.failed]=${#pending[@]}
  if ((${#done_ms[@]} > 0)); then quantiles cold "${done_ms[@]}"; fi
  local rss=0
  for ((i = 0; i < n; i++)); do
    rss=$((rss + $(rss_kb "${agent_pid[i]}" 2>/dev/null || echo 0)))
  done
  fig[$sys.agents_rss]=$((rss / 1024))
  fig[$sys.agents_rss.failed]=${#pending[@]}
  echo "$sys cold: $n agents, all served in ${fig[$sys.cold.max]:-?} ms," \
    "${#pending[@]} never, agents' RSS ${fig[$sys.agents_rss]} MB" >&2
}

# 1. Registration -> fetchable on agent 0: R rounds, each a new entry for
# a new uid, timed from before the create command to the first fetch that
# returns it (polled every 20 ms, at most reg_timeout_s).
measure_registration() {
  local rounds=$1 r uid id t0 deadline failed=0
  local -a lat=()
  for ((r = 0; r < rounds; r++)); do
    uid=$((uid_reg + r))
    id=spiffe://$td/reg/$r
    t0=$(now_ms)
    if ! "${sys}_entry_create" "${agent_id[0]}" "$id" "$uid"; then
      failed=$((failed + 1))
      continue
    fi
    deadline=$((SECONDS + reg_timeout_s))
    until has_svid "$uid" "${sock[0]}" "$id"; do
      ((SECONDS < deadline)) || break
      sleep 0.02
    done
    if [[ $out == *"$id"$'\t'* ]]; then
      lat+=($(($(now_ms) - t0)))
    else
      failed=$((failed + 1))
    fi
  done
  if ((${#lat[@]} > 0)); then quantiles reg "${lat[@]}"; fi
  fig[$sys.reg.failed]=$failed
  echo "$sys registration -> fetchable: $rounds rounds, p50" \
    "${fig[$sys.reg.p50]:-?} p99 ${fig[$sys.reg.p99]:-?} ms, $failed failed" >&2
}

# 3. Server CPU per 1,000 SVIDs: E entries, E/K for each of agents 0..K-1,
# all for uid_cpu, loaded in one batch per agent. The server's utime+stime
# from before the loads until every workload gets all its SVIDs. SVIDs
# signed = SVIDs the workloads got (each entry's, once: the TTL of 5 min
# outlives the run, so no renewal is signed meanwhile); registration's own
# CPU is included, for both alike.
measure_cpu() {
  local entries=$1 k=$2 per i cpu0 cpu1 got=0 deadline
  per=$((entries / k))
  cpu0=$(cpu_ticks "$srv_pid")
  for ((i = 0; i < k; i++)); do
    "${sys}_entries_load" "${agent_id[i]}" "spiffe://$td/cpu/a$i" "$per" \
      "$uid_cpu" || return
  done
  deadline=$((SECONDS + cpu_timeout_s))
  local -a count=()
  for ((i = 0; i < k; i++)); do
    count[i]=0
    while ((SECONDS < deadline)); do
      fetch_as "$uid_cpu" "${sock[i]}" || true
      count[i]=$(grep -c "^spiffe://$td/cpu/a$i/" <<<"$out" || true)
      ((count[i] >= per)) && break
      sleep 0.1
    done
    got=$((got + count[i]))
  done
  cpu1=$(cpu_ticks "$srv_pid")
  fig[$sys.cpu]=$(python3 -c "print('%.2f' % (($cpu1 - $cpu0) / $hz / max($got, 1) * 1000))")
  fig[$sys.cpu.failed]=$((entries - got))
  echo "$sys cpu: $got of $((per * k)) SVIDs served, server CPU" \
    "$(((cpu1 - cpu0) * 1000 / hz)) ms" >&2
}

# 4. Server RSS per 10,000 entries, on a server of its own (no agents): RSS
# with 1 entry, then after M more in two batches, 5 s later (SPIRE rebuilds
# its entry cache every 5 s).
measure_rss() {
  local m=$1 rss0 rss1 t0 cpu0
  "${sys}_entry_create" "spiffe://$td/rss/p1" "spiffe://$td/rss/one" "$uid_cpu" ||
    return
  sleep 2
  rss0=$(rss_kb "$srv_pid")
  t0=$(now_ms)
  cpu0=$(cpu_ticks "$srv_pid")
  # Two parents of M/2: mayfly-server holds fewer than 10,000 per parent.
  if "${sys}_entries_load" "spiffe://$td/rss/p2" "spiffe://$td/rss/e2" \
    $((m / 2)) "$uid_cpu" &&
    "${sys}_entries_load" "spiffe://$td/rss/p3" "spiffe://$td/rss/e3" \
      $((m / 2)) "$uid_cpu"; then
    fig[$sys.rss_load_s]=$(python3 -c "print('%.1f' % (($(now_ms) - $t0) / 1000))")
    fig[$sys.rss_load_cpu]=$(python3 -c "print('%.1f' % (($(cpu_ticks "$srv_pid") - $cpu0) / $hz))")
    fig[$sys.rss_load_s.failed]=0
    fig[$sys.rss_load_cpu.failed]=0
    sleep 5
    rss1=$(rss_kb "$srv_pid")
    fig[$sys.rss1]=$((rss0 / 1024))
    fig[$sys.rss]=$(((rss1 - rss0) * 10000 / m / 1024))
    fig[$sys.rss1.failed]=0
    fig[$sys.rss.failed]=0
  else
    fig[$sys.rss.failed]=$m
    fig[$sys.rss_load_s.failed]=$m
    fig[$sys.rss_load_cpu.failed]=$m
  fi
  echo "$sys rss: ${rss0:-?} kB with 1 entry, ${rss1:-?} kB with 1+$m" >&2
}
