"""Helpers shared by the live_fault_* suites (network, disk, source); harness.py stays untouched.

- catalog_rows / dump_rows / check_catalog_matches: "the catalog equals the database", object by
  object: the catalog's objects table (read-only sqlite) against `prospector-agent --dump` of the
  same source, on key, kind, parent, name, path and attributes (observations left out: row counts
  and sizes move on their own).
- history_ro: the history table read with sqlite in read-only mode, for when the CLI cannot be
  trusted to answer (a full disk) or a check wants every column.
- outbox_rows: an agent's undelivered batches, read from its state.db in read-only mode.
- count_paths / check_exactly_once: every expected change recorded exactly once.
- psql_script: a long SQL script in one transaction.
- privileged() / skip_forbidden(): whether we may do what a fault needs from the kernel
  (namespaces, mounts), and the skip when we may not.
"""

import json
import os
import sqlite3
import subprocess
import sys

from harness import SKIP, dump_json, run


def ro_connect(path):
    """A read-only connection: the test never writes what the daemons own."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def catalog_rows(catalog, source):
    """{key: (kind, parent, name, path, attrs)} of source in the catalog file."""
    db = ro_connect(catalog)
    try:
        rows = db.execute("SELECT key, kind, parent, name, path, attrs FROM objects WHERE source = ?",
                          (source,)).fetchall()
    finally:
        db.close()
    return {k: (kind, parent, name, path, json.loads(attrs)) for k, kind, parent, name, path, attrs in rows}


def dump_rows(w, conf_text, source, name="dump"):
    """The same shape from `prospector-agent --dump SOURCE`; (rows, None) or (None, why)."""
    status, dump, err = w.dump(conf_text, source, name=name)
    if status != 0 or dump is None:
        return None, f"--dump exited {status}: {err.strip()[-1000:]}"
    return {o.key: (o.kind, o.parent, o.name, o.path, dict(o.attrs)) for o in dump.values()}, None


def diff_rows(catalog, dump, limit=25):
    """Lines naming each object missing from, extra in or different in the catalog."""
    out = []
    for k in sorted(dump.keys() - catalog.keys()):
        out.append(f"missing from the catalog: {k} {dump[k][3]}")
    for k in sorted(catalog.keys() - dump.keys()):
        out.append(f"in the catalog, not in the database: {k} {catalog[k][3]}")
    for k in sorted(catalog.keys() & dump.keys()):
        if catalog[k] != dump[k]:
            out.append(f"differs: {k}\n  catalog:  {dump_json(catalog[k])}\n  database: {dump_json(dump[k])}")
    if len(out) > limit:
        out = out[:limit] + [f"... and {len(out) - limit} more"]
    return out


def check_catalog_matches(tap, w, conf_text, source, desc, name="dump"):
    """Asserts that the catalog holds exactly what --dump reads from the database now."""
    dump, why = dump_rows(w, conf_text, source, name=name)
    if dump is None:
        return tap.ok(False, desc, why)
    cat = catalog_rows(w.catalog, source)
    diff = diff_rows(cat, dump)
    return tap.ok(not diff and len(cat) > 0, f"{desc} ({len(cat)} objects)", "\n".join(diff) or "empty")


def history_ro(catalog, source=None, after=0):
    """History rows (dicts) with id > after, of source when given, oldest first."""
    db = ro_connect(catalog)
    db.row_factory = sqlite3.Row
    try:
        sql = ("SELECT id, source, seq, key, kind, path, op, field, before, after, severity, origin "
               "FROM history WHERE id > ?")
        args = [after]
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        return [dict(r) for r in db.execute(sql + " ORDER BY id", args)]
    finally:
        db.close()


def outbox_rows(state_dir):
    """(last_acked, [(seq, source, data)]) from an agent's state.db."""
    db = ro_connect(os.path.join(state_dir, "state.db"))
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        rows = db.execute("SELECT seq, source, data FROM outbox ORDER BY seq").fetchall()
    finally:
        db.close()
    return meta.get("last_acked", 0), rows


def count_paths(rows, op=None):
    """{(op, path): how many rows}."""
    counts = {}
    for r in rows:
        if op is None or r["op"] == op:
            counts[(r["op"], r["path"])] = counts.get((r["op"], r["path"]), 0) + 1
    return counts


def check_exactly_once(tap, rows, expected, desc):
    """expected: (op, path) pairs; asserts each appears exactly once in rows and nothing else does."""
    counts = count_paths(rows)
    bad = [f"{op} {path}: {counts.get((op, path), 0)} rows" for op, path in expected
           if counts.get((op, path), 0) != 1]
    extra = [f"unexpected: {op} {path} x{n}" for (op, path), n in sorted(counts.items())
             if (op, path) not in set(expected)]
    return tap.ok(not bad and not extra, desc, "\n".join((bad + extra)[:40]))


def psql_script(pg, sql, db):
    """Runs a long script (beyond the command line's limit) as one transaction, through stdin."""
    env = dict(os.environ, PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT="10")
    r = run(["psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", pg.conninfo_for(db), "-f", "-"],
            input=sql, env=env, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed: {r.stderr.strip()[-1000:]}")


def skip_forbidden(why):
    """Skips the whole suite because the kernel or the container forbids what the fault needs.
    Unlike harness.skip_all, even with PROSPECTOR_REQUIRE_LIVE=1: that promises database servers,
    not root rights, and CI containers commonly refuse namespaces and mounts."""
    print(f"1..0 # SKIP {why}", flush=True)
    sys.exit(SKIP)


def privileged(argv, timeout=20):
    """(True, "") when argv runs and exits 0, else (False, its message)."""
    try:
        r = run(argv, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return r.returncode == 0, " ".join((r.stderr or r.stdout).split())  # one line, for the TAP skip
