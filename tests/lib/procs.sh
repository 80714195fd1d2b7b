# Background processes of a harness run, each in its own process group, and
# stopping all of them (in reverse order) however the run ends.
#
#   spawn NAME LOG COMMAND...   starts COMMAND; sets $spawned_pid (= its pgid)
#   stop_group PID [SECONDS]    TERM to the group, KILL after SECONDS (10)
#   stop_all                    stop_group for everything spawn started
#
# The caller installs the trap (run_e2e: `trap cleanup EXIT INT TERM`), so
# an error, a failed case or ^C all end in stop_all. Messages start with
# $procs_tag (the harness's name).
spawned_pids=()
declare -A spawned_names=()

spawn() {
  local name=$1 log=$2
  shift 2
  # Not a group leader here (no job control), so setsid execs COMMAND in a
  # new session and process group whose id is the pid we get.
  setsid "$@" >"$log" 2>&1 </dev/null &
  spawned_pid=$!
  # Until the child has called setsid(2) there is no such group yet, and
  # group_alive would call it dead: wait (bounded) for the group to exist.
  local tries
  for ((tries = 0; tries < 100; tries++)); do
    group_alive "$spawned_pid" || ! kill -0 "$spawned_pid" 2>/dev/null && break
    sleep 0.01
  done
  spawned_pids+=("$spawned_pid")
  spawned_names[$spawned_pid]=$name
}

# group_alive PID: whether any process of the group is left.
group_alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_group() {
  local pid=$1 grace=${2:-10} deadline
  group_alive "$pid" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while group_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  if group_alive "$pid"; then
    echo "${procs_tag:-procs}: ${spawned_names[$pid]:-$pid} ignored TERM for ${grace}s; KILL" >&2
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local i
  for ((i = ${#spawned_pids[@]} - 1; i >= 0; i--)); do
    stop_group "${spawned_pids[i]}"
  done
  spawned_pids=()
}
