# Assertions shared by the shell tests. Source it, set $work to a scratch
# directory, call the checks, and end with `finish NAME`.
#
# expect CODE DESCRIPTION -- COMMAND...: runs COMMAND, captures stdout and
# stderr into $out / $err, and checks the exit code.
failures=0
checks=0

expect() {
  local want=$1 what=$2
  shift 3
  local got=0
  "$@" >"$work/stdout" 2>"$work/stderr" || got=$?
  out=$(cat "$work/stdout")
  err=$(cat "$work/stderr")
  checks=$((checks + 1))
  if [[ $got != "$want" ]]; then
    echo "FAIL: $what: exit $got, want $want; stdout: $out; stderr: $err" >&2
    failures=$((failures + 1))
  fi
}
# contains HAYSTACK NEEDLE DESCRIPTION
contains() {
  checks=$((checks + 1))
  if [[ $1 != *"$2"* ]]; then
    echo "FAIL: $3: \"$2\" not in: $1" >&2
    failures=$((failures + 1))
  fi
}
# lacks HAYSTACK NEEDLE DESCRIPTION
lacks() {
  checks=$((checks + 1))
  if [[ $1 == *"$2"* ]]; then
    echo "FAIL: $3: \"$2\" unexpectedly in: $1" >&2
    failures=$((failures + 1))
  fi
}
equals() {
  checks=$((checks + 1))
  if [[ $1 != "$2" ]]; then
    echo "FAIL: $3: got \"$1\", want \"$2\"" >&2
    failures=$((failures + 1))
  fi
}
# wait_for SECONDS COMMAND...: retries COMMAND (quietly) every 0.1 s until
# it succeeds; returns 1 if it never did within SECONDS. Not a check.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.1
  done
}
# finish NAME: prints the tally and fails the test if any check failed.
finish() {
  echo "$1: $((checks - failures)) passed, $failures failed"
  ((failures == 0))
}
