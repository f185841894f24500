#!/usr/bin/env python3
"""Sources that cannot work, or see only part of a database: clear status, no false drops, no leaks.

One agent (debug logging on: debug lines must not leak either) with these sources, 1 s interval:

- nodsn:      odbc, a DSN that does not exist;
- nodriver:   odbc, a Driver= that is not installed;
- pg_badpw:   pg, the right user with a wrong password (PROSPECTOR_TEST_PG);
- my_badpw:   mysql, a user with a wrong password (PROSPECTOR_TEST_MYSQL_*);
- pgodbc_badpw, myodbc_badpw: the same through psqlODBC and MariaDB ODBC;
- partial:    mysql, a user granted SELECT on two of the three tables of a database (table-level
              grants only), so the driver sees that database only in part.

Each failing source: `prospector status --json` shows ok=false with an error that says what is
wrong (and names no password), and it has no history. The partial source: ok=true with a warning
naming the database; its baseline holds the two visible tables only; when the grant on one of them
is revoked between crawls, history gains NO drop and the catalog keeps the table; a newly granted
table is still reported as added. No password (wrong or right) appears in any log, status, history
or catalog byte.
"""

import os
import re
import secrets
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MariaDB, Postgres, Tap, World, dump_json, odbc_connstr,  # noqa: E402
                     odbc_drivers, require_binaries)

INTERVAL = 1
PART_DB = "prospector_part"
PART_USER = "prospector_part"
PART_PREFIX = f"partial/def/{PART_DB}/"
BAD_USER = "prospector_badpw"


def secret(tag):
    return f"{tag}-{secrets.token_hex(8)}"


class Case:
    """A source that must fail, with what its error must say."""

    def __init__(self, name, driver, conninfo, pattern, what, passwords):
        self.name, self.driver, self.conninfo = name, driver, conninfo
        self.pattern, self.what, self.passwords = re.compile(pattern, re.I), what, passwords


def failing_cases(tap, w, pg, my):
    cases = []
    pw = secret("NoDsn")
    cases.append(Case("nodsn", "odbc", odbc_connstr(DSN="prospector_no_such_dsn", UID="u", PWD=pw),
                      r"data source|dsn", "names the missing data source", [pw]))
    pw = secret("NoDriver")
    cases.append(Case("nodriver", "odbc", odbc_connstr(Driver="Prospector No Such Driver",
                                                       Database=w.path("none.db"), PWD=pw),
                      r"Prospector No Such Driver|driver.*(not (found|installed)|can't open)",
                      "names the driver that is not installed", [pw]))
    login = r"auth|password|login|access denied|refused"
    if pg:
        pw = secret("PgWrong")
        cases.append(Case("pg_badpw", "pg", pg.tcp_conninfo("postgres", "postgres", pw), login,
                          "says the login was refused", [pw]))
        if "PostgreSQL Unicode" in odbc_drivers():
            pw = secret("PgOdbcWrong")
            cases.append(Case("pgodbc_badpw", "odbc", pg.odbc_conninfo("postgres", "postgres", pw),
                              login, "says the login was refused", [pw]))
        else:
            tap.skip("psqlODBC login refused", "psqlODBC (PostgreSQL Unicode) not installed")
    if my:
        good, pw = secret("MyGood"), secret("MyWrong")
        my.create_user(BAD_USER, good)
        cases.append(Case("my_badpw", "mysql", my.conninfo(PART_DB, BAD_USER, pw), login,
                          "says the login was refused", [pw, good]))
        if "MariaDB Unicode" in odbc_drivers():
            pw2 = secret("MyOdbcWrong")
            cases.append(Case("myodbc_badpw", "odbc", my.odbc_conninfo(PART_DB, BAD_USER, pw2), login,
                              "says the login was refused", [pw2]))
        else:
            tap.skip("MariaDB ODBC login refused", "MariaDB ODBC (MariaDB Unicode) not installed")
    return cases


def check_failing(tap, w, cases):
    for c in cases:
        st = w.wait_status(c.name, lambda s: s.get("ok") is False and s.get("last_error"), timeout=40)
        err = (st or {}).get("last_error") or ""
        tap.ok(st, f"{c.name}: status shows ok=false with an error", dump_json(w.source_status(c.name)))
        tap.ok(c.pattern.search(err), f"{c.name}: the error {c.what}: {err!r}")
        tap.ok(not re.search(r"(?i)\b(password|pwd)\s*=", err),
               f"{c.name}: the error does not echo the connection string's password")
        tap.eq([r for r in w.history() if r["source"] == c.name], [], f"{c.name}: no history rows")


PART_SETUP = """
CREATE TABLE t_a (id int PRIMARY KEY, name varchar(20) NOT NULL);
CREATE TABLE t_b (id int PRIMARY KEY, a_id int, CONSTRAINT t_b_a_fk FOREIGN KEY (a_id) REFERENCES t_a (id));
CREATE TABLE t_c (id int PRIMARY KEY, note varchar(40));
"""


def part_tables(w):
    return sorted(o["name"] for o in w.catalog_objects(PART_PREFIX + "*") if o["kind"] == "table")


def visible_tables(my, pw):
    """What the partial user sees of the database, asked as that user."""
    rows = my.query("SELECT TABLE_NAME FROM information_schema.TABLES "
                    f"WHERE TABLE_SCHEMA = '{PART_DB}' ORDER BY TABLE_NAME", user=PART_USER, password=pw)
    return [r[0] for r in rows]


def check_partial(tap, w, my, pw):
    tap.eq(visible_tables(my, pw), ["t_a", "t_b"], "partial: the user sees t_a and t_b, not t_c")
    st = w.wait_status("partial", lambda s: s.get("ok") is not None and s.get("last_end"), timeout=40)
    tap.ok(st and st.get("ok") is True and not st.get("last_error"),
           "partial: status ok (the crawl worked)", dump_json(st))
    text = (st or {}).get("warning") or ""
    tap.ok(PART_DB in text, f"partial: the status warning names the partly visible database: {text!r}")
    line = [ln for ln in w.cli("status").stdout.splitlines() if ln.startswith("partial ")]
    tap.ok(line and " partial " in line[0] and PART_DB in line[0],
           "partial: `prospector status` shows the source as partial, with the warning", "\n".join(line))
    rows = w.wait_new_history(0, timeout=30, source="partial")
    tables = sorted(r["path"][len(PART_PREFIX):] for r in rows
                    if r["object_kind"] == "table" and r["path"].startswith(PART_PREFIX))
    if not tap.eq(tables, ["t_a", "t_b"], "partial: the baseline holds the two visible tables"):
        return  # what follows needs a baseline: without one it would pass for nothing
    tap.eq(part_tables(w), ["t_a", "t_b"], "partial: the catalog holds them")
    last_id = w.last_history_id()

    my.mysql(f"REVOKE SELECT ON `{PART_DB}`.`t_b` FROM '{PART_USER}'@'%'")
    tap.eq(visible_tables(my, pw), ["t_a"], "partial: after the REVOKE the user sees only t_a")
    n = w.wait_crawls("partial", 3, timeout=40)
    tap.ok(n >= 3, "partial: three crawls after the REVOKE", f"saw {n}")
    new = [r for r in w.history() if r["id"] > last_id and r["source"] == "partial"]
    tap.eq([(r["op"], r["path"]) for r in new if r["op"] == "DROP"], [],
           "partial: the table that became invisible is NOT reported as dropped")
    tap.eq(new, [], "partial: no history rows at all after the REVOKE")
    tap.eq(part_tables(w), ["t_a", "t_b"], "partial: the catalog keeps the invisible table")
    st = w.source_status("partial") or {}
    tap.ok(st.get("ok") is True and PART_DB in (st.get("warning") or ""),
           "partial: still ok, still warned", dump_json(st))

    my.mysql(f"GRANT SELECT ON `{PART_DB}`.`t_c` TO '{PART_USER}'@'%'")
    rows = w.wait_new_history(last_id, timeout=30, source="partial")
    got = sorted((r["op"], r["object_kind"], r["path"][len(PART_PREFIX):]) for r in rows)
    tap.eq(got, [("ADD", "column", "t_c.id"), ("ADD", "column", "t_c.note"),
                 ("ADD", "primary_key", "t_c#PRIMARY"), ("ADD", "table", "t_c")],
           "partial: a newly granted table is reported as added, and nothing else")


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "bad-sources")
    try:
        pg, why = Postgres.find()
        if not pg:
            tap.skip("PostgreSQL login refused", why)
        elif not (pg.port and pg.password):
            tap.skip("PostgreSQL login refused", "PROSPECTOR_TEST_PG_PORT/_PASSWORD not set")
            pg = None
        my, why_my = MariaDB.find(w)
        if not my:
            tap.skip("MariaDB login refused and partial visibility", why_my)
        cases = failing_cases(tap, w, pg, my)
        sources = {c.name: {"driver": c.driver, "conninfo": c.conninfo, "interval": f"{INTERVAL}s"}
                   for c in cases}
        passwords = [p for c in cases for p in c.passwords]
        if my:
            part_pw = secret("Part")
            passwords.append(part_pw)
            my.fresh_database(PART_DB)
            my.mysql(PART_SETUP, db=PART_DB)
            my.create_user(PART_USER, part_pw, [f"SELECT ON `{PART_DB}`.`t_a`",
                                                f"SELECT ON `{PART_DB}`.`t_b`"])
            sources["partial"] = {"driver": "mysql", "conninfo": my.conninfo(PART_DB, PART_USER, part_pw),
                                  "interval": f"{INTERVAL}s"}
        w.start_collector()
        w.start_agent(w.agent_conf(sources), args=("-d",))
        check_failing(tap, w, cases)
        if my:
            check_partial(tap, w, my, part_pw)
        leaks = sorted({name for name, text in w.leak_places().items()
                        for p in passwords if p in text})
        tap.ok(not leaks, f"none of the {len(passwords)} passwords appears in any log, status, "
               "history or catalog byte", f"found in: {', '.join(leaks)}")
        tap.eq([p.name for p in w.procs if not p.alive()], [], "collector and agent survived it all")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
