#!/usr/bin/env python3
"""bench-smoke: the benchmark's generator and statement count at a small scale, as a test.

Against the server tests/run.sh started (PROSPECTOR_TEST_PG), loads tests/bench/gen.py's schema with 30
and then with 300 tables into two fresh databases, crawls each once (`prospector-agent --dump`) with
log_statement = all set on that database only, and counts the statements the crawl sent in the
server's log. The count must be the same for both sizes (DESIGN §3 rules 1-2: a constant number of
bulk catalog queries; a per-table query would add 270) and within the budget of DESIGN §7. Counts
only, never timings: timings are tests/bench/run.sh's.

The log is the one tests/lib/pgserver.sh writes (DIR/postgres.log next to the data directory), read
as a file, or through pg_read_file() when this user cannot open it. A marker statement sent after
the crawl tells when the server has written all of the crawl's lines.
"""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "live"))

import harness  # noqa: E402
from harness import Tap, World, Postgres  # noqa: E402

SIZES = (30, 300)
BUDGET = 12  # statements per crawl, DESIGN §7


def log_reader(pg):
    """A function returning the server log's bytes from an offset, or None when it cannot be read."""
    datadir = pg.psql("SHOW data_directory").stdout.strip()
    path = os.path.join(os.path.dirname(datadir), "postgres.log")

    def from_file(offset):
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()

    def from_sql(offset):
        r = pg.psql(f"SELECT encode(pg_read_binary_file('{path}', {offset}, "
                    f"(pg_stat_file('{path}')).size - {offset}), 'base64')")
        import base64
        return base64.b64decode(r.stdout.replace("\n", ""))

    for reader in (from_file, from_sql):
        try:
            reader(0)[:1]
            return path, reader
        except Exception:  # noqa: BLE001 - try the next way
            continue
    return path, None


def statement_lines(text, db):
    """The statements (simple protocol: "statement:", extended: "execute …:") logged for db."""
    pat = re.compile(rf"\[\d+\] [^@\s]*@{re.escape(db)} LOG:  (?:statement|execute [^:]*): (.*)")
    return [m.group(1) for m in pat.finditer(text)]


def crawl_statements(w, pg, read_log, db):
    """Crawls db once with --dump; (exit status, tables in the dump, statements of the crawl)."""
    start = len(read_log(0))
    conf = w.agent_conf({"bench": {"driver": "pg", "conninfo": pg.conninfo_for(db)}},
                        agent_id=f"smoke-{db}")
    status, dump, err = w.dump(conf, "bench", name=f"dump-{db}")
    marker = f"bench-smoke-marker-{db}"
    pg.psql(f"SELECT '{marker}'", db=db)
    text = harness.wait_for(lambda: (t := read_log(start).decode("utf-8", "replace"))
                            and marker in t and t, 10) or ""
    stmts = [s for s in statement_lines(text, db) if marker not in s]
    if status != 0:
        w.tap.diag(f"agent --dump exited {status}: {err.strip()[-1000:]}")
    tables = sum(1 for o in (dump or {}).values() if o.kind == "table")
    return status, tables, stmts


def load(pg, db, tables, tap):
    pg.create_database(db)
    w_sql = subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "pg", "--tables", str(tables),
                            "--schemas", "3"], stdout=subprocess.PIPE, check=True).stdout
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.conninfo_for(db), "-f", "-"],
                       input=w_sql, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                       env=dict(os.environ, PGCLIENTENCODING="UTF8"))
    tap.ok(r.returncode == 0, f"{db}: gen.py's {tables} tables load", r.stderr.decode(errors="replace")[-1500:])
    # Only this database's sessions log, so the suites running next to us add nothing.
    pg.psql(f'ALTER DATABASE "{db}" SET log_statement = \'all\'')


def main():
    tap = Tap()
    pg = Postgres.from_env()
    harness.require_binaries(harness.AGENT, harness.CLI)
    w = World(tap, "bench-smoke")
    path, read_log = log_reader(pg)
    if read_log is None:
        harness.skip_all(f"cannot read the server log {path} (not a tests/lib/pgserver.sh server?)")
    counts = {}
    for n in SIZES:
        db = f"bench_smoke_{n}"
        w.cleanups.append(lambda db=db: pg.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', check=False))
        started = time.monotonic()
        load(pg, db, n, tap)
        tap.diag(f"{db}: loaded in {time.monotonic() - started:.1f} s")
        status, tables, stmts = crawl_statements(w, pg, read_log, db)
        tap.eq(status, 0, f"{db}: prospector-agent --dump succeeds")
        tap.eq(tables, n, f"{db}: the dump holds all {n} tables")
        tap.ok(stmts, f"{db}: the crawl's statements are in the server log ({len(stmts)})",
               f"nothing logged for @{db} in {path}")
        counts[n] = len(stmts)
        for s in stmts:
            tap.diag(f"  {s[:100]}")
        # agent/driver_pg.c reads the columns on a second connection, on the first one's snapshot.
        tap.ok(any(s.startswith("SET TRANSACTION SNAPSHOT '") for s in stmts),
               f"{db}: a second connection imports the crawl's snapshot")
    tap.eq(counts[SIZES[0]], counts[SIZES[1]],
           f"statements per crawl do not grow with the tables ({SIZES[0]} vs {SIZES[1]})")
    tap.ok(0 < counts[SIZES[1]] <= BUDGET, f"statements per crawl within budget: {counts[SIZES[1]]} <= {BUDGET}")
    tap.done()


if __name__ == "__main__":
    main()
