#!/usr/bin/env bash
# Tests tools/gpu-check.sh without a GPU (ctest gpu_check_plan, label cpu):
#   - its plan (--dry-run) fits one call on the lent GPU machine: the core steps' budgets sum to at most
#     480 s, every step runs under timeout with its own budget, the build names its targets and turns
#     RSD_WERROR off, the runs are the ones the issue asks for, at most 8 files come back, summary.txt
#     among them;
#   - its lookup of cuDNN, NCCL and cuBLAS in fake site-packages trees of both wheel layouts (CUDA 12:
#     nvidia/<name>/lib; CUDA 13: nvidia/cu13/lib), down to the CMake hints and the loader path;
#   - its runner: a hung step is stopped at its budget and recorded as TIMEOUT, the next steps go on
#     (a fake nvidia-smi that hangs; nothing is built);
#   - that these checks can fail: each one must reject a doctored copy of the script.
#   tests/gpu_check_plan.sh [path/to/gpu-check.sh]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script=${1:-$here/../tools/gpu-check.sh}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; failed=1; }
expect() {  # description command...: passes when the command succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# A copy of the script in a repository-shaped folder (it runs from the folder above tools/), so the
# doctored copies and the runs touch nothing in the real tree.
copy_script() {  # destination-root [sed expression]
  mkdir -p "$1/tools"
  if [[ -n ${2:-} ]]; then sed -e "$2" "$script" > "$1/tools/gpu-check.sh"; else cp "$script" "$1/tools/gpu-check.sh"; fi
}

dry_run() {  # script-root site-dirs -> the plan on stdout
  OUT=/gpu-out GPU_CHECK_PYTHON_SITE=$2 GPU_CHECK_CUDA_ARCH="" GPU_CHECK_BUDGET_S="" PATH=$tmp/nosmi:$PATH \
    bash "$1/tools/gpu-check.sh" --dry-run
}

# The plan's promises. Prints what is wrong and fails; silent when all hold.
check_plan() {  # plan-file
  local plan=$1 bad=0
  awk -v limit=480 '
    function complain(m) { print "    plan: " m; bad = 1 }
    /^total budget/ { total = $3 }
    /^step / {
      if (pending) complain("step " name " has no command line")
      n++; name = $3; tier[name] = $4; budget[name] = $5; order[n] = name; pending = 1
      cum += $5
      split($8, cc, "/")
      if (cc[1] != cum) complain(name ": cumulative " cc[1] ", expected " cum)
      if ($4 == "core") core += $5
      next
    }
    pending && /^ +\$ / {
      pending = 0
      # Every step runs under timeout, with its own budget: "$ timeout -k N <budget> bash -c ..."
      if (!($2 == "timeout" && $3 == "-k" && $5 == budget[name] && $6 == "bash" && $7 == "-c"))
        complain(name ": not run under timeout with its budget: " $0)
      cmd[name] = $0
      next
    }
    /^file / { files++; file[files] = $2 }
    /^files returned under / { header = $0 }
    END {
      if (n < 10) complain("only " n " steps")
      if (core > limit) complain("core steps need " core " s, more than " limit " s")
      if (total != limit) complain("total budget " total " s, expected " limit " s by default")
      # The order of value: build, then the CUDA suites, the sanitizer, then the benchmarks.
      want = "configure build parity gpu_suites sanitizer loss_rsd loss_torch train_rsd train_torch"
      k = split(want, w, " "); last = 0
      for (i = 1; i <= k; i++) {
        pos = 0
        for (j = 1; j <= n; j++) if (order[j] == w[i]) pos = j
        if (!pos) complain("no step " w[i])
        else if (tier[w[i]] != "core") complain(w[i] " is not a core step")
        else if (pos < last) complain(w[i] " runs out of the order of value")
        last = pos
      }
      c = cmd["configure"]
      if (c !~ /-DRSD_WERROR=OFF/) complain("configure does not turn RSD_WERROR off")
      if (c !~ /-DRSD_CUDA=ON/) complain("configure does not require CUDA")
      if (c !~ /-DCMAKE_CUDA_ARCHITECTURES=[0-9]+ /) complain("configure names no single CUDA architecture")
      c = cmd["build"]
      if (c !~ /cmake --build .* --target( [a-z_]+)+/) complain("the build names no targets")
      if (c !~ /--target .*rsd_tests/ || c !~ /loss_bench/ || c !~ /train_bench/) complain("the build misses a target it runs")
      if (c ~ /--target( [a-z_]+)* all/) complain("the build builds all")
      if (cmd["parity"] !~ /CUDA_LAUNCH_BLOCKING=1 .*--runner=gpu --test-suite=ops:gpu/) complain("parity: " cmd["parity"])
      if (cmd["gpu_suites"] !~ /CUDA_LAUNCH_BLOCKING=1 ctest .*-L gpu/) complain("gpu_suites: " cmd["gpu_suites"])
      if (cmd["sanitizer"] !~ /--tool memcheck .*--test-suite=ops:gpu/) complain("sanitizer: " cmd["sanitizer"])
      for (s in cmd) if (s ~ /^train_/ && cmd[s] !~ /--methods dual-contrastive --archs resnet50 --batch 256 --patch 128/)
        complain(s " is not dual-contrastive ResNet-50, batch 256, 128 px")
      if (cmd["loss_torch"] !~ /loss_ref.py/ || cmd["train_torch"] !~ /train_ref.py/) complain("a PyTorch twin is missing")
      # The files that come back: at most 8, summary.txt among them, plain names in $OUT.
      if (files > 8) complain(files " files would come back, more than 8")
      if (header !~ "\\(" files " of at most 8\\)") complain("the file count in \"" header "\" is not " files)
      has = 0
      for (i = 1; i <= files; i++) {
        if (file[i] == "/gpu-out/summary.txt") has = 1
        if (file[i] !~ /^\/gpu-out\/[A-Za-z0-9._-]+$/) complain("file " file[i] " is not a plain name in $OUT")
      }
      if (!has) complain("summary.txt is not among the files")
      exit bad
    }' "$plan" || bad=1
  return $bad
}

mkdir -p "$tmp/nosmi" "$tmp/empty-site"
# No GPU here, and none pretended: a nvidia-smi that fails, so the plan does not depend on the host.
printf '#!/bin/sh\nexit 9\n' > "$tmp/nosmi/nvidia-smi"
chmod +x "$tmp/nosmi/nvidia-smi"

# ---- --help and arguments ----
expect "--help exits 0 and describes --dry-run" bash -c "bash '$script' --help | grep -q -- --dry-run"
bash "$script" --bogus > /dev/null 2>&1
expect "an unknown argument is refused (exit 2)" test $? -eq 2

# ---- the plan ----
copy_script "$tmp/real"
dry_run "$tmp/real" "$tmp/empty-site" > "$tmp/plan.txt" 2>&1
expect "the dry run exits 0" test $? -eq 0
expect "the plan keeps its promises" check_plan "$tmp/plan.txt"
expect "the dry run built nothing" test ! -e "$tmp/real/build-gpu" -a ! -e /gpu-out
expect "no GPU: the architecture falls back to 90" grep -q '^CUDA architecture 90 ' "$tmp/plan.txt"
expect "no wheels: no CMake hints" bash -c "grep -q '^CMake hints *(none)' '$tmp/plan.txt' && ! grep -q '_ROOT=' '$tmp/plan.txt'"
GPU_CHECK_BUDGET_S=300 OUT=/gpu-out GPU_CHECK_PYTHON_SITE=$tmp/empty-site PATH=$tmp/nosmi:$PATH \
  bash "$tmp/real/tools/gpu-check.sh" --dry-run > "$tmp/plan300.txt" 2>&1
expect "a smaller GPU_CHECK_BUDGET_S marks the core steps beyond it" grep -q 'OVER the total' "$tmp/plan300.txt"
expect "the plan lists every step's budget against the total" grep -q '^step  1 .*cumulative .*/480 s' "$tmp/plan.txt"

# ---- the wheel lookup, both layouts ----
mk() { mkdir -p "$(dirname "$1")" && : > "$1"; }
# Mixed: cuBLAS and NCCL in the CUDA 13 folder, cuDNN in its own (CUDA 12 style). A cublasLt alone in a
# folder sorted first must not pass for cuBLAS.
mixed=$tmp/mixed/site-packages
mk "$mixed/nvidia/cu13/lib/libcublas.so.13"
mk "$mixed/nvidia/cu13/lib/libcublasLt.so.13"
mk "$mixed/nvidia/cu13/lib/libnccl.so.2"
mk "$mixed/nvidia/cudnn/lib/libcudnn.so.9"
mk "$mixed/nvidia/aaa/lib/libcublasLt.so.12"
dry_run "$tmp/real" "$tmp/empty-site:$mixed" > "$tmp/mixed.txt" 2>&1
expect "mixed layouts: cuDNN in nvidia/cudnn/lib" grep -qx "wheel cudnn *$mixed/nvidia/cudnn/lib" "$tmp/mixed.txt"
expect "mixed layouts: NCCL in nvidia/cu13/lib" grep -qx "wheel nccl *$mixed/nvidia/cu13/lib" "$tmp/mixed.txt"
expect "mixed layouts: cuBLAS in nvidia/cu13/lib, not the cublasLt decoy" grep -qx "wheel cublas *$mixed/nvidia/cu13/lib" "$tmp/mixed.txt"
expect "mixed layouts: configure gets the hints" grep -q -- "-DCUDNN_ROOT=$mixed/nvidia/cudnn -DNCCL_ROOT=$mixed/nvidia/cu13 -DCUBLAS_ROOT=$mixed/nvidia/cu13'" "$tmp/mixed.txt"
expect "mixed layouts: both folders go on the loader path" grep -qx "LD_LIBRARY_PATH *prepends: $mixed/nvidia/cudnn/lib $mixed/nvidia/cu13/lib " "$tmp/mixed.txt"
expect "mixed layouts: the plan still keeps its promises" check_plan "$tmp/mixed.txt"

# CUDA 12 layout only: one folder per library, nvrtc too.
cu12=$tmp/cu12/site-packages
mk "$cu12/nvidia/cudnn/lib/libcudnn.so.9"
mk "$cu12/nvidia/nccl/lib/libnccl.so.2"
mk "$cu12/nvidia/cublas/lib/libcublas.so.12"
mk "$cu12/nvidia/cublas/lib/libcublasLt.so.12"
mk "$cu12/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"
dry_run "$tmp/real" "$cu12" > "$tmp/cu12.txt" 2>&1
expect "CUDA 12 layout: each library in its folder" bash -c "grep -qx 'wheel cudnn *$cu12/nvidia/cudnn/lib' '$tmp/cu12.txt' &&
  grep -qx 'wheel nccl *$cu12/nvidia/nccl/lib' '$tmp/cu12.txt' && grep -qx 'wheel cublas *$cu12/nvidia/cublas/lib' '$tmp/cu12.txt' &&
  grep -qx 'wheel nvrtc *$cu12/nvidia/cuda_nvrtc/lib' '$tmp/cu12.txt'"
expect "CUDA 12 layout: hints and loader path" bash -c "grep -q -- '-DCUDNN_ROOT=$cu12/nvidia/cudnn -DNCCL_ROOT=$cu12/nvidia/nccl -DCUBLAS_ROOT=$cu12/nvidia/cublas' '$tmp/cu12.txt' &&
  grep -qx 'LD_LIBRARY_PATH *prepends: $cu12/nvidia/cudnn/lib $cu12/nvidia/nccl/lib $cu12/nvidia/cublas/lib $cu12/nvidia/cuda_nvrtc/lib ' '$tmp/cu12.txt'"

# CUDA 13 layout only: everything in nvidia/cu13/lib; one folder on the loader path, one hint root.
cu13=$tmp/cu13/site-packages
for lib in libcudnn.so.9 libnccl.so.2 libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13; do mk "$cu13/nvidia/cu13/lib/$lib"; done
dry_run "$tmp/real" "$cu13" > "$tmp/cu13.txt" 2>&1
expect "CUDA 13 layout: all three in nvidia/cu13/lib" bash -c "[ \$(grep -cE '^wheel (cudnn|nccl|cublas) *$cu13/nvidia/cu13/lib\$' '$tmp/cu13.txt') = 3 ]"
expect "CUDA 13 layout: hints and loader path" bash -c "grep -q -- '-DCUDNN_ROOT=$cu13/nvidia/cu13 -DNCCL_ROOT=$cu13/nvidia/cu13 -DCUBLAS_ROOT=$cu13/nvidia/cu13' '$tmp/cu13.txt' &&
  grep -qx 'LD_LIBRARY_PATH *prepends: $cu13/nvidia/cu13/lib ' '$tmp/cu13.txt'"

# ---- the runner: a hung step times out and the run goes on ----
# nvidia-smi hangs; the probe (10 s budget) calls it first. GPU_CHECK_ONLY keeps the rest from running:
# parity must then be skipped because no build succeeded in this run.
mkdir -p "$tmp/hang"
printf '#!/bin/sh\nexec sleep 60\n' > "$tmp/hang/nvidia-smi"
chmod +x "$tmp/hang/nvidia-smi"
copy_script "$tmp/run"
PATH=$tmp/hang:$PATH OUT=$tmp/run-out GPU_CHECK_SCRATCH=$tmp/run-scratch GPU_CHECK_CUDA_ARCH=90 \
  GPU_CHECK_PYTHON_SITE=$tmp/empty-site GPU_CHECK_ONLY=probe,parity timeout 60 bash "$tmp/run/tools/gpu-check.sh" > "$tmp/run.txt" 2>&1
rc=$?
expect "a run with a failed step exits 1" test $rc -eq 1
expect "the hung probe is recorded as TIMEOUT at its budget" grep -q '^gpu-check: \[probe\] TIMEOUT (stopped at 10 s)' "$tmp/run-out/summary.txt"
expect "the next step still gets its turn (skipped: no build)" grep -q '^gpu-check: \[parity\] SKIPPED: needs step build' "$tmp/run-out/summary.txt"
expect "steps outside GPU_CHECK_ONLY are skipped" grep -q '^gpu-check: \[configure\] SKIPPED: not in GPU_CHECK_ONLY' "$tmp/run-out/summary.txt"
count=$(find "$tmp/run-out" -type f | wc -l)
expect "the run leaves the planned files, at most 8 ($count)" bash -c "[ $count -le 8 ] && [ $count = \$(grep -c '^file ' '$tmp/plan.txt') ]"
expect "the summary states the file count" grep -q "^gpu-check: files returned under $tmp/run-out: $count (" "$tmp/run-out/summary.txt"
expect "the run built nothing" test ! -e "$tmp/run/build-gpu"

# ---- the checks can fail: doctored copies must be rejected ----
mutant() {  # description sed-expression complaint: the copy must fail check_plan with that complaint
  copy_script "$tmp/mutant" "$2"
  if cmp -s "$script" "$tmp/mutant/tools/gpu-check.sh"; then
    fail "mutant '$1': the edit no longer applies to the script (update this test)"
    return
  fi
  dry_run "$tmp/mutant" "$tmp/empty-site" > "$tmp/mutant.txt" 2>&1
  if check_plan "$tmp/mutant.txt" > "$tmp/complaints.txt"; then
    fail "mutant '$1' passed the plan checks"
  elif ! grep -q -- "$3" "$tmp/complaints.txt"; then
    fail "mutant '$1' was rejected, but not with '$3':"
    cat "$tmp/complaints.txt"
  else
    ok "mutant '$1' is rejected: $(grep -m1 -- "$3" "$tmp/complaints.txt" | sed 's/^ *plan: //')"
  fi
}
mutant "build budget 400 s" 's/^step build core 180 /step build core 400 /' "core steps need 695 s"
mutant "warnings as errors" 's/-DRSD_WERROR=OFF/-DRSD_WERROR=ON/' "RSD_WERROR"
mutant "the whole project built" 's/ --target rsd_tests rsd rsd_shutdown_test loss_bench train_bench ops_bench//' "the build names no targets"
mutant "a step printed without timeout" "s/'        \\\$ timeout -k %d %d bash -c %s\\\\n' /'        \$ %.0s%s bash -c %s\\\\n' /" \
  "probe: not run under timeout"
mutant "nine files returned" 's/^out_files=(summary.txt /out_files=(a b c summary.txt /' "9 files would come back"
mutant "summary.txt not returned" 's/^out_files=(summary.txt /out_files=(report.txt /' "summary.txt is not among"
# shellcheck disable=SC2016 # the script's text, not an expansion
mutant "the sanitizer on every suite" 's/^\$(q "\$tests_bin") --runner=gpu --test-suite=ops:gpu/$(q "$tests_bin") --runner=gpu/' \
  "sanitizer: "
mutant "the train benchmark at batch 128" 's/--batch 256 --patch 128/--batch 128 --patch 128/' "is not dual-contrastive ResNet-50"
# The runner itself must run each step under timeout with the step's limit.
# shellcheck disable=SC2016 # the script's text, not an expansion
expect "the runner wraps each step in timeout" grep -q 'timeout -k "$grace" "$limit" bash -c "${cmds\[i\]}"' "$script"

exit $failed
