#!/usr/bin/env bash
# The README's example command: sets up this machine, builds Dragon, and runs
# examples/hello.py under `dragon` (extra arguments go to dragon, e.g. -N 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash ci/install-deps.sh
bash ci/setup-hugepages.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/bin/dragon "$@" examples/hello.py
