#!/usr/bin/env bash
# Builds the CPU test suite with AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer in
# ./build-asan and runs it: any invalid access, leak or undefined behaviour fails the run.
# CI runs it after the main suite (tools/setup.sh must have installed the dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DRSD_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRSD_BUILD_BENCHMARKS=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build build-asan -j "$(nproc)" --target rsd_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-asan/tests/rsd_tests --force-colors=0 | tail -3
