#!/usr/bin/env bash
# On a GPU machine (no GDAL, no apt there): builds rsd with CUDA for the local GPU and sm_90, runs
# the whole suite (the CUDA parity tests run for real there) and the benchmarks, and prints a
# summary to paste into benchmarks/RESULTS.md. Header-only dependencies come from ./third_party
# (tools/carry-deps.sh fills it on a Debian machine). Output also goes to ${OUT:-gpu-check-out}/.
#   bash tools/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
mkdir -p "$out"
build=build-gpu
log() { echo "gpu-check: $*" | tee -a "$out/summary.txt"; }

# cuDNN and NCCL may live only in Python's nvidia-* wheels; cuDNN dlopens its sub-libraries by
# name, so their folders go on the loader path too (CMake finds them by itself).
wheel_libs=$(python3 -c "
import importlib.util as u
for name in ('cudnn', 'nccl', 'cublas', 'cuda_runtime'):
    s = u.find_spec('nvidia.' + name)
    if s: print(list(s.submodule_search_locations)[0] + '/lib')
" 2>/dev/null | paste -sd: -)
[ -n "$wheel_libs" ] && export LD_LIBRARY_PATH="$wheel_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

log "date $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
log "device $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi unavailable')"

if ! cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRSD_CUDA=ON -DRSD_WERROR=ON \
    -DRSD_THIRD_PARTY_DIR="$PWD/third_party" > "$out/configure.log" 2>&1; then
  tail -30 "$out/configure.log"; log "configure FAILED"; exit 1
fi
grep "rsd:" "$out/configure.log" | tee -a "$out/summary.txt"
if ! cmake --build "$build" -j "$(nproc)" > "$out/build.log" 2>&1; then
  grep -E "error|FAILED" "$out/build.log" | head -40; log "build FAILED"; exit 1
fi
log "build ok"

ctest --test-dir "$build" --output-on-failure -j 4 > "$out/ctest.log" 2>&1
ctest_rc=$?
tail -25 "$out/ctest.log"
grep -E "tests passed|tests failed" "$out/ctest.log" | tee -a "$out/summary.txt"
# The coverage table the parity suite prints (op, cuda f32 cases, cuda bf16 cases).
"$build/tests/rsd_tests" --runner=gpu --test-suite=ops:gpu --force-colors=0 > "$out/cuda_parity.log" 2>&1
sed -n '/^op /,/^$/p' "$out/cuda_parity.log" | tee -a "$out/summary.txt"

# Each benchmark beside its PyTorch reference (PyTorch is on the GPU machine), then side by side.
run_benchmark() {  # rsd program, torch_ref script, timing fields to compare, extra args of each
  local bench=$1 ref=$2 metrics=$3 bench_args=${4:-} ref_args=${5:-}
  [ -x "$build/benchmarks/$bench" ] || { log "$bench not built"; return; }
  log "running $bench"
  # shellcheck disable=SC2086
  "$build/benchmarks/$bench" --json "$out/$bench.json" $bench_args 2>&1 | tee -a "$out/summary.txt"
  if python3 -c "import torch" 2>/dev/null; then
    # shellcheck disable=SC2086
    python3 "benchmarks/torch_ref/$ref.py" --json "$out/torch_$bench.json" $ref_args > "$out/torch_$bench.log" 2>&1 ||
      { tail -5 "$out/torch_$bench.log"; log "torch reference $ref FAILED"; return; }
    python3 benchmarks/compare.py "$out/$bench.json" "$out/torch_$bench.json" --metrics "$metrics" 2>&1 | tee -a "$out/summary.txt"
  else
    log "PyTorch not importable: no side-by-side for $bench"
  fi
}
# The op matrix's benchmark cases (tests/cases/), exported for PyTorch's twin.
run_benchmark ops_bench ops_ref fwd_ms,fwd_bwd_ms "--cases-json $out/ops_cases.json" "--cases $out/ops_cases.json"
run_benchmark loss_bench loss_ref fwd_bwd_ms,peak_bytes
# Training steps per method and encoder (defaults: batch 256, 128 x 128 views; the issue's
# figure is dual-contrastive ResNet-50), beside PyTorch eager with AMP and channels_last.
run_benchmark train_bench train_ref median_ms,samples_per_s
"$build/tools/rsd" demo --device cuda --steps 100 2>&1 | tail -4 | tee -a "$out/summary.txt"
# The pretraining demo on the GPU in bf16, from the shards tools/carry-deps.sh packed (no GDAL here).
if [ -f third_party/samples-shards/terramind/dataset.json ]; then
  "$build/tools/rsd" pretrain --config configs/demo.toml --device cuda --set train.precision=auto \
    --set data.path=third_party/samples-shards/terramind --out "$out/pretrain-demo" 2>&1 | tail -8 | tee -a "$out/summary.txt"
else
  log "no third_party/samples-shards/terramind: run tools/carry-deps.sh first for the pretraining demo"
fi
log "ctest exit code $ctest_rc"
exit $ctest_rc
