# Shared part of tools/dist_{train,test}.sh and tools/slurm_{train,test}.sh:
# sourced by them, not run. TOOLS_DIR is the folder of these scripts; the
# repository root goes in front of PYTHONPATH so that tools/*.py import this
# checkout's mmzoe.
TOOLS_DIR="$(dirname "${BASH_SOURCE[0]}")"
: "${PYTHON:=python}"

# zoe_torchrun GPUS SCRIPT ARGS...: run tools/SCRIPT with torchrun, GPUS
# processes on this node. Env: NNODES (1), NODE_RANK (0), MASTER_ADDR
# (127.0.0.1), PORT (29500), PYTHON (python).
zoe_torchrun() {
    local gpus=$1 script=$2
    shift 2
    : "${NNODES:=1}" "${NODE_RANK:=0}" "${PORT:=29500}" \
        "${MASTER_ADDR:=127.0.0.1}"
    PYTHONPATH="$TOOLS_DIR/..":$PYTHONPATH \
    "$PYTHON" -m torch.distributed.run \
        --nnodes="$NNODES" \
        --node_rank="$NODE_RANK" \
        --master_addr="$MASTER_ADDR" \
        --nproc_per_node="$gpus" \
        --master_port="$PORT" \
        "$TOOLS_DIR/$script" \
        "$@"
}

# zoe_srun PARTITION JOB_NAME SCRIPT ARGS...: run tools/SCRIPT on a Slurm
# cluster with srun, one task per GPU. Env: GPUS (4), GPUS_PER_NODE (4),
# CPUS_PER_TASK (5), SRUN_ARGS (""), PYTHON (python).
zoe_srun() {
    local partition=$1 job_name=$2 script=$3
    shift 3
    : "${GPUS:=4}" "${GPUS_PER_NODE:=4}" "${CPUS_PER_TASK:=5}" "${SRUN_ARGS:=}"
    PYTHONPATH="$TOOLS_DIR/..":$PYTHONPATH \
    srun -p "${partition}" \
        --job-name="${job_name}" \
        --gres=gpu:"${GPUS_PER_NODE}" \
        --ntasks="${GPUS}" \
        --ntasks-per-node="${GPUS_PER_NODE}" \
        --cpus-per-task="${CPUS_PER_TASK}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS} \
        "$PYTHON" -u "$TOOLS_DIR/$script" "$@"
}
