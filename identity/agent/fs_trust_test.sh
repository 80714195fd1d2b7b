#!/usr/bin/env bash
# The real mayfly-agent refusing directories and a CA that another local user
# could have written (issue 8, items 2 and 3): a socket directory owned by
# someone else, or writable by group or others, or a symlink; the non-root
# default /tmp/mayfly-agent-UID planted by another user; a CA whose files or
# directory belong to someone else or are writable by others; a symlinked
# state_dir. Each refusal must exit 1 and name the path, owner and mode. The
# good cases must start and serve.
set -euo pipefail

source "$TEST_SRCDIR/$TEST_WORKSPACE/tests/lib/agent_env.sh"
agent_env fstrust-test identity/agent/mayfly-agent mayfly

# uid 65534 ("nobody") plays the hostile user; $user is an unprivileged
# agent whose default socket directory is /tmp/mayfly-agent-$user, a uid
# picked from our pid so that parallel runs do not share that directory.
other=65534
user=$((40000 + $$ % 20000))
user_runtime="/tmp/mayfly-agent-$user"
agent_pid=""

cleanup() {
  if [[ -n $agent_pid ]]; then kill "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$work" "$user_runtime"
}
trap cleanup EXIT

# config NAME SOCKET_DIR STATE_DIR: writes $work/NAME.yaml.
config() {
  cat >"$work/$1.yaml" <<YAML
trust_domain: example.org
socket_path: $2/api.sock
state_dir: $3
entries:
  - spiffe_id: spiffe://example.org/root
    selectors: ["unix:uid:0"]
YAML
}

# serves NAME SOCKET_DIR: starts the agent on NAME.yaml, waits until it
# answers on its socket, then stops it. Fails if it never answers.
serves() {
  "$bin/mayfly-agent" --config "$work/$1.yaml" 2>"$work/$1.log" &
  agent_pid=$!
  local ok=0
  wait_for 20 "$bin/mayfly" healthcheck --socket "$2/api.sock" || ok=$?
  kill -TERM "$agent_pid" 2>/dev/null || true
  wait "$agent_pid" || true
  agent_pid=""
  checks=$((checks + 1))
  if ((ok != 0)); then
    echo "FAIL: $1: agent did not serve; log: $(cat "$work/$1.log")" >&2
    failures=$((failures + 1))
  fi
}

# refuses NAME NEEDLE...: the agent must exit 1 on NAME.yaml (bounded by
# timeout: one that starts would otherwise serve forever and exit 124) and
# its error must contain every NEEDLE.
refuses() {
  local name=$1
  shift
  expect 1 "$name refused" -- timeout 20 "$bin/mayfly-agent" \
    --config "$work/$name.yaml"
  contains "$err" '"event":"start_failed"' "$name: start_failed logged"
  local needle
  for needle in "$@"; do contains "$err" "$needle" "$name: error names it"; done
}

# --- good case: fresh directories ---------------------------------------
config good "$work/run" "$work/state"
serves good "$work/run"
equals "$(stat -c %a "$work/state/ca")" 700 "CA directory private"

# --- item 2: socket directory ---------------------------------------------
mkdir -m 755 "$work/theirs"
chown "$other:$other" "$work/theirs"
config sock_owner "$work/theirs" "$work/state"
refuses sock_owner "directory $work/theirs is owned by another user" \
  "owner uid $other, mode 0755" "expected owner uid 0 (root, this process)"
equals "$(ls -A "$work/theirs")" "" "nothing bound in their directory"

for mode in 775 757 1777; do
  mkdir -m "$mode" "$work/open$mode"
  config "sock_mode$mode" "$work/open$mode" "$work/state"
  refuses "sock_mode$mode" \
    "directory $work/open$mode is writable by group or others" \
    "mode $(printf %04d "$mode")" "chmod go-w $work/open$mode"
done

# A run directory nested in a group-writable one: the parent is what lets
# another user swap it.
mkdir -m 775 "$work/opendir"
config sock_parent "$work/opendir/run" "$work/state"
refuses sock_parent "ancestor of $work/opendir/run" \
  "$work/opendir is writable by group or others"

mkdir -m 755 "$work/real"
ln -s "$work/real" "$work/linked"
config sock_link "$work/linked" "$work/state"
refuses sock_link "directory $work/linked is a symbolic link"

# The non-root default: /tmp/mayfly-agent-UID/public/api.sock. Another user
# who creates /tmp/mayfly-agent-UID first must be refused, not served.
mkdir -p "$work/home"
chown "$user:$user" "$work/home"
# A bare environment: no XDG_RUNTIME_DIR, so the default is under /tmp.
as_user=(env -i HOME="$work/home" PATH=/usr/bin:/bin
  setpriv --reuid="$user" --regid="$user" --clear-groups --)
rm -rf "$user_runtime"
mkdir -m 755 "$user_runtime"
chown "$other:$other" "$user_runtime"
expect 1 "planted default runtime dir refused" -- \
  timeout 20 "${as_user[@]}" "$bin/mayfly-agent"
contains "$err" "$user_runtime is owned by another user" \
  "default runtime dir: names the planted directory"
contains "$err" "expected owner uid $user (this process) or 0 (root)" \
  "default runtime dir: says what is expected"
rm -rf "$user_runtime"
"${as_user[@]}" "$bin/mayfly-agent" 2>"$work/user.log" &
agent_pid=$!
expect 0 "default runtime dir created and served" -- \
  wait_for 20 "$bin/mayfly" healthcheck --socket "$user_runtime/public/api.sock"
equals "$(stat -c %u "$user_runtime")" "$user" "default runtime dir is ours"
kill -TERM "$agent_pid" 2>/dev/null || true
wait "$agent_pid" || true
agent_pid=""

# --- item 3: planted CA ----------------------------------------------------
# Another user's whole CA, written while the state directory was open.
cp -a "$work/state" "$work/planted"
chown -R "$other:$other" "$work/planted/ca"
config ca_dir_owner "$work/run" "$work/planted"
refuses ca_dir_owner "directory $work/planted/ca is owned by another user"

# Only the key swapped for theirs.
cp -a "$work/state" "$work/key"
chown "$other:$other" "$work/key/ca/root_key.pem"
config ca_key_owner "$work/run" "$work/key"
refuses ca_key_owner "file $work/key/ca/root_key.pem is owned by another user" \
  "owner uid $other, mode 0600"

cp -a "$work/state" "$work/gw"
chmod 664 "$work/gw/ca/bundle.pem"
config ca_file_mode "$work/run" "$work/gw"
refuses ca_file_mode "$work/gw/ca/bundle.pem is writable by group or others"

chmod 644 "$work/gw/ca/bundle.pem"
chmod 770 "$work/gw/ca"
refuses ca_file_mode "directory $work/gw/ca is writable by group or others"

chmod 700 "$work/gw/ca"
chmod 777 "$work/gw"
config state_mode "$work/run" "$work/gw"
refuses state_mode "directory $work/gw is writable by group or others"

ln -s "$work/state" "$work/state_link"
config state_link "$work/run" "$work/state_link"
refuses state_link "directory $work/state_link is a symbolic link"

# --- good case again: the original state still loads ----------------------
serves good "$work/run"

finish fs_trust_test
