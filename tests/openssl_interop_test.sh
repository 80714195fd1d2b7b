#!/usr/bin/env bash
# The real openssl binary accepts what Mayfly mints: `openssl verify` chains
# an SVID to the bundle, and `openssl x509 -text` shows exactly one URI SAN
# and the leaf extensions the X.509-SVID spec requires.
set -euo pipefail

mayfly="$TEST_SRCDIR/$TEST_WORKSPACE/mayfly"
work="$TEST_TMPDIR/openssl"
rm -rf "$work" && mkdir -p "$work"
id=spiffe://example.org/ns/kafka/sa/broker
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$mayfly" ca init --dir "$work/ca" --trust-domain example.org >/dev/null
for key_type in p256 ed25519 rsa2048; do
  out="$work/$key_type"
  "$mayfly" svid mint --ca-dir "$work/ca" --id "$id" --ttl 5m \
    --key-type "$key_type" --dns broker.example.org --out "$out" >/dev/null
  csplit -s -z -f "$out/cert" "$out/svid.pem" '/-----BEGIN CERTIFICATE-----/' '{*}'
  [[ -f $out/cert00 && -f $out/cert01 && ! -f $out/cert02 ]] ||
    fail "$key_type: svid.pem should hold exactly leaf + intermediate"

  openssl verify -CAfile "$out/svid_bundle.pem" -untrusted "$out/cert01" \
    "$out/cert00" >"$work/verify.out" 2>&1 ||
    fail "$key_type: openssl verify rejected the SVID: $(cat "$work/verify.out")"
  grep -qx "$out/cert00: OK" "$work/verify.out" ||
    fail "$key_type: unexpected openssl verify output: $(cat "$work/verify.out")"

  text=$(openssl x509 -in "$out/cert00" -noout -text)
  uris=$(grep -o 'URI:[^,]*' <<<"$text")
  [[ $uris == "URI:$id" ]] || fail "$key_type: URI SANs are '$uris', want exactly URI:$id"
  grep -q 'DNS:broker.example.org' <<<"$text" || fail "$key_type: DNS SAN missing"
  grep -q 'CA:FALSE' <<<"$text" || fail "$key_type: leaf is not CA:FALSE"
  grep -A1 'X509v3 Key Usage: critical' <<<"$text" | grep -q 'Digital Signature' ||
    fail "$key_type: keyUsage is not critical digitalSignature"
  if grep -A1 'X509v3 Key Usage' <<<"$text" | grep -q 'Certificate Sign'; then
    fail "$key_type: leaf has keyCertSign"
  fi
  grep -q 'TLS Web Server Authentication, TLS Web Client Authentication' \
    <<<"$text" || fail "$key_type: EKU is not serverAuth+clientAuth"
  grep -q 'X509v3 Subject Key Identifier' <<<"$text" || fail "$key_type: no SKI"
  grep -q 'X509v3 Authority Key Identifier' <<<"$text" || fail "$key_type: no AKI"

  # openssl's own view of the key file matches the certificate.
  [[ "$(openssl pkey -in "$out/svid_key.pem" -pubout)" == \
    "$(openssl x509 -in "$out/cert00" -noout -pubkey)" ]] ||
    fail "$key_type: svid_key.pem does not match the leaf"
  echo "ok: $key_type"
done

# Negative control: a bundle of another root with the same trust domain name.
"$mayfly" ca init --dir "$work/other" --trust-domain example.org >/dev/null
if openssl verify -CAfile "$work/other/bundle.pem" -untrusted "$work/p256/cert01" \
  "$work/p256/cert00" >"$work/verify.out" 2>&1; then
  fail "openssl verify accepted an SVID against a foreign root"
fi
echo "ok: foreign root rejected"
