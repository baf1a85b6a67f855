# Sourced by the download benchmark scripts: starts a coordinator and one fetch worker from
# the built packages (run `npm run build` first) with the defaults a deployment gets (2
# threads, 16 slots, adaptive prefetch), loopback allowed (the peers' nginx is on
# 127.0.0.1), and the worker's data root at the peer harness's output folder for the chosen
# target (the harness's SPINDLE_BENCH_DIR / SPINDLE_BENCH_TMPFS, else its own defaults), on a
# free local port; stops them on exit. Sets SPINDLE_ADDR, BENCH_DIR, DATA_ROOT,
# FETCH_WORKER_PID, COORDINATOR_PID.
#   TARGET=disk|tmpfs (default disk)
# shellcheck source=../stack-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../stack-common.sh"
BENCH_DIR=${SPINDLE_BENCH_DIR:-$(harness_default ROOT SPINDLE_BENCH_DIR)}
TMPFS_DIR=${SPINDLE_BENCH_TMPFS:-$(harness_default TMPFS SPINDLE_BENCH_TMPFS)}
[[ -n $BENCH_DIR && -n $TMPFS_DIR ]] || { echo "cannot tell the harness's folders: set SPINDLE_BENCH_DIR and SPINDLE_BENCH_TMPFS" >&2; exit 2; }
case ${TARGET:-disk} in
  disk) DATA_ROOT=$BENCH_DIR/dl ;;
  tmpfs) DATA_ROOT=$TMPFS_DIR/dl ;;
  *) echo "TARGET must be disk or tmpfs" >&2; exit 2 ;;
esac
mkdir -p "$DATA_ROOT"
start_stack dl
SPINDLE_COORDINATOR_ADDR=$SPINDLE_ADDR SPINDLE_DATA_ROOT=$DATA_ROOT SPINDLE_METRICS_ADDR=off SPINDLE_HEALTH_ADDR=off \
  SPINDLE_FETCH_ALLOW_LOOPBACK=true SPINDLE_LOG_LEVEL=warn env ${FETCH_WORKER_ENV:-} \
  node "$REPO/services/fetch-worker/dist/main.js" >"$STACK_DIR/fetch-worker.log" 2>&1 &
FETCH_WORKER_PID=$!
WORKER_PIDS+=("$FETCH_WORKER_PID")
wait_for_worker fetch

# serve_harness: the peer harness's data files, and its nginx on 127.0.0.1 unless it runs
# already (NGINX_STARTED=1 then). stop_harness stops the nginx that serve_harness started.
serve_harness() {
  "$SPINDLE_PEER_HARNESS/setup.sh" >/dev/null
  /usr/bin/python3 "$SPINDLE_PEER_HARNESS/gen-data.py" >/dev/null
  NGINX_STARTED=0
  if ! "$SPINDLE_PEER_HARNESS/serve.sh" status >/dev/null 2>&1; then
    "$SPINDLE_PEER_HARNESS/serve.sh" start >/dev/null
    NGINX_STARTED=1
  fi
}
stop_harness() {
  if [[ ${NGINX_STARTED:-0} == 1 ]]; then "$SPINDLE_PEER_HARNESS/serve.sh" stop >/dev/null; fi
}
