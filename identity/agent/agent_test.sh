#!/usr/bin/env bash
# The real mayfly-agent, started as a process, with real callers: processes
# under other uids (the test runs as root and drops privileges with setpriv),
# a process that execs another binary after connecting, and clients that
# break the protocol. Then reloads (good and bad), a real rotation with a
# TTL of seconds, metrics, SIGTERM and a restart that keeps the bundle.
set -euo pipefail

source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/agent_env.sh"
agent_env agent-test identity/agent/mayfly-agent mayfly \
  identity/agent/probe
# The same program at another path: what the exec test switches to.
install -m 755 "$runfiles/identity/agent/probe" "$bin/probe-after"

sock="$work/run/api.sock"
state="$work/state"
log="$work/agent.log"
agent_pid=""

unpriv_pid=""
cleanup() {
  if [[ -n $agent_pid ]]; then kill "$agent_pid" 2>/dev/null || true; fi
  if [[ -n $unpriv_pid ]]; then kill "$unpriv_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

write_entries() {
  cat >"$work/entries.yaml.tmp" <<YAML
entries:
  - spiffe_id: spiffe://example.org/root
    selectors: ["unix:uid:0"]
  - spiffe_id: spiffe://example.org/nobody
    selectors: ["unix:uid:65534"]
    hint: internal
  - spiffe_id: spiffe://example.org/by-name
    selectors: ["unix:user:daemon", "unix:group:daemon"]
  - spiffe_id: spiffe://example.org/by-supplementary-group
    selectors: ["unix:user:daemon", "unix:supplementary_group:sudo"]
  - spiffe_id: spiffe://example.org/before-exec
    selectors: ["unix:uid:1234", "unix:path:$bin/probe"]
  - spiffe_id: spiffe://example.org/after-exec
    selectors: ["unix:uid:1234", "unix:path:$bin/probe-after"]
  - spiffe_id: spiffe://example.org/fast
    selectors: ["unix:uid:2345"]
    ttl: 10s
$1
YAML
  mv "$work/entries.yaml.tmp" "$work/entries.yaml"
}

cat >"$work/agent.yaml" <<YAML
trust_domain: example.org
socket_path: $sock
state_dir: $state
default_ttl: 5m
intermediate_ttl: 1h
entries_file: entries.yaml
metrics_address: 127.0.0.1:0
limits:
  max_connections: 16
  max_streams_per_caller: 4
  requests_per_second_per_caller: 5
  request_burst: 10
YAML
write_entries ""

# probe_says WANT COMMAND...: whether the probe run by COMMAND printed
# exactly WANT. The probe exits 0 on an error answer as well, so a wait on it
# must test what it printed, not how it exited.
probe_says() {
  local want=$1
  shift
  [[ $("$@" 2>/dev/null) == "$want" ]]
}

start_agent() {
  "$bin/mayfly-agent" --config "$work/agent.yaml" 2>>"$log" &
  agent_pid=$!
  wait_for 20 "$bin/mayfly" healthcheck --socket "$sock"
}

# --- start ---------------------------------------------------------------
expect 0 "config check" -- "$bin/mayfly-agent" --check-config "$work/agent.yaml"
start_agent
expect 0 "healthcheck" -- "$bin/mayfly" healthcheck --socket "unix://$sock"
equals "$(stat -c %a "$sock")" 777 "socket mode"
equals "$(stat -c %a "$(dirname "$sock")")" 755 "socket directory mode"
equals "$(stat -c %a "$state")" 700 "state directory mode"
equals "$(stat -c %a "$state/ca/root_key.pem")" 600 "root key mode"

# --- attestation by uid --------------------------------------------------
expect 0 "root fetch" -- "$bin/probe" fetch "$sock"
equals "$out" "OK spiffe://example.org/root" "root gets root's identity only"
expect 0 "nobody fetch" -- as_uid 65534 "$bin/probe" fetch "$sock"
equals "$out" "OK spiffe://example.org/nobody" "nobody gets nobody's only"
expect 0 "daemon fetch" -- as_uid 1 "$bin/probe" fetch "$sock"
equals "$out" "OK spiffe://example.org/by-name" "user and group names via NSS"
expect 0 "daemon in sudo" -- setpriv --reuid=1 --regid=1 --groups=27 -- \
  "$bin/probe" fetch "$sock"
equals "$out" \
  "OK spiffe://example.org/by-name spiffe://example.org/by-supplementary-group" \
  "supplementary group name"
expect 0 "unregistered uid" -- as_uid 4242 "$bin/probe" fetch "$sock"
contains "$out" "ERR PERMISSION_DENIED" "unknown caller refused"
expect 0 "refusal logged" -- \
  wait_for 10 grep -q '"event":"request_refused".*"uid":"4242"' "$log"
refusal=$(grep '"event":"request_refused".*"uid":"4242"' "$log" | head -1)
contains "$refusal" '"code":"PERMISSION_DENIED"' "refusal logged with its code"
contains "$refusal" 'unix:uid:4242' "refusal logged with the caller's selectors"

# --- exec after connect --------------------------------------------------
expect 0 "connect then exec" -- as_uid 1234 "$bin/probe" connect-exec \
  "$sock" "$bin/probe-after" fetch-fd
equals "$out" "OK spiffe://example.org/after-exec" \
  "attested as the binary it became, not the one that connected"
expect 0 "without exec" -- as_uid 1234 "$bin/probe" fetch "$sock"
equals "$out" "OK spiffe://example.org/before-exec" "path selector matches"

# --- protocol abuse ------------------------------------------------------
expect 0 "no header" -- "$bin/probe" fetch "$sock" --no-header
contains "$out" "ERR INVALID_ARGUMENT" "missing security header"
expect 0 "missing header logged" -- \
  wait_for 10 grep -q '"event":"request_refused".*security header' "$log"
expect 0 "oversized request" -- "$bin/probe" big "$sock" 200000
contains "$out" "ERR RESOURCE_EXHAUSTED" "request over max_request_bytes"

# --- limits: one caller cannot starve the others --------------------------
expect 0 "six streams at once" -- "$bin/probe" streams "$sock" 6
equals "$out" "OK=4 RESOURCE_EXHAUSTED=2" "streams over max_streams_per_caller"
expect 0 "thirty calls in a row" -- "$bin/probe" calls "$sock" 30
# request_burst go through, then about 5/s: the 30 calls take well under 0.5 s.
burst_re='^OK=1[0-2] RESOURCE_EXHAUSTED=(1[89]|20)$'
equals "$([[ $out =~ $burst_re ]] && echo within || echo "$out")" within \
  "request_burst, then requests_per_second_per_caller"
expect 0 "others still served" -- as_uid 65534 "$bin/probe" fetch "$sock"
equals "$out" "OK spiffe://example.org/nobody" "a flood leaves others alone"
expect 0 "connections at the cap" -- "$bin/probe" conns "$sock" 16
contains "$out" "ERR UNAVAILABLE" "connection over max_connections refused"
expect 0 "connection refusal logged" -- \
  wait_for 10 grep -q '"event":"connection_refused".*connection cap' "$log"
expect 0 "served again once they close" -- "$bin/probe" fetch "$sock"
equals "$out" "OK spiffe://example.org/root" "cap frees up"

# --- CLI: fetch --write, SPIFFE_ENDPOINT_SOCKET --------------------------
mkdir -m 777 "$work/out"
expect 0 "fetch --write as nobody" -- env SPIFFE_ENDPOINT_SOCKET="unix://$sock" \
  setpriv --reuid=65534 --regid=65534 --clear-groups -- \
  "$bin/mayfly" fetch x509 --write "$work/out/nobody"
contains "$out" "spiffe://example.org/nobody" "fetch prints the id"
contains "$out" "hint=internal" "fetch prints the hint"
equals "$(stat -L -c %a "$work/out/nobody/svid_key.pem")" 600 "key file mode"
expect 0 "written SVID verifies" -- "$bin/mayfly" svid verify \
  --bundle "$work/out/nobody/svid_bundle.pem" --svid "$work/out/nobody/svid.pem"
contains "$out" "spiffe://example.org/nobody" "verified id"
expect 2 "no socket anywhere" -- env -u SPIFFE_ENDPOINT_SOCKET \
  "$bin/mayfly" fetch x509
contains "$err" "SPIFFE_ENDPOINT_SOCKET" "error names the variable"

# --- JWT-SVIDs -------------------------------------------------------------
expect 0 "fetch jwt as nobody" -- as_uid 65534 "$bin/mayfly" fetch jwt \
  --socket "$sock" --audience kafka
token=$out
equals "$(cut -d. -f1 <<<"$token" | base64 -d 2>/dev/null | head -c 15)" \
  '{"alg":"ES256",' "ES256 header"
expect 0 "validate jwt" -- "$bin/mayfly" validate jwt --socket "$sock" \
  --audience kafka "$token"
equals "$out" "spiffe://example.org/nobody" "token validates to its subject"
expect 1 "validate jwt, wrong audience" -- "$bin/mayfly" validate jwt \
  --socket "$sock" --audience other "$token"
contains "$err" 'audience "other"' "wrong audience named"
# Flip one character in the middle of the signature (the last one may only
# hold padding bits).
sig=${token##*.}
flipped=${sig:0:10}$([[ ${sig:10:1} == A ]] && echo B || echo A)${sig:11}
expect 1 "validate a tampered jwt" -- "$bin/mayfly" validate jwt \
  --socket "$sock" --audience kafka "${token%.*}.$flipped"
contains "$err" "INVALID_ARGUMENT" "tampered token refused"
expect 1 "jwt for another identity" -- as_uid 65534 "$bin/mayfly" fetch jwt \
  --socket "$sock" --audience kafka --spiffe-id spiffe://example.org/root
contains "$err" "PERMISSION_DENIED" "cannot ask for another's identity"
expect 2 "fetch jwt needs an audience" -- "$bin/mayfly" fetch jwt \
  --socket "$sock"

# --- metrics -------------------------------------------------------------
port=$(sed -n 's/.*"metrics_port":"\([0-9]*\)".*/\1/p' "$log" | tail -1)
metrics() {
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n' >&3
  cat <&3
  exec 3<&-
}
m=$(metrics)
contains "$m" "mayfly_agent_svids_minted_total" "minted counter exported"
contains "$m" "mayfly_agent_attestation_failures_total" "failures exported"
contains "$m" "mayfly_agent_svid_soonest_expiry_seconds" "expiry exported"
minted=$(sed -n 's/^mayfly_agent_svids_minted_total \([0-9]*\)$/\1/p' <<<"$m")
equals "$(((minted >= 4)) && echo yes || echo "$minted")" yes "minted >= 4"

# --- a real rotation ------------------------------------------------------
# TTL 10 s: renewed at 5 s +- 0.5 s of its life. The agent's own record of
# when it renewed is in the certificates: each renewal's NotAfter is 4..6 s
# (whole seconds) after the one before, however slowly this machine runs
# the test. A renewal held up by the stalled reader below would show a gap.
# Meanwhile a reader with a tiny flow-control window stops reading for 18 s:
# the renewals at about 5, 10 and 15 s must not wait for it, and it must
# get the newest SVID, not a backlog.
mkdir -m 777 "$work/out/fast"
as_uid 2345 "$bin/probe" stall "$sock" 18 >"$work/stall.out" 2>&1 &
stall_pid=$!
expect 0 "watch sees two rotations" -- timeout 30 setpriv --reuid=2345 \
  --regid=2345 --clear-groups -- "$bin/mayfly" watch x509 --socket "$sock" \
  --write "$work/out/fast" --count 3
equals "$(grep -c '^wrote ' <<<"$out")" 3 "three writes"
gaps=""
previous=""
for expiry in $(grep -o 'expires [^ ]*' <<<"$out" | cut -d' ' -f2); do
  now=$(date -u -d "$expiry" +%s)
  [[ -n $previous ]] && gaps+="$((now - previous)) "
  previous=$now
done
equals "$(awk '{for (i = 1; i <= NF; i++) if ($i < 4 || $i > 6) bad = 1;
  print (NF == 2 && !bad) ? "on time" : $0}' <<<"$gaps")" "on time" \
  "each renewal of a 10 s SVID 4..6 s after the one before"
wait "$stall_pid"
equals "$(cat "$work/stall.out")" "OK rotated" "the slow reader gets the newest"
superseded=$(metrics | sed -n \
  's/^mayfly_agent_stream_messages_superseded_total \([0-9]*\)$/\1/p')
equals "$(((superseded >= 1)) && echo yes || echo "$superseded")" yes \
  "the slow reader's stale update was replaced, not queued"
serials=$(grep -o 'expires [^ ]*' <<<"$out" | sort -u | wc -l)
equals "$serials" 3 "each write a new SVID"

# --- reloads -------------------------------------------------------------
printf 'entries:\n  - spiffe_id: spiffe://example.org/x\n    selectors: ["unix:uid:abc"]\n' \
  >"$work/entries.yaml.tmp"
mv "$work/entries.yaml.tmp" "$work/entries.yaml"
wait_for 10 grep -q entries_reload_failed "$log"
contains "$(grep entries_reload_failed "$log" | tail -1)" "entries.yaml:3" \
  "reload error names file and line"
expect 0 "bad reload keeps serving" -- as_uid 65534 "$bin/probe" fetch "$sock"
equals "$out" "OK spiffe://example.org/nobody" "old entries still served"

# Remove nobody's entry: nobody's next call is refused, and a watcher of it
# is told PermissionDenied.
# reloads_past N: whether the agent has logged more than N good reloads.
reloads_past() {
  (($(grep -c '"event":"entries_reloaded"' "$log") > $1))
}
reloads=$(grep -c '"event":"entries_reloaded"' "$log" || true)
write_entries ""
expect 0 "good file reloaded" -- wait_for 10 reloads_past "$reloads"
expect 0 "restored entries served" -- wait_for 10 probe_says \
  "OK spiffe://example.org/nobody" as_uid 65534 "$bin/probe" fetch "$sock"
sed -i '/spiffe:\/\/example.org\/nobody/,+2d' "$work/entries.yaml"
wait_for 10 bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups -- \
  '$bin/probe' fetch '$sock' | grep -q PERMISSION_DENIED"
expect 0 "removed entry" -- as_uid 65534 "$bin/probe" fetch "$sock"
contains "$out" "ERR PERMISSION_DENIED" "removal takes effect on reload"
kill -HUP "$agent_pid"
wait_for 10 grep -q '"event":"sighup"' "$log"
expect 0 "alive after SIGHUP" -- "$bin/probe" fetch "$sock"

# --- SIGTERM and restart ---------------------------------------------------
cp "$work/out/nobody/svid_bundle.pem" "$work/bundle-before.pem"
kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=""
equals "$rc" 0 "SIGTERM exits 0"
contains "$(cat "$log")" '"event":"stopped"' "graceful stop logged"
equals "$(test -e "$sock" && echo present || echo gone)" gone "socket removed"
expect 3 "healthcheck when down" -- "$bin/mayfly" healthcheck --socket "$sock" \
  --timeout 1s
expect 2 "bad --timeout is a usage error" -- "$bin/mayfly" fetch x509 \
  --socket "$sock" --timeout 3q
contains "$err" 'invalid duration "3q"' "bad --timeout named"
start_agent
expect 0 "fetch after restart" -- "$bin/mayfly" fetch x509 --socket "$sock" \
  --write "$work/out/root"
equals "$(cat "$work/out/root/svid_bundle.pem")" \
  "$(cat "$work/bundle-before.pem")" "bundle survives restart"

# --- an agent that is not root ---------------------------------------------
# It cannot read other users' /proc/PID/exe, but their uid and gid come from
# the kernel all the same, and its own user's processes are fully attested.
unpriv="$work/unpriv"
mkdir -m 755 "$unpriv"
cat >"$unpriv/agent.yaml" <<YAML
trust_domain: example.org
socket_path: $unpriv/run/api.sock
state_dir: $unpriv/state
entries:
  - spiffe_id: spiffe://example.org/nobody
    selectors: ["unix:uid:65534"]
  - spiffe_id: spiffe://example.org/nobody-probe
    selectors: ["unix:uid:65534", "unix:path:$bin/probe"]
  - spiffe_id: spiffe://example.org/agent-user-probe
    selectors: ["unix:uid:3000", "unix:path:$bin/probe"]
YAML
chown 3000:3000 "$unpriv"
as_uid 3000 "$bin/mayfly-agent" --config "$unpriv/agent.yaml" \
  2>"$unpriv/agent.log" &
unpriv_pid=$!
wait_for 20 test -S "$unpriv/run/api.sock"
expect 0 "unprivileged agent, other user" -- as_uid 65534 "$bin/probe" fetch \
  "$unpriv/run/api.sock"
equals "$out" "OK spiffe://example.org/nobody" \
  "attested by uid; another user's executable is out of its reach"
expect 0 "unprivileged agent, its own user" -- as_uid 3000 "$bin/probe" fetch \
  "$unpriv/run/api.sock"
equals "$out" "OK spiffe://example.org/agent-user-probe" "attested by path too"
equals "$(stat -c %u "$unpriv/state/ca/root_key.pem")" 3000 \
  "state owned by the agent's user"
kill -TERM "$unpriv_pid"
wait "$unpriv_pid" || true
unpriv_pid=""

finish agent_test
