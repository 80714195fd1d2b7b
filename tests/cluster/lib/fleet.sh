# The fleet of the cluster harness: an admin CA (the root stays with the
# harness, as on an admin machine), mayfly-server replicas on the etcd
# cluster, each with its own intermediate, and agents, each in a node
# namespace (lib/net.sh) attested with a join token.
#
#   fleet_ca                     the admin root and the bundle file
#   server_start NAME            a replica (NAME a|b); its Node API on
#                                $net_host:${server_port[NAME]}
#   server_stop NAME [KILL]      TERM (or KILL -9) the replica
#   admin NAME ARGS...           `mayfly ARGS` against NAME's admin socket
#   agent_start N ADDRS...       node N's agent, attesting with a new token
#                                (created through replica a), servers in
#                                the order given
#   agent_restart N              the same agent again, on its state dir
#   agent_stop N [KILL]
#   agent_id N                   the agent SPIFFE ID node N attested as
#   server_metrics NAME          the replica's /metrics (Prometheus text)
#   agent_metrics N              node N's agent's /metrics (from inside its
#                                namespace: the endpoint is on loopback)
#
# Needs $run, $bin, $td and the procs.sh/net.sh/etcd.sh functions;
# $rotation_lead is the replicas' root_rotation_lead (30s, the default).

declare -A server_port=() server_pid=() agent_pid=() agent_ids=()
declare -A agent_addrs=()

fleet_ca() {
  "$bin/mayfly" ca init --dir "$run/admin-ca" --trust-domain "$td" \
    >>"$run/fleet.log" 2>&1 || return
  # A provisioning PKI for x509pop: a node CA and one node certificate
  # (CN kafka-1, which the servers map to the kafka alias).
  local pki=$run/node-pki
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$pki/ca_key.pem" -out "$pki/ca.pem" -subj /CN=node-ca -days 1 \
    >>"$run/fleet.log" 2>&1 &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$pki/node_key.pem" -out "$pki/node.csr" -subj /CN=kafka-1 \
      >>"$run/fleet.log" 2>&1 &&
    openssl x509 -req -in "$pki/node.csr" -CA "$pki/ca.pem" \
      -CAkey "$pki/ca_key.pem" -CAcreateserial -out "$pki/node.pem" -days 1 \
      >>"$run/fleet.log" 2>&1
}

# fleet_bundle: the roots an agent trusts the servers by at first: the
# admin's, or step-ca's root when the replicas take their intermediates
# from step-ca ($fleet_step_ca, its URL; $fleet_step_pki, tests/stepca/lib.sh's
# directory; $fleet_step_ttl, the intermediates' TTL, 2m).
fleet_bundle() {
  if [[ -n ${fleet_step_ca:-} ]]; then
    echo "$fleet_step_pki/root.pem"
  else
    echo "$run/admin-ca/bundle.pem"
  fi
}

# free_port HOST: a port nobody listens on at HOST now.
free_port() {
  python3 -c 'import socket,sys
s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

# server_config NAME: writes the replica's config (once: its port and its
# intermediate stay across restarts).
server_config() {
  local name=$1 dir=$run/server-$1
  [[ -f $dir/server.yaml ]] && return 0
  mkdir -p "$dir"
  chmod 700 "$dir"
  local signing
  if [[ -n ${fleet_step_ca:-} ]]; then
    signing="  upstream:
    step_ca:
      url: $fleet_step_ca
      root_file: $fleet_step_pki/root.pem
      provisioner: mayfly
      provisioner_key_file: $fleet_step_pki/provisioner.key
      ttl: ${fleet_step_ttl:-2m}"
  else
    "$bin/mayfly" ca csr --trust-domain "$td" --key-out "$dir/intermediate_key.pem" \
      --out "$dir/intermediate.csr" >>"$run/fleet.log" 2>&1 || return
    "$bin/mayfly" ca sign --dir "$run/admin-ca" --csr "$dir/intermediate.csr" \
      --out "$dir/intermediate.pem" --ttl 24h >>"$run/fleet.log" 2>&1 || return
    signing="  intermediate_cert: $dir/intermediate.pem
  intermediate_key: $dir/intermediate_key.pem
  bundle: $run/admin-ca/bundle.pem"
  fi
  server_port[$name]=$(free_port "$net_host")
  local endpoints
  endpoints=$(sed 's/,/, /g' <<<"$ETCD_ENDPOINTS")
  cat >"$dir/server.yaml" <<YAML
trust_domain: $td
listen_address: $net_host:${server_port[$name]}
admin_socket: $dir/admin.sock
state_dir: $dir/state
store: {etcd: {endpoints: [$endpoints]}}
signing:
$signing
default_ttl: $svid_ttl
agent_ttl: $agent_ttl
root_rotation_lead: ${rotation_lead:-30s}
x509pop:
  ca_bundle: $run/node-pki/ca.pem
  aliases: [{cn: "kafka-*", alias: "spiffe://$td/mayfly/alias/kafka"}]
metrics_address: 127.0.0.1:0
log_level: info
YAML
}

server_start() {
  local name=$1 dir=$run/server-$1
  server_config "$name" || return
  spawn "server-$name" "$dir/server.log.$SECONDS" "$bin/mayfly-server" \
    --config "$dir/server.yaml"
  server_pid[$name]=$spawned_pid
  ln -sf "$dir/server.log.$SECONDS" "$dir/server.log"
  local deadline=$((SECONDS + 20))
  until [[ -S $dir/admin.sock ]] && admin "$name" agent list >/dev/null 2>&1; do
    if ! group_alive "${server_pid[$name]}" || ((SECONDS >= deadline)); then
      echo "cluster: server $name did not start:" >&2
      tail -n 20 "$dir/server.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

server_stop() {
  local name=$1 how=${2:-TERM}
  if [[ $how == KILL ]]; then
    kill -KILL -- "-${server_pid[$name]}" 2>/dev/null || true
    wait "${server_pid[$name]}" 2>/dev/null || true
  else
    stop_group "${server_pid[$name]}"
  fi
}

# server_hup NAME: SIGHUP, so the replica re-reads its signing files and
# runs its maintenance now rather than within 30 s.
server_hup() { kill -HUP -- "-${server_pid[$1]}" 2>/dev/null; }

admin() {
  local name=$1
  shift
  "$bin/mayfly" "$@" --server "unix://$run/server-$name/admin.sock" --timeout 5s
}

agent_id() { echo "${agent_ids[$1]}"; }

# metrics_port LOG: the metrics_port the latest start logged in LOG.
metrics_port() {
  grep -o '"metrics_port":"[0-9]*"' "$1" | tail -n 1 | tr -dc 0-9
}

server_metrics() {
  curl -sf --max-time 5 \
    "http://127.0.0.1:$(metrics_port "$run/server-$1/server.log")/metrics"
}

agent_metrics() {
  node_exec "$1" curl -sf --max-time 5 \
    "http://127.0.0.1:$(metrics_port "$run/node$1/agent.log")/metrics"
}

# agent_start N ADDR...: a token from replica a, then the agent in node N.
agent_start() {
  local n=$1 dir=$run/node$1 token out
  shift
  agent_addrs[$n]="$*"
  mkdir -p "$dir"
  out=$(admin a token create --ttl 2m) || {
    echo "cluster: token create failed: $out" >&2
    return 1
  }
  token=$(awk '$1 == "token:" { print $2 }' <<<"$out")
  agent_ids[$n]=$(awk '$1 == "agent_id:" { print $2 }' <<<"$out")
  [[ -n $token && -n ${agent_ids[$n]} ]] || {
    echo "cluster: no token in: $out" >&2
    return 1
  }
  echo "$token" >"$dir/token"
  # The agent's own copy, as a node gets it at provisioning: the admin's
  # bundle.pem changes in a root rotation, this one does not.
  cp "$(fleet_bundle)" "$dir/server-bundle.pem"
  local addrs
  addrs=$(sed 's/ /, /g' <<<"$*")
  cat >"$dir/agent.yaml" <<YAML
trust_domain: $td
socket_path: $dir/api.sock
state_dir: $dir/state
metrics_address: 127.0.0.1:0
server:
  address: [$addrs]
  bundle: $dir/server-bundle.pem
  join_token: $token
YAML
  agent_restart "$n" || return
  # Attested once the server lists it (the token is spent then).
  local deadline=$((SECONDS + 20))
  until admin a agent list 2>/dev/null | grep -qxF "spiffe_id: ${agent_ids[$n]}"; do
    if ((SECONDS >= deadline)); then
      echo "cluster: agent $n never attested:" >&2
      tail -n 20 "$dir/agent.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

agent_restart() {
  local n=$1 dir=$run/node$1
  spawn "agent-$n" "$dir/agent.log.$SECONDS" ip netns exec "${net_tag}n$n" \
    "$bin/mayfly-agent" --config "$dir/agent.yaml"
  agent_pid[$n]=$spawned_pid
  ln -sf "$dir/agent.log.$SECONDS" "$dir/agent.log"
  local deadline=$((SECONDS + 20))
  until [[ -S $dir/api.sock ]]; do
    if ! group_alive "${agent_pid[$n]}" || ((SECONDS >= deadline)); then
      echo "cluster: agent $n did not start:" >&2
      tail -n 20 "$dir/agent.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

agent_stop() {
  local n=$1 how=${2:-TERM}
  if [[ $how == KILL ]]; then
    kill -KILL -- "-${agent_pid[$n]}" 2>/dev/null || true
    wait "${agent_pid[$n]}" 2>/dev/null || true
  else
    stop_group "${agent_pid[$n]}"
  fi
  rm -f "$run/node$n/api.sock"
}
