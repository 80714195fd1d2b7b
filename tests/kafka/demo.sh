#!/usr/bin/env bash
# The README's first command (through tests/demo.sh): the whole product on
# one machine, then what happened. docs/quickstart.md follows it step by
# step.
#
#   bash tests/kafka/demo.sh [--keep]
#
#   1. mayfly-agent for prod.acme (its own CA), with registration entries for
#      a Kafka broker and three workloads; the clients' SVIDs live
#      $client_ttl
#   2. the policy (testdata/demo_policy.yaml), rendered into the broker's
#      configuration by `mayfly bridge render --broker`
#   3. Kafka 4.4.0 (KRaft, loopback) with the Mayfly broker plugin, on the
#      broker's SVID kept current by `mayfly watch x509 --write`; the
#      policy's ACLs applied with `mayfly bridge apply` (plan, then apply)
#   4. librdkafka clients with the Mayfly client library (`mayfly kafka`):
#      a consumer group of two members, an idempotent producer, both on
#      rotating SVIDs, and a batch job whose entry is removed from the agent
#      while it runs
#   5. the report: the principals the broker saw, messages delivered and
#      read, rotations, and how long after its entry was removed the batch
#      job was last served (it must be within one TTL)
#
# Exits 0 when every figure is as the design promises, 1 otherwise (naming
# what is wrong). Installs what is missing first (Debian packages, Kafka's
# jars from Maven Central), as the README promises; everything it started
# stops at the end, or on Ctrl-C; --keep leaves the broker and agent up
# until Ctrl-C. The run's files are in a mktemp directory, removed at the
# end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
keep=0
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    *)
      echo "usage: tests/kafka/demo.sh [--keep]" >&2
      exit 2
      ;;
  esac
done
source "$here/../lib/procs.sh"
source "$here/lib/classpath.sh"
source "$here/lib/agent.sh"
source "$here/lib/broker.sh"
source "$here/lib/kafka_tools.sh"
source "$here/lib/soak.sh"

say() { printf '\n== %s\n' "$*" >&2; }
show() {
  printf '+ %s\n' "${*//$run/\$RUN}" >&2
  "$@"
}

policy="$here/testdata/demo_policy.yaml"
broker_id=spiffe://prod.acme/kafka/broker
writer_id=spiffe://prod.acme/ns/orders/sa/writer
reader_id=spiffe://prod.acme/ns/orders/sa/reader
legacy_id=spiffe://prod.acme/ns/batch/sa/legacy
# Short, so that the clients rotate several times in the run and the batch
# job's last SVID runs out soon after its entry goes.
client_ttl_seconds=20
client_ttl=${client_ttl_seconds}s
# The producer: $rate messages a second for $seconds seconds.
rate=20
seconds=45
count=$((rate * seconds))
# When, into the producer's run, the batch job's entry is removed.
remove_after=10

started=$SECONDS
bash "$repo/third_party/install_deps.sh"
say "building mayfly, mayfly-agent, the broker plugin; Kafka 4.4.0's jars"
(cd "$repo" && bazel build --noshow_progress //:mayfly //:mayfly-agent \
  //tests/kafka:probe)
run=$(mktemp -d /tmp/mayfly-demo.XXXXXX)
trap 'trap - EXIT; stop_all; rm -rf "$run"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bin="$run/bin"
mkdir -p "$bin"
for program in mayfly identity/agent/mayfly-agent tests/kafka/probe; do
  install -m 755 "$repo/bazel-bin/$program" "$bin/"
done
jar=$(bash "$repo/kafka/broker-plugin/build.sh" -DskipTests 2>"$run/plugin-build.log" |
  tail -n 1) || { tail -n 30 "$run/plugin-build.log" >&2; exit 1; }
classpath=$(kafka_classpath "$here/pom.xml")
echo "$classpath" >"$run/classpath"

say "1. mayfly-agent for prod.acme: a broker and three workloads, all of this uid (each picks its SVID by ID)"
uid=$(id -u)
entry() {
  printf '  - spiffe_id: %s\n    selectors: ["unix:uid:%s"]\n    ttl: %s\n' \
    "$1" "$uid" "$2"
}
{
  echo "entries:"
  entry "$broker_id" 2m
  entry "$writer_id" "$client_ttl"
  entry "$reader_id" "$client_ttl"
  entry "$legacy_id" "$client_ttl"
} >"$run/entries.yaml"
cat "$run/entries.yaml" >&2
agent_start prod prod.acme "$run/entries.yaml"
socket=$agent_socket

say "2. the policy: SPIFFE IDs to Kafka principals and ACLs"
cat "$policy" >&2
show "$bin/mayfly" bridge check "$policy"

say "3. Kafka with the Mayfly broker plugin; its SVID kept current by mayfly watch"
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
write_admin_properties "$run/svid/broker"
echo "broker up on $bootstrap" >&2
show "$bin/mayfly" bridge plan "$policy" --bootstrap "$bootstrap" \
  --svid-dir "$run/svid/broker"
show "$bin/mayfly" bridge apply "$policy" --bootstrap "$bootstrap" \
  --svid-dir "$run/svid/broker"
for topic in orders legacy; do
  kafka_tool org.apache.kafka.tools.TopicCommand --create --if-not-exists \
    --topic "$topic" --partitions 3 --replication-factor 1 \
    >>"$run/topics.log" 2>&1 || { tail -n 5 "$run/topics.log" >&2; exit 1; }
done

say "4. clients on rotating $client_ttl SVIDs (librdkafka + the Mayfly client library)"
client() {
  printf -- '--socket\n%s\n--spiffe-id\n%s\n--bootstrap\n%s\n--broker-spiffe-id\n%s\n' \
    "$socket" "$1" "$bootstrap" "$broker_id"
}
mapfile -t as_reader < <(client "$reader_id")
mapfile -t as_writer < <(client "$writer_id")
mapfile -t as_legacy < <(client "$legacy_id")
echo "+ mayfly kafka consume --topic orders --group orders-readers --members 2 --expect $count (as $reader_id)" >&2
spawn consumer "$run/consumer.log" "$bin/mayfly" kafka consume "${as_reader[@]}" \
  --tls mayfly --topic orders --group orders-readers --members 2 \
  --count "$count" --expect "$count" --from-beginning --idle-timeout 30s \
  --duration "$((seconds + 90))s" --ready-file "$run/group.ready"
consumer_pid=$spawned_pid
deadline=$((SECONDS + 60))
until [[ -e $run/group.ready ]]; do
  if ((SECONDS >= deadline)) || ! kill -0 "$consumer_pid" 2>/dev/null; then
    echo "demo: the consumer group never became steady:" >&2
    tail -n 5 "$run/consumer.log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "+ mayfly kafka produce --topic legacy --rate 10 --duration $((seconds + 5))s (as $legacy_id)" >&2
spawn legacy "$run/legacy.log" "$bin/mayfly" kafka produce "${as_legacy[@]}" \
  --tls mayfly --topic legacy --rate 10 --duration "$((seconds + 5))s"
legacy_pid=$spawned_pid
echo "+ mayfly kafka produce --topic orders --idempotent --rate $rate --count $count (as $writer_id)" >&2
spawn producer "$run/producer.log" "$bin/mayfly" kafka produce "${as_writer[@]}" \
  --tls mayfly --topic orders --idempotent --acks all --rate "$rate" \
  --count "$count"
producer_pid=$spawned_pid
sleep "$remove_after"
echo "+ removing $legacy_id's entry from the agent's entries file (atomic rename)" >&2
awk -v id="$legacy_id" '
  $0 ~ "spiffe_id: " id "$" { skip = 3 }
  skip > 0 { skip--; next }
  { print }' "$run/entries.yaml" >"$run/entries.new"
removed_at=$(date +%s.%N)
mv "$run/entries.new" "$run/entries.yaml"
echo "   waiting for the clients (about $((seconds - remove_after + 10)) s)" >&2
await_exit "$producer_pid" $((seconds + 60))
producer_rc=$exit_rc
await_exit "$consumer_pid" 90
consumer_rc=$exit_rc
await_exit "$legacy_pid" 90
legacy_rc=$exit_rc

say "5. what happened"
wrong=()
p=$(summary_of "$run/producer.log" produce) || true
c=$(summary_of "$run/consumer.log" consume) || true
l=$(summary_of "$run/legacy.log" produce) || true
echo "writer    $p (exit $producer_rc)"
echo "readers   $c (exit $consumer_rc)"
echo "batch job $l (exit $legacy_rc)"
echo
echo "principals the broker's authorizer saw (requests allowed / denied):"
sed -n 's/.*Principal = \([^ ]*\) is \(Allowed\|Denied\) .*/\1 \2/p' \
  "$run/broker/authorizer.log" | sort | uniq -c |
  awk '{ n[$2] = $2; if ($3 == "Allowed") a[$2] += $1; else d[$2] += $1 }
       END { for (p in n) printf "  %-22s %6d / %d\n", p, a[p], d[p] }' | sort

# The batch job: the last request the broker served it, from the
# authorizer's log (its clock and ours are this machine's).
last=$(grep 'Principal = User:batch.legacy is Allowed' "$run/broker/authorizer.log" |
  tail -n 1 | sed -n 's/^\[\([^]]*\)\].*/\1/p')
if [[ -n $last ]]; then
  last_at=$(date -d "${last/,/.}" +%s.%N)
  cutoff=$(awk -v a="$last_at" -v r="$removed_at" 'BEGIN { printf "%.1f", a - r }')
  echo
  echo "batch job: entry removed, last request served ${cutoff} s later (its SVIDs lived $client_ttl)"
  awk -v c="$cutoff" -v t="$client_ttl_seconds" 'BEGIN { exit !(c <= t) }' ||
    wrong+=("the batch job was served ${cutoff} s after its entry was removed, more than one TTL")
else
  wrong+=("the broker never served the batch job")
fi
closes=$(grep -c "closing the connection of .*: its SVID expired at" \
  "$run/broker/broker.log" || true)
echo "connections the broker closed for an expired SVID: $closes (each client library moved or closed its own first)"

if summaries_complete "$p" delivered failed rotations &&
  summaries_complete "$c" distinct duplicated lost rebalances rotations; then
  (($(field "$p" delivered) == count && $(field "$p" failed) == 0)) ||
    wrong+=("the writer delivered $(field "$p" delivered) of $count")
  (($(field "$c" distinct) == count && $(field "$c" lost) == 0)) ||
    wrong+=("the readers got $(field "$c" distinct) of $count")
  (($(field "$c" duplicated) == 0 && $(field "$c" rebalances) == 0)) ||
    wrong+=("the readers saw duplicates or rebalances")
  (($(field "$p" rotations) + $(field "$c" rotations) > 0)) ||
    wrong+=("no connection moved to a new SVID")
else
  wrong+=("a client printed no summary")
fi
((producer_rc == 0 && consumer_rc == 0)) ||
  wrong+=("exit status: writer $producer_rc, readers $consumer_rc")
# Cut off mid-run, the batch job cannot have delivered everything.
((legacy_rc == 1)) || wrong+=("the batch job exited $legacy_rc, not 1")

echo
if ((${#wrong[@]} > 0)); then
  echo "demo: FAILED: ${wrong[*]} (after $((SECONDS - started)) s)"
  exit 1
fi
echo "demo: as designed (after $((SECONDS - started)) s): no message lost or duplicated, no rebalance, and the removed workload cut off within one TTL"
if ((keep)); then
  say "running until Ctrl-C: broker $bootstrap, agent socket $socket"
  while group_alive "$broker_pid"; do sleep 1; done
fi
