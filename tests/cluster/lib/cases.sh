# The cases of tests/cluster/run, one function each (case_NAME). A case
# returns 0 and leaves $why empty when it passes; otherwise it sets $why to
# one line saying what was wrong. Workloads run under uids of their own
# (setpriv), each case with its own, so selectors never overlap.

fail() {
  why=$1
  return 1
}

ttl_ms() { echo $((${svid_ttl%s} * 1000)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# fetch_as UID NODE ID: one `mayfly fetch x509` on NODE's agent (NODE a
# number, or a socket path) as UID, which must list ID; stdout+stderr in
# $out.
fetch_as() {
  local uid=$1 node=$2 id=$3 socket=$run/node$2/api.sock
  [[ $node == /* ]] && socket=$node
  out=$(setpriv --reuid "$uid" --regid "$uid" --clear-groups \
    "$bin/mayfly" fetch x509 --socket "$socket" \
    --timeout 2s 2>&1) && [[ $out == *"$id"* ]]
}

# await_fetch SECONDS UID NODE ID: until fetch_as succeeds, bounded.
await_fetch() {
  local deadline=$((SECONDS + $1))
  until fetch_as "$2" "$3" "$4"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# fetch_loop_spawn UID NODE NAME SECONDS: a workload as UID on NODE fetching
# spiffe://TD/nodeNODE/NAME every 100 ms for SECONDS (fetch_loop.cc); its
# log in $run/NAME.log, its pid in $spawned_pid.
fetch_loop_spawn() {
  spawn "$3" "$run/$3.log" setpriv --reuid "$1" --regid "$1" \
    --clear-groups "$bin/fetch_loop" "$run/node$2/api.sock" \
    "spiffe://$td/node$2/$3" 100 "$4"
}

# entry NODE UID NAME [SERVER]: an entry spiffe://TD/nodeNODE/NAME for UID,
# parented to NODE's agent, created through SERVER (a); its ID in $entry.
entry() {
  local node=$1 uid=$2 name=$3 server=${4:-a} created
  created=$(admin "$server" entry create \
    --spiffe-id "spiffe://$td/node$node/$name" --parent "$(agent_id "$node")" \
    --selector "unix:uid:$uid" --ttl "$svid_ttl" 2>&1) || {
    echo "cluster: entry create: $created" >&2
    return 1
  }
  entry=$(awk '$1 == "id:" { print $2; exit }' <<<"$created")
}

# 1. Every agent attested and the server lists it.
case_agents_attested() {
  local listed n
  listed=$(admin b agent list 2>&1) || fail "agent list: $listed" || return
  for n in 1 2 3; do
    [[ $listed == *"spiffe_id: $(agent_id "$n")"* ]] ||
      fail "node $n's agent ($(agent_id "$n")) not listed: ${listed//$'\n'/; }" ||
      return
  done
}

# 2. An entry created through replica a is fetchable on node 2, whose
# agent syncs from replica b, within 1 s at p99. Each round times create ->
# first successful fetch by the workload (polled every 50 ms, so the
# figures include up to one poll interval and one process start).
case_push_latency() {
  local rounds=${CLUSTER_PUSH_ROUNDS:-20} i t0 id
  local -a lat=()
  for ((i = 0; i < rounds; i++)); do
    id=spiffe://$td/node2/push$i
    t0=$(now_ms)
    entry 2 4400 "push$i" a || fail "round $i: entry create failed" || return
    await_fetch 5 4400 2 "$id" ||
      fail "round $i: $id not fetchable on node 2 within 5 s: $out" || return
    lat+=($(($(now_ms) - t0)))
    admin a entry delete "$entry" >/dev/null ||
      fail "round $i: delete failed" || return
  done
  local sorted p50 p99
  sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
  p50=$(sed -n "$(((rounds + 1) / 2))p" <<<"$sorted")
  p99=$(sed -n "$(((rounds * 99 + 99) / 100))p" <<<"$sorted")
  echo "cluster: create on a -> fetch on node 2 (via b): $rounds rounds," \
    "p50 ${p50} ms, p99 ${p99} ms, max $(tail -n 1 <<<"$sorted") ms" >&2
  ((p99 < 1000)) || fail "p99 ${p99} ms, goal < 1000 ms" || return
}

# 3. An entry of node 1 is served on node 1 and refused on node 2 to the
# same uid: its SVID cannot be had from another node's agent.
case_cross_node() {
  local id=spiffe://$td/node1/only
  entry 1 4501 only || fail "entry create failed" || return
  await_fetch 5 4501 1 "$id" || fail "not fetchable on node 1: $out" || return
  if fetch_as 4501 2 "$id"; then
    fail "node 2 served node 1's $id: $out"
    return 1
  fi
  [[ $out == *PERMISSION_DENIED* || $out == *PermissionDenied* ]] ||
    fail "node 2 refused, but not with PermissionDenied: $out" || return
}

# attest_refused TOKEN NAME: an agent in node 3's namespace on a fresh
# state dir attesting with TOKEN; waits (10 s) until its log shows the
# server's refusal. The refusal line in $out.
attest_refused() {
  local token=$1 name=$2 dir=$run/$2 pid deadline=$((SECONDS + 10))
  mkdir -p "$dir"
  cp "$run/node1/server-bundle.pem" "$dir/"
  sed -e "s|$run/node1/|$dir/|" -e "s|join_token: .*|join_token: $token|" \
    "$run/node1/agent.yaml" >"$dir/agent.yaml"
  spawn "agent-$name" "$dir/agent.log" ip netns exec "${net_tag}n3" \
    "$bin/mayfly-agent" --config "$dir/agent.yaml"
  pid=$spawned_pid
  until out=$(grep -m1 '"attestation_refused"' "$dir/agent.log"); do
    if ((SECONDS >= deadline)); then
      stop_group "$pid"
      out=$(tail -n 5 "$dir/agent.log")
      return 1
    fi
    sleep 0.1
  done
  stop_group "$pid"
}

# 4. A join token works once: node 1's token again is refused, and so is a
# token past its TTL; neither makes a new agent.
case_token_reuse() {
  local before after expired
  before=$(admin a agent list | grep -c '^spiffe_id: ')
  attest_refused "$(cat "$run/node1/token")" reuse ||
    fail "a used token was not refused: $out" || return
  echo "cluster: used token: $out" >&2
  expired=$(admin a token create --ttl 1s | awk '$1 == "token:" { print $2 }')
  [[ -n $expired ]] || fail "token create --ttl 1s failed" || return
  sleep 2
  attest_refused "$expired" expired ||
    fail "an expired token was not refused: $out" || return
  echo "cluster: expired token: $out" >&2
  after=$(admin a agent list | grep -c '^spiffe_id: ')
  ((after == before)) || fail "agents: $before before, $after after" || return
}

# 5. With both servers down, a restarted agent serves from its disk cache;
# once they are back it syncs again (a new entry reaches it).
case_restart_cached() {
  local id=spiffe://$td/node1/cached
  entry 1 4601 cached || fail "entry create failed" || return
  await_fetch 5 4601 1 "$id" || fail "not fetchable: $out" || return
  server_stop a
  server_stop b
  agent_stop 1
  agent_restart 1 || fail "the agent did not restart with the servers down" ||
    return
  await_fetch 5 4601 1 "$id" ||
    fail "the restarted agent did not serve from its cache: $out" || return
  server_start a || fail "server a did not come back" || return
  server_start b || fail "server b did not come back" || return
  entry 1 4602 after || fail "entry create after restart failed" || return
  await_fetch 15 4602 1 "spiffe://$td/node1/after" ||
    fail "node 1 did not sync again after the servers came back: $out" ||
    return
}

# 6. Mid-traffic faults, 0 failed fetches: kill -9 the etcd leader, then
# kill -9 replica a (nodes 1 and 3 sync from it) and bring it back; an entry
# created through b meanwhile still reaches node 1.
case_faults() {
  local seconds=30 l1 l2 id=spiffe://$td/node1/during
  entry 1 4701 faults1 || fail "entry create failed" || return
  entry 2 4702 faults2 || fail "entry create failed" || return
  await_fetch 5 4701 1 "spiffe://$td/node1/faults1" || fail "node 1: $out" || return
  await_fetch 5 4702 2 "spiffe://$td/node2/faults2" || fail "node 2: $out" || return
  fetch_loop_spawn 4701 1 faults1 "$seconds"
  l1=$spawned_pid
  fetch_loop_spawn 4702 2 faults2 "$seconds"
  l2=$spawned_pid
  sleep 3
  etcd_kill_leader || fail "could not kill the etcd leader" || return
  echo "cluster: killed the etcd leader" >&2
  local t0 deadline=$((SECONDS + 15))
  t0=$(now_ms)
  until entry 1 4703 during b 2>/dev/null; do
    ((SECONDS < deadline)) || fail "no write through b after the leader died" ||
      return
    sleep 0.2
  done
  echo "cluster: writes again $(($(now_ms) - t0)) ms after the leader died" >&2
  server_stop a KILL
  echo "cluster: killed replica a" >&2
  await_fetch 10 4703 1 "$id" ||
    fail "an entry made through b during the faults never reached node 1: $out" ||
    return
  sleep 3
  server_start a || fail "replica a did not come back" || return
  while group_alive "$l1" || group_alive "$l2"; do sleep 0.5; done
  wait "$l1" "$l2" 2>/dev/null || true
  echo "cluster: node 1 $(tail -n 1 "$run/faults1.log"); node 2" \
    "$(tail -n 1 "$run/faults2.log")" >&2
  grep -q ' failed=0$' "$run/faults1.log" ||
    fail "node 1's workload: $(tr '\n' ';' <"$run/faults1.log")" || return
  grep -q ' failed=0$' "$run/faults2.log" ||
    fail "node 2's workload: $(tr '\n' ';' <"$run/faults2.log")" || return
}

# 7. A cut between node 2 and the servers longer than the TTL: its SVIDs
# stay served until they expire (never after), the agent's log says why,
# and once the link is back the workload gets a new SVID.
case_net_cut() {
  local id=spiffe://$td/node2/cut limit
  entry 2 4801 cut || fail "entry create failed" || return
  await_fetch 5 4801 2 "$id" || fail "not fetchable: $out" || return
  net_cut 2
  out=$(setpriv --reuid 4801 --regid 4801 --clear-groups "$bin/fetch_loop" \
    "$run/node2/api.sock" "$id" 100 $((${svid_ttl%s} + 20)) --until-denied)
  local rc=$?
  net_join 2
  ((rc == 0)) || fail "still served $((${svid_ttl%s} + 20)) s into the cut: $out" ||
    return
  local after=${out#denied after_ms=}
  after=${after%%:*}
  limit=$(($(ttl_ms) + 2000))
  echo "cluster: cut node 2: its SVID stopped after $after ms (TTL $svid_ttl): ${out#*: }" >&2
  ((after <= limit)) || fail "served ${after} ms into the cut, TTL $svid_ttl" ||
    return
  grep -qiE 'unreachable|unavailable' "$run/node2/agent.log" ||
    fail "the agent's log does not say the server is unreachable" || return
  await_fetch 30 4801 2 "$id" ||
    fail "no SVID 30 s after the link came back: $out" || return
}

# 8. An evicted agent's workloads lose their SVIDs within one TTL.
case_evict() {
  local id=spiffe://$td/node3/evicted out_evict
  entry 3 4901 evicted || fail "entry create failed" || return
  await_fetch 5 4901 3 "$id" || fail "not fetchable: $out" || return
  out_evict=$(admin a agent evict "$(agent_id 3)" 2>&1) ||
    fail "evict: $out_evict" || return
  out=$(setpriv --reuid 4901 --regid 4901 --clear-groups "$bin/fetch_loop" \
    "$run/node3/api.sock" "$id" 100 $((${svid_ttl%s} + 20)) --until-denied) ||
    fail "still served $((${svid_ttl%s} + 20)) s after eviction: $out" || return
  local after=${out#denied after_ms=}
  after=${after%%:*}
  echo "cluster: evicted node 3: its SVID stopped after $after ms (TTL $svid_ttl)" >&2
  ((after <= $(ttl_ms) + 2000)) ||
    fail "served ${after} ms after eviction, TTL $svid_ttl" || return
}

# 9. x509pop: an agent with a node certificate (CN kafka-1) attests with no
# token, joins the kafka alias, and serves an entry parented to the alias;
# node 1 (not in the alias) does not.
case_x509pop_alias() {
  local dir=$run/pop id=spiffe://$td/kafka/broker pid agent listed
  mkdir -p "$dir"
  agent=spiffe://$td/mayfly/agent/x509pop/$(openssl x509 \
    -in "$run/node-pki/node.pem" -outform DER | sha1sum | cut -d' ' -f1)
  cat >"$dir/agent.yaml" <<YAML
trust_domain: $td
socket_path: $dir/api.sock
state_dir: $dir/state
server:
  address: [$b_addr, $a_addr]
  bundle: $run/admin-ca/bundle.pem
  x509pop: {cert: $run/node-pki/node.pem, key: $run/node-pki/node_key.pem}
YAML
  admin a entry create --spiffe-id "$id" \
    --parent "spiffe://$td/mayfly/alias/kafka" --selector unix:uid:5001 \
    --ttl "$svid_ttl" >/dev/null || fail "entry create failed" || return
  spawn agent-pop "$dir/agent.log" ip netns exec "${net_tag}n3" \
    "$bin/mayfly-agent" --config "$dir/agent.yaml"
  pid=$spawned_pid
  local deadline=$((SECONDS + 15))
  until listed=$(admin a agent list 2>/dev/null) &&
    [[ $listed == *"spiffe_id: $agent"*"aliases: spiffe://$td/mayfly/alias/kafka"* ]]; do
    ((SECONDS < deadline)) ||
      fail "$agent not listed with the kafka alias: $(tail -n 3 "$dir/agent.log")" ||
      return
    sleep 0.1
  done
  local ok=0
  await_fetch 10 5001 "$dir/api.sock" "$id" && ok=1
  stop_group "$pid"
  ((ok)) || fail "the x509pop agent did not serve the alias's entry: $out" ||
    return
  if fetch_as 5001 1 "$id"; then
    fail "node 1, outside the alias, served $id"
    return 1
  fi
}

