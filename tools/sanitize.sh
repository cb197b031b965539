#!/usr/bin/env bash
# Builds the CPU test suite with AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer in
# ./build-asan and runs it: any invalid access, leak or undefined behaviour fails the run.
# CI runs it after the main suite (tools/setup.sh must have installed the dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
# -O1 -g1: instrumented code at -O1 with line tables only compiles faster than RelWithDebInfo
# and still gives file:line in every report.
cmake -S . -B build-asan -G Ninja -DRSD_CUDA=OFF -DCMAKE_BUILD_TYPE=None -DRSD_BUILD_BENCHMARKS=OFF \
  -DCMAKE_CXX_FLAGS="-O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build build-asan -j "$(nproc)" --target rsd_tests
# The longest end-to-end cases (whole ResNet-50s through torchvision, probes over every EuroSAT
# chip) run un-instrumented in the main suite; here they would take most of CI's time while
# their code paths are exercised by the smaller cases of the same suites.
heavy="*compute torchvision's function*,eval linear and knn on EuroSAT*,embed: a dataset folder's embeddings*"
heavy="$heavy,eval seg on Sen1Floods11*,embed --dense: a GeoTIFF on the source*"
# The fault suite runs the instrumented rsd as a child; its kill -9 case trains a wide encoder.
heavy="$heavy,pretrain: kill -9 during a checkpoint write*"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-asan/tests/rsd_tests --force-colors=0 \
  --test-case-exclude="$heavy" | tail -3
