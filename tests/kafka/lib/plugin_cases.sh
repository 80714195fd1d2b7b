# The plugin-mode cases of run_e2e (case_plugin_NAME), against the broker
# plugin_setup started (lib/plugin.sh): SVIDs from its agent
# ($plugin_socket), logs in $pdir. Conventions as lib/cases.sh: a case
# returns 0 with $why empty when it passes, or sets $why (fail).

# background_seconds: how long the background producer runs: long enough for
# $plugin_rotations renewals of the broker's SVID (each at about half its
# life) after the broker's start, plus slack for the cases before.
plugin_rotations=${KAFKA_E2E_PLUGIN_ROTATIONS:-5}
background_seconds() {
  local ttl_s=${plugin_broker_ttl%s}
  echo $((plugin_rotations * ttl_s * 6 / 10 + ttl_s / 2 + 20))
}

# enforced_closes ID: how many certificates of ID the broker has closed
# connections for at their expiry (the engine factory logs each once).
enforced_closes() {
  grep -c "closing the connection of .* ($1): its SVID expired at" \
    "$pdir/broker.log" || true
}

# 1. Every prod.acme vector the agent can mint, on the live broker: a mapped
# one gets, in the broker's own authorizer log, exactly the principal the
# C++ mapper (`mayfly bridge map`) gives; a denied one is refused by the
# broker, whose log names the C++ mapper's reason.
case_plugin_principals() {
  local id want expected i=0 got checked=0 denied=0 wrong=() before after
  [[ -s $run/plugin-vectors.tsv ]] || fail "no vectors (set-up wrote none)" ||
    return
  while IFS=$'\t' read -r id want; do
    i=$((i + 1))
    # What the C++ mapper says, which must also be what the vectors say.
    expected=$("$bin/mayfly" bridge map "$plugin_policy" "$id" 2>&1) || true
    case $expected in
      "$id -> "*) expected=${expected#"$id -> "} ;;
      "$id: denied ("*) expected=${expected#"$id: denied ("} &&
        expected=deny:${expected%%)*} ;;
    esac
    if [[ $expected != "$want" ]]; then
      wrong+=("$id: mayfly bridge map gives $expected, the vectors $want")
      continue
    fi
    svid_fetch "$plugin_socket" "$id" "$run/svid/pv$i" ||
      fail "no SVID for $id" || return
    checked=$((checked + 1))
    if [[ $expected == deny:* ]]; then
      denied=$((denied + 1))
      before=$(grep -cF "SPIFFE ID $id is denied by the policy: ${expected#deny:}" \
        "$pdir/broker.log" || true)
      probe_as "$run/svid/pv$i" metadata --topic "pvector-$i" --timeout 2
      after=$(grep -cF "SPIFFE ID $id is denied by the policy: ${expected#deny:}" \
        "$pdir/broker.log" || true)
      [[ $probe_rc == 1 && $out == "metadata failed: "* ]] && ((after > before)) ||
        wrong+=("$id: not refused for ${expected#deny:} (exit $probe_rc: $out)")
      continue
    fi
    probe_as "$run/svid/pv$i" metadata --topic "pvector-$i" --timeout 5
    got=""
    for _ in {1..20}; do
      got=$(principal_logged "pvector-$i" "$pdir/authorizer.log")
      [[ -z $got ]] || break
      sleep 0.1
    done
    [[ $got == "$expected" ]] ||
      wrong+=("$id: ${got:-no decision} (want $expected)")
  done <"$run/plugin-vectors.tsv"
  echo "kafka: $checked vectors on the plugin broker ($denied denied)" >&2
  ((${#wrong[@]} == 0)) ||
    fail "${#wrong[@]} wrong: ${wrong[*]:0:3}" || return
  ((checked >= 20)) || fail "only $checked vectors checked" || return
}

# 2. An SVID of TTL $plugin_client_ttl that is never renewed: the connection
# that used it serves nothing after its NotAfter and is closed, and the
# broker logs the close once. If this fails after a Kafka upgrade, the
# broker no longer calls the principal builder for each request: see
# SpiffePrincipalBuilder.
case_plugin_expiry() {
  local closes
  svid_fetch "$plugin_socket" "$expiring_id" "$run/svid/expiring" ||
    fail "no SVID for $expiring_id" || return
  probe_as "$run/svid/expiring" expiry --topic orders --timeout 3
  echo "kafka: expiry probe: $out" >&2
  [[ $out != *after_expiry=SERVED* ]] ||
    fail "EXPIRY NOT ENFORCED: the broker served a request on an expired SVID" \
      "($out); has a Kafka upgrade stopped calling the principal builder per" \
      "request (SslAuthenticator.principal())?" || return
  [[ $probe_rc == 0 &&
    $out == "before_expiry=OK after_expiry=NOT_SERVED disconnected=yes" ]] ||
    fail "exit $probe_rc: $out" || return
  for _ in {1..20}; do
    closes=$(enforced_closes "$expiring_id")
    ((closes == 0)) || break
    sleep 0.1
  done
  ((closes == 1)) ||
    fail "the broker logged $closes enforced closes for $expiring_id, want 1" ||
    return
  ! grep -A3 "closing the connection of .* ($expiring_id)" "$pdir/broker.log" |
    grep -q '^[[:space:]]*at ' ||
    fail "the enforced close was logged with a stack trace" || return
}

# java_producer SECONDS LOG: the Java client (tests/kafka/java, the plugin's
# engine factory on the client side) as $streamer_id, whose SVID (TTL
# $plugin_client_ttl) `mayfly watch x509` keeps current, producing 20/s to
# orders for SECONDS; spawned, pid in $java_pid. Compiles it once.
java_producer() {
  local seconds=$1 log=$2
  if [[ ! -f $run/java/SvidProducer.class ]]; then
    javac -d "$run/java" -cp "$classpath" "$here/java/SvidProducer.java" ||
      return 1
  fi
  if [[ -z ${streamer_watch_pid:-} ]]; then
    spawn "streamer watch" "$run/streamer-watch.log" "$bin/mayfly" watch x509 \
      --socket "$plugin_socket" --spiffe-id "$streamer_id" \
      --write "$run/svid/streamer"
    streamer_watch_pid=$spawned_pid
    await_svid_written "$run/svid/streamer" "$spawned_pid" \
      "$run/streamer-watch.log" || return 1
  fi
  write_log4j2 "$run/java/log4j2.xml" info
  spawn "java producer" "$log" java -Xmx128m \
    -Dlog4j2.configurationFile="$run/java/log4j2.xml" \
    -cp "$run/java:$classpath:$plugin_jar" SvidProducer \
    --bootstrap "$bootstrap" --svid-dir "$run/svid/streamer" \
    --spiffe-id "$streamer_id" --trust-domains prod.acme \
    --broker-spiffe-id "$broker_id" --topic orders --duration "$seconds" --rate 20
  java_pid=$spawned_pid
}

# java_result LOG: waits (bounded) for the Java producer; its summary line
# in $out; 0 iff it delivered everything.
java_result() {
  local log=$1 deadline=$((SECONDS + 120))
  while group_alive "$java_pid" && ((SECONDS < deadline)); do sleep 0.5; done
  out=$(grep '^sent=' "$log" | tail -n 1)
  [[ $out =~ ^sent=([0-9]+)\ delivered=([0-9]+)\ failed=0$ &&
    ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" && ${BASH_REMATCH[1]} -gt 0 ]]
}

# 3. A kafka-clients 4.4.0 producer on the jar's engine factory keeps
# producing across at least 3 expiries of its SVID: each time the broker
# closes its expired connection it reconnects on its newest SVID; no
# delivery fails, no restart.
case_plugin_java_producer() {
  local ttl_s=${plugin_client_ttl%s} closes
  java_producer $((3 * ttl_s + 5)) "$run/java-producer.log" ||
    fail "the Java producer did not start" || return
  java_result "$run/java-producer.log" ||
    fail "Java producer: ${out:-$(tail -n 3 "$run/java-producer.log")}" || return
  closes=$(enforced_closes "$streamer_id")
  echo "kafka: Java producer: $out; $closes expired SVIDs closed" >&2
  ((closes >= 3)) ||
    fail "only $closes of its expired SVIDs were closed by the broker ($out)" ||
    return
}

# The CLIENTS/CONTROLLER serials the monitor saw between EPOCH1 and EPOCH2,
# in order, each once.
served_serials() {
  awk -v l="$1" -v from="$2" -v to="$3" \
    '$2 == l && $1 >= from && $1 <= to && !seen[$3]++ { print $3 }' \
    "$run/served.log"
}

# 4. The broker's own SVID (TTL $plugin_broker_ttl) rotates
# $plugin_rotations times while a client produces: the engine factory
# serves each new SVID on new handshakes with no reload call (the broker's
# watch has no --exec), never an expired one, no message fails, same
# broker process.
case_plugin_broker_rotation() {
  local deadline start_epoch end_epoch rotated expired
  deadline=$((SECONDS + $(background_seconds) + 30))
  while group_alive "$background_pid" && ((SECONDS < deadline)); do
    sleep 1
  done
  ! group_alive "$background_pid" ||
    fail "the background producer did not finish" || return
  wait "$background_pid" 2>/dev/null || true
  out=$(tr '\n' ' ' <"$run/background.log")
  [[ $out == *"failed=0"* ]] ||
    fail "the producer failed across the rotations: $out" || return
  start_epoch=$(stat -c %W "$run/background.log" 2>/dev/null || echo 0)
  ((start_epoch > 0)) || start_epoch=$(stat -c %Y "$run/svid/pwriter/svid.pem")
  end_epoch=$(stat -c %Y "$run/background.log")
  rotated=$(($(served_serials CLIENTS "$start_epoch" "$end_epoch" | wc -l) - 1))
  echo "kafka: $rotated broker SVID rotations served while the producer ran" \
    "($out)" >&2
  ((rotated >= plugin_rotations)) ||
    fail "$rotated rotations of the broker's SVID reached the listener, want $plugin_rotations" ||
    return
  expired=$(awk '$4 <= $1' "$run/served.log" | head -n 1)
  [[ -z $expired ]] || fail "the broker served an expired certificate: $expired" ||
    return
  group_alive "$broker_pid" || fail "the broker is gone" || return
  (($(grep -c 'Kafka Server started' "$pdir/broker.log") == 1)) ||
    fail "the broker restarted" || return
}

# 6. The controller listener runs on the factory too: it serves each new
# SVID like the client listener, and the broker's own connection to its
# controller (heartbeats, as User:broker from the policy) stays up across
# expiries of the broker's SVID: the controller closes it when that SVID
# expires and it comes back on the next one.
case_plugin_controller() {
  local controller first_expiry last_beat closes
  controller=$(served_serials CONTROLLER 0 9999999999)
  (($(wc -l <<<"$controller") >= plugin_rotations)) ||
    fail "the controller listener served $(wc -l <<<"$controller") SVIDs" ||
    return
  # Every SVID it served is one the client listener served too. The
  # monitor asks the client listener first, so an SVID that arrived
  # between the two questions reaches the controller listener first; count
  # only the controller's SVIDs first seen before the client listener's
  # last answer.
  local unseen
  unseen=$(awk '$2 == "CLIENTS" { client[$3] = 1; last = NR }
    $2 == "CONTROLLER" && !($3 in first) { first[$3] = NR }
    END { for (s in first) if (first[s] < last && !(s in client)) print s }' \
    "$run/served.log")
  [[ -z $unseen ]] ||
    fail "the controller listener served SVIDs the client listener never did:" \
      $unseen ||
    return
  closes=$(enforced_closes "$broker_id")
  ((closes >= 1)) ||
    fail "no connection of the broker's own was closed at its SVID's expiry" ||
    return
  # A heartbeat allowed for the broker's principal after its first SVID
  # had expired (and its connection been closed) shows it reconnected.
  first_expiry=$(grep -m1 "closing the connection of .* ($broker_id)" \
    "$pdir/broker.log" | sed -n 's/^\[\([^]]*\)\].*/\1/p')
  last_beat=$(grep 'Principal = User:broker is Allowed .* request = BrokerHeartbeat' \
    "$pdir/authorizer.log" | tail -n 1 | sed -n 's/^\[\([^]]*\)\].*/\1/p')
  [[ -n $first_expiry && -n $last_beat && $last_beat > $first_expiry ]] ||
    fail "no heartbeat from User:broker after its first SVID's close" \
      "(close at ${first_expiry:-?}, last heartbeat ${last_beat:-none})" ||
    return
  echo "kafka: controller listener served $(wc -l <<<"$controller") SVIDs;" \
    "$closes broker connections closed at expiry; last heartbeat $last_beat" >&2
}

# 5. `mayfly ca rotate` while the Java producer runs: the broker moves to an
# SVID of the new root, the client to SVIDs of the new root, and no
# handshake fails and no delivery fails meanwhile.
case_plugin_ca_rotate() {
  local before after new_root served_new="" serial
  before=$(grep -c 'Failed authentication with' "$pdir/broker.log" || true)
  java_producer 45 "$run/java-rotate.log" ||
    fail "the Java producer did not start" || return
  sleep 3
  "$bin/mayfly" ca rotate --dir "$plugin_ca" >"$run/ca-rotate.log" 2>&1 ||
    fail "mayfly ca rotate: $(cat "$run/ca-rotate.log")" || return
  # The next root, until the agent switches to it.
  new_root="$run/new_root.pem"
  cp "$plugin_ca/next_root_cert.pem" "$new_root" ||
    fail "no next root in $plugin_ca after ca rotate" || return
  java_result "$run/java-rotate.log" ||
    fail "Java producer across the root rotation: ${out:-$(tail -n 3 "$run/java-rotate.log")}" ||
    return
  # A chain the broker served that leads to the new root alone.
  for serial in $(served_serials CLIENTS 0 9999999999); do
    if openssl verify -CAfile "$new_root" -untrusted "$run/served/CLIENTS-$serial.pem" \
      "$run/served/CLIENTS-$serial.pem" >/dev/null 2>&1; then
      served_new=$serial
      break
    fi
  done
  [[ -n $served_new ]] ||
    fail "the broker never served an SVID of the new root" || return
  openssl verify -CAfile "$new_root" -untrusted "$run/svid/streamer/svid.pem" \
    "$run/svid/streamer/svid.pem" >/dev/null 2>&1 ||
    fail "the client's SVID is not of the new root" || return
  after=$(grep -c 'Failed authentication with' "$pdir/broker.log" || true)
  ((after == before)) ||
    fail "$((after - before)) failed handshakes during the rotation" || return
  echo "kafka: across the root rotation: $out; broker on the new root from" \
    "serial $served_new" >&2
}

# plugin_jmx: the plugin's metrics as the broker's JMX serves them (Kafka's
# own JmxTool on $plugin_jmx_port), one "NAME VALUE" line each, in $jmx.
plugin_jmx() {
  jmx=$(java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$classpath" \
    org.apache.kafka.tools.JmxTool --one-time true --report-format properties \
    --jmx-url "service:jmx:rmi:///jndi/rmi://127.0.0.1:$plugin_jmx_port/jmxrmi" \
    --object-name 'kafka.server:type=plugins,*' 2>>"$run/jmx.log" |
    sed -n 's/^kafka\.server:type=plugins,[^:]*:\([a-z-]*\)=\(.*\)$/\1 \2/p')
}

# jmx_value NAME: NAME's value in $jmx (empty if absent).
jmx_value() { awk -v n="$1" '$1 == n { print $2; exit }' <<<"$jmx"; }

# not_after_epoch PEM: the first certificate's NotAfter, Unix seconds.
not_after_epoch() {
  date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s
}

# as_integer VALUE: a JMX double ("1.7959E9", "3.0") as an integer.
as_integer() { awk -v v="$1" 'BEGIN { printf "%d\n", v }'; }

# 7. The plugin's metrics reach Kafka's JMX (so the broker's metrics
# reporters carry them) and move: the served SVID's NotAfter is the one in
# the broker's SVID directory and follows its renewal; the bundle root's is
# the root's; an enforced close, a policy reload and a failed reload each
# count.
case_plugin_jmx_metrics() {
  local name svid before after root closes reloads failures deadline
  plugin_jmx
  for name in svid-not-after-seconds bundle-root-not-after-seconds \
    expired-svid-connection-closes policy-reloads policy-load-failures \
    svid-refusals; do
    [[ -n $(jmx_value "$name") ]] ||
      fail "no plugin metric $name on JMX: $(tr '\n' ';' <<<"$jmx" | head -c 400)" ||
      return
  done
  # The SVID: what the directory holds, read on either side of the query
  # (a renewal may land in between).
  deadline=$((SECONDS + 60))
  while :; do
    before=$(not_after_epoch "$run/svid/pbroker/svid.pem")
    plugin_jmx
    svid=$(as_integer "$(jmx_value svid-not-after-seconds)")
    after=$(not_after_epoch "$run/svid/pbroker/svid.pem")
    [[ $svid == "$before" || $svid == "$after" ]] && break
    ((SECONDS < deadline)) ||
      fail "svid-not-after-seconds is $svid, the broker's SVID expires at $after" ||
      return
    sleep 1
  done
  root=$(not_after_epoch "$run/svid/pbroker/svid_bundle.pem")
  [[ $(as_integer "$(jmx_value bundle-root-not-after-seconds)") == "$root" ]] ||
    fail "bundle-root-not-after-seconds is $(jmx_value bundle-root-not-after-seconds), the root expires at $root" ||
    return
  # The next renewal moves it, with no handshake needed.
  deadline=$((SECONDS + ${plugin_broker_ttl%s} + 30))
  until plugin_jmx && (($(as_integer "$(jmx_value svid-not-after-seconds)") > svid)); do
    ((SECONDS < deadline)) ||
      fail "svid-not-after-seconds stayed at $svid across the broker's renewal" ||
      return
    sleep 1
  done
  # An expired client's connection closed.
  closes=$(as_integer "$(jmx_value expired-svid-connection-closes)")
  svid_fetch "$plugin_socket" "$lapsing_id" "$run/svid/lapsing" ||
    fail "no SVID for $lapsing_id" || return
  probe_as "$run/svid/lapsing" expiry --topic orders --timeout 3
  plugin_jmx
  (($(as_integer "$(jmx_value expired-svid-connection-closes)") > closes)) ||
    fail "expired-svid-connection-closes stayed at $closes across an enforced close ($out)" ||
    return
  # A policy that does not load, then the good one back (a reload: its
  # bytes differ from what was loaded before, by a comment).
  reloads=$(as_integer "$(jmx_value policy-reloads)")
  failures=$(as_integer "$(jmx_value policy-load-failures)")
  cp "$plugin_policy" "$run/jmx-policy.yaml"
  printf 'principals: [\n' >"$plugin_policy.tmp" && mv "$plugin_policy.tmp" "$plugin_policy"
  deadline=$((SECONDS + 30))
  until plugin_jmx && (($(as_integer "$(jmx_value policy-load-failures)") > failures)); do
    ((SECONDS < deadline)) || {
      mv "$run/jmx-policy.yaml" "$plugin_policy"
      fail "policy-load-failures stayed at $failures with a broken policy"
      return
    }
    sleep 1
  done
  { cat "$run/jmx-policy.yaml" && echo "# case plugin_jmx_metrics"; } >"$plugin_policy.tmp"
  mv "$plugin_policy.tmp" "$plugin_policy"
  deadline=$((SECONDS + 30))
  until plugin_jmx && (($(as_integer "$(jmx_value policy-reloads)") > reloads)); do
    ((SECONDS < deadline)) ||
      fail "policy-reloads stayed at $reloads after the policy changed" || return
    sleep 1
  done
  echo "kafka: plugin JMX metrics: $(tr '\n' ' ' <<<"$jmx")" >&2
}
