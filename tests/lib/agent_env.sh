# The set-up shared by the shell tests that run the real mayfly-agent with
# callers under other uids. Source it from a Bazel sh_test whose data has
# //tests/lib:agent_env and the binaries it names:
#
#   source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/agent_env.sh"
#   agent_env NAME PROGRAM...
#
# agent_env exits 1 unless the test runs as root (it runs callers under
# other uids), makes $work under /tmp (not $TEST_TMPDIR: other uids must
# reach the binaries and the socket, and Bazel's tree under /root is closed
# to them), and copies each PROGRAM (a runfiles path such as
# identity/agent/mayfly-agent) into $bin under its own name. The test sets
# its own cleanup trap, which removes $work. checks.sh is sourced too.
runfiles="$TEST_SRCDIR/$TEST_WORKSPACE"
source "$runfiles/tests/lib/checks.sh"

agent_env() {
  local name=$1 program
  shift
  if [[ $(id -u) != 0 ]]; then
    echo "$name: needs root to run callers under other uids" >&2
    exit 1
  fi
  work=$(mktemp -d "/tmp/mayfly-$name.XXXXXX")
  chmod 755 "$work"
  bin="$work/bin"
  mkdir -p "$bin"
  for program in "$@"; do
    install -m 755 "$runfiles/$program" "$bin/$(basename "$program")"
  done
}

# as_uid UID COMMAND...: runs COMMAND as UID (and gid UID), no other groups.
as_uid() {
  local uid=$1
  shift
  setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"
}
