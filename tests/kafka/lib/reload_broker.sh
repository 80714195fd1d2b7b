#!/usr/bin/env bash
# The --exec command of the broker's `mayfly watch x509`: makes the broker
# reload both listeners' key, chain and trust bundle after the files
# changed, through Kafka's dynamic broker config (KIP-226).
#
#   reload_broker.sh RUN_DIR
#
# Once the broker is up (RUN_DIR/broker.ready): `mayfly bridge reload-broker`
# for the CLIENTS listener, then the CONTROLLER listener, each checked by a
# new handshake on that listener. Before that, while the broker starts,
# only the controller listener answers, and librdkafka cannot talk to a
# KRaft controller (that needs KIP-919's --bootstrap-controller): a rotation
# during a slow start goes through Kafka's own ConfigCommand, so the broker
# can still register with its controller. reload.log says which tool did
# each reload (case broker_rotation counts only mayfly's). Before there is
# a broker (no RUN_DIR/broker.env) there is nothing to reload.
set -euo pipefail
run=$1
[[ -f $run/broker.env ]] || exit 0
# shellcheck disable=SC1091 # written by broker_start
source "$run/broker.env"
start_ns=$(date +%s%N)
rc=0
if [[ -f $run/broker.ready ]]; then
  tool=mayfly
  for listener in CLIENTS:$bootstrap CONTROLLER:$controller; do
    "$run/bin/mayfly" bridge reload-broker --bootstrap "$bootstrap" \
      --node-id "$node_id" --svid-dir "$svid_dir" --listener "${listener%%:*}" \
      --served-at "${listener#*:}" --broker-spiffe-id "$broker_spiffe_id" \
      --timeout 10s >>"$run/reload.out" 2>&1 || rc=$?
  done
else
  tool=ConfigCommand
  settings() {
    echo "listener.name.$1.ssl.keystore.location=$svid_dir/svid_keystore.pem,listener.name.$1.ssl.truststore.location=$svid_dir/svid_bundle.pem"
  }
  # --foreground: stays in the watch's process group, which stop_all signals.
  timeout --foreground 20 java -Xmx128m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$run/tools-log4j2.xml" -cp "$(cat "$run/classpath")" \
    org.apache.kafka.tools.ConfigCommand --bootstrap-controller "$controller" \
    --command-config "$run/admin.properties" \
    --entity-type brokers --entity-name "$node_id" --alter --add-config \
    "$(settings clients),$(settings controller)" \
    >>"$run/reload.out" 2>&1 || rc=$?
fi
serial=$(openssl x509 -in "$svid_dir/svid.pem" -noout -serial | cut -d= -f2)
echo "$(date +%T) tool=$tool rc=$rc serial=$serial took=$((($(date +%s%N) - start_ns) / 1000000))ms" \
  >>"$run/reload.log"
if ((rc != 0)) && [[ $tool == ConfigCommand ]]; then
  # The controller may not listen yet; the broker reads the files at start.
  echo "$(date +%T) broker not up yet; the failure above is ignored" >>"$run/reload.log"
  exit 0
fi
exit "$rc"
