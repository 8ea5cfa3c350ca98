#!/usr/bin/env bash
# The test suite: install what is missing, build twice (gcc release; clang with ASan + UBSan and
# the libFuzzer targets) and run the whole ctest suite in both builds. Each folder is configured
# with all of its options (scripts/configure.sh), whatever ran in it before; ctest fails when it
# finds no tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
scripts/configure.sh release build >/dev/null
cmake --build build -j"$jobs"
scripts/configure.sh asan build-asan >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# one test more than cores in the release build: the Slurm and HTTP tests spend most of their time
# waiting on daemons and servers
(cd build && ctest --output-on-failure --no-tests=error -j"$((jobs + 1))")
(cd build-asan && ctest --output-on-failure --no-tests=error -j"$jobs")
