#!/usr/bin/env bash
# mayfly-server with the real step-ca as its upstream CA, on loopback:
#   - the PKI (root; step-ca's intermediate with pathlen:1, see
#     docs/upstream.md), the JWK provisioner and ca.json are made here with
#     openssl and stepca_jwk: no `step` CLI
#   - a mayfly-server whose signing.upstream.step_ca points at it, an agent
#     in server mode, a workload's SVID: it chains leaf -> replica
#     intermediate -> step-ca intermediate -> step-ca root and verifies
#     with `mayfly svid verify` and `openssl verify`
#   - a server with a provisioner key step-ca does not know does not start,
#     and says why; nor does one on a step-ca whose intermediate has
#     step's default pathlen:0 (leaves under it would not verify)
#   - with a 1-minute intermediate the server renews it (SIGHUP runs the
#     maintenance at once) and the workload's next SVID is under the new one
# $STEP_CA: the step-ca binary (tests/stepca/build_stepca.sh).
set -euo pipefail

runfiles="$TEST_SRCDIR/$TEST_WORKSPACE"
source "$runfiles/tests/lib/checks.sh"
procs_tag=stepca_e2e
source "$runfiles/tests/lib/procs.sh"
source "$runfiles/tests/stepca/lib.sh"
bin_server="$runfiles/identity/server/mayfly-server"
bin_agent="$runfiles/identity/agent/mayfly-agent"
bin_cli="$runfiles/mayfly"
jwk="$runfiles/tests/stepca/stepca_jwk"
step_ca=${STEP_CA:-}
if [[ -z $step_ca || ! -x $step_ca ]]; then
  echo "FAIL: \$STEP_CA is not an executable step-ca (tests/stepca/build_stepca.sh)" >&2
  exit 1
fi
# Under /tmp: Unix socket paths must stay under 108 bytes.
work=$(mktemp -d /tmp/mayfly-stepca.XXXXXX)
trap 'stop_all; rm -rf "$work"' EXIT
td=example.org

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- step-ca's PKI and config (lib.sh) ----------------------------------
pki=$work/step
stepca_pki "$pki" "$jwk"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/stranger.key"
chmod 600 "$pki/stranger.key"
# pathlen:1, not step's default 0: the replica's intermediate sits below it.
stepca_start "$pki" main 1
# step's default layout, to see it refused.
stepca_start "$pki" default 0
main_port=${step_port[main]}

# --- mayfly-server with step-ca upstream --------------------------------
# server_yaml DIR KEY TTL [STEP_PORT]
server_yaml() {
  mkdir -p "$1"
  chmod 700 "$1"
  cat >"$1/server.yaml" <<YAML
trust_domain: $td
listen_address: 127.0.0.1:$(free_port)
admin_socket: $1/admin.sock
state_dir: $1/state
signing:
  upstream:
    step_ca:
      url: https://127.0.0.1:${4:-$main_port}
      root_file: $pki/root.pem
      provisioner: mayfly
      provisioner_key_file: $2
      ttl: $3
default_ttl: 5m
log_level: info
YAML
}

# A provisioner key step-ca does not know: refused, and said so.
server_yaml "$work/stranger" "$pki/stranger.key" 1h
expect 1 "a server with an unknown provisioner key does not start" -- \
  timeout 30 "$bin_server" --config "$work/stranger/server.yaml"
contains "$err" "step-ca https://127.0.0.1:$main_port: refused the intermediate (HTTP 401)" \
  "the refusal names step-ca and the HTTP status"
contains "$err" "provisioner_key_file" "the refusal points at the provisioner settings"

# step-ca with its default pathlen:0 intermediate: refused before any use.
server_yaml "$work/pathlen0" "$pki/provisioner.key" 1h "${step_port[default]}"
expect 1 "a server on a step-ca intermediate with pathlen:0 does not start" -- \
  timeout 30 "$bin_server" --config "$work/pathlen0/server.yaml"
contains "$err" "/O=Test/CN=step intermediate default" "the refusal names the intermediate"
contains "$err" "has pathlen:0, so it cannot certify this replica's intermediate CA" \
  "the refusal says why"

srv=$work/server
server_yaml "$srv" "$pki/provisioner.key" 1m
expect 0 "check-config accepts the step_ca block" -- "$bin_server" --check-config "$srv/server.yaml"
spawn server "$srv/server.log" "$bin_server" --config "$srv/server.yaml"
server_pid=$spawned_pid
admin() { "$bin_cli" "$@" --server "unix://$srv/admin.sock" --timeout 5s; }
wait_for 30 admin agent list || { echo "server did not start:" >&2; tail -20 "$srv/server.log" >&2; exit 1; }
equals "$(stat -c %a "$srv/state/upstream/intermediate_key.pem")" 600 \
  "the replica's intermediate key is 0600"
contains "$(openssl x509 -in "$srv/state/upstream/intermediate.pem" -noout -issuer)" \
  "CN = step intermediate main" "step-ca's intermediate signed the replica's"

# --- an agent in server mode and a workload -----------------------------
node=$work/node
mkdir -p "$node"
tok=$(admin token create --ttl 2m)
token=$(awk '$1 == "token:" { print $2 }' <<<"$tok")
agent_id=$(awk '$1 == "agent_id:" { print $2 }' <<<"$tok")
server_addr=$(sed -n 's/^listen_address: //p' "$srv/server.yaml")
cat >"$node/agent.yaml" <<YAML
trust_domain: $td
socket_path: $node/api.sock
state_dir: $node/state
server:
  address: [$server_addr]
  bundle: $pki/root.pem
  join_token: $token
YAML
spawn agent "$node/agent.log" "$bin_agent" --config "$node/agent.yaml"
wait_for 30 test -S "$node/api.sock" || { echo "agent did not start:" >&2; tail -20 "$node/agent.log" >&2; exit 1; }
expect 0 "an entry for this uid" -- admin entry create --spiffe-id "spiffe://$td/web" \
  --parent "$agent_id" --selector "unix:uid:$(id -u)"
fetch() {
  rm -rf "$work/svid"
  "$bin_cli" fetch x509 --socket "$node/api.sock" --write "$work/svid"
}
wait_for 30 fetch || { echo "no SVID:" >&2; tail -20 "$node/agent.log" >&2; }

# svid.pem: leaf, replica intermediate, step-ca intermediate; the bundle is
# step-ca's root.
split_chain() {
  awk -v dir="$work" '/BEGIN CERT/ { n++ } { print > (dir "/cert" n ".pem") }' "$work/svid/svid.pem"
}
split_chain
equals "$(grep -c 'BEGIN CERT' "$work/svid/svid.pem")" 3 "the SVID chain holds three certificates"
equals "$(openssl x509 -in "$work/svid/svid_bundle.pem" -noout -fingerprint -sha256)" \
  "$(openssl x509 -in "$pki/root.pem" -noout -fingerprint -sha256)" \
  "the workload's bundle is step-ca's root"
contains "$(openssl x509 -in "$work/cert1.pem" -noout -ext subjectAltName)" "URI:spiffe://$td/web" \
  "the leaf names the workload"
expect 0 "mayfly svid verify accepts the SVID under step-ca's root" -- \
  "$bin_cli" svid verify --bundle "$pki/root.pem" --svid "$work/svid/svid.pem"
cat "$work/cert2.pem" "$work/cert3.pem" >"$work/untrusted.pem"
expect 0 "openssl verify accepts the SVID under step-ca's root" -- \
  openssl verify -x509_strict -purpose sslclient -CAfile "$pki/root.pem" \
  -untrusted "$work/untrusted.pem" "$work/cert1.pem"

# --- renewal without a restart ------------------------------------------
first=$(openssl x509 -in "$srv/state/upstream/intermediate.pem" -noout -serial)
renewed() {
  kill -HUP "$server_pid"
  sleep 0.5
  [[ $(openssl x509 -in "$srv/state/upstream/intermediate.pem" -noout -serial) != "$first" ]]
}
start=$SECONDS
wait_for 90 renewed || true
second=$(openssl x509 -in "$srv/state/upstream/intermediate.pem" -noout -serial)
[[ $second != "$first" ]] && echo "intermediate renewed after $((SECONDS - start)) s" >&2
checks=$((checks + 1))
if [[ $second == "$first" ]]; then
  echo "FAIL: the intermediate was not renewed within 90 s" >&2
  failures=$((failures + 1))
fi
contains "$(grep -o '"event":"intermediate_renewed"' "$srv/server.log" | head -1)" \
  '"event":"intermediate_renewed"' "the renewal is logged"
equals "$(kill -0 "$server_pid" && echo alive)" alive "the server did not restart"
# The agent's next SVID (its old one lives at most the old intermediate's
# remaining life) chains to the new intermediate.
new_int=$(openssl x509 -in "$srv/state/upstream/intermediate.pem" -noout -fingerprint -sha256)
under_new() {
  fetch && split_chain &&
    [[ $(openssl x509 -in "$work/cert2.pem" -noout -fingerprint -sha256) == "$new_int" ]]
}
wait_for 90 under_new || true
equals "$(openssl x509 -in "$work/cert2.pem" -noout -fingerprint -sha256)" "$new_int" \
  "the workload's SVID moved to the renewed intermediate"
cat "$work/cert2.pem" "$work/cert3.pem" >"$work/untrusted.pem"
expect 0 "openssl verify accepts the SVID under the renewed intermediate" -- \
  openssl verify -x509_strict -purpose sslclient -CAfile "$pki/root.pem" \
  -untrusted "$work/untrusted.pem" "$work/cert1.pem"

finish stepca_e2e
