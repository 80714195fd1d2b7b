# mayfly-agent for a harness run: one trust domain, its entries rendered
# for stock mode, all for this uid (callers pick their SVID with
# --spiffe-id, so the broker and every client can run as one user).
#
#   agent_start NAME TRUST_DOMAIN ENTRIES_FILE [CONFIG_LINE...]
#       socket in $run/NAME/api.sock, CA in $run/NAME/state/ca; sets
#       $agent_socket. Each CONFIG_LINE ("key: value") is added to the
#       agent's config.
#   svid_fetch SOCKET ID DIR                     one SVID into DIR (..data set)
#   await_svid_written DIR PID LOG               until a `watch x509 --write
#                                                DIR` (pid PID, log LOG) has
#                                                written its first set
agent_start() {
  local name=$1 td=$2 entries=$3 dir="$run/$1" deadline
  shift 3
  mkdir -p "$dir"
  cat >"$dir/agent.yaml" <<YAML
trust_domain: $td
socket_path: $dir/api.sock
state_dir: $dir/state
default_ttl: 5m
intermediate_ttl: 1h
entries_file: $entries
YAML
  printf '%s\n' "$@" >>"$dir/agent.yaml"
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

await_svid_written() {
  local dir=$1 pid=$2 log=$3 deadline=$((SECONDS + 20))
  until [[ -f $dir/svid_keystore.pem ]]; do
    if ((SECONDS >= deadline)) || ! group_alive "$pid"; then
      echo "kafka: watch x509 wrote no SVID to $dir:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
}
