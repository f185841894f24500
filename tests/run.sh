#!/usr/bin/env bash
# The test command: installs what is missing, builds, starts throwaway database servers, runs every
# meson test and ends with one line, "N passed, N failed[, N skipped]". Exits non-zero when anything
# failed.
#
#   bash tests/run.sh [--require-live] [--no-deps] [-- MESON_TEST_ARGS…]
#
#   --require-live   a live suite that cannot reach its server fails instead of skipping
#                    (the default when CI=true)
#   --no-deps        do not run deploy/install-deps.sh
#   MESON_TEST_ARGS  passed to `meson test`, e.g. test names: -- live_pg_e2e test-diff
#
# Environment: BUILD_DIR (default build), TIMEOUT_MULTIPLIER (meson's, default 2).
#
# Servers: each tests/lib/<name>.sh listed in `services` below defines <name>_tests_up, which starts
# its server and exports the PROSPECTOR_TEST_* variables its suites read (or returns non-zero when it
# cannot), and <name>_tests_down. A new server kind (MariaDB: tests/lib/mariadb.sh) is one file and
# one word in that list.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

services=(pgserver mariadb)
build_dir=${BUILD_DIR:-build}
require_live=0
install_deps=1
meson_args=()

usage()
{
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case "$1" in
	--require-live) require_live=1 ;;
	--no-deps) install_deps=0 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; meson_args=("$@"); break ;;
	*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "${CI:-}" = "true" ] && require_live=1

say()
{
	printf '== %s\n' "$*"
}

# Runs install-deps.sh; it is idempotent and fast when nothing is missing, so only a missing package
# makes us reach for sudo.
run_install_deps()
{
	if [ "$(id -u)" -eq 0 ]; then
		bash deploy/install-deps.sh
	elif bash deploy/install-deps.sh 2>/dev/null; then
		:
	elif command -v sudo >/dev/null; then
		sudo bash deploy/install-deps.sh
	else
		bash deploy/install-deps.sh
	fi
}

# Reconfigures each time: tests/meson.build registers tests by which files exist.
build()
{
	local out
	if [ -f "$build_dir/meson-private/coredata.dat" ]; then
		out=$(meson setup --reconfigure "$build_dir" 2>&1) || { echo "$out"; return 1; }
	else
		rm -rf "$build_dir"
		out=$(meson setup "$build_dir" 2>&1) || { echo "$out"; return 1; }
	fi
	ninja -C "$build_dir"
}

# Service start/stop through the hooks described at the top.
started=()

services_up()
{
	local s
	for s in "${services[@]}"; do
		[ -f "tests/lib/$s.sh" ] || continue
		# shellcheck source=/dev/null
		source "tests/lib/$s.sh"
		declare -F "${s}_tests_up" >/dev/null || continue
		say "starting $s"
		if "${s}_tests_up"; then
			started+=("$s")
		elif [ "$require_live" = 1 ]; then
			echo "run.sh: $s did not start and live suites are required" >&2
			return 1
		else
			echo "run.sh: $s did not start; its live suites will skip" >&2
		fi
	done
}

services_down()
{
	local s
	for s in "${started[@]}"; do
		"${s}_tests_down" || true
	done
	started=()
}

# The suites note every password they hand out in $PROSPECTOR_SECRETS_LOG (tests/live/harness.py,
# record_secret); with the servers' own, none may appear in any output of any test. One more test
# in the summary; its result is printed here, never a password.
leak_check()
{
	python3 - "$PROSPECTOR_SECRETS_LOG" "$build_dir/meson-logs" <<-'EOF'
		import os, sys
		secrets = {l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8") if len(l.strip()) >= 6}
		for var in ("PROSPECTOR_TEST_PG_PASSWORD_FILE", "PROSPECTOR_TEST_MYSQL_PASSWORD_FILE"):
		    if os.path.exists(os.environ.get(var, "")):
		        secrets.add(open(os.environ[var], encoding="utf-8").readline().rstrip("\n"))
		found = []
		for root, _, files in os.walk(sys.argv[2]):
		    for name in files:
		        text = open(os.path.join(root, name), encoding="utf-8", errors="replace").read()
		        found += [(name, s[:3]) for s in secrets if s in text]
		if found:
		    print(f"leak check: FAILED: {len(found)} test passwords in the test logs: "
		          + ", ".join(f"{n} ({p}…)" for n, p in found[:10]))
		    sys.exit(1)
		print(f"leak check: none of the {len(secrets)} test passwords is in any test output")
	EOF
}

# One line from meson's testlog.json (one JSON object per test): meson tests, not TAP subtests, and
# the leak check ($1: 0 passed, 1 failed, empty: not run).
summary()
{
	local log="$build_dir/meson-logs/testlog.json"
	if [ ! -f "$log" ]; then
		echo "0 passed, 0 failed (no test log: $log)"
		return
	fi
	python3 - "$log" "${1:-}" <<-'EOF'
		import json, sys
		passed = failed = skipped = unreadable = 0
		if sys.argv[2] == "0":
		    passed += 1
		elif sys.argv[2]:
		    failed += 1
		for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
		    # NULs: another `meson test` in the same build dir rewrote the file under us.
		    line = line.replace("\0", "").strip()
		    if not line:
		        continue
		    try:
		        result = json.loads(line).get("result", "")
		    except ValueError:
		        unreadable += 1
		        continue
		    if result in ("OK", "EXPECTEDFAIL"):
		        passed += 1
		    elif result == "SKIP":
		        skipped += 1
		    else:  # FAIL ERROR TIMEOUT UNEXPECTEDPASS INTERRUPT …
		        failed += 1
		out = f"{passed} passed, {failed} failed"
		if skipped:
		    out += f", {skipped} skipped"
		if unreadable:
		    out += f" ({unreadable} unreadable lines in {sys.argv[1]})"
		print(out)
	EOF
}

# meson test runs in the background so that a signal is handled at once (bash runs traps only
# between foreground commands), and the servers always stop.
meson_pid=
cleanup()
{
	if [ -n "$meson_pid" ]; then
		kill -TERM "$meson_pid" 2>/dev/null || true
		wait "$meson_pid" 2>/dev/null || true
	fi
	services_down
	rm -f "$PROSPECTOR_SECRETS_LOG"
}
PROSPECTOR_SECRETS_LOG=$(mktemp "${TMPDIR:-/tmp}/prospector-test-secrets.XXXXXX")
export PROSPECTOR_SECRETS_LOG
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$install_deps" = 1 ]; then
	say "checking dependencies (deploy/install-deps.sh)"
	run_install_deps
fi
say "building in $build_dir"
if ! build; then
	echo "0 passed, 1 failed (the build failed)"
	exit 1
fi
if ! services_up; then
	echo "0 passed, 1 failed (a server the live suites need did not start)"
	exit 1
fi
[ "$require_live" = 1 ] && export PROSPECTOR_REQUIRE_LIVE=1

rm -f "$build_dir/meson-logs/testlog.json"
say "running tests"
rc=0
meson test -C "$build_dir" --print-errorlogs --timeout-multiplier "${TIMEOUT_MULTIPLIER:-2}" \
	"${meson_args[@]}" </dev/null &
meson_pid=$!
wait "$meson_pid" || rc=$?
meson_pid=
leak=0
leak_check || leak=1
services_down

line=$(summary "$leak") || line="0 passed, 1 failed (could not read the test log)"
echo "$line"
case "$line" in
*" 0 failed"*) ;;
*) [ "$rc" -ne 0 ] || rc=1 ;;
esac
exit "$rc"
