#!/usr/bin/env bash
# End-to-end tests of the `mayfly` binary: exit codes, messages, file modes;
# every command run once with its defaults only (the agent commands against
# a real agent); and `watch x509 --write` keeping the ..data layout whole
# across a renewal while a reader reads it.
set -euo pipefail

mayfly="$TEST_SRCDIR/$TEST_WORKSPACE/mayfly"
agent="$TEST_SRCDIR/$TEST_WORKSPACE/identity/agent/mayfly-agent"
work="$TEST_TMPDIR/cli"
rm -rf "$work" && mkdir -p "$work"
source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/checks.sh"

# --help lists every registered command group.
expect 0 "mayfly --help" -- "$mayfly" --help
usage=$out
for command in "id check" "ca init" "ca rotate" "ca status" "ca csr" \
  "ca sign" "svid mint" \
  "svid verify" "fetch x509" "watch x509" "fetch jwt" "validate jwt" \
  healthcheck "kafka produce" "kafka consume" "entry create" "entry update" \
  "entry delete" "entry show" "entry list" "entry load" "token create" \
  "agent list" "agent evict"; do
  contains "$usage" "  $command " "--help lists $command"
  expect 0 "$command --help" -- "$mayfly" $command --help
  contains "$out" "usage: mayfly $command" "$command has its own help"
done
expect 2 "unknown command" -- "$mayfly" bogus
contains "$err" 'unknown command "bogus"' "unknown command named"

# id check
expect 0 "valid ids" -- "$mayfly" id check spiffe://example.org/a/b spiffe://td
equals "$out" $'spiffe://example.org/a/b\nspiffe://td' "canonical output"
expect 1 "invalid ids" -- "$mayfly" id check spiffe://example.org/ok \
  spiffe://Example.org/a spiffe://example.org/a/ http://example.org/a
equals "$out" "spiffe://example.org/ok" "valid id still printed"
equals "$(grep -c '^invalid: ' <<<"$err")" 3 "one line per invalid id"
contains "$err" "lowercase letters" "uppercase trust domain rule"
contains "$err" "trailing" "trailing slash rule"
contains "$err" "scheme" "scheme rule"
expect 2 "no ids" -- "$mayfly" id check
expect 0 "help" -- "$mayfly" id check --help
contains "$out" "usage: mayfly id check" "help text"

# ca init
expect 0 "ca init" -- "$mayfly" ca init --dir "$work/ca" --trust-domain example.org
equals "$(stat -c %a "$work/ca")" 700 "CA dir mode"
equals "$(stat -c %a "$work/ca/root_key.pem")" 600 "root key mode"
expect 1 "ca init twice" -- "$mayfly" ca init --dir "$work/ca" --trust-domain example.org
contains "$err" "already exists" "second init refused"
expect 2 "ca init without td" -- "$mayfly" ca init --dir "$work/ca2"
contains "$err" "missing required flag --trust-domain" "missing flag named"
expect 2 "ca init bad td" -- "$mayfly" ca init --dir "$work/ca2" --trust-domain Bad.Org
expect 2 "unknown flag" -- "$mayfly" ca init --dir "$work/ca2" --trust-domain x --bogus
contains "$err" "unknown flag --bogus" "unknown flag named"

# ca csr / ca sign: a server replica's intermediate, the root elsewhere
expect 0 "ca csr" -- "$mayfly" ca csr --trust-domain example.org \
  --key-out "$work/replica_key.pem" --out "$work/replica.csr"
equals "$(stat -c %a "$work/replica_key.pem")" 600 "replica key mode"
contains "$(openssl req -in "$work/replica.csr" -noout -text)" \
  "URI:spiffe://example.org" "the CSR names the trust domain"
expect 1 "ca csr over an existing key" -- "$mayfly" ca csr \
  --trust-domain example.org --key-out "$work/replica_key.pem" \
  --out "$work/replica2.csr"
contains "$err" "exists; a replica's key is made once" "existing key kept"
expect 0 "ca sign" -- "$mayfly" ca sign --dir "$work/ca" \
  --csr "$work/replica.csr" --out "$work/replica.pem" --ttl 2h
contains "$(openssl verify -CAfile "$work/ca/bundle.pem" "$work/replica.pem")" \
  "OK" "the intermediate chains to the root"
equals "$(openssl x509 -in "$work/replica.pem" -noout -pubkey)" \
  "$(openssl pkey -in "$work/replica_key.pem" -pubout)" \
  "the intermediate certifies the replica's key"
contains "$(openssl x509 -in "$work/replica.pem" -noout -text)" \
  "CA:TRUE, pathlen:0" "an intermediate that signs leaves only"
openssl req -new -key "$work/replica_key.pem" -subj /CN=x \
  -addext subjectAltName=URI:spiffe://example.org/kafka/broker \
  -out "$work/workload.csr" 2>/dev/null
expect 1 "ca sign a workload CSR" -- "$mayfly" ca sign --dir "$work/ca" \
  --csr "$work/workload.csr" --out "$work/bad.pem"
contains "$err" "must name exactly spiffe://example.org" "workload CSR refused"
equals "$(ls "$work/bad.pem" 2>/dev/null)" "" "a refused CSR leaves no certificate"

# svid mint
expect 0 "mint" -- "$mayfly" svid mint --ca-dir "$work/ca" \
  --id spiffe://example.org/ns/prod/sa/web --ttl 60s --dns web.example.org \
  --out "$work/svid"
equals "$(stat -L -c %a "$work/svid/svid_key.pem")" 600 "SVID key mode"
equals "$(grep -c 'BEGIN CERTIFICATE' "$work/svid/svid.pem")" 2 "leaf + intermediate"
equals "$(grep -c 'BEGIN CERTIFICATE' "$work/svid/svid_bundle.pem")" 1 "bundle has the root"
expect 1 "mint foreign id" -- "$mayfly" svid mint --ca-dir "$work/ca" \
  --id spiffe://other.org/web --out "$work/x"
contains "$err" "not in trust domain example.org" "foreign trust domain"
expect 2 "mint bad ttl" -- "$mayfly" svid mint --ca-dir "$work/ca" \
  --id spiffe://example.org/web --ttl 10 --out "$work/x"
contains "$err" "missing unit" "ttl error"
expect 1 "mint without CA" -- "$mayfly" svid mint --ca-dir "$work/none" \
  --id spiffe://example.org/web --out "$work/x"
contains "$err" "mayfly ca init" "points at ca init"

# svid verify
expect 0 "verify" -- "$mayfly" svid verify --bundle "$work/svid/svid_bundle.pem" \
  --svid "$work/svid/svid.pem"
contains "$out" "verified spiffe://example.org/ns/prod/sa/web" "verified id"
"$mayfly" ca init --dir "$work/other" --trust-domain example.org >/dev/null
expect 1 "verify against another root" -- "$mayfly" svid verify \
  --bundle "$work/other/bundle.pem" --svid "$work/svid/svid.pem"
contains "$err" "does not lead to a root in the trust bundle" "unknown root"
expect 1 "verify with wrong trust domain" -- "$mayfly" svid verify \
  --bundle "$work/svid/svid_bundle.pem" --svid "$work/svid/svid.pem" \
  --trust-domain other.org
contains "$err" "bundle certificate 1 is a root of trust domain example.org, not of other.org" \
  "trust domain rule"
# A root of another trust domain slipped into the bundle file: it could sign
# example.org's IDs, so the whole file is refused, whichever root comes first.
expect 0 "ca init other.org" -- "$mayfly" ca init --dir "$work/ca-other" \
  --trust-domain other.org
cat "$work/svid/svid_bundle.pem" "$work/ca-other/bundle.pem" >"$work/mixed_bundle.pem"
cat "$work/ca-other/bundle.pem" "$work/svid/svid_bundle.pem" >"$work/mixed_bundle2.pem"
expect 1 "verify against a bundle with another trust domain's root" -- \
  "$mayfly" svid verify --bundle "$work/mixed_bundle.pem" --svid "$work/svid/svid.pem"
contains "$err" "bundle certificate 2 is a root of trust domain other.org, not of example.org" \
  "foreign root after"
expect 1 "verify against a bundle led by another trust domain's root" -- \
  "$mayfly" svid verify --bundle "$work/mixed_bundle2.pem" --svid "$work/svid/svid.pem"
contains "$err" "bundle certificate 2 is a root of trust domain example.org, not of other.org" \
  "foreign root before"
expect 1 "verify a key file" -- "$mayfly" svid verify \
  --bundle "$work/svid/svid_bundle.pem" --svid "$work/svid/svid_key.pem"
contains "$err" "no \"-----BEGIN CERTIFICATE-----\" block" "not a certificate"

# Expiry: a 1 s SVID stops verifying by itself. Poll (bounded) instead of
# sleeping a fixed time.
"$mayfly" svid mint --ca-dir "$work/ca" --id spiffe://example.org/short \
  --ttl 1s --out "$work/short" >/dev/null
expired=0
for _ in $(seq 1 50); do
  if ! "$mayfly" svid verify --bundle "$work/short/svid_bundle.pem" \
    --svid "$work/short/svid.pem" >/dev/null 2>"$work/stderr"; then
    expired=1
    break
  fi
  sleep 0.1
done
equals "$expired" 1 "1 s SVID expired within 5 s"
contains "$(cat "$work/stderr")" "has expired" "expiry rule named"

# --- every command with its defaults only ---------------------------------
# id check, ca init, svid mint and svid verify ran above with their required
# flags only. The rest here; the agent commands against a real agent.
expect 0 "svid mint with defaults" -- "$mayfly" svid mint --ca-dir "$work/ca" \
  --id spiffe://example.org/defaults --out "$work/defaults"
contains "$out" "minted spiffe://example.org/defaults" "minted with defaults"
expect 0 "default SVID verifies" -- "$mayfly" svid verify \
  --bundle "$work/defaults/svid_bundle.pem" --svid "$work/defaults/svid.pem"
contains "$out" "(in 4m" "default TTL is 5m"
expect 0 "ca init for rotate" -- "$mayfly" ca init --dir "$work/rot" \
  --trust-domain example.org
expect 0 "ca rotate with defaults" -- "$mayfly" ca rotate --dir "$work/rot"
contains "$out" "next root added to $work/rot/bundle.pem" "rotate reported"
expect 0 "ca status with defaults" -- "$mayfly" ca status --dir "$work/rot"
contains "$out" "2 root(s) in the bundle" "next root in the bundle"
contains "$out" "root rotation: prepared" "rotation prepared"
expect 2 "ca rotate bad --wait" -- "$mayfly" ca rotate --dir "$work/rot" \
  --wait 0s
contains "$err" "--wait: " "bad --wait named"

# Under /tmp: a Unix socket path must stay under 108 bytes.
agent_dir=$(mktemp -d /tmp/mayfly-cli-test.XXXXXX)
agent_pid=""
watch_pid=""
cleanup() {
  for pid in $watch_pid $agent_pid; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$agent_dir"
}
trap cleanup EXIT
sock="$agent_dir/run/api.sock"
cat >"$agent_dir/agent.yaml" <<YAML
trust_domain: example.org
socket_path: $sock
state_dir: $agent_dir/state
default_ttl: 10s
intermediate_ttl: 5m
entries:
  - spiffe_id: spiffe://example.org/cli
    selectors: ["unix:uid:$(id -u)"]
  - spiffe_id: spiffe://example.org/cli/kafka
    selectors: ["unix:uid:$(id -u)"]
    ttl: 1m
YAML
"$agent" --config "$agent_dir/agent.yaml" 2>"$agent_dir/agent.log" &
agent_pid=$!
export SPIFFE_ENDPOINT_SOCKET="unix://$sock"
wait_for 20 "$mayfly" healthcheck ||
  echo "agent did not come up: $(cat "$agent_dir/agent.log")" >&2

expect 0 "healthcheck with defaults" -- "$mayfly" healthcheck
contains "$out" "agent is serving" "healthcheck answer"
expect 0 "fetch x509 with defaults" -- "$mayfly" fetch x509
contains "$out" "spiffe://example.org/cli" "fetched the caller's SVID"
expect 0 "fetch jwt with defaults" -- "$mayfly" fetch jwt --audience kafka
token=$out
expect 0 "validate jwt with defaults" -- "$mayfly" validate jwt \
  --audience kafka "$token"
equals "$out" "spiffe://example.org/cli" "validated id"

# fetch x509 --write: the ..data layout.
expect 0 "fetch x509 --write" -- "$mayfly" fetch x509 --write "$agent_dir/f"
for name in svid.pem svid_key.pem svid_bundle.pem svid_keystore.pem; do
  equals "$(readlink "$agent_dir/f/$name")" "..data/$name" "$name is a link"
done
equals "$(stat -L -c %a "$agent_dir/f/svid_key.pem")" 600 "fetched key mode"
equals "$(stat -L -c %a "$agent_dir/f/svid_keystore.pem")" 600 \
  "fetched keystore mode"
equals "$(cat "$agent_dir/f/svid_keystore.pem")" \
  "$(cat "$agent_dir/f/svid_key.pem" "$agent_dir/f/svid.pem")" \
  "the keystore is the key, then the chain"
expect 0 "fetched SVID verifies" -- "$mayfly" svid verify \
  --bundle "$agent_dir/f/svid_bundle.pem" --svid "$agent_dir/f/svid.pem"
contains "$out" $'verified spiffe://example.org/cli\n' "--write wrote the default"

# fetch x509 --spiffe-id: another of the caller's SVIDs, or an error that
# lists the ones on offer.
expect 0 "fetch x509 --spiffe-id" -- "$mayfly" fetch x509 --write \
  "$agent_dir/k" --spiffe-id spiffe://example.org/cli/kafka
expect 0 "picked SVID verifies" -- "$mayfly" svid verify \
  --bundle "$agent_dir/k/svid_bundle.pem" --svid "$agent_dir/k/svid.pem"
contains "$out" $'verified spiffe://example.org/cli/kafka\n' "--spiffe-id picked"
expect 1 "fetch x509 --spiffe-id not on offer" -- "$mayfly" fetch x509 \
  --write "$agent_dir/n" --spiffe-id spiffe://example.org/nope
contains "$err" "no SVID for spiffe://example.org/nope in the agent's answer;" \
  "absent id named"
contains "$err" "it offers spiffe://example.org/cli, spiffe://example.org/cli/kafka" \
  "ids on offer listed"
equals "$(test -e "$agent_dir/n" && echo written || echo absent)" absent \
  "nothing written for an absent id"
expect 2 "fetch x509 --spiffe-id without --write" -- "$mayfly" fetch x509 \
  --spiffe-id spiffe://example.org/cli/kafka
contains "$err" "--spiffe-id needs --write" "usage error named"

# watch x509 with defaults, into a directory of plain files that an older
# mayfly wrote: it migrates them, then renews the 10 s SVID at about 5 s.
out_dir="$agent_dir/w"
mkdir "$out_dir"
cp -L "$work/svid/svid.pem" "$work/svid/svid_key.pem" \
  "$work/svid/svid_bundle.pem" "$out_dir/"
"$mayfly" watch x509 --write "$out_dir" >"$agent_dir/watch.out" 2>&1 &
watch_pid=$!
written_at_least() {
  (($(grep -c '^wrote ' "$agent_dir/watch.out" || true) >= $1))
}
wait_for 20 written_at_least 1 || echo "watch never wrote" >&2
first=$(readlink "$out_dir/..data" || true)
for name in svid.pem svid_key.pem svid_bundle.pem svid_keystore.pem; do
  equals "$(readlink "$out_dir/$name")" "..data/$name" "$name migrated to a link"
done
equals "$(stat -L -c %a "$out_dir/svid_key.pem")" 600 "watched key mode"
contains "$(openssl x509 -in "$out_dir/svid.pem" -noout -ext subjectAltName)" \
  "spiffe://example.org/cli" "the agent's SVID replaced the old one"

# A reader as docs/agent.md describes it (cd into ..data, read both) until
# the renewal has been written: every set it reads matches. Bounded by the
# wait below.
reader() {
  local reads=0 mismatches=0 result
  while [[ ! -e $agent_dir/stop-reader ]]; do
    # Empty when the version was removed under the reader: read again.
    result=$(cd "$out_dir/..data" 2>/dev/null &&
      a=$(openssl x509 -in svid.pem -noout -pubkey 2>/dev/null) &&
      b=$(openssl pkey -in svid_key.pem -pubout 2>/dev/null) &&
      if [[ $a == "$b" ]]; then echo same; else echo different; fi) || true
    [[ -n $result ]] || continue
    reads=$((reads + 1))
    [[ $result == same ]] || mismatches=$((mismatches + 1))
  done
  echo "$reads $mismatches" >"$agent_dir/reader.out"
}
reader &
reader_pid=$!
wait_for 20 written_at_least 2 || echo "watch never renewed" >&2
touch "$agent_dir/stop-reader"
wait "$reader_pid"
read -r reads mismatches <"$agent_dir/reader.out"
equals "$mismatches" 0 "a reader of ..data never sees a key of another cert"
equals "$((reads > 0))" 1 "the reader read ($reads sets)"
echo "reader: $reads sets read across the renewal"
second=$(readlink "$out_dir/..data" || true)
equals "$([[ $second != "$first" ]] && echo switched)" switched "..data switched"
equals "$(test -e "$out_dir/$first" && echo left || echo removed)" removed \
  "the previous version removed"
equals "$(ls -A "$out_dir" | sort | tr '\n' ' ')" \
  "$second ..data svid.pem svid_bundle.pem svid_key.pem svid_keystore.pem " \
  "nothing else left"
expect 0 "renewed SVID verifies" -- "$mayfly" svid verify \
  --bundle "$out_dir/svid_bundle.pem" --svid "$out_dir/svid.pem"
kill -TERM "$watch_pid"
rc=0
wait "$watch_pid" || rc=$?
watch_pid=""
equals "$rc" 0 "watch x509 exits 0 on SIGTERM"

# watch --spiffe-id writes (and runs --exec) only when that SVID or its
# bundle changed: /cli renews every ~5 s, /cli/kafka (1 m) not within 12 s,
# so a second write never comes and --count 2 does not end it.
expect 124 "watch --spiffe-id ignores other SVIDs' renewals" -- timeout 12 \
  "$mayfly" watch x509 --spiffe-id spiffe://example.org/cli/kafka \
  --write "$agent_dir/kafka-only" --count 2 --exec "echo ran >>$agent_dir/kafka-only.ran"
equals "$(wc -l <"$agent_dir/kafka-only.ran")" 1 "one write, one --exec run"

# --exec that fails (a service not up yet at the first write): the watch
# keeps going, tries the command again, and each write's command runs.
# Here it fails twice, then succeeds; --count 2 exits once the last write
# has had its command run (writes that come while one is due share a run).
exec_dir="$agent_dir/exec"
mkdir "$exec_dir"
cat >"$exec_dir/reload.sh" <<'SH'
#!/bin/sh
n=$(cat "$1/tries" 2>/dev/null || echo 0)
echo $((n + 1)) >"$1/tries"
[ "$n" -ge 2 ] || exit 7
echo ok >>"$1/ran"
SH
expect 0 "watch x509 --exec survives a failing command" -- timeout 40 \
  "$mayfly" watch x509 --write "$exec_dir/svid" --count 2 \
  --exec "sh $exec_dir/reload.sh $exec_dir"
contains "$err" "failed with status 7 (again in 1s)" "the failure is reported"
contains "$err" "(again in 2s)" "and retried with backoff"
equals "$(cat "$exec_dir/tries")" "$(($(wc -l <"$exec_dir/ran") + 2))" \
  "two failed tries, then a run for the writes"

# --- kafka produce, kafka consume -------------------------------------------
# Argument errors: exit 2, naming the flag.
kafka_base=(--bootstrap 127.0.0.1:1 --topic t)
while IFS='|' read -r words args message; do
  # shellcheck disable=SC2086 # $args is a word list on purpose
  expect 2 "kafka $words $args" -- "$mayfly" kafka $words $args
  contains "$err" "$message" "kafka $words $args: error names the flag"
done <<'CASES'
produce|--topic t|missing required flag --bootstrap
produce|--bootstrap b:1|missing required flag --topic
produce|--bootstrap b:1 --topic t --count ten|--count: want a whole number
produce|--bootstrap b:1 --topic t --count 0|--count: 0 (no limit) needs --duration or --stdin
produce|--bootstrap b:1 --topic t --rate -1|--rate: want a whole number
produce|--bootstrap b:1 --topic t --duration 5|--duration: 
produce|--bootstrap b:1 --topic t --acks 2|--acks: want all, 1 or 0
produce|--bootstrap b:1 --topic t --idempotent --acks 1|--idempotent: needs --acks all
produce|--bootstrap b:1 --topic t --tls tls|--tls: want mayfly, files or none
produce|--bootstrap b:1 --topic t --tls files|missing required flag --svid-dir
produce|--bootstrap b:1 --topic t --tls none --socket /s|--socket: only with --tls mayfly
produce|--bootstrap b:1 --topic t --broker-spiffe-id spiffe://A/b|--broker-spiffe-id: 
produce|--bootstrap b:1 --topic t|--broker-spiffe-id: required with --tls mayfly
consume|--bootstrap b:1 --topic t --group g|--broker-spiffe-id: required with --tls mayfly
produce|--bootstrap b:1 --topic t --property linger.ms|--property: want NAME=VALUE
produce|--bootstrap b:1 --topic t --bogus|unknown flag --bogus
produce|--bootstrap b:1 --topic t extra|unexpected argument "extra"
consume|--bootstrap b:1 --topic t|missing required flag --group
consume|--bootstrap b:1 --topic t --group g --members 0|--members: want a whole number in [1, 64]
consume|--bootstrap b:1 --topic t --group g --expect 0|--expect: want a whole number
consume|--bootstrap b:1 --topic t --group g --idle-timeout 0s|--idle-timeout: 
consume|--bootstrap b:1 --topic t --group g --tls none --svid-dir /d|--svid-dir: only with --tls files
CASES
# Settings that only a run can check are usage errors too.
expect 2 "kafka produce without a socket" -- env -u SPIFFE_ENDPOINT_SOCKET \
  "$mayfly" kafka produce "${kafka_base[@]}" \
  --broker-spiffe-id 'spiffe://example.org/kafka/*'
contains "$err" "pass --socket or set SPIFFE_ENDPOINT_SOCKET" "no socket named"
expect 2 "kafka produce --svid-dir without ..data" -- "$mayfly" kafka produce \
  "${kafka_base[@]}" --tls files --svid-dir "$work" \
  --broker-spiffe-id 'spiffe://example.org/kafka/*'
contains "$err" "--svid-dir $work: no ..data in it" "not a watch directory"
expect 2 "kafka produce refused property" -- "$mayfly" kafka produce \
  "${kafka_base[@]}" --tls none --property no.such.property=1
contains "$err" "librdkafka property no.such.property=1" "property named"
# The whole command on librdkafka's own mock cluster (test.mock.num.brokers:
# in-process, on loopback, per client): one summary line, exit 0 when all
# were delivered; a consumer that saw nothing of --expect exits 1 naming
# what it lost.
mock=(--tls none --property test.mock.num.brokers=1)
expect 0 "kafka produce on the mock" -- timeout 60 "$mayfly" kafka produce \
  "${kafka_base[@]}" "${mock[@]}" --count 300 --idempotent --size 64
equals "$(grep -cxE 'produce: sent=300 delivered=300 failed=0 seconds=[0-9.]+ msgs_per_s=[0-9.]+ mb_per_s=[0-9.]+ p50_ms=[0-9.]+ p99_ms=[0-9.]+ rotations=0 auth_errors=0 transport_errors=0' <<<"$out")/$(wc -l <<<"$out")" 1/1 \
  "produce prints its one summary line"
expect 1 "kafka consume that lost everything" -- timeout 60 "$mayfly" kafka \
  consume "${kafka_base[@]}" --group g "${mock[@]}" --duration 2s --expect 10
equals "$out" "consume: received=0 distinct=0 duplicated=0 lost=10 rebalances=0 seconds=0.000 msgs_per_s=0.0 rotations=0 auth_errors=0 transport_errors=0" \
  "consume prints its one summary line"
contains "$err" "mayfly: consume failed: lost=10" "what failed is named"

# The admin commands on the real binary, with no server behind the socket
# (the fake-server cases are identity/admin:admin_commands_test): a bad flag
# is a usage error before any connection; an unreachable server exits 1
# with gRPC's code.
# A short path that no test creates: $work is too long for a socket path.
admin_socket="unix:///nonexistent/mayfly-admin.sock"
expect 2 "entry create with a bad selector" -- "$mayfly" entry create \
  --server "$admin_socket" --spiffe-id spiffe://example.org/w \
  --parent spiffe://example.org/mayfly/agent/n --selector unix:uid:x
contains "$err" 'mayfly entry create: --selector: selector "unix:uid:x"' \
  "bad selector named"
expect 1 "entry list with no server" -- env MAYFLY_SERVER_ADMIN="$admin_socket" \
  "$mayfly" entry list --timeout 2s
contains "$err" "mayfly entry list: UNAVAILABLE: " "unreachable server: gRPC's code"
expect 2 "token create over TCP without an SVID" -- "$mayfly" token create \
  --server 127.0.0.1:1
contains "$err" "mTLS needs --svid-dir and --bundle" "mTLS flags asked for"

finish cli_test
