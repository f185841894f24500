#!/usr/bin/env bash
# The benchmarks of DESIGN §7 on tests/bench/gen.py's synthetic schema (about 20 columns a table), in one run:
#   - the agent's full crawl + snapshot + delivery (--once) against pg_dump --schema-only and a raw
#     pg_attribute query, or mariadb-dump --no-data; the agent's peak RSS;
#   - statements per crawl: PostgreSQL's from its statement log, MariaDB's from its general log (one
#     crawl's session; a --dump may crawl MariaDB twice, the second settling the first);
#   - PostgreSQL's unchanged cycle: the agent as a daemon delivers the database in its first cycle;
#     its second, of the unchanged database, must write 0 history rows and send <= 1 KB (counted by
#     a TCP relay between agent and collector, heartbeats and keep-alive pings included); then the
#     daemon's idle RSS between cycles (VmRSS) and its peak (VmHWM);
#   - when built, the C benchmarks BUILD/tests/bench/bench-diff (diff of two N x 20-column
#     snapshots) and bench-collector (initial apply, change rows/s with durable commits, one table's
#     history among many rows), run with --tables N; n/a when not built.
#
#   bash tests/bench/run.sh [--tables N] [--runs K] [--pg-only | --mysql-only] [--out FILE]
#
#   --tables N     tables in the synthetic schema (default 10000, about 20 columns each)
#   --runs K       timed rounds; figures are medians (default 5)
#   --pg-only      PostgreSQL and the C benchmarks only;  --mysql-only: MariaDB only
#   --out FILE     where the figures go as JSON (default tests/bench/results.json)
#
# Builds in build-bench (BUILD_DIR to change it), starts throwaway servers of its own with
# tests/lib/pgserver.sh and tests/lib/mariadb.sh (PostgreSQL with a lock table large enough for
# pg_dump to lock 10,000 tables), runs tests/bench/bench.py (its --help says how each figure is
# measured), prints "figure | budget | measured | verdict" and writes the JSON figures.
# Budgets are set for 10,000 tables; a smaller run is only indicative. The servers are destroyed at
# exit, however it ends.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

build_dir=${BUILD_DIR:-build-bench}
tables=10000
runs=5
pg=1
my=1
out=tests/bench/results.json

usage()
{
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case "$1" in
	--tables) tables=$2; shift ;;
	--runs) runs=$2; shift ;;
	--pg-only) my=0 ;;
	--mysql-only) pg=0 ;;
	--out) out=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "tests/bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

say()
{
	printf '== %s\n' "$*"
}

# shellcheck source=tests/lib/pgserver.sh
source tests/lib/pgserver.sh
# shellcheck source=tests/lib/mariadb.sh
source tests/lib/mariadb.sh

pg_dir=
my_dir=
cleanup()
{
	[ -n "$pg_dir" ] && pgserver_destroy "$pg_dir"
	[ -n "$my_dir" ] && mariadb_destroy "$my_dir"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "building in $build_dir"
if [ -f "$build_dir/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$build_dir" >/dev/null
else
	meson setup --buildtype=release "$build_dir" >/dev/null
fi
# ninja reports compiler errors on stdout: keep it, and show it when the build fails.
build_log=$(mktemp)
if ! ninja -C "$build_dir" >"$build_log" 2>&1; then
	cat "$build_log" >&2
	rm -f "$build_log"
	echo "tests/bench/run.sh: the build in $build_dir failed" >&2
	exit 1
fi
rm -f "$build_log"

# pg_dump takes a lock on every table in one transaction: 10,000 tables need a lock table of more
# than the default 64 × max_connections entries.
pg_up()
{
	pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/prospector-bench-pg.XXXXXX")
	pgserver_init "$pg_dir" || return 1
	pgserver_as_owner tee -a "$pg_dir/data/postgresql.conf" >/dev/null <<-EOF
		# tests/bench/run.sh
		max_locks_per_transaction = $(((tables * 4) / 50 + 64))
		shared_buffers = 128MB
	EOF
	pgserver_start "$pg_dir" || return 1
	export BENCH_PG_CONNINFO="$PGSERVER_CONNINFO"
	echo "PostgreSQL $("$PGSERVER_BINDIR/postgres" --version | awk '{print $3}') in $pg_dir"
}

my_up()
{
	mariadb_up || return 1
	my_dir=$MARIADB_DIR
	export BENCH_MARIADB_CONNINFO="$MARIADB_CONNINFO"
	export BENCH_MARIADB_OPTION_FILE="$MARIADB_OPTION_FILE"
	export -n MARIADB_PASSWORD
	echo "MariaDB $(mariadb_client "$my_dir" -e 'SELECT VERSION()') in $my_dir"
}

args=(--tables "$tables" --runs "$runs")
if [ "$pg" = 1 ]; then
	say "starting PostgreSQL"
	pg_up || { echo "tests/bench/run.sh: PostgreSQL did not start" >&2; exit 1; }
else
	args+=(--mysql-only)
fi
if [ "$my" = 1 ]; then
	say "starting MariaDB"
	my_up || { echo "tests/bench/run.sh: MariaDB did not start" >&2; exit 1; }
else
	args+=(--pg-only)
fi
unset PGSERVER_PASSWORD

say "measuring ($tables tables, $runs runs)"
PROSPECTOR_BUILD="$repo/$build_dir" python3 tests/bench/bench.py "${args[@]}" --out "$out"
