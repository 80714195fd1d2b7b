#!/usr/bin/env bash
# Interop: unmodified third-party Workload API clients against the real
# mayfly-agent. gospiffe-check (go-spiffe v2, from the Go module proxy) must
# fetch and verify an X.509-SVID, see it rotate, read the bundles, and fetch
# and validate a JWT-SVID both through the agent and locally against the JWK
# set. If SPIRE_AGENT is set, `spire-agent api fetch x509` must work too.
#
# Needs GOSPIFFE_CHECK (built by tests/interop/build_gospiffe.sh); run by
# tests/run_all.sh with --test_env.
set -euo pipefail
gospiffe=${GOSPIFFE_CHECK:?set GOSPIFFE_CHECK to the gospiffe-check binary}
source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/interop_agent.sh"
start_agent interop spiffe://example.org/interop

# A 10 s SVID renews at about 5 s: one rotation within 20 s.
expect 0 "go-spiffe: X.509 SVID, verified, then one rotation" -- \
  "$gospiffe" x509 -socket "unix://$sock" \
  -expect-id spiffe://example.org/interop -rotations 1 -timeout 20s
contains "$out" "update n=2" "a second SVID was streamed"
equals "$(tail -1 <<<"$out")" ok "x509 check passed"

expect 0 "go-spiffe: X.509 bundles" -- "$gospiffe" bundles -socket "unix://$sock"
contains "$out" "bundle trust_domain=example.org roots=1" "one root"

expect 0 "go-spiffe: JWT-SVID fetch and validation" -- \
  "$gospiffe" jwt -socket "unix://$sock" -audience kafka
contains "$out" "jwt sub=spiffe://example.org/interop" "token subject"

expect 0 "gRPC server reflection lists the Workload API" -- \
  "$gospiffe" reflect -socket "unix://$sock"
contains "$out" "service SpiffeWorkloadAPI" "reflection"

# The same client through SPIFFE_ENDPOINT_SOCKET, go-spiffe's default.
expect 0 "go-spiffe via SPIFFE_ENDPOINT_SOCKET" -- env \
  SPIFFE_ENDPOINT_SOCKET="unix://$sock" "$gospiffe" bundles
contains "$out" "example.org" "env var honoured"

if [[ -n ${SPIRE_AGENT:-} ]]; then
  mkdir -p "$work/spire-out"
  expect 0 "spire-agent api fetch x509" -- "$SPIRE_AGENT" api fetch x509 \
    -socketPath "$sock" -write "$work/spire-out"
  contains "$out" "spiffe://example.org/interop" "SPIRE CLI sees the SVID"
  expect 0 "spire-agent api fetch jwt" -- "$SPIRE_AGENT" api fetch jwt \
    -socketPath "$sock" -audience kafka
  contains "$out" "spiffe://example.org/interop" "SPIRE CLI gets a JWT-SVID"
  expect 0 "spire-agent api validate jwt" -- "$SPIRE_AGENT" api validate jwt \
    -socketPath "$sock" -audience kafka \
    -svid "$(sed -n '2p' <<<"$out" | tr -d '[:space:]')"
  contains "$out" "SVID is valid" "SPIRE CLI validates through the agent"
else
  echo "spire-agent not given (SPIRE_AGENT unset): SPIRE CLI checks not run"
fi

finish gospiffe_test
