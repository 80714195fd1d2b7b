# A three-node Kafka cluster on the cluster harness's nodes: node N (1..3)
# runs a combined KRaft broker and controller (Kafka 4.4.0 with the Mayfly
# broker plugin) on its own address, its SVID from node N's agent (server
# mode) kept by `mayfly watch x509 --write`. Every listener, the
# controllers' and the brokers' traffic to each other included, is TLS on
# SVIDs; the plugin checks each peer against the policy's brokers.
#
#   kc_setup POLICY              entries, SVID watches, formatted storage and
#                                the three brokers (started together: each
#                                needs a quorum of controllers); sets
#                                $kc_bootstrap; $run/admin.properties is the
#                                super user's (broker 1's SVID)
#   kc_broker_start N            broker N on its existing storage, until it
#                                logs "Kafka Server started"
#   kc_broker_stop N             TERM (a controlled shutdown), then waits
#   kc_stop_brokers              TERM to all three at once (from a trap: one
#                                at a time, the last would wait for a quorum)
#   kc_broker_id N               broker N's SPIFFE ID
#   kc_broker_dir N              its directory (broker.log, authorizer.log)
#   kc_await_in_sync SECONDS     until no partition is under-replicated
#   kc_jmx N                     the plugin's metrics on broker N's JMX
#                                (Kafka's JmxTool), "NAME VALUE" lines
#
# Needs $run, $bin, $td, $classpath, $plugin_jar and the procs.sh, net.sh,
# fleet.sh, broker.sh (cluster_id, broker_write_log4j) and kafka_tools.sh
# functions. Ports are fixed: each node has a network namespace of its own.
kc_port=9092
kc_controller_port=9093
# JMX, on each node's own loopback (kc_jmx reads it from inside).
kc_jmx_port=9999
kc_broker_ttl=${CLUSTER_KAFKA_BROKER_TTL:-30s}
kc_heap=${CLUSTER_KAFKA_HEAP:-512m}
kc_start_timeout=${CLUSTER_KAFKA_START_TIMEOUT:-180}
declare -A kc_pid=()

kc_broker_id() { echo "spiffe://$td/kafka/broker-$1"; }
kc_broker_dir() { echo "$run/kafka$1"; }

# kc_write_config N POLICY CLUSTER_ID: server.properties, log4j2.xml and the
# formatted log directory of broker N.
kc_write_config() {
  local n=$1 policy=$2 id=$3 dir addr voters="" i
  dir=$(kc_broker_dir "$n")
  addr=$(node_addr "$n")
  for i in 1 2 3; do
    voters+="${voters:+,}$i@$(node_addr "$i"):$kc_controller_port"
  done
  mkdir -p "$dir"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=CLIENTS://$addr:$kc_port,CONTROLLER://$addr:$kc_controller_port
advertised.listeners=CLIENTS://$addr:$kc_port
listener.security.protocol.map=CLIENTS:SSL,CONTROLLER:SSL
inter.broker.listener.name=CLIENTS
controller.listener.names=CONTROLLER
log.dirs=$dir/data
auto.create.topics.enable=false
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
PROPS
  "$bin/mayfly" bridge render "$policy" --broker \
    --svid-dir "$run/node$n/svid-broker" --broker-spiffe-id "$(kc_broker_id "$n")" \
    >>"$dir/server.properties" || return
  broker_write_log4j "$dir"
  java -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$dir/log4j2.xml" -cp "$classpath:$plugin_jar" \
    kafka.tools.StorageTool format --cluster-id="$id" \
    -c "$dir/server.properties" >"$dir/format.log" 2>&1 || {
    echo "cluster: broker $n: storage format failed:" >&2
    tail -n 20 "$dir/format.log" >&2
    return 1
  }
}

# kc_spawn N: broker N's JVM in node N's namespace (not waiting).
kc_spawn() {
  local n=$1 dir
  dir=$(kc_broker_dir "$n")
  local jmx=()
  mapfile -t jmx < <(broker_jmx_opts "$kc_jmx_port")
  spawn "broker-$n" "$dir/stdout.log.$SECONDS" ip netns exec "${net_tag}n$n" \
    java -Xmx"$kc_heap" -Xms"$kc_heap" "${jmx[@]}" \
    -Dlog4j2.configurationFile="$dir/log4j2.xml" \
    -cp "$classpath:$plugin_jar" kafka.Kafka "$dir/server.properties"
  kc_pid[$n]=$spawned_pid
}

# kc_await_started N SINCE: until broker N has logged "Kafka Server started"
# more than SINCE times (its log is appended to across restarts).
kc_await_started() {
  local n=$1 since=$2 dir deadline=$((SECONDS + kc_start_timeout))
  dir=$(kc_broker_dir "$n")
  until (($(grep -c 'Kafka Server started' "$dir/broker.log" 2>/dev/null) > since)); do
    if ! group_alive "${kc_pid[$n]}"; then
      echo "cluster: broker $n exited during start:" >&2
      tail -n 30 "$dir/broker.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "cluster: broker $n not started after ${kc_start_timeout}s:" >&2
      tail -n 30 "$dir/broker.log" >&2
      return 1
    fi
    sleep 0.5
  done
}

kc_started_count() {
  grep -c 'Kafka Server started' "$(kc_broker_dir "$1")/broker.log" 2>/dev/null ||
    true
}

kc_broker_start() {
  local n=$1 since
  since=$(kc_started_count "$n")
  kc_spawn "$n"
  kc_await_started "$n" "$since"
}

kc_broker_stop() { stop_group "${kc_pid[$1]}" 60; }

kc_stop_brokers() {
  local n deadline=$((SECONDS + 30))
  for n in "${!kc_pid[@]}"; do
    kill -TERM -- "-${kc_pid[$n]}" 2>/dev/null || true
  done
  for n in "${!kc_pid[@]}"; do
    while group_alive "${kc_pid[$n]}" && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL -- "-${kc_pid[$n]}" 2>/dev/null || true
  done
  return 0
}

# kc_entry NODE UID ID TTL: a registration entry for ID, parented to NODE's
# agent, for processes of UID there.
kc_entry() {
  local out
  out=$(admin a entry create --spiffe-id "$3" --parent "$(agent_id "$1")" \
    --selector "unix:uid:$2" --ttl "$4" 2>&1) || {
    echo "cluster: entry create $3: $out" >&2
    return 1
  }
  awk '$1 == "id:" { print $2; exit }' <<<"$out"
}

# kc_watch N: broker N's SVID kept in $run/nodeN/svid-broker by a watch on
# node N's agent, as root (the broker's uid); until its first set.
kc_watch() {
  local n=$1 dir=$run/node$1/svid-broker deadline=$((SECONDS + 30))
  spawn "watch-$n" "$run/node$n/watch.log" ip netns exec "${net_tag}n$n" \
    "$bin/mayfly" watch x509 --socket "$run/node$n/api.sock" \
    --spiffe-id "$(kc_broker_id "$n")" --write "$dir"
  until [[ -f $dir/svid_keystore.pem ]]; do
    if ((SECONDS >= deadline)) || ! group_alive "$spawned_pid"; then
      echo "cluster: no SVID for broker $n:" >&2
      tail -n 5 "$run/node$n/watch.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

kc_setup() {
  local policy=$1 n id
  for n in 1 2 3; do
    kc_entry "$n" 0 "$(kc_broker_id "$n")" "$kc_broker_ttl" >/dev/null || return
  done
  for n in 1 2 3; do kc_watch "$n" || return; done
  id=$(cluster_id)
  for n in 1 2 3; do kc_write_config "$n" "$policy" "$id" || return; done
  for n in 1 2 3; do kc_spawn "$n"; done
  for n in 1 2 3; do kc_await_started "$n" 0 || return; done
  kc_bootstrap="$(node_addr 1):$kc_port,$(node_addr 2):$kc_port,$(node_addr 3):$kc_port"
  # kafka_tool's (lib/kafka_tools.sh): Kafka's own tools as the super user.
  bootstrap=$kc_bootstrap
  write_admin_properties "$run/node1/svid-broker"
}

# kc_await_in_sync SECONDS: until Kafka reports no under-replicated
# partition (every replica back in its ISR).
kc_await_in_sync() {
  local deadline=$((SECONDS + $1)) out
  while true; do
    out=$(kafka_tool org.apache.kafka.tools.TopicCommand --describe \
      --under-replicated-partitions 2>&1) && [[ -z $out ]] && return 0
    if ((SECONDS >= deadline)); then
      echo "cluster: still under-replicated after $1 s: $out" >&2
      return 1
    fi
    sleep 1
  done
}

kc_jmx() {
  node_exec "$1" java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$classpath" \
    org.apache.kafka.tools.JmxTool --one-time true --report-format properties \
    --jmx-url "service:jmx:rmi:///jndi/rmi://127.0.0.1:$kc_jmx_port/jmxrmi" \
    --object-name 'kafka.server:type=plugins,*,role=broker' 2>>"$run/jmx.log" |
    sed -n 's/^kafka\.server:type=plugins,[^:]*:\([a-z-]*\)=\(.*\)$/\1 \2/p'
}
