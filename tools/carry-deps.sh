#!/usr/bin/env bash
# Run on a Debian machine with the packages installed (tools/setup.sh): copies the header-only
# dependencies (doctest, CLI11, nlohmann/json, toml++) into ./third_party (git-ignored), so that a machine
# without apt, such as the GPU machine, can build rsd. The device tool carries the folder along.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p third_party
for dir in doctest CLI nlohmann toml++; do
  [ -d "/usr/include/$dir" ] || { echo "carry-deps: /usr/include/$dir missing: run tools/setup.sh first" >&2; exit 1; }
  rm -rf "third_party/$dir"
  cp -r "/usr/include/$dir" third_party/
done
echo "carry-deps: third_party/ holds $(ls third_party | tr '\n' ' ')"
# The shipped TerraMesh samples as shards, for the pretraining demo on a machine without GDAL.
if [ -x build/tools/rsd ]; then
  rm -rf third_party/samples-shards/terramind
  mkdir -p third_party/samples-shards
  ./build/tools/rsd pack data/samples/terramind-s1s2 third_party/samples-shards/terramind > /dev/null
  echo "carry-deps: packed data/samples/terramind-s1s2 into third_party/samples-shards/terramind"
else
  echo "carry-deps: no build/tools/rsd yet (run tools/setup.sh): the GPU pretraining demo will be skipped"
fi
