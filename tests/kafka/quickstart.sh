#!/usr/bin/env bash
# From zero to a producing client on a Kafka broker running on Mayfly
# identities (docs/kafka.md, "Quickstart" and "Quickstart with the plugin"):
#
#   bash tests/kafka/quickstart.sh [--plugin] [--keep]
#
# Installs what is missing, builds, then runs mayfly-agent for prod.acme,
# the broker, and a client with the SVID of
# spiffe://prod.acme/ns/orders/sa/writer producing to `orders` and refused
# on `payments`. Each Mayfly command is printed before it runs. Everything
# stops at the end, or on Ctrl-C with --keep.
#
# Stock (the default): the policy (tests/kafka/testdata/policy.yaml)
# rendered for a stock broker (`mayfly bridge render --stock`: broker
# properties, entry subjects); the broker's SVID kept current by `mayfly
# watch x509 --write --exec reload-broker`; a Kafka 4.4.0 KRaft broker on
# loopback; the policy's ACLs applied (`mayfly bridge apply`).
#
# --plugin: the same policy and entries with no subjects; the broker runs
# the Mayfly broker plugin (kafka/broker-plugin, built here), configured by
# `mayfly bridge render --broker`; its SVID is kept by `mayfly watch x509
# --write` alone (the plugin reads each new set itself). Then a fourth step:
# `mayfly kafka produce` (librdkafka with the client library) sending for
# 45 s while the writer's 20 s SVIDs rotate under it, through the broker
# that closes any connection whose SVID has expired.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
keep=0
plugin=0
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    --plugin) plugin=1 ;;
    *)
      echo "usage: quickstart.sh [--plugin] [--keep]" >&2
      exit 2
      ;;
  esac
done
source "$here/../lib/procs.sh"
source "$here/lib/classpath.sh"
source "$here/lib/stock.sh"
source "$here/lib/agent.sh"
source "$here/lib/broker.sh"
source "$here/lib/kafka_tools.sh"

say() { printf '\n== %s\n' "$*" >&2; }
show() {
  printf '+ %s\n' "${*//$run/\$RUN}" >&2
  "$@"
}

bash "$repo/third_party/install_deps.sh"
say "building mayfly, mayfly-agent and a librdkafka test client"
(cd "$repo" && bazel build --noshow_progress //:mayfly //:mayfly-agent \
  //tests/kafka:probe)
run=$(mktemp -d /tmp/mayfly-quickstart.XXXXXX)
trap 'trap - EXIT; stop_all; rm -rf "$run"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bin="$run/bin"
mkdir -p "$bin"
for program in mayfly identity/agent/mayfly-agent tests/kafka/probe; do
  install -m 755 "$repo/bazel-bin/$program" "$bin/"
done
classpath=$(kafka_classpath "$here/pom.xml")
echo "$classpath" >"$run/classpath"
policy="$here/testdata/policy.yaml"
broker_id=spiffe://prod.acme/kafka/broker
writer_id=spiffe://prod.acme/ns/orders/sa/writer
# Short enough that step 4 sees the writer's SVID rotate several times.
writer_ttl=20s

say "the policy: $policy"
cat "$policy" >&2
uid=$(id -u)
cat >"$run/entries.in.yaml" <<YAML
entries:
  - spiffe_id: $broker_id
    selectors: ["unix:uid:$uid"]
    ttl: 2m
  - spiffe_id: $writer_id
    selectors: ["unix:uid:$uid"]
    ttl: $writer_ttl
YAML
if ((plugin)); then
  say "1. mayfly-agent for prod.acme (entries need no subjects with the plugin)"
  cp "$run/entries.in.yaml" "$run/entries.yaml"
  agent_start prod prod.acme "$run/entries.yaml"
  socket=$agent_socket
  say "2. the broker: its SVID kept current, the plugin's properties, Kafka"
  jar=$(bash "$repo/kafka/broker-plugin/build.sh" -DskipTests 2>"$run/plugin-build.log" |
    tail -n 1) || { cat "$run/plugin-build.log" >&2; exit 1; }
  printf '+ mayfly watch x509 --spiffe-id %s --write $RUN/svid/broker\n' "$broker_id" >&2
  spawn watch "$run/watch.log" "$bin/mayfly" watch x509 --socket "$socket" \
    --spiffe-id "$broker_id" --write "$run/svid/broker"
  await_svid_written "$run/svid/broker" "$spawned_pid" "$run/watch.log"
  show "$bin/mayfly" bridge render "$policy" --broker \
    --svid-dir "$run/svid/broker" --broker-spiffe-id "$broker_id" \
    >"$run/broker.properties"
  grep -v '^#' "$run/broker.properties" >&2
  echo "+ kafka.Kafka with ${jar#"$repo/"} on its classpath" >&2
  broker_start "$run/broker.properties" "$run/svid/broker" "$run/broker" \
    "$classpath:$jar"
else
  say "rendering it for a stock broker (principals from the subject DN)"
  show "$bin/mayfly" bridge render "$policy" --stock --svid-dir "$run/svid/broker" \
    --entries "$run/entries.in.yaml" --entries-out "$run/entries.yaml" \
    >"$run/stock.properties"
  grep -v '^#' "$run/stock.properties" >&2

  say "mayfly-agent for prod.acme, with the rendered entries"
  agent_start prod prod.acme "$run/entries.yaml"
  socket=$agent_socket
  write_admin_properties "$run/svid/broker"
  say "the broker's SVID, kept current, reloaded into the broker on each rotation"
  printf '+ mayfly watch x509 --spiffe-id %s --write $RUN/svid/broker --exec "mayfly bridge reload-broker ..."\n' \
    "$broker_id" >&2
  spawn watch "$run/watch.log" "$bin/mayfly" watch x509 --socket "$socket" \
    --spiffe-id "$broker_id" --write "$run/svid/broker" \
    --exec "$here/lib/reload_broker.sh $run"
  await_svid_written "$run/svid/broker" "$spawned_pid" "$run/watch.log"

  say "Kafka 4.4.0, KRaft, SSL listeners on loopback, no plugin"
  broker_start "$run/stock.properties" "$run/svid/broker"
fi
echo "broker up on $bootstrap" >&2

say "the policy's ACLs, as the broker's own identity (a super user)"
show "$bin/mayfly" bridge apply "$policy" --bootstrap "$bootstrap" \
  --svid-dir "$run/svid/broker"

# orders.writer may write to `orders` but not create it: the super user
# does (its metadata request auto-creates the topic).
deadline=$((SECONDS + 30))
until "$bin/probe" metadata --svid-dir "$run/svid/broker" \
  --bootstrap "$bootstrap" --broker-spiffe-id "$broker_id" --topic orders \
  --timeout 5 >>"$run/probe.log" 2>&1; do
  ((SECONDS < deadline)) || { echo "topic orders never became ready" >&2; exit 1; }
  sleep 0.5
done

say "$( ((plugin)) && echo "3. ")a client as $writer_id"
show "$bin/mayfly" fetch x509 --socket "$socket" --spiffe-id "$writer_id" \
  --write "$run/svid/writer" >/dev/null
deadline=$((SECONDS + 30))
until out=$("$bin/probe" produce --svid-dir "$run/svid/writer" \
  --bootstrap "$bootstrap" --broker-spiffe-id "$broker_id" --topic orders \
  --count 10 --timeout 10 2>>"$run/probe.log"); do
  # The ACLs reach the broker's authorizer a moment after apply returns.
  ((SECONDS < deadline)) || { echo "$out" >&2; exit 1; }
  sleep 0.5
done
echo "produce to orders as User:orders.writer: $out" >&2
out=$("$bin/probe" metadata --svid-dir "$run/svid/writer" \
  --bootstrap "$bootstrap" --broker-spiffe-id "$broker_id" --topic payments \
  --timeout 10 2>>"$run/probe.log") || true
echo "and on payments, which it has no ACL for: $out" >&2

if ((plugin)); then
  say "4. a client on rotating SVIDs: mayfly kafka produce (librdkafka with the client library, docs/kafka.md), the writer's SVIDs live $writer_ttl, and the broker closes any connection whose SVID has expired"
  show "$bin/mayfly" kafka produce --socket "$socket" --spiffe-id "$writer_id" \
    --bootstrap "$bootstrap" --broker-spiffe-id "$broker_id" --topic orders \
    --idempotent --rate 20 --count 900 --duration 50s \
    2>"$run/produce.log" || { tail -n 20 "$run/produce.log" >&2; exit 1; }
  echo "(rotations: its connections moved to new SVIDs with librdkafka none the wiser)" >&2
fi

if ((keep)); then
  say "running until Ctrl-C: broker $bootstrap, agent socket $socket"
  echo "the broker's SVID lives 2 minutes$( ((plugin)) || echo "; $run/reload.log shows each reload")" >&2
  while group_alive "$broker_pid"; do sleep 1; done
fi
