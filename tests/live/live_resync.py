#!/usr/bin/env python3
"""Root-hash verification: a catalog that drifts from the agent's snapshot is repaired by a resync.

A fixture source, heartbeats every second. After the baseline, the catalog is edited behind the
collector's back (a column row deleted, a table's attributes changed), as a restore from an older
backup or a hand edit would. The next heartbeat's root hash no longer matches the catalog, so the
collector asks for a full snapshot; its diff puts the catalog right, and the history says the rows
were found by resync. One resync, not a loop: afterwards the roots agree and nothing more happens.
"""

import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tap, World, require_binaries  # noqa: E402

FIXTURE = """\
database d:1 - hr
schema n:1 d:1 public
table r:100 n:1 employees
	comment = 员工
column a:100:1 r:100 id
	ordinal = 1
	type = integer
column a:100:2 r:100 name
	nullable = true
	ordinal = 2
	type = text
"""
PREFIX = "hr/hr/public/employees"


def tamper(w):
    """What a restore from an older backup looks like: a column gone, a comment different."""
    db = sqlite3.connect(w.catalog, timeout=10)
    with db:
        db.execute("DELETE FROM objects WHERE source = 'hr' AND key = 'a:100:2'")
        db.execute("UPDATE objects SET attrs = json_set(attrs, '$.comment', 'old') "
                   "WHERE source = 'hr' AND key = 'r:100'")
    db.close()


def resyncs(w):
    return w.collector.output().count("asking for a resync")


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "resync")
    try:
        fixture = w.write("hr.schema", FIXTURE)
        w.start_collector()
        w.start_agent(w.agent_conf({"hr": {"driver": "fixture", "fixture": fixture, "interval": "1h"}},
                                   agent_id="resync-agent"))
        base = w.wait_new_history(0, timeout=60, source="hr")
        tap.ok(len(base) == 5 and all(r["origin"] == "baseline" for r in base), "baseline: five objects",
               [(r["op"], r["path"]) for r in base])
        time.sleep(3)  # several heartbeats that agree with the catalog
        tap.eq(resyncs(w), 0, "no resync while the catalog agrees with the agent")

        last = max(r["id"] for r in base)
        tamper(w)
        rows = w.wait_new_history(last, timeout=60, source="hr")
        got = sorted((r["op"], r["path"], r["field"], r["before"], r["after"], r["origin"]) for r in rows)
        want = sorted([
            ("ADD", PREFIX + ".name", None, None, '{"nullable":"true","ordinal":"2","type":"text"}', "resync"),
            ("ALTER", PREFIX, "comment", "old", "员工", "resync"),
        ])
        tap.eq(got, want, "the resync restores exactly what drifted, marked as found by resync")
        names = [o["path"] for o in w.cli_json("catalog", "--all").get("objects", [])]
        tap.ok(PREFIX + ".name" in names, "the deleted column is back in the catalog", names)

        time.sleep(4)  # more heartbeats: the roots agree again
        tap.eq(resyncs(w), 1, "exactly one resync: no loop once the catalog is true again")
        tap.ok(not [r for r in w.history() if r["id"] > max([last] + [r["id"] for r in rows])],
               "no further history rows")
    finally:
        if tap.failed:
            w.dump_logs()
        w.close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
