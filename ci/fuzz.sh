#!/usr/bin/env bash
# Builds the tcp transport's frame/handshake fuzzer with clang (libFuzzer + ASan +
# UBSan) in its own build tree, build-fuzz/, and runs it for a bounded time over a
# copy of the checked-in seed corpus. Exits non-zero on any crash, leak or UB report.
#   FUZZ_SECONDS (default 60)   how long to fuzz
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${FUZZ_SECONDS:-60}
cxx=$(command -v clang++-14 || command -v clang++ || true)
if [[ -z $cxx ]]; then
  echo "fuzz.sh: clang++ not found: install clang (ci/install-deps.sh does)" >&2
  exit 1
fi
out=build-fuzz
mkdir -p "$out"
src=plugins/transport/tcp
"$cxx" -std=c++20 -g -O1 -Wall -Wextra -Werror \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
  -I"$src" -Iframework \
  tests/fuzz/tcp_frames/tcp_frames_fuzzer.cpp "$src/tcp_wire.cpp" "$src/tcp_handshake.cpp" \
  "$src/tcp_address.cpp" framework/core/hmac_sha256.cpp \
  -o "$out/tcp_frames_fuzzer"
# Fuzz a scratch copy: the checked-in seeds stay small and reviewed.
work="$out/tcp_frames_corpus"
rm -rf "$work"
mkdir -p "$work"
cp tests/fuzz/tcp_frames/corpus/* "$work/"
echo "fuzz.sh: running tcp_frames_fuzzer for ${seconds} s"
"$out/tcp_frames_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" "$work"
echo "fuzz.sh: no crash in ${seconds} s"
