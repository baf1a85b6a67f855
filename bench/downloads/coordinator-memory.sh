#!/usr/bin/env bash
# Coordinator memory under the pod's limit (benchmark, not a test): the coordinator runs in a
# memory cgroup with deploy/k8s's limit (512 MiB; LIMIT_MIB to change it), so that node sizes
# its heap from that limit as it does in the pod, and JOBS jobs of 100,000 URLs (the peer
# harness's 5,000 one-byte files from nginx on 127.0.0.1, each listed 20 times: every copy
# gets its own name) run one after the other through the CLI and one fetch worker. Prints
# the heap limit node took, then after each job its time and the coordinator's RSS and
# high-water mark (VmHWM). A coordinator that outgrew the limit would be killed: the job
# would fail and this script with it.
#
#   SPINDLE_PEER_HARNESS=<peer harness dir> bench/downloads/coordinator-memory.sh [JOBS=3]
#
# Needs `npm run build` and root (cgroup v1 or v2 memory controller). TARGET as for
# stack.sh, default tmpfs here.
set -euo pipefail
: "${SPINDLE_PEER_HARNESS:?set SPINDLE_PEER_HARNESS to the peer harness directory}"
JOBS=${1:-3}
LIMIT_MIB=${LIMIT_MIB:-512}
HERE=$(cd "$(dirname "$0")" && pwd)

# A fresh cgroup with the memory limit, beside this shell's own.
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  CG=/sys/fs/cgroup/spindle-coordinator-memory-$$
  mkdir "$CG"
  echo $((LIMIT_MIB * 1024 * 1024)) >"$CG/memory.max"
else
  own=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
  CG=/sys/fs/cgroup/memory${own%/}/spindle-coordinator-memory-$$
  mkdir "$CG"
  echo $((LIMIT_MIB * 1024 * 1024)) >"$CG/memory.limit_in_bytes"
fi
export COORDINATOR_WRAP="$HERE/in-cgroup.sh $CG"
TARGET=${TARGET:-tmpfs}
# shellcheck source=stack.sh
source "$HERE/stack.sh"
serve_harness
LIST=$STACK_DIR/100k.txt
for _ in $(seq 20); do cat "$BENCH_DIR/urls/w3.txt"; done >"$LIST"
trap 'stop_harness; stop_stack; rmdir "$CG" 2>/dev/null || true' EXIT

heap=$("$HERE/in-cgroup.sh" "$CG" node -e 'console.log(Math.round(require("v8").getHeapStatistics().heap_size_limit / 2 ** 20))')
echo "limit ${LIMIT_MIB} MiB: node's heap limit in it ${heap} MiB; $(wc -l <"$LIST") URLs per job"
mib() { awk -v k="$1:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$COORDINATOR_PID/status"; }
for job in $(seq "$JOBS"); do
  out=$(mktemp -d "$DATA_ROOT/coordinator-memory-XXXXXX")
  start=$(date +%s%N)
  node "$REPO/cli/dist/main.js" fetch -q -i "$LIST" -o "${out#"$DATA_ROOT"/}" >/dev/null 2>"$STACK_DIR/cli.log" ||
    { cat "$STACK_DIR/cli.log" >&2; echo "job $job failed; the coordinator's log ends:" >&2; tail -20 "$STACK_DIR/coordinator.log" >&2; exit 1; }
  end=$(date +%s%N)
  rm -rf "$out"
  echo "job $job: $(( (end - start) / 1000000 )) ms, coordinator RSS $(mib VmRSS) MiB, high-water $(mib VmHWM) MiB"
done
