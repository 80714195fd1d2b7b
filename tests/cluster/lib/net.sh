# Network namespaces for the cluster harness: each node is a namespace of
# its own, joined to the host by a veth pair on one bridge, so that a cut
# between a node and the servers is a link going down, not a killed
# process. Everything lives on a private /24 chosen per run and is removed
# by net_teardown (call it from the harness's EXIT trap).
#
#   net_setup N          creates nodes 1..N; sets net_host (the host's
#                        address on the bridge: servers listen there)
#   node_exec N CMD...   runs CMD inside node N's namespace
#   node_addr N          node N's address
#   net_cut N / net_join N   takes node N's link down / up
#   net_teardown         removes every namespace and link created

net_tag=mf$(($$ % 100000))
net_subnet=10.77.$(($$ % 250))
net_host=$net_subnet.1
net_nodes=0

net_setup() {
  local n=$1 i
  ip link add "${net_tag}br" type bridge || return
  ip addr add "$net_host/24" dev "${net_tag}br" || return
  ip link set "${net_tag}br" up || return
  for ((i = 1; i <= n; i++)); do
    ip netns add "${net_tag}n$i" || return
    net_nodes=$i
    ip link add "${net_tag}h$i" type veth peer name "${net_tag}p$i" || return
    ip link set "${net_tag}p$i" netns "${net_tag}n$i" || return
    ip link set "${net_tag}h$i" master "${net_tag}br" || return
    ip link set "${net_tag}h$i" up || return
    ip -n "${net_tag}n$i" addr add "$(node_addr "$i")/24" dev "${net_tag}p$i" ||
      return
    ip -n "${net_tag}n$i" link set "${net_tag}p$i" up || return
    ip -n "${net_tag}n$i" link set lo up || return
  done
}

node_addr() { echo "$net_subnet.$((10 + $1))"; }

node_exec() {
  local n=$1
  shift
  ip netns exec "${net_tag}n$n" "$@"
}

net_cut() { ip link set "${net_tag}h$1" down; }
net_join() { ip link set "${net_tag}h$1" up; }

net_teardown() {
  local i
  for ((i = 1; i <= net_nodes; i++)); do
    ip link del "${net_tag}h$i" 2>/dev/null
    ip netns del "${net_tag}n$i" 2>/dev/null
  done
  ip link del "${net_tag}br" 2>/dev/null
  net_nodes=0
  return 0
}
