# Sourced by bench/*/stack.sh: what every benchmark stack shares. A coordinator from the
# built packages on a free 127.0.0.1 port with its database in a fresh folder, a wait until
# a worker of a kind is listed, stopping what was started when the script exits, and the
# peak RSS of a process. Sets REPO, STACK_DIR, SPINDLE_ADDR (exported), COORDINATOR_PID.
: "${SPINDLE_PEER_HARNESS:?set SPINDLE_PEER_HARNESS to the peer harness directory}"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# A harness default, read from the harness itself: NAME = os.environ.get("VAR", "default").
harness_default() { sed -n "s/^$1 = os.environ.get(\"$2\", \"\(.*\)\")\$/\1/p" "$SPINDLE_PEER_HARNESS/harness.py"; }

# start_stack NAME: the stack's folder (spindle-NAME-bench.*), a free port and the coordinator.
# COORDINATOR_WRAP, if set, is a command (and its arguments, words without spaces) that the
# coordinator's node command line is handed to, as `$COORDINATOR_WRAP node …`.
start_stack() {
  STACK_DIR=$(mktemp -d -t "spindle-$1-bench.XXXXXX")
  local port
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  export SPINDLE_ADDR=127.0.0.1:$port
  trap stop_stack EXIT
  SPINDLE_LISTEN_ADDR=$SPINDLE_ADDR SPINDLE_DB_PATH=$STACK_DIR/coordinator.db SPINDLE_METRICS_ADDR=off \
    SPINDLE_LOG_LEVEL=warn ${COORDINATOR_WRAP:-} node "$REPO/services/coordinator/dist/main.js" >"$STACK_DIR/coordinator.log" 2>&1 &
  COORDINATOR_PID=$!
}

# Workers started by the stack script, stopped before the coordinator.
WORKER_PIDS=()
stop_stack() {
  local pid
  for pid in "${WORKER_PIDS[@]}" ${COORDINATOR_PID:-}; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$STACK_DIR"
}

# wait_for_worker KIND: until a worker of that kind (fetch, stats) is listed by the coordinator.
wait_for_worker() {
  for _ in $(seq 100); do
    node "$REPO/cli/dist/main.js" --json workers 2>/dev/null | grep -q "$1" && return 0
    sleep 0.1
  done
  echo "no $1 worker registered with the coordinator; see $STACK_DIR" >&2
  return 1
}

# Peak resident set size (VmHWM) of a process in MiB, and a reset of that peak.
peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs"; }
