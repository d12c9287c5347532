#!/usr/bin/env bash
# Testing on a Slurm cluster with srun.
# Usage: bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
# Env: GPUS (4), GPUS_PER_NODE (4), CPUS_PER_TASK (5), SRUN_ARGS (""),
#      PYTHON (python).
set -x
source "$(dirname "$0")/launch_common.sh"
zoe_srun "$1" "$2" test.py "$3" "$4" --launcher="slurm" "${@:5}"
