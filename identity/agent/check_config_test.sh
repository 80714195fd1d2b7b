#!/usr/bin/env bash
# The real mayfly-agent binary on config files: --check-config loads the
# entries file and reports its errors with file:line, a key given twice
# anywhere is refused, intermediate_ttl is bounded, and an agent whose root
# expires within intermediate_ttl refuses to start.
set -euo pipefail

runfiles="$TEST_SRCDIR/$TEST_WORKSPACE"
# Under /tmp, not $TEST_TMPDIR: the socket path must stay under 108 bytes.
work=$(mktemp -d /tmp/mayfly-check-config.XXXXXX)
source "$runfiles/tests/lib/checks.sh"
agent="$runfiles/identity/agent/mayfly-agent"
mayfly="$runfiles/mayfly"
trap 'rm -rf "$work"' EXIT

# write_config INTERMEDIATE_TTL [EXTRA LINE]
write_config() {
  cat >"$work/agent.yaml" <<YAML
trust_domain: example.org
socket_path: $work/run/api.sock
state_dir: $work/state
intermediate_ttl: $1
entries_file: entries.yaml
${2:-}
YAML
}

# write_entries LINES: two good entries, then LINES (line 6 onwards).
write_entries() {
  cat >"$work/entries.yaml" <<YAML
entries:
  - spiffe_id: spiffe://example.org/a
    selectors: ["unix:uid:1"]
  - spiffe_id: spiffe://example.org/b
    selectors: ["unix:uid:2"]
$1
YAML
}

# --- a good config, its entries file read -------------------------------
write_config 1h
write_entries ""
expect 0 "good config" -- "$agent" --check-config "$work/agent.yaml"
equals "$out" "$work/agent.yaml: OK (2 entries from $work/entries.yaml)" \
  "good config: entries counted from the file"

# --- the entries file's errors, with its file:line -----------------------
write_entries '  - spiffe_id: spiffe://example.org/c
    selectors: ["unix:uid:abc"]'
expect 2 "bad entry" -- "$agent" --check-config "$work/agent.yaml"
contains "$err" "$work/entries.yaml:7: entries[2].selectors[0]: selector \"unix:uid:abc\"" \
  "bad entry: entries file:line and field"

write_entries '  - spiffe_id: spiffe://example.org/c
    selectors: ["unix:uid:3"]
    selectors: ["unix:uid:3", "unix:path:/bin/c"]'
expect 2 "key twice in entries file" -- "$agent" --check-config "$work/agent.yaml"
contains "$err" "$work/entries.yaml:8: entries[2].selectors: key given twice (first at line 7)" \
  "key twice in entries file: file:line and key"

write_entries '  - spiffe_id: spiffe://other.org/c
    selectors: ["unix:uid:3"]'
expect 2 "entry outside trust domain" -- "$agent" --check-config "$work/agent.yaml"
contains "$err" "$work/entries.yaml:6: spiffe_id: spiffe://other.org/c is not in trust domain" \
  "entry outside trust domain: file:line"

# --- the agent config itself ---------------------------------------------
write_entries ""
write_config 1h "intermediate_ttl: 2h"
expect 2 "key twice in agent config" -- "$agent" --check-config "$work/agent.yaml"
contains "$err" "$work/agent.yaml:6: intermediate_ttl: key given twice (first at line 4)" \
  "key twice in agent config: file:line and key"

write_config 10000d
expect 2 "intermediate_ttl beyond the maximum" -- "$agent" --check-config "$work/agent.yaml"
contains "$err" "$work/agent.yaml:4: intermediate_ttl: must be at most 96h" \
  "intermediate_ttl beyond the maximum: file:line"

# --- a root that expires within intermediate_ttl: refused at start -------
mkdir -m 700 "$work/state"
expect 0 "short-lived root" -- "$mayfly" ca init --dir "$work/state/ca" \
  --trust-domain example.org --ttl 1h
write_config 2h
# The bound only stops a broken agent that started serving instead.
expect 1 "agent start with root expiring first" -- \
  timeout 20 "$agent" --config "$work/agent.yaml"
contains "$err" "sooner than intermediate_ttl (2h): rotate the root" \
  "root expiring first: the start error says why"
lacks "$err" "agent_started" "root expiring first: never served"

finish check_config_test
