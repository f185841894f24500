#!/usr/bin/env python3
"""Delivery under kill -9: nothing lost, nothing duplicated, whichever process dies when.

Real processes, the real PostgreSQL (PROSPECTOR_TEST_PG), sources crawled every second. Four parts:

1. Collector killed over and over. Agent "killer-agent" watches database prospector_kill1 as source
   k1. A driver makes DDL in small steps (tables t0001..t0100 of 20 columns, four per step, and now
   and then a step that widens a column's type and comments on a table: 2,130 changes in all), each
   step waiting until the agent committed it (its snapshot root in state.db moved), while a thread
   kill -9s the collector every 1-3 s and starts it again on the same catalog and port. Once the
   killing stops and the agent's outbox is empty: every expected change is in the history exactly
   once, in creation order (each step is its own batch; inside one, rows are in path order, which the
   zero-padded names make creation order), with no DROP row anywhere; the catalog holds exactly the
   objects `prospector-agent --dump` sees in the database; the history hash chain recomputes.
2. Agent killed between its commit and its send: the collector is stopped, a change is committed to
   the agent's outbox (read in state.db, read-only), the agent is killed -9; collector and agent
   start again: the change is in the history once.
3. Agent killed between send and ack: the collector is frozen (SIGSTOP: the connection stays up, the
   batch sits unread), a change is committed and sent, the agent is killed -9, the collector thaws
   and applies the batch (its ack goes nowhere); the restarted agent learns from WELCOME that it was
   applied: the change is in the history once, not twice, and the catalog equals the database.
4. Catalog restored from an older backup: a copy of the catalog is taken (collector stopped cleanly),
   changes are made and acknowledged, then the catalog is replaced by the copy. The agent's HELLO
   says it holds acknowledgements the catalog lacks: the collector asks for a resync, the lost
   changes come back once each, marked origin 'resync', and the catalog equals the database again;
   a later change is delivered normally.

Parts 2-4 share agent "fault-agent" and source k2 (database prospector_kill2).
History and catalog are read with the CLI (--json) or from the catalog file opened read-only; the
agent's outbox and snapshot from STATE_DIR/state.db opened read-only.
"""

import collections
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Postgres, Tap, World, dump_json, require_binaries, wait_for  # noqa: E402

DB1, SRC1, AGENT1 = "prospector_kill1", "k1", "killer-agent"
DB2, SRC2, AGENT2 = "prospector_kill2", "k2", "fault-agent"
PREFIX1 = f"{SRC1}/{DB1}/public/"
PREFIX2 = f"{SRC2}/{DB2}/public/"

NTABLES, NCOLS, PER_STEP = 100, 20, 4
ALTER_EVERY = 20          # after every 20 tables created, one step of ALTERs on them
WIDENED_EVERY = 5         # tables whose c02 is widened: t0005, t0010, …
COMMENTED_EVERY = 10      # tables that get a comment: t0010, t0020, …
KILL_EVERY = (1.0, 3.0)   # seconds between two kill -9 of the collector
DOWN_FOR = (0.0, 0.8)     # seconds the collector stays dead
MIN_KILLS = 8             # fewer would not prove much

SOURCE_KEYS = {"interval": "1s"}
AGENT_EXTRA = "splay = 0s\n"


# -- reading files read-only -----------------------------------------------------------------------

def query_ro(path, sql, args=()):
    """Rows of sql on the sqlite file at path, opened read-only (never creates or writes it)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def state_path(w, agent_id):
    return w.path(f"state-{agent_id}", "state.db")


def outbox_seqs(w, agent_id):
    return [r[0] for r in query_ro(state_path(w, agent_id), "SELECT seq FROM outbox ORDER BY seq")]


def snapshot_root(w, agent_id, source):
    """The root hash of the snapshot the agent last committed for source (None: none stored)."""
    rows = query_ro(state_path(w, agent_id), "SELECT root FROM snapshots WHERE source = ?", (source,))
    return rows[0][0] if rows else None


def history_count(w, source):
    return query_ro(w.catalog, "SELECT count(*) FROM history WHERE source = ?", (source,))[0][0]


# -- the history hash chain (collector/catalog.c catalog_history_hash, common/buf.c) ----------------

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def lstr(s):
    if s is None:
        return b"\xff"
    data = s.encode("utf-8")
    return varint(len(data)) + data


def row_hash(prev, r):
    (observed, recorded, agent_id, source, seq, key, kind, path, op, field, before, after, severity,
     heuristic, origin) = r
    data = (prev + b"\x01" + varint(observed) + varint(recorded) + lstr(agent_id) + lstr(source)
            + varint(seq) + lstr(key) + lstr(kind) + lstr(path) + lstr(op) + lstr(field) + lstr(before)
            + lstr(after) + lstr(severity) + varint(1 if heuristic else 0) + lstr(origin))
    return hashlib.sha256(data).digest()


def check_chain(tap, w, when):
    """Every history row links to the one before and its hash recomputes from its fields."""
    rows = query_ro(w.catalog, "SELECT id, observed, recorded, agent_id, source, seq, key, kind, path, op,"
                    " field, before, after, severity, heuristic, origin, prev_hash, row_hash"
                    " FROM history ORDER BY id")
    prev, bad = bytes(32), []
    for r in rows:
        if bytes(r[16]) != prev:
            bad.append(f"row {r[0]}: prev_hash does not link to the row before")
        h = row_hash(prev, r[1:16])
        if bytes(r[17]) != h:
            bad.append(f"row {r[0]}: row_hash does not recompute")
        prev = bytes(r[17])
    tap.ok(rows and not bad, f"{when}: the history hash chain is intact ({len(rows)} rows)",
           "\n".join(bad[:20]))


# -- processes -------------------------------------------------------------------------------------

def kill9(proc):
    """kill -9 and reap; the process gets no chance to flush, close or say goodbye."""
    proc.signal(signal.SIGKILL)
    proc.wait(10)
    proc.log.close()


def ensure_collector(w):
    if not (w.collector and w.collector.alive()):
        w.start_collector()


class Killer(threading.Thread):
    """kill -9s the collector every KILL_EVERY seconds and starts it again (same catalog, same port)
    after DOWN_FOR seconds, until stopped. Most kills wait (briefly) for a batch in flight, i.e. a
    row in the agent's outbox: that is when a kill can cut a batch on the wire, roll back the
    collector's transaction, or lose an ack after the commit; the others land anywhere."""

    def __init__(self, w, agent_id):
        super().__init__(daemon=True)
        self.w = w
        self.agent_id = agent_id
        self.stopping = threading.Event()
        self.kills = 0
        self.in_flight = 0  # kills with a batch unacknowledged
        self.error = None

    def batch_in_flight(self):
        try:
            return bool(outbox_seqs(self.w, self.agent_id))
        except sqlite3.Error:
            return False

    def run(self):
        rnd = random.Random()
        try:
            while not self.stopping.wait(rnd.uniform(*KILL_EVERY)):
                if rnd.random() < 0.75:
                    wait_for(self.batch_in_flight, 1.5, 0.002)
                self.in_flight += self.batch_in_flight()
                kill9(self.w.collector)
                self.kills += 1
                time.sleep(rnd.uniform(*DOWN_FOR))
                self.w.start_collector()
        except Exception:  # noqa: BLE001 - reported by the main thread
            self.error = traceback.format_exc()

    def stop(self):
        self.stopping.set()
        self.join(60)


# -- part 1: the collector killed while 2,000+ changes flow ----------------------------------------

def tname(i):
    return f"t{i:04d}"


def cname(j):
    return f"c{j:02d}"


COLTYPES = ["integer", "text", "bigint", "numeric(10,2)", "timestamp", "boolean", "date"]


def create_sql(i):
    cols = [f"{cname(1)} integer NOT NULL", f"{cname(2)} varchar(10)"]
    cols += [f"{cname(j)} {COLTYPES[j % len(COLTYPES)]}" for j in range(3, NCOLS + 1)]
    return f"CREATE TABLE {tname(i)} ({', '.join(cols)});"


def path_key(path):
    """diff.c change_path_cmp: '.' < '#' < '/' < every other byte, a prefix first."""
    return [{ord("."): 1, ord("#"): 2, ord("/"): 3}.get(c, c + 3) for c in path.encode("utf-8")]


def plan_steps():
    """[(sql, expected rows as (op, path after PREFIX1, field) in the order the history must show)]."""
    steps = []
    for first in range(1, NTABLES + 1, PER_STEP):
        tables = range(first, min(first + PER_STEP, NTABLES + 1))
        sql = " ".join(create_sql(i) for i in tables)
        rows = []
        for i in tables:
            rows.append(("ADD", tname(i), None))
            rows += [("ADD", f"{tname(i)}.{cname(j)}", None) for j in range(1, NCOLS + 1)]
        steps.append((sql, rows))
        last = tables[-1]
        if last % ALTER_EVERY == 0:
            sql, rows = [], []
            for i in range(last - ALTER_EVERY + 1, last + 1):
                if i % WIDENED_EVERY == 0:
                    sql.append(f"ALTER TABLE {tname(i)} ALTER COLUMN {cname(2)} TYPE varchar(40);")
                    rows.append(("ALTER", f"{tname(i)}.{cname(2)}", "type"))
                if i % COMMENTED_EVERY == 0:
                    sql.append(f"COMMENT ON TABLE {tname(i)} IS 'table {i}';")
                    rows.append(("ALTER", tname(i), "comment"))
            steps.append((" ".join(sql), rows))
    for _sql, rows in steps:
        rows.sort(key=lambda r: path_key(r[1]))
    return steps


def sources1(pg):
    return {SRC1: {"driver": "pg", "conninfo": pg.conninfo_for(DB1), **SOURCE_KEYS}}


def run_steps(tap, w, pg, steps):
    """Each step in one transaction, then a wait until the agent committed a snapshot with it."""
    late = []
    for n, (sql, _rows) in enumerate(steps):
        before = snapshot_root(w, AGENT1, SRC1)
        pg.psql(sql, db=DB1)
        if not wait_for(lambda: (r := snapshot_root(w, AGENT1, SRC1)) is not None and r != before, 30, 0.05):
            late.append(n)
    tap.ok(not late, f"the agent committed each of the {len(steps)} steps on its own",
           f"steps not seen within 30 s: {late}")


def wait_delivered(w, agent_id, source, count, timeout):
    """Until the agent's outbox is empty and the source has count history rows, then a settle time in
    which the count must not move; returns the count seen."""
    def done():
        return not outbox_seqs(w, agent_id) and history_count(w, source) >= count
    wait_for(done, timeout, 0.3)
    seen = history_count(w, source)
    settle_until = time.monotonic() + 3
    while time.monotonic() < settle_until:
        time.sleep(0.3)
        now = history_count(w, source)
        if now != seen:
            seen, settle_until = now, time.monotonic() + 3
    return seen


def catalog_vs_dump(tap, w, conf, source, when):
    """The catalog's objects of source are exactly what the agent's driver sees in the database."""
    status, dump, err = w.dump(conf, source, name=f"dump-{source}")
    if not tap.ok(status == 0 and dump is not None, f"{when}: prospector-agent --dump {source} works", err):
        return
    cat = {o["path"]: o for o in w.catalog_objects("--all", "--source", source)}
    missing = sorted(set(dump) - set(cat))
    extra = sorted(set(cat) - set(dump))
    tap.ok(not missing and not extra, f"{when}: the catalog holds exactly the database's {len(dump)} objects",
           f"missing from the catalog: {missing[:20]}\nnot in the database: {extra[:20]}")
    wrong = [p for p, o in dump.items() if p in cat and
             (cat[p].get("kind") != o.kind or cat[p].get("attrs", {}).get("type") != o.attrs.get("type"))]
    tap.ok(not wrong, f"{when}: every object has the database's kind and type",
           "\n".join(f"{p}: catalog {cat[p].get('kind')} {cat[p].get('attrs', {}).get('type')!r}, database "
                     f"{dump[p].kind} {dump[p].attrs.get('type')!r}" for p in wrong[:20]))


def part1(tap, w, pg):
    tap.diag("part 1: kill -9 the collector repeatedly while the agent delivers")
    pg.create_database(DB1)
    conf = w.agent_conf(sources1(pg), agent_id=AGENT1, extra=AGENT_EXTRA)
    agent = w.start_agent(conf, name="agent1")
    base = w.wait_new_history(0, timeout=60, source=SRC1)
    tap.ok(base and all(r["origin"] == "baseline" for r in base), "part 1: the baseline arrives",
           dump_json([(r["op"], r["path"], r["origin"]) for r in base]))
    base_ids = {r["id"] for r in base}

    steps = plan_steps()
    expected = [row for _sql, rows in steps for row in rows]
    killer = Killer(w, AGENT1)
    killer.start()
    try:
        run_steps(tap, w, pg, steps)
    finally:
        killer.stop()
    tap.ok(killer.error is None, "the killer thread could always start the collector again", killer.error)
    tap.ok(killer.kills >= MIN_KILLS, f"the collector was killed -9 {killer.kills} times (>= {MIN_KILLS})")
    ensure_collector(w)

    seen = wait_delivered(w, AGENT1, SRC1, len(base) + len(expected), timeout=120)
    tap.ok(not outbox_seqs(w, AGENT1), "part 1: the agent's outbox is empty in the end",
           f"outbox seqs: {outbox_seqs(w, AGENT1)}")
    rows = [r for r in w.history("--source", SRC1) if r["id"] not in base_ids]
    tap.diag(f"part 1: {len(expected)} changes expected, {seen - len(base)} history rows, "
             f"{killer.kills} kills, {killer.in_flight} with a batch in flight")
    got = [(r["op"], r["path"][len(PREFIX1):] if r["path"].startswith(PREFIX1) else r["path"], r["field"])
           for r in sorted(rows, key=lambda r: r["id"])]

    counts = collections.Counter(got)
    want = collections.Counter(expected)
    missing = sorted((want - counts).elements())
    dups = sorted(k for k, n in counts.items() if n > 1)
    unexpected = sorted((counts - want).elements())
    tap.ok(not missing and not dups and not unexpected,
           f"(a) each of the {len(expected)} changes is in the history exactly once",
           f"missing ({len(missing)}): {missing[:10]}\nduplicated ({len(dups)}): {dups[:10]}\n"
           f"unexpected ({len(unexpected)}): {unexpected[:10]}")
    first_off = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), None)
    tap.ok(got == expected, "(b) the history rows come in creation order",
           f"first difference at row {first_off}: got {got[first_off] if first_off is not None else None}, "
           f"expected {expected[first_off] if first_off is not None else None}")
    drops = [(r["id"], r["path"]) for r in w.history() if r["op"] == "DROP"]
    tap.eq(drops, [], "(c) no DROP row in the whole history")
    origins = collections.Counter(r["origin"] for r in rows)
    tap.eq(dict(origins), {"delta": len(rows)}, "part 1: every change arrived as a delta, none by resync")
    catalog_vs_dump(tap, w, conf, SRC1, "(d) part 1")
    check_chain(tap, w, "(e) part 1")
    agent.stop()


# -- parts 2-4: one agent, source k2 ----------------------------------------------------------------

SETUP2 = """
CREATE TABLE k2base (id integer NOT NULL, name varchar(40), note text);
"""


def sources2(pg):
    return {SRC2: {"driver": "pg", "conninfo": pg.conninfo_for(DB2), **SOURCE_KEYS}}


def rel(path):
    return path[len(PREFIX2):] if path.startswith(PREFIX2) else path


def new_rows(w, after_id):
    return [r for r in w.history("--source", SRC2) if r["id"] > after_id]


def triples(rows):
    return sorted((r["op"], rel(r["path"]), r["field"]) for r in rows)


def wait_outbox(w, cond, timeout=30):
    return wait_for(lambda: cond(outbox_seqs(w, AGENT2)), timeout, 0.05)


def check_exactly(tap, w, last_id, want, origin, desc):
    """The rows of source k2 after last_id, once delivery settled, are exactly want, of origin."""
    wait_for(lambda: not outbox_seqs(w, AGENT2) and len(new_rows(w, last_id)) >= len(want), 60, 0.3)
    w.wait_crawls(SRC2, 2, timeout=20)  # a duplicate, if any, would have arrived by now
    rows = new_rows(w, last_id)
    tap.eq(triples(rows), sorted(want), f"{desc}: the change is in the history exactly once")
    tap.ok(rows and all(r["origin"] == origin for r in rows), f"{desc}: rows of origin {origin}",
           dump_json([(r["op"], r["path"], r["origin"]) for r in rows]))
    return max([last_id] + [r["id"] for r in rows])


def table_rows(table, *cols):
    return [("ADD", table, None)] + [("ADD", f"{table}.{c}", None) for c in cols]


def part2(tap, w, pg, conf, last_id):
    """Agent killed after committing a batch it could not send (collector stopped)."""
    tap.diag("part 2: kill -9 the agent between its commit and its send")
    w.collector.stop()
    before = outbox_seqs(w, AGENT2)
    pg.psql("CREATE TABLE k2_offline (a integer, b text)", db=DB2)
    seqs = wait_outbox(w, lambda s: s and s != before)
    tap.ok(seqs, "part 2: with the collector down, the agent commits the change to its outbox",
           f"outbox before {before}, now {outbox_seqs(w, AGENT2)}")
    kill9(agent_proc(w))
    w.start_collector()
    w.start_agent(conf, name="agent2")
    return check_exactly(tap, w, last_id, table_rows("k2_offline", "a", "b"), "delta", "part 2")


def agent_proc(w):
    return [p for p in w.procs if p.name == "agent2"][-1]


def part3(tap, w, pg, conf, last_id):
    """Agent killed after sending a batch, before its ack (collector frozen with the batch unread)."""
    tap.diag("part 3: kill -9 the agent between send and ack")
    collector = w.collector
    collector.signal(signal.SIGSTOP)
    try:
        before = outbox_seqs(w, AGENT2)
        pg.psql("CREATE TABLE k2_inflight (x integer, y text, z date)", db=DB2)
        seqs = wait_outbox(w, lambda s: s and s != before)
        tap.ok(seqs, "part 3: with the collector frozen, the agent commits the change",
               f"outbox before {before}, now {outbox_seqs(w, AGENT2)}")
        # The agent sends in the same turn as its commit; ZeroMQ's I/O thread writes the bytes a
        # moment later. Not an assertion: the check after SIGCONT proves the batch was on the wire.
        time.sleep(1.0)
        kill9(agent_proc(w))
    finally:
        collector.signal(signal.SIGCONT)
    want = table_rows("k2_inflight", "x", "y", "z")
    applied = wait_for(lambda: len(new_rows(w, last_id)) >= len(want), 20, 0.2)
    tap.ok(applied, "part 3: the thawed collector applies the batch of the dead agent (its ack goes nowhere)",
           dump_json(triples(new_rows(w, last_id))))
    tap.ok(outbox_seqs(w, AGENT2), "part 3: the dead agent's outbox still holds the batch",
           f"outbox {outbox_seqs(w, AGENT2)}")
    w.start_agent(conf, name="agent2")
    last_id = check_exactly(tap, w, last_id, want, "delta", "part 3")
    tap.ok(wait_outbox(w, lambda s: not s), "part 3: the restarted agent learns the batch was applied")
    catalog_vs_dump(tap, w, conf, SRC2, "part 3")
    return last_id


def catalog_files(w):
    return [w.catalog + suffix for suffix in ("", "-wal", "-shm", "-journal")]


def part4(tap, w, pg, conf, last_id):
    """The catalog replaced by an older backup while the agent keeps running."""
    tap.diag("part 4: catalog restored from an older backup")
    w.collector.stop()
    backup = w.path("backup")
    os.makedirs(backup)
    for f in catalog_files(w):
        if os.path.exists(f):
            shutil.copy2(f, backup)
    w.start_collector()

    pg.psql("CREATE TABLE k4_lost (a integer, b text); COMMENT ON TABLE k2base IS 'lost comment';"
            " ALTER TABLE k2base ALTER COLUMN name TYPE varchar(80)", db=DB2)
    lost = table_rows("k4_lost", "a", "b") + [("ALTER", "k2base", "comment"), ("ALTER", "k2base.name", "type")]
    check_exactly(tap, w, last_id, lost, "delta", "part 4, before the restore")
    acked = query_ro(state_path(w, AGENT2), "SELECT value FROM meta WHERE key = 'last_acked'")

    w.collector.stop()
    for f in catalog_files(w):
        if os.path.exists(f):
            os.remove(f)
    for f in os.listdir(backup):
        shutil.copy2(os.path.join(backup, f), os.path.dirname(w.catalog))
    restored_last = query_ro(w.catalog, "SELECT coalesce(max(id), 0) FROM history")[0][0]
    agents = query_ro(w.catalog, "SELECT last_seq FROM agents WHERE id = ?", (AGENT2,))
    tap.ok(agents and acked and agents[0][0] < acked[0][0],
           "part 4: the restored catalog is behind the agent's acknowledgements",
           f"catalog last_seq {agents}, agent last_acked {acked}")
    w.start_collector()
    last_id = check_exactly(tap, w, restored_last, lost, "resync", "part 4, after the restore")
    catalog_vs_dump(tap, w, conf, SRC2, "part 4")

    pg.psql("CREATE TABLE k4_after (v integer)", db=DB2)
    return check_exactly(tap, w, last_id, table_rows("k4_after", "v"), "delta",
                         "part 4, a change after the resync")


def parts2to4(tap, w, pg):
    pg.create_database(DB2)
    pg.psql(SETUP2, db=DB2)
    conf = w.agent_conf(sources2(pg), agent_id=AGENT2, extra=AGENT_EXTRA)
    w.start_agent(conf, name="agent2")
    base = w.wait_new_history(0, timeout=60, source=SRC2)
    tap.ok(base and all(r["origin"] == "baseline" for r in base), "parts 2-4: the baseline of k2 arrives")
    tap.ok(wait_outbox(w, lambda s: not s), "parts 2-4: the baseline is acknowledged")
    last_id = max([0] + [r["id"] for r in base])
    last_id = part2(tap, w, pg, conf, last_id)
    last_id = part3(tap, w, pg, conf, last_id)
    part4(tap, w, pg, conf, last_id)
    tap.eq([(r["id"], r["path"]) for r in w.history() if r["op"] == "DROP"], [],
           "no DROP row in the whole history")
    check_chain(tap, w, "the end")


def main():
    tap = Tap()
    pg = Postgres.from_env()
    require_binaries()
    w = World(tap, "fault-kill")
    t0 = time.monotonic()
    try:
        w.start_collector()
        part1(tap, w, pg)
        tap.diag(f"part 1 took {time.monotonic() - t0:.0f} s")
        parts2to4(tap, w, pg)
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        tap.diag(f"run time {time.monotonic() - t0:.0f} s")
        w.close()
        for db in (DB1, DB2):
            pg.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', check=False)
    tap.done()


if __name__ == "__main__":
    main()
