#!/usr/bin/env python3
"""Batches larger than the collector takes, and an outbox over its bound: nothing is lost.

A PostgreSQL database of 60 tables × 20 columns with long Chinese comments; a snapshot of it is
several hundred KiB. The collector takes batches of at most 64 KiB (max_batch_bytes; its socket
drops anything over twice that without a word), the agent builds batches of up to 1 MiB and keeps
an outbox of at most 1 MiB (outbox_max_bytes).

1. Oversize: the agent crawls while the collector is down, so it builds its first snapshot for its
   own 1 MiB limit. When the collector comes up and says 64 KiB, the stored batches are split
   before they are sent: the whole snapshot arrives and the catalog equals the database.
2. Bound: with the collector down again, three rounds of new comments on every column pile up more
   than 1 MiB of changes. The agent replaces them by one full snapshot; a column added afterwards
   stays a change of its own. When the collector comes back, the catalog equals the database, each
   column's comment changed exactly once in history (found by resync: the intermediate rounds are
   gone, not invented), and the added column is one ADD.
"""

import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Postgres, Tap, World, require_binaries, wait_for  # noqa: E402

DB = "prospector_oversize"
SOURCE = "big"
TABLES, COLUMNS = 60, 20
PREFIX = f"{SOURCE}/{DB}/public/"
KIND_DELTA, KIND_SNAPSHOT_END = 0, 2


def setup_sql():
    """The schema in one DO block: a plain script would be 1,300 statements through psql."""
    return f"""
DO $$
BEGIN
  FOR t IN 1..{TABLES} LOOP
    EXECUTE format('CREATE TABLE t%s (id integer PRIMARY KEY)', lpad(t::text, 3, '0'));
    FOR c IN 1..{COLUMNS} LOOP
      EXECUTE format('ALTER TABLE t%s ADD COLUMN c%s varchar(200)', lpad(t::text, 3, '0'), lpad(c::text, 2, '0'));
    END LOOP;
  END LOOP;
END $$;
""" + comment_sql(0)


def comment(round_, t, c):
    return f"第{round_}轮：人口基础信息库字段说明，表{t:03d}列{c:02d}，用于政务信息资源目录的编目与核对"


def comment_sql(round_):
    return f"""
DO $$
BEGIN
  FOR t IN 1..{TABLES} LOOP
    FOR c IN 1..{COLUMNS} LOOP
      EXECUTE format('COMMENT ON COLUMN t%s.c%s IS %L', lpad(t::text, 3, '0'), lpad(c::text, 2, '0'),
        '第{round_}轮：人口基础信息库字段说明，表' || lpad(t::text, 3, '0') || '列' || lpad(c::text, 2, '0')
        || '，用于政务信息资源目录的编目与核对');
    END LOOP;
  END LOOP;
END $$;
"""


def state_query(state_db, sql, args=()):
    """A read-only look at the agent's state.db (WAL: readers do not block the agent)."""
    db = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def catalog_comments(w):
    db = sqlite3.connect(f"file:{w.catalog}?mode=ro", uri=True, timeout=10)
    try:
        return {path: comment for path, comment in db.execute(
            "SELECT path, json_extract(attrs, '$.comment') FROM objects WHERE source = ? AND kind = 'column'",
            (SOURCE,))}
    finally:
        db.close()


def dump_paths(w, conf):
    status, objs, err = w.dump(conf, SOURCE)
    if status != 0:
        raise RuntimeError(f"--dump failed: {err}")
    return set(objs)


def catalog_paths(w):
    return {o["path"] for o in w.catalog_objects("--all", "--source", SOURCE)}


def wait_drained(state_db, timeout):
    return wait_for(lambda: state_query(state_db, "SELECT count(*) FROM outbox")[0][0] == 0, timeout)


def last_crawl(state_db):
    rows = state_query(state_db, "SELECT crawled_at FROM snapshots WHERE source = ?", (SOURCE,))
    return rows[0][0] if rows else 0


def oversize(tap, w, conf, state_db):
    """Part 1: a first snapshot built for 1 MiB, delivered to a collector that takes 64 KiB."""
    wait_for(lambda: state_query(state_db, "SELECT count(*) FROM outbox")[0][0] > 0, 60)
    largest = state_query(state_db, "SELECT coalesce(max(length(data)), 0) FROM outbox")[0][0]
    tap.ok(largest > 2 * 65536, f"the agent stored a batch of {largest} bytes, more than the collector's "
           "socket accepts (2 × 64 KiB)")
    w.start_collector(extra="max_batch_bytes = 65536\n")
    tap.ok(wait_drained(state_db, 90), "the collector acknowledged everything")
    want = dump_paths(w, conf)
    got = catalog_paths(w)
    tap.ok(got == want, f"the catalog holds the database's {len(want)} objects",
           {"missing": sorted(want - got)[:5], "extra": sorted(got - want)[:5]})
    rows = w.history("--source", SOURCE)
    tap.eq(len(rows), len(want), "one baseline row per object")
    tap.ok(all(r["origin"] == "baseline" for r in rows), "all of origin baseline")
    return max(r["id"] for r in rows)


def bound(tap, w, pg, conf, state_db, last_id):
    """Part 2: more than outbox_max_bytes of changes while the collector is down."""
    w.collector.stop()
    for round_ in (1, 2, 3):
        before = last_crawl(state_db)
        pg.psql(comment_sql(round_), db=DB)
        if not wait_for(lambda: last_crawl(state_db) > before, 60):
            tap.diag(f"round {round_}: the agent did not store a new snapshot")
    kinds = state_query(state_db, "SELECT kind, count(*), sum(length(data)) FROM outbox GROUP BY kind")
    tap.diag(f"outbox by kind after three rounds: {kinds}")
    tap.ok(wait_for(lambda: state_query(state_db, "SELECT count(*) FROM outbox WHERE kind = ?",
                                        (KIND_DELTA,))[0][0] == 0, 30),
           "the three rounds of changes were replaced", kinds)
    tap.eq(state_query(state_db, "SELECT count(*) FROM outbox WHERE kind = ?", (KIND_SNAPSHOT_END,))[0][0], 1,
           "by one full snapshot")
    total = state_query(state_db, "SELECT sum(length(data)) FROM outbox")[0][0]
    tap.ok(total <= 1 << 20, f"the outbox is within its bound again ({total} bytes)")

    before = last_crawl(state_db)
    pg.psql("ALTER TABLE t001 ADD COLUMN added_late integer", db=DB)
    wait_for(lambda: last_crawl(state_db) > before, 60)
    tap.eq(state_query(state_db, "SELECT count(*) FROM outbox WHERE kind = ?", (KIND_DELTA,))[0][0], 1,
           "a change after the snapshot stays a change")

    w.start_collector(extra="max_batch_bytes = 65536\n")
    tap.ok(wait_drained(state_db, 90), "after the outage the collector acknowledged everything")
    want = dump_paths(w, conf)
    got = catalog_paths(w)
    tap.ok(got == want, "the catalog holds the database's objects",
           {"missing": sorted(want - got)[:5], "extra": sorted(got - want)[:5]})
    comments = catalog_comments(w)
    wrong = [p for p, c in comments.items()
             if not p.endswith("added_late") and not p.endswith(".id") and c != comment(3, int(p.split("/t")[-1][:3]),
                                                                                        int(p[-2:]))]
    tap.ok(not wrong, "every column carries the last round's comment", wrong[:5])

    rows = [r for r in w.history("--source", SOURCE) if r["id"] > last_id]
    comment_rows = [r for r in rows if r["field"] == "comment"]
    per_column = {}
    for r in comment_rows:
        per_column[r["path"]] = per_column.get(r["path"], 0) + 1
    tap.eq(len(per_column), TABLES * COLUMNS, "every column's comment change is in history")
    tap.ok(all(n == 1 for n in per_column.values()), "exactly once each (the three rounds collapsed)",
           [p for p, n in per_column.items() if n != 1][:5])
    tap.ok(all(r["origin"] == "resync" and r["after"] == comment(3, int(r["path"].split("/t")[-1][:3]),
                                                                int(r["path"][-2:]))
               for r in comment_rows), "found by resync, with the last round's text")
    added = [r for r in rows if r["path"] == PREFIX + "t001.added_late"]
    tap.ok(len(added) == 1 and added[0]["op"] == "ADD", "the late column is one ADD", added)
    tap.ok(not [r for r in rows if r["op"] == "DROP"], "no DROP rows")


def main():
    tap = Tap()
    require_binaries()
    pg = Postgres.from_env()
    w = World(tap, "oversize")
    try:
        pg.psql(f"DROP DATABASE IF EXISTS {DB}")
        pg.create_database(DB)
        w.cleanups.append(lambda: pg.psql(f"DROP DATABASE IF EXISTS {DB}", check=False))
        pg.psql(setup_sql(), db=DB)
        w.collector_conf()  # picks the port the agent is configured with
        state_dir = w.path("state")
        conf = w.agent_conf({SOURCE: {"driver": "pg", "conninfo": pg.conninfo_for(DB), "interval": "1s"}},
                            agent_id="oversize-agent", state_dir=state_dir,
                            extra="splay = 0s\noutbox_max_bytes = 1M\n")
        state_db = os.path.join(state_dir, "state.db")
        w.start_agent(conf)
        last_id = oversize(tap, w, conf, state_db)
        bound(tap, w, pg, conf, state_db, last_id)
    finally:
        if tap.failed:
            w.dump_logs()
        w.close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
