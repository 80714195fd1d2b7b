#!/usr/bin/env bash
# The --exec command of the broker's `mayfly watch x509`: makes the broker
# reload both listeners' key, chain and trust bundle after the files
# changed, through Kafka's dynamic broker config (KIP-226): altering
# listener.name.L.ssl.keystore.location and ssl.truststore.location for
# L = clients and controller (to the same values each time; the broker
# reloads a file whose modification time changed).
#
#   reload_broker.sh RUN_DIR
#
# It talks to the controller listener (--bootstrap-controller), which is up
# seconds before the broker can take requests: rotations during a slow start
# reach the listeners too. Before there is a broker (no RUN_DIR/broker.env)
# there is nothing to reload (the broker reads the files when it starts);
# a failure before the broker is up (no RUN_DIR/broker.ready) is logged and
# ignored (the controller may not listen yet), a failure after it fails the
# watch. One line per attempt in RUN_DIR/reload.log. This is the one place
# to switch to `mayfly bridge reload-broker --bootstrap B --node-id N
# --svid-dir DIR`.
set -euo pipefail
run=$1
[[ -f $run/broker.env ]] || exit 0
# shellcheck disable=SC1091 # written by broker_start
source "$run/broker.env"
settings() {
  echo "listener.name.$1.ssl.keystore.location=$svid_dir/svid_keystore.pem,listener.name.$1.ssl.truststore.location=$svid_dir/svid_bundle.pem"
}
start_ns=$(date +%s%N)
# --foreground: stays in the watch's process group, which stop_all signals.
rc=0
timeout --foreground 20 java -Xmx128m -XX:TieredStopAtLevel=1 \
  -Dlog4j2.configurationFile="$run/tools-log4j2.xml" -cp "$(cat "$run/classpath")" \
  org.apache.kafka.tools.ConfigCommand --bootstrap-controller "$controller" \
  --command-config "$run/admin.properties" \
  --entity-type brokers --entity-name "$node_id" --alter --add-config \
  "$(settings clients),$(settings controller)" \
  >>"$run/reload.out" 2>&1 || rc=$?
serial=$(openssl x509 -in "$svid_dir/svid.pem" -noout -serial | cut -d= -f2)
echo "$(date +%T) rc=$rc serial=$serial took=$((($(date +%s%N) - start_ns) / 1000000))ms" \
  >>"$run/reload.log"
if ((rc != 0)) && [[ ! -f $run/broker.ready ]]; then
  echo "$(date +%T) broker not up yet; the failure above is ignored" >>"$run/reload.log"
  exit 0
fi
exit "$rc"
