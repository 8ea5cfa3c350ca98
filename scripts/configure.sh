#!/usr/bin/env bash
# Configures one build folder with every option it depends on set explicitly, so that a folder
# another script configured (the demo builds without tests) never changes what this one builds.
# Usage: scripts/configure.sh demo|release|asan DIR
# (asan fuzzes each target for 5 s in ctest (longer runs: bench/README): the suite stays under 10 minutes on 2 cores)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
kind=$1 dir=$2
case "$kind" in
  demo)    cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF -DJF_SANITIZE=OFF -DJF_FUZZ=OFF -DJF_WERROR=OFF ;;
  release) cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON -DJF_SANITIZE=OFF -DJF_FUZZ=OFF -DJF_WERROR=ON ;;
  asan)    CC=clang CXX=clang++ cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=ON -DJF_SANITIZE=ON -DJF_FUZZ=ON -DJF_FUZZ_SECONDS=5 -DJF_WERROR=ON ;;
  *) echo "usage: scripts/configure.sh demo|release|asan DIR" >&2; exit 2 ;;
esac
