#!/usr/bin/env python3
"""Only enrolled agents get in (issue 5): CURVE, enrollment, revocation, hostile input.

A collector with its key pair; agent "good" (enrolled) watches a fixture source and keeps working
through everything below. tests/zmq-peer plays the others on the collector's port:

1. A plain-text client, an unenrolled key, and a client holding the wrong collector key: no reply,
   no row in the catalog's agents, sources or history.
2. An enrolled key whose HELLO claims to be another agent ("good"): REJECT, and "good" untouched.
3. Garbage, a truncated message, an oversized one (over twice max_batch_bytes) and a replayed HELLO:
   the collector stays up and the catalog is unchanged; 20 invalid messages quarantine the sender.
4. `prospector revoke`: an open connection of the revoked agent is refused on its next message, and
   a new handshake with that key is refused.
Meanwhile "good" delivers a change made at the end: an enrolled agent is unaffected.
"""

import os
import sqlite3
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AGENT, BUILD, CLI, COLLECTOR, Tap, World, require_binaries, run  # noqa: E402

PEER = os.path.join(BUILD, "tests", "zmq-peer")

FIXTURE = """\
database d:1 - hr
schema n:1 d:1 public
table r:100 n:1 employees
column a:100:1 r:100 id
	type = integer
"""


def counts(w):
    """Rows of what an attacker could try to write: agents, sources, history, objects."""
    db = sqlite3.connect(f"file:{w.catalog}?mode=ro", uri=True, timeout=10)
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("agents", "sources", "history", "objects")}
    finally:
        db.close()


def peer(w, *steps, key=None, server_key=True, wait_ms=3000):
    """Runs zmq-peer against the collector; returns its reply lines."""
    argv = [PEER, f"tcp://127.0.0.1:{w.collector_port}"]
    if server_key:
        argv += ["--server-key", server_key if isinstance(server_key, str) else w.keygen("collector")[1]]
    if key:
        argv += ["--key", key]
    r = run(argv + list(steps) + [f"wait:{wait_ms}"], timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"zmq-peer: {r.stderr}")
    return r.stdout.split("\n")[:-1]


def refused_clients(tap, w, before):
    tap.eq(peer(w, "hello:intruder", server_key=False), [], "a plain-text client gets no answer")
    tap.eq(peer(w, "hello:intruder"), [], "an unenrolled key gets no answer")
    wrong = w.keygen("not-the-collector")[1]
    key = w.keygen("agent-good")[0]
    tap.eq(peer(w, "hello:good", key=key, server_key=wrong), [],
           "an enrolled agent holding the wrong collector key gets no answer")
    tap.eq(counts(w), before, "none of them changed the catalog")


def spoofing(tap, w, before):
    w.enroll("mallory")
    key = w.keygen("agent-mallory")[0]
    got = peer(w, "hello:good", key=key)
    tap.ok(len(got) == 1 and got[0].startswith("REJECT") and "key" in got[0],
           "an enrolled key claiming to be another agent is rejected", got)
    got = peer(w, "hello:mallory", "heartbeat:good", key=key)
    tap.ok(len(got) == 2 and got[0].startswith("WELCOME") and got[1].startswith("REJECT"),
           "a heartbeat claiming another agent is rejected too", got)
    agents = sqlite3.connect(f"file:{w.catalog}?mode=ro", uri=True).execute(
        "SELECT id, incarnation FROM agents ORDER BY id").fetchall()
    tap.ok(("good", 42) not in agents, "agent good's record was not touched", agents)


def hostile(tap, w):
    key = w.keygen("agent-mallory")[0]
    before = counts(w)
    got = peer(w, "garbage:300", "truncated", "big:300000", "hello:mallory", "again", key=key)
    tap.ok(w.collector.alive(), "garbage, truncated and oversized messages: the collector is up")
    tap.ok([g.split()[0] for g in got] == ["WELCOME", "WELCOME"],
           "only the valid HELLO and its replay are answered", got)
    tap.eq(counts(w)["history"], before["history"], "the history is unchanged")
    got = peer(w, *(["garbage:64"] * 20), "hello:mallory", key=key)
    tap.eq(got, [], "after 20 invalid messages the agent is quarantined: even a valid HELLO is ignored")


def revocation(tap, w):
    w.enroll("temp")
    key = w.keygen("agent-temp")[0]
    argv = [PEER, f"tcp://127.0.0.1:{w.collector_port}", "--server-key", w.keygen("collector")[1],
            "--key", key, "hello:temp", "wait:3000", "hello:temp", "wait:3000"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)  # the first HELLO is answered on the open connection
    r = w.cli("revoke", "temp")
    tap.ok(r.returncode == 0, "prospector revoke temp", r.stderr)
    out, _ = proc.communicate(timeout=30)
    lines = out.split("\n")[:-1]
    tap.ok(len(lines) == 1 and lines[0].startswith("WELCOME"),
           "the open connection's next message after the revocation is refused", lines)
    tap.eq(peer(w, "hello:temp", key=key), [], "a new handshake with the revoked key gets no answer")
    r = w.cli("enroll", "temp", w.keygen("agent-temp")[1])
    tap.ok(r.returncode != 0 and "revoked" in r.stderr, "a revoked key cannot be enrolled again", r.stderr)
    listing = w.cli_json("agents")["keys"]
    tap.ok(any(k["agent"] == "temp" and k["revoked"] for k in listing), "prospector agents shows it revoked",
           listing)


def main():
    tap = Tap()
    require_binaries(AGENT, COLLECTOR, CLI, PEER)
    w = World(tap, "curve")
    try:
        fixture = w.write("hr.schema", FIXTURE)
        w.start_collector()
        w.start_agent(w.agent_conf({"hr": {"driver": "fixture", "fixture": fixture, "interval": "1s"}},
                                   agent_id="good", extra="splay = 0s\n"))
        base = w.wait_new_history(0, timeout=60, source="hr")
        tap.eq(len(base), 4, "the enrolled agent delivers its baseline")
        before = counts(w)
        refused_clients(tap, w, before)
        spoofing(tap, w, before)
        hostile(tap, w)
        revocation(tap, w)
        last = max(r["id"] for r in w.history())
        w.write("hr.schema", FIXTURE + "column a:100:2 r:100 name\n\ttype = text\n")
        rows = w.wait_new_history(last, timeout=60, source="hr")
        tap.ok(len(rows) == 1 and rows[0]["op"] == "ADD", "the enrolled agent kept working throughout", rows)
    finally:
        if tap.failed:
            w.dump_logs()
        w.close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
