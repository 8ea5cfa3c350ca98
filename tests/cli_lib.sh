# Shared by the command-line test scripts (sourced): the binary, a scratch folder removed on exit,
# and the ok / bad / expect helpers that count failures.
build="$(cd "$1" && pwd)"
jf="$build/cli/jf"
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fails=$((fails+1)); }
expect() { # expect CODE NAME CMD...
  local want=$1 name=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"; local got=$?
  if [ "$got" = "$want" ]; then ok "$name"; else bad "$name (exit $got, wanted $want)"; sed 's/^/    /' "$work/err" | head -5; fi
}
demo_copy() { # demo_copy DEST: the demo's output (the ctest fixture "demo", tests/demo_fixture.sh)
  [ -d "$build/test-demo" ] || "$src/tests/demo_fixture.sh" "$build" >/dev/null || return 1
  cp -a "$build/test-demo" "$1"
}
