#!/usr/bin/env bash
# The README's example command: sets up this machine, builds Dragon, and runs its
# main program. Until the `dragon` launcher lands, that is dragon-info.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash ci/install-deps.sh
bash ci/setup-hugepages.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/bin/dragon-info "$@"
