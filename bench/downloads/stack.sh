# Sourced by the download benchmark scripts: starts a coordinator and one fetch worker from
# the built packages (run `npm run build` first) with the defaults a deployment gets (2
# threads, 16 slots, adaptive prefetch), loopback allowed (the peers' nginx is on
# 127.0.0.1), and the worker's data root at the peer harness's output folder for the chosen
# target (the harness's SPINDLE_BENCH_DIR / SPINDLE_BENCH_TMPFS, else its own defaults), on a
# free local port; stops them on exit. Sets SPINDLE_ADDR, BENCH_DIR, DATA_ROOT,
# FETCH_WORKER_PID, COORDINATOR_PID.
#   TARGET=disk|tmpfs (default disk)
: "${SPINDLE_PEER_HARNESS:?set SPINDLE_PEER_HARNESS to the peer harness directory}"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The harness's defaults, read from the harness itself: NAME = os.environ.get("VAR", "default").
harness_default() { sed -n "s/^$1 = os.environ.get(\"$2\", \"\(.*\)\")\$/\1/p" "$SPINDLE_PEER_HARNESS/harness.py"; }
BENCH_DIR=${SPINDLE_BENCH_DIR:-$(harness_default ROOT SPINDLE_BENCH_DIR)}
TMPFS_DIR=${SPINDLE_BENCH_TMPFS:-$(harness_default TMPFS SPINDLE_BENCH_TMPFS)}
[[ -n $BENCH_DIR && -n $TMPFS_DIR ]] || { echo "cannot tell the harness's folders: set SPINDLE_BENCH_DIR and SPINDLE_BENCH_TMPFS" >&2; exit 2; }
case ${TARGET:-disk} in
  disk) DATA_ROOT=$BENCH_DIR/dl ;;
  tmpfs) DATA_ROOT=$TMPFS_DIR/dl ;;
  *) echo "TARGET must be disk or tmpfs" >&2; exit 2 ;;
esac
mkdir -p "$DATA_ROOT"
STACK_DIR=$(mktemp -d -t spindle-dl-bench.XXXXXX)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export SPINDLE_ADDR=127.0.0.1:$PORT

stop_stack() {
  [[ -n ${FETCH_WORKER_PID:-} ]] && kill "$FETCH_WORKER_PID" 2>/dev/null && wait "$FETCH_WORKER_PID" 2>/dev/null
  [[ -n ${COORDINATOR_PID:-} ]] && kill "$COORDINATOR_PID" 2>/dev/null && wait "$COORDINATOR_PID" 2>/dev/null
  rm -rf "$STACK_DIR"
}
trap stop_stack EXIT

SPINDLE_LISTEN_ADDR=$SPINDLE_ADDR SPINDLE_DB_PATH=$STACK_DIR/coordinator.db SPINDLE_METRICS_ADDR=off \
  SPINDLE_LOG_LEVEL=warn node "$REPO/services/coordinator/dist/main.js" >"$STACK_DIR/coordinator.log" 2>&1 &
COORDINATOR_PID=$!
SPINDLE_COORDINATOR_ADDR=$SPINDLE_ADDR SPINDLE_DATA_ROOT=$DATA_ROOT SPINDLE_METRICS_ADDR=off SPINDLE_HEALTH_ADDR=off \
  SPINDLE_FETCH_ALLOW_LOOPBACK=true SPINDLE_LOG_LEVEL=warn env ${FETCH_WORKER_ENV:-} \
  node "$REPO/services/fetch-worker/dist/main.js" >"$STACK_DIR/fetch-worker.log" 2>&1 &
FETCH_WORKER_PID=$!
# Ready when the worker is listed by the coordinator.
for _ in $(seq 100); do
  node "$REPO/cli/dist/main.js" --json workers 2>/dev/null | grep -q fetch && break
  sleep 0.1
done

# Peak resident set size (VmHWM) of a process in MiB, and a reset of that peak.
peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs"; }
