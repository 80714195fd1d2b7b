#!/usr/bin/env bash
# Interop: an unmodified java-spiffe client (io.spiffe:java-spiffe-core, from
# Maven Central) against the real mayfly-agent over its Unix socket, through
# gRPC's epoll domain-socket channel. javaspiffe-check must watch X.509
# contexts through a rotation of a 10 s SVID, each SVID verified against its
# bundle; DefaultX509Source must pick up a rotation by itself; and the X.509
# bundles, fetched and watched, must hold exactly the agent's root.
#
# Needs JAVASPIFFE_CHECK (the launcher tests/interop/build_javaspiffe.sh
# prints); run by tests/run_all.sh with --test_env.
set -euo pipefail
runfiles="$TEST_SRCDIR/$TEST_WORKSPACE"
check=${JAVASPIFFE_CHECK:?set JAVASPIFFE_CHECK to the javaspiffe-check launcher}
[[ -x $check ]] || {
  echo "JAVASPIFFE_CHECK=$check is not an executable file" >&2
  exit 1
}
want_sum=$(bash "$runfiles/tests/interop/build_javaspiffe.sh" --sources-sha256)
grep -qx "# sources: $want_sum" "$check" || {
  echo "$check was not built from these sources (sha256 $want_sum):" \
    "run tests/interop/build_javaspiffe.sh again" >&2
  exit 1
}
source "$runfiles/tests/lib/interop_agent.sh"
id=spiffe://example.org/interop
start_agent jspiffe "$id"
# The agent's root, as the bundles must carry it.
root_sha256=$(openssl x509 -in "$work/state/ca/root_cert.pem" -outform DER |
  sha256sum | cut -c1-64)

# field NAME LINE: the value of NAME=... in LINE.
field() { sed -nE "s/.*(^| )$1=([^ ]*).*/\2/p" <<<"$2"; }

# A 10 s SVID renews at about 5 s: one rotation within 20 s.
expect 0 "java-spiffe watchX509Context: SVID verified, then one rotation" -- \
  "$check" x509 -socket "unix://$sock" -expect-id "$id" -rotations 1 \
  -timeout 20s
# javaspiffe-check stops at the first update whose serial is new; the agent
# may stream an unchanged context before that, so count serials, not lines.
updates=$(grep '^update ' <<<"$out" || true)
first=$(head -1 <<<"$updates") last=$(tail -1 <<<"$updates")
equals "$(field id "$first")" "$id" "first SVID's ID"
equals "$(field id "$last")" "$id" "rotated SVID's ID"
equals "$(field chain "$first")" 2 "leaf and the agent's intermediate"
equals "$(field bundle_roots "$first")" 1 "one root with the context"
equals "$(sed -nE 's/.* serial=([0-9a-f]+) .*/\1/p' <<<"$updates" |
  sort -u | wc -l)" 2 "two distinct serials: one rotation"
equals "$(grep -c " serial=$(field serial "$last") " <<<"$updates")" 1 \
  "the last update's serial is new"
equals "$(tail -1 <<<"$out")" ok "x509 check passed"

expect 0 "java-spiffe fetchX509Bundles and watchX509Bundles" -- \
  "$check" bundles -socket "unix://$sock" -timeout 10s
equals "$(grep '^bundle ' <<<"$out")" "bundle trust_domain=example.org roots=1" \
  "one bundle, example.org's, with one root"
equals "$(grep '^root ' <<<"$out")" \
  "root trust_domain=example.org sha256=$root_sha256" "the root is the agent's"
contains "$out" "watch n=1 bundles=1 same_as_fetch=true" "watched = fetched"
equals "$(tail -1 <<<"$out")" ok "bundles check passed"

expect 0 "java-spiffe DefaultX509Source: verified, then one rotation" -- \
  "$check" source -socket "unix://$sock" -expect-id "$id" -rotations 1 \
  -timeout 20s
serials=$(sed -nE 's/^source n=[12] id=[^ ]+ serial=([0-9a-f]+) .*/\1/p' <<<"$out")
equals "$(sort -u <<<"$serials" | wc -l)" 2 "the source held two SVIDs"
equals "$(tail -1 <<<"$out")" ok "source check passed"

# java-spiffe's default address: SPIFFE_ENDPOINT_SOCKET.
expect 0 "java-spiffe via SPIFFE_ENDPOINT_SOCKET" -- env \
  SPIFFE_ENDPOINT_SOCKET="unix://$sock" "$check" bundles -timeout 10s
contains "$out" "root trust_domain=example.org sha256=$root_sha256" \
  "env var honoured"

# With no agent behind the socket the check must fail, not pass.
expect 1 "java-spiffe against a socket nobody serves" -- \
  "$check" bundles -socket "unix://$work/none.sock" -timeout 5s

finish javaspiffe_test
