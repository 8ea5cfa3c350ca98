#!/usr/bin/env bash
# The ctest fixture "demo": `jf demo` run once per build into BUILD_DIR/test-demo, which the
# command-line tests copy (tests/cli_lib.sh: demo_copy) instead of each running the demo again (it
# is the suite's largest repeated cost: ~60 CPU seconds in the sanitizer build).
# Usage: demo_fixture.sh BUILD_DIR
set -u
build=$(cd "$1" && pwd)
rm -rf "$build/test-demo" "$build/test-demo.part"
# a relative --dir, as the README's command gives it; the folder is moved afterwards (links in it
# must survive both)
(cd "$build" && ./cli/jf demo --dir test-demo.part --quiet) || { echo "FAIL demo runs"; exit 1; }
mv "$build/test-demo.part" "$build/test-demo" && echo "ok   demo runs"
