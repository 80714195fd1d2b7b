# Stock mode: what a broker without any plugin needs to give the policy's
# principals (the brief's "Stock mode"), in ONE place, so switching to
# `mayfly bridge render POLICY --stock` is a change to stock_render only.
#
#   stock_render POLICY SVID_DIR ENTRIES_IN ENTRIES_OUT PROPS_OUT
#
# Same inputs and outputs as `mayfly bridge render POLICY --stock --svid-dir
# SVID_DIR --entries ENTRIES_IN --entries-out ENTRIES_OUT > PROPS_OUT`:
# ENTRIES_OUT is ENTRIES_IN with a `subject` on each entry whose principal
# stock mode can express; PROPS_OUT the broker's SSL, principal-mapping and
# authorizer properties (listener-independent; the harness adds listeners).
#
# Until render lands this is a stand-in: it knows the two rules of
# tests/kafka/testdata/policy.yaml (stock_principal_of), and for any other
# policy takes each ID's principal from the TSV file $stock_standin_table
# ("ID<TAB>NAME"; case principals fills it from the mapping vectors, so
# until render lands that case checks the broker's DN handling and rule,
# not the mapper). Replace the body with the render call and delete
# stock_principal_of and the table.
stock_marker=mayfly-kafka-principal
# The subject DN as RFC 2253 prints it (what Kafka's rules match) lists the
# RDNs in reverse order of the certificate's encoding, and the agent encodes
# a subject template in the order written: so the template names OU first.
stock_subject() { echo "OU=$stock_marker,CN=$1"; }
stock_rule() {
  echo "RULE:^CN=([A-Za-z0-9._-]{1,64}),OU=$stock_marker\$/\$1/"
}

# stock_principal_of POLICY ID: the User name POLICY gives ID, if stock mode
# can express it; nothing otherwise. The stand-in for the mapper.
stock_principal_of() {
  local policy=$1 id=$2 name=""
  if [[ $policy != */tests/kafka/testdata/policy.yaml ]]; then
    name=$(awk -F'\t' -v id="$id" '$1 == id { print $2; exit }' \
      "$stock_standin_table")
  elif [[ $id == spiffe://prod.acme/kafka/broker ]]; then
    name=broker
  elif [[ $id =~ ^spiffe://prod\.acme/ns/([^/]+)/sa/([^/]+)$ ]]; then
    name="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
  fi
  [[ $name =~ ^[A-Za-z0-9._-]{1,64}$ ]] && echo "$name"
  return 0
}

stock_render() {
  local policy=$1 svid_dir=$2 entries_in=$3 entries_out=$4 props_out=$5
  local line id name
  [[ -f $policy ]] || { echo "kafka: no policy $policy" >&2; return 1; }
  : >"$entries_out"
  while IFS= read -r line; do
    echo "$line" >>"$entries_out"
    if [[ $line =~ ^(\ *)-\ spiffe_id:\ *\"?(spiffe://[^ \"]+) ]]; then
      id=${BASH_REMATCH[2]}
      name=$(stock_principal_of "$policy" "$id")
      if [[ -n $name ]]; then
        printf '%s  subject: "%s"\n' "${BASH_REMATCH[1]}" \
          "$(stock_subject "$name")" >>"$entries_out"
      else
        echo "kafka: stock mode cannot express $id: no marked subject" >&2
      fi
    fi
  done <"$entries_in"
  cat >"$props_out" <<PROPS
ssl.client.auth=required
ssl.keystore.type=PEM
ssl.keystore.location=$svid_dir/svid_keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$svid_dir/svid_bundle.pem
# The broker's peers (its controller) present SPIFFE IDs, not host names.
ssl.endpoint.identification.algorithm=
ssl.principal.mapping.rules=$(stock_rule)
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:broker
PROPS
}
