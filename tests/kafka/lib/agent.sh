# mayfly-agent for a harness run: one trust domain, its entries rendered
# for stock mode, all for this uid (callers pick their SVID with
# --spiffe-id, so the broker and every client can run as one user).
#
#   agent_start NAME TRUST_DOMAIN ENTRIES_FILE   socket in $run/NAME/api.sock;
#                                                sets $agent_socket
#   svid_fetch SOCKET ID DIR                     one SVID into DIR (..data set)
agent_start() {
  local name=$1 td=$2 entries=$3 dir="$run/$1" deadline
  mkdir -p "$dir"
  cat >"$dir/agent.yaml" <<YAML
trust_domain: $td
socket_path: $dir/api.sock
state_dir: $dir/state
default_ttl: 5m
intermediate_ttl: 1h
entries_file: $entries
YAML
  spawn "agent $name" "$dir/agent.log" "$bin/mayfly-agent" --config "$dir/agent.yaml"
  agent_socket="$dir/api.sock"
  deadline=$((SECONDS + 20))
  until "$bin/mayfly" healthcheck --socket "$agent_socket" --timeout 1s \
    >/dev/null 2>&1; do
    if ((SECONDS >= deadline)) || ! group_alive "$spawned_pid"; then
      echo "kafka: agent $name did not come up:" >&2
      tail -n 20 "$dir/agent.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

svid_fetch() {
  "$bin/mayfly" fetch x509 --socket "$1" --spiffe-id "$2" --write "$3" \
    --timeout 10s >/dev/null
}
