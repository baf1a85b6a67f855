#!/usr/bin/env bash
# in-cgroup.sh CGROUP_DIR COMMAND…: runs COMMAND as a member of the cgroup (its memory limit
# then applies, and node sizes its heap from it). For COORDINATOR_WRAP (bench/stack-common.sh).
set -euo pipefail
echo $$ >"$1/cgroup.procs"
shift
exec "$@"
