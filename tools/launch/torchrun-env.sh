#!/usr/bin/env bash
# Launch `rsd pretrain` without MPI, the way torchrun does: this script starts one process per GPU
# on this node with RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT
# set. Each rank uses the GPU of its LOCAL_RANK; NCCL meets the other ranks through
# MASTER_ADDR:MASTER_PORT (rsd sets NCCL_COMM_ID from them; rank 0 listens there). GPUs only:
# several CPU processes need the MPI backend, so launch those with tools/launch/mpirun.sh.
# If a rank fails, the others are stopped and the script exits with that rank's status.
#
# Usage:
#   tools/launch/torchrun-env.sh CONFIG [rsd pretrain options ...]
#
# Examples (from the repository root):
#   # every GPU of this node
#   tools/launch/torchrun-env.sh configs/dual-contrastive.toml
#   # 2 nodes x 8 GPUs: run on each node, with the address of node 0 on both
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=node01 tools/launch/torchrun-env.sh configs/dual-contrastive.toml
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=node01 tools/launch/torchrun-env.sh configs/dual-contrastive.toml
#
# Environment (default in brackets):
#   RSD_BIN         the rsd executable [build/tools/rsd]
#   NPROC_PER_NODE  processes on this node [GPUs nvidia-smi lists (or CUDA_VISIBLE_DEVICES)]
#   NNODES          nodes taking part, each running this script [1]
#   NODE_RANK       this node's index, 0 .. NNODES - 1 [0]
#   MASTER_ADDR     address of node 0, reachable from every node [127.0.0.1; required if NNODES > 1]
#   MASTER_PORT     a free TCP port on node 0 [29500]
#   PER_GPU_BATCH   if set, adds --set train.batch_size=PER_GPU_BATCH x WORLD_SIZE [unset]
#   LOG_DIR         where ranks other than 0 write rank-R.log (rank 0 writes to this terminal)
#                   [launch-logs]
#   DRY_RUN=1       print what would run instead of running it
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  usage
  [[ $# -lt 1 ]] && exit 2 || exit 0
fi
config=$1
shift
[[ -f $config ]] || { echo "torchrun-env.sh: config '$config' not found (run from the repository root?)" >&2; exit 2; }

RSD_BIN=${RSD_BIN:-build/tools/rsd}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_PORT=${MASTER_PORT:-29500}
LOG_DIR=${LOG_DIR:-launch-logs}
if [[ -z ${MASTER_ADDR:-} ]]; then
  [[ $NNODES -eq 1 ]] || { echo "torchrun-env.sh: NNODES=$NNODES: set MASTER_ADDR to the address of node 0 (the same on every node)" >&2; exit 2; }
  MASTER_ADDR=127.0.0.1
fi
[[ -x $RSD_BIN ]] || { echo "torchrun-env.sh: $RSD_BIN is not an executable: build rsd or set RSD_BIN" >&2; exit 2; }
[[ $NODE_RANK -ge 0 && $NODE_RANK -lt $NNODES ]] || { echo "torchrun-env.sh: NODE_RANK=$NODE_RANK is not in 0 .. NNODES - 1 = $((NNODES - 1))" >&2; exit 2; }

if [[ -z ${NPROC_PER_NODE:-} ]]; then
  if [[ -n ${CUDA_VISIBLE_DEVICES:-} ]]; then
    NPROC_PER_NODE=$(tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c .)
  elif command -v nvidia-smi > /dev/null; then
    NPROC_PER_NODE=$(nvidia-smi -L | grep -c '^GPU' || true)
  else
    NPROC_PER_NODE=0
  fi
  [[ $NPROC_PER_NODE -ge 1 ]] || { echo "torchrun-env.sh: no GPU found here: set NPROC_PER_NODE (CPU ranks need tools/launch/mpirun.sh)" >&2; exit 2; }
fi
WORLD_SIZE=$((NNODES * NPROC_PER_NODE))

args=(pretrain --config "$config")
[[ -n ${PER_GPU_BATCH:-} ]] && args+=(--set "train.batch_size=$((PER_GPU_BATCH * WORLD_SIZE))")
args+=("$@")

echo "torchrun-env.sh: node $NODE_RANK of $NNODES, ranks $((NODE_RANK * NPROC_PER_NODE))..$(((NODE_RANK + 1) * NPROC_PER_NODE - 1)) of $WORLD_SIZE, master $MASTER_ADDR:$MASTER_PORT" >&2
if [[ ${DRY_RUN:-0} == 1 ]]; then
  for ((r = 0; r < NPROC_PER_NODE; r++)); do
    printf 'RANK=%d LOCAL_RANK=%d WORLD_SIZE=%d LOCAL_WORLD_SIZE=%d MASTER_ADDR=%q MASTER_PORT=%d ' \
      $((NODE_RANK * NPROC_PER_NODE + r)) "$r" "$WORLD_SIZE" "$NPROC_PER_NODE" "$MASTER_ADDR" "$MASTER_PORT"
    printf '%q ' "$RSD_BIN" "${args[@]}"
    echo
  done
  exit 0
fi
mkdir -p "$LOG_DIR"

# pids[r]: the process of local rank r, while it runs.
declare -a pids=()
stop_all() {  # signal every rank still running, then reap them
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
}
trap 'echo "torchrun-env.sh: interrupted: stopping the ranks" >&2; stop_all; exit 130' INT
trap 'echo "torchrun-env.sh: terminated: stopping the ranks" >&2; stop_all; exit 143' TERM

for ((r = 0; r < NPROC_PER_NODE; r++)); do
  rank=$((NODE_RANK * NPROC_PER_NODE + r))
  if [[ $rank -eq 0 ]]; then
    RANK=$rank LOCAL_RANK=$r WORLD_SIZE=$WORLD_SIZE LOCAL_WORLD_SIZE=$NPROC_PER_NODE \
      MASTER_ADDR=$MASTER_ADDR MASTER_PORT=$MASTER_PORT "$RSD_BIN" "${args[@]}" &
  else
    RANK=$rank LOCAL_RANK=$r WORLD_SIZE=$WORLD_SIZE LOCAL_WORLD_SIZE=$NPROC_PER_NODE \
      MASTER_ADDR=$MASTER_ADDR MASTER_PORT=$MASTER_PORT "$RSD_BIN" "${args[@]}" > "$LOG_DIR/rank-$rank.log" 2>&1 &
  fi
  pids[r]=$!
done
[[ $NPROC_PER_NODE -gt 1 || $NODE_RANK -gt 0 ]] && echo "torchrun-env.sh: logs of the other ranks in $LOG_DIR/rank-R.log" >&2

# Poll rather than `wait -n`: the exit status must be tied to its rank, and `wait PID` on a
# finished child still returns that child's status.
while [[ ${#pids[@]} -gt 0 ]]; do
  for r in "${!pids[@]}"; do
    pid=${pids[r]}
    kill -0 "$pid" 2> /dev/null && continue
    status=0
    wait "$pid" || status=$?
    unset 'pids[r]'
    if [[ $status -ne 0 ]]; then
      rank=$((NODE_RANK * NPROC_PER_NODE + r))
      echo "torchrun-env.sh: rank $rank exited with status $status; stopping the others" >&2
      [[ $rank -ne 0 ]] && tail -n 20 "$LOG_DIR/rank-$rank.log" >&2
      stop_all
      exit "$status"
    fi
  done
  sleep 1
done
