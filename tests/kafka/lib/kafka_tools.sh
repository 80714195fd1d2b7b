# Kafka's own command-line tools (from kafka-tools on the classpath), as the
# super user: the broker's SVID, through PEM client settings. Checks made
# with them do not go through Mayfly's code.
#
#   write_admin_properties SVID_DIR   $run/admin.properties (--command-config)
#                                     and $run/tools-log4j2.xml
#   write_log4j2 FILE LEVEL           a client JVM's log4j2 configuration
#   kafka_tool CLASS ARGS...          runs CLASS against $bootstrap
#   grant_acls                        the policy's ACLs on the broker
#   acls_listed                       the cluster's ACLs, by kafka-acls
write_admin_properties() {
  cat >"$run/admin.properties" <<PROPS
security.protocol=SSL
ssl.keystore.type=PEM
ssl.keystore.location=$1/svid_keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$1/svid_bundle.pem
ssl.endpoint.identification.algorithm=
PROPS
  # The tools log warnings only (the broker's file is the broker's).
  write_log4j2 "$run/tools-log4j2.xml" warn
}

# write_log4j2 FILE LEVEL: the log4j2 configuration of a client JVM (a tool,
# a test producer): LEVEL and above to stderr, timestamped.
write_log4j2() {
  cat >"$1" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders><Console name="err" target="SYSTEM_ERR">
    <PatternLayout pattern="[%d] %p %m (%c)%n"/></Console></Appenders>
  <Loggers><Root level="$2"><AppenderRef ref="err"/></Root></Loggers>
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

# The ACLs of tests/kafka/testdata/policy.yaml on the broker, through
# `mayfly bridge apply` as the super user (the broker's own SVID).
# Idempotent, as apply is.
grant_acls() {
  "$bin/mayfly" bridge apply "$here/testdata/policy.yaml" \
    --bootstrap "$bootstrap" --svid-dir "$run/svid/broker" \
    >>"$run/acls.log" 2>&1 || {
    echo "kafka: mayfly bridge apply failed:" >&2
    tail -n 20 "$run/acls.log" >&2
    return 1
  }
}

# acls_listed: every ACL on the cluster as Kafka's own kafka-acls lists it
# (not through Mayfly's code), one per line:
#   "PERMISSION PRINCIPAL OPERATION RESOURCE_TYPE NAME PATTERN_TYPE", sorted.
acls_listed() {
  local listing
  listing=$(kafka_tool org.apache.kafka.tools.AclCommand --list \
    2>>"$run/acls.log") || return 1
  awk '
    /resourceType=/ {
      match($0, /resourceType=[^,]*/); type = substr($0, RSTART + 13, RLENGTH - 13)
      match($0, /name=[^,]*/); name = substr($0, RSTART + 5, RLENGTH - 5)
      match($0, /patternType=[^)]*/); pattern = substr($0, RSTART + 12, RLENGTH - 12)
    }
    /\(principal=/ {
      match($0, /principal=[^,]*/); who = substr($0, RSTART + 10, RLENGTH - 10)
      match($0, /operation=[^,]*/); op = substr($0, RSTART + 10, RLENGTH - 10)
      match($0, /permissionType=[^)]*/); perm = substr($0, RSTART + 15, RLENGTH - 15)
      print perm, who, op, type, name, pattern
    }' <<<"$listing" | sort
}

# await_listed LINE...: kafka-acls goes to the controller, and a broker
# answers from its metadata a moment later. Waits (bounded, 20 s) until
# acls_listed has every LINE (with --exactly, is just those lines); the
# last listing is left in $listed.
await_listed() {
  local exactly=0 deadline=$((SECONDS + 20)) line ok
  [[ $1 == --exactly ]] && { exactly=1; shift; }
  while :; do
    listed=$(acls_listed) || return 1
    ok=1
    for line in "$@"; do
      grep -qxF "$line" <<<"$listed" || ok=0
    done
    ((exactly)) && [[ $(wc -l <<<"$listed") != "$#" ]] && ok=0
    ((ok)) && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}
