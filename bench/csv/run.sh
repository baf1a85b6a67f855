#!/usr/bin/env bash
# CSV statistics benchmark (not a test): Spindle end to end — `spindle stats` → coordinator →
# stats worker (2 threads) → per-column table exported through danfojs-node — timed in the
# same interleaved rounds as the peer harness's CSV peers (the tutorial's pandas program,
# DuckDB), with DuckDB's SUMMARIZE (the same statistics Spindle computes) added as a peer.
# Every workload group runs as its own harness invocation, so that the stats worker's peak
# RSS can be read per workload (VmHWM, reset in between).
#
#   SPINDLE_PEER_HARNESS=<peer harness dir> bench/csv/run.sh [harness options, e.g. --runs 5]
#   (SPINDLE_CSV_ONLY=REGEX runs only the workload groups whose name matches, e.g. 'W4 csv 8'.)
#
# Needs `npm run build`. Writes $SPINDLE_BENCH_DIR/results/spindle-csv-*.{md,json} and prints
# the table of bench/RESULTS.md (bench/csv/report.js). Run it alone on the machine, under
# the benchmark lock the other benchmarks take (flock LOCKFILE bench/csv/run.sh).
set -euo pipefail
: "${SPINDLE_PEER_HARNESS:?set SPINDLE_PEER_HARNESS to the peer harness directory (its run-peers.sh)}"
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=stack.sh
source "$HERE/stack.sh"
RESULTS=$BENCH_DIR/results
mkdir -p "$RESULTS"

# The harness's data must exist before the cases can name the files.
"$SPINDLE_PEER_HARNESS/setup.sh" >/dev/null
/usr/bin/python3 "$SPINDLE_PEER_HARNESS/gen-data.py" >/dev/null
mkdir -p "$BENCH_DIR/scale/narrow0-1M"
[[ -e $BENCH_DIR/scale/narrow0-1M/narrow0.csv ]] || ln -s "$BENCH_DIR/data/w4/narrow/narrow0.csv" "$BENCH_DIR/scale/narrow0-1M/narrow0.csv"

CASES=$STACK_DIR/cases.json
REPO="$REPO" BENCH_DIR="$BENCH_DIR" HARNESS="$SPINDLE_PEER_HARNESS" node - >"$CASES" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const { REPO, BENCH_DIR, HARNESS } = process.env;
const sets = [
  ['narrow', `${BENCH_DIR}/data/w4/narrow`, 'W4 csv 8×1M rows', 8_000_000],
  ['wide', `${BENCH_DIR}/data/w4/wide`, 'W4 wide 200k×100', 200_000],
  ['messy', `${BENCH_DIR}/data/w4/messy`, 'W4 messy (1k rows)', 1000],
  ['subset50k', `${BENCH_DIR}/data/w4/subset`, 'W4 subset 50k rows', 50_000],
  ['narrow0-1M', `${BENCH_DIR}/scale/narrow0-1M`, 'W4 one 1M-row file (scaling check)', 1_000_000],
];
const cases = [];
for (const [name, dir, workload, rows] of sets) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.csv')).sort().map((f) => path.join(dir, f));
  const bytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);
  const common = { group: 'csv', workload, out_kind: 'file', warm: [dir], bytes, files: files.length, rows,
    verify: `/usr/bin/python3 ${HARNESS}/verify_csv.py {out} ${name}` };
  cases.push({ ...common, tool: 'spindle (CLI → coordinator → stats worker, 2 threads)',
    cmd: `SPINDLE_ADDR=${process.env.SPINDLE_ADDR} node ${REPO}/bench/csv/spindle-csv.js {out} ${files.join(' ')}` });
  cases.push({ ...common, tool: 'duckdb node-api SUMMARIZE (2 threads)',
    cmd: `cd ${BENCH_DIR}/peers && node duckdb_stats.mjs ${dir} {out} 2 summarize` });
}
process.stdout.write(JSON.stringify(cases, null, 1));
JS

declare -A PEAK
for group in 'W4 csv 8' 'W4 one 1M' 'W4 wide' 'W4 messy' 'W4 subset'; do
  [[ -n ${SPINDLE_CSV_ONLY:-} && ! $group =~ $SPINDLE_CSV_ONLY ]] && continue
  slug=$(echo "$group" | tr 'A-Z ' 'a-z-')
  reset_peak_rss "$STATS_WORKER_PID"
  reset_peak_rss "$COORDINATOR_PID"
  "$SPINDLE_PEER_HARNESS/run-peers.sh" --only "^$group" --skip 'danfojs' --extra "$CASES" \
    --md "$RESULTS/spindle-csv-$slug.md" --json "$RESULTS/spindle-csv-$slug.json" "$@"
  PEAK[$slug]="$(peak_rss_mib "$STATS_WORKER_PID") $(peak_rss_mib "$COORDINATOR_PID")"
  echo "$group: stats worker peak RSS ${PEAK[$slug]% *} MiB, coordinator ${PEAK[$slug]#* } MiB"
  echo "$slug ${PEAK[$slug]}" >>"$STACK_DIR/peaks.txt"
done
node "$HERE/report.js" "$RESULTS" "$STACK_DIR/peaks.txt"
