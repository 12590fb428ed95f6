#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need. Idempotent: when
# everything is present it only checks (no apt-get update), so it is quick.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  clang-14 libclang-rt-14-dev
  libpmix-dev libpmix-bin
  openmpi-bin
  libucx-dev ucx-utils
  libhwloc-dev hwloc
  pybind11-dev python3-pybind11
  libboost-program-options-dev
  libgtest-dev googletest
  lmod
  iproute2
  slurm-wlm munge      # tests/slurm: a real multi-node Slurm in network namespaces
  python3-pytest
  python3-matplotlib
  libpython3.11-testsuite
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
