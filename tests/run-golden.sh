#!/usr/bin/env bash
# Golden diff cases: for each tests/diff/NNN-name.old (sorted), runs `TEST_DIFF X.old X.new` and
# compares its output with X.out using diff -u. TAP output, one line per case; exit 1 on any
# mismatch. Outputs are regenerated deliberately, by hand, never by this script.
#
#   run-golden.sh TEST_DIFF_BINARY [CASE_DIR]
set -uo pipefail

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
	echo "usage: run-golden.sh TEST_DIFF_BINARY [CASE_DIR]" >&2
	exit 2
fi
bin=$1
dir=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/diff}
tmp=$(mktemp)
err=$(mktemp)
trap 'rm -f "$tmp" "$err"' EXIT

shopt -s nullglob
cases=("$dir"/*.old)
if [ ${#cases[@]} -eq 0 ]; then
	echo "1..0 # SKIP no cases in $dir"
	exit 77
fi

n=0
failed=0
for old in "${cases[@]}"; do
	base=${old%.old}
	name=$(basename "$base")
	n=$((n + 1))
	if [ ! -f "$base.new" ] || [ ! -f "$base.out" ]; then
		echo "not ok $n - $name: missing $name.new or $name.out"
		failed=$((failed + 1))
		continue
	fi
	"$bin" "$old" "$base.new" >"$tmp" 2>"$err"
	status=$?
	if [ $status -ne 0 ]; then
		echo "not ok $n - $name: $(basename "$bin") exited $status"
		sed 's/^/# /' "$err"
		failed=$((failed + 1))
	elif d=$(diff -u --label "$name.out (expected)" --label "$name (got)" "$base.out" "$tmp"); then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		printf '%s\n' "$d" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
echo "1..$n"
[ $failed -eq 0 ]
