#!/usr/bin/env bash
# Memory is bounded by configuration, not by file size: one ~1 GB CSV (the narrow workload's
# rows three times over: 24 million rows, 6 columns) through `spindle stats` end to end, with
# the stats worker's peak RSS (VmHWM) and, for scale, DuckDB's time and RSS on the same file.
# Not a test. Needs `npm run build` and the peer harness's data and peers (bench/csv/run.sh
# or the harness's setup.sh + gen-data.py); run it alone, under the benchmark lock.
#
#   SPINDLE_PEER_HARNESS=<peer harness dir> bench/csv/big-file.sh [runs=3]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=stack.sh
source "$HERE/stack.sh"
RUNS=${1:-3}
BIG_DIR=$BENCH_DIR/big
BIG=$BIG_DIR/narrow-1g.csv
mkdir -p "$BIG_DIR"
if [[ ! -f $BIG ]]; then
  {
    head -n 1 "$BENCH_DIR/data/w4/narrow/narrow0.csv"
    for _ in 1 2 3; do
      for f in "$BENCH_DIR"/data/w4/narrow/narrow*.csv; do tail -n +2 "$f"; done
    done
  } >"$BIG.part"
  mv "$BIG.part" "$BIG"
fi
SIZE=$(stat -c %s "$BIG")
echo "file: $SIZE bytes"
cat "$BIG" >/dev/null
reset_peak_rss "$STATS_WORKER_PID"
for run in $(seq "$RUNS"); do
  /usr/bin/time -f "spindle run $run: %e s wall (CLI: %M KB)" node "$HERE/spindle-csv.js" "$STACK_DIR/out.csv" "$BIG" >"$STACK_DIR/cli.log"
done
grep -E 'succeeded|failed' "$STACK_DIR/cli.log" || true
head -3 "$STACK_DIR/out.csv"
echo "stats worker peak RSS: $(peak_rss_mib "$STATS_WORKER_PID") MiB; coordinator: $(peak_rss_mib "$COORDINATOR_PID") MiB"
if [[ -d $BENCH_DIR/peers/node_modules/@duckdb/node-api ]]; then
  for run in $(seq "$RUNS"); do
    (cd "$BENCH_DIR/peers" && /usr/bin/time -f "duckdb run $run: %e s wall, %M KB peak RSS" node duckdb_stats.mjs "$BIG_DIR" "$STACK_DIR/duck.csv" 2)
  done
fi
