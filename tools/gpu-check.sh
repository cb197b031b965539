#!/usr/bin/env bash
# The GPU check, made to fit ONE call on a lent GPU machine: one H100, 16 cores, no apt, no network,
# about 15 minutes of device time in all (the machine's start included) and at most 10 minutes a
# call. It builds only the targets it runs, then runs the checks in order of value, each under
# `timeout` with its own budget, on a running clock: the whole script ends within GPU_CHECK_BUDGET_S
# (default 480 s). The files it leaves under $OUT (at most 8, small) are what comes back; the full
# logs stay in a scratch folder on that machine.
#
#   bash tools/gpu-check.sh              run it (on the GPU machine; `bash tools/carry-deps.sh` first, here)
#   bash tools/gpu-check.sh --dry-run    print the plan: steps, commands, budgets, wheel libraries, files
#   bash tools/gpu-check.sh --help
#
# How to run it through the device tool: benchmarks/RESULTS.md ("GPU runs").
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$PWD

usage() {
  cat <<'EOF'
usage: bash tools/gpu-check.sh [--dry-run | --help]

Builds rsd for the local GPU (only the targets it runs) and runs, in order of value, each step under
`timeout` with its own budget:
  core   probe, configure, build, the CUDA parity suite (ops:gpu) and the other CUDA suites (ctest -L gpu,
         CUDA_LAUNCH_BLOCKING=1), compute-sanitizer memcheck on the parity suite, loss_bench and
         train_bench (dual-contrastive ResNet-50, 128 px, batch 256, bf16) beside their PyTorch twins;
         their budgets together fit the total
  extra  ops_bench beside ops_ref.py, `rsd demo`, the pretraining demo: each runs only if its whole
         budget is still left on the clock
A step that fails or times out is recorded (FAIL / TIMEOUT) and the next one runs.

  --dry-run   build and run nothing; print the plan (each step, its command, its budget, the cumulative
              budget against the total), the wheel library folders found and the files that would
              come back under $OUT
  --help      this text

Environment:
  OUT                    where the returned files go (set by the device tool; default ./gpu-check-out)
  GPU_CHECK_BUDGET_S     the total budget in seconds (default 480)
  GPU_CHECK_ONLY         run only these steps (comma-separated names, as the dry run lists them), with
                         the ones they need (configure,build): on a rerun the kept build is incremental
  GPU_CHECK_CUDA_ARCH    CMAKE_CUDA_ARCHITECTURES (default: the GPU's compute capability, else 90)
  GPU_CHECK_BUILD_DIR    the build folder (default build-gpu; kept, so a rerun builds incrementally)
  GPU_CHECK_SCRATCH      the full logs (default ${TMPDIR:-/tmp}/rsd-gpu-check)
  GPU_CHECK_PYTHON_SITE  colon-separated site-packages folders to search for the nvidia-* wheels
                         instead of asking python3 (the tests use it)
EOF
}

mode=run
case "${1:-}" in
  --dry-run) mode=dry ;;
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

total=${GPU_CHECK_BUDGET_S:-480}
[[ $total =~ ^[0-9]+$ ]] || { echo "gpu-check: GPU_CHECK_BUDGET_S must be a number of seconds, got '$total'" >&2; exit 2; }
out=${OUT:-gpu-check-out}
build=${GPU_CHECK_BUILD_DIR:-build-gpu}
scratch=${GPU_CHECK_SCRATCH:-${TMPDIR:-/tmp}/rsd-gpu-check}
only=${GPU_CHECK_ONLY:-}
# timeout sends TERM at the budget and KILL this much later, should a step ignore TERM.
grace=5
# The files that come back, always these (a step that did not run leaves a line saying so): the device
# tool returns at most 8 files.
out_files=(summary.txt build.log tests.log sanitizer.log bench.log bench.json)

# ---- what this machine has ----

# Folders to search for Python's nvidia-* wheels: GPU_CHECK_PYTHON_SITE, else python3's own path
# (PYTHONPATH included, so wheels unpacked elsewhere and put on PYTHONPATH are found too).
python_site_dirs() {
  if [[ -n ${GPU_CHECK_PYTHON_SITE:-} ]]; then
    tr ':' '\n' <<< "$GPU_CHECK_PYTHON_SITE"
    return
  fi
  command -v python3 > /dev/null || return 0
  timeout 20 python3 -c '
import site, sys
dirs = list(sys.path)
try:
    dirs += site.getsitepackages()
except AttributeError:
    pass
print("\n".join(dict.fromkeys(d for d in dirs if d)))' 2> /dev/null
}

# cuDNN, NCCL and cuBLAS may exist only in the wheels, in either layout: CUDA 12 style, one folder per
# library (site-packages/nvidia/cudnn/lib), or CUDA 13 style, all in one (site-packages/nvidia/cu13/lib).
# nvrtc too: cuDNN's runtime-compiled engines load it by name. Sets wheel_<name> to the first folder
# holding lib<name>.so*, wheel_ld_dirs to the folders for the loader path and cmake_hints to the
# <NAME>_ROOT hints of cmake/RsdCuda.cmake (the folder above lib/, which also holds include/).
find_wheel_libs() {
  local site dir name var
  wheel_cudnn="" wheel_nccl="" wheel_cublas="" wheel_nvrtc=""
  wheel_sites=()
  while IFS= read -r site; do
    [[ -n $site && -d $site/nvidia ]] || continue
    wheel_sites+=("$site")
    # The CUDA 13 folder first: where both layouts are installed, it is the newer one.
    for dir in "$site/nvidia/cu13/lib" "$site"/nvidia/*/lib; do
      [[ -d $dir ]] || continue
      for name in cudnn nccl cublas nvrtc; do
        var=wheel_$name
        [[ -z ${!var} ]] || continue
        # lib<name>.so*: libcublas.so.13 but not libcublasLt.so.13.
        compgen -G "$dir/lib$name.so*" > /dev/null && printf -v "$var" '%s' "$dir"
      done
    done
  done < <(python_site_dirs)
  wheel_ld_dirs=()
  cmake_hints=()
  for name in cudnn nccl cublas nvrtc; do
    var=wheel_$name
    dir=${!var}
    [[ -n $dir ]] || continue
    [[ " ${wheel_ld_dirs[*]} " == *" $dir "* ]] || wheel_ld_dirs+=("$dir")
    [[ $name == nvrtc ]] || cmake_hints+=("-D${name^^}_ROOT=${dir%/lib}")
  done
}

# The architecture of the GPU here (compute capability 9.0 -> 90), so nvcc builds that one only.
cuda_arch_source=""
detect_cuda_arch() {
  local cap
  if [[ -n ${GPU_CHECK_CUDA_ARCH:-} ]]; then
    cuda_arch=$GPU_CHECK_CUDA_ARCH cuda_arch_source="GPU_CHECK_CUDA_ARCH"
    return
  fi
  if command -v nvidia-smi > /dev/null; then
    cap=$(timeout 10 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | head -1 | tr -d ' .')
    if [[ $cap =~ ^[0-9]+$ ]]; then
      cuda_arch=$cap cuda_arch_source="nvidia-smi compute_cap"
      return
    fi
  fi
  cuda_arch=90 cuda_arch_source="no GPU answered nvidia-smi here: the H100's sm_90, the project's default"
}

find_tool() {  # name: on PATH, else in the CUDA toolkit's bin/
  command -v "$1" 2> /dev/null || { [[ -x /usr/local/cuda/bin/$1 ]] && echo "/usr/local/cuda/bin/$1"; } || true
}

find_wheel_libs
detect_cuda_arch
sanitizer=$(find_tool compute-sanitizer)
nvcc=$(find_tool nvcc)
have_torch=0
command -v python3 > /dev/null &&
  timeout 20 python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)' 2> /dev/null &&
  have_torch=1
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
jobs=$(nproc 2> /dev/null || echo 4)
commit=$(git describe --always --dirty 2> /dev/null) ||
  commit="$(cat third_party/commit.txt 2> /dev/null || echo unknown) (no .git here: as tools/carry-deps.sh recorded it)"

# ---- the plan ----
# One step: name, tier (core: budgets sum within the total; extra: only if its whole budget is
# left), budget in seconds, the earlier step that must have succeeded in this run (@name; - for
# none: a binary left by an earlier call must not stand in for a failed build), a reason it cannot
# run on this machine (empty if it can), and the command (run by bash -c under timeout).
names=() tiers=() budgets=() needs=() blocked=() cmds=()
step() {
  names+=("$1") tiers+=("$2") budgets+=("$3") needs+=("$4") blocked+=("$5") cmds+=("$6")
}
q() { printf '%q' "$1"; }  # a path quoted for the commands
twin() {  # script args json rsd_json metrics: the PyTorch twin, then both side by side (compare.py)
  local ours theirs
  ours=$(q "$scratch/$4.json") theirs=$(q "$scratch/$3.json")
  echo "python3 benchmarks/torch_ref/$1 $2 --json $theirs && echo '== compare ==' && if [ -f $ours ];" \
    "then python3 benchmarks/compare.py $ours $theirs --metrics $5; else echo 'no rsd results to compare'; fi"
}

tests_bin=$build/tests/rsd_tests
bench_dir=$build/benchmarks
no_torch=""
((have_torch)) || no_torch="python3 cannot import torch: no PyTorch twin"
# Both sides of each benchmark use the same warm-up and runs; fewer runs than the programs' defaults
# (20) keep the medians inside the budgets.
loss_args="--device cuda --warmup 2 --runs 5"
train_args="--device cuda --methods dual-contrastive --archs resnet50 --batch 256 --patch 128 --warmup 3 --runs 10"

step probe core 10 - "" \
  "nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader; \
${nvcc:-nvcc} --version | grep release; cmake --version | head -1; echo \"ninja \$(ninja --version)\"; \
c++ --version | head -1; python3 --version; nproc"
# RSD_WERROR=OFF: the compiler there is not the one the warnings are kept clean for.
step configure core 35 - "" \
  "cmake -S . -B $(q "$build") ${generator[*]} -DCMAKE_BUILD_TYPE=Release -DRSD_CUDA=ON -DRSD_WERROR=OFF \
-DCMAKE_CUDA_ARCHITECTURES=$cuda_arch -DRSD_THIRD_PARTY_DIR=$(q "$root/third_party")${cmake_hints[*]:+ ${cmake_hints[*]}}"
# Only what the steps below run (rsd_tests builds rsd, which its fault suite runs); not the
# emulator, the fuzz replay or the other benchmarks.
step build core 180 @configure "" \
  "cmake --build $(q "$build") -j $jobs --target rsd_tests rsd rsd_shutdown_test loss_bench train_bench ops_bench"
# CUDA_LAUNCH_BLOCKING=1: a kernel's error surfaces at its own launch, not at a later call.
step parity core 40 @build "" \
  "CUDA_LAUNCH_BLOCKING=1 $(q "$tests_bin") --runner=gpu --test-suite=ops:gpu --force-colors=0"
step gpu_suites core 50 @build "" \
  "CUDA_LAUNCH_BLOCKING=1 ctest --test-dir $(q "$build") -L gpu -E '^ops_gpu\$' --output-on-failure --timeout 40 -j 4"
no_sanitizer=""
[[ -n $sanitizer ]] || no_sanitizer="compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
step sanitizer core 40 @build "$no_sanitizer" \
  "$(q "${sanitizer:-compute-sanitizer}") --tool memcheck --error-exitcode 99 --print-limit 20 \
$(q "$tests_bin") --runner=gpu --test-suite=ops:gpu --force-colors=0"
# The losses at the issue's sizes, loss_bench's GPU defaults on both sides: InfoNCE N = M = 1024,
# 8192, 32768, 65536 and cosine B = 8192, 65536, D = 128 and 256, bf16 and f32.
step loss_rsd core 25 @build "" \
  "$(q "$bench_dir/loss_bench") $loss_args --json $(q "$scratch/loss_rsd.json")"
step loss_torch core 25 - "$no_torch" "$(twin loss_ref.py "$loss_args" loss_torch loss_rsd fwd_bwd_ms,peak_bytes)"
# The issue's figure: one training step of dual-contrastive ResNet-50 on 128 px views, batch 256, bf16
# (train_bench computes in bf16 on a GPU; train_ref.py: eager, bf16 autocast, channels_last).
step train_rsd core 35 @build "" \
  "$(q "$bench_dir/train_bench") $train_args --json $(q "$scratch/train_rsd.json")"
step train_torch core 35 - "$no_torch" "$(twin train_ref.py "$train_args" train_torch train_rsd median_ms,samples_per_s,peak_bytes)"
# The rest, if time remains.
step ops_rsd extra 45 @build "" \
  "$(q "$bench_dir/ops_bench") --device cuda --json $(q "$scratch/ops_rsd.json") --cases-json $(q "$scratch/ops_cases.json")"
step ops_torch extra 45 @ops_rsd "$no_torch" \
  "$(twin ops_ref.py "--device cuda --cases $(q "$scratch/ops_cases.json")" ops_torch ops_rsd fwd_ms,fwd_bwd_ms)"
step demo extra 25 @build "" \
  "$(q "$build/tools/rsd") demo --device cuda --steps 100"
# The pretraining demo in bf16, on the shards tools/carry-deps.sh packed (no GDAL there).
shards=third_party/samples-shards/terramind
no_shards=""
[[ -f $shards/dataset.json ]] || no_shards="no $shards (run tools/carry-deps.sh where rsd is built)"
step pretrain_demo extra 45 @build "$no_shards" \
  "$(q "$build/tools/rsd") pretrain --config configs/demo.toml --device cuda --set train.precision=auto \
--set log.progress=false --set data.path=$shards --out $(q "$scratch/pretrain-demo") --overwrite"

core_sum=0
for i in "${!names[@]}"; do
  [[ ${tiers[i]} == core ]] && core_sum=$((core_sum + budgets[i]))
done

list_or_none() { if (($#)); then printf '%s ' "$@"; else printf '(none)'; fi; }

print_plan() {
  local i cumulative=0 verdict
  echo "gpu-check plan (dry run: nothing is built or run)"
  echo "repository        $root (commit $commit)"
  echo "total budget      $total s (GPU_CHECK_BUDGET_S); each step runs under timeout -k $grace <its budget>"
  echo "core steps        $core_sum s of $total s"
  echo "CUDA architecture $cuda_arch ($cuda_arch_source)"
  echo "wheel sites       $(list_or_none "${wheel_sites[@]}")"
  echo "wheel cudnn       ${wheel_cudnn:-(none)}"
  echo "wheel nccl        ${wheel_nccl:-(none)}"
  echo "wheel cublas      ${wheel_cublas:-(none)}"
  echo "wheel nvrtc       ${wheel_nvrtc:-(none)}"
  echo "LD_LIBRARY_PATH   prepends: $(list_or_none "${wheel_ld_dirs[@]}")"
  echo "CMake hints       $(list_or_none "${cmake_hints[@]}")"
  echo "compute-sanitizer ${sanitizer:-(not found: the sanitizer step would be skipped)}"
  echo "full logs         $scratch"
  echo
  for i in "${!names[@]}"; do
    cumulative=$((cumulative + budgets[i]))
    if [[ ${tiers[i]} == core ]]; then
      verdict=$( ((cumulative <= total)) && echo fits || echo "OVER the total")
    else
      verdict="if time remains"
    fi
    printf 'step %2d %-14s %-5s %4d s  cumulative %4d/%d s  %s\n' $((i + 1)) "${names[i]}" "${tiers[i]}" \
      "${budgets[i]}" "$cumulative" "$total" "$verdict"
    printf '        $ timeout -k %d %d bash -c %s\n' "$grace" "${budgets[i]}" "${cmds[i]@Q}"
    [[ -z ${blocked[i]} ]] || echo "        skipped here: ${blocked[i]}"
    [[ ${needs[i]} == - ]] || echo "        needs step ${needs[i]#@} to succeed first (else skipped)"
  done
  echo
  echo "files returned under $out (${#out_files[@]} of at most 8):"
  for f in "${out_files[@]}"; do echo "file $out/$f"; done
}

if [[ $mode == dry ]]; then
  print_plan
  exit 0
fi

# ---- the run ----

mkdir -p "$out" "$scratch" || exit 2
rm -f "$scratch"/*.log "$scratch"/*.json "${out_files[@]/#/$out/}"
summary=$out/summary.txt
log() { echo "gpu-check: $*" | tee -a "$summary"; }
note() { tee -a "$summary"; }  # a block of lines into the summary
clock_start=$(date +%s)
elapsed() { echo $(($(date +%s) - clock_start)); }

# cuDNN dlopens its sub-libraries by name and the programs load the wheels' libraries at run time,
# so their folders go on the loader path (first: the ones the build is pointed at).
if ((${#wheel_ld_dirs[@]})); then
  ld_dirs=$(IFS=:; echo "${wheel_ld_dirs[*]}")
  export LD_LIBRARY_PATH="$ld_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
export PYTHONUNBUFFERED=1  # a twin stopped by its timeout has still written what it printed

log "date $(date -u +%Y-%m-%dT%H:%MZ), commit $commit, $jobs cores, budget $total s (core steps $core_sum s)"
log "CUDA architecture $cuda_arch ($cuda_arch_source)"
log "wheel libraries: cudnn ${wheel_cudnn:-none}, nccl ${wheel_nccl:-none}, cublas ${wheel_cublas:-none}, nvrtc ${wheel_nvrtc:-none}"
log "CMake hints: $(list_or_none "${cmake_hints[@]}")"
log "compute-sanitizer: ${sanitizer:-not found}"

# The tail of a log under a header, at most `lines` lines and 100 KB.
tail_of() {  # log lines
  if [[ -s $1 ]]; then
    echo "== $(basename "$1") (last $2 of $(wc -l < "$1") lines; full log: $1) =="
    tail -n "$2" "$1" | tail -c 100000
  else
    echo "== $(basename "$1"): the step did not run or printed nothing =="
  fi
  echo
}

# Refreshes the returned files from the full logs, after every step: what a call cut short leaves
# under $OUT is then as complete as the steps done.
publish() {
  { tail_of "$scratch/configure.log" 40; tail_of "$scratch/build.log" 150; } > "$out/build.log"
  { tail_of "$scratch/parity.log" 200; tail_of "$scratch/gpu_suites.log" 300; } > "$out/tests.log"
  tail_of "$scratch/sanitizer.log" 300 > "$out/sanitizer.log"
  local s
  for s in loss_rsd loss_torch train_rsd train_torch ops_rsd ops_torch demo pretrain_demo; do
    tail_of "$scratch/$s.log" 80
  done > "$out/bench.log"
  # Every benchmark JSON in one file: {"loss_rsd": {...}, "train_torch": {...}, ...}.
  timeout 20 python3 - "$scratch" > "$out/bench.json" 2> /dev/null <<'PY' || echo '{}' > "$out/bench.json"
import json, os, sys
merged = {}
for name in ("loss_rsd", "loss_torch", "train_rsd", "train_torch", "ops_rsd", "ops_torch"):
    try:
        merged[name] = json.load(open(os.path.join(sys.argv[1], name + ".json")))
    except (OSError, ValueError):
        pass
print(json.dumps(merged, indent=1))
PY
}

# What each step adds to the summary once it has run (the full log is in the scratch folder).
digest() {  # name log status
  local name=$1 file=$2 status=$3
  case $name in
    probe) sed 's/^/  /' "$file" | note ;;
    configure) grep "rsd:" "$file" | note ;;
    build)
      if [[ $status == OK ]]; then
        # Which cuDNN, cuBLAS, NCCL and runtime the tests load: the toolkit's or a wheel's.
        timeout 10 ldd "$tests_bin" 2> /dev/null | grep -E "cudnn|cublas|nccl|cudart" | sed 's/^\s*/  /' | note
      else
        grep -E "error|FAILED" "$file" | head -20 | note
      fi ;;
    parity)
      # The coverage table the parity suite prints (op, cuda f32 cases, cuda bf16 cases), then doctest's lines.
      sed -n '/^op /,/^$/p' "$file" | note
      grep -E "^\[doctest\] (test cases|assertions|Status)" "$file" | note ;;
    gpu_suites) grep -E "Test +#|tests passed|tests failed|No tests were found" "$file" | note ;;
    sanitizer) grep -E "ERROR SUMMARY|^\[doctest\] (test cases|Status)" "$file" | note ;;
    loss_torch | train_torch | ops_torch) sed -n '/^== compare ==$/,$p' "$file" | note ;;
    train_rsd) tail -n 3 "$file" | note ;;
    demo) tail -n 4 "$file" | note ;;
    pretrain_demo) tail -n 8 "$file" | note ;;
  esac
  [[ $status == OK || $status == SKIPPED* ]] || tail -n 5 "$file" | sed 's/^/  | /' | note
}

failures=0
done_ok=" "  # the steps that succeeded, space-separated
for i in "${!names[@]}"; do
  name=${names[i]} budget=${budgets[i]} file=$scratch/${names[i]}.log
  left=$((total - $(elapsed)))
  reason=""
  if [[ -n $only && ",$only," != *",$name,"* ]]; then
    reason="not in GPU_CHECK_ONLY"
  elif [[ -n ${blocked[i]} ]]; then
    reason=${blocked[i]}
  elif [[ ${needs[i]} != - && ${done_ok} != *" ${needs[i]#@} "* ]]; then
    reason="needs step ${needs[i]#@}, which did not succeed"
  elif [[ ${tiers[i]} == extra ]] && ((left - grace < budget)); then
    reason="needs $budget s, $left s left of $total"
  elif ((left - grace < 5)); then
    reason="out of time ($left s left of $total)"
  fi
  if [[ -n $reason ]]; then
    log "[$name] SKIPPED: $reason"
    continue
  fi
  # A core step gets its budget, or what is left of the total if less.
  limit=$((budget < left - grace ? budget : left - grace))
  started=$(date +%s)
  timeout -k "$grace" "$limit" bash -c "${cmds[i]}" < /dev/null > "$file" 2>&1
  rc=$?
  took=$(($(date +%s) - started))
  if ((rc == 0)); then
    status=OK
    done_ok+="$name "
  elif ((rc == 124 || rc == 137)) && ((took >= limit)); then
    status="TIMEOUT (stopped at $limit s)"
    failures=$((failures + 1))
  else
    status="FAIL (exit $rc)"
    failures=$((failures + 1))
  fi
  log "[$name] $status, $took s of its $budget s (clock $(elapsed)/$total s)"
  digest "$name" "$file" "$status"
  publish
done

publish
count=$(find "$out" -maxdepth 1 -type f | wc -l)
log "done in $(elapsed) s of $total; $failures step(s) failed or timed out; full logs in $scratch"
log "files returned under $out: $count ($(find "$out" -maxdepth 1 -type f -printf '%f\n' | sort | paste -sd ' ' -))"
((failures == 0))
