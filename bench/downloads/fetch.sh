#!/usr/bin/env bash
# The command the peer harness times for Spindle's downloads: `spindle fetch -i LIST -o DIR`
# (submit and wait) against the running stack of stack.sh, with any extra CLI options after
# the list (`-q` prints totals only, as the peers run silent). The harness names an absolute
# output folder; the job's output_dir is that folder relative to the worker's data root.
#   SPINDLE_ADDR=127.0.0.1:PORT DATA_ROOT=DIR bench/downloads/fetch.sh OUT_DIR URL_LIST [CLI OPTION...]
set -euo pipefail
out=$1; list=$2; shift 2
case $out in
  "$DATA_ROOT"/*) rel=${out#"$DATA_ROOT"/} ;;
  *) echo "fetch.sh: $out is not under the worker's data root $DATA_ROOT" >&2; exit 2 ;;
esac
exec node "$(dirname "$0")/../../cli/dist/main.js" --addr "$SPINDLE_ADDR" fetch "$@" -i "$list" -o "$rel"
