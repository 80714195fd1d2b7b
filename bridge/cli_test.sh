#!/usr/bin/env bash
# End-to-end tests of `mayfly bridge check|map|render` (and the policy checks
# of plan and apply that run before connecting) on the real binary: exit
# codes, output lines, FILE:LINE: FIELD errors, and the entries file
# render --stock writes.
set -euo pipefail

mayfly="$TEST_SRCDIR/$TEST_WORKSPACE/mayfly"
agent="$TEST_SRCDIR/$TEST_WORKSPACE/identity/agent/mayfly-agent"
testdata="$TEST_SRCDIR/$TEST_WORKSPACE/bridge/testdata"
work="$TEST_TMPDIR/bridge"
rm -rf "$work" && mkdir -p "$work"
source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/checks.sh"

policy="$testdata/mapping_policy.yaml"

# --help lists the group; each command has its own help.
expect 0 "mayfly --help" -- "$mayfly" --help
for command in "bridge check" "bridge map" "bridge render"; do
  contains "$out" "  $command " "--help lists $command"
done
for command in check map render; do
  expect 0 "bridge $command --help" -- "$mayfly" bridge $command --help
  contains "$out" "usage: mayfly bridge $command" "bridge $command help"
done

# check
expect 0 "check the vectors' policy" -- "$mayfly" bridge check "$policy"
equals "$(head -1 <<<"$out")" \
  "$policy: valid: 2 trust domains, 8 rules, 1 super users, 2 ACL bindings" \
  "check summary"
# The digest line, the same bytes' SHA-256 as sha256sum's (and the broker
# plugin's log line, PolicySourceTest).
equals "$(sed -n 2p <<<"$out")" "policy sha256:$(sha256sum "$policy" | cut -d' ' -f1)" \
  "check prints the file's SHA-256"
contains "$out" $'\nrule 1: spiffe://prod.acme/ns/{ns}/sa/{sa} -> User:{ns}.{sa} ('"$policy"$':9)\n' \
  "check lists rules with their lines"
contains "$out" $'\nacl: ALLOW User:orders.writer WRITE on TOPIC orders (LITERAL) from host *' \
  "check lists ACL bindings"
cat >"$work/bad.yaml" <<'EOF'
trust_domains: [prod.acme]
principals:
  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}
    principal: User:{ns}.{sa}
  - id: spiffe://prod.acme/ns/orders/sa/writer
    principal: User:writer
EOF
expect 1 "check an unreachable rule" -- "$mayfly" bridge check "$work/bad.yaml"
equals "$err" "mayfly: $work/bad.yaml:5: principals[1].id: unreachable: the rule at $work/bad.yaml:3 (principals[0], spiffe://prod.acme/ns/{ns}/sa/{sa}) matches every ID this one matches, and the first match wins" \
  "unreachable rule: file, line, field, and the rule shadowing it"
equals "$out" "" "nothing on stdout for a bad policy"
printf 'trust_domains: [prod.acme]\nprincipals:\n  - id: spiffe://prod.acme/a-{x}\n    principal: User:{x}\n' >"$work/bad2.yaml"
expect 1 "check a partial capture" -- "$mayfly" bridge check "$work/bad2.yaml"
contains "$err" "$work/bad2.yaml:3: principals[0].id: a capture must be a whole path segment" \
  "partial capture: file, line, field"
expect 1 "check a missing file" -- "$mayfly" bridge check "$work/none.yaml"
contains "$err" "none.yaml" "missing file named"
expect 2 "check without POLICY" -- "$mayfly" bridge check
expect 2 "check with two" -- "$mayfly" bridge check "$policy" "$policy"
expect 2 "check with an unknown flag" -- "$mayfly" bridge check --bogus "$policy"
contains "$err" "unknown flag --bogus" "unknown flag named"

# map
expect 0 "map mapped IDs" -- "$mayfly" bridge map "$policy" \
  spiffe://prod.acme/ns/orders/sa/writer spiffe://prod.acme/ns/payments/sa/admin
equals "$out" $'spiffe://prod.acme/ns/orders/sa/writer -> User:orders.writer\nspiffe://prod.acme/ns/payments/sa/admin -> User:payments-admin' \
  "one line per ID, in order"
expect 1 "map with denials" -- "$mayfly" bridge map "$policy" \
  spiffe://prod.acme/kafka/broker spiffe://prod.acme.evil/a spiffe://prod.acme/x/ \
  spiffe://prod.acme/kafka ""
equals "$out" 'spiffe://prod.acme/kafka/broker -> User:broker
spiffe://prod.acme.evil/a: denied (foreign_trust_domain): trust domain prod.acme.evil is not one of the policy'"'"'s (prod.acme, staging.acme)
spiffe://prod.acme/x/: denied (invalid_id): path cannot have a trailing slash: "spiffe://prod.acme/x/"
spiffe://prod.acme/kafka: denied (unmapped): no rule matches, and unmapped is deny
: denied (invalid_id): SPIFFE ID cannot be empty: ""' "each denial with its reason"
expect 2 "map without IDs" -- "$mayfly" bridge map "$policy"
expect 1 "map with a bad policy" -- "$mayfly" bridge map "$work/bad.yaml" spiffe://prod.acme/a
contains "$err" "bad.yaml:5: principals[1].id: unreachable" "map reports the policy error"

# render --broker: the plugin's properties, paths made absolute.
expect 0 "render --broker" -- "$mayfly" bridge render "$policy" --broker \
  --svid-dir run/svid/ --broker-spiffe-id spiffe://prod.acme/kafka/broker
props=$(grep -v '^#' <<<"$out")
equals "$props" "principal.builder.class=dev.mayfly.kafka.principal.SpiffePrincipalBuilder
authorizer.class.name=dev.mayfly.kafka.authorizer.SpiffeAuthorizer
allow.everyone.if.no.acl.found=false
ssl.engine.factory.class=dev.mayfly.kafka.ssl.SvidSslEngineFactory
ssl.client.auth=required
mayfly.policy.file=$(cd "$(dirname "$policy")" && pwd)/$(basename "$policy")
mayfly.svid.dir=$PWD/run/svid
mayfly.svid.spiffe.id=spiffe://prod.acme/kafka/broker
mayfly.trust.domains=prod.acme,staging.acme" "plugin properties"
contains "$out" $'\n# mayfly.policy.file: spiffe://prod.acme/kafka/broker' \
  "the policy's brokers named"
expect 2 "render --broker without --svid-dir" -- "$mayfly" bridge render "$policy" --broker \
  --broker-spiffe-id spiffe://prod.acme/kafka/broker
expect 2 "render --broker without --broker-spiffe-id" -- "$mayfly" bridge render \
  "$policy" --broker --svid-dir run/svid
expect 1 "render --broker for a workload that is no broker" -- "$mayfly" bridge \
  render "$policy" --broker --svid-dir run/svid \
  --broker-spiffe-id spiffe://prod.acme/ns/orders/sa/writer
contains "$err" "--broker-spiffe-id: spiffe://prod.acme/ns/orders/sa/writer is not one of the brokers of $policy" \
  "render names the refused broker ID"
# A policy without brokers configures no broker and reaches none: render,
# plan and apply refuse it (check and map take it).
grep -v '^brokers:' "$policy" >"$work/no-brokers.yaml"
brokers_required="brokers: required by mayfly bridge %s: list the SPIFFE IDs the brokers present, like brokers: [spiffe://prod.acme/kafka/*] (every SVID may serve TLS, so without it any workload could pose as a broker)"
for mode in "--broker --broker-spiffe-id spiffe://prod.acme/kafka/broker" --stock; do
  # shellcheck disable=SC2086 # $mode is flags
  expect 1 "render ${mode%% *} without brokers" -- "$mayfly" bridge render \
    "$work/no-brokers.yaml" $mode --svid-dir /d
  equals "$err" "mayfly: $work/no-brokers.yaml: $(printf "$brokers_required" render)" \
    "render ${mode%% *} names brokers"
done
for verb in plan apply; do
  expect 1 "$verb without brokers" -- "$mayfly" bridge $verb \
    "$work/no-brokers.yaml" --bootstrap 127.0.0.1:1 --svid-dir "$work/none"
  equals "$err" "mayfly: $work/no-brokers.yaml: $(printf "$brokers_required" $verb)" \
    "$verb names brokers, before connecting"
done
expect 0 "check without brokers" -- "$mayfly" bridge check "$work/no-brokers.yaml"
expect 2 "plan takes no --broker-spiffe-id" -- "$mayfly" bridge plan "$policy" \
  --bootstrap 127.0.0.1:1 --svid-dir /d --broker-spiffe-id spiffe://prod.acme/b
contains "$err" "unknown flag --broker-spiffe-id" "plan: brokers come from the policy"
expect 2 "render --broker --listener" -- "$mayfly" bridge render "$policy" --broker \
  --svid-dir /d --listener CLIENTS --broker-spiffe-id spiffe://prod.acme/kafka/broker
contains "$err" "--listener and --entries are for --stock" "--broker refuses --listener"
expect 2 "render without a mode" -- "$mayfly" bridge render "$policy"
expect 2 "render with both modes" -- "$mayfly" bridge render "$policy" --stock --broker
expect 2 "render --stock without --svid-dir" -- "$mayfly" bridge render "$policy" --stock
contains "$err" "missing required flag --svid-dir" "missing flag named"
expect 2 "render --entries without --entries-out" -- "$mayfly" bridge render \
  "$policy" --stock --svid-dir /d --entries "$work/entries.yaml"

# A newline in a rendered path would start a property line of its own in
# the broker's properties (super.users=...): refused, with nothing printed.
nl_policy="$work/p
super.users=User:evil
.yaml"
cp "$policy" "$nl_policy"
for mode in "--broker --broker-spiffe-id spiffe://prod.acme/kafka/broker" --stock; do
  # shellcheck disable=SC2086 # $mode is flags
  expect 2 "render ${mode%% *} of a policy path with a newline" -- "$mayfly" bridge \
    render "$nl_policy" $mode --svid-dir /d
  equals "$out" "" "render ${mode%% *} prints nothing for a newline in the policy path"
  contains "$err" "POLICY: the path has a control character (U+000A)" \
    "render ${mode%% *} names the newline in the policy path"
  # shellcheck disable=SC2086 # $mode is flags
  expect 2 "render ${mode%% *} of an SVID dir with a newline" -- "$mayfly" bridge \
    render "$policy" $mode --svid-dir "/d
super.users=User:evil"
  equals "$out" "" "render ${mode%% *} prints nothing for a newline in --svid-dir"
  contains "$err" "--svid-dir: the path has a control character (U+000A)" \
    "render ${mode%% *} names the newline in --svid-dir"
done
expect 2 "render --stock with a listener that is no name" -- "$mayfly" bridge render \
  "$policy" --stock --svid-dir /d --listener "A=B"
contains "$err" "--listener: want a listener name of [A-Za-z0-9._-]" \
  "render refuses a listener name that is no name"

# render --stock: the properties.
expect 0 "render --stock" -- "$mayfly" bridge render "$policy" --stock --svid-dir /run/svid
props=$(grep -v '^#' <<<"$out")
equals "$props" 'ssl.keystore.type=PEM
ssl.keystore.location=/run/svid/svid_keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=/run/svid/svid_bundle.pem
ssl.client.auth=required
ssl.endpoint.identification.algorithm=
ssl.principal.mapping.rules=RULE:^CN=([A-Za-z0-9._-]{1,64}),OU=mayfly-kafka-principal$/$1/
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:broker' "stock properties"
expect 0 "render --stock --listener" -- "$mayfly" bridge render "$policy" --stock \
  --svid-dir /run/svid --listener CLIENTS
contains "$out" $'\nlistener.name.clients.ssl.principal.mapping.rules=RULE:' "listener prefix"

# render --stock --entries: subjects set, denied and unexpressible named.
cat >"$work/entries.yaml" <<'EOF'
entries:
  - spiffe_id: spiffe://prod.acme/ns/orders/sa/writer
    selectors: [unix:uid:1000]
    subject: CN={spiffe_id}
  - spiffe_id: spiffe://prod.acme/groups/ops
    selectors: [unix:uid:1001]
  - spiffe_id: spiffe://prod.acme/unknown
    selectors: [unix:uid:1002]
    subject: OU=mayfly-kafka-principal,CN=unknown
EOF
expect 1 "render with an unexpressible entry" -- "$mayfly" bridge render "$policy" \
  --stock --svid-dir /run/svid --entries "$work/entries.yaml" --entries-out "$work/out.yaml"
contains "$err" "mayfly: $work/entries.yaml:5: spiffe://prod.acme/groups/ops -> Group:ops: not expressible in stock mode (Group:ops: a stock broker makes User principals only); no subject for the broker's rule, so a stock broker refuses it" \
  "unexpressible entry named with its line"
contains "$err" "mayfly: $work/entries.yaml:7: spiffe://prod.acme/unknown: denied (unmapped): no rule matches, and unmapped is deny; no subject for the broker's rule (marked subject removed), so a stock broker refuses it" \
  "denied entry named with its line"
contains "$err" "1 entries map to principals a stock broker cannot give; nothing written" \
  "exit 1 says why"
equals "$out" "" "no properties when refusing"
equals "$([[ -e $work/out.yaml ]] && echo yes || echo no)" no "nothing written"

expect 0 "render --skip-unexpressible" -- "$mayfly" bridge render "$policy" --stock \
  --svid-dir /run/svid --entries "$work/entries.yaml" --entries-out "$work/out.yaml" \
  --skip-unexpressible
contains "$err" "mayfly: $work/entries.yaml:2: spiffe://prod.acme/ns/orders/sa/writer: subject \"CN={spiffe_id}\" replaced by \"OU=mayfly-kafka-principal,CN=orders.writer\"" \
  "replaced subject named"
contains "$err" "mayfly: wrote $work/out.yaml: 1 entries with a subject, 1 denied, 1 not expressible" \
  "summary line"
contains "$out" "ssl.principal.mapping.rules=" "properties printed too"
equals "$(cat "$work/out.yaml")" 'entries:
  - spiffe_id: spiffe://prod.acme/ns/orders/sa/writer
    selectors: [unix:uid:1000]
    subject: OU=mayfly-kafka-principal,CN=orders.writer
  - spiffe_id: spiffe://prod.acme/groups/ops
    selectors: [unix:uid:1001]
  - spiffe_id: spiffe://prod.acme/unknown
    selectors: [unix:uid:1002]' "entries written"

# The agent accepts the file it writes (subjects included).
cat >"$work/agent.yaml" <<YAML
trust_domain: prod.acme
socket_path: /run/mayfly-test/api.sock
state_dir: $work/state
entries_file: out.yaml
YAML
expect 0 "the agent loads the written entries" -- "$agent" --check-config "$work/agent.yaml"
equals "$out" "$work/agent.yaml: OK (3 entries from $work/out.yaml)" "agent check-config"

# The written file is the input of a second run: nothing changes.
expect 0 "render its own output" -- "$mayfly" bridge render "$policy" --stock \
  --svid-dir /run/svid --entries "$work/out.yaml" --entries-out "$work/out2.yaml" \
  --skip-unexpressible
equals "$(cat "$work/out2.yaml")" "$(cat "$work/out.yaml")" "rendering is idempotent"

printf 'entries_file: e.yaml\n' >"$work/config.yaml"
expect 1 "render a config without inline entries" -- "$mayfly" bridge render "$policy" \
  --stock --svid-dir /d --entries "$work/config.yaml" --entries-out "$work/x.yaml"
contains "$err" "$work/config.yaml:1: entries: not here: this config names an entries_file" \
  "entries error with file and line"

finish bridge_cli_test
