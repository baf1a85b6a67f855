#!/usr/bin/env bash
# Fetch worker memory over many jobs (benchmark, not a test): one coordinator and one fetch
# worker stay up while ROUNDS rounds of the standard workloads run through the CLI, each
# round W1, W1, W2, W2, W3, W3 (2,000 × 64 KiB, 4 × 256 MiB, 5,000 × 1 B from nginx on
# 127.0.0.1), every job into a fresh folder that is removed after it. Prints the worker's
# RSS and high-water mark (VmHWM) after each job, then where its resident memory sits (the
# node executable's pages, V8's heap pages, glibc's arenas). The issue's bound is 200 MB
# (190.7 MiB) throughout.
#
#   SPINDLE_PEER_HARNESS=<peer harness dir> bench/downloads/memory.sh [ROUNDS=3]
#
# Needs `npm run build`. TARGET=disk|tmpfs as for stack.sh, default tmpfs here: the page
# cache of written files is not the worker's RSS either way, and tmpfs spares the disk the
# deletions that slow later file creation (see the harness README).
set -euo pipefail
: "${SPINDLE_PEER_HARNESS:?set SPINDLE_PEER_HARNESS to the peer harness directory}"
ROUNDS=${1:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
TARGET=${TARGET:-tmpfs}
# shellcheck source=stack.sh
source "$HERE/stack.sh"
serve_harness
trap 'stop_harness; stop_stack' EXIT

mib() { awk -v k="$1:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$FETCH_WORKER_PID/status"; }
for round in $(seq "$ROUNDS"); do
  line="round $round:"
  for w in w1 w1 w2 w2 w3 w3; do
    out=$(mktemp -d "$DATA_ROOT/memory-XXXXXX")
    node "$REPO/cli/dist/main.js" fetch -q -i "$BENCH_DIR/urls/$w.txt" -o "${out#"$DATA_ROOT"/}" >/dev/null 2>&1
    rm -rf "$out"
    line+=" $w $(mib VmRSS)/$(mib VmHWM)"
  done
  echo "$line   (MiB, RSS/high-water after each job)"
done

# Resident memory by kind of mapping.
/usr/bin/python3 - "/proc/$FETCH_WORKER_PID/smaps" <<'PY'
import re, sys
rss, kind = {}, None
for line in open(sys.argv[1]):
    m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$', line)
    if m:
        start, end, name = int(m[1], 16), int(m[2], 16), m[3].strip()
        size = end - start
        kind = ('node executable' if name.endswith('/node') else 'glibc main heap' if name == '[heap]'
                else 'other files' if name else 'V8 heap pages (256 KiB)' if size == 256 << 10
                else 'glibc thread arenas' if start % (64 << 20) == 0 and size >= 1 << 20 else 'other anonymous')
    elif line.startswith('Rss:'):
        rss[kind] = rss.get(kind, 0) + int(line.split()[1])
for k, v in sorted(rss.items(), key=lambda kv: -kv[1]):
    print(f'  {k:26} {v / 1024:6.1f} MiB')
PY
echo "fetch worker: RSS $(mib VmRSS) MiB, high-water $(mib VmHWM) MiB; coordinator high-water $(peak_rss_mib "$COORDINATOR_PID") MiB"
