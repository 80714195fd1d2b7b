#!/usr/bin/env bash
# `bash tests/demo.sh --agent-only` (no Java, no Kafka): install what is
# missing, build, start mayfly-agent on its embedded default config, fetch
# this user's X.509-SVID from it over the SPIFFE Workload API, verify it,
# show it with the real openssl binary, and stop the agent with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."

bash third_party/install_deps.sh
echo "==> building //:mayfly //:mayfly-agent" >&2
bazel build --noshow_progress //:mayfly //:mayfly-agent 2>&1 | grep -v '^(' || true
mayfly=bazel-bin/mayfly
agent=bazel-bin/identity/agent/mayfly-agent
[[ -x "$mayfly" && -x "$agent" ]] || { echo "demo: build failed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mayfly-demo.XXXXXX")
agent_pid=""
cleanup() {
  if [[ -n $agent_pid ]]; then kill "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> mayfly-agent --print-default-config"
"$agent" --print-default-config
socket=$("$agent" --print-default-config | sed -n 's/^socket_path: //p')

echo "==> mayfly-agent (embedded default config), logs in $work/agent.log"
"$agent" 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 100); do
  "$mayfly" healthcheck --socket "$socket" --timeout 1s >/dev/null 2>&1 && break
  sleep 0.1
done
"$mayfly" healthcheck --socket "$socket"

echo "==> SPIFFE_ENDPOINT_SOCKET=unix://$socket mayfly fetch x509 --write $work/svid"
SPIFFE_ENDPOINT_SOCKET="unix://$socket" "$mayfly" fetch x509 --write "$work/svid"
echo "==> mayfly svid verify"
"$mayfly" svid verify --bundle "$work/svid/svid_bundle.pem" \
  --svid "$work/svid/svid.pem"
echo "==> files: three links into ..data, the current version (key 0600)"
ls -l "$work/svid"
ls -lL "$work/svid"
echo "==> openssl x509 -text (leaf)"
openssl x509 -in "$work/svid/svid.pem" -noout -text |
  grep -E 'Subject:|Issuer:|Not (Before|After)|URI:|CA:|Digital Signature|TLS Web'
echo "==> kill -TERM mayfly-agent"
kill -TERM "$agent_pid"
wait "$agent_pid"
agent_pid=""
echo "==> agent log"
cat "$work/agent.log"
