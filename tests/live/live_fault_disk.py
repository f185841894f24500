#!/usr/bin/env python3
"""The collector's disk fills up: nothing is lost, nothing is half-applied, nothing is invented.

The collector's catalog lives on a small tmpfs of its own. After the baseline of a PostgreSQL source
(1 s interval) is in, a filler file takes every free byte of it, and one transaction creates tables
with many columns and long Chinese comments, more than a megabyte of catalog, which the agent
sends as several small batches (max_batch_bytes = 64 KiB). While the disk is full:

- the collector keeps running, and neither it nor the agent spins (each uses less than a quarter
  of a core: one batch it cannot commit must not turn into a resend/refuse loop);
- none of the new objects reaches the history (read with sqlite in read-only mode, which needs no
  space) and the read-only CLI still answers;
- the agent's outbox (its state.db, read-only) still holds the batches: the collector never acked
  what it could not commit.

Then the filler is deleted: every change arrives exactly once and the catalog equals what
`prospector-agent --dump` reads from the database. What the collector logged about the full disk is
shown in the diagnostics, never asserted on.

sqlite's WAL never shrinks on its own: a WAL that grew to a few MB before the disk filled can take
new transactions in the space it already owns, which is a legitimate commit, not a fault. So the
test checkpoints the catalog with TRUNCATE (its only write to the catalog; it changes no content)
right before it fills the disk, so that any commit needs new space.

Mounting needs root-like rights; where `mount -t tmpfs` is refused the suite skips and says why.
"""

import errno
import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Postgres, Tap, World, dump_json, require_binaries, run,  # noqa: E402
                     wait_for)
from faultlib import (check_catalog_matches, check_exactly_once, history_ro,  # noqa: E402
                      outbox_rows, privileged, psql_script, skip_forbidden)

DB = "prospector_fault_disk"
SOURCE = "disk"
PREFIX = f"{SOURCE}/{DB}/public/"
TMPFS_SIZE = "16m"
NTABLES, NCOLUMNS = 24, 40
MAX_CPU_SHARE = 0.25  # of one core, for each daemon, while the disk is full
MAX_BATCH = 65536  # the agent's batches: the big change is several of them
FULL_SECONDS = 20  # the disk stays full this long after the agent committed the change: > its 15 s
                   # resend timeout, so the HELLO path is tried against the full disk too

SETUP = "CREATE TABLE household (id integer PRIMARY KEY, address text NOT NULL)"

COMMENT = "人口基本信息登记表字段说明" * 8  # 104 characters, 312 bytes in UTF-8


def big_change():
    """One transaction: NTABLES tables of NCOLUMNS commented columns; and its expected (op, path)."""
    sql, expected = [], []
    for t in range(1, NTABLES + 1):
        name = f"full_{t:02d}"
        cols = ", ".join(f"c{c:02d} varchar(100)" for c in range(1, NCOLUMNS + 1))
        sql.append(f"CREATE TABLE {name} (id integer PRIMARY KEY, {cols})")
        sql.append(f"COMMENT ON TABLE {name} IS '第{t}张表：{COMMENT}'")
        expected += [("ADD", PREFIX + name), ("ADD", PREFIX + f"{name}.id"),
                     ("ADD", PREFIX + f"{name}#{name}_pkey")]
        for c in range(1, NCOLUMNS + 1):
            sql.append(f"COMMENT ON COLUMN {name}.c{c:02d} IS '第{c}列：{COMMENT}'")
            expected.append(("ADD", PREFIX + f"{name}.c{c:02d}"))
    return ";\n".join(sql), expected


# -- the small disk ------------------------------------------------------------------------------

def mount_tmpfs(w):
    """A tmpfs of TMPFS_SIZE at a new directory in the world; unmounted when the world closes."""
    mnt = w.path("disk")
    os.makedirs(mnt)
    ok, why = privileged(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", mnt])
    if not ok:
        skip_forbidden(f"cannot mount a tmpfs here (mount -t tmpfs: {why or 'refused'})")
    # Registered after the processes, so it runs after they stopped (cleanups run after procs stop).
    w.cleanups.append(lambda: run(["umount", "-l", mnt], timeout=30))
    return mnt


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path):
    """Writes a file until the filesystem refuses one more byte; returns its size."""
    size, chunk = 0, 1 << 20
    with open(path, "wb", buffering=0) as f:
        while chunk:
            try:
                size += f.write(b"\0" * chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                chunk //= 2
        os.fsync(f.fileno())
    return size


def cpu_seconds(proc):
    """User + system CPU time the process used so far (/proc/PID/stat), or None."""
    try:
        with open(f"/proc/{proc.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def check_no_spin(tap, w, cpu0, wall):
    """A collector that cannot commit has nothing to do but wait: neither it nor the agent may spin
    (resending and refusing in a loop burns a core and floods the logs of a full disk)."""
    for p in w.procs:
        if p.name not in ("collector", "agent") or cpu0.get(p.name) is None:
            continue
        used = (cpu_seconds(p) or 0) - cpu0[p.name]
        tap.ok(used < MAX_CPU_SHARE * wall,
               f"disk full: the {p.name} does not spin ({used:.1f} s of CPU in {wall:.0f} s)",
               f"more than {MAX_CPU_SHARE:.0%} of a core while the collector could not commit; "
               f"its log grew to {len(p.output().splitlines())} lines")


def truncate_wal(catalog):
    """PRAGMA wal_checkpoint(TRUNCATE): (busy, frames in the WAL, frames checkpointed)."""
    db = sqlite3.connect(catalog, timeout=10)
    try:
        return db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        db.close()


# -- the steps ------------------------------------------------------------------------------------

def ours(rows):
    return [r for r in rows if r["path"].startswith(PREFIX + "full_")]


def pending_in_outbox(state_dir):
    """The unacknowledged outbox batches that carry the new tables (names are plain UTF-8 in them)."""
    acked, rows = outbox_rows(state_dir)
    return [r for r in rows if r[0] > acked and b"full_" in r[2]]


def disk_full(tap, w, mnt, pg, state_dir, sql):
    # busy: the collector was in the middle of a transaction; try again.
    busy, frames, done = wait_for(lambda: (r := truncate_wal(w.catalog))[0] == 0 and r, 10) or (1, -1, -1)
    tap.ok(busy == 0, "the catalog's WAL was checkpointed and truncated before the disk filled",
           f"busy={busy} frames={frames} checkpointed={done}")
    filler = os.path.join(mnt, "filler")
    size = fill(filler)
    tap.diag(f"filler: {size} bytes; {free_bytes(mnt)} bytes free on the catalog's disk")
    before = history_ro(w.catalog)
    last_id = max([0] + [r["id"] for r in before])
    log_len = len(w.collector.output())
    psql_script(pg, sql, DB)
    pending = wait_for(lambda: pending_in_outbox(state_dir), 60)
    tap.ok(pending and len(pending) > 1, "disk full: the agent committed the change to its outbox, "
           f"as several batches ({len(pending or [])})", dump_json(outbox_rows(state_dir)[0]))
    cpu0, wall0 = {p.name: cpu_seconds(p) for p in w.procs}, time.monotonic()
    time.sleep(FULL_SECONDS)  # the scenario: the collector keeps failing for a while
    check_no_spin(tap, w, cpu0, time.monotonic() - wall0)
    tap.ok(w.collector.alive(), "disk full: the collector is still running",
           w.collector.output()[-1500:])
    new = ours(history_ro(w.catalog, after=last_id))
    tap.eq(len(new), 0, "disk full: none of the new objects is in the history")
    r = w.cli("history", "--source", SOURCE, "--json")
    tap.ok(r.returncode == 0, "disk full: the read-only CLI still answers (history --json)",
           r.stderr.strip()[-500:])
    still = pending_in_outbox(state_dir)
    tap.ok(pending and len(still) == len(pending),
           "disk full: the agent's outbox still holds every one of those batches, unacked",
           f"outbox: {[(s, src, len(d)) for s, src, d in outbox_rows(state_dir)[1]]}")
    logged = w.collector.output()[log_len:].splitlines()
    uniq = sorted(set(line.split(": ", 1)[-1] for line in logged))
    tap.diag(f"the collector logged {len(logged)} lines while the disk was full; distinct:")
    for line in uniq[:10]:
        tap.diag(f"  {line}")
    os.unlink(filler)
    return last_id


def after_space(tap, w, state_dir, last_id, expected):
    freed = time.monotonic()
    drained = wait_for(lambda: not outbox_rows(state_dir)[1], 90, interval=0.5)
    tap.ok(drained, f"space back: the agent's outbox drains ({time.monotonic() - freed:.0f} s)",
           dump_json([r[:2] for r in outbox_rows(state_dir)[1]]))
    rows = w.wait_new_history(last_id, timeout=30, settle=4, source=SOURCE)
    check_exactly_once(tap, rows, expected,
                       f"space back: all {len(expected)} changes are in the history exactly once")
    tap.ok(rows and all(r["origin"] == "delta" for r in rows), "space back: recorded as deltas",
           dump_json(sorted({r["origin"] for r in rows})))


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "fault-disk")
    mnt = mount_tmpfs(w)
    pg = Postgres.from_env()
    try:
        w.catalog = os.path.join(mnt, "catalog.db")
        pg.create_database(DB)
        pg.psql(SETUP, db=DB)
        sql, expected = big_change()
        w.start_collector()
        sources = {SOURCE: {"driver": "pg", "conninfo": pg.conninfo_for(DB), "interval": "1s"}}
        state_dir = w.path("state")
        # Small batches: the change travels as several, each of which must fail on its own.
        w.start_agent(w.agent_conf(sources, agent_id="disk-agent", state_dir=state_dir,
                                   extra=f"max_batch_bytes = {MAX_BATCH}\n"))
        base = w.wait_new_history(0, timeout=60, source=SOURCE)
        tap.ok(base and all(r["origin"] == "baseline" for r in base), "the baseline is in",
               dump_json(base[:3]))
        tap.ok(wait_for(lambda: not outbox_rows(state_dir)[1], 30), "the baseline was acknowledged")
        last_id = disk_full(tap, w, mnt, pg, state_dir, sql)
        after_space(tap, w, state_dir, last_id, expected)
        dump_conf = w.agent_conf({SOURCE: {"driver": "pg", "conninfo": pg.conninfo_for(DB)}},
                                 agent_id="dump", collector_port=1)
        check_catalog_matches(tap, w, dump_conf, SOURCE, "space back: the catalog equals the database")
        tap.eq([p.name for p in w.procs if p.name in ("collector", "agent") and not p.alive()], [],
               "collector and agent survived the full disk")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
        pg.psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', check=False)
    tap.done()


if __name__ == "__main__":
    main()
