# Sourced by the CSV benchmark scripts: starts a coordinator and one stats worker from the
# built packages (run `npm run build` first) with the stats worker's data root at the peer
# harness's data folder ($SPINDLE_BENCH_DIR, else the harness's own default), on free local
# ports; stops them on exit. Sets SPINDLE_ADDR and STATS_WORKER_PID / COORDINATOR_PID.
: "${SPINDLE_PEER_HARNESS:?set SPINDLE_PEER_HARNESS to the peer harness directory}"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=${SPINDLE_BENCH_DIR:-$(sed -n 's/^ROOT = os.environ.get("SPINDLE_BENCH_DIR", "\(.*\)")$/\1/p' "$SPINDLE_PEER_HARNESS/harness.py")}
[[ -n $BENCH_DIR ]] || { echo "cannot tell the harness's data folder: set SPINDLE_BENCH_DIR" >&2; exit 2; }
STACK_DIR=$(mktemp -d -t spindle-csv-bench.XXXXXX)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export SPINDLE_ADDR=127.0.0.1:$PORT

stop_stack() {
  [[ -n ${STATS_WORKER_PID:-} ]] && kill "$STATS_WORKER_PID" 2>/dev/null && wait "$STATS_WORKER_PID" 2>/dev/null
  [[ -n ${COORDINATOR_PID:-} ]] && kill "$COORDINATOR_PID" 2>/dev/null && wait "$COORDINATOR_PID" 2>/dev/null
  rm -rf "$STACK_DIR"
}
trap stop_stack EXIT

SPINDLE_LISTEN_ADDR=$SPINDLE_ADDR SPINDLE_DB_PATH=$STACK_DIR/coordinator.db SPINDLE_METRICS_ADDR=off \
  SPINDLE_LOG_LEVEL=warn node "$REPO/services/coordinator/dist/main.js" >"$STACK_DIR/coordinator.log" 2>&1 &
COORDINATOR_PID=$!
SPINDLE_COORDINATOR_ADDR=$SPINDLE_ADDR SPINDLE_DATA_ROOT=$BENCH_DIR SPINDLE_METRICS_ADDR=off SPINDLE_HEALTH_ADDR=off \
  SPINDLE_LOG_LEVEL=warn ${STATS_WORKER_ENV:-} node "$REPO/services/stats-worker/dist/main.js" >"$STACK_DIR/stats-worker.log" 2>&1 &
STATS_WORKER_PID=$!
# Ready when the worker is listed by the coordinator.
for _ in $(seq 100); do
  node "$REPO/cli/dist/main.js" --json workers 2>/dev/null | grep -q stats && break
  sleep 0.1
done

# Peak resident set size (VmHWM) of a process in MiB, and a reset of that peak.
peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs"; }
