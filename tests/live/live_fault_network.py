#!/usr/bin/env python3
"""A network cut between agent and collector, longer than every timeout, loses nothing.

The agent runs in a network namespace of its own, joined to the collector's (the root namespace) by
a veth pair on a private /30; it reaches PostgreSQL by its unix socket, which works across network
namespaces, so it keeps crawling while the cut stands. The cut is a blackhole route to the other
end on both sides: packets vanish without an RST, so the TCP connection under ZeroMQ stays open on
both ends (half-open) and neither ZeroMQ nor the kernel notices anything for minutes, which is what
a dead switch or a firewall that drops state looks like.

- Baseline and one change arrive while the network is up.
- Cut for ~40 s: longer than the agent's 15 s resend timeout (it starts over with HELLO into the
  void) and many heartbeats (status marks the agent silent). Changes made during the cut are
  committed to the agent's outbox and none of them reaches the collector's history.
- Heal: the outbox drains and the history holds every change of the cut exactly once, as deltas;
  the catalog then equals what `prospector-agent --dump` reads from the database (run outside the
  namespace), object by object.

Needs root-like rights to create namespaces and veth pairs; where they are refused (an unprivileged
CI container) the whole suite skips and says why.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (AGENT, COLLECTOR, Postgres, Tap, World, dump_json, free_port,  # noqa: E402
                     require_binaries, run, skip_all, wait_for)
from faultlib import (check_catalog_matches, check_exactly_once, history_ro,  # noqa: E402
                      outbox_rows, privileged, skip_forbidden)

DB = "prospector_fault_net"
SOURCE = "net"
PREFIX = f"{SOURCE}/{DB}/public/"
AGENT_ID = "net-agent"
CUT_SECONDS = 42  # > the agent's 15 s resend timeout, and many 1 s heartbeats
NS_PREFIX = "pfnet-"

SETUP = """
CREATE TABLE household (id integer PRIMARY KEY, address text NOT NULL);
CREATE TABLE person (id integer PRIMARY KEY, name varchar(50) NOT NULL);
"""

BEFORE_CUT = "CREATE TABLE before_cut (id integer PRIMARY KEY, note text)"
BEFORE_CUT_ROWS = [("ADD", "before_cut"), ("ADD", "before_cut.id"), ("ADD", "before_cut.note"),
                   ("ADD", "before_cut#before_cut_pkey")]

# Changes made during the cut, each crawled into its own outbox batch; (SQL, expected (op, path)).
DURING_CUT = [
    ('CREATE TABLE cut_1 (id integer PRIMARY KEY, "名称" text)',
     [("ADD", "cut_1"), ("ADD", "cut_1.id"), ("ADD", "cut_1.名称"), ("ADD", "cut_1#cut_1_pkey")]),
    ("ALTER TABLE person ADD COLUMN phone varchar(20)",
     [("ADD", "person.phone")]),
    ("COMMENT ON TABLE cut_1 IS '断网期间建的表'",
     [("ALTER", "cut_1")]),
    ("CREATE TABLE cut_2 (id bigint PRIMARY KEY, household_id integer REFERENCES household (id))",
     [("ADD", "cut_2"), ("ADD", "cut_2.id"), ("ADD", "cut_2.household_id"), ("ADD", "cut_2#cut_2_pkey"),
      ("ADD", "cut_2#cut_2_household_id_fkey")]),
]


# -- the namespace --------------------------------------------------------------------------------

def ip(*args, ns=None):
    argv = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + list(args)
    r = run(argv, timeout=20)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r.stdout


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(tap):
    """Namespaces and routes left by a run of this suite that was killed before it cleaned up."""
    for line in run(["ip", "netns", "list"], timeout=20).stdout.splitlines():
        m = re.match(rf"({NS_PREFIX}(?:probe-)?(\d+))\b", line)
        if m and not pid_alive(int(m.group(2))):
            tap.diag(f"removing the namespace {m.group(1)} of a dead earlier run")
            run(["ip", "netns", "del", m.group(1)], timeout=20)
    ours = set(re.findall(r"inet (10\.77\.\d+\.\d+)/30", run(["ip", "-o", "-4", "addr"], timeout=20).stdout))
    for line in run(["ip", "route", "show", "type", "blackhole"], timeout=20).stdout.splitlines():
        m = re.match(r"blackhole (10\.77\.(\d+)\.2)\b", line)
        if m and f"10.77.{m.group(2)}.1" not in ours:
            run(["ip", "route", "del", "blackhole", m.group(1)], timeout=20)


class NetNS:
    """A namespace NS with veth VB = 10.77.K.2/30, the root side VA = 10.77.K.1/30."""

    def __init__(self, world):
        pid = os.getpid()
        self.ns = f"{NS_PREFIX}{pid}"
        self.va, self.vb = f"pfa{pid}", f"pfb{pid}"
        used = set(re.findall(r"inet 10\.77\.(\d+)\.", run(["ip", "-o", "-4", "addr"], timeout=20).stdout))
        k = next(str(n % 250) for n in range(pid, pid + 250) if str(n % 250) not in used)
        self.root_ip, self.ns_ip = f"10.77.{k}.1", f"10.77.{k}.2"
        world.cleanups.append(self.remove)

    def create(self):
        ip("netns", "add", self.ns)
        ip("link", "add", self.va, "type", "veth", "peer", "name", self.vb)
        ip("link", "set", self.vb, "netns", self.ns)
        ip("addr", "add", f"{self.root_ip}/30", "dev", self.va)
        ip("link", "set", self.va, "up")
        ip("addr", "add", f"{self.ns_ip}/30", "dev", self.vb, ns=self.ns)
        ip("link", "set", self.vb, "up", ns=self.ns)
        ip("link", "set", "lo", "up", ns=self.ns)

    def cut(self):
        # Both directions, at each sender: nothing crosses the veth, and nobody is told.
        ip("route", "add", "blackhole", f"{self.ns_ip}/32")
        ip("route", "add", "blackhole", f"{self.root_ip}/32", ns=self.ns)

    def heal(self):
        ip("route", "del", "blackhole", f"{self.root_ip}/32", ns=self.ns)
        ip("route", "del", "blackhole", f"{self.ns_ip}/32")

    def remove(self):
        # The root side's blackhole route belongs to no device: it outlives the namespace.
        run(["ip", "route", "del", "blackhole", f"{self.ns_ip}/32"], timeout=20)
        run(["ip", "netns", "del", self.ns], timeout=20)  # takes the veth pair with it
        run(["ip", "link", "del", self.va], timeout=20)

    def argv(self, argv):
        return ["ip", "netns", "exec", self.ns] + argv


def check_namespaces_allowed():
    """Skips the suite unless we may make a namespace and a veth pair (a quick trial, undone)."""
    name = f"pfnet-probe-{os.getpid()}"
    ok, why = privileged(["ip", "netns", "add", name])
    if not ok:
        skip_forbidden(f"cannot create a network namespace here (ip netns add: {why or 'refused'})")
    ok_exec, why_exec = privileged(["ip", "netns", "exec", name, "true"])
    ok, why = privileged(["ip", "link", "add", f"pfp{os.getpid()}", "type", "veth", "peer", "name",
                          f"pfq{os.getpid()}"])
    run(["ip", "link", "del", f"pfp{os.getpid()}"], timeout=20)
    run(["ip", "netns", "del", name], timeout=20)
    if not ok_exec:
        skip_forbidden(f"cannot run a process in a network namespace here (ip netns exec: "
                       f"{why_exec or 'refused'})")
    if not ok:
        skip_forbidden(f"cannot create a veth pair here (ip link add … type veth: {why or 'refused'})")


# -- configuration ----------------------------------------------------------------------------------

def collector_conf(w, net, port):
    return (f"[collector]\nlisten = tcp://{net.root_ip}:{port}\ndatabase = {w.catalog}\n"
            f"{w.collector_key_lines()}")


def agent_conf(w, net, port, pg, state_dir):
    return (f"[agent]\nid = {AGENT_ID}\ncollector = tcp://{net.root_ip}:{port}\n"
            f"state_dir = {state_dir}\nheartbeat = 1s\n{w.agent_key_lines(AGENT_ID)}\n"
            f'[source "{SOURCE}"]\ndriver = pg\nconninfo = {pg.conninfo_for(DB)}\ninterval = 1s\n')


def agent_status(w):
    for a in w.status().get("agents", []):
        if a.get("id") == AGENT_ID:
            return a
    return None


# -- the steps ----------------------------------------------------------------------------------------

def start(tap, w, net, pg, state_dir):
    port = free_port()
    conf = w.write("collector.conf", collector_conf(w, net, port))
    w.collector = w.spawn("collector", [COLLECTOR, "-c", conf])
    if not wait_for(lambda: w.cli("status", "--json").returncode == 0 or not w.collector.alive(), 20) \
            or not w.collector.alive():
        raise RuntimeError(f"collector did not come up:\n{w.collector.output()[-2000:]}")
    conf = w.write("agent.conf", agent_conf(w, net, port, pg, state_dir))
    w.spawn("agent", net.argv([AGENT, "-c", conf]))


def check_before_cut(tap, w, pg):
    rows = w.wait_new_history(0, timeout=60, source=SOURCE)
    tap.ok(rows and all(r["origin"] == "baseline" for r in rows),
           "network up: the baseline crosses the veth into the history", dump_json(rows[:5]))
    last = max([0] + [r["id"] for r in rows])
    pg.psql(BEFORE_CUT, db=DB)
    rows = w.wait_new_history(last, timeout=30, source=SOURCE)
    check_exactly_once(tap, rows, [("ADD", PREFIX + p) for _, p in BEFORE_CUT_ROWS],
                       "network up: a change arrives exactly once")
    return max([last] + [r["id"] for r in rows])


def outbox_after(state_dir, seq):
    """The agent's outbox rows with seq > seq (a change it committed locally)."""
    _acked, rows = outbox_rows(state_dir)
    return [r for r in rows if r[0] > seq]


def during_cut(tap, w, net, pg, state_dir, last_id):
    """Cuts, makes the changes (each waited for in the agent's outbox), keeps the cut CUT_SECONDS."""
    net.cut()
    started = time.monotonic()
    silent = wait_for(lambda: (a := agent_status(w)) and a.get("silent") and a, 20)
    tap.ok(silent, "cut: status marks the agent silent (no heartbeat for 3 intervals)",
           dump_json(agent_status(w)))
    seq = max([0] + [r[0] for r in outbox_rows(state_dir)[1]])
    spacing = (CUT_SECONDS - 6) / len(DURING_CUT)
    for i, (sql, _expected) in enumerate(DURING_CUT):
        # Spread over the cut, so that changes are queued before and after the agent's resend timeout.
        pause = started + 2 + i * spacing - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        pg.psql(sql, db=DB)
        got = wait_for(lambda: outbox_after(state_dir, seq), 20)
        tap.ok(got, f"cut: change {i + 1} ({sql.split('(')[0].strip()}) committed to the agent's outbox",
               dump_json(outbox_rows(state_dir)[0]))
        seq = max([seq] + [r[0] for r in got or []])
    rest = started + CUT_SECONDS - time.monotonic()
    if rest > 0:
        time.sleep(rest)  # the scenario: the cut lasts this long; nothing is asserted by it
    new = history_ro(w.catalog, after=last_id)
    tap.eq([(r["op"], r["path"]) for r in new], [],
           f"cut ({time.monotonic() - started:.0f} s): none of its changes reached the history")
    acked, rows = outbox_rows(state_dir)
    tap.ok(len([r for r in rows if r[0] > acked]) >= len(DURING_CUT),
           "cut: the agent's outbox holds them, unacknowledged",
           f"last_acked {acked}, outbox seqs {[r[0] for r in rows]}")
    net.heal()


def after_heal(tap, w, state_dir, last_id):
    healed = time.monotonic()
    # TCP retransmits with exponential backoff: after a 40 s outage the next try may be ~25 s away.
    drained = wait_for(lambda: not outbox_rows(state_dir)[1], 90, interval=0.5)
    tap.ok(drained, f"healed: the agent's outbox drains ({time.monotonic() - healed:.0f} s)",
           dump_json([r[:2] for r in outbox_rows(state_dir)[1]]))
    rows = w.wait_new_history(last_id, timeout=30, settle=4, source=SOURCE)
    expected = [(op, PREFIX + p) for _, changes in DURING_CUT for op, p in changes]
    check_exactly_once(tap, rows, expected, "healed: every change of the cut is in the history exactly once")
    tap.ok(rows and all(r["origin"] == "delta" for r in rows), "healed: recorded as deltas",
           dump_json(sorted({r["origin"] for r in rows})))
    back = wait_for(lambda: (a := agent_status(w)) and not a.get("silent") and a, 30)
    tap.ok(back, "healed: the agent is no longer silent", dump_json(agent_status(w)))


def main():
    tap = Tap()
    require_binaries()
    check_namespaces_allowed()
    pg = Postgres.from_env()
    if "host=/" not in pg.conninfo:
        skip_all("PROSPECTOR_TEST_PG does not reach PostgreSQL by a unix socket (host=/path), which "
                 "the agent inside the namespace needs")
    w = World(tap, "fault-net")
    try:
        remove_stale(tap)
        net = NetNS(w)
        net.create()
        pg.create_database(DB)
        pg.psql(SETUP, db=DB)
        state_dir = w.path("state")
        os.makedirs(state_dir)
        start(tap, w, net, pg, state_dir)
        last_id = check_before_cut(tap, w, pg)
        during_cut(tap, w, net, pg, state_dir, last_id)
        after_heal(tap, w, state_dir, last_id)
        dump_conf = w.agent_conf({SOURCE: {"driver": "pg", "conninfo": pg.conninfo_for(DB)}},
                                 agent_id="dump", collector_port=1)
        check_catalog_matches(tap, w, dump_conf, SOURCE,
                              "healed: the catalog equals the database (--dump outside the namespace)")
        tap.eq([p.name for p in w.procs if p.name in ("collector", "agent") and not p.alive()], [],
               "collector and agent survived the cut")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
        pg.psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', check=False)
    tap.done()


if __name__ == "__main__":
    main()
