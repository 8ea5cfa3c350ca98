#!/usr/bin/env bash
# The test suite: install what is missing, build twice (gcc release; clang with ASan + UBSan and
# the libFuzzer targets) and run the whole ctest suite in both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJF_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DJF_SANITIZE=ON -DJF_FUZZ=ON -DJF_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build && ctest --output-on-failure -j"$jobs")
(cd build-asan && ctest --output-on-failure -j"$jobs")
