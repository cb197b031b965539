#!/usr/bin/env bash
# Installs what rsd needs from Debian's packages (when missing; GDAL and OpenMPI are optional for
# the build but installed here, so the readers, CPU runs across processes and their tests run),
# then configures and builds it in ./build. CUDA code is compiled whenever nvcc is found (default
# /usr/local/cuda), so a machine without a GPU still builds and links the whole CUDA backend.
#   bash tools/setup.sh            # Release build in ./build
#   BUILD_DIR=b CMAKE_ARGS="-DRSD_CUDA=OFF" bash tools/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ pkg-config doctest-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev zlib1g-dev libopenblas-dev libgdal-dev
          libdnnl-dev libopenmpi-dev openmpi-bin
          python3-numpy python3-gdal python3-torchvision python3-pip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing packages ${missing[*]}: install them (as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

# The Python test client for checkpoints (safetensors is not packaged by Debian 12), installed for
# Debian's python3, which has numpy and torch.
if ! /usr/bin/python3 -c "import safetensors" 2>/dev/null; then
  echo "setup: installing safetensors for /usr/bin/python3 (pip)"
  /usr/bin/python3 -m pip install -q --break-system-packages --root-user-action=ignore safetensors
fi

build_dir=${BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRSD_WERROR=ON ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$(nproc)"
