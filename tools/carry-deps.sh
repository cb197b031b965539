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
