#!/usr/bin/env python3
"""Central probe control: `prospector probe SOURCE` and `prospector interval SOURCE DURATION`.

A fixture source configured with a one-hour interval: `probe` makes it crawl within seconds;
`interval hr 2s` makes the agent report interval_s 2 and crawl every ~2 s, and that survives a
restart of the agent, of the collector, and of both; a command for a disconnected agent waits in
the queue until it says HELLO. Unknown source → exit 1, bad duration → exit 2. No database is
needed: the source uses the fixture driver.
"""

import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tap, World, require_binaries, wait_for  # noqa: E402

FIXTURE = """\
database d:1 - hr
	encoding = UTF8
schema n:2200 d:1 public
table r:100 n:2200 employees
column a:100:1 r:100 id
	family = integer
	ordinal = 1
	precision = 32
	type = integer
"""

# Three crawls at 2 s take about 6 s; a one-hour interval would give none.
CRAWLS, CRAWL_WINDOW = 3, 20


def commands(w):
    """The collector's command queue, read directly: [(id, source, kind, interval_s, sent)]."""
    db = sqlite3.connect(f"file:{w.catalog}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT id, source, kind, interval_s, sent FROM commands ORDER BY id").fetchall()
    finally:
        db.close()


def check_every_2s(tap, w, when):
    st = w.wait_status("hr", lambda s: s.get("interval_s") == 2, timeout=20)
    tap.ok(st is not None, f"{when}: status shows interval_s 2",
           f"status: {w.source_status('hr')}")
    start = time.monotonic()
    seen = w.wait_crawls("hr", count=CRAWLS, timeout=CRAWL_WINDOW)
    took = time.monotonic() - start
    tap.ok(seen >= CRAWLS, f"{when}: {CRAWLS} crawls in {took:.1f} s (interval 2 s)",
           f"saw {seen} in {CRAWL_WINDOW} s")


def check_errors(tap, w):
    queued = len(commands(w))
    r = w.cli("probe", "nosuch")
    tap.eq(r.returncode, 1, "probe of an unknown source exits 1")
    tap.ok("nosuch" in r.stderr, "the message names the source", r.stderr)
    r = w.cli("interval", "nosuch", "5m")
    tap.eq(r.returncode, 1, "interval of an unknown source exits 1")
    tap.ok("nosuch" in r.stderr, "the message names the source", r.stderr)
    for bad in ("soon", "5 minutes", "0", "-5s", "5x"):
        r = w.cli("interval", "hr", bad)
        tap.eq(r.returncode, 2, f"interval hr '{bad}' exits 2")
    r = w.cli("probe")
    tap.eq(r.returncode, 2, "probe without SOURCE exits 2")
    tap.eq(len(commands(w)), queued, "no command queued by the failures")


def check_probe(tap, w):
    tap.ok(w.wait_status("hr", lambda s: s.get("last_end"), timeout=30),
           "the first crawl finished", f"status: {w.source_status('hr')}")
    time.sleep(1.5)  # let the first crawl's status settle
    before = w.source_status("hr")
    tap.eq(before.get("interval_s"), 3600, "the configured interval is 1 h")
    doc = w.cli_json("probe", "hr")
    cmd = doc.get("command", {})
    tap.ok(cmd.get("kind") == "probe_now" and cmd.get("source") == "hr" and cmd.get("agent") == "ctl-agent"
           and cmd.get("interval_s") is None and cmd.get("created"), "probe --json describes the command",
           str(doc))
    start = time.monotonic()
    seen = w.wait_crawls("hr", count=1, timeout=15)
    tap.ok(seen == 1, f"probe: a crawl within {time.monotonic() - start:.1f} s despite the 1 h interval",
           f"status: {w.source_status('hr')}")
    tap.ok(wait_for(lambda: all(c[4] for c in commands(w)), 10), "the command is marked sent", str(commands(w)))


def check_interval(tap, w, agent_conf):
    r = w.cli("interval", "hr", "2s")
    tap.eq(r.returncode, 0, "interval hr 2s exits 0")
    tap.ok("hr" in r.stdout and "2s" in r.stdout, "it says what it queued", r.stdout)
    check_every_2s(tap, w, "interval 2s")

    agent = [p for p in w.procs if p.name == "agent"][-1]
    agent.stop()
    w.start_agent(agent_conf)
    tap.ok(wait_for(lambda: "sending the interval override of 2s" in w.collector.output(), 15),
           "the collector sends the override to the restarted agent")
    check_every_2s(tap, w, "after an agent restart")

    w.collector.stop()
    w.start_collector()
    check_every_2s(tap, w, "after a collector restart")

    # Both down; a probe queued meanwhile waits for the agent's HELLO.
    [p for p in w.procs if p.name == "agent"][-1].stop()
    w.collector.stop()
    r = w.cli("probe", "hr")
    tap.eq(r.returncode, 0, "probe with nothing running queues")
    tap.ok(commands(w)[-1][4] is None, "the queued probe is not sent yet", str(commands(w)))
    w.start_collector()
    time.sleep(1.5)
    tap.ok(commands(w)[-1][4] is None, "still queued while the agent is away", str(commands(w)))
    w.start_agent(agent_conf)
    tap.ok(wait_for(lambda: commands(w)[-1][4], 15), "sent once the agent said hello", str(commands(w)))
    check_every_2s(tap, w, "after restarting both")
    doc = w.cli_json("interval", "hr", "1h")
    tap.eq(doc.get("command", {}).get("interval_s"), 3600, "interval --json gives interval_s")
    st = w.wait_status("hr", lambda s: s.get("interval_s") == 3600, timeout=15)
    tap.ok(st is not None, "interval back to 1 h", f"status: {w.source_status('hr')}")


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "control")
    try:
        fixture = w.write("hr.schema", FIXTURE)
        w.start_collector()
        conf = w.agent_conf({"hr": {"driver": "fixture", "fixture": fixture, "interval": "1h"}},
                            agent_id="ctl-agent")
        w.start_agent(conf)
        check_probe(tap, w)
        check_errors(tap, w)
        check_interval(tap, w, conf)
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
        w.dump_logs()
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
