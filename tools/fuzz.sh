#!/usr/bin/env bash
# Runs rsd's fuzz targets (fuzz/, docs/fuzzing.md) with libFuzzer, AddressSanitizer (leaks
# included) and UBSan, each for a given time, one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
usage: bash tools/fuzz.sh [options] [SECONDS] [TARGET...]

Builds the libFuzzer binaries in build-fuzz/ with clang (configured on first use: -DRSD_FUZZ=ON,
-fsanitize=fuzzer,address,undefined, CUDA off), runs each TARGET for SECONDS (default 600) on its
corpus fuzz/corpus/TARGET/, merges the inputs that found new coverage back into that corpus
(minimized: libFuzzer -merge=1 -use_counters=0 into a fresh folder, keeping one input per new
edge; files named finding-* are always kept: they are the inputs of past findings) and prints a
table of execs, exec/s, coverage, corpus size and findings per target. Exits 1 when any target
had a finding.

TARGET: npy safetensors checkpoint_sidecar shard_file shard_header dataset_json csv_manifest
        config_toml (the default: all of them, from fuzz/fuzz_*.cpp)

options:
  --build-only   configure and build, run nothing
  --seed         first merge the seed inputs written by rsd_fuzz_seeds into each corpus
  --keep-going   do not stop a target at its first finding (libFuzzer -fork=1 -ignore_crashes=1
                 -ignore_timeouts=1 -ignore_ooms=1); every finding is still saved
  --no-merge     leave fuzz/corpus/ as it is
  -h, --help     this text

Limits per input: -timeout=10 (s), -rss_limit_mb=2048, -malloc_limit_mb=1024; ASAN_OPTIONS
detect_leaks=1. A hang, a leak, an allocation above the limit, a sanitizer report or an exception
other than rsd::Error is a finding. Findings (the inputs) go to build-fuzz/findings/TARGET/, logs to
build-fuzz/fuzz-logs/TARGET.log; replay one with
  ./build-fuzz/fuzz/fuzz_TARGET FILE            (sanitized) or
  ./build/fuzz/rsd_fuzz_replay --target TARGET FILE   (the normal build).

Environment: BUILD_DIR (build-fuzz), CC/CXX (clang/clang++), FUZZ_FLAGS (more libFuzzer flags).
EOF
}

seconds=600
targets=()
build_only=0
seed=0
keep_going=0
merge=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --build-only) build_only=1 ;;
    --seed) seed=1 ;;
    --keep-going) keep_going=1 ;;
    --no-merge) merge=0 ;;
    -*) echo "tools/fuzz.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
    *)
      if [[ ${#targets[@]} -eq 0 && "$1" =~ ^[0-9]+$ ]]; then
        seconds=$1
      else
        targets+=("$1")
      fi ;;
  esac
  shift
done

all_targets=()
for f in fuzz/fuzz_*.cpp; do
  name=$(basename "$f" .cpp)
  name=${name#fuzz_}
  [[ $name == support ]] && continue
  all_targets+=("$name")
done
if [[ ${#targets[@]} -eq 0 ]]; then targets=("${all_targets[@]}"); fi
for t in "${targets[@]}"; do
  if [[ ! -f fuzz/fuzz_$t.cpp ]]; then
    echo "tools/fuzz.sh: no target '$t' (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

build=${BUILD_DIR:-build-fuzz}
export CC=${CC:-clang} CXX=${CXX:-clang++}
if [[ ! -f $build/build.ninja ]]; then
  echo "configuring $build with $CXX (libFuzzer, ASan, UBSan; CUDA off)"
  cmake -S . -B "$build" -G Ninja -DRSD_FUZZ=ON -DRSD_CUDA=OFF -DRSD_MPI=OFF -DRSD_BUILD_TESTS=OFF \
    -DRSD_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_CXX_FLAGS="-O1 -g -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
fi
build_targets=(rsd_fuzz_seeds)
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
nice -n 10 cmake --build "$build" -j "$(nproc)" --target "${build_targets[@]}"
[[ $build_only == 1 ]] && exit 0

logs=$build/fuzz-logs
findings_root=$build/findings
mkdir -p "$logs" "$findings_root"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/rsd-fuzz.XXXXXX")
tmpfs=$(mktemp -d /dev/shm/rsd-fuzz.XXXXXX 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/rsd-fuzz-files.XXXXXX")
trap 'rm -rf "$scratch" "$tmpfs"' EXIT
export RSD_FUZZ_TMP=$tmpfs
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:handle_abort=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
limits=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024)

if [[ $seed == 1 ]]; then
  "$build/fuzz/rsd_fuzz_seeds" "$scratch/seeds" "$PWD" > /dev/null
fi

rows=()
failed=0
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  corpus=fuzz/corpus/$t
  work=$scratch/work-$t
  findings=$findings_root/$t
  mkdir -p "$corpus" "$work" "$findings"
  if [[ $seed == 1 && -d $scratch/seeds/$t ]]; then cp "$scratch/seeds/$t"/* "$work"/; fi
  before=$(find "$findings" -type f | wc -l)
  log=$logs/$t.log
  # Inputs up to 4 KB (8 KB for whole shards, which hold records): larger saved inputs, such as the
  # deep-nesting findings, are read truncated instead of raising the limit to their size.
  max_len=4096
  [[ $t == shard_file ]] && max_len=8192
  flags=("${limits[@]}" -max_len=$max_len -max_total_time="$seconds" -print_final_stats=1
         -artifact_prefix="$findings/")
  dict=$scratch/$t.dict
  case $t in
    npy) cat fuzz/dicts/npy.dict ;;
    safetensors) cat fuzz/dicts/json.dict fuzz/dicts/safetensors.dict ;;
    checkpoint_sidecar) cat fuzz/dicts/json.dict fuzz/dicts/sidecar.dict ;;
    shard_*|dataset_json) cat fuzz/dicts/json.dict fuzz/dicts/shard.dict ;;
    csv_manifest) cat fuzz/dicts/csv.dict ;;
    config_toml) cat fuzz/dicts/toml.dict ;;
    *) true ;;
  esac > "$dict"
  [[ -s $dict ]] && flags+=(-dict="$dict")
  if [[ $keep_going == 1 ]]; then flags+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); fi
  # shellcheck disable=SC2206
  flags+=(${FUZZ_FLAGS:-})
  echo "fuzzing $t for $seconds s (log: $log)"
  start=$(date +%s)
  rc=0
  nice -n 19 "$bin" "${flags[@]}" "$work" "$corpus" > "$log" 2>&1 || rc=$?
  elapsed=$(( $(date +%s) - start ))

  if [[ $merge == 1 ]]; then
    merged=$scratch/merged-$t
    mkdir -p "$merged"
    # Edges only (-use_counters=0): a few hundred small files per target instead of thousands.
    if nice -n 19 "$bin" "${limits[@]}" -merge=1 -use_counters=0 -artifact_prefix="$findings/" "$merged" "$corpus" "$work" \
        >> "$log" 2>&1; then
      find "$corpus" -type f ! -name 'finding-*' -delete  # the inputs of past findings stay
      cp "$merged"/* "$corpus"/ 2>/dev/null || true
    else
      echo "tools/fuzz.sh: merging $t's corpus failed (see $log); the corpus is unchanged" >&2
      [[ $rc == 0 ]] && rc=1
    fi
  fi

  # Coverage of the saved corpus, measured the same way whatever the mode (-fork=1 counts otherwise).
  cov=$(nice -n 19 "$bin" "${limits[@]}" -runs=0 "$corpus" 2>&1 | grep -oE 'INITED cov: [0-9]+ ft: [0-9]+' |
        awk '{print $3 "/" $5}' || true)
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
  if [[ -z $execs ]]; then  # fork mode prints no final stats: its last "#N: cov:" status line (not the merge's)
    execs=$(grep -oE '^#[0-9]+: cov:' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  fi
  execs=${execs:-0}
  rate=$(( elapsed > 0 ? execs / elapsed : execs ))
  size=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sk "$corpus" | awk '{print $1}')
  after=$(find "$findings" -type f | wc -l)
  new_findings=$(( after - before ))
  if [[ $rc != 0 && $new_findings == 0 ]]; then new_findings=1; fi
  [[ $new_findings != 0 ]] && failed=1
  rows+=("$(printf '%-20s %7ss %12s %8s %13s %7s %7sK %8s' "$t" "$elapsed" "$execs" "$rate" "${cov:--}" "$size" "$bytes" "$new_findings")")
done

echo
echo "rsd fuzzing, $(date -u +%Y-%m-%dT%H:%MZ), commit ${RSD_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')}"
printf '%-20s %8s %12s %8s %13s %7s %8s %8s\n' target time execs exec/s cov/ft corpus size findings
echo "(cov/ft: libFuzzer's edges and features covered by the saved corpus, fuzz/corpus/TARGET)"
for r in "${rows[@]}"; do echo "$r"; done
if [[ $failed == 1 ]]; then
  echo "FINDINGS: see $findings_root/<target>/ and the logs in $logs/" >&2
  exit 1
fi
