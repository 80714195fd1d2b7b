# A 3-member etcd cluster (Debian's /usr/bin/etcd) on loopback, for shell
# tests. Source it, then:
#
#   trap etcd_stop_cluster EXIT
#   etcd_start_cluster "$TEST_TMPDIR/etcd"   # sets ETCD_ENDPOINTS
#   etcd_kill_leader                         # SIGKILLs the leader
#
# ETCD_ENDPOINTS is "127.0.0.1:PORT,..." (client ports). Each member runs in
# its own process group, so etcd_stop_cluster leaves nothing behind; it is
# safe to call twice and from a trap. Every wait is bounded. Ports are
# picked at random below the kernel's ephemeral range, skipping those in
# use; if a member still fails to start (a port taken meanwhile), the whole
# cluster is started again on other ports, up to three times.
# (identity/server/etcd/testing/etcd_cluster.h is the C++ twin.)

ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCD_ENDPOINTS=
ETCD_PIDS=()
ETCD_CLIENT_PORTS=()

# _etcd_free_ports N: N distinct ports nobody listens on.
_etcd_free_ports() {
  local n=$1 port used
  used=" $(ss -Hltn | awk '{ sub(/.*:/, "", $4); print $4 }' | tr '\n' ' ') "
  local -a out=()
  while ((${#out[@]} < n)); do
    port=$((20000 + RANDOM % 12000))
    [[ $used == *" $port "* || " ${out[*]} " == *" $port "* ]] && continue
    out+=("$port")
  done
  echo "${out[*]}"
}

# _etcd_spawn LOG ARGS...: etcd in the background, in a process group of
# its own whose id is $!. With job control on (an interactive shell) the
# job gets one anyway, and setsid would fork and leave $! a stray pid.
_etcd_spawn() {
  local log=$1
  shift
  if [[ $- == *m* ]]; then
    "$ETCD_BIN" "$@" </dev/null >"$log" 2>&1 &
  else
    setsid "$ETCD_BIN" "$@" </dev/null >"$log" 2>&1 &
  fi
}

# _etcd_try_start DIR: one attempt; returns 1 if the cluster is not healthy
# within 30 s (the members are killed then).
_etcd_try_start() {
  local dir=$1 i cluster="" token="mayfly-$$-$RANDOM"
  local -a ports peer
  read -r -a ports <<<"$(_etcd_free_ports 6)"
  for i in 0 1 2; do
    ETCD_CLIENT_PORTS[i]=${ports[i]}
    peer[i]=${ports[i + 3]}
    cluster+="${cluster:+,}m$i=http://127.0.0.1:${peer[i]}"
  done
  ETCD_PIDS=()
  for i in 0 1 2; do
    rm -rf "$dir/m$i"
    _etcd_spawn "$dir/m$i.log" --name "m$i" --data-dir "$dir/m$i" \
      --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[i]}" \
      --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[i]}" \
      --listen-peer-urls "http://127.0.0.1:${peer[i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${peer[i]}" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token "$token" \
      --logger zap --log-outputs stderr --log-level warn
    ETCD_PIDS[i]=$!
  done
  local deadline=$((SECONDS + 30))
  for i in 0 1 2; do
    until curl -sf --max-time 2 \
      "http://127.0.0.1:${ETCD_CLIENT_PORTS[i]}/health" | grep -q '"true"'; do
      if ((SECONDS >= deadline)) || ! kill -0 "${ETCD_PIDS[i]}" 2>/dev/null; then
        echo "etcd: member m$i not healthy (log: $dir/m$i.log)" >&2
        etcd_stop_cluster
        return 1
      fi
      sleep 0.1
    done
  done
}

# etcd_start_cluster DIR: starts the cluster with its data and logs in DIR.
etcd_start_cluster() {
  local dir=$1 attempt
  mkdir -p "$dir"
  for attempt in 1 2 3; do
    if _etcd_try_start "$dir"; then
      ETCD_ENDPOINTS=$(printf '127.0.0.1:%s,' "${ETCD_CLIENT_PORTS[@]}")
      ETCD_ENDPOINTS=${ETCD_ENDPOINTS%,}
      return 0
    fi
  done
  echo "etcd: no healthy cluster after 3 attempts" >&2
  return 1
}

# etcd_stop_cluster: SIGKILLs every member's process group and reaps it.
etcd_stop_cluster() {
  local pid
  for pid in "${ETCD_PIDS[@]}"; do
    [[ -n $pid ]] || continue
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  ETCD_PIDS=()
}

# etcd_leader: prints the index (0-2) of the member the others follow, or
# fails after 10 s without one.
etcd_leader() {
  local deadline=$((SECONDS + 10)) i status id leader
  while ((SECONDS < deadline)); do
    for i in "${!ETCD_PIDS[@]}"; do
      [[ -n ${ETCD_PIDS[i]} ]] || continue
      status=$(curl -sf --max-time 2 -X POST -d '{}' \
        "http://127.0.0.1:${ETCD_CLIENT_PORTS[i]}/v3/maintenance/status") ||
        continue
      id=$(grep -o '"member_id":"[0-9]*"' <<<"$status" | tr -dc 0-9)
      leader=$(grep -o '"leader":"[0-9]*"' <<<"$status" | tr -dc 0-9)
      if [[ -n $id && $id == "$leader" ]]; then
        echo "$i"
        return 0
      fi
    done
    sleep 0.1
  done
  echo "etcd: no leader within 10 s" >&2
  return 1
}

# etcd_kill_leader: SIGKILLs the leader; sets ETCD_KILLED to its index.
etcd_kill_leader() {
  local i
  i=$(etcd_leader) || return 1
  kill -KILL -- "-${ETCD_PIDS[i]}" 2>/dev/null || true
  wait "${ETCD_PIDS[i]}" 2>/dev/null || true
  ETCD_PIDS[i]=
  ETCD_KILLED=$i
  echo "etcd: killed leader m$i" >&2
}
