# What a broker's TLS listener serves, seen from a client.
#
#   served_cert SVID_DIR ADDRESS [CHAIN_OUT]
#       "SERIAL NOTAFTER_EPOCH" of the leaf the listener at ADDRESS serves
#       now; CHAIN_OUT, if given, gets the chain it sent (PEM). The client
#       certificate is one version of SVID_DIR's ..data (the broker's own),
#       which may go away under us: then the next call tries again.
#   monitor_served SVID_DIR CHAIN_DIR OUT NAME=ADDRESS...
#       once a second until killed (an hour at most): appends "EPOCH NAME
#       SERIAL NOTAFTER_EPOCH" to OUT for each listener, and writes each new
#       leaf's chain to CHAIN_DIR/NAME-SERIAL.pem
served_cert() {
  local dir=$1 address=$2 chain_out=${3:-} version out pem intermediates
  version=$(readlink -f "$dir/..data") || return 1
  # -cert sends the first certificate of svid.pem, -cert_chain what follows
  # it (the leaf again would make the chain invalid).
  intermediates=$(mktemp)
  awk '/-----BEGIN CERTIFICATE-----/ { n++ } n > 1' "$version/svid.pem" \
    >"$intermediates"
  # Input open for 0.3 s: the handshake completes on the broker's side
  # too before the close, which the broker would otherwise log as a failed
  # handshake (and case plugin_ca_rotate counts those).
  out=$(sleep 0.3 | timeout --foreground 10 openssl s_client \
    -connect "$address" -showcerts -cert "$version/svid.pem" \
    -cert_chain "$intermediates" -key "$version/svid_key.pem" \
    -CAfile "$version/svid_bundle.pem" 2>/dev/null)
  local rc=$?
  rm -f "$intermediates"
  ((rc == 0)) || return 1
  pem=$(openssl x509 2>/dev/null <<<"$out") || return 1
  if [[ -n $chain_out ]]; then
    sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' \
      <<<"$out" >"$chain_out"
  fi
  echo "$(openssl x509 -noout -serial <<<"$pem" | cut -d= -f2)" \
    "$(date -d "$(openssl x509 -noout -enddate <<<"$pem" | cut -d= -f2)" +%s)"
}

monitor_served() {
  local dir=$1 chains=$2 out=$3 listener name address serial not_after i
  shift 3
  mkdir -p "$chains"
  # Bounded like every harness loop: an hour at most.
  for ((i = 0; i < 3600; i++)); do
    for listener in "$@"; do
      name=${listener%%=*}
      address=${listener#*=}
      read -r serial not_after < <(served_cert "$dir" "$address" \
        "$chains/$name.tmp") || continue
      [[ -f $chains/$name-$serial.pem ]] ||
        mv "$chains/$name.tmp" "$chains/$name-$serial.pem"
      echo "$(date +%s) $name $serial $not_after" >>"$out"
    done
    sleep 1
  done
}
