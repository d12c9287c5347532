#!/usr/bin/env bash
# Distributed testing with torchrun (CUDA or CPU-only machines).
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
#      PYTHON (python).
set -e
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args...]" >&2
    exit 2
fi
source "$(dirname "$0")/launch_common.sh"
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
zoe_torchrun "$GPUS" test.py "$CONFIG" "$CHECKPOINT" --launcher pytorch \
    "${@:4}"
