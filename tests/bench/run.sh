#!/usr/bin/env bash
# The benchmarks of DESIGN §7: the agent's full crawl against pg_dump --schema-only, a raw
# pg_attribute query and mariadb-dump --no-data on tests/bench/gen.py's synthetic schema, in one run.
#
#   bash tests/bench/run.sh [--tables N] [--runs K] [--pg-only | --mysql-only]
#
#   --tables N     tables in the synthetic schema (default 10000, about 20 columns each)
#   --runs K       timed rounds; figures are medians (default 5)
#   --pg-only      PostgreSQL only;  --mysql-only: MariaDB only
#
# Builds in build-bench (BUILD_DIR to change it), starts throwaway servers of its own with
# tests/lib/pgserver.sh and tests/lib/mariadb.sh (PostgreSQL with a lock table large enough for
# pg_dump to lock 10,000 tables), runs tests/bench/bench.py, prints "figure | budget | measured | verdict"
# and writes tests/bench/results.json. The servers are destroyed at exit, however it ends.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

build_dir=${BUILD_DIR:-build-bench}
tables=10000
runs=5
pg=1
my=1

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
ninja -C "$build_dir" >/dev/null

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
PROSPECTOR_BUILD="$repo/$build_dir" python3 tests/bench/bench.py "${args[@]}" --out tests/bench/results.json
