#!/bin/sh
# Makes the test certificates in this directory (committed; run again only to
# change them). Self-signed, 10-year validity: the tests read each
# certificate's NotAfter and move a fake clock around it, and neither the
# principal builder nor the leaf checks verify chains (the TLS stack does).
set -eu
cd "$(dirname "$0")"
mk() { # name, extensions...
  name=$1; shift
  cfg=$(mktemp)
  printf '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nO=mayfly-test\nCN=%s\n[ext]\n' "$name" >"$cfg"
  for e in "$@"; do printf '%s\n' "$e" >>"$cfg"; done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -days 3650 -config "$cfg" -extensions ext -out "$name.pem" 2>/dev/null
  rm -f "$cfg"
}
leaf='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth,serverAuth'
mk writer "$leaf" 'subjectAltName=URI:spiffe://prod.acme/ns/orders/sa/writer'
mk foreign "$leaf" 'subjectAltName=URI:spiffe://dev.acme/ns/orders/sa/writer'
mk unmapped "$leaf" 'subjectAltName=URI:spiffe://prod.acme/kafka/brokers'
mk not_spiffe "$leaf" 'subjectAltName=DNS:orders.example.com'
mk two_uris "$leaf" 'subjectAltName=URI:spiffe://prod.acme/a,URI:spiffe://prod.acme/b'
mk bad_uri "$leaf" 'subjectAltName=URI:spiffe://prod.acme/ns/orders/sa/writer/'
mk ca 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' 'subjectAltName=URI:spiffe://prod.acme'
mk no_digital_signature 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,keyEncipherment' 'subjectAltName=URI:spiffe://prod.acme/x'
mk code_signing 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=codeSigning' 'subjectAltName=URI:spiffe://prod.acme/x'
