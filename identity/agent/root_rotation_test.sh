#!/usr/bin/env bash
# A root rotation end to end with short lifetimes (SVIDs 10 s, intermediates
# 40 s), while a relying party keeps its bundle file current with
# `mayfly watch` and a client under another uid fetches SVIDs in a loop.
# Every client SVID, new or held from before, must verify against the
# relying party's bundle at every moment: the new root signs only after the
# relying party has it, and the old root leaves only after what it signed
# has expired.
set -euo pipefail
source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/agent_env.sh"
agent_env rotation-test identity/agent/mayfly-agent mayfly
sock="$work/run/api.sock"
state="$work/state"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/agent.yaml" <<YAML
trust_domain: example.org
socket_path: $sock
state_dir: $state
default_ttl: 10s
intermediate_ttl: 40s
root_rotation_lead: 2s
entries:
  - spiffe_id: spiffe://example.org/relying-party
    selectors: ["unix:uid:0"]
  - spiffe_id: spiffe://example.org/client
    selectors: ["unix:uid:65534"]
YAML
"$bin/mayfly-agent" --config "$work/agent.yaml" 2>"$work/agent.log" &
pids+=($!)
expect 0 "agent up" -- wait_for 10 "$bin/mayfly" healthcheck --socket "$sock" \
  --timeout 1s

# The relying party: its bundle file is what it trusts.
"$bin/mayfly" watch x509 --socket "$sock" --write "$work/rp" \
  >"$work/rp.log" 2>&1 &
pids+=($!)
expect 0 "relying party has a bundle" -- wait_for 10 test -s \
  "$work/rp/svid_bundle.pem"
old_root=$(openssl x509 -in "$work/rp/svid_bundle.pem" -noout -fingerprint -sha256)

# The client: fetch, then verify against the relying party's bundle the new
# SVID and the last one the old root signed (kept until it expires: the
# old root must stay trusted that long). Bounded: 120 s.
cp "$work/rp/svid_bundle.pem" "$work/old_bundle.pem"
mkdir -m 777 "$work/client"
prober() {
  local end=$((SECONDS + 120)) n=0
  while ((SECONDS < end)) && [[ ! -e $work/stop ]]; do
    n=$((n + 1))
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups -- \
      "$bin/mayfly" fetch x509 --socket "$sock" --write "$work/client/new" \
      >/dev/null 2>"$work/client/fetch.err"; then
      echo "round $n: fetch failed: $(cat "$work/client/fetch.err")" >>"$work/failures"
      continue
    fi
    cp "$work/rp/svid_bundle.pem" "$work/client/trusted.pem"
    if "$bin/mayfly" svid verify --bundle "$work/old_bundle.pem" \
      --svid "$work/client/new/svid.pem" >/dev/null 2>&1; then
      rm -rf "$work/client/held"
      cp -r "$work/client/new" "$work/client/held"
      echo ok >>"$work/old_signed"
    fi
    for svid in new held; do
      [[ -e $work/client/$svid/svid.pem ]] || continue
      local out rc=0
      out=$("$bin/mayfly" svid verify --bundle "$work/client/trusted.pem" \
        --svid "$work/client/$svid/svid.pem" 2>&1) || rc=$?
      if ((rc != 0)) && [[ $svid == held && $out == *"expired"* ]]; then
        continue  # a held SVID past its NotAfter is the client's problem
      fi
      if ((rc != 0)); then
        echo "round $n: $svid SVID does not verify: $out" >>"$work/failures"
      fi
      echo ok >>"$work/verified"
    done
    sleep 0.2
  done
}
prober &
prober_pid=$!
pids+=($prober_pid)

expect 0 "mayfly ca rotate --wait" -- "$bin/mayfly" ca rotate \
  --dir "$state/ca" --wait 80s
contains "$out" "root rotation: prepared" "prepared phase seen"
contains "$out" "root rotation: retiring" "retiring phase seen"
equals "$(tail -1 <<<"$out")" "root rotation: idle" "rotation finished"
# Five more rounds of probing against the final bundle, then stop.
verified_past() { (($(wc -l <"$work/verified") > $1)); }
expect 0 "probed after the rotation" -- wait_for 30 verified_past \
  "$(($(wc -l <"$work/verified") + 5))"
touch "$work/stop"
wait "$prober_pid" || true

log=$(cat "$work/agent.log")
contains "$log" root_rotation_bundle_delivered "bundle delivered before switch"
contains "$log" root_rotation_switched "issuing switched"
contains "$log" root_rotation_old_root_dropped "old root dropped"
equals "$(cat "$work/failures" 2>/dev/null || true)" "" \
  "no failed verification at any moment"
old_signed=$(wc -l <"$work/old_signed" 2>/dev/null || echo 0)
equals "$(((old_signed >= 5)) && echo yes || echo "$old_signed")" yes \
  "at least 5 rounds held an old-root SVID"
verified=$(wc -l <"$work/verified")
equals "$(((verified >= 50)) && echo yes || echo "$verified")" yes \
  "at least 50 verifications made"
equals "$(grep -c 'BEGIN CERTIFICATE' "$work/rp/svid_bundle.pem")" 1 \
  "one root left in the relying party's bundle"
new_root=$(openssl x509 -in "$work/rp/svid_bundle.pem" -noout -fingerprint -sha256)
lacks "$new_root" "$old_root" "the root changed"
expect 0 "ca status after" -- "$bin/mayfly" ca status --dir "$state/ca"
contains "$out" "1 root(s)" "status shows one root"
expect 0 "client fetch after" -- setpriv --reuid=65534 --regid=65534 \
  --clear-groups -- "$bin/mayfly" fetch x509 --socket "$sock" \
  --write "$work/client/after"
expect 0 "client SVID chains to the new root" -- "$bin/mayfly" svid verify \
  --bundle "$work/rp/svid_bundle.pem" --svid "$work/client/after/svid.pem"

finish root_rotation_test
