#!/usr/bin/env bash
# Builds rsd (tools/setup.sh) and runs every test suite with ctest. On a machine without a GPU the
# CUDA parity suite reports as skipped, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
build_dir=${BUILD_DIR:-build}
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
