# The root_rotation case of tests/cluster/run (the conventions of
# lib/cases.sh): a fleet-wide root rotation with admin-signed
# intermediates under live workloads (docs/server-admin.md).

# chains_to FILE ROOT: FILE's chain (leaf first) verifies to ROOT (a PEM
# file) alone.
chains_to() {
  openssl verify -CAfile "$2" -untrusted "$1" "$1" >/dev/null 2>&1
}

# svid_files UID NODE DIR: the workload's SVID and bundle written to DIR.
svid_files() {
  mkdir -p "$3" && chown "$1" "$3"
  setpriv --reuid "$1" --regid "$1" --clear-groups "$bin/mayfly" fetch x509 \
    --socket "$run/node$2/api.sock" --timeout 2s --write "$3" >/dev/null 2>&1
}

# await_switch SECONDS: until both replicas logged root_rotation_switched,
# HUPping them each second so they run their maintenance now.
await_switch() {
  local deadline=$((SECONDS + $1)) name
  for name in a b; do
    until grep -q '"root_rotation_switched"' "$run/server-$name/server.log"; do
      ((SECONDS < deadline)) || return 1
      server_hup a
      server_hup b
      sleep 1
    done
  done
}

# rotation_switch: steps 1-3 of the runbook (docs/server-admin.md): the
# admin prepares the next root, which joins the admin's bundle.pem that
# both replicas read (they publish it into the store, and Sync pushes it);
# each replica gets a new key and an intermediate under the next root (key
# first, then the certificate: a replica refuses a mismatched pair), and
# switches once the root has been in the store for the lead and every
# stream on it has been sent it (within 30 s). The next root is copied to
# $run/next_root.pem. Sets $why on failure.
rotation_switch() {
  local ca=$run/admin-ca name dir
  "$bin/mayfly" ca rotate --dir "$ca" >>"$run/fleet.log" 2>&1 ||
    fail "ca rotate failed" || return
  cp "$ca/next_root_cert.pem" "$run/next_root.pem"
  for name in a b; do
    dir=$run/server-$name
    rm -f "$dir/next_key.pem"
    "$bin/mayfly" ca csr --trust-domain "$td" --key-out "$dir/next_key.pem" \
      --out "$dir/next.csr" >>"$run/fleet.log" 2>&1 &&
      "$bin/mayfly" ca sign --next --dir "$ca" --csr "$dir/next.csr" \
        --out "$dir/next.pem" --ttl 24h >>"$run/fleet.log" 2>&1 ||
      fail "signing replica $name's next intermediate failed" || return
    mv "$dir/next_key.pem" "$dir/intermediate_key.pem"
    mv "$dir/next.pem" "$dir/intermediate.pem"
  done
  await_switch 30 || fail "the replicas did not switch within 30 s" || return
}

# rotation_retire: step 5: the admin retires the old root at once (the
# caller has seen every SVID it signed renewed), hands the replicas the
# bundle without it, and prunes it from the store. Sets $why on failure.
rotation_retire() {
  local ca=$run/admin-ca
  "$bin/mayfly" ca promote --dir "$ca" --drop-after 0s >>"$run/fleet.log" 2>&1 &&
    "$bin/mayfly" ca drop --dir "$ca" >>"$run/fleet.log" 2>&1 ||
    fail "ca promote/drop failed" || return
  server_hup a
  server_hup b
  sleep 1
  out=$(admin a bundle prune --keep "$ca/bundle.pem" 2>&1) ||
    fail "bundle prune: $out" || return
  [[ $out == *"removed: 1"*"roots: 1"* ]] || fail "bundle prune: $out" || return
}

# 10. A fleet-wide root rotation with admin-signed intermediates while
# workloads on nodes 2 and 3 fetch every 100 ms: the admin prepares the
# next root, each replica gets an intermediate under it and switches after
# root_rotation_lead, the admin retires and prunes the old root; then an
# agent restarted after the rotation (its config still names only the old
# root) and a replica killed: 0 failed fetches throughout.
case_root_rotation() {
  local seconds=50 l1 l2 n t0
  entry 1 5101 rot1 || fail "entry create failed" || return
  entry 2 5102 rot2 || fail "entry create failed" || return
  entry 3 5103 rot3 || fail "entry create failed" || return
  await_fetch 5 5101 1 "spiffe://$td/node1/rot1" || fail "node 1: $out" || return
  await_fetch 5 5102 2 "spiffe://$td/node2/rot2" || fail "node 2: $out" || return
  await_fetch 5 5103 3 "spiffe://$td/node3/rot3" || fail "node 3: $out" || return
  # Nodes 2 (on b) and 3 (on a, then b once a is killed); node 1 is the
  # one restarted, which its own workload would see as an outage.
  fetch_loop_spawn 5103 3 rot3 "$seconds"
  l1=$spawned_pid
  fetch_loop_spawn 5102 2 rot2 "$seconds"
  l2=$spawned_pid
  t0=$(now_ms)

  rotation_switch || return
  echo "cluster: both replicas switched $(($(now_ms) - t0)) ms after ca rotate" >&2
  # 4. Workloads' SVIDs renew under the new root (at half their TTL).
  local deadline=$((SECONDS + ${svid_ttl%s} + 5))
  for n in 1 2 3; do
    until svid_files "510$n" "$n" "$run/rot-svid$n" &&
      chains_to "$run/rot-svid$n/svid.pem" "$run/next_root.pem"; do
      ((SECONDS < deadline)) ||
        fail "node $n's workload SVID does not chain to the new root" || return
      sleep 0.5
    done
  done
  # Agents renew their agent SVIDs once the server signs under a new root.
  for n in 1 2 3; do
    deadline=$((SECONDS + 10))
    until grep -q '"agent_svid_renewed"' "$run/node$n/agent.log"; do
      ((SECONDS < deadline)) ||
        fail "node $n's agent SVID was not renewed under the new root" ||
        return
      sleep 0.2
    done
  done
  # 5. The admin retires the old root (at once here: every SVID the old
  # root signed was renewed above).
  rotation_retire || return
  deadline=$((SECONDS + 10))
  until svid_files 5101 1 "$run/rot-svid1" &&
    [[ $(grep -c 'BEGIN CERTIFICATE' "$run/rot-svid1/svid_bundle.pem") == 1 ]] &&
    cmp -s <(openssl x509 -in "$run/rot-svid1/svid_bundle.pem" -outform DER) \
      <(openssl x509 -in "$run/next_root.pem" -outform DER); do
    ((SECONDS < deadline)) ||
      fail "the old root is still in node 1's bundle" || return
    sleep 0.2
  done
  echo "cluster: old root pruned $(($(now_ms) - t0)) ms after ca rotate" >&2
  # 6. Node 1's agent restarted: its config names only the old root.
  agent_stop 1
  agent_restart 1 || fail "node 1's agent did not restart" || return
  entry 1 5104 rot-after || fail "entry create failed" || return
  await_fetch 15 5104 1 "spiffe://$td/node1/rot-after" ||
    fail "the restarted agent did not sync from the rotated servers: $out" ||
    return
  # 7. Replica a killed: nodes 1 and 3 fail over to b.
  server_stop a KILL
  entry 3 5105 rot-failover b || fail "entry create through b failed" || return
  await_fetch 15 5105 3 "spiffe://$td/node3/rot-failover" ||
    fail "node 3 did not fail over to b after the rotation: $out" || return
  server_start a || fail "replica a did not come back" || return
  while group_alive "$l1" || group_alive "$l2"; do sleep 0.5; done
  wait "$l1" "$l2" 2>/dev/null || true
  echo "cluster: node 2 $(tail -n 1 "$run/rot2.log"); node 3" \
    "$(tail -n 1 "$run/rot3.log")" >&2
  grep -q ' failed=0$' "$run/rot3.log" ||
    fail "node 3's workload: $(tr '\n' ';' <"$run/rot3.log")" || return
  grep -q ' failed=0$' "$run/rot2.log" ||
    fail "node 2's workload: $(tr '\n' ';' <"$run/rot2.log")" || return
}
