#!/usr/bin/env bash
# ODBC helpers for the tests and the quickstart: which drivers unixODBC knows, private data source
# files, and connection strings for the throwaway servers of pgserver.sh and mariadb.sh.
#
# unixODBC reads drivers from $ODBCSYSINI/odbcinst.ini (default /etc/odbcinst.ini) and data sources
# from $ODBCSYSINI/odbc.ini and $ODBCINI (default ~/.odbc.ini). A test that needs a data source of
# its own writes it to a private odbc.ini and points ODBCINI at it; one that needs a driver entry of
# its own copies the system odbcinst.ini into a private directory and points ODBCSYSINI there.
# unixODBC caches the driver list it read first, so either variable must be set before the process
# opens its first ODBC connection.
#
# Sourced, it defines the functions below. Executed, it is a small command for other languages:
#
#   odbc.sh drivers                      the installed driver names, one a line
#   odbc.sh check                        exit 0 when the drivers the tests use are all installed
#   odbc.sh dsn FILE NAME KEY=VALUE…     append a data source to FILE (an odbc.ini)
#   odbc.sh sysini DIR [NAME LIBRARY]…   DIR/odbcinst.ini: the system's drivers plus these
#   odbc.sh conninfo pg|mariadb|sqlite [DB]   a connection string from the PROSPECTOR_TEST_* env
#
# Driver names as Debian 12 registers them (odbc-postgresql, odbc-mariadb, libsqliteodbc).
ODBC_PG_DRIVER=${ODBC_PG_DRIVER:-PostgreSQL Unicode}
ODBC_MARIADB_DRIVER=${ODBC_MARIADB_DRIVER:-MariaDB Unicode}
ODBC_SQLITE_DRIVER=${ODBC_SQLITE_DRIVER:-SQLite3}

# The odbcinst.ini unixODBC reads now.
odbc_sysini_file()
{
	if [ -n "${ODBCSYSINI:-}" ]; then
		echo "$ODBCSYSINI/odbcinst.ini"
	else
		odbcinst -j 2>/dev/null | sed -n 's/^DRIVERS\.*: //p' | head -n 1
	fi
}

odbc_drivers()
{
	odbcinst -q -d 2>/dev/null | sed -n 's/^\[\(.*\)\]$/\1/p'
}

odbc_driver_installed()
{
	odbc_drivers | grep -Fxq -- "$1"
}

# Non-zero, naming what is missing, unless every driver the tests use is installed.
odbc_check()
{
	local d missing=0
	if ! command -v odbcinst >/dev/null; then
		echo "odbc: odbcinst not found (package odbcinst)" >&2
		return 1
	fi
	for d in "$ODBC_PG_DRIVER" "$ODBC_MARIADB_DRIVER" "$ODBC_SQLITE_DRIVER"; do
		if ! odbc_driver_installed "$d"; then
			echo "odbc: driver '$d' is not installed" >&2
			missing=1
		fi
	done
	return "$missing"
}

# odbc_dsn_add FILE NAME KEY=VALUE… appends one data source section.
odbc_dsn_add()
{
	local file=$1 name=$2 kv
	shift 2
	{
		printf '[%s]\n' "$name"
		for kv in "$@"; do
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
		done
		printf '\n'
	} >>"$file"
	chmod 600 "$file"
}

# odbc_sysini DIR [NAME LIBRARY]… writes DIR/odbcinst.ini (the current drivers plus these) and
# exports ODBCSYSINI=DIR.
odbc_sysini()
{
	local dir=$1 from
	shift
	mkdir -p "$dir" || return 1
	from=$(odbc_sysini_file)
	if [ -n "$from" ] && [ -r "$from" ]; then
		cp "$from" "$dir/odbcinst.ini"
	else
		: >"$dir/odbcinst.ini"
	fi
	while [ $# -ge 2 ]; do
		printf '\n[%s]\nDriver = %s\n' "$1" "$2" >>"$dir/odbcinst.ini"
		shift 2
	done
	export ODBCSYSINI=$dir
}

# Connection strings for the servers tests/run.sh starts (PROSPECTOR_TEST_PG_*, _MYSQL_*).
odbc_conninfo_pg()
{
	local db=${1:-postgres}
	[ -n "${PROSPECTOR_TEST_PG_PORT:-}" ] && [ -r "${PROSPECTOR_TEST_PG_PASSWORD_FILE:-}" ] || return 1
	printf 'Driver={%s};Server=%s;Port=%s;Database=%s;Uid=postgres;Pwd=%s;\n' "$ODBC_PG_DRIVER" \
		"${PROSPECTOR_TEST_PG_HOST:-127.0.0.1}" "$PROSPECTOR_TEST_PG_PORT" "$db" \
		"$(cat "$PROSPECTOR_TEST_PG_PASSWORD_FILE")"
}

odbc_conninfo_mariadb()
{
	local db=${1:-} where
	[ -r "${PROSPECTOR_TEST_MYSQL_PASSWORD_FILE:-}" ] || return 1
	if [ -n "${PROSPECTOR_TEST_MYSQL_PORT:-}" ]; then
		where="Server=${PROSPECTOR_TEST_MYSQL_HOST:-127.0.0.1};Port=$PROSPECTOR_TEST_MYSQL_PORT"
	elif [ -n "${PROSPECTOR_TEST_MYSQL_SOCKET:-}" ]; then
		where="Socket=$PROSPECTOR_TEST_MYSQL_SOCKET"
	else
		return 1
	fi
	printf 'Driver={%s};%s;Uid=%s;Pwd=%s;%s\n' "$ODBC_MARIADB_DRIVER" "$where" \
		"${PROSPECTOR_TEST_MYSQL_USER:-root}" "$(cat "$PROSPECTOR_TEST_MYSQL_PASSWORD_FILE")" "${db:+Database=$db;}"
}

odbc_conninfo_sqlite()
{
	[ -n "${1:-}" ] || return 1
	printf 'Driver=%s;Database=%s;\n' "$ODBC_SQLITE_DRIVER" "$1"
}

odbc_main()
{
	local cmd=${1:-}
	shift || true
	case "$cmd" in
	drivers) odbc_drivers ;;
	check) odbc_check ;;
	dsn)
		[ $# -ge 2 ] || { echo "usage: odbc.sh dsn FILE NAME KEY=VALUE…" >&2; return 2; }
		odbc_dsn_add "$@" ;;
	sysini)
		[ $# -ge 1 ] || { echo "usage: odbc.sh sysini DIR [NAME LIBRARY]…" >&2; return 2; }
		odbc_sysini "$@" ;;
	conninfo)
		case "${1:-}" in
		pg) odbc_conninfo_pg "${2:-}" ;;
		mariadb) odbc_conninfo_mariadb "${2:-}" ;;
		sqlite) odbc_conninfo_sqlite "${2:-}" ;;
		*) echo "usage: odbc.sh conninfo pg|mariadb|sqlite [DB]" >&2; return 2 ;;
		esac ;;
	*)
		echo "usage: odbc.sh drivers | check | dsn FILE NAME KEY=VALUE… | sysini DIR [NAME LIBRARY]… |" \
			"conninfo pg|mariadb|sqlite [DB]" >&2
		return 2 ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	odbc_main "$@"
fi
