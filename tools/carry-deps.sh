#!/usr/bin/env bash
# Run on a Debian machine with the packages installed (tools/setup.sh): copies the header-only
# dependencies (doctest, CLI11, nlohmann/json, toml++) into ./third_party (git-ignored), so that a machine
# without apt, such as the GPU machine, can build rsd. The device tool carries the folder along
# (run's carry: ["third_party"]; see benchmarks/RESULTS.md, "GPU runs").
#   bash tools/carry-deps.sh                      packs the samples with build/tools/rsd
#   RSD_BIN=path/to/rsd bash tools/carry-deps.sh  with another build's rsd (a worktree without its own)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p third_party
for dir in doctest CLI nlohmann toml++; do
  [ -d "/usr/include/$dir" ] || { echo "carry-deps: /usr/include/$dir missing: run tools/setup.sh first" >&2; exit 1; }
  rm -rf "third_party/$dir"
  cp -r "/usr/include/$dir" third_party/
done
# The copy the device tool makes has no .git: tools/gpu-check.sh reports this commit instead.
git describe --always --dirty > third_party/commit.txt 2> /dev/null || echo unknown > third_party/commit.txt
echo "carry-deps: third_party/ holds $(find third_party -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | paste -sd ' ') (commit $(cat third_party/commit.txt))"
# The shipped TerraMesh samples as shards, for the pretraining demo on a machine without GDAL.
rsd=${RSD_BIN:-build/tools/rsd}
if [ -x "$rsd" ]; then
  rm -rf third_party/samples-shards/terramind
  mkdir -p third_party/samples-shards
  "$rsd" pack data/samples/terramind-s1s2 third_party/samples-shards/terramind > /dev/null
  echo "carry-deps: packed data/samples/terramind-s1s2 into third_party/samples-shards/terramind"
else
  echo "carry-deps: no $rsd yet (run tools/setup.sh, or set RSD_BIN): the GPU pretraining demo will be skipped"
fi
echo "carry-deps: third_party/ is $(du -sh third_party | cut -f1) (the device tool carries at most 64 MiB with the working tree)"
