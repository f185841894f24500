#!/usr/bin/env python3
"""The source database fails under the agent: a crawl that does not finish, and a role that loses
its privileges, change nothing in the catalog.

A PostgreSQL server of the suite's own (tests/lib/pgserver.sh), so that it can be stopped; agents
reach it by its unix socket.

a. Server stopped in the middle of a crawl. To have a crawl in flight at a known moment, a separate
   session holds `LOCK TABLE adults IN ACCESS EXCLUSIVE MODE` in an open transaction: the crawl's
   pg_get_viewdef() needs an ACCESS SHARE lock on the view and waits (the source's timeout, which
   is also the crawl's lock_timeout, is 60 s). Once pg_stat_activity shows the agent's backend
   waiting on that lock, the server is stopped (fast: every session is cut off) and started again.
   The failed crawl records nothing (no DROP, no row at all), status shows the source failing
   while the server is down, nothing spurious appears once it is back, and a real change then
   arrives exactly once.

b. A role that loses privileges. The agent crawls as a non-superuser role (trusted on the socket)
   ten tables in public and two in schema s2. Then: REVOKE ALL on half of the tables, REVOKE USAGE
   on s2: pg_catalog still shows every table, so several crawls change nothing (no DROP). REVOKE
   CONNECT on the database: crawls fail (status says so) and still nothing is dropped. With CONNECT
   back, a real DROP TABLE of one of the revoked tables shows up as exactly one DROP of that table
   (and of its columns and key), and the catalog equals what `prospector-agent --dump` reads.
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Postgres, Tap, World, dump_json, require_binaries,  # noqa: E402
                     wait_for)
from faultlib import (catalog_rows, check_catalog_matches, check_exactly_once,  # noqa: E402
                      history_ro)

# -- a. the server stopped during a crawl -----------------------------------------------------------

DB_A = "prospector_fault_stop"
SRC_A = "stopped"
PREFIX_A = f"{SRC_A}/{DB_A}/public/"
SETUP_A = """
CREATE TABLE household (id integer PRIMARY KEY, address text NOT NULL);
CREATE TABLE person (id integer PRIMARY KEY, name varchar(50) NOT NULL,
                     household_id integer REFERENCES household (id));
CREATE VIEW adults AS SELECT id, name FROM person;
COMMENT ON TABLE person IS '人口基本信息';
"""

# -- b. the role that loses privileges --------------------------------------------------------------

DB_B = "prospector_fault_priv"
SRC_B = "priv"
ROLE = "prospector_fault_reader"
PUBLIC_TABLES = [f"t{i:02d}" for i in range(1, 11)]
REVOKED = PUBLIC_TABLES[:5]
DROPPED = "t05"  # one of the revoked ones: dropped while the role may not even read it
S2_TABLES = ["s2a", "s2b"]


def setup_b():
    sql = [f"DROP ROLE IF EXISTS {ROLE}", f"CREATE ROLE {ROLE} LOGIN", "CREATE SCHEMA s2"]
    for t in PUBLIC_TABLES:
        sql.append(f"CREATE TABLE public.{t} (id integer PRIMARY KEY, val text, note varchar(20))")
        sql.append(f"COMMENT ON TABLE public.{t} IS '表{t}'")
    for t in S2_TABLES:
        sql.append(f"CREATE TABLE s2.{t} (id integer PRIMARY KEY, t01_id integer REFERENCES public.t01 (id))")
    sql += [f"GRANT USAGE ON SCHEMA s2 TO {ROLE}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public, s2 TO {ROLE}"]
    return ";\n".join(sql)


# -- helpers ----------------------------------------------------------------------------------------

def wait_ok(w, source, ok, timeout=60):
    """Waits until the source's status has ok == ok (and an error when not ok)."""
    def check():
        s = w.source_status(source)
        return s if s and s.get("ok") is ok and (ok or s.get("last_error")) else None
    return wait_for(check, timeout)


def catalog_state(w, source):
    return sorted((k, v[3], dump_json(v[4])) for k, v in catalog_rows(w.catalog, source).items())


def tables_in_catalog(w, source):
    return sorted(v[3] for v in catalog_rows(w.catalog, source).values() if v[0] == "table")


def rows_since(w, source, last_id):
    return history_ro(w.catalog, source=source, after=last_id)


def last_id_of(w):
    return max([0] + [r["id"] for r in history_ro(w.catalog)])


class Locker:
    """A psql session holding an ACCESS EXCLUSIVE lock on a relation, in an open transaction."""

    def __init__(self, pg, db, relation):
        env = dict(os.environ, PGCLIENTENCODING="UTF8")
        self.p = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
                                   pg.conninfo_for(db) + " application_name=fault-locker"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env, text=True)
        self.p.stdin.write(f"BEGIN; LOCK TABLE {relation} IN ACCESS EXCLUSIVE MODE;\n")
        self.p.stdin.flush()

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def pg_value(pg, sql, db):
    r = pg.psql(sql, db=db, check=False)
    return r.stdout.strip() if r.returncode == 0 else None


def agent_waits_on_lock(pg):
    """True when a backend of the agent waits for a lock (its crawl hangs where we want it)."""
    return pg_value(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'prospector-agent' "
                        "AND wait_event_type = 'Lock'", DB_A) not in (None, "0")


def part_a(tap, w, pg):
    pg.create_database(DB_A)
    pg.psql(SETUP_A, db=DB_A)
    conf = w.agent_conf({SRC_A: {"driver": "pg", "conninfo": pg.conninfo_for(DB_A), "interval": "2s",
                                 "timeout": "60s"}}, agent_id="agent-a")
    w.start_agent(conf, name="agent-a")
    base = w.wait_new_history(0, timeout=60, source=SRC_A)
    tap.ok(base and any(r["path"] == PREFIX_A + "adults" for r in base), "a: baseline in, the view included",
           dump_json([r["path"] for r in base]))
    before, last_id = catalog_state(w, SRC_A), last_id_of(w)

    locker = Locker(pg, DB_A, "adults")
    try:
        waiting = wait_for(lambda: agent_waits_on_lock(pg), 30)
        tap.ok(waiting, "a: a crawl hangs on the view's lock (pg_stat_activity: waiting on a Lock)")
        pg.stop()  # fast: the hung crawl's session is cut off mid-transaction
    finally:
        locker.close()
    down = wait_ok(w, SRC_A, False, timeout=30)
    tap.ok(down, "a: server stopped mid-crawl: status shows the source failing, with an error",
           dump_json(w.source_status(SRC_A)))
    tap.diag(f"a: error while down: {(down or {}).get('last_error')!r}")
    seen = w.wait_crawls(SRC_A, count=2, timeout=40)
    tap.ok(seen >= 2, f"a: the agent kept trying while the server was down ({seen} failed crawls seen)")
    rows = rows_since(w, SRC_A, last_id)
    tap.eq([(r["op"], r["path"]) for r in rows], [], "a: the failed crawls recorded nothing (no DROP)")
    tap.ok(catalog_state(w, SRC_A) == before, "a: while down, the catalog keeps every object")

    pg.start()
    tap.ok(wait_ok(w, SRC_A, True, timeout=60), "a: server back: the source is ok again",
           dump_json(w.source_status(SRC_A)))
    seen = w.wait_crawls(SRC_A, count=2, timeout=40)
    rows = rows_since(w, SRC_A, last_id)
    tap.eq([(r["op"], r["path"], r["field"]) for r in rows], [],
           f"a: server back, schema unchanged: nothing spurious after {seen} crawls")
    tap.ok(catalog_state(w, SRC_A) == before, "a: server back: catalog unchanged")

    pg.psql("ALTER TABLE person ADD COLUMN phone varchar(20)", db=DB_A)
    rows = w.wait_new_history(last_id, timeout=30, source=SRC_A)
    check_exactly_once(tap, rows, [("ADD", PREFIX_A + "person.phone")],
                       "a: a real change afterwards arrives exactly once, and only it")
    check_catalog_matches(tap, w, conf, SRC_A, "a: the catalog equals the database", name="dump-a")


def part_b(tap, w, pg):
    pg.create_database(DB_B)
    pg.psql(setup_b(), db=DB_B)
    conninfo = f"{pg.conninfo_for(DB_B)} user={ROLE}"
    conf = w.agent_conf({SRC_B: {"driver": "pg", "conninfo": conninfo, "interval": "1s"}},
                        agent_id="agent-b")
    w.start_agent(conf, name="agent-b")
    base = w.wait_new_history(0, timeout=60, source=SRC_B)
    want = sorted([f"{SRC_B}/{DB_B}/public/{t}" for t in PUBLIC_TABLES] +
                  [f"{SRC_B}/{DB_B}/s2/{t}" for t in S2_TABLES])
    tap.eq(tables_in_catalog(w, SRC_B), want, f"b: baseline as {ROLE}: all {len(want)} tables")
    tap.ok(base and all(r["origin"] == "baseline" for r in base), "b: recorded as the baseline")
    before, last_id = catalog_state(w, SRC_B), last_id_of(w)

    pg.psql(";\n".join([f"REVOKE ALL ON public.{t} FROM {ROLE}, PUBLIC" for t in REVOKED] +
                       [f"REVOKE ALL ON ALL TABLES IN SCHEMA s2 FROM {ROLE}",
                        f"REVOKE USAGE ON SCHEMA s2 FROM {ROLE}, PUBLIC"]), db=DB_B)
    check = pg_value(pg, f"SELECT has_table_privilege('{ROLE}', 'public.{REVOKED[0]}', 'SELECT')::text || "
                         f"has_schema_privilege('{ROLE}', 's2', 'USAGE')::text", DB_B)
    tap.eq(check, "falsefalse", f"b: {ROLE} lost SELECT on {len(REVOKED)} tables and USAGE on s2")
    seen = w.wait_crawls(SRC_B, count=3, timeout=40)
    tap.ok(seen >= 3, f"b: {seen} crawls after the REVOKEs")
    st = w.source_status(SRC_B) or {}
    tap.ok(st.get("ok") is True, "b: crawls without the privileges still succeed", dump_json(st))
    rows = rows_since(w, SRC_B, last_id)
    tap.eq([(r["op"], r["path"]) for r in rows if r["op"] == "DROP"], [], "b: REVOKE: zero DROP rows")
    tap.eq([(r["op"], r["path"], r["field"]) for r in rows], [], "b: REVOKE: no history rows at all")
    tap.eq(tables_in_catalog(w, SRC_B), want, "b: REVOKE: the catalog still has every table")

    pg.psql(f'REVOKE CONNECT ON DATABASE "{DB_B}" FROM {ROLE}, PUBLIC')
    down = wait_ok(w, SRC_B, False, timeout=30)
    tap.ok(down, "b: REVOKE CONNECT: status shows the source failing, with an error",
           dump_json(w.source_status(SRC_B)))
    tap.diag(f"b: error without CONNECT: {(down or {}).get('last_error')!r}")
    seen = w.wait_crawls(SRC_B, count=2, timeout=40)
    rows = rows_since(w, SRC_B, last_id)
    tap.eq([(r["op"], r["path"]) for r in rows], [],
           f"b: REVOKE CONNECT: nothing recorded after {seen} failed crawls (no DROP)")
    tap.ok(catalog_state(w, SRC_B) == before, "b: REVOKE CONNECT: catalog unchanged")

    pg.psql(f'GRANT CONNECT ON DATABASE "{DB_B}" TO {ROLE}')
    tap.ok(wait_ok(w, SRC_B, True, timeout=60), "b: CONNECT back: the source is ok again",
           dump_json(w.source_status(SRC_B)))
    pg.psql(f"DROP TABLE public.{DROPPED}", db=DB_B)
    rows = w.wait_new_history(last_id, timeout=40, settle=4, source=SRC_B)
    p = f"{SRC_B}/{DB_B}/public/{DROPPED}"
    check_exactly_once(tap, rows, [("DROP", p), ("DROP", p + ".id"), ("DROP", p + ".val"),
                                   ("DROP", p + ".note"), ("DROP", p + f"#{DROPPED}_pkey")],
                       f"b: DROP TABLE {DROPPED}: exactly one DROP of it (and of its columns and key)")
    tap.eq(tables_in_catalog(w, SRC_B), [t for t in want if t != p], "b: the catalog lost that table only")
    check_catalog_matches(tap, w, conf, SRC_B, f"b: the catalog equals the database as {ROLE} sees it",
                          name="dump-b")


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "fault-source")
    pg = None
    try:
        pg = Postgres.private(w)
        w.start_collector()
        started = time.monotonic()
        part_a(tap, w, pg)
        tap.diag(f"part a: {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        part_b(tap, w, pg)
        tap.diag(f"part b: {time.monotonic() - started:.0f} s")
        tap.eq([p.name for p in w.procs if p.name in ("collector", "agent-a", "agent-b") and not p.alive()],
               [], "collector and agents survived it all")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
