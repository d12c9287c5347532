#!/usr/bin/env bash
# Run tools/dist_train.sh N times in a row and count clean exits (exit code
# 0, no "terminate called" on stderr). Checks that multi-rank runs (e.g. gloo
# on CPU) end cleanly every time.
# Usage: bash tools/analysis_tools/repeat_dist_train.sh CONFIG GPUS N WORK_DIR [train.py args...]
# Env: PYTHON (python), PORT (first port, default 29600; run i uses PORT+i).
# Logs: WORK_DIR/run_<i>.log; the last line printed is "clean exits: K/N".
set -u
if [ $# -lt 4 ]; then
    echo "usage: $0 CONFIG GPUS N WORK_DIR [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
N=$3
WORK_DIR=$4
PORT=${PORT:-29600}
TOOLS="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$WORK_DIR"
clean=0
for i in $(seq 1 "$N"); do
    log="$WORK_DIR/run_$i.log"
    rm -rf "$WORK_DIR/work_$i"
    PORT=$((PORT + i)) bash "$TOOLS/dist_train.sh" "$CONFIG" "$GPUS" \
        --work-dir "$WORK_DIR/work_$i" "${@:5}" >"$log" 2>&1
    rc=$?
    aborts=$(grep -c 'terminate called' "$log")
    echo "run $i: exit $rc, 'terminate called' x$aborts"
    if [ "$rc" -eq 0 ] && [ "$aborts" -eq 0 ]; then
        clean=$((clean + 1))
    fi
    rm -rf "$WORK_DIR/work_$i"
done
echo "clean exits: $clean/$N"
[ "$clean" -eq "$N" ]
