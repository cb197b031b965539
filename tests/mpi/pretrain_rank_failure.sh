#!/usr/bin/env bash
# A data-parallel `rsd pretrain` whose rank 1 dies (SIGKILL) or stalls (SIGSTOP) must end on every
# rank with an error, never hang (issue 7). Run by ctest from the repository root:
#   tests/mpi/pretrain_rank_failure.sh RSD MPIRUN [MPIRUN_FLAGS...]
# kill:  mpirun sees a rank end without finalizing and stops the job.
# stop:  rank 0 waits in the gradient all-reduce until distributed.timeout_s (3 s here), then its
#        error names the collective and Communicator::abort ends the job.
set -euo pipefail
rsd=$1
shift
mpirun=("$@")
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# Starts the job in the background, waits until rank 1 runs, and prints rank 1's PID.
start_job() {
  local log=$1
  "${mpirun[@]}" -np 2 "$rsd" pretrain --config configs/demo.toml --out "$tmp/run" --set train.steps=100000 \
    --set log.progress=false --set distributed.timeout_s=3 > "$log" 2>&1 &
  job=$!
  for _ in $(seq 600); do
    # The metrics file appears after rank 0's first logged step: both ranks are training.
    [[ -s "$tmp/run/metrics.jsonl" ]] && break
    kill -0 "$job" 2>/dev/null || { cat "$log"; echo "the job ended before training started" >&2; exit 1; }
    sleep 0.2
  done
  [[ -s "$tmp/run/metrics.jsonl" ]] || { cat "$log"; echo "the job did not start training in 120 s" >&2; exit 1; }
  rank1=$(pgrep -P "$job" -f "rsd pretrain" | sort -n | tail -1)
  [[ -n "$rank1" ]] || { echo "no rank process found under mpirun (pid $job)" >&2; exit 1; }
}

# Waits at most $2 seconds for the job to end; it must end with a non-zero status.
expect_end() {
  local log=$1 limit=$2 waited=0
  while kill -0 "$job" 2>/dev/null; do
    if (( waited >= limit * 5 )); then cat "$log"; echo "the job still runs $limit s after the failure: a hang" >&2; exit 1; fi
    sleep 0.2
    waited=$((waited + 1))
  done
  if wait "$job"; then cat "$log"; echo "the job exited 0 after a rank failed" >&2; exit 1; fi
}

start_job "$tmp/kill.log"
kill -9 "$rank1"
expect_end "$tmp/kill.log" 60
echo "rank 1 killed: the job ended with an error"

rm -rf "$tmp/run"
start_job "$tmp/stop.log"
kill -STOP "$rank1"
expect_end "$tmp/stop.log" 60
grep -q "waited 3 s and the collective has not completed" "$tmp/stop.log" ||
  { cat "$tmp/stop.log"; echo "the stalled job did not end with the timeout error" >&2; exit 1; }
grep -m1 "waited 3 s" "$tmp/stop.log"
echo "rank 1 stalled: rank 0 timed out and ended the job"
