#!/usr/bin/env python3
"""The daemons as an operator meets them: --help, `-n` config checks naming file:line, SIGTERM.

No database is needed: the agent's source uses the fixture driver (a schema read from a file).
"""

import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (AGENT, CLI, COLLECTOR, REPO, Tap, World, free_port, require_binaries,  # noqa: E402
                     run, wait_for)

FIXTURE = """\
database d:1 - demo
	encoding = UTF8
schema n:2200 d:1 public
table r:100 n:2200 person
	comment = 人口信息
column a:100:1 r:100 id
	family = integer
	ordinal = 1
	precision = 32
	type = integer
"""


def agent_text(w, fixture, collector_port, extra_agent="", extra_source="", interval="1s"):
    """A good agent config; lines are counted by the checks below, so keep its shape."""
    return (
        "[agent]\n"                                         # 1
        "id = daemon-test\n"                                # 2
        f"collector = tcp://127.0.0.1:{collector_port}\n"   # 3
        f"state_dir = {w.path('state')}\n"                  # 4
        "heartbeat = 1s\n"                                  # 5
        f"{extra_agent}"
        "\n"
        '[source "demo"]\n'
        "driver = fixture\n"
        f"fixture = {fixture}\n"
        f"interval = {interval}\n"
        f"{extra_source}"
    )


# (description, config text, exits 0?, the line its message must name as file:line)
def agent_cases(w, fixture, port):
    good = agent_text(w, fixture, port)
    return [
        ("a good config", good, True, None),
        ("an unknown key is a warning", agent_text(w, fixture, port, extra_agent="colour = blue\n"),
         True, 6),
        ("missing required key id",
         good.replace("id = daemon-test\n", ""), False, 1),
        ("missing collector",
         good.replace(f"collector = tcp://127.0.0.1:{port}\n", ""), False, 1),
        ("a bad duration", agent_text(w, fixture, port, interval="5 minutes"), False, 10),
        ("a bad heartbeat", good.replace("heartbeat = 1s", "heartbeat = soon"), False, 5),
        ("a line that is not key = value", good.replace("heartbeat = 1s", "heartbeat 1s"), False, 5),
        ("an unterminated section header", good.replace('[source "demo"]', '[source "demo"'),
         False, 7),
        ("a source without a driver", good.replace("driver = fixture\n", ""), False, 7),
    ]


def collector_text(w, port):
    return (
        "[collector]\n"                                # 1
        f"listen = tcp://127.0.0.1:{port}\n"           # 2
        f"database = {w.path('cat-n.db')}\n"           # 3
    )


def collector_cases(w, port):
    good = collector_text(w, port)
    return [
        ("a good config", good, True, None),
        ("an unknown key is a warning", good + "colour = blue\n", True, 4),
        ("missing required key database", good.replace(f"database = {w.path('cat-n.db')}\n", ""),
         False, 1),
        ("a line that is not key = value", good.replace("listen = ", "listen "), False, 2),
        ("a bad max_batch_bytes", good + "max_batch_bytes = lots\n", False, 4),
    ]


def check_config(tap, w, prog, name, cases):
    for i, (desc, text, good, line) in enumerate(cases):
        path = w.write(f"{name}-{i}.conf", text)
        try:
            r = run([prog, "-c", path, "-n"], timeout=20)
        except Exception as e:  # noqa: BLE001 - a hang is a failure of this case
            tap.ok(False, f"{name} -n, {desc}: finishes", str(e))
            continue
        out = r.stdout + r.stderr
        if good:
            tap.eq(r.returncode, 0, f"{name} -n, {desc}: exits 0")
        else:
            tap.ok(r.returncode != 0, f"{name} -n, {desc}: exits non-zero", out)
        if line is not None:
            want = f"{path}:{line}"
            tap.ok(re.search(re.escape(want) + r"\b", out), f"{name} -n, {desc}: message names {want}",
                   out)
        if "unknown key" in desc:
            tap.ok("colour" in out, f"{name} -n, {desc}: the warning names the key", out)
    r = run([prog, "-c", w.path("does-not-exist.conf"), "-n"], timeout=20)
    tap.ok(r.returncode != 0 and "does-not-exist.conf" in r.stdout + r.stderr,
           f"{name} -n on a missing file: non-zero, names the file", r.stdout + r.stderr)


def check_examples(tap, w):
    """The shipped example configs are valid and use no unknown key."""
    deploy = os.path.join(REPO, "deploy")
    with open(os.path.join(deploy, "collector.conf.example"), encoding="utf-8") as f:
        collector = w.write("collector.conf.example", f.read().replace("/var/lib/prospector", w.tmp))
    for prog, path in ((AGENT, os.path.join(deploy, "agent.conf.example")), (COLLECTOR, collector)):
        r = run([prog, "-c", path, "-n"], timeout=20)
        out = r.stdout + r.stderr
        tap.eq(r.returncode, 0, f"{os.path.basename(prog)} -n accepts {os.path.basename(path)}")
        tap.ok("unknown" not in out.lower() and "warn" not in out.lower(),
               f"{os.path.basename(path)}: no warnings", out)


def check_help(tap):
    for prog in (AGENT, COLLECTOR, CLI):
        name = os.path.basename(prog)
        r = run([prog, "--help"], timeout=20)
        tap.eq(r.returncode, 0, f"{name} --help exits 0")
        tap.ok("usage" in (r.stdout + r.stderr).lower(), f"{name} --help prints usage",
               r.stdout + r.stderr)


def check_sigterm(tap, w, fixture):
    w.start_collector()
    agent = w.start_agent(agent_text(w, fixture, w.collector_port))
    arrived = wait_for(lambda: any(r["source"] == "demo" for r in w.history()), 30)
    tap.ok(arrived, "the agent delivered the fixture's baseline")
    tap.ok(agent.alive() and w.collector.alive(), "both daemons running")
    for proc in (agent, w.collector):
        start = time.monotonic()
        proc.signal(signal.SIGTERM)
        status = proc.wait(5)
        took = time.monotonic() - start
        tap.eq(status, 0, f"SIGTERM: {proc.name} exits 0")
        tap.ok(status is not None and took < 5, f"SIGTERM: {proc.name} exits promptly ({took:.2f} s)")


def cpu_seconds(proc):
    """User + system CPU time of a running process, from /proc."""
    with open(f"/proc/{proc.p.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_idle_without_collector(tap, w, fixture):
    """An agent whose collector is away, crawling every second, must wait, not spin: it once
    busy-looped on the heartbeat it could not send."""
    agent = w.start_agent(agent_text(w, fixture, free_port(), extra_agent="splay = 0s\n"), name="lonely")
    time.sleep(2)  # the first crawls are done
    before, start = cpu_seconds(agent), time.monotonic()
    time.sleep(5)
    used, wall = cpu_seconds(agent) - before, time.monotonic() - start
    tap.ok(used < 0.1 * wall, f"without a collector the agent waits ({used:.2f} s of CPU in {wall:.1f} s)")
    agent.stop()


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "daemon")
    try:
        fixture = w.write("demo.schema", FIXTURE)
        check_help(tap)
        check_examples(tap, w)
        check_config(tap, w, AGENT, "prospector-agent", agent_cases(w, fixture, 7431))
        check_config(tap, w, COLLECTOR, "prospector-collector", collector_cases(w, 7431))
        check_sigterm(tap, w, fixture)
        check_idle_without_collector(tap, w, fixture)
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
