"""Helpers for the live suites: real daemons, a real PostgreSQL, the real CLI.

A suite makes one World (a temp dir, the processes it starts, the databases it makes), a Tap to
report through, and a Postgres for the server named by PROSPECTOR_TEST_PG (or one of its own, started
with tests/lib/pgserver.sh, when it must stop and restart it). Everything a World started is stopped
when the suite exits, however it exits.

meson runs the suites with the plain exit-code protocol: 0 passed, 1 failed, 77 skipped. The TAP
lines ("ok N - …", "1..N") are for people reading the log. Without PROSPECTOR_TEST_PG a suite that
needs PostgreSQL skips, unless PROSPECTOR_REQUIRE_LIVE=1 (CI), when that is a failure.

Environment: PROSPECTOR_BUILD (the meson build dir; default build/), PROSPECTOR_TEST_PG (libpq
keyword conninfo of a superuser), PROSPECTOR_KEEP_TMP=1 keeps the temp dir for inspection.
Python 3 standard library only.
"""

import atexit
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
        conninfo = os.environ.get("PROSPECTOR_TEST_PG")
        if not conninfo:
            skip_all("PROSPECTOR_TEST_PG is not set (tests/run.sh starts a server)")
        if not shutil.which("psql"):
            skip_all("psql not found")
        pg = cls(conninfo, os.environ.get("PROSPECTOR_TEST_PG_HOST"),
                 os.environ.get("PROSPECTOR_TEST_PG_PORT"),
                 os.environ.get("PROSPECTOR_TEST_PG_PASSWORD"))
        r = pg.psql("SELECT 1", check=False)
        if r.returncode != 0:
            skip_all(f"PostgreSQL at PROSPECTOR_TEST_PG does not answer: {r.stderr.strip()}")
        return pg

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
        self.closed = False
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

    # -- configuration ------------------------------------------------------------------------

    def collector_conf(self, port=None, database=None, extra=""):
        self.collector_port = port or self.collector_port or free_port()
        return (f"[collector]\nlisten = tcp://127.0.0.1:{self.collector_port}\n"
                f"database = {database or self.catalog}\n{extra}")

    def agent_conf(self, sources, agent_id="test-agent", state_dir=None, heartbeat="1s",
                   collector_port=None, extra=""):
        """sources: {name: {key: value}}; keys in the order given."""
        state_dir = state_dir or self.path(f"state-{agent_id}")
        os.makedirs(state_dir, exist_ok=True)
        port = collector_port or self.collector_port
        text = (f"[agent]\nid = {agent_id}\ncollector = tcp://127.0.0.1:{port}\n"
                f"state_dir = {state_dir}\nheartbeat = {heartbeat}\n{extra}")
        for name, keys in sources.items():
            text += f'\n[source "{name}"]\n'
            for k, v in keys.items():
                text += f"{k} = {v}\n"
        return text

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
