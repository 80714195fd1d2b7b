#!/bin/bash
# Regenerates the fixed test SVIDs of dev.mayfly.kafka.ssl's tests, once, with
# the repo's CLI (`mayfly ca init`, `ca rotate`, `svid mint`) and, for the two
# malformed leaves the CLI refuses to mint, with openssl. Every certificate
# lives 10 years (`svid mint` caps a TTL at the root's expiry, not lower), so
# the tests need no CLI at run time. The CA keys are thrown away.
#
#   MAYFLY=/work/main/bazel-bin/mayfly ./generate.sh
set -euo pipefail
MAYFLY=${MAYFLY:-$(git rev-parse --show-toplevel)/bazel-bin/mayfly}
[ -x "$MAYFLY" ] || { echo "generate.sh: no mayfly CLI at $MAYFLY (bazel build //:mayfly)" >&2; exit 1; }
OUT=$(cd "$(dirname "$0")" && pwd)
TTL=3650d
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# Trust domain example.org, root A; then a rotation adds root B to its bundle.
"$MAYFLY" ca init --dir ca_a --trust-domain example.org --ttl $TTL >/dev/null
"$MAYFLY" ca init --dir ca_other --trust-domain other.org --ttl $TTL >/dev/null
mint() {  # CA_DIR ID NAME [svid mint flags]
  "$MAYFLY" svid mint --ca-dir "$1" --id "$2" --ttl $TTL --out "$3" "${@:4}" >/dev/null
  mkdir -p "$OUT/$3"
  cp "$3/svid.pem" "$3/svid_key.pem" "$OUT/$3/"
}
mint ca_a spiffe://example.org/kafka/broker broker
mint ca_a spiffe://example.org/orders/writer client
mint ca_other spiffe://other.org/orders/writer other
mint ca_a spiffe://example.org/kafka/broker broker_ed25519 --key-type ed25519
mint ca_a spiffe://example.org/kafka/broker broker_rsa --key-type rsa2048
cp ca_a/bundle.pem "$OUT/bundle_a.pem"
cp ca_other/bundle.pem "$OUT/bundle_other.pem"

# Root rotation: the bundle holds A and B; a leaf under B (a CA dir whose
# root is B) verifies only through B.
cp -r ca_a ca_ab
"$MAYFLY" ca rotate --dir ca_ab --ttl $TTL >/dev/null
cp ca_ab/bundle.pem "$OUT/bundle_ab.pem"
cp -r ca_ab ca_b
mv ca_b/next_root_cert.pem ca_b/root_cert.pem
mv ca_b/next_root_key.pem ca_b/root_key.pem
mint ca_b spiffe://example.org/orders/reader client_b
mint ca_b spiffe://example.org/kafka/broker broker_b

# Leaves `svid mint` will not make, signed straight by root A.
bad_leaf() {  # NAME EXTENSIONS
  mkdir -p "$OUT/$1"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
  openssl req -new -key "$1.key" -subj "/O=Mayfly test/CN=$1" -out "$1.csr"
  printf '%b' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca_a/root_cert.pem -CAkey ca_a/root_key.pem \
    -CAcreateserial -days 3650 -sha256 -extfile "$1.ext" -out "$OUT/$1/svid.pem" 2>/dev/null
  cp "$1.key" "$OUT/$1/svid_key.pem"
}
bad_leaf two_uris 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=URI:spiffe://example.org/a,URI:spiffe://example.org/b\n'
bad_leaf ca_leaf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\nsubjectAltName=URI:spiffe://example.org/orders/writer\n'
bad_leaf no_uri 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:broker.example.org\n'
bad_leaf no_key_usage 'basicConstraints=critical,CA:FALSE\nsubjectAltName=URI:spiffe://example.org/orders/writer\n'
bad_leaf server_only 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=URI:spiffe://example.org/kafka/server-only\n'
echo "wrote $OUT"

# Two trust domains whose roots sign across the line (openssl only), for the
# trust-per-trust-domain tests: a staging.acme leaf signed by prod.acme's
# root, and spiffe://prod.acme/kafka/broker signed by staging.acme's root.
# Neither may verify: a root vouches for its own trust domain only.
cross_root() {  # TD
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "root_$1.key" -subj "/O=Mayfly test/CN=$1 root CA" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectAltName=URI:spiffe://$1" -out "$OUT/cross/root_$1.pem" 2>/dev/null
}
cross_leaf() {  # NAME SIGNING_TD ID
  mkdir -p "$OUT/cross/$1"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
  openssl req -new -key "$1.key" -subj "/O=Mayfly test" -out "$1.csr"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=URI:%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$OUT/cross/root_$2.pem" -CAkey "root_$2.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$1.ext" -out "$OUT/cross/$1/svid.pem" 2>/dev/null
  cp "$1.key" "$OUT/cross/$1/svid_key.pem"
}
mkdir -p "$OUT/cross"
cross_root prod.acme
cross_root staging.acme
cross_leaf prod_broker prod.acme spiffe://prod.acme/kafka/broker
cross_leaf staging_by_prod prod.acme spiffe://staging.acme/orders/writer
cross_leaf broker_by_staging staging.acme spiffe://prod.acme/kafka/broker
rm -f "$OUT"/cross/*.srl  # -CAcreateserial writes them beside the root
echo "wrote $OUT/cross"
