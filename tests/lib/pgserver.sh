#!/usr/bin/env bash
# Throwaway PostgreSQL servers for the tests, the quickstart and the benchmarks.
#
# A server lives entirely in one directory: data/ (the cluster), the unix socket, postgres.log and
# env (the KEY=VALUE lines below). It listens on that socket and on 127.0.0.1 at a free port; local
# socket connections are trusted, TCP ones need a password (scram-sha-256). The superuser is
# `postgres`, its password is in env. postgres refuses to run as root, so as root every server
# command runs as the user `postgres` and the directory belongs to it.
#
# Sourced, it defines functions (pgserver_up, pgserver_stop, pgserver_start, pgserver_destroy, …)
# and the tests/run.sh hooks pgserver_tests_up/down.
# Executed, it is a small command for other languages (the python live suites):
#
#   pgserver.sh up [DIR]          create DIR (or a temp dir), init and start; prints the env lines
#   pgserver.sh start DIR [--private]   start again (--private: socket only, no TCP)
#   pgserver.sh stop DIR          stop, keep the data
#   pgserver.sh destroy DIR       stop and remove DIR
#   pgserver.sh env DIR           print the env lines
#
# env lines: PGSERVER_DIR, PGSERVER_BINDIR, PGSERVER_PORT, PGSERVER_SOCKDIR, PGSERVER_HOST,
# PGSERVER_PASSWORD, PGSERVER_CONNINFO (libpq keyword conninfo of the superuser over the socket).

# The newest installed server: /usr/lib/postgresql/<major>/bin, or PGSERVER_BINDIR if set.
pgserver_bindir()
{
	if [ -n "${PGSERVER_BINDIR:-}" ]; then
		echo "$PGSERVER_BINDIR"
		return 0
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -n 1)
	if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
		echo "pgserver: no PostgreSQL server found in /usr/lib/postgresql/*/bin" >&2
		return 1
	fi
	echo "$d"
}

# Runs a command as the server's owner: ourselves, or `postgres` when we are root.
pgserver_as_owner()
{
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	elif command -v runuser >/dev/null; then
		runuser -u postgres -- "$@"
	else
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	fi
}

# A TCP port on 127.0.0.1 that nobody listens on right now.
pgserver_free_port()
{
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
		2>/dev/null || echo $((20000 + RANDOM % 30000))
}

pgserver_env()
{
	cat "$1/env"
}

# Loads DIR/env into PGSERVER_* shell variables.
pgserver_load()
{
	local line
	while IFS= read -r line; do
		[ -n "$line" ] && export "${line?}"
	done <"$1/env"
}

# initdb into DIR/data and write DIR/env. DIR must exist and be empty.
pgserver_init()
{
	local dir=$1 bindir password
	bindir=$(pgserver_bindir) || return 1
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "pgserver: running as root needs the user 'postgres' (package postgresql)" >&2
			return 1
		fi
		chown postgres: "$dir"
	fi
	chmod 700 "$dir"
	password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$password" | pgserver_as_owner tee "$dir/pwfile" >/dev/null
	# cd: as `postgres`, the caller's working directory may be unreadable.
	if ! (cd "$dir" && pgserver_as_owner "$bindir/initdb" -D "$dir/data" -U postgres \
		--pwfile="$dir/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1); then
		echo "pgserver: initdb failed:" >&2
		cat "$dir/initdb.log" >&2
		return 1
	fi
	pgserver_as_owner rm -f "$dir/pwfile"
	pgserver_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<-EOF

		# pgserver.sh: a throwaway server
		unix_socket_directories = '$dir'
		listen_addresses = '127.0.0.1'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		shared_buffers = 32MB
		max_connections = 50
		log_min_messages = warning
		log_line_prefix = '%m [%p] %q%u@%d '
	EOF
	pgserver_write_env "$dir" "$bindir" 0 "$password"
}

pgserver_write_env()
{
	local dir=$1 bindir=$2 port=$3 password=$4
	{
		echo "PGSERVER_DIR=$dir"
		echo "PGSERVER_BINDIR=$bindir"
		echo "PGSERVER_PORT=$port"
		echo "PGSERVER_SOCKDIR=$dir"
		echo "PGSERVER_HOST=127.0.0.1"
		echo "PGSERVER_PASSWORD=$password"
		echo "PGSERVER_CONNINFO=host=$dir port=$port user=postgres dbname=postgres"
	} >"$dir/env.tmp"
	chmod 600 "$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

# Starts the server in DIR. The first start picks a free port (retrying if another process takes
# it first); later starts reuse it, so clients can reconnect. --private: socket only, no TCP.
pgserver_start()
{
	local dir=$1 mode=${2:-} port opts try
	pgserver_load "$dir" || return 1
	opts=""
	[ "$mode" = "--private" ] && opts="-c listen_addresses=''"
	for try in 1 2 3 4 5; do
		port=$PGSERVER_PORT
		[ "$port" = 0 ] && port=$(pgserver_free_port)
		if (cd "$dir" && pgserver_as_owner "$PGSERVER_BINDIR/pg_ctl" -D "$dir/data" \
			-l "$dir/postgres.log" -o "-p $port $opts" -w -t 60 start >/dev/null); then
			pgserver_write_env "$dir" "$PGSERVER_BINDIR" "$port" "$PGSERVER_PASSWORD"
			pgserver_load "$dir"
			return 0
		fi
		# A fresh port taken since we looked is worth another try; anything else is not.
		[ "$PGSERVER_PORT" = 0 ] && tail -n 5 "$dir/postgres.log" 2>/dev/null | grep -q 'in use' ||
			break
	done
	echo "pgserver: could not start PostgreSQL in $dir; its log ends with:" >&2
	tail -n 20 "$dir/postgres.log" >&2 2>/dev/null
	return 1
}

pgserver_running()
{
	local bindir
	bindir=$(grep '^PGSERVER_BINDIR=' "$1/env" 2>/dev/null | cut -d= -f2-) || return 1
	[ -n "$bindir" ] && [ -d "$1/data" ] &&
		(cd "$1" && pgserver_as_owner "$bindir/pg_ctl" -D "$1/data" status >/dev/null 2>&1)
}

# Stops the server in DIR (fast shutdown: sessions are cut off) and keeps its data.
pgserver_stop()
{
	local dir=$1 bindir
	pgserver_running "$dir" || return 0
	bindir=$(grep '^PGSERVER_BINDIR=' "$dir/env" | cut -d= -f2-)
	(cd "$dir" && pgserver_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null) ||
		(cd "$dir" && pgserver_as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null)
}

# Stops the server and removes DIR. Refuses directories that pgserver_init did not make.
pgserver_destroy()
{
	local dir=$1
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	pgserver_stop "$dir" || true
	if [ -f "$dir/env" ] || [ -f "$dir/initdb.log" ]; then
		rm -rf "$dir"
	fi
}

# Creates (mktemp when DIR is empty), initialises and starts a server; loads PGSERVER_* variables.
pgserver_up()
{
	local dir=${1:-}
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/prospector-pg.XXXXXX") || return 1
	else
		mkdir -p "$dir" || return 1
	fi
	if ! pgserver_init "$dir" || ! pgserver_start "$dir"; then
		pgserver_destroy "$dir"
		return 1
	fi
}

# tests/run.sh hooks: one server for every suite; PROSPECTOR_TEST_PG is the socket superuser.
pgserver_tests_up()
{
	pgserver_up || return 1
	PGSERVER_TESTS_DIR=$PGSERVER_DIR
	export PROSPECTOR_TEST_PG="$PGSERVER_CONNINFO"
	export PROSPECTOR_TEST_PG_HOST="$PGSERVER_HOST"
	export PROSPECTOR_TEST_PG_PORT="$PGSERVER_PORT"
	export PROSPECTOR_TEST_PG_SOCKDIR="$PGSERVER_SOCKDIR"
	# The password goes to the suites in a 0600 file, never in the environment: meson writes the whole
	# environment into its test log, and no test password may appear in any output.
	(umask 077 && printf '%s\n' "$PGSERVER_PASSWORD" >"$PGSERVER_DIR/password")
	export PROSPECTOR_TEST_PG_PASSWORD_FILE="$PGSERVER_DIR/password"
	export -n PGSERVER_PASSWORD
	echo "PostgreSQL $("$PGSERVER_BINDIR/postgres" --version | awk '{print $3}') in $PGSERVER_DIR," \
		"port $PGSERVER_PORT"
}

pgserver_tests_down()
{
	[ -n "${PGSERVER_TESTS_DIR:-}" ] || return 0
	pgserver_destroy "$PGSERVER_TESTS_DIR"
	PGSERVER_TESTS_DIR=
}

pgserver_main()
{
	local cmd=${1:-} dir=${2:-}
	case "$cmd" in
	up)
		pgserver_up "$dir" && pgserver_env "$PGSERVER_DIR" ;;
	start)
		pgserver_start "$dir" "${3:-}" && pgserver_env "$dir" ;;
	stop)
		pgserver_stop "$dir" ;;
	destroy)
		pgserver_destroy "$dir" ;;
	env)
		pgserver_env "$dir" ;;
	*)
		echo "usage: pgserver.sh up [DIR] | start DIR [--private] | stop DIR | destroy DIR | env DIR" >&2
		return 2 ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	pgserver_main "$@"
fi
