#!/usr/bin/env python3
"""PostgreSQL going away and coming back, and credentials that must never show.

This suite stops and restarts its server, so it starts one of its own (tests/lib/pgserver.sh) rather
than the shared one. The agent reaches it over TCP with a password, as source "hr"; a second source,
"badpw", has a wrong password.

- Server stopped: `status` shows hr not ok with an error; no history rows; the catalog keeps
  everything (a failed crawl never means "everything was dropped").
- Server back: hr ok again; catalog unchanged; no history rows.
- Schema changed while the agent could not see the server (restarted socket-only, changed, restarted):
  exactly those changes once it is back.
- The wrong password (and the right one) appear in no log, no status field, no catalog byte.
"""

import os
import secrets
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Postgres, Tap, World, compare_rows, dump_json,  # noqa: E402
                     require_binaries, wait_for)

DB = "prospector_fail"
SOURCE = "hr"
PREFIX = f"{SOURCE}/{DB}/public/"
INTERVAL = 1
ROLE = "prospector_ro"
GOOD_PW = "Good-" + secrets.token_hex(8)
WRONG_PW = "Wrong-" + secrets.token_hex(8)

SETUP = f"""
CREATE TABLE household (id integer PRIMARY KEY, address text NOT NULL);
CREATE TABLE person (id integer PRIMARY KEY, name varchar(50) NOT NULL,
                     household_id integer REFERENCES household (id));
CREATE INDEX person_name_idx ON person (name);
CREATE VIEW adults AS SELECT id, name FROM person;
CREATE ROLE {ROLE} LOGIN PASSWORD '{GOOD_PW}';
"""

CHANGE_WHILE_DOWN = """
ALTER TABLE person ADD COLUMN phone varchar(20);
COMMENT ON TABLE household IS '户籍信息';
"""

EXPECTED_AFTER_DOWN = [
    ("ADD", "person.phone", None, None,
     {"ordinal": "4", "type": "character varying(20)", "nullable": "true"}, "ADDITIVE"),
    ("ALTER", "household", "comment", None, "户籍信息", "COSMETIC"),
]


def catalog_state(w):
    """What must not change while the server is away: every object's identity and attributes."""
    return sorted((o["path"], o["kind"], o["key"], dump_json(o.get("attrs", {})))
                  for o in w.catalog_objects("--all") if o["source"] == SOURCE)


def hr_rows(w):
    return [r for r in w.history() if r["source"] == SOURCE]


def wait_status(w, name, ok, timeout=40):
    """Waits until the source's status has ok == ok (and an error when not ok)."""
    def check():
        s = w.source_status(name)
        if s and s.get("ok") is ok and (ok or s.get("last_error")):
            return s
        return None
    return wait_for(check, timeout)


def check_down(tap, w, pg, catalog, nrows):
    pg.stop()
    s = wait_status(w, SOURCE, False)
    tap.ok(s, "server stopped: status shows hr not ok, with an error",
           dump_json(w.source_status(SOURCE)))
    time.sleep(3 * INTERVAL + 1)
    tap.eq(len(hr_rows(w)), nrows, "server stopped: no history rows")
    tap.ok(catalog_state(w) == catalog, "server stopped: the catalog keeps every object")


def check_back(tap, w, pg, catalog, nrows):
    pg.start()
    s = wait_status(w, SOURCE, True)
    tap.ok(s and not s.get("last_error"), "server back: hr ok again, no error",
           dump_json(w.source_status(SOURCE)))
    time.sleep(3 * INTERVAL + 1)
    tap.eq(len(hr_rows(w)), nrows, "server back, schema unchanged: no history rows")
    tap.ok(catalog_state(w) == catalog, "server back: catalog unchanged")


def check_changed_while_down(tap, w, pg, last_id):
    pg.stop()
    tap.ok(wait_status(w, SOURCE, False), "stopped again: hr not ok")
    pg.start(private=True)  # socket only: the agent (TCP) cannot see it, we can
    pg.psql(CHANGE_WHILE_DOWN, db=DB)
    time.sleep(2 * INTERVAL)
    tap.eq([r for r in hr_rows(w) if r["id"] > last_id], [],
           "nothing recorded while the agent could not reach the server")
    pg.stop()
    pg.start()
    tap.ok(wait_status(w, SOURCE, True), "restarted: hr ok again")
    rows = w.wait_new_history(last_id, timeout=30, source=SOURCE)
    compare_rows(tap, rows, EXPECTED_AFTER_DOWN,
                 "changes made while down: exactly those rows after restart", PREFIX)


def check_secrets(tap, w):
    s = wait_status(w, "badpw", False, timeout=20)
    tap.ok(s, "wrong password: status shows badpw not ok, with an error",
           dump_json(w.source_status("badpw")))
    tap.eq([r for r in w.history() if r["source"] == "badpw"], [], "wrong password: no history rows")
    places = {
        "status --json": w.cli("status", "--json").stdout,
        "status": w.cli("status").stdout,
        "history --json": w.cli("history", "--json").stdout,
    }
    for proc in w.procs:
        places[f"{proc.name} log"] = proc.output()
    for f in ("catalog.db", "catalog.db-wal"):
        p = w.path(f)
        if os.path.exists(p):
            with open(p, "rb") as fh:
                places[f] = fh.read().decode("latin-1")
    for secret, what in ((WRONG_PW, "the wrong password"), (GOOD_PW, "the password")):
        leaks = [name for name, text in places.items() if secret in text]
        tap.ok(not leaks, f"{what} appears in no log, status, history or catalog byte",
               f"found in: {', '.join(leaks)}")
    err = (w.source_status("badpw") or {}).get("last_error") or ""
    tap.ok(err and "password=" not in err and "conninfo" not in err.lower(),
           f"badpw's error says what failed without echoing the conninfo: {err!r}")


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "failure")
    try:
        pg = Postgres.private(w)
        pg.create_database(DB)
        pg.psql(SETUP, db=DB)
        sources = {
            SOURCE: {"driver": "pg", "conninfo": pg.tcp_conninfo(DB, ROLE, GOOD_PW),
                     "interval": f"{INTERVAL}s"},
            "badpw": {"driver": "pg", "conninfo": pg.tcp_conninfo(DB, ROLE, WRONG_PW),
                      "interval": f"{INTERVAL}s"},
        }
        w.start_collector()
        w.start_agent(w.agent_conf(sources), args=("-d",))  # debug logs must not leak either
        rows = w.wait_new_history(0, timeout=60, source=SOURCE)
        tap.ok(rows, "baseline of hr recorded")
        tap.ok(wait_status(w, SOURCE, True), "hr ok", dump_json(w.status()))
        catalog = catalog_state(w)
        tap.ok(any(p == PREFIX + "person.household_id" for p, *_ in catalog),
               "catalog holds the columns", dump_json(catalog[:20]))
        nrows = len(hr_rows(w))

        check_down(tap, w, pg, catalog, nrows)
        check_back(tap, w, pg, catalog, nrows)
        check_changed_while_down(tap, w, pg, w.last_history_id())
        check_secrets(tap, w)
        tap.eq([p.name for p in w.procs if not p.alive()], [], "collector and agent survived it all")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
