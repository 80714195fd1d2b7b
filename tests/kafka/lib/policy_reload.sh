# Case plugin_policy_reload: the plugin broker follows its policy file, on a
# live connection. A client produces to orders as User:reload.victim; the
# policy file is replaced (an atomic rename) by one that maps its SPIFFE ID
# to User:reload.moved. The broker must load the new file, logging the
# digest `mayfly bridge check` prints for it, and close the live
# connection at its next request, saying the policy changed. Then the
# original file comes back and must be loaded again. Bounded waits of
# $reload_wait seconds each (the plugin checks the file every 2 s).
reload_wait=30

# broker_logged TEXT: until the plugin broker's log has a line containing
# TEXT, at most $reload_wait seconds; fails naming TEXT.
broker_logged() {
  local deadline=$((SECONDS + reload_wait))
  until grep -qF -- "$1" "$pdir/broker.log"; do
    ((SECONDS < deadline)) || fail "not in the broker's log after ${reload_wait}s: $1" ||
      return
    sleep 0.2
  done
}

# policy_digest FILE: the "policy sha256:HEX" line `mayfly bridge check`
# prints for FILE.
policy_digest() {
  "$bin/mayfly" bridge check "$1" | grep '^policy sha256:'
}

case_plugin_policy_reload() {
  local original="$run/plugin-policy.original.yaml"
  local moved="$run/plugin-policy.moved.yaml" victim_pid old_digest new_digest
  local deadline
  cp "$plugin_policy" "$original"
  old_digest=$(policy_digest "$original") || fail "bridge check failed" || return
  # The same policy, with a literal rule for the victim ahead of the
  # ns/{ns}/sa/{sa} rule that maps it now.
  awk -v id="$reload_victim_id" '
    { print }
    /^principals:/ {
      print "  - id: " id
      print "    principal: User:reload.moved"
    }' "$original" >"$moved"
  new_digest=$(policy_digest "$moved") || fail "bridge check of the new policy failed" ||
    return
  [[ $("$bin/mayfly" bridge map "$moved" "$reload_victim_id") == \
    "$reload_victim_id -> User:reload.moved" ]] || fail "the new policy maps it otherwise" ||
    return

  client_transport mayfly "$reload_victim_id" ""
  spawn "reload victim" "$run/reload-victim.log" "$bin/mayfly" kafka produce \
    --bootstrap "$plugin_bootstrap" --topic orders --rate 20 --duration 120s \
    "${transport[@]}"
  victim_pid=$spawned_pid
  # Served as User:reload.victim on a live connection first.
  deadline=$((SECONDS + reload_wait))
  until grep -q 'Principal = User:reload.victim is Allowed .*Topic:LITERAL:orders' \
    "$pdir/authorizer.log"; do
    if ((SECONDS >= deadline)); then
      stop_group "$victim_pid"
      fail "User:reload.victim was never served: $(tail -n 3 "$run/reload-victim.log")"
      return
    fi
    sleep 0.2
  done

  mv "$moved" "$plugin_policy"
  step "policy_reload: replaced the policy ($new_digest)"
  broker_logged "loaded the Mayfly policy $plugin_policy: $new_digest" &&
    broker_logged "closing the connection of User:reload.victim: the policy changed ($new_digest" ||
    { stop_group "$victim_pid"; cp "$original" "$plugin_policy"; return 1; }
  stop_group "$victim_pid"

  # The original comes back (a copy, then a rename, as a deploy would).
  cp "$original" "$plugin_policy.new" && mv "$plugin_policy.new" "$plugin_policy"
  deadline=$((SECONDS + reload_wait))
  until (($(grep -cF "loaded the Mayfly policy $plugin_policy: $old_digest" \
    "$pdir/broker.log") >= 2)); do
    ((SECONDS < deadline)) || fail "the original policy was not loaded again" || return
    sleep 0.2
  done
  echo "policy_reload: $new_digest loaded, the live connection of User:reload.victim closed; $old_digest back"
}
