# Plugin mode: a broker running the Mayfly broker plugin
# (kafka/broker-plugin), configured by `mayfly bridge render --broker`, on
# the vectors' policy (bridge/testdata/mapping_policy.yaml) with a few
# grants of the cases' own appended.
#
#   plugin_setup    builds the jar; a prod.acme agent of its own (a new CA,
#                   so root rotation starts from one root) with entries for
#                   the broker (TTL $plugin_broker_ttl), the cases' clients
#                   and every prod.acme vector the agent can mint; the
#                   broker's SVID kept by `mayfly watch x509 --write` with no
#                   --exec (the engine factory reads each new set itself);
#                   the broker (with a PLAINTEXT listener for the client
#                   benchmark's baseline); the policy's ACLs applied;
#                   topic orders;
#                   the monitor of served certificates and the background
#                   producer (case plugin_broker_rotation)
#
# Set for the cases: $plugin_jar, $plugin_socket, $plugin_ca, $pdir (the
# broker's directory), $plugin_policy, $plugin_started (SECONDS at the
# broker's start), $plugin_bootstrap, $plain_bootstrap (the PLAINTEXT
# listener), $plugin_jmx_port (the broker's JMX, case plugin_jmx_metrics),
# $monitor_pid, $background_pid; $run/admin.properties is the super user's
# (kafka_tool).
plugin_broker_ttl=${KAFKA_E2E_PLUGIN_BROKER_TTL:-30s}
# Clients whose SVIDs expire while they run (cases plugin_expiry,
# plugin_java_producer, plugin_ca_rotate).
plugin_client_ttl=${KAFKA_E2E_PLUGIN_CLIENT_TTL:-10s}
expiring_id=spiffe://prod.acme/ns/orders/sa/expiring
# Case plugin_jmx_metrics's expiring client (User:orders.lapsing): its own
# ID, so plugin_expiry's count of closes for $expiring_id stays its own.
lapsing_id=spiffe://prod.acme/ns/orders/sa/lapsing
streamer_id=spiffe://prod.acme/ns/orders/sa/streamer
# The soak's clients (lib/soak.sh): User:soak.producer, User:soak.consumer.
soak_producer_id=spiffe://prod.acme/ns/soak/sa/producer
soak_consumer_id=spiffe://prod.acme/ns/soak/sa/consumer
soak_client_ttl=${KAFKA_E2E_SOAK_TTL:-10s}
# The client benchmark's (lib/client_bench.sh): User:cbench.native, whose
# SVID outlives the run (librdkafka loads its certificate once), and
# User:cbench.mayfly, on short SVIDs that rotate.
cbench_native_id=spiffe://prod.acme/ns/cbench/sa/native
cbench_mayfly_id=spiffe://prod.acme/ns/cbench/sa/mayfly
# Case plugin_policy_reload's client, User:reload.victim until the case
# maps its ID to another principal; its SVIDs outlive the case, so only the
# policy change can close its connection.
reload_victim_id=spiffe://prod.acme/ns/reload/sa/victim

plugin_setup() {
  local uid id who
  uid=$(id -u)
  step "building the broker plugin (kafka/broker-plugin, tests skipped)"
  plugin_jar=$(bash "$repo/kafka/broker-plugin/build.sh" -DskipTests \
    2>"$run/plugin-build.log" | tail -n 1) && [[ -f $plugin_jar ]] || {
    echo "kafka: the plugin did not build:" >&2
    tail -n 30 "$run/plugin-build.log" >&2
    return 1
  }
  plugin_policy="$run/plugin-policy.yaml"
  # The vectors' policy, its rules untouched (so every vector means what it
  # says), with grants for the cases' clients.
  {
    cat "$repo/bridge/testdata/mapping_policy.yaml"
    policy_grant User:orders.expiring topic orders literal describe
    policy_grant User:orders.lapsing topic orders literal describe
    policy_grant User:orders.streamer topic orders literal "write, describe"
    policy_grant User:reload.victim topic orders literal "write, describe"
    policy_grant User:soak.producer topic soak literal "write, describe"
    policy_grant User:soak.consumer topic soak literal "read, describe"
    policy_grant User:soak.consumer group soak literal read
    for who in User:cbench.native User:cbench.mayfly; do
      policy_grant "$who" topic cbench- prefixed "write, read, describe"
      policy_grant "$who" group cbench- prefixed read
    done
  } >"$plugin_policy"
  "$bin/mayfly" bridge check "$plugin_policy" >/dev/null

  vectors_tsv plugin >"$run/plugin-vectors.tsv"
  {
    cat <<YAML
entries:
  - spiffe_id: $broker_id
    selectors: ["unix:uid:$uid"]
    ttl: $plugin_broker_ttl
  - spiffe_id: $expiring_id
    selectors: ["unix:uid:$uid"]
    ttl: $plugin_client_ttl
  - spiffe_id: $lapsing_id
    selectors: ["unix:uid:$uid"]
    ttl: $plugin_client_ttl
  - spiffe_id: $streamer_id
    selectors: ["unix:uid:$uid"]
    ttl: $plugin_client_ttl
  - spiffe_id: $soak_producer_id
    selectors: ["unix:uid:$uid"]
    ttl: $soak_client_ttl
  - spiffe_id: $soak_consumer_id
    selectors: ["unix:uid:$uid"]
    ttl: $soak_client_ttl
  - spiffe_id: $cbench_native_id
    selectors: ["unix:uid:$uid"]
    ttl: 50m
  - spiffe_id: $cbench_mayfly_id
    selectors: ["unix:uid:$uid"]
    ttl: $plugin_client_ttl
  - spiffe_id: $reload_victim_id
    selectors: ["unix:uid:$uid"]
    ttl: 10m
YAML
    while IFS=$'\t' read -r id _; do
      [[ $id == "$broker_id" ]] && continue
      printf '  - spiffe_id: "%s"\n    selectors: ["unix:uid:%s"]\n' "$id" "$uid"
    done <"$run/plugin-vectors.tsv"
  } >"$run/plugin-entries.yaml"

  step "starting mayfly-agent for the plugin broker (prod.acme, a new CA)"
  agent_start pprod prod.acme "$run/plugin-entries.yaml" \
    "root_rotation_lead: 2s"
  plugin_socket=$agent_socket
  plugin_ca="$run/pprod/state/ca"
  spawn "plugin broker watch" "$run/pwatch.log" "$bin/mayfly" watch x509 \
    --socket "$plugin_socket" --spiffe-id "$broker_id" \
    --write "$run/svid/pbroker"
  await_svid_written "$run/svid/pbroker" "$spawned_pid" "$run/pwatch.log"
  # The servers the broker's own connections reach (in this one combined
  # KRaft node, itself as controller) are checked against the policy's
  # brokers.
  "$bin/mayfly" bridge render "$plugin_policy" --broker \
    --svid-dir "$run/svid/pbroker" --broker-spiffe-id "$broker_id" \
    >"$run/plugin.properties"

  step "starting the broker with the plugin"
  pdir="$run/pbroker"
  plugin_started=$SECONDS
  plugin_jmx_port=$(free_port)
  broker_jmx_port=$plugin_jmx_port broker_start "$run/plugin.properties" \
    "$run/svid/pbroker" "$pdir" "$classpath:$plugin_jar" plain
  write_admin_properties "$run/svid/pbroker"
  step "plugin broker up on $bootstrap"
  plugin_bootstrap=$bootstrap
  plugin_controller=$controller
  "$bin/mayfly" bridge apply "$plugin_policy" --bootstrap "$bootstrap" \
    --svid-dir "$run/svid/pbroker" >"$run/plugin-apply.log" 2>&1 || {
    echo "kafka: bridge apply on the plugin broker failed:" >&2
    cat "$run/plugin-apply.log" >&2
    return 1
  }
  await_topic "$run/svid/pbroker" orders

  # What the broker serves on each listener, once a second, for the whole
  # group: "EPOCH LISTENER SERIAL NOTAFTER_EPOCH" lines in served.log.
  start_monitor
  # A client producing all along (case plugin_broker_rotation judges it).
  svid_fetch "$plugin_socket" "$writer_id" "$run/svid/pwriter"
  spawn "background producer" "$run/background.log" "$bin/probe" produce \
    --svid-dir "$run/svid/pwriter" --bootstrap "$bootstrap" \
    --broker-spiffe-id "$broker_id" --topic orders \
    --duration "$(background_seconds)" --rate 20 --timeout 10
  background_pid=$spawned_pid
}

# policy_grant PRINCIPAL TYPE NAME PATTERN OPERATIONS: one grant (allow) of
# the policy's acls, as YAML.
policy_grant() {
  printf '  - principal: %s\n    resource: {type: %s, name: %s, pattern: %s}\n' \
    "$1" "$2" "$3" "$4"
  printf '    operations: [%s]\n    permission: allow\n' "$5"
}

# start_monitor: the monitor of served certificates (lib/served.sh) on the
# plugin broker's two listeners; pid in $monitor_pid. Case plugin_bench
# stops it while it measures.
start_monitor() {
  spawn "certificate monitor" "$run/monitor.log" bash -c \
    "source '$here/lib/served.sh'; monitor_served '$run/svid/pbroker' \
       '$run/served' '$run/served.log' CLIENTS=$plugin_bootstrap \
       CONTROLLER=$plugin_controller"
  monitor_pid=$spawned_pid
}
