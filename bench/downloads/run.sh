#!/usr/bin/env bash
# Download benchmark (not a test): Spindle end to end — `spindle fetch -i LIST -o DIR`, i.e.
# the CLI's submit-and-wait → coordinator → fetch worker (2 threads, 16 slots) → files — timed
# in the same interleaved rounds as the peer harness's download peers (aria2c -j 16,
# curl --parallel --parallel-max 16, the tutorial's Python thread pool) on the standard
# workloads W1 (2,000 × 64 KiB), W2 (4 × 256 MiB) and W3 (5,000 × 1 B) from nginx on
# 127.0.0.1 into the disk target, plus the harness's physical-limit probes (loopback,
# dd, cp -r) and, for W2, a floor of the per-byte work itself (hash-floor.py: GET, SHA-256,
# write, nothing else). One harness run for everything, so that no workload starts right after
# thousands of files of another were deleted (see the harness README); the fetch worker's
# and the coordinator's peak RSS are read per workload (VmHWM, reset at each group).
#
#   SPINDLE_PEER_HARNESS=<peer harness dir> bench/downloads/run.sh [harness options, e.g. --runs 5]
#
# Needs `npm run build`. Writes <bench dir>/results/spindle-downloads.{md,json} and prints the
# tables of bench/RESULTS.md (bench/downloads/report.js). Run it alone on the machine, under
# the benchmark lock the other benchmarks take (flock LOCKFILE bench/downloads/run.sh), and
# not within a few minutes of deleting thousands of files on the same file system (see the
# harness README: ext4 without a journal then makes every file creation scan).
set -euo pipefail
: "${SPINDLE_PEER_HARNESS:?set SPINDLE_PEER_HARNESS to the peer harness directory (its run-peers.sh)}"
HERE=$(cd "$(dirname "$0")" && pwd)
TARGET=disk
# shellcheck source=stack.sh
source "$HERE/stack.sh"
RESULTS=$BENCH_DIR/results
mkdir -p "$RESULTS"

# The harness's data must exist before the cases can name the files.
"$SPINDLE_PEER_HARNESS/setup.sh" >/dev/null
/usr/bin/python3 "$SPINDLE_PEER_HARNESS/gen-data.py" >/dev/null

CASES=$STACK_DIR/cases.json
REPO="$REPO" BENCH_DIR="$BENCH_DIR" HARNESS="$SPINDLE_PEER_HARNESS" DATA_ROOT="$DATA_ROOT" node - >"$CASES" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const { REPO, BENCH_DIR, HARNESS, DATA_ROOT, SPINDLE_ADDR } = process.env;
const sets = [
  ['w1', 'W1 many-small 2000×64KiB → disk', 'dir-many'],
  ['w2', 'W2 few-large 4×256MiB → disk', 'dir-few'],
  ['w3', 'W3 tiny 5000×1B → disk', 'dir-many'],
];
const cases = [];
for (const [w, workload, outKind] of sets) {
  const dir = `${BENCH_DIR}/data/${w}`;
  const files = fs.readdirSync(dir);
  const bytes = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  const base = {
    group: 'download', workload, target: 'disk', out_kind: outKind, warm: [dir], bytes, files: files.length,
    verify: `/usr/bin/python3 ${HARNESS}/verify_dl.py ${dir} {out}`,
  };
  const cmd = `SPINDLE_ADDR=${SPINDLE_ADDR} DATA_ROOT=${DATA_ROOT} ${REPO}/bench/downloads/fetch.sh {out} ${BENCH_DIR}/urls/${w}.txt`;
  // -q: totals only, as the peers run (curl -sS, aria2c at warn level).
  cases.push({ ...base, tool: 'spindle fetch -q (CLI → coordinator → fetch worker)', cmd: `${cmd} -q` });
  // The CLI's default off a terminal: one line per downloaded item (5,000 task events streamed to it for W3).
  if (w !== 'w2') cases.push({ ...base, tool: 'spindle fetch, a line per item', cmd });
  // Where the machine sets NODE_EXTRA_CA_CERTS (a proxy's CA bundle), Node 20 parses that
  // bundle at every process start, before any JavaScript runs: ~27 ms per CLI start here
  // for 144 certificates, paid although the CLI speaks plaintext gRPC. The same -q command
  // without it shows that cost; the -q row above stays the one the ratios use.
  // Not a peer: the per-byte work any verifying download must do (GET, SHA-256, write) and
  // nothing else, in the fewest instructions at hand (Python's OpenSSL hashlib, 1 MiB
  // reads, a thread per file). Only W2, where that work is the time.
  if (w === 'w2') {
    cases.push({ ...base, tool: 'floor: GET + SHA-256 + write (hash-floor.py)', cmd: `/usr/bin/python3 ${REPO}/bench/downloads/hash-floor.py ${BENCH_DIR}/urls/${w}.txt {out}` });
  }
  if (process.env.NODE_EXTRA_CA_CERTS) {
    cases.push({ ...base, tool: 'spindle fetch -q, node without NODE_EXTRA_CA_CERTS', cmd: `env -u NODE_EXTRA_CA_CERTS ${cmd} -q` });
  }
}
process.stdout.write(JSON.stringify(cases, null, 1));
JS

PEAKS=$STACK_DIR/peaks.txt
: >"$PEAKS"
group=''
record_peak() {
  [[ -n $group ]] && echo "$group|$(peak_rss_mib "$FETCH_WORKER_PID")|$(peak_rss_mib "$COORDINATOR_PID")" >>"$PEAKS"
  return 0
}
# The harness prints "=== <workload>: …" as each group starts: the previous group's peaks
# are read and reset there.
"$SPINDLE_PEER_HARNESS/run-peers.sh" --only '→ disk|^limit: (loopback|write → disk)' --extra "$CASES" \
  --md "$RESULTS/spindle-downloads.md" --json "$RESULTS/spindle-downloads.json" "$@" |
  while IFS= read -r line; do
    printf '%s\n' "$line"
    if [[ $line == "=== "* ]]; then
      record_peak
      group=${line#=== }
      group=${group%: * cases, *}
      reset_peak_rss "$FETCH_WORKER_PID"
      reset_peak_rss "$COORDINATOR_PID"
    elif [[ $line == "wrote "* ]]; then
      record_peak
      group=''
    fi
  done
echo "fetch worker / coordinator peak RSS per workload (MiB):"
cat "$PEAKS"
node "$HERE/report.js" "$RESULTS/spindle-downloads.json" "$PEAKS"
