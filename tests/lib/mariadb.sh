#!/usr/bin/env bash
# Throwaway MariaDB servers for the tests, the quickstart and the benchmarks.
#
# A server lives entirely in one directory: data/ (the datadir), the unix socket mariadbd.sock,
# mariadb.log, mariadbd.pid, client.cnf (a MySQL option file with root's password, mode 0600) and
# env (the KEY=VALUE lines below). It listens on that socket and on 127.0.0.1 at a free port. Grants
# are real (no --skip-grant-tables): root has a random password on every host entry, over the socket
# too, so the tests can create users with partial privileges and see them refused. mariadbd refuses
# to run as root, so as root every server command runs as the user `mysql` and the directory belongs
# to it (without that user, the server runs with --user=root).
#
# Sourced, it defines functions (mariadb_up, mariadb_stop, mariadb_start, mariadb_destroy, …)
# and the tests/run.sh hooks mariadb_tests_up/down.
# Executed, it is a small command for other languages (the python live suites):
#
#   mariadb.sh up [DIR]       create DIR (or a temp dir), init and start; prints the env lines
#   mariadb.sh start DIR      start again (same port)
#   mariadb.sh stop DIR       stop, keep the data
#   mariadb.sh destroy DIR    stop and remove DIR
#   mariadb.sh env DIR        print the env lines
#
# env lines: MARIADB_DIR, MARIADB_PORT, MARIADB_SOCKET, MARIADB_HOST, MARIADB_USER, MARIADB_PASSWORD,
# MARIADB_OPTION_FILE, MARIADB_CONNINFO (a conninfo of the agent's mysql driver: root over the
# socket, the password read from the option file).

# The server binaries: mariadbd and mariadb-install-db (Debian mariadb-server), or the mysqld /
# mysql_install_db names older packages use.
mariadb_bin()
{
	local name
	for name in "$@"; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return 0
		fi
		if [ -x "/usr/sbin/$name" ]; then
			echo "/usr/sbin/$name"
			return 0
		fi
	done
	echo "mariadb: none of $* found (package mariadb-server)" >&2
	return 1
}

# The system user the server runs as: `mysql` when we are root, ourselves otherwise.
mariadb_owner()
{
	if [ "$(id -u)" -eq 0 ] && id mysql >/dev/null 2>&1; then
		echo mysql
	else
		id -un
	fi
}

# Runs a command as the server's owner.
mariadb_as_owner()
{
	local owner
	owner=$(mariadb_owner)
	if [ "$owner" = "$(id -un)" ]; then
		"$@"
	elif command -v runuser >/dev/null; then
		runuser -u "$owner" -- "$@"
	else
		setpriv --reuid="$owner" --regid="$owner" --init-groups -- "$@"
	fi
}

# A TCP port on 127.0.0.1 that nobody listens on right now.
mariadb_free_port()
{
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
		2>/dev/null || echo $((20000 + RANDOM % 30000))
}

mariadb_env()
{
	cat "$1/env"
}

# Loads DIR/env into MARIADB_* shell variables.
mariadb_load()
{
	local line
	while IFS= read -r line; do
		[ -n "$line" ] && export "${line?}"
	done <"$1/env"
}

mariadb_write_env()
{
	local dir=$1 port=$2 password=$3
	{
		echo "MARIADB_DIR=$dir"
		echo "MARIADB_PORT=$port"
		echo "MARIADB_SOCKET=$dir/mariadbd.sock"
		echo "MARIADB_HOST=127.0.0.1"
		echo "MARIADB_USER=root"
		echo "MARIADB_PASSWORD=$password"
		echo "MARIADB_OPTION_FILE=$dir/client.cnf"
		echo "MARIADB_CONNINFO=socket=$dir/mariadbd.sock user=root option_file=$dir/client.cnf"
	} >"$dir/env.tmp"
	chmod 600 "$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

# The option file clients (ours, the mariadb tool, the python suites) read the password from.
mariadb_write_client_cnf()
{
	local dir=$1 password=$2
	(
		umask 077
		printf '[client]\nuser=root\npassword=%s\nsocket=%s\n' "$password" "$dir/mariadbd.sock" \
			>"$dir/client.cnf"
	)
}

# The mariadb client as root over the socket, with the password once it is set.
mariadb_client()
{
	local dir=$1
	shift
	if [ -f "$dir/client.cnf" ]; then
		mariadb --defaults-file="$dir/client.cnf" --batch --skip-column-names "$@"
	else
		mariadb --no-defaults --socket="$dir/mariadbd.sock" -uroot --batch --skip-column-names "$@"
	fi
}

mariadb_admin()
{
	local dir=$1
	shift
	if [ -f "$dir/client.cnf" ]; then
		mariadb-admin --defaults-file="$dir/client.cnf" "$@"
	else
		mariadb-admin --no-defaults --socket="$dir/mariadbd.sock" -uroot "$@"
	fi
}

# mariadb-install-db into DIR/data, then a first start that sets root's password on every root
# account and drops the one named after this host (unusable with --skip-name-resolve).
mariadb_init()
{
	local dir=$1 install owner password sql
	install=$(mariadb_bin mariadb-install-db mysql_install_db) || return 1
	owner=$(mariadb_owner)
	[ "$owner" != "$(id -un)" ] && chown "$owner:" "$dir"
	chmod 700 "$dir"
	# cd: as `mysql`, the caller's working directory may be unreadable.
	if ! (cd "$dir" && mariadb_as_owner "$install" --no-defaults --datadir="$dir/data" \
		--auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
		--innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
		>"$dir/install.log" 2>&1); then
		echo "mariadb: mariadb-install-db failed:" >&2
		tail -n 20 "$dir/install.log" >&2
		return 1
	fi
	password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	mariadb_write_env "$dir" 0 "$password"
	mariadb_start "$dir" || return 1
	sql=$(mariadb_client "$dir" -e "SELECT CONCAT(
		IF(host IN ('localhost', '127.0.0.1', '::1'),
		   CONCAT('ALTER USER ', QUOTE(user), '@', QUOTE(host), ' IDENTIFIED BY ''$password'''),
		   CONCAT('DROP USER ', QUOTE(user), '@', QUOTE(host))), ';')
		FROM mysql.user WHERE user = 'root'") || return 1
	if ! mariadb_client "$dir" -e "$sql FLUSH PRIVILEGES;"; then
		echo "mariadb: could not set root's password" >&2
		return 1
	fi
	mariadb_write_client_cnf "$dir" "$password"
}

mariadb_pid()
{
	local pid
	pid=$(cat "$1/mariadbd.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Waits until the server answers on its socket (an "access denied" is an answer) or dies.
mariadb_wait_ready()
{
	local dir=$1 pid=$2 i
	for i in $(seq 1 300); do
		if [ -S "$dir/mariadbd.sock" ] && mariadb_admin "$dir" --connect-timeout=2 ping >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Starts the server in DIR. The first start picks a free port (retrying if another process takes
# it first); later starts reuse it, so clients can reconnect.
mariadbd_start_once()
{
	local dir=$1 port=$2 mariadbd user_opt=()
	mariadbd=$(mariadb_bin mariadbd mysqld) || return 1
	[ "$(mariadb_owner)" = root ] && user_opt=(--user=root)
	rm -f "$dir/mariadbd.pid"
	# setsid -f: the server outlives this shell and holds none of its descriptors.
	(cd "$dir" && mariadb_as_owner setsid -f "$mariadbd" --no-defaults "${user_opt[@]}" \
		--datadir="$dir/data" --socket="$dir/mariadbd.sock" --port="$port" \
		--bind-address=127.0.0.1 --skip-name-resolve --pid-file="$dir/mariadbd.pid" \
		--log-error="$dir/mariadb.log" --tmpdir="$dir" \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
		--innodb-buffer-pool-size=32M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
		--innodb-use-native-aio=0 --max-connections=100 --skip-log-bin) </dev/null >/dev/null 2>&1
	local i pid=
	for i in $(seq 1 300); do
		pid=$(cat "$dir/mariadbd.pid" 2>/dev/null) && [ -n "$pid" ] && break
		pid=
		# Exited before writing its pid: the log says why.
		grep -q 'Aborting' "$dir/mariadb.log" 2>/dev/null && return 1
		sleep 0.05
	done
	[ -n "$pid" ] && mariadb_wait_ready "$dir" "$pid"
}

mariadb_start()
{
	local dir=$1 port try
	mariadb_load "$dir" || return 1
	for try in 1 2 3 4 5; do
		port=$MARIADB_PORT
		[ "$port" = 0 ] && port=$(mariadb_free_port)
		rm -f "$dir/mariadb.log"
		if mariadbd_start_once "$dir" "$port"; then
			mariadb_write_env "$dir" "$port" "$MARIADB_PASSWORD"
			mariadb_load "$dir"
			return 0
		fi
		mariadb_stop "$dir"
		# A fresh port taken since we looked is worth another try; anything else is not.
		[ "$MARIADB_PORT" = 0 ] && grep -q 'in use' "$dir/mariadb.log" 2>/dev/null || break
	done
	echo "mariadb: could not start MariaDB in $dir; its log ends with:" >&2
	tail -n 20 "$dir/mariadb.log" >&2 2>/dev/null
	return 1
}

# Stops the server in DIR (SIGTERM: a clean shutdown; SIGKILL after 30 s) and keeps its data.
mariadb_stop()
{
	local dir=$1 pid i
	pid=$(mariadb_pid "$dir") || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "mariadb: server $pid in $dir does not stop" >&2
	return 1
}

# Stops the server and removes DIR. Refuses directories that mariadb_init did not make.
mariadb_destroy()
{
	local dir=$1
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	mariadb_stop "$dir" || true
	if [ -f "$dir/env" ] || [ -f "$dir/install.log" ]; then
		rm -rf "$dir"
	fi
}

# Creates (mktemp when DIR is empty), initialises and starts a server; loads MARIADB_* variables.
mariadb_up()
{
	local dir=${1:-}
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/prospector-my.XXXXXX") || return 1
	else
		mkdir -p "$dir" || return 1
	fi
	if ! mariadb_init "$dir"; then
		mariadb_destroy "$dir"
		return 1
	fi
}

# tests/run.sh hooks: one server for every suite; PROSPECTOR_TEST_MYSQL is root over the socket.
mariadb_tests_up()
{
	mariadb_up || return 1
	MARIADB_TESTS_DIR=$MARIADB_DIR
	export PROSPECTOR_TEST_MYSQL="$MARIADB_CONNINFO"
	export PROSPECTOR_TEST_MYSQL_SOCKET="$MARIADB_SOCKET"
	export PROSPECTOR_TEST_MYSQL_HOST="$MARIADB_HOST"
	export PROSPECTOR_TEST_MYSQL_PORT="$MARIADB_PORT"
	export PROSPECTOR_TEST_MYSQL_USER="$MARIADB_USER"
	# In a 0600 file, not the environment (see pgserver_tests_up).
	(umask 077 && printf '%s\n' "$MARIADB_PASSWORD" >"$MARIADB_DIR/password")
	export PROSPECTOR_TEST_MYSQL_PASSWORD_FILE="$MARIADB_DIR/password"
	export -n MARIADB_PASSWORD
	export PROSPECTOR_TEST_MYSQL_OPTION_FILE="$MARIADB_OPTION_FILE"
	echo "MariaDB $(mariadb_client "$MARIADB_DIR" -e 'SELECT VERSION()') in $MARIADB_DIR," \
		"port $MARIADB_PORT"
}

mariadb_tests_down()
{
	[ -n "${MARIADB_TESTS_DIR:-}" ] || return 0
	mariadb_destroy "$MARIADB_TESTS_DIR"
	MARIADB_TESTS_DIR=
}

mariadb_main()
{
	local cmd=${1:-} dir=${2:-}
	case "$cmd" in
	up)
		mariadb_up "$dir" && mariadb_env "$MARIADB_DIR" ;;
	start)
		mariadb_start "$dir" && mariadb_env "$dir" ;;
	stop)
		mariadb_stop "$dir" ;;
	destroy)
		mariadb_destroy "$dir" ;;
	env)
		mariadb_env "$dir" ;;
	*)
		echo "usage: mariadb.sh up [DIR] | start DIR | stop DIR | destroy DIR | env DIR" >&2
		return 2 ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	mariadb_main "$@"
fi
