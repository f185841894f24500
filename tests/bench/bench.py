#!/usr/bin/env python3
"""The measurements of tests/bench/run.sh (which builds, starts the servers and sets the environment).

    python3 tests/bench/bench.py [--tables N] [--runs K] [--pg-only | --mysql-only] [--out FILE]

Environment: PROSPECTOR_BUILD, BENCH_PG_CONNINFO (a superuser over the socket of a
tests/lib/pgserver.sh server), BENCH_MARIADB_CONNINFO and BENCH_MARIADB_OPTION_FILE (root of a
tests/lib/mariadb.sh server, its password in that 0600 option file). A server whose variables are
missing is left out.

Per server: loads tests/bench/gen.py's schema (N tables, about 20 columns each) into a fresh
database, then K rounds, each timing in turn the agent's full crawl + snapshot + delivery
(`prospector-agent --once` with a fresh state directory, against a collector with a fresh catalog),
the crawl alone (`--dump`), and the references: `pg_dump --schema-only` and a raw psql query of
pg_attribute, or `mariadb-dump --no-data`. Figures are medians; peak RSS is the largest of the
--once runs. The budgeted "crawl + snapshot" is the agent's own account in its log of a --once run:
the crawl, and storing its batches and snapshot durably in the outbox. Delivery is asynchronous
(the outbox), and the collector's apply has a budget of its own (bench-collector below), so --once's
wall time, which includes both, is shown beside it without a budget.

Statements per crawl, on a crawl of their own. PostgreSQL: every statement the agent's session sent
(log_statement = all on the bench database only; tests/bench/smoke.py reads the log), BEGIN and
COMMIT included. MariaDB: the server's general log during one `--dump`; the driver connects anew
for every crawl, so each crawl is one thread of the log, and the figure is one crawl's Query
commands, SET, START TRANSACTION and COMMIT included (not the protocol's Connect and Quit). A
first crawl of a source whose catalog is not transactional is settled by a second (agent/source.c)
unless the MariaDB driver proved the catalog did not move while it read (driver_ops.quiet); the
number of crawls of the --dump is reported beside it, and the agent's log gives the --once runs'.

PostgreSQL's unchanged cycle (a daemon, not --once): the agent runs as a daemon (interval a few
times the --once time, at least 5 s; splay 0; the default heartbeat of 30 s) against a fresh
collector, through a byte-counting TCP relay (tests/bench/relay.py). Its first cycle delivers the
database. The window opens once the collector has applied all of the first crawl's batches (their
number is in the agent's log, the applied sequence in `prospector status --json`), the agent has
then sent nothing for a second, and the next crawl is not yet due (status' next_run); it closes when
status shows a crawl that started after it opened: the second, unchanged cycle. In the window: the
history rows written (count of the catalog's history table) and the bytes the agent sent the
collector, which include the status heartbeat sent after every crawl and ZeroMQ's keep-alive pings
(every 5 s), CURVE framing included. A second later, while the daemon sleeps until its next cycle,
its VmRSS (idle RSS; split into RssAnon, the heap, and RssFile, the binary and shared libraries)
and VmHWM (the daemon's peak over both cycles) from /proc/PID/status. Then one table gets a column
(dropped again afterwards) and the daemon's next cycle is a changed one, which loads the stored
snapshot to diff the crawl against it: VmHWM a second after that cycle is its peak over all three.

The C benchmarks of tests/bench, when built: BUILD/tests/bench/bench-diff (diff of two snapshots of
N×20 columns) and BUILD/tests/bench/bench-collector (initial apply of such a snapshot, change rows
per second with durable commits, one table's history among many rows), each run with --tables N
and printing one JSON object: it is kept in the results under the program's name, and its timings
(keys ending in _ms, _s, _per_s: diff_ms, initial_apply_s, change_rows_per_s, history_query_ms …)
at the top level as well. Programs not built show as n/a.

Prints "figure | budget | measured | verdict" and writes the figures as JSON. Budgets: DESIGN §7;
they are set for 10,000 tables (200,000 columns), and a smaller run is only indicative.
"""

import argparse
from datetime import datetime
import json
import math
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "live"))

import harness  # noqa: E402
from harness import Tap, World, Postgres  # noqa: E402
from relay import Relay  # noqa: E402
import smoke  # noqa: E402

DB = "bench"
BUDGET = {"pg_ratio": 0.35, "pg_statements": 12, "my_ratio": 0.25, "rss_mb": 64, "idle_rss_mb": 16,
          "unchanged_history_rows": 0, "unchanged_bytes": 1024, "diff_ms": 150, "initial_apply_s": 5,
          "change_rows_per_s": 50000, "history_query_ms": 20}
CYCLE_TIMEOUT = 600  # seconds for a daemon cycle to show in the catalog: only a broken run takes that


def timed(argv, env=None, stdout=subprocess.DEVNULL):
    """(wall seconds, exit status, peak RSS in MB, stderr) of one process."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, env=env)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    return wall, p.returncode, ru.ru_maxrss / 1024.0, err.decode("utf-8", "replace")


def must(result, what):
    wall, rc, _, err = result
    if rc != 0:
        raise SystemExit(f"bench: {what} exited {rc}: {err[-800:]}")
    return result


# The agent logs how long a crawl that found something took, how many crawls that was when more than
# one (a settle), and how long storing its batches and snapshot in the outbox took:
# "source bench: first snapshot, … (crawl 2.13 s, store 0.81 s)", "(crawl 7.25 s in 2 crawls, …)".
PHASES = re.compile(r"\(crawl ([0-9.]+) s(?: in ([0-9]+) crawls)?, store ([0-9.]+) s\)")


def agent_figures(r, res, prefix, reference):
    """The figures of one server's rounds r ({measure: [timed results]}): each measure's median and runs,
    the --once runs' peak RSS, the crawl and store times they logged (medians), and the agent against
    the reference measure. The crawl + snapshot of DESIGN §7 is the crawl and the store: the snapshot
    is taken when it is durably stored, whatever delivery does after."""
    for k, v in r.items():
        res[f"{prefix}_{k}_s"] = median([x[0] for x in v])
        res[f"{prefix}_{k}_all_s"] = [round(x[0], 4) for x in v]
    res[f"{prefix}_agent_peak_rss_mb"] = max(x[2] for x in r["agent_once"])
    res[f"{prefix}_agent_peak_rss_all_mb"] = [round(x[2], 1) for x in r["agent_once"]]
    ref = res[f"{prefix}_{reference}_s"]
    res[f"{prefix}_ratio_dump"] = res[f"{prefix}_agent_once_s"] / ref
    phases = [m.groups() for m in (PHASES.search(x[3]) for x in r["agent_once"]) if m]
    if phases:
        res[f"{prefix}_agent_crawl_s"] = median([float(c) for c, _, _ in phases])
        res[f"{prefix}_agent_crawls"] = [int(n or 1) for _, n, _ in phases]
        res[f"{prefix}_agent_store_s"] = median([float(s) for _, _, s in phases])
        res[f"{prefix}_agent_snapshot_s"] = median([float(c) + float(s) for c, _, s in phases])
        res[f"{prefix}_ratio_snapshot"] = res[f"{prefix}_agent_snapshot_s"] / ref


class Agent:
    """The agent's runs against the bench database: every --once run and the daemon get fresh state, a
    fresh catalog and a collector of their own."""

    def __init__(self, w, name, source):
        self.w, self.name, self.source, self.n = w, name, source, 0

    def run_name(self):
        """The run's files: named after the server too, so that the MariaDB runs never pick up the state a
        PostgreSQL run left (a state of another database makes a --once a mass drop, not a first crawl)."""
        return f"{self.name}-{self.n}"

    def fresh(self):
        """A fresh catalog, collector port and state directory for the next run."""
        self.n += 1
        self.w.catalog = self.w.path(f"catalog-{self.run_name()}.db")
        self.w.collector_port = harness.free_port()

    def conf(self, agent_id="bench-agent", port=None, heartbeat="1s", extra="", **source_keys):
        """The run's agent configuration (enrolling the agent in the catalog), its collector at port or
        at the world's; extra: more [agent] lines; source_keys: more keys of the source."""
        return self.w.agent_conf({"bench": dict(self.source, **source_keys)}, agent_id=agent_id,
                                 state_dir=self.w.path(f"state-{self.run_name()}"), heartbeat=heartbeat,
                                 collector_port=port, extra=extra)

    def once(self):
        self.fresh()
        conf = self.w.write(f"agent-{self.run_name()}.conf", self.conf())
        self.w.start_collector()
        try:
            result = must(timed([harness.AGENT, "-c", conf, "--once", "--timeout", "3600"]), "agent --once")
        finally:
            self.w.collector.stop()
        # What the agent said of its source (the crawl and store times, a settle or a warning).
        for line in result[3].splitlines():
            if "source bench" in line:
                print(f"    {line}", flush=True)
        return result

    def dump(self):
        self.w.collector_port = self.w.collector_port or harness.free_port()
        conf = self.w.write(f"agent-dump-{self.name}.conf", self.w.agent_conf(
            {"bench": self.source}, agent_id="bench-agent", state_dir=self.w.path(f"state-dump-{self.name}")))
        return must(timed([harness.AGENT, "-c", conf, "--dump", "bench"]), "agent --dump")


def median(xs):
    return statistics.median(xs) if xs else None


def rounds(runs, measures):
    """measures: {name: fn() -> timed result}; run in turn, runs times; {name: [results]}."""
    out = {k: [] for k in measures}
    for i in range(runs):
        for name, fn in measures.items():
            out[name].append(fn())
            print(f"  run {i + 1}/{runs} {name}: {out[name][-1][0]:.3f} s", flush=True)
    return out


def load(argv_client, dialect, tables, env=None):
    sql = subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), dialect, "--tables", str(tables)],
                         stdout=subprocess.PIPE, check=True).stdout
    t0 = time.monotonic()
    r = subprocess.run(argv_client, input=sql, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if r.returncode != 0:
        raise SystemExit(f"bench: loading the {dialect} schema failed: {r.stderr.decode()[-1500:]}")
    return time.monotonic() - t0


# -- the daemon's unchanged cycle -------------------------------------------------------------------

def history_rows(catalog):
    db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=60)
    try:
        return db.execute("SELECT count(*) FROM history").fetchone()[0]
    finally:
        db.close()


def proc_status(pid):
    """/proc/PID/status as {field: value}; sizes in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def kb_to_mb(value):
    return int(value.split()[0]) / 1024.0


def unix_ms(rfc3339):
    """Milliseconds since the epoch of an RFC 3339 UTC time of the CLI's; 0 for none."""
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000 if rfc3339 else 0


def daemon_status(w, agent_id):
    """(the agent's status, its source "bench"'s status) from `prospector status --json`."""
    for agent in w.status().get("agents", []):
        if agent.get("id") == agent_id:
            return agent, next((s for s in agent.get("sources", []) if s.get("name") == "bench"), None)
    return None, None


def wait_or_die(proc, cond, what):
    """Waits for cond() like harness.wait_for; the agent's death or the deadline ends the bench."""
    value = harness.wait_for(lambda: cond() or (not proc.alive() and "died"), CYCLE_TIMEOUT)
    if not value or value == "died":
        raise SystemExit(f"bench: daemon agent: {what} did not happen "
                         f"({'exited' if not proc.alive() else 'timed out'}):\n{proc.output()[-2000:]}")
    return value


def wait_quiet(relay, quiet=1.0):
    """Until the agent has sent nothing for quiet seconds: the first cycle's last batch may have a
    heartbeat right behind it, and that belongs to the first cycle."""
    while True:
        before = relay.sent()
        time.sleep(quiet)
        if relay.sent() == before:
            return


def crawl_since(w, agent_id, t_ms):
    """The source's status when it shows a finished crawl that started at t_ms or later, else None."""
    s = daemon_status(w, agent_id)[1]
    if s and s.get("last_end") and unix_ms(s["last_start"]) >= t_ms and unix_ms(s["last_end"]) >= t_ms:
        return s
    return None


def window_start(w, proc, agent_id, relay):
    """(time in ms, bytes sent so far) at a quiet moment before the next crawl is due, as the
    agent's last heartbeat announced it; a crawl already due is let finish first."""
    while True:
        wait_quiet(relay)
        t, sent = time.time() * 1000, relay.sent()
        src = daemon_status(w, agent_id)[1] or {}
        if unix_ms(src.get("next_run")) > t:
            return t, sent
        wait_or_die(proc, lambda: crawl_since(w, agent_id, unix_ms(src.get("last_start")) + 1), "a crawl")


def first_cycle(w, proc, agent_id):
    """Waits until the collector applied every batch of the daemon's first crawl; their number."""
    first = re.compile(r"source bench: first snapshot, \d+ objects in (\d+) batches")
    batches = int(wait_or_die(proc, lambda: (m := first.search(proc.output())) and m.group(1), "the first crawl"))
    wait_or_die(proc, lambda: (daemon_status(w, agent_id)[0] or {}).get("last_seq", 0) >= batches,
                f"the collector applying all {batches} batches of the first crawl")
    return batches


def changed_cycle(w, proc, agent_id, change):
    """A cycle after change(True) altered the database (change(False) undoes it): the daemon's
    /proc status a second after it."""
    t = time.time() * 1000
    changed = re.compile(r"source bench: changed, \d+ changed objects")
    change(True)
    try:
        wait_or_die(proc, lambda: crawl_since(w, agent_id, t) and changed.search(proc.output()), "a changed crawl")
        time.sleep(1.0)
        return proc_status(proc.p.pid)
    finally:
        change(False)


def unchanged_cycle(w, agent, interval, res, prefix, change):
    """The daemon's first cycle (delivery), then its second of an unchanged database: res gets the
    history rows and bytes of the second, the daemon's idle RSS and peak; then a third after
    change, and the peak over all three."""
    agent_id = "bench-daemon"
    agent.fresh()
    relay = Relay(w.collector_port)
    conf = agent.conf(agent_id, port=relay.port, heartbeat="30s", extra="splay = 0s\n", interval=f"{interval}s")
    w.start_collector()
    try:
        proc = w.start_agent(conf, name=f"agent-daemon-{agent.n}")
        batches = first_cycle(w, proc, agent_id)
        t1, sent1 = window_start(w, proc, agent_id, relay)
        hist1 = history_rows(w.catalog)
        wait_or_die(proc, lambda: crawl_since(w, agent_id, t1), "a second crawl")
        t2, sent2, hist2 = time.time() * 1000, relay.sent(), history_rows(w.catalog)
        time.sleep(1.0)  # the heartbeat after the crawl is out: the daemon sleeps until the next cycle
        st = proc_status(proc.p.pid)
        st_changed = changed_cycle(w, proc, agent_id, change)
        proc.stop()
    finally:
        w.collector.stop()
        relay.close()
    res.update({f"{prefix}_daemon_interval_s": interval, f"{prefix}_first_cycle_batches": batches,
                f"{prefix}_unchanged_window_s": (t2 - t1) / 1000, f"{prefix}_unchanged_history_rows": hist2 - hist1,
                f"{prefix}_unchanged_bytes": sent2 - sent1, f"{prefix}_agent_idle_rss_mb": kb_to_mb(st["VmRSS"]),
                f"{prefix}_agent_idle_rss_anon_mb": kb_to_mb(st["RssAnon"]),
                f"{prefix}_agent_idle_rss_file_mb": kb_to_mb(st["RssFile"]),
                f"{prefix}_agent_daemon_hwm_mb": kb_to_mb(st["VmHWM"]),
                f"{prefix}_agent_changed_hwm_mb": kb_to_mb(st_changed["VmHWM"])})
    print(f"  unchanged cycle: {hist2 - hist1} history rows, {sent2 - sent1} bytes in {(t2 - t1) / 1000:.1f} s; "
          f"idle RSS {kb_to_mb(st['VmRSS']):.1f} MB", flush=True)


# -- PostgreSQL --------------------------------------------------------------------------------------

def pg_statements(pg, agent, res):
    """The statements of one crawl, on a crawl of its own: logging every statement slows the server."""
    path, read_log = smoke.log_reader(pg)
    if read_log is None:
        res["pg_statements"] = None
        print(f"PostgreSQL: cannot read {path}; no statement count", flush=True)
        return
    pg.psql(f"ALTER DATABASE {DB} SET log_statement = 'all'")
    try:
        start = len(read_log(0))
        agent.once()
        marker = "bench-marker-statements"
        pg.psql(f"SELECT '{marker}'", db=DB)
        text = harness.wait_for(lambda: (t := read_log(start).decode("utf-8", "replace")) and marker in t and t,
                                10) or ""
        res["pg_statements"] = len([s for s in smoke.statement_lines(text, DB) if marker not in s])
    finally:
        pg.psql(f"ALTER DATABASE {DB} RESET log_statement")


def bench_pg(w, args, res):
    pg = Postgres(os.environ["BENCH_PG_CONNINFO"])
    env = dict(os.environ, PGCLIENTENCODING="UTF8")
    conninfo = pg.create_database(DB)
    print(f"PostgreSQL: loading {args.tables} tables", flush=True)
    res["pg_load_s"] = load(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", "-"],
                            "pg", args.tables, env)
    pg.psql("VACUUM ANALYZE", db=DB)
    res["pg_columns"] = int(pg.psql("SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                                    "WHERE c.relnamespace::regnamespace::text LIKE 'bench%' AND c.relkind = 'r' "
                                    "AND a.attnum > 0 AND NOT a.attisdropped", db=DB).stdout)
    agent = Agent(w, "pg", {"driver": "pg", "conninfo": conninfo})
    attr_sql = ("SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                "col_description(c.oid, a.attnum) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.attnum > 0 AND NOT a.attisdropped "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')")
    r = rounds(args.runs, {
        "agent_once": agent.once,
        "agent_dump": agent.dump,
        "pg_dump": lambda: must(timed(["pg_dump", "--schema-only", "-d", conninfo, "-f", "/dev/null"], env),
                                "pg_dump"),
        "psql_attr": lambda: must(timed(["psql", "-X", "-q", "-A", "-t", "-d", conninfo, "-c", attr_sql], env),
                                  "psql"),
    })
    agent_figures(r, res, "pg", "pg_dump")
    res["pg_ratio_attr"] = res["pg_agent_once_s"] / res["pg_psql_attr_s"]
    pg_statements(pg, agent, res)
    # Long enough for the first cycle's delivery to end before the second crawl starts (should it
    # not, the wait simply takes the next crawl), short enough to stay within one heartbeat period.
    print("PostgreSQL: the daemon's unchanged cycle", flush=True)
    unchanged_cycle(w, agent, max(5, math.ceil(3 * res["pg_agent_once_s"]) + 2), res, "pg",
                    lambda on: pg.psql(f"ALTER TABLE bench_s01.t00000 {'ADD' if on else 'DROP'} COLUMN "
                                       f"bench_changed{' integer' if on else ''}", db=DB))


# -- MariaDB -----------------------------------------------------------------------------------------

def general_log(q, fn):
    """Runs fn with the server's general log on, into its table; returns {thread id: [(command,
    argument)]} of every session logged, in order."""
    saved = q("SELECT @@GLOBAL.log_output").strip()
    q("SET GLOBAL log_output = 'TABLE'")
    q("TRUNCATE TABLE mysql.general_log")
    q("SET GLOBAL general_log = ON")
    try:
        fn()
    finally:
        q("SET GLOBAL general_log = OFF")
        q(f"SET GLOBAL log_output = '{saved}'")
    text = q("SELECT thread_id, command_type, REPLACE(REPLACE(CONVERT(argument USING utf8mb4), '\\n', ' '), "
             "'\\t', ' ') FROM mysql.general_log")
    q("TRUNCATE TABLE mysql.general_log")
    threads = {}
    for line in text.splitlines():
        tid, command, argument = (line.split("\t", 2) + ["", ""])[:3]
        threads.setdefault(tid, []).append((command, argument))
    return threads


def my_statements(q, agent, res):
    """One crawl's statements from the general log of one --dump (each crawl is a session of its own);
    the sessions that switch the log are ours, not the agent's."""
    threads = general_log(q, agent.dump)
    crawls = [[arg for cmd, arg in rows if cmd in ("Query", "Execute")] for rows in threads.values()
              if not any("general_log" in arg for _, arg in rows) and any(cmd == "Query" for cmd, _ in rows)]
    counts = [len(c) for c in crawls]
    res["my_dump_crawls"] = len(crawls)
    res["my_statements_each_crawl"] = counts
    res["my_statements"] = counts[0] if counts and len(set(counts)) == 1 else None
    res["my_statement_list"] = [s[:120] for s in crawls[0]] if crawls else []
    if res["my_statements"] is None:
        print(f"MariaDB: the crawls of one --dump sent different numbers of statements: {counts}", flush=True)


def bench_mariadb(w, args, res):
    cnf = os.environ["BENCH_MARIADB_OPTION_FILE"]
    client = ["mariadb", f"--defaults-file={cnf}", "--batch", "--skip-column-names"]

    def q(sql):
        return subprocess.run(client + ["-e", sql], stdout=subprocess.PIPE, check=True, text=True).stdout

    dbs = [f"bench_s{i + 1:02d}" for i in range(min(10, args.tables))]
    q("".join(f"DROP DATABASE IF EXISTS `{d}`;" for d in dbs))
    print(f"MariaDB: loading {args.tables} tables", flush=True)
    res["my_load_s"] = load(client, "mariadb", args.tables)
    res["my_version"] = q("SELECT VERSION()").strip()
    agent = Agent(w, "mariadb", {"driver": "mysql", "conninfo": os.environ["BENCH_MARIADB_CONNINFO"]})
    r = rounds(args.runs, {
        "agent_once": agent.once,
        "agent_dump": agent.dump,
        "mariadb_dump": lambda: must(timed(["mariadb-dump", f"--defaults-file={cnf}", "--no-data",
                                            "--databases", *dbs]), "mariadb-dump"),
    })
    agent_figures(r, res, "my", "mariadb_dump")
    my_statements(q, agent, res)


# -- the C benchmarks --------------------------------------------------------------------------------

PROGRAMS = ("bench-diff", "bench-collector")


def run_program(path, args):
    """The one JSON object path --tables N printed; raises ValueError saying why there is none."""
    r = subprocess.run([path, "--tables", str(args.tables)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
    try:
        if r.returncode != 0:
            raise ValueError(f"exited {r.returncode}")
        figures = json.loads(r.stdout)
        if not isinstance(figures, dict):
            raise ValueError("printed JSON that is not an object")
        return figures
    except ValueError as e:
        raise ValueError(f"{e}: {r.stderr.strip()[-800:]}") from None


FIGURE_SUFFIXES = ("_ms", "_s", "_per_s")  # a program's timings; its other keys describe the run


def bench_programs(args, res):
    """Runs each built program of PROGRAMS with --tables N. Its JSON object goes into res under the
    program's name, and its timings (keys ending in FIGURE_SUFFIXES) into res itself as well.
    res["programs"] says which ran: ok, not built, or the error."""
    res["programs"] = {}
    for name in PROGRAMS:
        path = os.path.join(harness.BUILD, "tests", "bench", name)
        if not os.access(path, os.X_OK):
            res["programs"][name] = "not built"
            print(f"{name}: not built ({path}); its figures are n/a", flush=True)
            continue
        print(f"{name}: running with --tables {args.tables}", flush=True)
        t0 = time.monotonic()
        try:
            figures = run_program(path, args)
        except ValueError as e:
            res["programs"][name] = str(e)
            print(f"{name}: {e}", flush=True)
            continue
        print(f"  {name}: done in {time.monotonic() - t0:.1f} s", flush=True)
        res["programs"][name] = "ok"
        res[name] = figures
        res.update({k: v for k, v in figures.items() if k.endswith(FIGURE_SUFFIXES)})


# -- the report --------------------------------------------------------------------------------------

def row(label, value, fmt, budget=None, at_least=False):
    """(figure, budget, measured, verdict); budget None: none set; at_least: a floor, not a ceiling."""
    shown = "n/a" if value is None else format(value, fmt)
    if budget is None:
        return label, "-", shown, ""
    limit = f"{'>=' if at_least else '<='} {budget}"
    if value is None:
        return label, limit, shown, "n/a"
    within = value >= budget if at_least else value <= budget
    return label, limit, shown, "ok" if within else ("UNDER" if at_least else "OVER")


def agent_rows(res, prefix, server, reference, reference_label, budget):
    """The rows agent_figures' figures make, the same for every server."""
    g = res.get
    tool = reference_label.split()[0]
    crawls = sorted(set(g(f"{prefix}_agent_crawls") or []))
    return [
        row(f"{server} agent crawl + snapshot stored (its log), s", g(f"{prefix}_agent_snapshot_s"), ".3f"),
        row(f"  of which the crawl (crawls per run: {', '.join(map(str, crawls)) or '?'}), s",
            g(f"{prefix}_agent_crawl_s"), ".3f"),
        row("  of which storing batches and snapshot, s", g(f"{prefix}_agent_store_s"), ".3f"),
        row(f"{server} agent --once (crawl, store, deliver, collector applies), s", g(f"{prefix}_agent_once_s"),
            ".3f"),
        row(f"{server} agent --dump (crawl, printed), s", g(f"{prefix}_agent_dump_s"), ".3f"),
        row(f"{server} {reference_label}, s", g(f"{prefix}_{reference}_s"), ".3f"),
        row(f"{server} agent crawl + snapshot / {tool}", g(f"{prefix}_ratio_snapshot"), ".3f", budget),
        row(f"{server} agent --once / {tool}", g(f"{prefix}_ratio_dump"), ".3f"),
    ]


def pg_rows(res):
    g = res.get
    return agent_rows(res, "pg", "PG", "pg_dump", "pg_dump --schema-only", BUDGET["pg_ratio"]) + [
        row("PG psql pg_attribute query, s", g("pg_psql_attr_s"), ".3f"),
        row("PG agent --once / pg_attribute query", g("pg_ratio_attr"), ".2f"),
        row("PG statements per crawl", g("pg_statements"), "d", BUDGET["pg_statements"]),
        row("PG agent peak RSS (--once), MB", g("pg_agent_peak_rss_mb"), ".1f", BUDGET["rss_mb"]),
        row("PG unchanged cycle: history rows written", g("pg_unchanged_history_rows"), "d",
            BUDGET["unchanged_history_rows"]),
        row(f"PG unchanged cycle: bytes sent ({g('pg_unchanged_window_s') or 0:.0f} s, heartbeats incl.)",
            g("pg_unchanged_bytes"), "d", BUDGET["unchanged_bytes"]),
        row("PG agent idle RSS (daemon between cycles), MB", g("pg_agent_idle_rss_mb"), ".1f",
            BUDGET["idle_rss_mb"]),
        row("  of which anonymous (heap, stacks), MB", g("pg_agent_idle_rss_anon_mb"), ".1f"),
        row("  of which file-backed (binary, shared libraries), MB", g("pg_agent_idle_rss_file_mb"), ".1f"),
        row("PG agent daemon peak RSS (VmHWM), MB", g("pg_agent_daemon_hwm_mb"), ".1f", BUDGET["rss_mb"]),
        row("PG agent daemon peak RSS with a changed cycle (VmHWM), MB", g("pg_agent_changed_hwm_mb"), ".1f",
            BUDGET["rss_mb"]),
    ]


def program_rows(res):
    g = res.get
    cols = g("bench-diff", {}).get("columns") or res["tables"] * 20
    history = g("bench-collector", {}).get("history_rows")
    history = f"{history:,}" if isinstance(history, int) else "the"
    return [
        row(f"diff of two {cols:,}-column snapshots, ms", g("diff_ms"), ".1f", BUDGET["diff_ms"]),
        row("diff of two identical snapshots, ms", g("diff_unchanged_ms"), ".1f"),
        row(f"collector initial {cols:,}-column apply, s", g("initial_apply_s"), ".3f", BUDGET["initial_apply_s"]),
        row("  of which ingest's CPU, s", g("initial_cpu_s"), ".3f"),
        row("collector change rows/s, durable", g("change_rows_per_s"), ",.0f", BUDGET["change_rows_per_s"],
            at_least=True),
        row("  ingest's CPU for the change rows, s", g("change_cpu_s"), ".3f"),
        row(f"one table's history among {history} history rows, ms", g("history_query_ms"), ".2f",
            BUDGET["history_query_ms"]),
        row("  of which its SQL statement, ms", g("history_query_sql_ms"), ".3f"),
    ]


def my_rows(res):
    g = res.get
    crawls = g("my_dump_crawls")
    return agent_rows(res, "my", "MariaDB", "mariadb_dump", "mariadb-dump --no-data",
                      BUDGET["my_ratio"]) + [
        row(f"MariaDB statements per crawl (--dump crawled {crawls or '?'} times)", g("my_statements"), "d"),
        row("MariaDB agent peak RSS (--once), MB", g("my_agent_peak_rss_mb"), ".1f", BUDGET["rss_mb"]),
    ]


def report(res):
    rows = []
    if "pg_agent_once_s" in res:
        rows += pg_rows(res)
    if "programs" in res:
        rows += program_rows(res)
    if "my_agent_once_s" in res:
        rows += my_rows(res)
    head = ("figure", "budget", "measured", "verdict")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
    for r in [head, tuple("-" * x for x in widths)] + rows:
        print(" | ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    if res["tables"] < 10000:
        print(f"(budgets are for 10,000 tables; this run had {res['tables']}: indicative only)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", type=int, default=10000, help="tables in the synthetic schema (default 10000)")
    ap.add_argument("--runs", type=int, default=5, help="timed rounds; figures are medians (default 5)")
    ap.add_argument("--pg-only", action="store_true", help="PostgreSQL and the C benchmarks only")
    ap.add_argument("--mysql-only", action="store_true", help="MariaDB only")
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"), help="where the JSON figures go")
    args = ap.parse_args()
    harness.require_binaries()
    w = World(Tap(), "bench")
    res = {"tables": args.tables, "runs": args.runs, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "host": {"cpus": os.cpu_count(), "machine": platform.machine(), "kernel": platform.release()},
           "budgets": BUDGET}
    if not args.mysql_only and os.environ.get("BENCH_PG_CONNINFO"):
        bench_pg(w, args, res)
    if not args.mysql_only:
        bench_programs(args, res)
    if not args.pg_only and os.environ.get("BENCH_MARIADB_CONNINFO"):
        bench_mariadb(w, args, res)
    report(res)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=2, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
