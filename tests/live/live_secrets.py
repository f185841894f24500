#!/usr/bin/env python3
"""Database passwords come from private files only, and never show anywhere (issue 5, item 4).

Passwords here hold what needs care in a connection string or an INI file: ';', '{', '}', '=' and a
space. Every file that holds one on purpose (the agent's secrets file, a MySQL option file, a
.pgpass) is named *.conf: World.leak_places() leaves configuration out, and nothing else.

Refusals, each by `prospector-agent -n` (exit 1, a message naming the file and what to do):
- a password in a source's conninfo (pg, mysql, odbc), at agent.conf's line, the value not shown;
- the agent's secrets file at mode 0644 ("mode 0644: readable by others; chmod 600 it"), also by
  --once and by the daemon, which must not start;
- a MySQL option_file at mode 0644;
- without a secrets-file password, PGPASSFILE at mode 0644 (libpq would skip it, warning on stderr
  only); at 0600 it works.
Working, one agent with a 0600 secrets file (debug logging on: debug lines must not leak either):
- pgsec:   pg over TCP as a password-protected role;
- pgodbc:  psqlODBC, a DSN-less connection string without a password;
- mysec:   mysql over TCP, the password from the secrets file;
- myopt:   mysql, the password from a 0600 option file;
- myodbc:  MariaDB Connector/ODBC, DSN-less, no password in the string;
- pgwrong: pg with a wrong password in the secrets file: status not ok, the login refused.
Each working source reports its table; at the end no password (right or wrong) appears in any log,
CLI output, status, history, catalog or state file, nor in the output of the refused runs.

move_passwords() is the helper the other suites can use to move a password out of a conninfo
(as Postgres.tcp_conninfo, MariaDB.conninfo and the odbc_conninfo helpers write them) into a 0600
secrets file.
"""

import hashlib
import os
import re
import secrets
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (AGENT, MariaDB, Postgres, Tap, World, dump_json, free_port,  # noqa: E402
                     odbc_connstr, odbc_drivers, record_secret, require_binaries, run, secrets_text, skip_all,
                     split_password)

DB = "prospector_secrets"
ROLE = "prospector_secrets"
OPT_USER = "prospector_secrets_opt"
INTERVAL = "1s"


def password(tag):
    """A password with what a connection string or an INI file must quote: ; { } = and a space."""
    pw = f"{tag}}};{{x= {secrets.token_hex(6)}"
    record_secret(pw)
    return pw


# -- moving passwords out of conninfo --------------------------------------------------------------

def write_private(w, name, text, mode=0o600):
    """A file of w's with that mode from the start (never readable by others in between)."""
    path = w.path(name)
    if os.path.exists(path):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def split_passwords(sources):
    """sources ({name: {key: value}}, as World.agent_conf takes them) with every password moved out
    of its conninfo: (the sources, {name: password})."""
    out, passwords = {}, {}
    for src, keys in sources.items():
        keys = dict(keys)
        if "conninfo" in keys:
            keys["conninfo"], pw = split_password(keys.get("driver"), keys["conninfo"])
            if pw is not None:
                passwords[src] = pw
        out[src] = keys
    return out, passwords


def secrets_file_line(w, passwords):
    """The [agent] line naming a 0600 secrets file of w's with these passwords; the file is named by
    its content, so that the file of a configuration in use is never rewritten for another."""
    text = secrets_text(passwords)
    name = f"secrets-{hashlib.sha256(text.encode()).hexdigest()[:16]}.conf"
    return f"secrets_file = {write_private(w, name, text)}\n"


def move_passwords(w, sources):
    """What World.agent_conf can do with sources whose conninfo still holds a password (as
    Postgres.tcp_conninfo, MariaDB.conninfo and the odbc_conninfo helpers write them): (the sources
    without passwords, the [agent] lines to add, "" when there was no password)."""
    sources, passwords = split_passwords(sources)
    return sources, secrets_file_line(w, passwords) if passwords else ""


# -- the checks ------------------------------------------------------------------------------------

def check(w, conf_text, name, env=None):
    """`prospector-agent -c CONF -n`: the run."""
    conf = w.write(f"{name}.conf", conf_text)
    return run([AGENT, "-c", conf, "-n"], env=env, timeout=60)


def check_split(tap):
    cases = [
        ("pg", "host=h port=1 dbname=d user=u password=Pw-1 connect_timeout=5",
         "host=h port=1 dbname=d user=u connect_timeout=5", "Pw-1"),
        ("mysql", "host=h user=u password='a b\\'c' database=d", "host=h user=u database=d", "a b'c"),
        ("odbc", "Driver={PostgreSQL Unicode};Server=h;Uid=u;Pwd={a}}b;c}",
         "Driver=PostgreSQL Unicode;Server=h;Uid=u", "a}b;c"),
        ("odbc", "DSN=hr", "DSN=hr", None),
    ]
    for driver, ci, rest, pw in cases:
        tap.eq(split_password(driver, ci), (rest, pw), f"move_passwords: {driver} {ci!r}")


def refused(tap, r, patterns, what, outputs):
    out = r.stdout + r.stderr
    outputs[f"-n: {what}"] = out
    tap.ok(r.returncode == 1, f"{what}: -n exits 1", f"exit {r.returncode}: {out}")
    for p in patterns:
        tap.ok(re.search(p, out), f"{what}: the message says {p!r}", out)


def check_conninfo_refused(tap, w, pg, my, outputs, pw):
    """A password in a conninfo is refused at its line in agent.conf."""
    cases = [("pg", f"host=127.0.0.1 dbname={DB} user={ROLE} password={pw}")]
    if my:
        cases.append(("mysql", my.conninfo(DB, ROLE, pw)))
    cases.append(("odbc", odbc_connstr(Driver="PostgreSQL Unicode", Server="127.0.0.1", Uid=ROLE, Pwd=pw)))
    for driver, ci in cases:
        # Written out here: World.agent_conf may move such a password into a secrets file.
        text = (w.agent_conf({}) +
                f'\n[source "s"]\ndriver = {driver}\ninterval = {INTERVAL}\nconninfo = {ci}\n')
        line = text.splitlines().index(f"conninfo = {ci}") + 1
        r = check(w, text, f"inline-{driver}")
        refused(tap, r, [rf"inline-{driver}\.conf:{line}: source s: conninfo must not hold a password",
                         r"secrets file"], f"{driver}: a password in conninfo", outputs)


def check_modes_refused(tap, w, sources, extra, outputs):
    """The secrets file at 0644: -n, --once and the daemon refuse it, naming it and its mode."""
    path = extra.split("=", 1)[1].strip()
    os.chmod(path, 0o644)
    text = w.agent_conf(sources, extra=extra)
    want = [re.escape(f"secrets_file {path}: mode 0644: readable by others; chmod 600 it")]
    refused(tap, check(w, text, "agent-0644"), want, "secrets file at 0644", outputs)
    status, out = w.agent_once(text, name="once-0644", timeout=60)
    tap.ok(status == 1 and re.search(want[0], out), "secrets file at 0644: --once refuses it too", out)
    daemon = w.start_agent(text, name="daemon-0644")
    status = daemon.wait(30)
    tap.ok(status == 1 and re.search(want[0], daemon.output()),
           "secrets file at 0644: the daemon does not start", f"exit {status}: {daemon.output()}")
    os.chmod(path, 0o640)
    refused(tap, check(w, text, "agent-0640"), [r"mode 0640: readable by its group; chmod 600 it"],
            "secrets file at 0640", outputs)
    os.chmod(path, 0o600)
    r = check(w, text, "agent-0600")
    outputs["-n: secrets 0600"] = r.stdout + r.stderr
    tap.ok(r.returncode == 0 and "configuration OK" in r.stdout, "secrets file at 0600: -n says OK",
           r.stdout + r.stderr)


def check_option_file(tap, w, my, opt_pw, outputs):
    """A MySQL option file at 0644 is refused; the 0600 one is used by the running agent."""
    text = f"[client]\nuser={OPT_USER}\npassword={opt_pw}\n"
    bad = write_private(w, "my-0644.conf", text, 0o644)
    ci = f"host={my.host} port={my.port} database={DB} option_file={bad} connect_timeout=5"
    conf = w.agent_conf({"opt": {"driver": "mysql", "interval": INTERVAL, "conninfo": ci}})
    refused(tap, check(w, conf, "myopt-0644"),
            [re.escape(f"option file {bad}: mode 0644: readable by others; chmod 600 it")],
            "MySQL option_file at 0644", outputs)
    good = write_private(w, "my-0600.conf", text)
    return f"host={my.host} port={my.port} database={DB} option_file={good} connect_timeout=5"


def check_pgpass(tap, w, pg, pw, outputs):
    """No password from the secrets file: libpq's PGPASSFILE, refused at 0644, used at 0600."""
    pgpass = write_private(w, "pgpass.conf", f"{pg.host}:{pg.port}:*:{ROLE}:{pw}\n", 0o644)
    ci = f"host={pg.host} port={pg.port} dbname={DB} user={ROLE} connect_timeout=5"
    conf = w.agent_conf({"pp": {"driver": "pg", "interval": INTERVAL, "conninfo": ci}})
    env = dict(os.environ, PGPASSFILE=pgpass)
    refused(tap, check(w, conf, "pgpass-0644", env=env),
            [re.escape(f"password file {pgpass}: mode 0644: readable by others; chmod 600 it")],
            "PGPASSFILE at 0644", outputs)
    os.chmod(pgpass, 0o600)
    conf_path = w.write("pgpass-dump.conf", conf)
    r = run([AGENT, "-c", conf_path, "--dump", "pp"], env=env, timeout=60)
    outputs["--dump pp"] = r.stdout + r.stderr
    tap.ok(r.returncode == 0 and " secret_t" in r.stdout, "PGPASSFILE at 0600: the crawl logs in with it",
           r.stderr[-2000:])


def setup_pg(pg, pw):
    pg.create_database(DB)
    pg.psql(f"DROP ROLE IF EXISTS {ROLE}")
    pg.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{pw}'")
    pg.psql("CREATE TABLE secret_t (id integer PRIMARY KEY, note text)", db=DB)


def drop_pg(pg):
    pg.psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', check=False)
    pg.psql(f"DROP ROLE IF EXISTS {ROLE}", check=False)


def setup_my(my, pw, opt_pw):
    my.fresh_database(DB)
    my.mysql("CREATE TABLE secret_t (id int PRIMARY KEY, note varchar(20))", db=DB)
    my.create_user(ROLE, pw, [f"SELECT ON `{DB}`.*"])
    my.create_user(OPT_USER, opt_pw, [f"SELECT ON `{DB}`.*"])


def working_sources(tap, w, pg, my, pws, opt_ci):
    """{name: keys} of the sources that must crawl, conninfo free of passwords, and {name: password}."""
    pg_ci = f"host={pg.host} port={pg.port} dbname={DB} user={ROLE} connect_timeout=5"
    sources = {"pgsec": pg_ci, "pgwrong": pg_ci}
    passwords = {"pgsec": pws["pg"], "pgwrong": pws["wrong"]}
    drivers = odbc_drivers()
    if "PostgreSQL Unicode" in drivers:
        sources["pgodbc"] = odbc_connstr(Driver="PostgreSQL Unicode", Server=pg.host, Port=pg.port,
                                         Database=DB, Uid=ROLE)
        passwords["pgodbc"] = pws["pg"]
    else:
        tap.skip("pgodbc: psqlODBC with a secrets-file password",
                 "psqlODBC (PostgreSQL Unicode) not installed")
    if my:
        sources["mysec"] = f"host={my.host} port={my.port} user={ROLE} database={DB} connect_timeout=5"
        passwords["mysec"] = pws["my"]
        sources["myopt"] = opt_ci
        if "MariaDB Unicode" in drivers:
            sources["myodbc"] = odbc_connstr(Driver="MariaDB Unicode", Server=my.host, Port=my.port,
                                             Database=DB, Uid=ROLE)
            passwords["myodbc"] = pws["my"]
        else:
            tap.skip("myodbc: MariaDB ODBC with a secrets-file password", "MariaDB Unicode not installed")
    drv = {"pgsec": "pg", "pgwrong": "pg", "mysec": "mysql", "myopt": "mysql"}
    keys = {n: {"driver": drv.get(n, "odbc"), "interval": INTERVAL, "conninfo": ci}
            for n, ci in sources.items()}
    return keys, passwords


def check_running(tap, w, names):
    for name in names:
        st = w.wait_status(name, lambda s: s.get("ok") is not None and s.get("last_end"), timeout=60)
        tap.ok(st and st.get("ok") is True, f"{name}: logs in with its password and crawls", dump_json(st))
        paths = [o["path"] for o in w.catalog_objects(f"{name}/*") if o["kind"] == "table"]
        tap.ok(any(p.endswith("/secret_t") for p in paths), f"{name}: the catalog has its table", paths)
    st = w.wait_status("pgwrong", lambda s: s.get("ok") is False and s.get("last_error"), timeout=60)
    err = (st or {}).get("last_error") or ""
    tap.ok(re.search(r"password authentication failed", err), f"pgwrong: the login is refused: {err!r}",
           dump_json(st))


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "secrets")
    outputs = {}
    pws = {"pg": password("Pg"), "my": password("My"), "wrong": password("Wrong"),
           "inline": password("Inline")}
    opt_pw = "Opt-" + secrets.token_hex(8)  # an option file's value: kept plain
    try:
        check_split(tap)
        pg = Postgres.from_env()
        if not (pg.port and pg.password):
            skip_all("PROSPECTOR_TEST_PG_PORT/_PASSWORD not set: no PostgreSQL over TCP with a password")
        my, why_my = MariaDB.find(w)
        if not my:
            tap.skip("MariaDB: option file and secrets-file passwords", why_my)
        setup_pg(pg, pws["pg"])
        w.cleanups.append(lambda: drop_pg(pg))
        if my:
            setup_my(my, pws["my"], opt_pw)
        w.collector_port = free_port()  # agent.conf names it before the collector starts
        check_conninfo_refused(tap, w, pg, my, outputs, pws["inline"])
        opt_ci = check_option_file(tap, w, my, opt_pw, outputs) if my else None
        check_pgpass(tap, w, pg, pws["pg"], outputs)
        keys, passwords = working_sources(tap, w, pg, my, pws, opt_ci)
        path = write_private(w, "secrets.conf", secrets_text(passwords))
        extra = f"secrets_file = {path}\n"
        check_modes_refused(tap, w, keys, extra, outputs)
        w.start_collector()
        w.start_agent(w.agent_conf(keys, extra=extra), args=("-d",))
        check_running(tap, w, [n for n in keys if n != "pgwrong"])
        every = list(pws.values()) + [opt_pw]
        leaks = sorted({name for name, text in w.leak_places(outputs).items() for p in every if p in text})
        tap.ok(not leaks, f"none of the {len(every)} passwords appears in any log, CLI output, status, "
               "history, catalog or state file", f"found in: {', '.join(leaks)}")
        tap.eq([p.name for p in w.procs if not p.alive() and p.name in ("collector", "agent")], [],
               "collector and agent survived it all")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
