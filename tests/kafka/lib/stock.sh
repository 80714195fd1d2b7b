# Stock mode: what a broker without any plugin needs to give the policy's
# principals, rendered by `mayfly bridge render POLICY --stock`.
#
#   stock_render POLICY SVID_DIR ENTRIES_IN ENTRIES_OUT PROPS_OUT
#
# ENTRIES_OUT is ENTRIES_IN with a `subject` on each entry whose principal
# stock mode can express; PROPS_OUT the broker's SSL, principal-mapping and
# authorizer properties (for every listener; broker.sh adds the listeners).
# Entries stock mode cannot express (another principal type, a name a CN
# cannot hold) keep no marked subject, as render's --skip-unexpressible
# says: the broker refuses them, which the vectors case relies on.
stock_marker=mayfly-kafka-principal
# The subject an entry carries for principal User:$1, written here from
# docs/kafka.md rather than taken from render, so the foreign trust
# domain's SVID (case refused) and render's output are checked against one
# statement of the format.
stock_subject() { echo "OU=$stock_marker,CN=$1"; }

stock_render() {
  local policy=$1 svid_dir=$2 entries_in=$3 entries_out=$4 props_out=$5
  "$bin/mayfly" bridge render "$policy" --stock --svid-dir "$svid_dir" \
    --entries "$entries_in" --entries-out "$entries_out" \
    --skip-unexpressible >"$props_out"
}

# stock_setup: the stock-mode cases' world. Entries for the broker, the
# writer, an unmapped ID and one per expressible mapping vector (subjects
# rendered by `render --stock`), in a prod.acme agent, plus an other.acme
# agent; the broker's SVID kept by `mayfly watch x509 --write`, which runs
# reload_broker.sh after each rotation; a stock broker on it; topic orders.
stock_setup() {
  local uid
  uid=$(id -u)
  cat >"$run/entries.in.yaml" <<YAML
entries:
  - spiffe_id: $broker_id
    selectors: ["unix:uid:$uid"]
    ttl: $broker_ttl
  - spiffe_id: $writer_id
    selectors: ["unix:uid:$uid"]
  - spiffe_id: $unmapped_id
    selectors: ["unix:uid:$uid"]
YAML
  stock_render "$here/testdata/policy.yaml" "$run/svid/broker" \
    "$run/entries.in.yaml" "$run/entries.base.yaml" "$run/stock.properties" \
    2>"$run/render.log"
  # Case principals: an entry per mapping vector stock mode can express,
  # rendered with the vectors' own policy, in the same agent (the broker
  # trusts one CA).
  vectors_tsv stock >"$run/vectors.tsv"
  {
    echo "entries:"
    while IFS=$'\t' read -r id _; do
      # Those with an entry above already are checked through that one.
      [[ $id == "$broker_id" || $id == "$writer_id" ]] && continue
      printf '  - spiffe_id: "%s"\n    selectors: ["unix:uid:%s"]\n' "$id" "$uid"
    done <"$run/vectors.tsv"
  } >"$run/vector-entries.in.yaml"
  stock_render "$vectors_policy" "$run/svid/broker" \
    "$run/vector-entries.in.yaml" "$run/vector-entries.yaml" /dev/null \
    2>>"$run/render.log"
  {
    cat "$run/entries.base.yaml"
    grep -v '^entries:' "$run/vector-entries.yaml"
  } >"$run/entries.yaml"
  cat >"$run/other-entries.yaml" <<YAML
entries:
  - spiffe_id: $foreign_id
    selectors: ["unix:uid:$uid"]
    subject: "$(stock_subject orders.writer)"
YAML

  step "starting mayfly-agent (prod.acme, other.acme)"
  agent_start other other.acme "$run/other-entries.yaml"
  other_socket=$agent_socket
  agent_start prod prod.acme "$run/entries.yaml"
  prod_socket=$agent_socket
  write_admin_properties "$run/svid/broker"
  spawn watch "$run/watch.log" "$bin/mayfly" watch x509 --socket "$prod_socket" \
    --spiffe-id "$broker_id" --write "$run/svid/broker" \
    --exec "$here/lib/reload_broker.sh $run"
  await_svid_written "$run/svid/broker" "$spawned_pid" "$run/watch.log"

  step "starting the broker (KRaft, SSL listeners on loopback)"
  broker_start "$run/stock.properties" "$run/svid/broker"
  step "broker up on $bootstrap"
  await_topic "$run/svid/broker" orders
}
