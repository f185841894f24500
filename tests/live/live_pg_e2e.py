#!/usr/bin/env python3
"""PostgreSQL end to end: a real server, the collector, the agent and the CLI.

The agent watches a fresh database as source "hr" with a 1 s interval. After the baseline, each step
changes the schema in one transaction, waits for the history to grow and asserts that the new rows
are exactly the expected ones. Then: an unchanged cycle adds nothing; the graph, show and catalog
commands see the result; `--once` delivers everything and exits 0.

Expected rows are (op, path after "hr/DB/public/", field, before, after, severity). ADD and DROP rows
carry the object's attributes (what diff_obj_summary prints; folded type parameters left out, REFS as
names), written here with the helpers below.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Postgres, Tap, World, compare_rows, dump_json, free_port,  # noqa: E402
                     require_binaries, wait_for)

DB = "prospector_e2e"
SOURCE = "hr"
PREFIX = f"{SOURCE}/{DB}/public/"
INTERVAL = 1  # seconds


def table(**attrs):
    return {"owner": "postgres", **attrs}


def col(ordinal, type_, nullable=False, **attrs):
    """A column's summary: "nullable" is "true" or absent."""
    out = {"ordinal": str(ordinal), "type": type_, **attrs}
    if nullable:
        out["nullable"] = "true"
    return out


def pkey(*columns):
    return {"columns": ",".join(columns)}


SETUP = """
CREATE TABLE household (
    id integer PRIMARY KEY,
    address text NOT NULL
);
CREATE TABLE person (
    id integer PRIMARY KEY,
    name varchar(50) NOT NULL,
    age integer,
    city text,
    household_id integer
);
"""

# (description, SQL run as one transaction, expected rows)
STEPS = [
    ("create a table",
     "CREATE TABLE social_security (id integer PRIMARY KEY, person_id integer NOT NULL,"
     " amount numeric(12,2))",
     [
         ("ADD", "social_security", None, None, table(), "ADDITIVE"),
         ("ADD", "social_security.id", None, None, col(1, "integer"), "ADDITIVE"),
         ("ADD", "social_security.person_id", None, None, col(2, "integer"), "ADDITIVE"),
         ("ADD", "social_security.amount", None, None, col(3, "numeric(12,2)", nullable=True),
          "ADDITIVE"),
         ("ADD", "social_security#social_security_pkey", None, None, pkey("id"), "ADDITIVE"),
     ]),
    ("add a nullable column",
     "ALTER TABLE person ADD COLUMN phone varchar(20)",
     [
         ("ADD", "person.phone", None, None, col(6, "character varying(20)", nullable=True),
          "ADDITIVE"),
     ]),
    ("widen varchar(50) to varchar(100)",
     "ALTER TABLE person ALTER COLUMN name TYPE varchar(100)",
     [
         ("ALTER", "person.name", "type", "character varying(50)", "character varying(100)",
          "ADDITIVE"),
     ]),
    ("narrow integer to smallint",
     "ALTER TABLE person ALTER COLUMN age TYPE smallint",
     [
         ("ALTER", "person.age", "type", "integer", "smallint", "BREAKING"),
     ]),
    ("rename a column",
     "ALTER TABLE person RENAME COLUMN city TO hometown",
     [
         ("RENAME", "person.hometown", "name", "city", "hometown", "BREAKING"),
     ]),
    ("add a foreign key",
     "ALTER TABLE person ADD CONSTRAINT person_household_fk FOREIGN KEY (household_id)"
     " REFERENCES household (id)",
     [
         ("ADD", "person#person_household_fk", None, None,
          {"columns": "household_id", "ref_table": f"{DB}/public/household", "ref_columns": "id",
           "on_update": "NO ACTION", "on_delete": "NO ACTION", "match": "SIMPLE"},
          "BREAKING"),
     ]),
    ("comment in Chinese",
     "COMMENT ON TABLE person IS '人口基本信息'; COMMENT ON COLUMN person.name IS '姓名'",
     [
         ("ALTER", "person", "comment", None, "人口基本信息", "COSMETIC"),
         ("ALTER", "person.name", "comment", None, "姓名", "COSMETIC"),
     ]),
    ("drop a table",
     "DROP TABLE social_security",
     [
         ("DROP", "social_security", None, table(), None, "BREAKING"),
         ("DROP", "social_security.id", None, col(1, "integer"), None, "BREAKING"),
         ("DROP", "social_security.person_id", None, col(2, "integer"), None, "BREAKING"),
         ("DROP", "social_security.amount", None, col(3, "numeric(12,2)", nullable=True), None,
          "BREAKING"),
         ("DROP", "social_security#social_security_pkey", None, pkey("id"), None, "BREAKING"),
     ]),
]


def agent_sources(pg):
    return {SOURCE: {"driver": "pg", "conninfo": pg.conninfo_for(DB), "interval": f"{INTERVAL}s",
                     "department": "卫生健康委员会", "system": "人口信息系统"}}


def check_baseline(tap, w):
    rows = w.wait_new_history(0, timeout=60, source=SOURCE)
    tap.ok(rows, "the baseline reaches the history")
    tap.ok(rows and all(r["origin"] == "baseline" for r in rows), "baseline rows are marked baseline",
           dump_json(sorted({r["origin"] for r in rows})))
    paths = {(r["op"], r["path"]) for r in rows}
    for p in ("person", "person.name", "person#person_pkey", "household", "household.address"):
        tap.ok(("ADD", PREFIX + p) in paths, f"baseline adds {p}")
    name = [r for r in rows if r["path"] == PREFIX + "person.name"]
    tap.ok(name and '"character varying(50)"' in (name[0]["after"] or ""),
           "baseline: person.name is character varying(50)", dump_json(name))
    return max((r["id"] for r in w.history()), default=0)


def run_steps(tap, w, pg, last_id):
    for desc, sql, expected in STEPS:
        pg.psql(sql, db=DB)
        rows = w.wait_new_history(last_id, timeout=30)
        compare_rows(tap, rows, expected, f"{desc}: exactly the expected history rows", PREFIX)
        tap.ok(all(r["origin"] == "delta" and r["source"] == SOURCE for r in rows),
               f"{desc}: rows are deltas of source {SOURCE}")
        last_id = max([last_id] + [r["id"] for r in rows])
    return last_id


def check_unchanged_cycle(tap, w, last_id):
    before = w.source_status(SOURCE) or {}
    time.sleep(3 * INTERVAL + 1.5)
    after = wait_for(lambda: (s := w.source_status(SOURCE)) and
                     s.get("last_end") != before.get("last_end") and s, 10) or {}
    tap.ok(after.get("last_end") != before.get("last_end"),
           "unchanged cycle: the agent kept crawling", f"{before.get('last_end')} -> {after.get('last_end')}")
    new = [r for r in w.history() if r["id"] > last_id]
    tap.ok(not new, "unchanged cycles add no history rows", dump_json(new))


def check_status(tap, w):
    src = w.source_status(SOURCE)
    tap.ok(src and src.get("ok") is True and not src.get("last_error"), "status: source ok",
           dump_json(src))
    tap.ok(src and src.get("driver") == "pg" and src.get("department") == "卫生健康委员会"
           and src.get("system") == "人口信息系统", "status: driver, department and system",
           dump_json(src))


def check_graph(tap, w):
    g = w.cli_json("graph", "--format", "json")
    nodes = {n["id"]: n for n in g.get("nodes", [])}
    fk = [e for e in g.get("edges", []) if e.get("kind") == "fk"
          and nodes.get(e["from"], {}).get("path") == PREFIX + "person.household_id"
          and nodes.get(e["to"], {}).get("path") == PREFIX + "household.id"]
    tap.ok(len(fk) == 1, "graph: one fk edge person.household_id -> household.id",
           dump_json(g.get("edges")))
    tap.ok(any(n.get("path") == PREFIX + "person" and n.get("kind") == "table" for n in nodes.values()),
           "graph: person is a table node")
    tap.ok(not any(n.get("path", "").startswith(PREFIX + "social_security") for n in nodes.values()),
           "graph: the dropped table is gone")
    r = w.cli("graph", "--format", "dot")
    tap.ok(r.returncode == 0 and "digraph" in r.stdout and "household_id" in r.stdout,
           "graph --format dot: a digraph with the fk labelled", r.stderr + r.stdout[-1000:])


def check_show(tap, w):
    obj = w.cli_json("show", PREFIX + "person")["object"]
    names = [c.get("name") for c in obj.get("columns", [])]
    tap.eq(names, ["id", "name", "age", "hometown", "household_id", "phone"],
           "show person: its columns, in order")
    tap.ok(obj.get("attrs", {}).get("comment") == "人口基本信息", "show person: its comment",
           dump_json(obj.get("attrs")))
    cols = {c.get("name"): c for c in obj.get("columns", [])}
    tap.ok(cols.get("name", {}).get("attrs", {}).get("type") == "character varying(100)",
           "show person: name is character varying(100)", dump_json(cols.get("name")))
    fks = [(f.get("name"), f.get("columns"), f.get("ref_table"), f.get("ref_columns"))
           for f in obj.get("fk_out", [])]
    tap.eq(fks, [("person_household_fk", ["household_id"], PREFIX + "household", ["id"])],
           "show person: its outgoing foreign key")
    hh = w.cli_json("show", PREFIX + "household")["object"]
    tap.eq([(f.get("name"), f.get("table")) for f in hh.get("fk_in", [])],
           [("person_household_fk", PREFIX + "person")], "show household: the foreign key into it")
    text = w.cli("show", PREFIX + "person")
    tap.ok(text.returncode == 0 and "hometown" in text.stdout and "人口基本信息" in text.stdout,
           "show person (text) names its columns and comment", text.stderr + text.stdout[-1000:])


def check_catalog(tap, w):
    objs = w.catalog_objects()
    by_path = {o["path"]: o for o in objs}
    person = by_path.get(PREFIX + "person")
    tap.ok(person and person.get("kind") == "table" and person.get("source") == SOURCE,
           "catalog lists person as a table of source hr", dump_json(person))
    tap.ok(PREFIX + "social_security" not in by_path, "catalog: the dropped table is gone")
    tap.ok(not any(o.get("kind") == "column" for o in objs), "catalog: no columns without --all")
    cols = w.catalog_objects(PREFIX + "person.*")
    tap.eq(sorted(o["name"] for o in cols if o.get("kind") == "column"),
           ["age", "hometown", "household_id", "id", "name", "phone"],
           "catalog PATTERN naming columns lists person's columns")


def check_once(tap, w, pg):
    conf = w.agent_conf({"hr_once": agent_sources(pg)[SOURCE]}, agent_id="once-agent")
    last_id = w.last_history_id()
    status, out = w.agent_once(conf, name="agent-once", timeout=90)
    tap.eq(status, 0, "--once exits 0 once the collector acknowledged everything")
    rows = [r for r in w.history() if r["id"] > last_id]
    tap.ok(rows and all(r["source"] == "hr_once" and r["origin"] == "baseline" for r in rows),
           "--once delivered the baseline of its source before exiting",
           f"{len(rows)} rows; agent output:\n{out[-1500:]}")
    paths = {r["path"] for r in rows}
    tap.ok(f"hr_once/{DB}/public/person.hometown" in paths, "--once: the current schema arrived")

    last_id = w.last_history_id()
    status, out = w.agent_once(conf, name="agent-once-again", timeout=90)
    tap.eq(status, 0, "--once again, nothing changed: exits 0")
    tap.eq([r for r in w.history() if r["id"] > last_id], [], "--once again adds no history rows")

    dead = w.agent_conf({"hr_dead": agent_sources(pg)[SOURCE]}, agent_id="dead-agent",
                        collector_port=free_port())
    status, out = w.agent_once(dead, name="agent-once-nocollector", timeout=30,
                               args=("--timeout", "5"))
    tap.ok(status is not None and status != 0,
           "--once --timeout 5 without a collector gives up with a non-zero exit",
           f"exit status {status} (None: still running after 30 s)\n{out[-1000:]}")


def main():
    tap = Tap()
    pg = Postgres.from_env()
    require_binaries()
    w = World(tap, "e2e")
    try:
        pg.create_database(DB)
        pg.psql(SETUP, db=DB)
        w.start_collector()
        w.start_agent(w.agent_conf(agent_sources(pg)))
        last_id = check_baseline(tap, w)
        last_id = run_steps(tap, w, pg, last_id)
        check_unchanged_cycle(tap, w, last_id)
        check_status(tap, w)
        check_graph(tap, w)
        check_show(tap, w)
        check_catalog(tap, w)
        check_once(tap, w, pg)
        alive = [p.name for p in w.procs if p.name in ("collector", "agent") and not p.alive()]
        tap.eq(alive, [], "collector and agent still running at the end")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
        try:
            pg.psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', check=False)
        except Exception:  # noqa: BLE001
            pass
    tap.done()


if __name__ == "__main__":
    main()
