#!/usr/bin/env bash
# The README's two commands share build/: the demo configures it without tests, the test command
# must still find the whole suite there. Configures one folder as the demo does, then as the
# tests do, and counts the tests ctest sees (it once saw none and exited 0).
# Usage: scripts_configure.sh SOURCE_DIR
set -u
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$src/scripts/configure.sh" demo "$work/b" >/dev/null || { echo "FAIL demo configure"; exit 1; }
[ "$(sed -n 's/^BUILD_TESTING:BOOL=//p' "$work/b/CMakeCache.txt")" = OFF ] || { echo "FAIL demo build has tests on"; exit 1; }
"$src/scripts/configure.sh" release "$work/b" >/dev/null || { echo "FAIL release configure"; exit 1; }
n=$(cd "$work/b" && ctest -N | sed -n 's/^Total Tests: //p')
echo "tests found after demo then test configure: ${n:-0}"
[ "${n:-0}" -ge 70 ] || { echo "FAIL expected the whole suite (>= 70 tests)"; exit 1; }
grep -q -- '--no-tests=error' "$src/scripts/test.sh" || { echo "FAIL scripts/test.sh does not make an empty suite an error"; exit 1; }
echo ok
