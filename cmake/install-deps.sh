#!/usr/bin/env bash
# Installs the Debian packages primsel's build, tests and benchmarks need — only those missing, so re-running is
# fast. Usage: bash cmake/install-deps.sh [extra packages...]
set -euo pipefail
pkgs=(g++ cmake make libeigen3-dev libxsimd-dev xtl-dev catch2 libbenchmark-dev g++-aarch64-linux-gnu python3-jsonschema
      python3-onnx clang-14 libclang-rt-14-dev gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
      qemu-user "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
