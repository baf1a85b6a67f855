# Sourced by the CSV benchmark scripts: starts a coordinator and one stats worker from the
# built packages (run `npm run build` first) with the stats worker's data root at the peer
# harness's data folder ($SPINDLE_BENCH_DIR, else the harness's own default), on free local
# ports; stops them on exit. Sets SPINDLE_ADDR and STATS_WORKER_PID / COORDINATOR_PID.
# shellcheck source=../stack-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../stack-common.sh"
BENCH_DIR=${SPINDLE_BENCH_DIR:-$(harness_default ROOT SPINDLE_BENCH_DIR)}
[[ -n $BENCH_DIR ]] || { echo "cannot tell the harness's data folder: set SPINDLE_BENCH_DIR" >&2; exit 2; }
start_stack csv
SPINDLE_COORDINATOR_ADDR=$SPINDLE_ADDR SPINDLE_DATA_ROOT=$BENCH_DIR SPINDLE_METRICS_ADDR=off SPINDLE_HEALTH_ADDR=off \
  SPINDLE_LOG_LEVEL=warn ${STATS_WORKER_ENV:-} node "$REPO/services/stats-worker/dist/main.js" >"$STACK_DIR/stats-worker.log" 2>&1 &
STATS_WORKER_PID=$!
WORKER_PIDS+=("$STATS_WORKER_PID")
wait_for_worker stats
