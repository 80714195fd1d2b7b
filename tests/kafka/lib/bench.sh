# Case plugin_bench: what the broker plugin costs. The plugin broker against
# a stock-SSL broker (Kafka's own engine, static PEM files, StandardAuthorizer,
# DN principals) started beside it on the same machine, JVM settings and
# agent CA, driven by the same librdkafka client with the same SVID. Rounds
# alternate between them, so load on the machine hits both alike; both are
# warmed up alike first (the plugin broker has run the other cases, the
# stock one has just started). Each client is a super user on its broker
# (User:broker by the policy; User:O=Mayfly by super.users), so both
# authorize the same way. A round is two `probe bench` runs: throughput
# (KAFKA_E2E_BENCH_COUNT messages of 100 bytes as fast as they go), then
# latency (KAFKA_E2E_BENCH_PACED messages at KAFKA_E2E_BENCH_RATE a second;
# its p99 is the one reported).
#
# Prints each run, then
#   plugin_bench: stock_msgs_per_s=A plugin_msgs_per_s=B throughput_ratio=B/A
#     stock_p99_ms=C plugin_p99_ms=D p99_ratio=D/C target=met|missed
# from the medians of the rounds. The case fails only if a run fails (the
# 5% target is reported, not enforced: two shared cores are noisy).
#
# Environment: KAFKA_E2E_BENCH_COUNT (200000), KAFKA_E2E_BENCH_PACED (4000),
# KAFKA_E2E_BENCH_RATE (2000), KAFKA_E2E_BENCH_ROUNDS (3 per broker, after
# KAFKA_E2E_BENCH_WARMUP (4) not counted). These defaults are CI's short
# mode; docs/benchmarks.md gives a longer run's settings and figures.
bench_count=${KAFKA_E2E_BENCH_COUNT:-200000}
bench_paced=${KAFKA_E2E_BENCH_PACED:-4000}
bench_rate=${KAFKA_E2E_BENCH_RATE:-2000}
bench_rounds=${KAFKA_E2E_BENCH_ROUNDS:-3}
bench_warmup=${KAFKA_E2E_BENCH_WARMUP:-4}

# bench_run BOOTSTRAP ARGS...: one `probe bench` run; its line in $out.
bench_run() {
  local address=$1
  shift
  probe_rc=0
  out=$("$bin/probe" bench --svid-dir "$run/svid/bench-client" \
    --bootstrap "$address" --broker-spiffe-id "$broker_id" --topic bench \
    --timeout 30 "$@" 2>>"$run/bench-probe.log") || probe_rc=$?
  out=${out//$'\n'/; }
}

# median FIELD NAME KIND [LOG]: the median of FIELD over NAME's counted KIND
# runs (throughput or latency) in LOG ($run/bench.log): lines "NAME KIND
# ... FIELD=VALUE ...".
median() {
  sed -n "s/^$2 $3 .* $1=\([0-9.]*\).*/\1/p" "${4:-$run/bench.log}" | sort -g |
    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

case_plugin_bench() {
  local saved_bootstrap=$bootstrap saved_controller=$controller
  local saved_pid=$broker_pid stock_bootstrap stock_pid name target i
  # Static SVIDs of an hour from the agent's CA: the stock broker cannot
  # reload, and the client must not be closed for expiry mid-round.
  "$bin/mayfly" svid mint --ca-dir "$plugin_ca" --id "$broker_id" --ttl 1h \
    --out "$run/svid/bench-broker" >/dev/null &&
    "$bin/mayfly" svid mint --ca-dir "$plugin_ca" --id "$broker_id" \
      --ttl 1h --out "$run/svid/bench-client" >/dev/null ||
    fail "svid mint failed" || return
  cat "$run/svid/bench-broker/svid_key.pem" "$run/svid/bench-broker/svid.pem" \
    >"$run/svid/bench-broker/svid_keystore.pem"
  cat >"$run/bench-stock.properties" <<PROPS
ssl.keystore.type=PEM
ssl.keystore.location=$run/svid/bench-broker/svid_keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$run/svid/bench-broker/svid_bundle.pem
ssl.client.auth=required
ssl.endpoint.identification.algorithm=
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:O=Mayfly
PROPS
  step "starting a stock-SSL broker beside the plugin broker (plugin_bench)"
  broker_start "$run/bench-stock.properties" "$run/svid/bench-broker" \
    "$run/sbroker" || fail "the stock broker did not start" || return
  stock_bootstrap=$bootstrap
  stock_pid=$broker_pid
  bootstrap=$saved_bootstrap controller=$saved_controller
  broker_pid=$saved_pid
  # The monitor's handshakes would load the plugin broker only, and so
  # would the background producer if still running (it is done by the time
  # plugin_broker_rotation has passed; when run alone, it is stopped).
  stop_group "$monitor_pid"
  stop_group "$background_pid"
  : >"$run/bench.log"
  local address kind
  for ((i = 1; i <= bench_warmup + bench_rounds; i++)); do
    for name in stock plugin; do
      address=$stock_bootstrap
      [[ $name == plugin ]] && address=$plugin_bootstrap
      for kind in throughput latency; do
        # Warm-up rounds only push throughput.
        ((i > bench_warmup)) || [[ $kind == throughput ]] || continue
        if [[ $kind == throughput ]]; then
          bench_run "$address" --count "$bench_count"
        else
          bench_run "$address" --count "$bench_paced" --rate "$bench_rate"
        fi
        if ((probe_rc != 0)); then
          fail "$name $kind run $i: exit $probe_rc: $out"
          break 3
        fi
        ((i <= bench_warmup)) || echo "$name $kind $out" >>"$run/bench.log"
        echo "kafka: bench $name $kind $((i > bench_warmup ? i - bench_warmup : 0)): $out" >&2
      done
    done
  done
  start_monitor
  stop_group "$stock_pid"
  [[ -z $why ]] || return 1
  local st pt sp pp
  st=$(median msgs_per_s stock throughput)
  pt=$(median msgs_per_s plugin throughput)
  sp=$(median p99_ms stock latency)
  pp=$(median p99_ms plugin latency)
  target=$(awk -v st="$st" -v pt="$pt" -v sp="$sp" -v pp="$pp" \
    'BEGIN { print (pt >= 0.95 * st && pp <= 1.05 * sp) ? "met" : "missed" }')
  printf 'plugin_bench: stock_msgs_per_s=%s plugin_msgs_per_s=%s throughput_ratio=%s stock_p99_ms=%s plugin_p99_ms=%s p99_ratio=%s target=%s\n' \
    "$st" "$pt" "$(awk -v a="$pt" -v b="$st" 'BEGIN { printf "%.3f", a / b }')" \
    "$sp" "$pp" "$(awk -v a="$pp" -v b="$sp" 'BEGIN { printf "%.3f", a / b }')" \
    "$target" | tee -a "$run/bench.log" >&2
}
