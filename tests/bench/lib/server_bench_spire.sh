# The SPIRE side of tests/bench/run_server_bench.sh: spire-server v1.13.3
# with its default store (sql, sqlite3) and spire-agents attested with join
# tokens, unix workload attestor. The same functions as
# server_bench_mayfly.sh, spire_ instead of mayfly_.
#
# Needs $spire_bin (the directory of spire-server and spire-agent), $td,
# $cache_size (SVIDs an agent caches) and procs.sh.

spire_cli() {
  "$spire_bin/spire-server" "$@" -socketPath "$spire_dir/server.sock"
}

spire_server_start() {
  spire_dir=$1
  mkdir -p "$spire_dir"
  spire_port=$(free_port)
  cat >"$spire_dir/server.conf" <<HCL
server {
  bind_address = "127.0.0.1"
  bind_port = "$spire_port"
  socket_path = "$spire_dir/server.sock"
  trust_domain = "$td"
  data_dir = "$spire_dir/data"
  log_level = "ERROR"
  default_x509_svid_ttl = "5m"
  ca_ttl = "24h"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "$spire_dir/data/datastore.sqlite3"
    }
  }
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "memory" { plugin_data {} }
}
HCL
  spawn spire-server "$spire_dir/server.log" "$spire_bin/spire-server" run \
    -config "$spire_dir/server.conf"
  srv_pid=$spawned_pid
  wait_for 60 "$spire_bin/spire-server" healthcheck \
    -socketPath "$spire_dir/server.sock" || {
    tail -n 20 "$spire_dir/server.log" >&2
    return 1
  }
}

spire_tokens() {
  local n=$1 i token dir
  for ((i = 0; i < n; i++)); do
    token=$(spire_cli token generate -ttl 1800 | awk '$1 == "Token:" {print $2}') ||
      return
    [[ -n $token ]] || return 1
    # SPIRE names a join-token agent after its token.
    agent_id[i]=spiffe://$td/spire/agent/join_token/$token
    dir=$spire_dir/a$i
    mkdir -p "$dir"
    sock[i]=$dir/api.sock
    echo "$token" >"$dir/token"
    cat >"$dir/agent.conf" <<HCL
agent {
  data_dir = "$dir/data"
  log_level = "ERROR"
  server_address = "127.0.0.1"
  server_port = "$spire_port"
  socket_path = "${sock[i]}"
  trust_domain = "$td"
  insecure_bootstrap = true
  # Its LRU cache holds 1,000 SVIDs by default; sized to the benchmark.
  x509_svid_cache_max_size = $cache_size
}
plugins {
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "memory" { plugin_data {} }
  WorkloadAttestor "unix" { plugin_data {} }
}
HCL
  done
}

spire_agent_spawn() {
  local dir=$spire_dir/a$1
  spawn "spire-agent-$1" "$dir/agent.log" "$spire_bin/spire-agent" run \
    -config "$dir/agent.conf" -joinToken "$(cat "$dir/token")"
  agent_pid[$1]=$spawned_pid
}

spire_entry_create() {
  spire_cli entry create -parentID "$1" -spiffeID "$2" \
    -selector "unix:uid:$3" -x509SVIDTTL 300 >/dev/null
}

spire_entries_load() {
  local parent=$1 prefix=$2 n=$3 uid=$4 file
  file=$(mktemp "$spire_dir/entries.XXXXXX")
  python3 - "$parent" "$prefix" "$n" "$uid" >"$file.json" <<'PY'
import json, sys
parent, prefix, n, uid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
print(json.dumps({"entries": [{
    "spiffe_id": "%s/%d" % (prefix, i), "parent_id": parent,
    "selectors": [{"type": "unix", "value": "uid:" + uid}],
    "x509_svid_ttl": 300} for i in range(n)]}))
PY
  # The CLI exits 0 even when entries fail; each failure prints a status.
  local out
  out=$(spire_cli entry create -data "$file.json" 2>&1) || return
  ! grep -qi 'failed\|error' <<<"$out"
}
