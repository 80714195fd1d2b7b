# The mayfly-agent that the interop tests run third-party clients against.
# Source it from a Bazel sh_test whose data has //tests/lib:interop_agent and
# //identity/agent:mayfly-agent, then:
#
#   source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/interop_agent.sh"
#   start_agent NAME SPIFFE_ID
#
# start_agent makes $work, /tmp/mayfly-NAME.XXXXXX (not $TEST_TMPDIR: the
# socket path must stay under 108 bytes), and sets an EXIT trap that stops
# the agent and removes $work; the test sets no trap of its own. The agent:
# trust domain example.org, state in $work/state, socket $sock
# ($work/api.sock), stderr in $work/agent.log, and one entry, SPIFFE_ID for
# this process's uid with a 10 s TTL (it renews at about 5 s, so a client
# sees a rotation within 20 s). start_agent returns once the socket is
# there, or exits 1 with the agent's log if it is not within 10 s. It sets
# $work, $sock and $agent_pid; checks.sh is sourced too.
runfiles="$TEST_SRCDIR/$TEST_WORKSPACE"
source "$runfiles/tests/lib/checks.sh"

agent_pid=""
stop_agent() {
  if [[ -n $agent_pid ]]; then kill "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}

start_agent() {
  local name=$1 spiffe_id=$2
  work=$(mktemp -d "/tmp/mayfly-$name.XXXXXX")
  trap stop_agent EXIT
  sock="$work/api.sock"
  cat >"$work/agent.yaml" <<YAML
trust_domain: example.org
socket_path: $sock
state_dir: $work/state
entries:
  - spiffe_id: $spiffe_id
    selectors: ["unix:uid:$(id -u)"]
    ttl: 10s
YAML
  "$runfiles/identity/agent/mayfly-agent" --config "$work/agent.yaml" \
    2>"$work/agent.log" &
  agent_pid=$!
  if ! wait_for 10 test -S "$sock"; then
    echo "start_agent: no socket at $sock after 10 s; agent log:" >&2
    cat "$work/agent.log" >&2
    exit 1
  fi
}
