#!/usr/bin/env bash
# The real mayfly-server binary: --check-config with FILE:LINE: FIELD
# errors, a second server on the same state_dir refused (flock), SIGTERM
# stops it cleanly (exit 0, admin socket removed), /metrics answers on the
# port server_started names, and after kill -9 the state directory still
# opens (nothing torn, the lock died with the
# process).
set -euo pipefail

runfiles="$TEST_SRCDIR/$TEST_WORKSPACE"
# Under /tmp, not $TEST_TMPDIR: the socket path must stay under 108 bytes.
work=$(mktemp -d /tmp/mayfly-server-bin.XXXXXX)
source "$runfiles/tests/lib/checks.sh"
server="$runfiles/identity/server/mayfly-server"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

cat >"$work/server.yaml" <<YAML
trust_domain: example.org
listen_address: 127.0.0.1:0
admin_socket: $work/run/admin.sock
state_dir: $work/state
metrics_address: 127.0.0.1:0
YAML

expect 0 "check-config accepts a good config" -- \
  "$server" --check-config "$work/server.yaml"
contains "$out" "server.yaml: OK" "check-config says OK"

cp "$work/server.yaml" "$work/bad.yaml"
echo "agent_ttl: 2s" >>"$work/bad.yaml"
expect 2 "check-config refuses a short agent_ttl" -- \
  "$server" --check-config "$work/bad.yaml"
contains "$err" "bad.yaml:6: agent_ttl: must be from 10s" "FILE:LINE: FIELD"

expect 2 "no --config" -- "$server"
contains "$err" "--config FILE is required" "usage error"

# start LOG: runs the server in the background; its pid in $pid.
start() {
  "$server" --config "$work/server.yaml" 2>"$1" &
  pid=$!
  pids+=("$pid")
}

start "$work/log1"
wait_for 10 grep -q server_started "$work/log1" || echo "server 1 did not start" >&2
contains "$(cat "$work/log1")" '"event":"server_started"' "server 1 started"
equals "$(stat -c %a "$work/state")" "700" "state_dir is 0700"
equals "$(stat -c %a "$work/state/store/store")" "600" "store file is 0600"

port=$(sed -n 's/.*"metrics_port":"\([0-9]*\)".*/\1/p' "$work/log1" | tail -1)
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n' >&3
m=$(cat <&3)
exec 3<&-
contains "$m" "HTTP/1.1 200 OK" "metrics served"
contains "$m" "mayfly_server_intermediate_expiry_seconds" "intermediate expiry exported"
contains "$m" $'\nmayfly_server_store_errors_total 0' "no store errors"

expect 1 "a second server on the same state_dir is refused" -- \
  "$server" --config "$work/server.yaml"
contains "$err" "is locked by another mayfly-server" "the lock is named"

# SIGHUP with a broken config: logged, the server keeps running.
cp "$work/server.yaml" "$work/good.yaml"
echo "bogus: 1" >>"$work/server.yaml"
kill -HUP "$pid"
wait_for 10 grep -q config_reload_failed "$work/log1" || true
contains "$(cat "$work/log1")" 'server.yaml:6: bogus: unknown key' "reload error logged"
cp "$work/good.yaml" "$work/server.yaml"
kill -HUP "$pid"
wait_for 10 grep -q config_reloaded "$work/log1" || true
contains "$(cat "$work/log1")" '"event":"config_reloaded"' "reload of a good config"

kill -TERM "$pid"
code=0
wait "$pid" || code=$?
equals "$code" "0" "SIGTERM exits 0"
contains "$(cat "$work/log1")" '"event":"stopped"' "stopped cleanly"
[[ -e "$work/run/admin.sock" ]] && exists=yes || exists=no
equals "$exists" "no" "admin socket removed"

start "$work/log2"
wait_for 10 grep -q server_started "$work/log2" || echo "server 2 did not start" >&2
kill -KILL "$pid"
wait "$pid" || true
start "$work/log3"
wait_for 10 grep -q server_started "$work/log3" || echo "server 3 did not start" >&2
contains "$(cat "$work/log3")" '"event":"server_started"' "restart after kill -9"
kill -TERM "$pid"
wait "$pid" || true

finish server_binary_test
