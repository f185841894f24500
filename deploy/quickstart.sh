#!/usr/bin/env bash
# Prospector in two minutes, on this machine, touching nothing outside a temp dir:
#
#   bash deploy/quickstart.sh [--keep]
#
# installs what is missing (deploy/install-deps.sh), builds, starts a throwaway PostgreSQL holding a
# small government department database (deploy/demo-schema.sql: 人口, 户籍, 社保), starts the
# collector on a sqlite catalog, runs the agent once, and shows what the catalog now knows.
# The database server is stopped at the end; the catalog stays for you to explore. With --keep the
# server and the collector keep running, so you can change the schema and watch the history grow.
# Works as root (PostgreSQL then runs as the user postgres) and as a normal user.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
case "$build_dir" in /*) ;; *) build_dir=$repo/$build_dir ;; esac
keep=0
for arg in "$@"; do
	case "$arg" in
	--keep) keep=1 ;;
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

step "A throwaway PostgreSQL with the demo database"
pgserver_up
pg_dir=$PGSERVER_DIR
psql -X -q -d "$PGSERVER_CONNINFO" -c 'CREATE DATABASE demo_gov'
PGCLIENTENCODING=UTF8 psql -X -q -v ON_ERROR_STOP=1 -d "$PGSERVER_CONNINFO dbname=demo_gov" \
	-f deploy/demo-schema.sql
echo "PostgreSQL on port $PGSERVER_PORT (socket in $PGSERVER_SOCKDIR), database demo_gov loaded"

step "The collector"
port=$(pgserver_free_port)
cat >"$work/collector.conf" <<EOF
[collector]
listen = tcp://127.0.0.1:$port
database = $work/catalog.db
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

[source "hukou"]
driver = pg
conninfo = host=$PGSERVER_SOCKDIR port=$PGSERVER_PORT dbname=demo_gov user=prospector
interval = 10s
department = 市公安局人口管理处
system = 人口与社保信息系统
EOF
if ! timeout 120 "$agent" -c "$work/agent.conf" --once >"$work/agent-once.log" 2>&1; then
	echo "the agent did not deliver everything; its log:" >&2
	cat "$work/agent-once.log" >&2
	exit 1
fi
echo "crawled demo_gov and delivered the snapshot (config: $work/agent.conf)"

step "What the catalog knows"
show status
show catalog
show show hukou/demo_gov/renkou/person
show history --object 'hukou/demo_gov/renkou/person*'

step "Keep exploring"
cat <<EOF
The catalog is $work/catalog.db. Try:

  $cli --db $work/catalog.db catalog --all
  $cli --db $work/catalog.db show hukou/demo_gov/shebao/insurance
  $cli --db $work/catalog.db history --json
  $cli --db $work/catalog.db graph --format dot
EOF
if [ "$keep" = 1 ]; then
	$detach "$agent" -c "$work/agent.conf" >"$work/agent.log" 2>&1 &
	agent_pid=$!
	cat <<EOF

PostgreSQL, the collector (pid $collector_pid) and the agent (pid $agent_pid, every 10 s) keep running.
Change the schema and watch the history:

  psql "host=$PGSERVER_SOCKDIR port=$PGSERVER_PORT user=postgres dbname=demo_gov" \\
       -c "ALTER TABLE renkou.person ADD COLUMN phone varchar(20)"
  sleep 15; $cli --db $work/catalog.db history --since -5m

Stop everything with:

  kill $agent_pid $collector_pid; bash $repo/tests/lib/pgserver.sh destroy $pg_dir
EOF
else
	printf '\nThe demo PostgreSQL and the collector are stopped now; rerun with --keep to keep them.\n'
fi
