#!/usr/bin/env bash
# Prospector in two minutes, on this machine, touching nothing outside a temp dir:
#
#   bash deploy/quickstart.sh [--keep] [--pg]
#
# installs what is missing (deploy/install-deps.sh), builds, creates a small government department
# database (人口, 户籍, 社保) as an SQLite file (deploy/demo-sqlite.sql) that the agent reads through
# the SQLite ODBC driver, so no database server is needed; starts the collector on a sqlite catalog,
# runs the agent once, and shows what the catalog now knows. The collector is stopped at the end; the
# catalog stays for you to explore. With --keep the collector and the agent keep running, so you can
# change the schema and watch the history grow.
#
#   --pg     the same demo in a throwaway PostgreSQL (deploy/demo-schema.sql: two schemas, Chinese
#            comments, a sequence), read by the pg driver; stopped at the end unless --keep.
#
# Works as root (PostgreSQL then runs as the user postgres) and as a normal user.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
case "$build_dir" in /*) ;; *) build_dir=$repo/$build_dir ;; esac
keep=0
demo=sqlite
for arg in "$@"; do
	case "$arg" in
	--keep) keep=1 ;;
	--pg) demo=pg ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "quickstart: unknown option $arg (try --help)" >&2; exit 2 ;;
	esac
done

# shellcheck source=../tests/lib/pgserver.sh
source tests/lib/pgserver.sh

bold=
plain=
if [ -t 1 ]; then
	bold=$(printf '\033[1m')
	plain=$(printf '\033[0m')
fi

step()
{
	printf '\n%s== %s%s\n' "$bold" "$*" "$plain"
}

# Prints the command as one would type it (patterns quoted), then runs it.
show()
{
	local arg line="prospector --db $work/catalog.db"
	for arg in "$@"; do
		case "$arg" in *[*?]*) line+=" '$arg'" ;; *) line+=" $arg" ;; esac
	done
	printf '\n$ %s\n' "$line"
	"$cli" --db "$work/catalog.db" "$@"
}

pg_dir=
collector_pid=
work=
cleanup()
{
	local rc=$?
	if [ "$keep" = 1 ] && [ "$rc" = 0 ]; then
		return
	fi
	if [ -n "$collector_pid" ]; then
		kill "$collector_pid" 2>/dev/null || true
		wait "$collector_pid" 2>/dev/null || true
	fi
	if [ -n "$pg_dir" ]; then
		pgserver_destroy "$pg_dir" || true
	fi
	if [ "$rc" != 0 ] && [ -n "$work" ]; then
		echo "quickstart failed; logs are in $work" >&2
		tail -n 20 "$work"/*.log >&2 2>/dev/null || true
	fi
}
trap cleanup EXIT

# The demo database, loaded. Sets source_conf (the agent's [source] lines), object (a table to
# show), examples (more commands to try), change_hint and stop_extra (for --keep).
demo_sqlite()
{
	step "The demo database: an SQLite file, read through the SQLite ODBC driver"
	if ! odbcinst -q -d 2>/dev/null | grep -qx '\[SQLite3\]'; then
		echo "the SQLite3 ODBC driver is not registered with unixODBC (Debian package libsqliteodbc)" >&2
		exit 1
	fi
	sqlite3 "$work/demo.db" <deploy/demo-sqlite.sql
	echo "created $work/demo.db from deploy/demo-sqlite.sql"
	source_conf="driver = odbc
conninfo = Driver=SQLite3;Database=$work/demo.db"
	object=hukou/def/main/person
	examples="  $cli --db $work/catalog.db show hukou/def/main/insurance
  $cli --db $work/catalog.db show hukou/def/main/参保人员"
	change_hint="  sqlite3 -cmd '.timeout 5000' $work/demo.db \"ALTER TABLE person ADD COLUMN phone varchar(20)\""
	stop_extra=
}

demo_pg()
{
	step "A throwaway PostgreSQL with the demo database"
	pgserver_up
	pg_dir=$PGSERVER_DIR
	psql -X -q -d "$PGSERVER_CONNINFO" -c 'CREATE DATABASE demo_gov'
	PGCLIENTENCODING=UTF8 psql -X -q -v ON_ERROR_STOP=1 -d "$PGSERVER_CONNINFO dbname=demo_gov" \
		-f deploy/demo-schema.sql
	echo "PostgreSQL on port $PGSERVER_PORT (socket in $PGSERVER_SOCKDIR), database demo_gov loaded"
	source_conf="driver = pg
conninfo = host=$PGSERVER_SOCKDIR port=$PGSERVER_PORT dbname=demo_gov user=prospector"
	object=hukou/demo_gov/renkou/person
	examples="  $cli --db $work/catalog.db show hukou/demo_gov/shebao/insurance"
	change_hint="  psql \"host=$PGSERVER_SOCKDIR port=$PGSERVER_PORT user=postgres dbname=demo_gov\" \\
       -c \"ALTER TABLE renkou.person ADD COLUMN phone varchar(20)\""
	stop_extra="; bash $repo/tests/lib/pgserver.sh destroy $pg_dir"
}

step "Dependencies"
if [ "$(id -u)" -eq 0 ]; then
	bash deploy/install-deps.sh
elif ! bash deploy/install-deps.sh 2>/dev/null; then
	if command -v sudo >/dev/null; then sudo bash deploy/install-deps.sh; else bash deploy/install-deps.sh; fi
fi
echo "all installed"

step "Build ($build_dir)"
[ -f "$build_dir/meson-private/coredata.dat" ] || meson setup "$build_dir" >/dev/null
ninja -C "$build_dir" >/dev/null
agent=$build_dir/agent/prospector-agent
collector=$build_dir/collector/prospector-collector
cli=$build_dir/collector/prospector
echo "built $agent, $collector, $cli"

work=$(mktemp -d "${TMPDIR:-/tmp}/prospector-quickstart.XXXXXX")
detach=
[ "$keep" = 1 ] && command -v setsid >/dev/null && detach=setsid

"demo_$demo"

step "Keys"
# Every connection is CURVE: the collector has a key pair, the agent its own, enrolled at the
# collector before it connects.
"$cli" keygen "$work/collector" --comment collector >/dev/null
"$cli" keygen "$work/agent" --comment quickstart-agent >/dev/null
"$cli" --db "$work/catalog.db" enroll quickstart-agent "$work/agent.pub" --department 市公安局人口管理处
echo "collector key $work/collector.key, agent key $work/agent.key (both 0600)"

step "The collector"
port=$(pgserver_free_port)
cat >"$work/collector.conf" <<EOF
[collector]
listen = tcp://127.0.0.1:$port
database = $work/catalog.db
curve_secret_key = $work/collector.key
EOF
# setsid: with --keep the daemons outlive this script and its terminal.
$detach "$collector" -c "$work/collector.conf" >"$work/collector.log" 2>&1 &
collector_pid=$!
echo "listening on tcp://127.0.0.1:$port, catalog $work/catalog.db (pid $collector_pid)"

step "The agent, once"
mkdir -p "$work/state"
cat >"$work/agent.conf" <<EOF
[agent]
id = quickstart-agent
collector = tcp://127.0.0.1:$port
state_dir = $work/state
heartbeat = 5s
curve_secret_key = $work/agent.key
collector_public_key = $work/collector.pub

[source "hukou"]
$source_conf
interval = 10s
department = 市公安局人口管理处
system = 人口与社保信息系统
EOF
if ! timeout 120 "$agent" -c "$work/agent.conf" --once >"$work/agent-once.log" 2>&1; then
	echo "the agent did not deliver everything; its log:" >&2
	cat "$work/agent-once.log" >&2
	exit 1
fi
echo "crawled the demo database and delivered the snapshot (config: $work/agent.conf)"

step "What the catalog knows"
show status
show catalog
show show "$object"
show history --object "$object*"

step "Keep exploring"
cat <<EOF
The catalog is $work/catalog.db. Try:

  $cli --db $work/catalog.db catalog --all
$examples
  $cli --db $work/catalog.db history --json
  $cli --db $work/catalog.db graph --format dot
EOF
if [ "$keep" = 1 ]; then
	$detach "$agent" -c "$work/agent.conf" >"$work/agent.log" 2>&1 &
	agent_pid=$!
	cat <<EOF

The collector (pid $collector_pid) and the agent (pid $agent_pid, every 10 s) keep running.
Change the schema and watch the history:

$change_hint
  sleep 15; $cli --db $work/catalog.db history --limit 5

Stop everything with:

  kill $agent_pid $collector_pid$stop_extra
EOF
else
	if [ "$demo" = pg ]; then
		printf '\nThe demo PostgreSQL and the collector are stopped now; rerun with --keep to keep them.\n'
	else
		printf '\nThe collector is stopped now; rerun with --keep to keep it and the agent running.\n'
	fi
fi
