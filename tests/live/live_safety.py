#!/usr/bin/env python3
"""Safety of deletions (DESIGN §3.3): confirmed mass drops are marked, gone databases go stale.

Two fixture sources on one agent, a collector with stale_after = 5s:
1. "dept" loses seven of its ten tables at once. The agent holds the crawl, a second crawl agrees,
   and the DROP rows arrive marked origin "mass_drop" (the durable record; the status's warning
   lasts only until the next crawl).
2. dept's database goes away for good (its schema file is deleted): every crawl fails, nothing is
   dropped, and once stale_after has passed since the last successful crawl the source is "stale",
   with its objects and history still in the catalog.
3. "old" is removed from the agent's configuration: after the agent restarts without it, the source
   is stale ("configured": false) and its objects and history stay.
No database server is needed: the fixture driver reads the schema files.
"""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tap, World, require_binaries  # noqa: E402

TABLES = 10


def fixture(tables):
    text = "database d:1 - dept\nschema n:1 d:1 public\n"
    for t in tables:
        text += f"table r:{100 + t} n:1 t{t:02d}\ncolumn a:{100 + t}:1 r:{100 + t} id\n\ttype = integer\n"
    return text


def source_conf(path):
    return {"driver": "fixture", "fixture": path, "interval": "1s"}


def mass_drop(tap, w):
    base = w.wait_new_history(0, timeout=60, source="dept")
    tap.eq(len(base), 2 + 2 * TABLES, "dept: the baseline")
    last = max(r["id"] for r in base)
    w.write("dept.schema", fixture(range(1, 4)))
    rows = w.wait_new_history(last, timeout=60, source="dept")
    drops = [r for r in rows if r["op"] == "DROP"]
    tap.eq(len(drops), 14, "seven tables and their columns dropped")
    tap.ok(rows and all(r["origin"] == "mass_drop" for r in rows), "every row marked origin mass_drop",
           sorted({r["origin"] for r in rows}))
    names = {o["path"] for o in w.catalog_objects("--source", "dept")}
    tap.eq(sorted(p for p in names if "/t" in p), [f"dept/dept/public/t{t:02d}" for t in (1, 2, 3)],
           "the catalog keeps the three tables left")
    return max(r["id"] for r in rows)


def gone_for_good(tap, w, last):
    os.unlink(w.path("dept.schema"))
    st = w.wait_status("dept", lambda s: s.get("state") == "error", timeout=30)
    tap.ok(st is not None, "a crawl of a database that is gone fails", w.source_status("dept"))
    st = w.wait_status("dept", lambda s: s.get("state") == "stale", timeout=30)
    tap.ok(st is not None and st.get("last_ok"), "after stale_after the source is stale, with its last good crawl",
           w.source_status("dept"))
    tap.eq(len(w.catalog_objects("--all", "--source", "dept")), 2 + 2 * 3, "its objects stay in the catalog")
    tap.ok(not [r for r in w.history("--source", "dept") if r["id"] > last], "no history rows: nothing dropped")
    r = w.cli("status")
    tap.ok("no successful crawl since" in r.stdout, "the status table says since when", r.stdout[-600:])


def retired(tap, w, conf_without_old):
    before = len(w.history("--source", "old"))
    w.procs[-1].stop()
    w.start_agent(conf_without_old, name="agent2")
    st = w.wait_status("old", lambda s: s.get("state") == "stale" and s.get("configured") is False, timeout=30)
    tap.ok(st is not None, "a source its agent no longer lists is stale", w.source_status("old"))
    tap.eq(len(w.catalog_objects("--all", "--source", "old")), 2 + 2 * 2, "its objects stay in the catalog")
    tap.eq(len(w.history("--source", "old")), before, "and its history")
    r = w.cli("status")
    tap.ok("no longer configured on its agent" in r.stdout, "the status table says why", r.stdout[-600:])


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "safety")
    try:
        dept = w.write("dept.schema", fixture(range(1, TABLES + 1)))
        old = w.write("old.schema", fixture(range(1, 3)))
        w.start_collector(extra="stale_after = 5s\n")
        sources = {"dept": source_conf(dept), "old": source_conf(old)}
        w.start_agent(w.agent_conf(sources, agent_id="safety-agent", extra="splay = 0s\n"))
        last = mass_drop(tap, w)
        gone_for_good(tap, w, last)
        retired(tap, w, w.agent_conf({"dept": source_conf(dept)}, agent_id="safety-agent", extra="splay = 0s\n"))
    finally:
        if tap.failed:
            w.dump_logs()
        w.close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
