#!/usr/bin/env bash
# Quick CPU demo (about a minute): write a tiny generated NYU-layout dataset,
# train a tiny ZoeDepth on it with tools/train.py, evaluate the checkpoint
# with tools/test.py.
# Usage: bash tools/run_demo.sh [CONFIG]   (default: the tiny test config)
# Env: PYTHON (python), WORK_DIR (work_dirs/demo_tiny), ITERS (4).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
CONFIG=${1:-tests/configs/zoe_tiny_nyu.py}
WORK_DIR=${WORK_DIR:-work_dirs/demo_tiny}
ITERS=${ITERS:-4}
DATA_DIR="$WORK_DIR/data"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
DATA_OPTS=(train_dataloader.dataset.data_root="$DATA_DIR"
           val_dataloader.dataset.data_root="$DATA_DIR"
           test_dataloader.dataset.data_root="$DATA_DIR")

echo "== writing a tiny generated dataset to $DATA_DIR/tiny_nyu.mat"
"$PYTHON" tests/configs/make_tiny_nyu.py "$DATA_DIR/tiny_nyu.mat" 8 48 64
echo "== training $CONFIG for $ITERS iterations on the CPU"
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" \
    --cfg-options "${DATA_OPTS[@]}" train_cfg.max_iters="$ITERS" \
    train_cfg.val_interval="$ITERS"
CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")
echo "== testing $CHECKPOINT"
"$PYTHON" tools/test.py "$CONFIG" "$CHECKPOINT" --work-dir "$WORK_DIR" \
    --cfg-options "${DATA_OPTS[@]}"
echo "== done: checkpoint $CHECKPOINT, logs in $WORK_DIR"
