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
