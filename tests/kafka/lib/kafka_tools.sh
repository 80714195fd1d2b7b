# Kafka's own command-line tools (from kafka-tools on the classpath), as the
# super user: the broker's SVID, through PEM client settings. Checks made
# with them do not go through Mayfly's code.
#
#   write_admin_properties SVID_DIR   $run/admin.properties (--command-config)
#   kafka_tool CLASS ARGS...          runs CLASS against $bootstrap
#   grant_acls                        the policy's ACLs on the broker
write_admin_properties() {
  cat >"$run/admin.properties" <<PROPS
security.protocol=SSL
ssl.keystore.type=PEM
ssl.keystore.location=$1/svid_keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$1/svid_bundle.pem
ssl.endpoint.identification.algorithm=
PROPS
  # The tools log warnings to stderr only (the broker's file is the broker's).
  cat >"$run/tools-log4j2.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders><Console name="err" target="SYSTEM_ERR">
    <PatternLayout pattern="%p %m (%c)%n"/></Console></Appenders>
  <Loggers><Root level="warn"><AppenderRef ref="err"/></Root></Loggers>
</Configuration>
XML
}

kafka_tool() {
  local class=$1
  shift
  # A short-lived JVM: C1 only starts faster, and a tool needs little heap.
  # --foreground: timeout stays in our process group, so stop_all reaches it.
  timeout --foreground 60 java -Xmx128m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$run/tools-log4j2.xml" -cp "$classpath" \
    "$class" --bootstrap-server "$bootstrap" \
    --command-config "$run/admin.properties" "$@"
}

# The ACLs of tests/kafka/testdata/policy.yaml, with kafka-acls for now: the
# one place to switch to `mayfly bridge apply POLICY --bootstrap B
# --svid-dir DIR`. Idempotent, and done once per run.
grant_acls() {
  [[ -f $run/acls.done ]] && return 0
  kafka_tool org.apache.kafka.tools.AclCommand --add \
    --allow-principal User:orders.writer --operation Write \
    --operation Describe --topic orders >"$run/acls.log" 2>&1 || {
    echo "kafka: kafka-acls failed:" >&2
    tail -n 20 "$run/acls.log" >&2
    return 1
  }
  touch "$run/acls.done"
}
