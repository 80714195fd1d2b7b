#!/usr/bin/env bash
# The README's first command: install what is missing, build, and show Mayfly
# minting and verifying a short-lived X.509-SVID.
#
# Until mayfly-agent serves the Workload API, the demo drives the CLI's
# offline tools: create a trust domain root, mint an SVID through a fresh
# intermediate, verify it, and show it with the real openssl binary.
set -euo pipefail
cd "$(dirname "$0")/.."

bash third_party/install_deps.sh
echo "==> building //:mayfly" >&2
bazel build --noshow_progress //:mayfly //:mayfly-agent 2>&1 | grep -v '^(' || true
mayfly=bazel-bin/identity/cli/mayfly
[[ -x "$mayfly" ]] || { echo "demo: build failed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mayfly-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
id=spiffe://example.org/ns/kafka/sa/producer

echo "==> mayfly ca init --dir $work/ca --trust-domain example.org"
"$mayfly" ca init --dir "$work/ca" --trust-domain example.org
echo "==> mayfly svid mint --id $id --ttl 60s"
"$mayfly" svid mint --ca-dir "$work/ca" --id "$id" --ttl 60s --out "$work/svid"
echo "==> mayfly svid verify"
"$mayfly" svid verify --bundle "$work/svid/svid_bundle.pem" \
  --svid "$work/svid/svid.pem"
echo "==> files (the key is 0600)"
ls -l "$work/svid"
echo "==> openssl x509 -text (leaf)"
openssl x509 -in "$work/svid/svid.pem" -noout -text |
  grep -E 'Subject:|Issuer:|Not (Before|After)|URI:|CA:|Digital Signature|TLS Web'
