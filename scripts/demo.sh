#!/usr/bin/env bash
# The main job: install what is missing, build, and run `jf demo` on the embedded sample set.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/configure.sh demo build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/cli/jf demo --dir build/demo "$@"
