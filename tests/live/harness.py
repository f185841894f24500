"""Helpers for the live suites: real daemons, a real PostgreSQL, the real CLI.

A suite makes one World (a temp dir, the processes it starts, the databases it makes), a Tap to
report through, and a Postgres for the server named by PROSPECTOR_TEST_PG (or one of its own, started
with tests/lib/pgserver.sh, when it must stop and restart it). Everything a World started is stopped
when the suite exits, however it exits.

meson runs the suites with the plain exit-code protocol: 0 passed, 1 failed, 77 skipped. The TAP
lines ("ok N - …", "1..N") are for people reading the log. Without PROSPECTOR_TEST_PG a suite that
needs PostgreSQL skips, unless PROSPECTOR_REQUIRE_LIVE=1 (CI), when that is a failure.

A MariaDB suite makes a MariaDB (the server named by the PROSPECTOR_TEST_MYSQL_* variables, set by
tests/run.sh through tests/lib/mariadb.sh) and gets a fresh database and its own login per test from
it. ODBC suites build their connection strings with odbc_connstr() and the per-server helpers
(Postgres.odbc_conninfo, MariaDB.odbc_conninfo, sqlite_odbc_conninfo); `prospector-agent --dump`
output is read back with World.dump() into {path: DumpObj}.

Environment: PROSPECTOR_BUILD (the meson build dir; default build/), PROSPECTOR_TEST_PG (libpq
keyword conninfo of a superuser) and PROSPECTOR_TEST_PG_PASSWORD_FILE, PROSPECTOR_TEST_MYSQL_HOST,
_PORT, _SOCKET, _USER and _PASSWORD_FILE (an administrator of a MariaDB or MySQL server; passwords
come in 0600 files, never in the environment, which meson writes into its log),
PROSPECTOR_SECRETS_LOG (where record_secret() notes every password handed out, for tests/run.sh's
leak check), PROSPECTOR_KEEP_TMP=1 keeps the temp dir for inspection.

Every World has CURVE keys (prospector keygen): collector_conf() names the collector's, and
agent_conf() an agent's, enrolling it in the world's catalog first; a password in a source's
conninfo moves to a 0600 secrets file, as the agent demands. Python 3 standard library only.
"""

import atexit
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PROSPECTOR_BUILD") or os.path.join(REPO, "build")
AGENT = os.path.join(BUILD, "agent", "prospector-agent")
COLLECTOR = os.path.join(BUILD, "collector", "prospector-collector")
CLI = os.path.join(BUILD, "collector", "prospector")
PGSERVER = os.path.join(REPO, "tests", "lib", "pgserver.sh")

SKIP = 77


def required():
    return os.environ.get("PROSPECTOR_REQUIRE_LIVE") == "1"


def skip_all(why):
    """Skips the whole suite, or fails it when live suites are required."""
    if required():
        print(f"Bail out! required but missing: {why}", flush=True)
        sys.exit(1)
    print(f"1..0 # SKIP {why}", flush=True)
    sys.exit(SKIP)


def require_binaries(*paths):
    paths = paths or (AGENT, COLLECTOR, CLI)
    missing = [p for p in paths if not os.access(p, os.X_OK)]
    if missing:
        # The build always makes them: a missing binary is a broken build, never a skip.
        print(f"Bail out! not built: {', '.join(missing)} (PROSPECTOR_BUILD={BUILD})", flush=True)
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, timeout=60, **kw):
    """subprocess.run with text in UTF-8 whatever the locale; never raises on a non-zero exit."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(argv, timeout=timeout, encoding="utf-8", errors="replace", **kw)


def wait_for(cond, timeout, interval=0.2):
    """Calls cond() until it returns something true or timeout seconds pass; returns the last value.
    Exceptions from cond count as not yet (the catalog may not exist yet, say)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except Exception:  # noqa: BLE001 - "not yet" is any failure
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Tap:
    """TAP output with a failure count; done() exits 0 or 1."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.on_failure = []  # callables printing diagnostics, run once at the first failure

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            print(f"# {line}", flush=True)

    def ok(self, cond, desc, diag=None):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {desc}", flush=True)
        if not cond:
            self.failed += 1
            if diag:
                self.diag(diag)
        return bool(cond)

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, f"got:      {got!r}\nexpected: {want!r}")

    def skip(self, desc, why):
        """One skipped check; a failure instead when live suites are required (a suite that covers
        several servers skips the part whose server is missing)."""
        if required():
            return self.ok(False, f"{desc} (required but missing: {why})")
        self.n += 1
        print(f"ok {self.n} - {desc} # SKIP {why}", flush=True)
        return False

    def done(self):
        print(f"1..{self.n}", flush=True)
        sys.exit(1 if self.failed else 0)


def dump_json(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Proc:
    """A daemon we started, its output in a log file."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=subprocess.STDOUT, env=env)

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout):
        """The exit status, or None if still running after timeout seconds."""
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL; returns the exit status."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


class Postgres:
    """A PostgreSQL server reached as superuser through conninfo (libpq keyword format).
    Postgres.from_env() is the suite-wide server; Postgres.private(world) starts one of our own."""

    def __init__(self, conninfo, host=None, port=None, password=None, dir=None):
        self.conninfo = conninfo
        self.host = host or "127.0.0.1"
        self.port = port
        self.password = password
        self.dir = dir  # set for a server of our own (pgserver.sh)

    @classmethod
    def from_env(cls):
        pg, why = cls.find()
        if not pg:
            skip_all(why)
        return pg

    @classmethod
    def find(cls):
        """(the server of PROSPECTOR_TEST_PG, None) or (None, why not): for suites that cover
        several servers and skip only the part that needs a missing one."""
        conninfo = os.environ.get("PROSPECTOR_TEST_PG")
        if not conninfo:
            return None, "PROSPECTOR_TEST_PG is not set (tests/run.sh starts a server)"
        if not shutil.which("psql"):
            return None, "psql not found"
        pg = cls(conninfo, os.environ.get("PROSPECTOR_TEST_PG_HOST"),
                 os.environ.get("PROSPECTOR_TEST_PG_PORT"),
                 password_from_file("PROSPECTOR_TEST_PG_PASSWORD_FILE"))
        r = pg.psql("SELECT 1", check=False)
        if r.returncode != 0:
            return None, f"PostgreSQL at PROSPECTOR_TEST_PG does not answer: {r.stderr.strip()}"
        return pg, None

    @classmethod
    def private(cls, world):
        """A throwaway server of this suite's own, destroyed when the world closes."""
        r = run(["bash", PGSERVER, "up"], timeout=180)
        env = parse_env_lines(r.stdout)
        if r.returncode != 0 or "PGSERVER_DIR" not in env:
            skip_all(f"cannot start a PostgreSQL server: {r.stderr.strip()[-500:]}")
        pg = cls(env["PGSERVER_CONNINFO"], env["PGSERVER_HOST"], env["PGSERVER_PORT"],
                 env["PGSERVER_PASSWORD"], env["PGSERVER_DIR"])
        world.cleanups.append(pg.destroy)
        return pg

    def _pgserver(self, *args):
        r = run(["bash", PGSERVER, *args, self.dir], timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"pgserver.sh {args[0]} failed: {r.stderr.strip()}")
        return r

    def stop(self):
        self._pgserver("stop")

    def start(self, private=False):
        """Starts again on the same port; private: socket only, TCP clients cannot connect."""
        r = run(["bash", PGSERVER, "start", self.dir] + (["--private"] if private else []), timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"pgserver.sh start failed: {r.stderr.strip()}")

    def destroy(self):
        if self.dir:
            run(["bash", PGSERVER, "destroy", self.dir], timeout=120)
            self.dir = None

    def conninfo_for(self, dbname):
        # libpq takes the last value of a repeated keyword.
        return f"{self.conninfo} dbname={dbname}"

    def tcp_conninfo(self, dbname, user, password):
        return (f"host={self.host} port={self.port} dbname={dbname} user={user} "
                f"password={password} connect_timeout=5")

    def odbc_conninfo(self, dbname, user="postgres", password=None, driver="PostgreSQL Unicode"):
        """psqlODBC over TCP, as the superuser unless told otherwise."""
        return odbc_connstr(Driver=driver, Server=self.host, Port=self.port, Database=dbname,
                            Uid=user, Pwd=self.password if password is None else password)

    def psql(self, sql, db=None, check=True):
        """Runs sql (one implicit transaction when it has several statements) and returns the run;
        with check, a failure raises with psql's message."""
        conninfo = self.conninfo_for(db) if db else self.conninfo
        env = dict(os.environ, PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT="10")
        r = run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
                env=env)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\nSQL: {sql}")
        return r

    def psql_as(self, conninfo, sql, env=None):
        """Runs sql through psql with another conninfo (another role); returns the run."""
        env = dict(os.environ, PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT="10", **(env or {}))
        return run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql], env=env)

    def create_database(self, name):
        """A fresh database (dropped first if an earlier run left it); returns its superuser conninfo."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self.conninfo_for(name)


def parse_env_lines(text):
    env = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key] = value
    return env


class MariaDB:
    """A MariaDB (or MySQL) server reached as an administrator: the one named by the
    PROSPECTOR_TEST_MYSQL_* variables (MariaDB.from_env()). Each test takes a fresh database
    (fresh_database) and a login of its own (create_user); cleanup() drops them, and from_env(world)
    registers it with the world."""

    def __init__(self, host, port, user, password, socket=None):
        self.host = host or "127.0.0.1"
        self.port = port
        self.user = user or "root"
        self.password = password or ""
        self.socket = socket
        self.client = shutil.which("mariadb") or shutil.which("mysql")
        self.version = ""
        self.databases = []
        self.users = []

    @classmethod
    def from_env(cls, world=None):
        db, why = cls.find(world)
        if not db:
            skip_all(why)
        return db

    @classmethod
    def find(cls, world=None):
        """(the server of PROSPECTOR_TEST_MYSQL_*, None) or (None, why not); with a world, the
        databases and users the suite makes are dropped when it closes."""
        env = os.environ
        port, sock = env.get("PROSPECTOR_TEST_MYSQL_PORT"), env.get("PROSPECTOR_TEST_MYSQL_SOCKET")
        if not port and not sock:
            return None, ("PROSPECTOR_TEST_MYSQL_PORT is not set (tests/run.sh starts MariaDB with "
                          "tests/lib/mariadb.sh)")
        db = cls(env.get("PROSPECTOR_TEST_MYSQL_HOST"), port, env.get("PROSPECTOR_TEST_MYSQL_USER"),
                 password_from_file("PROSPECTOR_TEST_MYSQL_PASSWORD_FILE"), sock)
        if not db.client:
            return None, "neither the mariadb nor the mysql client is installed"
        r = db.mysql("SELECT VERSION()", check=False)
        if r.returncode != 0:
            return None, f"MariaDB at PROSPECTOR_TEST_MYSQL_* does not answer: {r.stderr.strip()}"
        db.version = r.stdout.strip()
        if world is not None:
            world.cleanups.append(db.cleanup)
        return db, None

    def is_mariadb(self):
        return "mariadb" in self.version.lower()

    def _argv(self, user, db, tcp):
        argv = [self.client, "--no-defaults", "--batch", "--skip-column-names",
                "--default-character-set=utf8mb4", "--connect-timeout=10", f"--user={user}"]
        if self.socket and not tcp:
            argv.append(f"--socket={self.socket}")
        else:
            argv += ["--protocol=TCP", f"--host={self.host}", f"--port={self.port}"]
        if db:
            argv.append(f"--database={db}")
        return argv

    def mysql(self, sql, db=None, check=True, user=None, password=None, timeout=60):
        """Runs sql (several statements allowed; MySQL commits each DDL statement on its own) as the
        administrator, or as user/password over TCP; with check, a failure raises with the message.
        The password goes through MYSQL_PWD, never on the command line."""
        tcp = user is not None
        argv = self._argv(user or self.user, db, tcp) + ["--execute", sql]
        env = dict(os.environ, MYSQL_PWD=self.password if user is None else (password or ""))
        r = run(argv, timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise RuntimeError(f"mysql failed: {r.stderr.strip()}\nSQL: {sql}")
        return r

    def query(self, sql, db=None, **kw):
        """The rows of sql as lists of strings (NULL as None)."""
        out = self.mysql(sql, db=db, **kw).stdout
        return [[None if v == "NULL" else mysql_unescape(v) for v in line.split("\t")]
                for line in out.splitlines()]

    def fresh_database(self, name, charset="utf8mb4", collation="utf8mb4_unicode_ci"):
        """Drops and creates database name; dropped again by cleanup()."""
        spec = f" CHARACTER SET {charset}" + (f" COLLATE {collation}" if collation else "")
        self.mysql(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`{spec}")
        if name not in self.databases:
            self.databases.append(name)
        return name

    def create_user(self, name, password, grants=()):
        """(Re)creates 'name'@'%' with password and runs each grant ("SELECT ON db.*") for it."""
        record_secret(password)
        account = f"'{name}'@'%'"
        sql = f"DROP USER IF EXISTS {account}; CREATE USER {account} IDENTIFIED BY '{password}';"
        for g in grants:
            sql += f" GRANT {g} TO {account};"
        self.mysql(sql)
        if name not in self.users:
            self.users.append(name)
        return account

    def cleanup(self):
        for name in self.databases:
            self.mysql(f"DROP DATABASE IF EXISTS `{name}`", check=False)
        for name in self.users:
            self.mysql(f"DROP USER IF EXISTS '{name}'@'%'", check=False)
        self.databases, self.users = [], []

    def conninfo(self, db, user, password):
        """The mysql driver's conninfo (keyword=value, like libpq's) for user over TCP."""
        return (f"host={self.host} port={self.port} user={user} password={password} "
                f"database={db} connect_timeout=5")

    def odbc_conninfo(self, db, user, password, driver="MariaDB Unicode"):
        return odbc_connstr(Driver=driver, Server=self.host, Port=self.port, Database=db, Uid=user,
                            Pwd=password)


def mysql_unescape(v):
    """Undoes the mysql client's --batch escapes (\\t \\n \\\\ \\0)."""
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "0": "\0"}.get(m.group(1), m.group(1)), v)


# -- ODBC ---------------------------------------------------------------------------------------

def password_from_file(variable):
    """The first line of the file the environment variable names, or None: tests/run.sh hands the
    servers' passwords over in 0600 files, since meson logs the whole environment."""
    path = os.environ.get(variable)
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.readline().rstrip("\n")


def record_secret(password):
    """Notes a password a suite hands out, for tests/run.sh's final grep of all test output
    (PROSPECTOR_SECRETS_LOG names the list; unset, nothing is noted)."""
    path = os.environ.get("PROSPECTOR_SECRETS_LOG")
    if path and password:
        with open(path, "a", encoding="utf-8") as f:
            f.write(password.replace("\n", " ") + "\n")


KV_PASSWORD = re.compile(r"""(^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)""", re.I)


def _kv_unquote(v):
    if v.startswith("'") and v.endswith("'"):
        v = v[1:-1]
    return re.sub(r"\\(.)", r"\1", v)


def _odbc_attrs(conninfo):
    """[(key, value)] of an ODBC connection string, braces undone."""
    attrs, i, s = [], 0, conninfo
    while i < len(s):
        if s[i] in "; ":
            i += 1
            continue
        eq = s.find("=", i)
        if eq < 0:
            break
        key, i = s[i:eq].strip(), eq + 1
        if i < len(s) and s[i] == "{":
            v, i = [], i + 1
            while i < len(s):
                if s[i] == "}" and s[i + 1:i + 2] == "}":
                    v.append("}")
                    i += 2
                elif s[i] == "}":
                    i += 1
                    break
                else:
                    v.append(s[i])
                    i += 1
            value = "".join(v)
        else:
            end = s.find(";", i)
            end = len(s) if end < 0 else end
            value, i = s[i:end], end
        attrs.append((key, value))
    return attrs


def split_password(driver, conninfo):
    """(conninfo without its password, the password or None): libpq keyword strings and the mysql
    driver's (password=, optionally 'quoted'), ODBC's (PWD= or Password=, optionally {braced}).
    A password found is noted with record_secret."""
    if driver == "odbc":
        attrs = _odbc_attrs(conninfo)
        pw = [v for k, v in attrs if k.lower() in ("pwd", "password")]
        if not pw:
            return conninfo, None
        record_secret(pw[-1])
        return odbc_connstr(**{k: v for k, v in attrs if k.lower() not in ("pwd", "password")}), pw[-1]
    m = KV_PASSWORD.search(conninfo)
    if driver not in ("pg", "mysql") or not m:
        return conninfo, None
    rest = (conninfo[:m.start()] + m.group(1) + conninfo[m.end():]).strip()
    record_secret(_kv_unquote(m.group(2)))
    return re.sub(r"\s+", " ", rest), _kv_unquote(m.group(2))


def secrets_text(passwords):
    """The secrets file for {source: password}; values quoted, '\\' and '"' escaped."""
    out = "# prospector-agent secrets: mode 0600\n"
    for name, pw in passwords.items():
        q = pw.replace("\\", "\\\\").replace('"', '\\"')
        out += f'\n[source "{name}"]\npassword = "{q}"\n'
    return out


def odbc_connstr(**pairs):
    """An ODBC connection string; values with ; { } or outer spaces are braced, per the ODBC rules."""
    parts = []
    for k, v in pairs.items():
        v = str(v)
        if re.search(r"[;{}]|^\s|\s$", v):
            v = "{" + v.replace("}", "}}") + "}"
        parts.append(f"{k}={v}")
    return ";".join(parts)


def odbc_drivers():
    """The ODBC drivers unixODBC knows ([name] sections of odbcinst.ini)."""
    if not shutil.which("odbcinst"):
        return set()
    r = run(["odbcinst", "-q", "-d"], timeout=20)
    return {m.group(1) for m in re.finditer(r"^\[(.+)\]\s*$", r.stdout, re.M)}


def sqlite_odbc_conninfo(path, driver="SQLite3"):
    return odbc_connstr(Driver=driver, Database=path)


# -- prospector-agent --dump ----------------------------------------------------------------------

# The separator before an object's name in its path (common/model.c); '/' for every other kind.
PATH_SEPARATORS = {"column": ".", "primary_key": "#", "unique": "#", "check": "#",
                   "foreign_key": "#", "index": "#"}
REFS_ATTRS = {"columns", "ref_table", "ref_columns", "include", "partition_of", "depends_on",
              "owned_by"}
REF_SEP = "\x1f"
ODBC_LOG_GLOBS = ("psqlodbc_*.log", "mylog_*.log", "sql.log")


class DumpObj:
    def __init__(self, kind, key, parent, name):
        self.kind, self.key, self.parent, self.name = kind, key, parent, name
        self.attrs, self.obs, self.path = {}, {}, None

    def refs(self, attr):
        v = self.attrs.get(attr)
        return v.split(REF_SEP) if v else []

    def __repr__(self):
        return f"{self.kind} {self.path} {dump_json(self.attrs)}"


def _fixture_unescape(s, refs=False):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", "s": " "}.get(n, n))
            i += 2
            continue
        out.append(REF_SEP if refs and c == "|" else c)
        i += 1
    return "".join(out)


def parse_dump(text, source):
    """`prospector-agent --dump` output (common/fixture.h) as {path: DumpObj}; paths as the collector
    builds them (source/database/schema/table.column …). Raises ValueError on a malformed line."""
    objs, current = {}, None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line[0] in " \t":
            if current is None or "=" not in line:
                raise ValueError(f"dump line {n}: attribute outside an object: {line!r}")
            name, _, value = line.strip().partition(" = ")
            name = name.strip()
            if name.startswith("obs."):
                current.obs[name[4:]] = _fixture_unescape(value)
            else:
                current.attrs[name] = _fixture_unescape(value, refs=name in REFS_ATTRS)
            continue
        parts = line.split(" ", 3)
        if len(parts) < 4:
            raise ValueError(f"dump line {n}: expected 'kind key parent name': {line!r}")
        kind, key, parent, name = parts
        current = DumpObj(kind, _fixture_unescape(key), None if parent == "-" else _fixture_unescape(parent),
                          _fixture_unescape(name))
        objs[current.key] = current

    def path_of(o, depth=0):
        if o.path is None:
            parent = objs.get(o.parent) if o.parent else None
            if parent is None or depth > 32:
                o.path = f"{source}/{o.name}"
            else:
                o.path = path_of(parent, depth + 1) + PATH_SEPARATORS.get(o.kind, "/") + o.name
        return o.path

    by_path = {}
    for o in objs.values():
        by_path[path_of(o)] = o
    by_path_keys = {o.key: o for o in objs.values()}
    return DumpResult(by_path, by_path_keys)


class DumpResult(dict):
    """{path: DumpObj}, with .by_key {key: DumpObj} for resolving REFS."""

    def __init__(self, by_path, by_key):
        super().__init__(by_path)
        self.by_key = by_key

    def ref_names(self, obj, attr):
        return [self.by_key[k].name if k in self.by_key else f"?{k}" for k in obj.refs(attr)]

    def ref_paths(self, obj, attr, strip=""):
        out = []
        for k in obj.refs(attr):
            p = self.by_key[k].path if k in self.by_key else f"?{k}"
            out.append(p[len(strip):] if strip and p.startswith(strip) else p)
        return out

    def children(self, obj, kind=None):
        return [o for o in self.values() if o.parent == obj.key and (kind is None or o.kind == kind)]


class World:
    """One suite's temp dir, collector, agents and CLI."""

    def __init__(self, tap, name):
        self.tap = tap
        self.tmp = tempfile.mkdtemp(prefix=f"prospector-{name}.")
        self.procs = []
        self.cleanups = []
        self.collector = None
        self.collector_port = None
        self.catalog = os.path.join(self.tmp, "catalog.db")
        self.enrolled = set()  # (catalog, agent id)
        self.closed = False
        self.started = time.time()
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame):
        print(f"# killed by signal {signum}; cleaning up", flush=True)
        self.close()
        os._exit(1)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return p

    # -- CURVE keys ---------------------------------------------------------------------------

    def keygen(self, name):
        """A key pair of the world's (prospector keygen), made once: (key file, public key file)."""
        base = self.path("keys", name)
        if not os.path.exists(base + ".key"):
            os.makedirs(self.path("keys"), mode=0o700, exist_ok=True)
            r = run([CLI, "keygen", base, "--comment", name])
            if r.returncode != 0:
                raise RuntimeError(f"prospector keygen {base}: {r.stderr.strip()}")
        return base + ".key", base + ".pub"

    def enroll(self, agent_id, catalog=None):
        """Enrolls agent_id's public key in the catalog (once per catalog)."""
        catalog = catalog or self.catalog
        if (catalog, agent_id) in self.enrolled:
            return
        r = run([CLI, "--db", catalog, "enroll", agent_id, self.keygen(f"agent-{agent_id}")[1]])
        if r.returncode != 0:
            raise RuntimeError(f"prospector enroll {agent_id}: {r.stderr.strip()}")
        self.enrolled.add((catalog, agent_id))

    def collector_key_lines(self):
        """The [collector] lines naming its key pair."""
        return f"curve_secret_key = {self.keygen('collector')[0]}\n"

    def agent_key_lines(self, agent_id, enroll=True):
        """The [agent] lines naming the agent's key pair and the collector's public key; the
        agent is enrolled in the world's catalog unless enroll is False."""
        if enroll:
            self.enroll(agent_id)
        return (f"curve_secret_key = {self.keygen(f'agent-{agent_id}')[0]}\n"
                f"collector_public_key = {self.keygen('collector')[1]}\n")

    # -- configuration ------------------------------------------------------------------------

    def collector_conf(self, port=None, database=None, extra=""):
        self.collector_port = port or self.collector_port or free_port()
        return (f"[collector]\nlisten = tcp://127.0.0.1:{self.collector_port}\n"
                f"database = {database or self.catalog}\n{self.collector_key_lines()}{extra}")

    def agent_conf(self, sources, agent_id="test-agent", state_dir=None, heartbeat="1s",
                   collector_port=None, extra=""):
        """sources: {name: {key: value}}; keys in the order given. The agent refuses a password in
        a conninfo, so one written there by the conninfo helpers (password=, PWD=) moves to a
        secrets file of this agent's (mode 0600), as an operator would put it."""
        state_dir = state_dir or self.path(f"state-{agent_id}")
        os.makedirs(state_dir, exist_ok=True)
        port = collector_port or self.collector_port
        body, passwords = "", {}
        for name, keys in sources.items():
            body += f'\n[source "{name}"]\n'
            for k, v in keys.items():
                if k == "conninfo":
                    v, pw = split_password(keys.get("driver"), v)
                    if pw is not None:
                        passwords[name] = pw
                body += f"{k} = {v}\n"
        secrets = ""
        if passwords and "secrets_file" not in extra:
            secrets = f"secrets_file = {self.secrets_file(agent_id, passwords)}\n"
        return (f"[agent]\nid = {agent_id}\ncollector = tcp://127.0.0.1:{port}\n"
                f"state_dir = {state_dir}\nheartbeat = {heartbeat}\n{self.agent_key_lines(agent_id)}"
                f"{secrets}{extra}{body}")

    def secrets_file(self, agent_id, passwords):
        """An agent's secrets file: {source: password}, mode 0600; named after its content, so that two
        configurations of one agent never overwrite each other's."""
        digest = hashlib.sha256(repr((agent_id, sorted(passwords.items()))).encode()).hexdigest()[:12]
        path = self.path(f"secrets-{digest}.conf")
        for pw in passwords.values():
            record_secret(pw)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets_text(passwords))
        os.chmod(path, 0o600)
        return path

    # -- processes ----------------------------------------------------------------------------

    def spawn(self, name, argv):
        proc = Proc(name, argv, self.path(f"{name}.log"))
        self.procs.append(proc)
        return proc

    def start_collector(self, extra=""):
        conf = self.write("collector.conf", self.collector_conf(extra=extra))
        self.collector = self.spawn("collector", [COLLECTOR, "-c", conf])
        # Ready when the catalog answers; the agents reconnect by themselves anyway.
        if not wait_for(lambda: self.cli("status", "--json").returncode == 0 or not self.collector.alive(),
                        20):
            self.tap.diag("collector: catalog not readable after 20 s")
        if not self.collector.alive():
            raise RuntimeError(f"collector exited {self.collector.p.returncode}:\n"
                               f"{self.collector.output()[-2000:]}")
        return self.collector

    def start_agent(self, conf_text, name="agent", args=()):
        conf = self.write(f"{name}.conf", conf_text)
        return self.spawn(name, [AGENT, "-c", conf, *args])

    def agent_once(self, conf_text, name="agent-once", timeout=90, args=()):
        """Runs `prospector-agent -c conf --once ARGS`; returns (exit status, or None when it was
        still running after timeout seconds and had to be killed; its output)."""
        conf = self.write(f"{name}.conf", conf_text)
        proc = self.spawn(name, [AGENT, "-c", conf, "--once", *args])
        status = proc.wait(timeout)
        if status is None:
            proc.stop(2)
        return status, proc.output()

    # -- the CLI ------------------------------------------------------------------------------

    def cli(self, *args, timeout=60):
        return run([CLI, "--db", self.catalog, *args], timeout=timeout)

    def cli_json(self, *args):
        """The one JSON document of `prospector --db … ARGS --json`; raises with the stderr."""
        r = self.cli(*args, "--json")
        if r.returncode != 0:
            raise RuntimeError(f"prospector {' '.join(args)} --json exited {r.returncode}: "
                               f"{r.stderr.strip()}")
        return json.loads(r.stdout)

    def history(self, *filters):
        return self.cli_json("history", *filters)["changes"]

    def status(self):
        return self.cli_json("status")

    def source_status(self, name):
        for agent in self.status().get("agents", []):
            for src in agent.get("sources", []):
                if src.get("name") == name:
                    return src
        return None

    def catalog_objects(self, *args):
        return self.cli_json("catalog", *args)["objects"]

    def last_history_id(self):
        rows = self.history()
        return max((r["id"] for r in rows), default=0)

    def wait_new_history(self, after_id, timeout=60, settle=2.5, source=None):
        """Waits until history has rows with id > after_id, then until no more arrive for settle
        seconds; returns those rows (of source, when given)."""
        def new_rows():
            return [r for r in self.history()
                    if r["id"] > after_id and (source is None or r["source"] == source)]
        rows = wait_for(new_rows, timeout)
        if not rows:
            return []
        stable_since, count = time.monotonic(), len(rows)
        while time.monotonic() - stable_since < settle:
            time.sleep(0.3)
            rows = new_rows()
            if len(rows) != count:
                stable_since, count = time.monotonic(), len(rows)
        return rows

    def wait_crawls(self, source, count=2, timeout=60):
        """Waits until the source's status shows count more finished crawls (last_end moved count
        times); returns how many it saw. Deadline-based: a loaded machine only makes it slower."""
        seen, last = 0, (self.source_status(source) or {}).get("last_end")
        deadline = time.monotonic() + timeout
        while seen < count and time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                now = (self.source_status(source) or {}).get("last_end")
            except Exception:  # noqa: BLE001 - the catalog may be busy; try again
                continue
            if now and now != last:
                seen, last = seen + 1, now
        return seen

    def wait_status(self, source, cond, timeout=60):
        """Waits until cond(status of source) is true; returns that status, or None."""
        def check():
            st = self.source_status(source)
            return st if st and cond(st) else None
        return wait_for(check, timeout)

    def dump(self, conf_text, source, name="dump", timeout=120):
        """`prospector-agent -c CONF --dump SOURCE`: (exit status, DumpResult or None, stderr)."""
        conf = self.write(f"{name}.conf", conf_text)
        r = run([AGENT, "-c", conf, "--dump", source], timeout=timeout)
        if r.returncode != 0:
            return r.returncode, None, r.stderr
        return 0, parse_dump(r.stdout, source), r.stderr

    def leak_places(self, extra=None):
        """Every text an operator or a reader of the catalog can see, by name: CLI outputs, daemon
        logs, the catalog files and the agents' state files; for password leak checks."""
        places = {
            "status --json": self.cli("status", "--json").stdout,
            "status": self.cli("status").stdout,
            "history --json": self.cli("history", "--json").stdout,
            "catalog --all --json": self.cli("catalog", "--all", "--json").stdout,
        }
        for proc in self.procs:
            places[f"{proc.name} log"] = proc.output()
        for root, _dirs, files in os.walk(self.tmp):
            for f in files:
                if f.endswith(".conf"):
                    continue  # the configuration holds the passwords on purpose
                p = os.path.join(root, f)
                if f.endswith(".log") and any(p == proc.log_path for proc in self.procs):
                    continue
                try:
                    with open(p, "rb") as fh:
                        places[os.path.relpath(p, self.tmp)] = fh.read().decode("latin-1")
                except OSError:
                    pass
        # Logs ODBC drivers write on their own (Debian's psqlODBC has CommLog=1; unixODBC's trace),
        # the ones written since this world started.
        for pattern in ODBC_LOG_GLOBS:
            for p in glob.glob(os.path.join(tempfile.gettempdir(), pattern)):
                try:
                    if os.path.getmtime(p) >= self.started - 1:
                        with open(p, "rb") as fh:
                            places[p] = fh.read().decode("latin-1")
                except OSError:
                    pass
        places.update(extra or {})
        return places

    # -- the end ------------------------------------------------------------------------------

    def dump_logs(self, lines=40):
        for proc in self.procs:
            try:
                tail = proc.output().splitlines()[-lines:]
            except OSError:
                continue
            self.tap.diag(f"--- {proc.name} ({' '.join(proc.argv)}), last {len(tail)} lines:")
            for line in tail:
                self.tap.diag(f"  {line}")

    def close(self):
        if self.closed:
            return
        self.closed = True
        for proc in reversed(self.procs):
            try:
                proc.stop(5)
            except Exception:  # noqa: BLE001 - best effort at the end
                pass
        if self.tap.failed:
            self.dump_logs()
            if os.path.exists(self.catalog):
                r = self.cli("status")
                self.tap.diag(f"--- prospector status (exit {r.returncode}):\n{r.stdout}{r.stderr}")
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:  # noqa: BLE001
                traceback.print_exc(file=sys.stdout)
        if os.environ.get("PROSPECTOR_KEEP_TMP") == "1":
            print(f"# kept {self.tmp}", flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# -- comparing history rows ---------------------------------------------------------------------

def row_tuple(row, prefix=""):
    """(op, path without prefix, field, before, after, severity); ADD/DROP summaries parsed to dicts."""
    def value(v, summary):
        if v is None or not summary:
            return v
        try:
            return json.loads(v)
        except ValueError:
            return v
    summary = row["op"] in ("ADD", "DROP")
    path = row["path"][len(prefix):] if row["path"].startswith(prefix) else row["path"]
    return (row["op"], path, row["field"], value(row["before"], summary), value(row["after"], summary),
            row["severity"])


class Any:
    """Matches any value in an expected row (for what depends on the server, like owners)."""

    def __eq__(self, other):
        return True

    def __repr__(self):
        return "ANY"


ANY = Any()


def _match(want, got):
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(_match(want[k], got[k]) for k in want)
    return want == got


def compare_rows(tap, rows, expected, desc, prefix=""):
    """Asserts that rows are exactly the expected tuples, in any order; diagnostics name the
    missing and the unexpected ones."""
    got = [row_tuple(r, prefix) for r in rows]
    missing = []
    unmatched = list(got)
    for want in expected:
        for i, g in enumerate(unmatched):
            if len(g) == len(want) and all(_match(w, x) for w, x in zip(want, g)):
                del unmatched[i]
                break
        else:
            missing.append(want)
    diag = []
    for m in missing:
        diag.append(f"missing:    {fmt_row(m)}")
    for u in unmatched:
        diag.append(f"unexpected: {fmt_row(u)}")
    return tap.ok(not missing and not unmatched, desc, "\n".join(diag))


def fmt_row(t):
    return " | ".join(dump_json(x) if isinstance(x, dict) else repr(x) for x in t)
