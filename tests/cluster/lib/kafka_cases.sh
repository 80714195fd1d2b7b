# The cases of tests/cluster/run_kafka, against the three brokers of
# lib/kafka_nodes.sh. Conventions as lib/cases.sh: a case returns 0 with
# $why empty when it passes, or sets $why (fail).
#
# Clients run on nodes 4 and 5 under uids of their own, with SVIDs from
# their node's agent through the client library (`--tls mayfly`).
kc_producer_id=spiffe://$td/ns/soak/sa/producer
kc_consumer_id=spiffe://$td/ns/soak/sa/consumer
kc_victim_id=spiffe://$td/ns/soak/sa/victim
kc_producer_uid=6101
kc_consumer_uid=6102
kc_victim_uid=6103
kc_client_ttl=${CLUSTER_KAFKA_CLIENT_TTL:-10s}
# The soak: messages a second for how long; the faults are spread over it.
kc_soak_seconds=${CLUSTER_KAFKA_SOAK_SECONDS:-200}
kc_soak_rate=${CLUSTER_KAFKA_SOAK_RATE:-100}

# kc_policy FILE: the cluster's policy: brokers are kafka/*, super users;
# each workload of namespace NS and service account SA is User:NS.SA.
kc_policy() {
  cat >"$1" <<YAML
trust_domains: [$td]
brokers: [spiffe://$td/kafka/*]
principals:
  - id: spiffe://$td/kafka/*
    principal: User:broker
  - id: spiffe://$td/ns/{ns}/sa/{sa}
    principal: User:{ns}.{sa}
unmapped: deny
super_users: [User:broker]
acls:
YAML
  policy_grant User:soak.producer topic soak literal "write, describe" >>"$1"
  policy_grant User:soak.consumer topic soak literal "read, describe" >>"$1"
  policy_grant User:soak.consumer group soak literal read >>"$1"
  policy_grant User:soak.victim topic victim literal "write, describe" >>"$1"
}

# kc_client NODE UID ID: sets $kc_cmd to `mayfly kafka` run on NODE as UID
# and $kc_flags to its flags for ID's SVIDs from NODE's agent, every broker
# checked against the policy's brokers: "${kc_cmd[@]}" SUBCOMMAND ...
# "${kc_flags[@]}".
kc_client() {
  local node=$1 uid=$2 id=$3
  kc_cmd=(ip netns exec "${net_tag}n$node" setpriv --reuid "$uid"
    --regid "$uid" --clear-groups "$bin/mayfly" kafka)
  kc_flags=(--bootstrap "$kc_bootstrap" --tls mayfly
    --socket "$run/node$node/api.sock" --spiffe-id "$id"
    --broker-spiffe-id "spiffe://$td/kafka/*")
}

# kc_log_ms LINE: the epoch milliseconds of a broker log line's
# "[YYYY-MM-DD HH:MM:SS,mmm]" (log4j's default, the machine's zone).
kc_log_ms() {
  local stamp=${1#[}
  stamp=${stamp%%]*}
  echo $(($(date -d "${stamp%,*}" +%s) * 1000 + 10#${stamp#*,}))
}

# 1. `mayfly bridge apply` against the three brokers: each broker lists
# the policy's ACLs (Kafka's own kafka-acls, asked of that broker alone),
# and a second apply has nothing to do.
case_kafka_apply() {
  local out n want=()
  out=$("$bin/mayfly" bridge apply "$kc_policy_file" --bootstrap "$kc_bootstrap" \
    --svid-dir "$run/node1/svid-broker" 2>&1) || fail "apply: $out" || return
  echo "cluster: apply: $(grep '^plan:' <<<"$out")" >&2
  [[ $out == *"plan: 7 to create, 0 to delete"* ]] ||
    fail "apply: ${out//$'\n'/; }" || return
  want=("ALLOW User:soak.consumer DESCRIBE TOPIC soak LITERAL"
    "ALLOW User:soak.consumer READ GROUP soak LITERAL"
    "ALLOW User:soak.consumer READ TOPIC soak LITERAL"
    "ALLOW User:soak.producer DESCRIBE TOPIC soak LITERAL"
    "ALLOW User:soak.producer WRITE TOPIC soak LITERAL"
    "ALLOW User:soak.victim DESCRIBE TOPIC victim LITERAL"
    "ALLOW User:soak.victim WRITE TOPIC victim LITERAL")
  for n in 1 2 3; do
    bootstrap="$(node_addr "$n"):$kc_port"
    if ! await_listed --exactly "${want[@]}"; then
      bootstrap=$kc_bootstrap
      fail "broker $n lists: ${listed//$'\n'/; }"
      return 1
    fi
  done
  bootstrap=$kc_bootstrap
  out=$("$bin/mayfly" bridge apply "$kc_policy_file" --bootstrap "$kc_bootstrap" \
    --svid-dir "$run/node2/svid-broker" 2>&1) || fail "second apply: $out" ||
    return
  [[ $out == *"plan: nothing to do"* ]] ||
    fail "second apply did something: ${out//$'\n'/; }" || return
}

# kc_metrics: what the fleet exports about renewal, one "WHERE NAME VALUE"
# line each: both replicas' and the agents' Prometheus metrics, each
# broker's plugin metrics on its JMX.
kc_metrics() {
  local name n
  for name in a b; do
    server_metrics "$name" | awk -v w="server-$name" '
      $1 ~ /^mayfly_server_(svids_signed_total|intermediate_expiry_seconds|bundle_root_earliest_expiry_seconds)$/ {
        print w, $1, $2 }'
  done
  for n in 1 2 3 4 5; do
    agent_metrics "$n" | awk -v w="agent-$n" '
      $1 ~ /^mayfly_agent_(server_svid_soonest_expiry_seconds|bundle_root_earliest_expiry_seconds|server_signed_svids_total)$/ {
        print w, $1, $2 }'
  done
  for n in 1 2 3; do
    kc_jmx "$n" | awk -v w="broker-$n" '
      $1 ~ /^(svid-not-after-seconds|bundle-root-not-after-seconds)$/ {
        print w, $1, $2 }'
  done
}

# 3. Fleet visibility: against what they were before the soak
# ($run/metrics.before, sampled at set-up), each metric that says "this
# node or broker is renewing" has moved forward: every agent's and broker's
# soonest NotAfter and signed count, both replicas' intermediate and every
# bundle root after the rotation, replica a's signed count (b's restarted).
# With step-ca (no rotation) the roots stay; the intermediates move by
# their renewals.
case_kafka_metrics() {
  local after stuck missing
  kc_metrics >"$run/metrics.after"
  echo "cluster: metrics before -> after the soak:" >&2
  join -j1 <(awk '{ print $1 "/" $2, $3 }' "$run/metrics.before" | sort) \
    <(awk '{ print $1 "/" $2, $3 }' "$run/metrics.after" | sort) |
    sed 's/^/cluster:   /' >&2
  missing=$(awk '{ print $1 "/" $2 }' "$run/metrics.before" | sort |
    comm -3 - <(awk '{ print $1 "/" $2 }' "$run/metrics.after" | sort))
  [[ -z $missing ]] || fail "metrics not on both sides: ${missing//$'\n'/ }" ||
    return
  (($(wc -l <"$run/metrics.after") == 2 * 3 + 5 * 3 + 3 * 2)) ||
    fail "$(wc -l <"$run/metrics.after") metrics, want 27" || return
  stuck=$(join -j1 <(awk '{ print $1 "/" $2, $3 }' "$run/metrics.before" | sort) \
    <(awk '{ print $1 "/" $2, $3 }' "$run/metrics.after" | sort) |
    awk -v roots="$([[ $upstream == admin ]] && echo 1)" '
      $1 == "server-b/mayfly_server_svids_signed_total" { next }
      !roots && $1 ~ /bundle[-_]root/ { next }
      !($3 + 0 > $2 + 0) { print $1 }')
  [[ -z $stuck ]] || fail "did not move forward: ${stuck//$'\n'/ }" || return
}
