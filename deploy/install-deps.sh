#!/usr/bin/env bash
# Installs, from Debian's archive, everything Prospector needs to build, run its quickstart and run its
# tests. Idempotent: packages already present are left alone; `apt-get update` runs once per call only
# when something is missing.
set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config
	protobuf-c-compiler libprotobuf-c-dev
	libzmq3-dev libsodium-dev libsqlite3-dev libpq-dev
	libmariadb-dev unixodbc-dev
	# servers and drivers the tests and the quickstart start
	postgresql postgresql-client
	mariadb-server mariadb-client
	odbc-postgresql odbc-mariadb libsqliteodbc sqlite3
	# test helpers
	python3 jq
	# the fuzz test (tests/fuzz): clang, and libclang-rt-dev for the fuzzer, address and undefined
	# sanitizer runtimes (libclang_rt.fuzzer-*.a), which clang's packages only recommend; both
	# follow Debian's default clang version, so they stay in step
	clang libclang-rt-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
