#!/usr/bin/env bash
# The harness's own pieces, without Java or a broker: process groups are
# stopped whole (a child that ignores TERM too), the classpath is resolved
# once per pom and again when the pom or a jar changes. (stock.sh only calls
# `mayfly bridge render --stock`, which //bridge:cli_test checks.)
set -euo pipefail

lib="$TEST_SRCDIR/$TEST_WORKSPACE/tests/kafka/lib"
work="$TEST_TMPDIR/kafka_lib"
rm -rf "$work" && mkdir -p "$work"
source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/checks.sh"
source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/procs.sh"
source "$lib/classpath.sh"
trap stop_all EXIT

# --- procs.sh ---------------------------------------------------------------
# A group whose leader and child ignore TERM: stop_group falls back to KILL
# within its grace, and takes the child (same group) with it.
spawn stubborn "$work/stubborn.log" bash -c \
  'trap "" TERM; sleep 300 & echo "child $!"; wait'
stubborn=$spawned_pid
wait_for 5 grep -q child "$work/stubborn.log"
child=$(sed -n 's/^child //p' "$work/stubborn.log")
equals "$(ps -o pgid= -p "$child" | tr -d ' ')" "$stubborn" \
  "the child is in the spawned group"
start=$SECONDS
stop_group "$stubborn" 1 2>"$work/stop.err"
equals "$(group_alive "$stubborn" && echo alive || echo gone)" gone \
  "a TERM-ignoring group is gone"
equals "$(kill -0 "$child" 2>/dev/null && echo alive || echo gone)" gone \
  "its child is gone too"
contains "$(cat "$work/stop.err")" "stubborn ignored TERM for 1s; KILL" \
  "the KILL fallback is reported"
equals "$(((SECONDS - start) <= 3))" 1 "within the grace (plus a second)"

# stop_all stops every group spawned, in reverse order.
spawn a "$work/a.log" sleep 300
a=$spawned_pid
spawn b "$work/b.log" sleep 300
b=$spawned_pid
equals "$(group_alive "$a" && group_alive "$b" && echo both)" both \
  "spawned groups exist as soon as spawn returns"
stop_all
equals "$(group_alive "$a" || group_alive "$b" || echo none)" none \
  "stop_all leaves nothing"

# --- classpath.sh -------------------------------------------------------------
# A fake mvn on PATH: counts its calls and writes a classpath of two jars.
mkdir -p "$work/fakebin" "$work/jars"
touch "$work/jars/a.jar" "$work/jars/b.jar"
cat >"$work/fakebin/mvn" <<EOF
#!/usr/bin/env bash
echo call >>"$work/mvn.calls"
for arg; do
  case \$arg in -Dmdep.outputFile=*) out=\${arg#*=} ;; esac
done
printf '%s' "$work/jars/a.jar:$work/jars/b.jar" >"\$out"
EOF
chmod +x "$work/fakebin/mvn"
PATH="$work/fakebin:$PATH"
MAYFLY_CACHE="$work/cache"
kafka_cache_dir="$MAYFLY_CACHE/kafka-4.4.0"
echo '<project>1</project>' >"$work/pom.xml"
calls() { wc -l <"$work/mvn.calls" 2>/dev/null | tr -d ' ' || echo 0; }
cp=$(kafka_classpath "$work/pom.xml" 2>/dev/null)
equals "$cp" "$work/jars/a.jar:$work/jars/b.jar" "the classpath Maven gave"
equals "$(calls)" 1 "Maven asked once (offline first, and it succeeded)"
sum=$(sha256sum "$work/pom.xml" | cut -c1-64)
equals "$(ls "$kafka_cache_dir")" "classpath-$sum.txt" "cached under the pom's sha256"
kafka_classpath "$work/pom.xml" >/dev/null 2>&1
equals "$(calls)" 1 "a second call reads the cache"
echo '<project>2</project>' >"$work/pom.xml"
kafka_classpath "$work/pom.xml" >/dev/null 2>&1
equals "$(calls)" 2 "a changed pom resolves again"
rm "$work/jars/b.jar"
expect 1 "a jar still missing after resolving" -- kafka_classpath "$work/pom.xml"
equals "$(calls)" 3 "a missing jar resolves again"
contains "$err" "names jars that are not there" "and says so when it stays missing"

finish kafka_lib_test
