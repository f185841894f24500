#!/usr/bin/env python3
"""The daemons as an operator meets them: --help, `-n` config checks naming file:line, SIGTERM.

No database is needed: the agent's source uses the fixture driver (a schema read from a file).
"""

import os
import re
import shutil
import signal
import sys
import tempfile
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
        f"{w.agent_key_lines('daemon-test')}"               # 6, 7
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
         True, 8),
        ("a key file others may read", good.replace(w.keygen("agent-daemon-test")[0], w.path("open.key")),
         False, 6),
        ("no key pair", good.replace(f"curve_secret_key = {w.keygen('agent-daemon-test')[0]}\n", ""), False, 1),
        ("no collector key", good.replace(f"collector_public_key = {w.keygen('collector')[1]}",
                                          "collector_public_key = not-a-key"), False, 7),
        ("missing required key id",
         good.replace("id = daemon-test\n", ""), False, 1),
        ("missing collector",
         good.replace(f"collector = tcp://127.0.0.1:{port}\n", ""), False, 1),
        ("a bad duration", agent_text(w, fixture, port, interval="5 minutes"), False, 12),
        ("a bad heartbeat", good.replace("heartbeat = 1s", "heartbeat = soon"), False, 5),
        ("a line that is not key = value", good.replace("heartbeat = 1s", "heartbeat 1s"), False, 5),
        ("an unterminated section header", good.replace('[source "demo"]', '[source "demo"'),
         False, 9),
        ("a source without a driver", good.replace("driver = fixture\n", ""), False, 9),
    ]


def collector_text(w, port):
    return (
        "[collector]\n"                                # 1
        f"listen = tcp://127.0.0.1:{port}\n"           # 2
        f"database = {w.path('cat-n.db')}\n"           # 3
        f"{w.collector_key_lines()}"                   # 4
    )


def collector_cases(w, port):
    good = collector_text(w, port)
    return [
        ("a good config", good, True, None),
        ("an unknown key is a warning", good + "colour = blue\n", True, 5),
        ("a key file others may read", good.replace(w.keygen("collector")[0], w.path("open.key")), False, 4),
        ("no key pair", good.replace(w.collector_key_lines(), ""), False, 1),
        ("missing required key database", good.replace(f"database = {w.path('cat-n.db')}\n", ""),
         False, 1),
        ("a line that is not key = value", good.replace("listen = ", "listen "), False, 2),
        ("a bad max_batch_bytes", good + "max_batch_bytes = lots\n", False, 5),
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
    keys = {"/etc/prospector/collector.key": w.keygen("collector")[0],
            "/etc/prospector/collector.pub": w.keygen("collector")[1],
            "/etc/prospector/agent.key": w.keygen("agent-example")[0]}
    confs = {}
    for name in ("collector.conf.example", "agent.conf.example"):
        with open(os.path.join(deploy, name), encoding="utf-8") as f:
            text = f.read().replace("/var/lib/prospector", w.tmp)
        for path, ours in keys.items():
            text = text.replace(path, ours)
        confs[name] = w.write(name, text)
    for prog, path in ((AGENT, confs["agent.conf.example"]), (COLLECTOR, confs["collector.conf.example"])):
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


def check_user_drop(tap, w):
    """-u USER: the collector reads its configuration and key as root, then runs as USER, and the
    catalog it creates belongs to USER."""
    import pwd
    if os.geteuid() != 0:
        tap.skip("-u nobody", "needs root")
        return
    nobody = pwd.getpwnam("nobody")
    home = tempfile.mkdtemp(prefix="prospector-nobody.")  # outside the world's 0700 dir: nobody enters it
    w.cleanups.append(lambda: shutil.rmtree(home, ignore_errors=True))
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    conf = w.write("drop.conf", f"[collector]\nlisten = tcp://127.0.0.1:{free_port()}\n"
                                f"database = {home}/catalog.db\n{w.collector_key_lines()}")
    proc = w.spawn("dropped", [COLLECTOR, "-c", conf, "-u", "nobody"])
    created = wait_for(lambda: os.path.exists(f"{home}/catalog.db") or not proc.alive(), 20)
    uid = None
    if proc.alive():
        with open(f"/proc/{proc.p.pid}/status") as f:
            uid = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
    tap.ok(created and uid == [str(nobody.pw_uid)] * 4, "collector -u nobody runs as nobody (real, effective, "
           "saved, fs uid)", f"uid {uid}; {proc.output()[-500:]}")
    st = os.stat(f"{home}/catalog.db") if created else None
    tap.ok(st is not None and st.st_uid == nobody.pw_uid and (st.st_mode & 0o777) == 0o600,
           "and the catalog it created is nobody's, mode 0600")
    proc.stop()
    r = run([COLLECTOR, "-c", conf, "-u", "no-such-user-here", "-n"], timeout=20)
    tap.ok(r.returncode != 0 and "no-such-user-here" in r.stderr, "-u with an unknown user: a clear error",
           r.stderr)


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "daemon")
    try:
        fixture = w.write("demo.schema", FIXTURE)
        shutil.copy(w.keygen("collector")[0], w.path("open.key"))
        os.chmod(w.path("open.key"), 0o644)
        check_help(tap)
        check_examples(tap, w)
        check_config(tap, w, AGENT, "prospector-agent", agent_cases(w, fixture, 7431))
        check_config(tap, w, COLLECTOR, "prospector-collector", collector_cases(w, 7431))
        check_sigterm(tap, w, fixture)
        check_idle_without_collector(tap, w, fixture)
        check_user_drop(tap, w)
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
