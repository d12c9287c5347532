#!/usr/bin/env bash
# Distributed training with torchrun (works on CUDA and, via ZoeRunner's gloo
# path, on CPU-only machines).
# Usage: bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
#      PYTHON (python).
set -e
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py args...]" >&2
    exit 2
fi
source "$(dirname "$0")/launch_common.sh"
CONFIG=$1
GPUS=$2
zoe_torchrun "$GPUS" train.py "$CONFIG" --launcher pytorch "${@:3}"
