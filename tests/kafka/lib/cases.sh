# The cases of run_e2e, one function each (case_NAME). A case returns 0
# and leaves $why empty when it passes; otherwise it sets $why to one line
# saying what was wrong. They run against the shared broker ($bootstrap),
# with SVIDs from the prod.acme agent ($prod_socket) and the other.acme one
# ($other_socket).

# probe_as SVID_DIR MODE ARGS...: the probe against the shared broker;
# its answer (stdout, lines joined with "; ") in $out, exit code in
# $probe_rc; librdkafka's own log lines go to $run/probe.log.
probe_as() {
  local dir=$1 mode=$2
  shift 2
  probe_rc=0
  out=$("$bin/probe" "$mode" --svid-dir "$dir" --bootstrap "$bootstrap" \
    --broker-spiffe-id "$broker_id" "$@" 2>>"$run/probe.log") || probe_rc=$?
  out=${out//$'\n'/; }
}

# fail WHY: records why the case failed; returns 1.
fail() {
  why=$1
  return 1
}

# await_acls: apply returns once the controller has the ACLs; the
# broker's authorizer has them a moment later. Waits (bounded) until
# orders.writer may describe orders.
await_acls() {
  local deadline=$((SECONDS + 15))
  until probe_as "$run/svid/writer" metadata --topic orders --timeout 5 &&
    [[ $out == "topic orders: OK" ]]; do
    ((SECONDS < deadline)) || fail "the ACLs never took effect: $out" || return
    sleep 0.2
  done
}

# 1. orders.writer produces to orders, and is refused on another topic.
case_acl_produce() {
  grant_acls || fail "apply failed: $(tail -n 1 "$run/acls.log")" || return
  svid_fetch "$prod_socket" "$writer_id" "$run/svid/writer" ||
    fail "no SVID for $writer_id" || return
  await_acls || return
  probe_as "$run/svid/writer" produce --topic orders --count 20 --timeout 10
  [[ $probe_rc == 0 && $out == "delivered=20 failed=0" ]] ||
    fail "produce to orders: exit $probe_rc: $out" || return
  probe_as "$run/svid/writer" metadata --topic payments --timeout 10
  [[ $probe_rc == 1 && $out == "topic payments: TOPIC_AUTHORIZATION_FAILED" ]] ||
    fail "metadata for payments: exit $probe_rc: $out" || return
  probe_as "$run/svid/writer" produce --topic payments --count 1 --timeout 5
  [[ $probe_rc == 1 && $out == *"delivered=0 failed=1"*"TOPIC_AUTHORIZATION_FAILED"* ]] ||
    fail "produce to payments: exit $probe_rc: $out" || return
}

# 3. plan/apply on the live broker: the policy's ACLs appear (as kafka-acls
# lists them), an owned principal's ACL the policy lacks goes, an unowned
# principal's ACL stays, and a second apply has nothing to do.
case_plan_apply() {
  local plan listed
  # Start from a cluster without the policy's grants (another case may have
  # applied them), with one stale ACL of a principal the policy owns
  # ({ns}.{sa} gives orders.legacy) and one of a principal it does not.
  kafka_tool org.apache.kafka.tools.AclCommand --remove --force \
    --allow-principal User:orders.writer --operation Write \
    --operation Describe --topic orders >>"$run/acls.log" 2>&1 &&
    kafka_tool org.apache.kafka.tools.AclCommand --add \
      --allow-principal User:orders.legacy --operation All \
      --topic legacy >>"$run/acls.log" 2>&1 &&
    kafka_tool org.apache.kafka.tools.AclCommand --add \
      --allow-principal User:ops --operation Read \
      --topic audit >>"$run/acls.log" 2>&1 ||
    fail "kafka-acls could not prepare the cluster" || return
  await_listed --exactly "ALLOW User:orders.legacy ALL TOPIC legacy LITERAL" \
    "ALLOW User:ops READ TOPIC audit LITERAL" ||
    fail "the broker never listed just the prepared ACLs: ${listed//$'\n'/; }" ||
    return
  plan=$("$bin/mayfly" bridge plan "$here/testdata/policy.yaml" \
    --bootstrap "$bootstrap" --svid-dir "$run/svid/broker" 2>&1) ||
    fail "plan: $plan" || return
  [[ $plan == *"+ ALLOW User:orders.writer WRITE on TOPIC orders (LITERAL) from host *"* &&
    $plan == *"+ ALLOW User:orders.writer DESCRIBE on TOPIC orders (LITERAL) from host *"* &&
    $plan == *"- ALLOW User:orders.legacy ALL on TOPIC legacy (LITERAL) from host *"* &&
    $plan == *"plan: 2 to create, 1 to delete, 1 unowned left alone"* ]] ||
    fail "plan: ${plan//$'\n'/; }" || return
  grant_acls || fail "apply: $(tail -n 3 "$run/acls.log")" || return
  await_listed --exactly "ALLOW User:ops READ TOPIC audit LITERAL" \
    "ALLOW User:orders.writer DESCRIBE TOPIC orders LITERAL" \
    "ALLOW User:orders.writer WRITE TOPIC orders LITERAL" ||
    fail "after apply, kafka-acls lists: ${listed//$'\n'/; }" || return
  plan=$("$bin/mayfly" bridge apply "$here/testdata/policy.yaml" \
    --bootstrap "$bootstrap" --svid-dir "$run/svid/broker" 2>&1) ||
    fail "second apply: $plan" || return
  [[ $plan == *"plan: nothing to do (1 unowned left alone)"* ]] ||
    fail "second apply did something: ${plan//$'\n'/; }" || return
}

# refused_by_broker SVID_DIR WHAT LOG_PATTERN: the probe's metadata request
# must fail for want of a connection, and the broker must log LOG_PATTERN
# meanwhile (so it is the broker that refused, not the probe).
refused_by_broker() {
  local dir=$1 what=$2 pattern=$3 before after
  before=$(grep -c "$pattern" "$run/broker/broker.log" || true)
  probe_as "$dir" metadata --topic orders --timeout 3
  [[ $probe_rc == 1 && $out == "metadata failed: "* ]] ||
    fail "$what: not refused: exit $probe_rc: $out" || return
  [[ $out != *"broker "*" is "*", want "* ]] ||
    fail "$what: the probe refused the broker: $out" || return
  after=$(grep -c "$pattern" "$run/broker/broker.log" || true)
  ((after > before)) ||
    fail "$what: \"$pattern\" not in the broker's log ($out)" || return
  echo "kafka: $what refused: $out" >&2
}

# 2. An ID no rule maps (no marked subject), and another trust domain's SVID
# (with orders.writer's very subject), are refused by the broker.
case_refused() {
  svid_fetch "$prod_socket" "$unmapped_id" "$run/svid/unmapped" ||
    fail "no SVID for $unmapped_id" || return
  # No rule matches its subject (O=Mayfly): the TLS handshake succeeds, then
  # the principal builder throws and the broker closes the connection.
  refused_by_broker "$run/svid/unmapped" "$unmapped_id" \
    "Failed to map name for 'O=Mayfly' based on SSL principal mapping rules" ||
    return
  # The foreign SVID and key, but prod.acme's bundle, so the probe itself
  # trusts the broker and only the broker can refuse.
  svid_fetch "$other_socket" "$foreign_id" "$run/svid/other" ||
    fail "no SVID for $foreign_id" || return
  mkdir -p "$run/svid/foreign"
  cp -L "$run/svid/other/svid.pem" "$run/svid/other/svid_key.pem" \
    "$run/svid/foreign/"
  cp -L "$run/svid/broker/svid_bundle.pem" "$run/svid/foreign/"
  local subject want
  subject=$(openssl x509 -in "$run/svid/foreign/svid.pem" -noout -subject \
    -nameopt RFC2253)
  want="subject=CN=orders.writer,OU=$stock_marker"
  [[ $subject == "$want" ]] ||
    fail "the foreign SVID's $subject is not $want" || return
  # Its chain does not lead to the broker's truststore: the handshake fails.
  refused_by_broker "$run/svid/foreign" "$foreign_id" \
    "Failed authentication with /127.0.0.1" || return
}

# wait_reload_logged SERIAL: reload_broker.sh logged that `mayfly bridge
# reload-broker` loaded SERIAL, within 30 s.
wait_reload_logged() {
  local deadline=$((SECONDS + 30))
  until grep -q "tool=mayfly rc=0 serial=$1 " "$run/reload.log" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# 5. The broker's 20 s SVID rotates $rotations times while a client keeps
# producing: every rotation reaches the listeners (the served certificate
# changes to one reload_broker.sh loaded, on the client listener and the
# controller listener), no message fails, same broker process.
case_broker_rotation() {
  grant_acls || fail "apply failed" || return
  [[ -d $run/svid/writer ]] || svid_fetch "$prod_socket" "$writer_id" \
    "$run/svid/writer" || fail "no SVID for $writer_id" || return
  await_acls || return
  local ttl_s=${broker_ttl%s} duration rate=20 seen=0 last served serial
  local not_after deadline
  # Renewal at half-life (±10%): $rotations of them, plus slack for the
  # reloads.
  duration=$((rotations * ttl_s / 2 + ttl_s / 2 + 10))
  # spawn: a run stopped meanwhile stops the producer too.
  spawn producer "$run/rotation-probe.log" "$bin/probe" produce \
    --svid-dir "$run/svid/writer" --bootstrap "$bootstrap" \
    --broker-spiffe-id "$broker_id" --topic orders --duration "$duration" \
    --rate "$rate" --timeout 10
  local probe_pid=$spawned_pid
  for _ in {1..10}; do
    read -r last not_after < <(served_cert "$run/svid/broker" "$bootstrap") && break
    sleep 0.5
  done
  [[ -n $last ]] || fail "could not read the served certificate" || return
  deadline=$((SECONDS + duration + 20))
  while ((seen < rotations && SECONDS < deadline)); do
    sleep 0.5
    read -r served not_after < <(served_cert "$run/svid/broker" "$bootstrap") || continue
    if ((not_after <= $(date +%s))); then
      fail "the broker serves an expired certificate ($served)"
      break
    fi
    [[ $served != "$last" ]] || continue
    # A new certificate: it must be one watch wrote and `mayfly bridge
    # reload-broker` loaded.
    # (reload.log gets its line once both listeners are done: wait for it.)
    if ! wait_reload_logged "$served"; then
      fail "served serial $served is not one mayfly bridge reload-broker loaded"
      break
    fi
    seen=$((seen + 1))
    echo "kafka: rotation $seen: the broker serves $served" \
      "(until $(date -d "@$not_after" +%T))" >&2
    last=$served
    # The controller listener follows too (the broker's own connections to
    # its controller need it after a reconnect).
    read -r served not_after < <(served_cert "$run/svid/broker" "$controller") || served=""
    if ! wait_reload_logged "$served" ||
      ((not_after <= $(date +%s))); then
      fail "the controller listener serves ${served:-nothing}, not a reloaded certificate"
      break
    fi
  done
  wait "$probe_pid" && local probe_ok=1 || local probe_ok=0
  local probe_out
  probe_out=$(tr '\n' ' ' <"$run/rotation-probe.log")
  [[ -z $why ]] || return 1
  ((seen >= rotations)) ||
    fail "$seen of $rotations rotations reached the listener in time" || return
  ((probe_ok == 1)) && [[ $probe_out == *"failed=0"* ]] ||
    fail "the producer failed: $probe_out" || return
  group_alive "$broker_pid" ||
    fail "the broker is gone" || return
  (($(grep -c 'Kafka Server started' "$run/broker/broker.log") == 1)) ||
    fail "the broker restarted" || return
  echo "kafka: producer across the rotations: $probe_out" >&2
}

# The probe itself refuses a broker whose certificate carries another
# SPIFFE ID than --broker-spiffe-id (it checks in ssl_cert_verify_cb, with
# hostname checking off): the other cases' answers come from the broker
# they meant.
case_probe_checks_broker() {
  [[ -d $run/svid/writer ]] || svid_fetch "$prod_socket" "$writer_id" \
    "$run/svid/writer" || fail "no SVID for $writer_id" || return
  probe_rc=0
  out=$("$bin/probe" metadata --svid-dir "$run/svid/writer" \
    --bootstrap "$bootstrap" --broker-spiffe-id spiffe://prod.acme/kafka/other \
    --topic orders --timeout 3 2>>"$run/probe.log") || probe_rc=$?
  [[ $probe_rc == 1 && $out == "metadata failed: "*"is $broker_id, want spiffe://prod.acme/kafka/other"* ]] ||
    fail "exit $probe_rc: $out" || return
}

# --- 4. the principals stock mode gives, per mapping vector ----------------
# The vectors (bridge/testdata/mapping_vectors.yaml, or KAFKA_E2E_VECTORS)
# that stock mode can express on this broker: principal User:NAME with NAME
# in [A-Za-z0-9._-]{1,64}, and an ID of prod.acme (the trust domain the
# broker trusts). Without the file, a few of our own under
# testdata/policy.yaml's {ns}.{sa} rule.
vectors_file=${KAFKA_E2E_VECTORS:-$repo/bridge/testdata/mapping_vectors.yaml}

# vectors_tsv MODE: the vectors of prod.acme (the trust domain the broker
# trusts), each ID once; sets $vectors_policy to the policy they are for.
#   stock:  "ID<TAB>NAME" for those whose principal stock mode can express
#           (User:NAME, NAME in [A-Za-z0-9._-]{1,64})
#   plugin: "ID<TAB>PRINCIPAL" or "ID<TAB>deny:REASON" for every one the
#           agent can mint an SVID for (all but the invalid_id ones)
vectors_tsv() {
  local mode=$1
  if [[ ! -f $vectors_file ]]; then
    vectors_policy="$here/testdata/policy.yaml"
    printf '%s\t%s\n' \
      spiffe://prod.acme/ns/orders/sa/reader orders.reader \
      spiffe://prod.acme/ns/a.b/sa/c a.b.c \
      spiffe://prod.acme/ns/-/sa/_ -._ \
      "spiffe://prod.acme/ns/n/sa/$(printf 'x%.0s' {1..62})" \
      "n.$(printf 'x%.0s' {1..62})" |
      if [[ $mode == plugin ]]; then sed 's/\t/\tUser:/'; else cat; fi
    return
  fi
  vectors_policy="$(dirname "$vectors_file")/$(sed -n \
    's/^policy: *//p' "$vectors_file")"
  local line id="" seen=" " outcome
  while IFS= read -r line; do
    if [[ $line =~ ^\ *-\ id:\ \"(.*)\"$ ]]; then
      id=${BASH_REMATCH[1]}
      continue
    fi
    outcome=""
    if [[ $line =~ ^\ *principal:\ \"(.*)\"$ ]]; then
      outcome=${BASH_REMATCH[1]}
    elif [[ $line =~ ^\ *deny:\ *([a-z_]+)$ ]]; then
      outcome=deny:${BASH_REMATCH[1]}
    fi
    [[ -n $outcome && $outcome != deny:invalid_id && $seen != *" $id "* ]] ||
      continue
    [[ $id == spiffe://prod.acme/* ]] || continue
    if [[ $mode == stock ]]; then
      [[ $outcome =~ ^User:([A-Za-z0-9._-]{1,64})$ ]] || continue
      outcome=${BASH_REMATCH[1]}
    fi
    seen+="$id "
    printf '%s\t%s\n' "$id" "$outcome"
  done <"$vectors_file"
}

# principal_logged TOPIC [LOG]: the principal of the authorizer's decision
# on Topic:LITERAL:TOPIC (the probe's metadata request names only that
# topic), from LOG ($run/broker/authorizer.log).
principal_logged() {
  sed -n "s/.*Principal = \([^ ]*\) is .* resource = Topic:LITERAL:$1 .*/\1/p" \
    "${2:-$run/broker/authorizer.log}" | head -1
}

# 4. For each vector, the broker's authorizer decides for exactly the
# vector's principal when a probe connects with that ID's SVID.
case_principals() {
  local id name i=0 got wrong=() checked=0
  [[ -s $run/vectors.tsv ]] || fail "no vectors (set-up wrote none)" || return
  while IFS=$'\t' read -r id name; do
    i=$((i + 1))
    svid_fetch "$prod_socket" "$id" "$run/svid/v$i" ||
      fail "no SVID for $id" || return
    probe_as "$run/svid/v$i" metadata --topic "vector-$i" --timeout 5
    got=""
    for _ in {1..20}; do
      got=$(principal_logged "vector-$i")
      [[ -z $got ]] || break
      sleep 0.1
    done
    checked=$((checked + 1))
    [[ $got == "User:$name" ]] || wrong+=("$id: ${got:-no decision} (want User:$name)")
  done <"$run/vectors.tsv"
  echo "kafka: $checked vectors from" \
    "$([[ -f $vectors_file ]] && echo "$vectors_file" || echo "cases.sh")" >&2
  ((${#wrong[@]} == 0)) ||
    fail "${#wrong[@]} of $checked: ${wrong[*]:0:3}" || return
}
