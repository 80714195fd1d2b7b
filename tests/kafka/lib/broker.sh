# A single-node KRaft broker (combined broker and controller) from the
# Kafka 4.4.0 jars, on two loopback ports the kernel picks, with an SSL
# listener for clients (CLIENTS) and an SSL controller listener
# (CONTROLLER), both on the PEM files of one SVID directory.
#
#   broker_start PROPS SVID_DIR [DIR [CLASSPATH [PLAIN]]]
#       a broker with PROPS (what `mayfly bridge render` printed) added to
#       its configuration, its files in DIR ($run/broker), on CLASSPATH
#       ($classpath); PLAIN=plain adds a PLAINTEXT listener (PLAIN, on
#       $plain_bootstrap; the client benchmark's baseline, lib/plugin.sh);
#       sets $bootstrap, $controller, $broker_pid; writes
#       $run/broker.env (what reload_broker.sh reads) and, once the broker
#       is up, $run/broker.ready. With $broker_jmx_port set, the broker
#       serves JMX on 127.0.0.1:$broker_jmx_port (what JMX_PORT gives
#       bin/kafka-server-start.sh), without authentication: loopback only
#   broker_jmx_opts PORT                the JVM options for that
#   await_topic SVID_DIR TOPIC
#       until TOPIC has a leader: the super user (the broker's own SVID)
#       creates it by asking for its metadata (auto-create)
#   free_port [HOST]                    a port free at HOST (127.0.0.1) now
#   broker_write_log4j DIR              DIR/log4j2.xml: the two logs below
#
# Logs: DIR/broker.log (everything at INFO) and DIR/authorizer.log (kafka.authorizer.logger at DEBUG: one line per
# authorization decision, with its principal).
broker_node_id=1
broker_heap=${KAFKA_E2E_HEAP:-512m}
# Seconds the broker may take from `java` to "Kafka Server started":
# 15-20 s on an idle machine, more when the cores are shared.
broker_start_timeout=${KAFKA_E2E_START_TIMEOUT:-120}

# broker_jmx_opts PORT: one JVM option a line, as kafka-run-class.sh sets
# them for JMX_PORT, with the registry and the RMI server both on PORT and
# bound to loopback (the RMI stub names 127.0.0.1, not the host name).
broker_jmx_opts() {
  printf '%s\n' -Dcom.sun.management.jmxremote \
    -Dcom.sun.management.jmxremote.port="$1" \
    -Dcom.sun.management.jmxremote.rmi.port="$1" \
    -Dcom.sun.management.jmxremote.host=127.0.0.1 \
    -Djava.rmi.server.hostname=127.0.0.1 \
    -Dcom.sun.management.jmxremote.local.only=true \
    -Dcom.sun.management.jmxremote.authenticate=false \
    -Dcom.sun.management.jmxremote.ssl=false
}

free_port() {
  perl -MIO::Socket::INET -e \
    'print IO::Socket::INET->new(Listen => 1, LocalAddr => $ARGV[0],
       LocalPort => 0)->sockport, "\n"' "${1:-127.0.0.1}"
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what
# `kafka-storage random-uuid` prints), without starting a JVM for it. It
# may start with '-': pass it as --cluster-id=ID, never as a separate word.
cluster_id() {
  head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='
}

# broker_write_config PROPS DIR PORT CPORT [PLAIN_PORT]
broker_write_config() {
  local props=$1 dir=$2 port=$3 cport=$4 plain=""
  [[ -z ${5:-} ]] || plain=",PLAIN://127.0.0.1:$5"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$broker_node_id
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=CLIENTS://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport$plain
advertised.listeners=CLIENTS://127.0.0.1:$port$plain
listener.security.protocol.map=CLIENTS:SSL,CONTROLLER:SSL${plain:+,PLAIN:PLAINTEXT}
inter.broker.listener.name=CLIENTS
controller.listener.names=CONTROLLER
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  cat "$props" >>"$dir/server.properties"
  broker_write_log4j "$dir"
}

broker_write_log4j() {
  local dir=$1
  cat >"$dir/log4j2.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="broker" fileName="$dir/broker.log">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
    <File name="authorizer" fileName="$dir/authorizer.log">
      <PatternLayout pattern="[%d] %p %m%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="broker"/></Root>
    <Logger name="kafka.authorizer.logger" level="debug" additivity="false">
      <AppenderRef ref="authorizer"/>
    </Logger>
  </Loggers>
</Configuration>
XML
}

broker_start() {
  local props=$1 svid_dir=$2 dir=${3:-$run/broker} cp=${4:-$classpath}
  local port cport pport="" deadline next_progress
  mkdir -p "$dir"
  port=$(free_port)
  cport=$(free_port)
  while [[ $cport == "$port" ]]; do cport=$(free_port); done
  if [[ ${5:-} == plain ]]; then
    pport=$(free_port)
    while [[ $pport == "$port" || $pport == "$cport" ]]; do pport=$(free_port); done
    plain_bootstrap="127.0.0.1:$pport"
  fi
  broker_write_config "$props" "$dir" "$port" "$cport" "$pport"
  local java_opts=(-Dlog4j2.configurationFile="$dir/log4j2.xml")
  java -Xmx256m -XX:TieredStopAtLevel=1 "${java_opts[@]}" -cp "$cp" \
    kafka.tools.StorageTool format --standalone --cluster-id="$(cluster_id)" \
    -c "$dir/server.properties" >"$dir/format.log" 2>&1 || {
    echo "kafka: storage format failed:" >&2
    tail -n 20 "$dir/format.log" >&2
    return 1
  }
  [[ -z ${broker_jmx_port:-} ]] ||
    mapfile -t -O "${#java_opts[@]}" java_opts < <(broker_jmx_opts "$broker_jmx_port")
  spawn broker "$dir/stdout.log" java -Xmx"$broker_heap" -Xms"$broker_heap" \
    "${java_opts[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties"
  broker_pid=$spawned_pid
  local broker_started_at=$SECONDS
  bootstrap="127.0.0.1:$port"
  controller="127.0.0.1:$cport"
  # From now on a rotation reloads the listeners (reload_broker.sh; during
  # the start through the controller listener, up seconds before the broker
  # is): a start that takes longer than the SVID's lifetime must not leave
  # the broker on an expired certificate, which would make it fail its own
  # registration.
  cat >"$run/broker.env" <<ENV
bootstrap=$bootstrap
controller=$controller
node_id=$broker_node_id
svid_dir=$svid_dir
broker_spiffe_id=$broker_id
ENV
  deadline=$((SECONDS + broker_start_timeout))
  next_progress=$((SECONDS + 5))
  until grep -q 'Kafka Server started' "$dir/broker.log" 2>/dev/null; do
    if ! group_alive "$broker_pid"; then
      echo "kafka: the broker exited during start:" >&2
      tail -n 30 "$dir/broker.log" "$dir/stdout.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "kafka: no broker after ${broker_start_timeout}s:" >&2
      tail -n 30 "$dir/broker.log" >&2
      return 1
    fi
    if ((SECONDS >= next_progress)); then
      echo "kafka: waiting for the broker ($((SECONDS - broker_started_at))s)" >&2
      next_progress=$((SECONDS + 5))
    fi
    sleep 0.2
  done
  touch "$run/broker.ready"
}

await_topic() {
  local dir=$1 topic=$2 deadline=$((SECONDS + 30))
  until "$bin/probe" metadata --svid-dir "$dir" --bootstrap "$bootstrap" \
    --broker-spiffe-id "$broker_id" --topic "$topic" --timeout 5 \
    >"$run/create.log" 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "kafka: topic $topic never became ready: $(cat "$run/create.log")" >&2
      return 1
    fi
    sleep 0.5
  done
  step "topic $topic ready"
}
