#!/usr/bin/env bash
# End-to-end tests of the `mayfly` binary: exit codes, messages, file modes.
set -euo pipefail

mayfly="$TEST_SRCDIR/$TEST_WORKSPACE/identity/cli/mayfly"
work="$TEST_TMPDIR/cli"
rm -rf "$work" && mkdir -p "$work"
source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/checks.sh"

# id check
expect 0 "valid ids" -- "$mayfly" id check spiffe://example.org/a/b spiffe://td
equals "$out" $'spiffe://example.org/a/b\nspiffe://td' "canonical output"
expect 1 "invalid ids" -- "$mayfly" id check spiffe://example.org/ok \
  spiffe://Example.org/a spiffe://example.org/a/ http://example.org/a
equals "$out" "spiffe://example.org/ok" "valid id still printed"
equals "$(grep -c '^invalid: ' <<<"$err")" 3 "one line per invalid id"
contains "$err" "lowercase letters" "uppercase trust domain rule"
contains "$err" "trailing" "trailing slash rule"
contains "$err" "scheme" "scheme rule"
expect 2 "no ids" -- "$mayfly" id check
expect 0 "help" -- "$mayfly" id check --help
contains "$out" "usage: mayfly id check" "help text"

# ca init
expect 0 "ca init" -- "$mayfly" ca init --dir "$work/ca" --trust-domain example.org
equals "$(stat -c %a "$work/ca")" 700 "CA dir mode"
equals "$(stat -c %a "$work/ca/root_key.pem")" 600 "root key mode"
expect 1 "ca init twice" -- "$mayfly" ca init --dir "$work/ca" --trust-domain example.org
contains "$err" "already exists" "second init refused"
expect 2 "ca init without td" -- "$mayfly" ca init --dir "$work/ca2"
contains "$err" "missing required flag --trust-domain" "missing flag named"
expect 2 "ca init bad td" -- "$mayfly" ca init --dir "$work/ca2" --trust-domain Bad.Org
expect 2 "unknown flag" -- "$mayfly" ca init --dir "$work/ca2" --trust-domain x --bogus
contains "$err" "unknown flag --bogus" "unknown flag named"

# svid mint
expect 0 "mint" -- "$mayfly" svid mint --ca-dir "$work/ca" \
  --id spiffe://example.org/ns/prod/sa/web --ttl 60s --dns web.example.org \
  --out "$work/svid"
equals "$(stat -L -c %a "$work/svid/svid_key.pem")" 600 "SVID key mode"
equals "$(grep -c 'BEGIN CERTIFICATE' "$work/svid/svid.pem")" 2 "leaf + intermediate"
equals "$(grep -c 'BEGIN CERTIFICATE' "$work/svid/svid_bundle.pem")" 1 "bundle has the root"
expect 1 "mint foreign id" -- "$mayfly" svid mint --ca-dir "$work/ca" \
  --id spiffe://other.org/web --out "$work/x"
contains "$err" "not in trust domain example.org" "foreign trust domain"
expect 2 "mint bad ttl" -- "$mayfly" svid mint --ca-dir "$work/ca" \
  --id spiffe://example.org/web --ttl 10 --out "$work/x"
contains "$err" "missing unit" "ttl error"
expect 1 "mint without CA" -- "$mayfly" svid mint --ca-dir "$work/none" \
  --id spiffe://example.org/web --out "$work/x"
contains "$err" "mayfly ca init" "points at ca init"

# svid verify
expect 0 "verify" -- "$mayfly" svid verify --bundle "$work/svid/svid_bundle.pem" \
  --svid "$work/svid/svid.pem"
contains "$out" "verified spiffe://example.org/ns/prod/sa/web" "verified id"
"$mayfly" ca init --dir "$work/other" --trust-domain example.org >/dev/null
expect 1 "verify against another root" -- "$mayfly" svid verify \
  --bundle "$work/other/bundle.pem" --svid "$work/svid/svid.pem"
contains "$err" "does not lead to a root in the trust bundle" "unknown root"
expect 1 "verify with wrong trust domain" -- "$mayfly" svid verify \
  --bundle "$work/svid/svid_bundle.pem" --svid "$work/svid/svid.pem" \
  --trust-domain other.org
contains "$err" "is not in trust domain other.org" "trust domain rule"
expect 1 "verify a key file" -- "$mayfly" svid verify \
  --bundle "$work/svid/svid_bundle.pem" --svid "$work/svid/svid_key.pem"
contains "$err" "no \"-----BEGIN CERTIFICATE-----\" block" "not a certificate"

# Expiry: a 1 s SVID stops verifying by itself. Poll (bounded) instead of
# sleeping a fixed time.
"$mayfly" svid mint --ca-dir "$work/ca" --id spiffe://example.org/short \
  --ttl 1s --out "$work/short" >/dev/null
expired=0
for _ in $(seq 1 50); do
  if ! "$mayfly" svid verify --bundle "$work/short/svid_bundle.pem" \
    --svid "$work/short/svid.pem" >/dev/null 2>"$work/stderr"; then
    expired=1
    break
  fi
  sleep 0.1
done
equals "$expired" 1 "1 s SVID expired within 5 s"
contains "$(cat "$work/stderr")" "has expired" "expiry rule named"

finish cli_test
