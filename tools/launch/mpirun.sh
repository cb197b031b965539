#!/usr/bin/env bash
# Launch `rsd pretrain` with Open MPI's mpirun: one process (rank) per GPU. Each rank uses the GPU
# of its local rank (OMPI_COMM_WORLD_LOCAL_RANK); with an MPI build NCCL gets its unique id by
# MPI broadcast, otherwise from MASTER_ADDR:MASTER_PORT, which this script exports to every rank.
# On CPUs (DEVICE=cpu) the ranks use the MPI backend; that is how to train on several CPU processes.
#
# Usage:
#   tools/launch/mpirun.sh CONFIG [rsd pretrain options ...]
#
# Examples (from the repository root):
#   # every GPU of this node
#   tools/launch/mpirun.sh configs/dual-contrastive.toml
#   # 4 nodes x 8 GPUs; hosts.txt has one line per node, e.g. "node01 slots=8"
#   HOSTFILE=hosts.txt GPUS_PER_NODE=8 tools/launch/mpirun.sh configs/dual-contrastive.toml
#   # keep 256 pairs per GPU whatever the GPU count (train.batch_size is the GLOBAL batch)
#   PER_GPU_BATCH=256 tools/launch/mpirun.sh configs/dual-contrastive.toml
#   # two CPU processes on this machine (what CI runs; --oversubscribe is added for DEVICE=cpu)
#   DEVICE=cpu NP=2 tools/launch/mpirun.sh configs/demo.toml
#   # the same by hand:
#   #   mpirun -np 2 --oversubscribe ./build/tools/rsd pretrain --config configs/demo.toml --device cpu
#
# Environment (default in brackets):
#   RSD_BIN        the rsd executable, same path on every node [build/tools/rsd]
#   DEVICE         passed as --device: cuda, cpu or auto [not passed: the config's device]
#   GPUS_PER_NODE  ranks per node [GPUs nvidia-smi lists (or CUDA_VISIBLE_DEVICES); NP with DEVICE=cpu]
#   HOSTFILE       Open MPI hostfile for a multi-node run [none: this node only]
#   NP             total ranks [GPUS_PER_NODE x the nodes in HOSTFILE; 2 with DEVICE=cpu]
#   PER_GPU_BATCH  if set, adds --set train.batch_size=PER_GPU_BATCH x NP [unset]
#   MASTER_ADDR    where rank 0 listens (used only by builds without MPI) [first host of HOSTFILE,
#                  else this host's name]
#   MASTER_PORT    [29500]
#   MPIRUN         the launcher [mpirun]
#   MPIRUN_ARGS    more mpirun arguments, word-split, e.g. "--mca btl_tcp_if_include ib0" [none]
#   DRY_RUN=1      print the command instead of running it
# Every NCCL_*, RSD_* and CUDA_* variable set here is exported to all ranks, with PATH and
# LD_LIBRARY_PATH. Running as root adds --allow-run-as-root.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  usage
  [[ $# -lt 1 ]] && exit 2 || exit 0
fi
config=$1
shift
[[ -f $config ]] || { echo "mpirun.sh: config '$config' not found (run from the repository root?)" >&2; exit 2; }

RSD_BIN=${RSD_BIN:-build/tools/rsd}
MPIRUN=${MPIRUN:-mpirun}
DEVICE=${DEVICE:-}
HOSTFILE=${HOSTFILE:-}
MASTER_PORT=${MASTER_PORT:-29500}
[[ -x $RSD_BIN ]] || { echo "mpirun.sh: $RSD_BIN is not an executable: build rsd or set RSD_BIN" >&2; exit 2; }
command -v "$MPIRUN" > /dev/null || { echo "mpirun.sh: '$MPIRUN' not found: install Open MPI (openmpi-bin) or set MPIRUN" >&2; exit 2; }

# GPUs this node shows: CUDA_VISIBLE_DEVICES if set, else nvidia-smi's list.
count_gpus() {
  if [[ -n ${CUDA_VISIBLE_DEVICES:-} ]]; then
    tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c .
  elif command -v nvidia-smi > /dev/null; then
    nvidia-smi -L | grep -c '^GPU'
  else
    echo 0
  fi
}

if [[ $DEVICE == cpu ]]; then
  NP=${NP:-2}
  GPUS_PER_NODE=${GPUS_PER_NODE:-$NP}
else
  GPUS_PER_NODE=${GPUS_PER_NODE:-$(count_gpus)}
  [[ $GPUS_PER_NODE -ge 1 ]] || { echo "mpirun.sh: no GPU found here: set GPUS_PER_NODE, or DEVICE=cpu for CPU ranks" >&2; exit 2; }
fi

hosts=()
if [[ -n $HOSTFILE ]]; then
  [[ -f $HOSTFILE ]] || { echo "mpirun.sh: HOSTFILE '$HOSTFILE' not found" >&2; exit 2; }
  # Host names: the first word of each line that is not blank or a comment.
  mapfile -t hosts < <(sed -e 's/#.*//' "$HOSTFILE" | awk 'NF { print $1 }')
  [[ ${#hosts[@]} -ge 1 ]] || { echo "mpirun.sh: HOSTFILE '$HOSTFILE' lists no host" >&2; exit 2; }
fi
nodes=$(( ${#hosts[@]} > 0 ? ${#hosts[@]} : 1 ))
NP=${NP:-$((GPUS_PER_NODE * nodes))}
MASTER_ADDR=${MASTER_ADDR:-${hosts[0]:-$(hostname)}}
export MASTER_ADDR MASTER_PORT

cmd=("$MPIRUN" -np "$NP" --bind-to none)
[[ $(id -u) -eq 0 ]] && cmd+=(--allow-run-as-root)
[[ $DEVICE == cpu ]] && cmd+=(--oversubscribe)
if [[ -n $HOSTFILE ]]; then
  # ppr: GPUS_PER_NODE ranks on each node, so local rank = GPU index on every node.
  cmd+=(--hostfile "$HOSTFILE" --map-by "ppr:${GPUS_PER_NODE}:node")
fi
for var in PATH LD_LIBRARY_PATH MASTER_ADDR MASTER_PORT $(compgen -e | grep -E '^(NCCL|RSD|CUDA)_' || true); do
  [[ -n ${!var+set} ]] && cmd+=(-x "$var")
done
# shellcheck disable=SC2206  # MPIRUN_ARGS is meant to be word-split
[[ -n ${MPIRUN_ARGS:-} ]] && cmd+=($MPIRUN_ARGS)

cmd+=("$RSD_BIN" pretrain --config "$config")
[[ -n $DEVICE ]] && cmd+=(--device "$DEVICE")
[[ -n ${PER_GPU_BATCH:-} ]] && cmd+=(--set "train.batch_size=$((PER_GPU_BATCH * NP))")
cmd+=("$@")

echo "mpirun.sh: $NP ranks on $nodes node(s), $GPUS_PER_NODE per node" >&2
if [[ ${DRY_RUN:-0} == 1 ]]; then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
exec "${cmd[@]}"
