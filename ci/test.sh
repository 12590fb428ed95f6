#!/usr/bin/env bash
# The README's test command: sets up this machine (packages, huge pages), builds
# everything, and runs every test: GoogleTest through CTest (including the
# conformance suites), pytest, the same C++ tests under ASan+UBSan, the tcp
# transport's fuzzer (ci/fuzz.sh, 60 s), and a clang-format check. Runs every
# step even after a failure; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)
failed=()

step() {
  local name=$1
  shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
}

step "install dependencies" bash ci/install-deps.sh || exit 1
((${#failed[@]} == 0)) || { echo "cannot go on without dependencies"; exit 1; }
step "reserve huge pages" bash ci/setup-hugepages.sh

# The CPythons the Python package is built and tested for (tests/python/
# test_python_versions.py runs a job under each): those of these versions this
# machine has, with their headers. 3.11 first: the conformance suites run on it.
python_for() {
  local v=$1 exe
  for exe in "$(command -v "python$v" 2>/dev/null)" \
      $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" 2>/dev/null | sort -rV); do
    [[ -n $exe ]] || continue
    exe=$("$exe" -c 'import os, sys, sysconfig
inc = sysconfig.get_paths()["include"]
print(sys.executable if os.path.exists(os.path.join(inc, "Python.h")) else "")' 2>/dev/null) || continue
    [[ -n $exe ]] && { echo "$exe"; return 0; }
  done
  return 1
}
pythons=()
for v in 3.11 3.9 3.12 3.13; do
  if exe=$(python_for "$v"); then pythons+=("$exe"); else echo "CPython $v (with headers) not found: not built for"; fi
done
pythons_arg=$(IFS=';'; echo "${pythons[*]}")

step "configure" cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DDRAGON_PYTHONS=$pythons_arg"
step "build" cmake --build build -j"$jobs"
step "C++ tests (ctest)" ctest --test-dir build --output-on-failure --timeout 600
step "Python tests (pytest)" env DRAGON_BUILD_DIR="$PWD/build" /usr/bin/python3 -m pytest -q tests/python

step "configure ASan+UBSan" cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDRAGON_SANITIZE=ON \
  -DDRAGON_BUILD_BENCH=OFF
step "build ASan+UBSan" cmake --build build-asan -j"$jobs"
step "C++ tests under ASan+UBSan" env ASAN_OPTIONS=detect_leaks=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 900

step "fuzz the tcp transport's frames and handshake (60 s)" env FUZZ_SECONDS=60 bash ci/fuzz.sh

step "clang-format" bash ci/check-format.sh

if ((${#failed[@]})); then
  echo "test.sh: failed steps: ${failed[*]}"
  exit 1
fi
echo "test.sh: every step passed"
