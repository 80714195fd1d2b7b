# The Mayfly side of tests/bench/run_server_bench.sh: one mayfly-server with
# its default file store (`store: {file: {}}`) and the root in its ca_dir,
# and mayfly-agents in server mode attested with join tokens.
#
#   mayfly_server_start DIR     the server; sets srv_pid, mayfly_dir
#   mayfly_tokens N             N tokens and agent configs; sets agent_id[i]
#   mayfly_agent_spawn I        starts agent I (does not wait); sock[I]
#   mayfly_entry_create PARENT ID UID       one `mayfly entry create`
#   mayfly_entries_load PARENT PREFIX N UID N entries in one `entry load`
#
# Needs $bin (mayfly, mayfly-server, mayfly-agent), $td and procs.sh.

mayfly_admin() {
  "$bin/mayfly" "$@" --server "unix://$mayfly_dir/admin.sock" --timeout 60s
}

mayfly_server_start() {
  mayfly_dir=$1
  mkdir -p "$mayfly_dir"
  mayfly_port=$(free_port)
  cat >"$mayfly_dir/server.yaml" <<YAML
trust_domain: $td
state_dir: $mayfly_dir/state
listen_address: 127.0.0.1:$mayfly_port
admin_socket: $mayfly_dir/admin.sock
store: {file: {}}
signing: {ca_dir: $mayfly_dir/ca}
default_ttl: 5m
agent_ttl: 1h
log_level: warn
YAML
  spawn mayfly-server "$mayfly_dir/server.log" "$bin/mayfly-server" \
    --config "$mayfly_dir/server.yaml"
  srv_pid=$spawned_pid
  wait_for 20 mayfly_admin agent list || {
    tail -n 20 "$mayfly_dir/server.log" >&2
    return 1
  }
}

mayfly_tokens() {
  local n=$1 i out dir
  for ((i = 0; i < n; i++)); do
    out=$(mayfly_admin token create --ttl 30m) || return
    agent_id[i]=$(awk '$1 == "agent_id:" { print $2 }' <<<"$out")
    dir=$mayfly_dir/a$i
    mkdir -p "$dir"
    sock[i]=$dir/api.sock
    cat >"$dir/agent.yaml" <<YAML
trust_domain: $td
socket_path: ${sock[i]}
state_dir: $dir/state
log_level: warn
server:
  address: [127.0.0.1:$mayfly_port]
  bundle: $mayfly_dir/ca/bundle.pem
  join_token: $(awk '$1 == "token:" { print $2 }' <<<"$out")
YAML
  done
}

mayfly_agent_spawn() {
  local dir=$mayfly_dir/a$1
  spawn "mayfly-agent-$1" "$dir/agent.log" "$bin/mayfly-agent" \
    --config "$dir/agent.yaml"
  agent_pid[$1]=$spawned_pid
}

mayfly_entry_create() {
  mayfly_admin entry create --parent "$1" --spiffe-id "$2" \
    --selector "unix:uid:$3" >/dev/null
}

mayfly_entries_load() {
  local parent=$1 prefix=$2 n=$3 uid=$4 file
  file=$(mktemp "$mayfly_dir/entries.XXXXXX")
  {
    echo "entries:"
    local i
    for ((i = 0; i < n; i++)); do
      printf '  - spiffe_id: %s/%d\n    selectors: ["unix:uid:%d"]\n' \
        "$prefix" "$i" "$uid"
    done
  } >"$file.yaml"
  mayfly_admin entry load "$file.yaml" --parent "$parent" >/dev/null
}
