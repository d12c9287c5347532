#!/usr/bin/env bash
# Training on a Slurm cluster with srun.
# Usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args...]
# Env: GPUS (4), GPUS_PER_NODE (4), CPUS_PER_TASK (5), SRUN_ARGS (""),
#      PYTHON (python).
set -x
source "$(dirname "$0")/launch_common.sh"
CONFIG=$3
PY_ARGS=("${@:4}")
# An optional 4th argument that is not an option is the work dir.
if [ $# -ge 4 ] && [[ "$4" != -* ]]; then
    PY_ARGS=(--work-dir "$4" "${@:5}")
fi
zoe_srun "$1" "$2" train.py "${CONFIG}" --launcher="slurm" "${PY_ARGS[@]}"
