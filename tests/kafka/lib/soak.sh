# Case plugin_soak (issue 11): `mayfly kafka produce` and `mayfly kafka
# consume` against the plugin broker (lib/plugin.sh), which closes a
# connection whose client SVID has expired, on SVIDs of TTL
# $soak_client_ttl (10 s): an idempotent producer sends $soak_rate
# sequence-numbered messages a second for $soak_duration seconds to topic
# soak ($soak_partitions partitions), read by a consumer group of two
# members started first (the producer starts when the group is steady).
# Prints the two clients' summaries, then
#   lost=L duplicated=D rebalances=B auth_errors=A rotations=N
# and fails, saying which, if L, D, B or A is not 0, if a message was not
# delivered, if the broker closed a client connection for expiry, or if N
# is below the floor rotations_floor gives. tests/kafka/run_soak runs it
# alone, with --duration.
#
# Also the transport helpers the client benchmark (lib/client_bench.sh)
# shares:
#   client_transport MODE ID NAME   sets the array $transport: the flags for
#                                   MODE (none, files, mayfly) as ID; files
#                                   fetches one SVID into $run/svid/NAME
#   summary_of LOG KIND             the last "KIND: ..." line of LOG
#   field LINE NAME                 NAME's value in a summary line
#   await_exit PID SECONDS          until spawned PID exits (its status in
#                                   $exit_rc), stopping it after SECONDS
#                                   (then $exit_rc=124)
#
# Environment: KAFKA_E2E_SOAK_DURATION (60 s), KAFKA_E2E_SOAK_RATE (200),
# KAFKA_E2E_SOAK_TTL (10s, lib/plugin.sh).
soak_duration=${KAFKA_E2E_SOAK_DURATION:-60}
soak_rate=${KAFKA_E2E_SOAK_RATE:-200}
soak_partitions=6

client_transport() {
  local mode=$1 id=$2 name=$3
  case $mode in
    none) transport=(--tls none) ;;
    files)
      svid_fetch "$plugin_socket" "$id" "$run/svid/$name" || return 1
      # librdkafka checks the broker's chain against the bundle, and
      # mayfly's verify callback its SPIFFE ID.
      transport=(--tls files --svid-dir "$run/svid/$name"
        --broker-spiffe-id "$broker_id")
      ;;
    mayfly)
      transport=(--tls mayfly --socket "$plugin_socket" --spiffe-id "$id"
        --broker-spiffe-id "$broker_id")
      ;;
    *) return 1 ;;
  esac
}

summary_of() { grep "^$2: " "$1" | tail -n 1; }

field() {
  local rest=" $1"
  [[ $rest == *" $2="* ]] || return 1
  rest=${rest#*" $2="}
  echo "${rest%% *}"
}

# summaries_complete LINE FIELD...: whether LINE has each FIELD, a number.
summaries_complete() {
  local line=$1 name value
  shift
  for name in "$@"; do
    value=$(field "$line" "$name") && [[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
      return 1
  done
}

await_exit() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    stop_group "$pid"
    exit_rc=124
    return
  fi
  exit_rc=0
  wait "$pid" || exit_rc=$?
}

# rotations_floor SECONDS: the fewest rotations SECONDS of soak allow. A
# connection moves to a new SVID about every 5 s (at 60% of a 10 s SVID's
# life, counted from its issue), and we ask for 80% of that. Connections
# counted, the fewest each client certainly keeps open all along: the
# producer's one to the broker (librdkafka keeps using its bootstrap
# connection as the broker's, the address being the same), and for each of
# the two consumer members its connection to the broker plus its group
# coordinator's (a logical broker of its own in librdkafka, with its own
# connection, even to the same broker): 1 + 2 x 2 = 5. The
# members run longer than the producer (they start first and stop after
# the last message), which the floor does not count.
rotations_floor() {
  local connections=$((1 + 2 * 2))
  echo $((8 * connections * $1 / (10 * 5)))
}

# soak_closes: connections of the soak's IDs the broker closed for expiry.
soak_closes() {
  echo $(($(enforced_closes "$soak_producer_id") +
    $(enforced_closes "$soak_consumer_id")))
}

# soak_group COUNT: the consumer group, until it is steady; sets
# $consumer_pid. It stops at COUNT distinct messages, or after 30 s
# without one (some never came), or when the producer's time is long past.
soak_group() {
  local deadline=$((SECONDS + 60))
  client_transport mayfly "$soak_consumer_id" ""
  rm -f "$run/soak.ready"
  spawn "soak consumer" "$run/soak-consumer.log" "$bin/mayfly" kafka consume \
    --bootstrap "$plugin_bootstrap" --topic soak --group soak --members 2 \
    --count "$1" --expect "$1" --from-beginning --idle-timeout 30s \
    --duration "$((soak_duration * 3 / 2 + 120))s" \
    --ready-file "$run/soak.ready" "${transport[@]}"
  consumer_pid=$spawned_pid
  until [[ -e $run/soak.ready ]]; do
    if ((SECONDS >= deadline)) || ! kill -0 "$consumer_pid" 2>/dev/null; then
      stop_group "$consumer_pid"
      fail "the group never became steady: $(tail -n 3 "$run/soak-consumer.log")"
      return 1
    fi
    sleep 0.2
  done
}

# soak_verdict P C COUNT: the verdict line from the producer's summary P and
# the consumer's C; fails, naming each thing wrong.
soak_verdict() {
  local p=$1 c=$2 count=$3 lost dup reb auth rot floor wrong=()
  summaries_complete "$p" delivered failed rotations auth_errors &&
    summaries_complete "$c" distinct duplicated lost rebalances rotations \
      auth_errors || fail "a summary lacks a field: \"$p\", \"$c\"" || return
  lost=$(field "$c" lost) dup=$(field "$c" duplicated)
  reb=$(field "$c" rebalances)
  auth=$(($(field "$p" auth_errors) + $(field "$c" auth_errors)))
  rot=$(($(field "$p" rotations) + $(field "$c" rotations)))
  floor=$(rotations_floor "$soak_duration")
  echo "lost=$lost duplicated=$dup rebalances=$reb auth_errors=$auth rotations=$rot"
  ((lost == 0)) || wrong+=("lost=$lost")
  ((dup == 0)) || wrong+=("duplicated=$dup")
  ((reb == 0)) || wrong+=("rebalances=$reb")
  ((auth == 0)) || wrong+=("auth_errors=$auth")
  ((rot >= floor)) || wrong+=("rotations=$rot, below $floor")
  (($(field "$p" delivered) == count && $(field "$p" failed) == 0)) ||
    wrong+=("the producer delivered $(field "$p" delivered) of $count")
  (($(field "$c" distinct) == count)) ||
    wrong+=("the group got $(field "$c" distinct) distinct of $count")
  ((${#wrong[@]} == 0)) || fail "${wrong[*]}"
}

case_plugin_soak() {
  local count=$((soak_rate * soak_duration)) consumer_pid producer_pid
  local p c p_rc c_rc closes
  kafka_tool org.apache.kafka.tools.TopicCommand --create --if-not-exists \
    --topic soak --partitions "$soak_partitions" --replication-factor 1 \
    >"$run/soak-topic.log" 2>&1 ||
    fail "topic soak: $(tail -n 3 "$run/soak-topic.log")" || return
  closes=$(soak_closes)
  soak_group "$count" || return
  step "soak: group steady; $count messages at $soak_rate/s"
  client_transport mayfly "$soak_producer_id" ""
  spawn "soak producer" "$run/soak-producer.log" "$bin/mayfly" kafka produce \
    --bootstrap "$plugin_bootstrap" --topic soak --count "$count" \
    --rate "$soak_rate" --idempotent --acks all "${transport[@]}"
  producer_pid=$spawned_pid
  await_exit "$producer_pid" $((soak_duration * 3 / 2 + 60))
  p_rc=$exit_rc
  await_exit "$consumer_pid" 60
  c_rc=$exit_rc
  p=$(summary_of "$run/soak-producer.log" produce) || true
  c=$(summary_of "$run/soak-consumer.log" consume) || true
  echo "soak: ${p:-no producer summary} (exit $p_rc)"
  echo "soak: ${c:-no consumer summary} (exit $c_rc)"
  closes=$(($(soak_closes) - closes))
  echo "soak: connections closed by the broker for expiry: $closes"
  soak_verdict "$p" "$c" "$count" || return
  ((closes == 0)) || fail "the broker closed $closes connection(s)" || return
  ((p_rc == 0 && c_rc == 0)) ||
    fail "exit status: producer $p_rc, consumer $c_rc"
}
