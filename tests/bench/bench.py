#!/usr/bin/env python3
"""The measurements of tests/bench/run.sh (which builds, starts the servers and sets the environment).

    python3 tests/bench/bench.py [--tables N] [--runs K] [--pg-only | --mysql-only] [--out FILE]

Environment: PROSPECTOR_BUILD, BENCH_PG_CONNINFO (a superuser over the socket of a
tests/lib/pgserver.sh server), BENCH_MARIADB_CONNINFO and BENCH_MARIADB_OPTION_FILE (root of a
tests/lib/mariadb.sh server, its password in that 0600 option file). A server whose variables are
missing is left out.

Per server: loads tests/bench/gen.py's schema (N tables) into a fresh database, then K rounds, each timing
in turn the agent's full crawl + snapshot + delivery (`prospector-agent --once` with a fresh state
directory, against a collector with a fresh catalog), the crawl alone (`--dump`), and the
references: `pg_dump --schema-only` and a raw psql query of pg_attribute, or `mariadb-dump
--no-data`. Figures are medians. One more crawl counts its statements: PostgreSQL logs them
(log_statement = all on the bench database only; tests/bench/smoke.py reads the log), MariaDB counts them
in its Questions status variable. Prints "figure | budget | measured | verdict" and writes the
figures as JSON. Budgets: DESIGN §7; they are set for 10,000 tables, and a smaller run is only
indicative.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "live"))

import harness  # noqa: E402
from harness import Tap, World, Postgres  # noqa: E402
import smoke  # noqa: E402

DB = "bench"
BUDGET = {"pg_ratio": 0.35, "pg_statements": 12, "my_ratio": 0.25, "rss_mb": 64}


def timed(argv, env=None, stdout=subprocess.DEVNULL):
    """(wall seconds, exit status, peak RSS in MB, stderr tail) of one process."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, env=env)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    return wall, p.returncode, ru.ru_maxrss / 1024.0, err.decode("utf-8", "replace")[-800:]


def must(result, what):
    wall, rc, _, err = result
    if rc != 0:
        raise SystemExit(f"bench: {what} exited {rc}: {err}")
    return result


class Agent:
    """Fresh state, a fresh catalog and a collector for every measured --once run."""

    def __init__(self, w, source):
        self.w, self.source, self.n = w, source, 0

    def once(self):
        self.n += 1
        w = self.w
        w.catalog = w.path(f"catalog-{self.n}.db")
        w.collector_port = harness.free_port()
        conf = w.write(f"agent-{self.n}.conf",
                       w.agent_conf({"bench": self.source}, agent_id="bench-agent",
                                    state_dir=w.path(f"state-{self.n}")))
        w.start_collector()
        try:
            return must(timed([harness.AGENT, "-c", conf, "--once", "--timeout", "3600"]), "agent --once")
        finally:
            w.collector.stop()

    def dump(self):
        self.w.collector_port = self.w.collector_port or harness.free_port()
        conf = self.w.write("agent-dump.conf", self.w.agent_conf(
            {"bench": self.source}, agent_id="bench-agent", state_dir=self.w.path("state-dump")))
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
    agent = Agent(w, {"driver": "pg", "conninfo": conninfo})
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
    for k, v in r.items():
        res[f"pg_{k}_s"] = median([x[0] for x in v])
        res[f"pg_{k}_all_s"] = [round(x[0], 4) for x in v]
    res["pg_agent_peak_rss_mb"] = max(x[2] for x in r["agent_once"])
    res["pg_ratio_dump"] = res["pg_agent_once_s"] / res["pg_pg_dump_s"]
    res["pg_ratio_attr"] = res["pg_agent_once_s"] / res["pg_psql_attr_s"]
    # The statement count, on a crawl of its own: logging every statement slows the server down.
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
    agent = Agent(w, {"driver": "mysql", "conninfo": os.environ["BENCH_MARIADB_CONNINFO"]})
    r = rounds(args.runs, {
        "agent_once": agent.once,
        "agent_dump": agent.dump,
        "mariadb_dump": lambda: must(timed(["mariadb-dump", f"--defaults-file={cnf}", "--no-data",
                                            "--databases", *dbs]), "mariadb-dump"),
    })
    for k, v in r.items():
        res[f"my_{k}_s"] = median([x[0] for x in v])
        res[f"my_{k}_all_s"] = [round(x[0], 4) for x in v]
    res["my_agent_peak_rss_mb"] = max(x[2] for x in r["agent_once"])
    res["my_ratio_dump"] = res["my_agent_once_s"] / res["my_mariadb_dump_s"]

    def questions():
        return int(q("SHOW GLOBAL STATUS LIKE 'Questions'").split()[1])
    idle = -questions() + questions()  # what the reading itself adds
    before = questions()
    agent.dump()
    res["my_statements"] = questions() - before - idle


def verdict(value, budget):
    if value is None:
        return "n/a"
    return "ok" if value <= budget else "OVER"


def report(res):
    rows = []
    if "pg_agent_once_s" in res:
        rows += [
            ("PG agent --once (crawl+snapshot+deliver), s", "-", f"{res['pg_agent_once_s']:.3f}", ""),
            ("PG agent --dump (crawl only), s", "-", f"{res['pg_agent_dump_s']:.3f}", ""),
            ("PG pg_dump --schema-only, s", "-", f"{res['pg_pg_dump_s']:.3f}", ""),
            ("PG psql pg_attribute query, s", "-", f"{res['pg_psql_attr_s']:.3f}", ""),
            ("PG agent / pg_dump", f"<= {BUDGET['pg_ratio']}", f"{res['pg_ratio_dump']:.3f}",
             verdict(res["pg_ratio_dump"], BUDGET["pg_ratio"])),
            ("PG agent / pg_attribute query", "-", f"{res['pg_ratio_attr']:.2f}", ""),
            ("PG statements per crawl", f"<= {BUDGET['pg_statements']}", str(res.get("pg_statements")),
             verdict(res.get("pg_statements"), BUDGET["pg_statements"])),
            ("PG agent peak RSS, MB", f"<= {BUDGET['rss_mb']}", f"{res['pg_agent_peak_rss_mb']:.1f}",
             verdict(res["pg_agent_peak_rss_mb"], BUDGET["rss_mb"])),
        ]
    if "my_agent_once_s" in res:
        rows += [
            ("MariaDB agent --once, s", "-", f"{res['my_agent_once_s']:.3f}", ""),
            ("MariaDB agent --dump (crawl only), s", "-", f"{res['my_agent_dump_s']:.3f}", ""),
            ("MariaDB mariadb-dump --no-data, s", "-", f"{res['my_mariadb_dump_s']:.3f}", ""),
            ("MariaDB agent / mariadb-dump", f"<= {BUDGET['my_ratio']}", f"{res['my_ratio_dump']:.3f}",
             verdict(res["my_ratio_dump"], BUDGET["my_ratio"])),
            ("MariaDB statements per crawl", "-", str(res.get("my_statements")), ""),
            ("MariaDB agent peak RSS, MB", f"<= {BUDGET['rss_mb']}", f"{res['my_agent_peak_rss_mb']:.1f}",
             verdict(res["my_agent_peak_rss_mb"], BUDGET["rss_mb"])),
        ]
    head = ("figure", "budget", "measured", "verdict")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
    for r in [head, tuple("-" * x for x in widths)] + rows:
        print(" | ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    if res["tables"] < 10000:
        print(f"(budgets are for 10,000 tables; this run had {res['tables']}: indicative only)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pg-only", action="store_true")
    ap.add_argument("--mysql-only", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    args = ap.parse_args()
    harness.require_binaries()
    w = World(Tap(), "bench")
    res = {"tables": args.tables, "runs": args.runs, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "host": {"cpus": os.cpu_count(), "machine": platform.machine(), "kernel": platform.release()},
           "budgets": BUDGET}
    if not args.mysql_only and os.environ.get("BENCH_PG_CONNINFO"):
        bench_pg(w, args, res)
    if not args.pg_only and os.environ.get("BENCH_MARIADB_CONNINFO"):
        bench_mariadb(w, args, res)
    report(res)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=2, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
