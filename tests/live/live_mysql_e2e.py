#!/usr/bin/env python3
"""MariaDB end to end through driver mysql: a real server, the collector, the agent and the CLI.

The change sequence of live_pg_e2e.py in MySQL syntax. The agent watches a fresh database as source
"shop" (1 s interval) with a login that may read only that database. After the baseline, each step
runs one statement (MySQL commits every DDL statement on its own, so a step is one ALTER), waits for
the history to grow and asserts the new rows are exactly the expected ones. MySQL has no OIDs: a
renamed column is a heuristic RENAME, and the index on it changes its "columns"; renamed and retyped,
it is a DROP and an ADD. Then: inserting rows
(AUTO_INCREMENT counters and row estimates move) adds no history; status, show and catalog see the
result. Then a `CHARACTER SET gbk` database with Chinese identifiers, comments and defaults, crawled
by `--once` as source "gbk", comes out of `catalog`, `show` and `history` as exact UTF-8. Last,
crawls racing table rebuilds (`ALTER TABLE … FORCE, ALGORITHM=COPY`, no schema change) must never
leave a table out (that would be a false DROP and ADD).

Expected rows are (op, path after "shop/def/DB/", field, before, after, severity). ADD and DROP rows
carry the object's attributes (what diff_obj_summary prints; folded type parameters left out, REFS as
names).
"""

import os
import secrets
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (AGENT, MariaDB, Tap, World, compare_rows, dump_json,  # noqa: E402
                     free_port, parse_dump, require_binaries, run, wait_for)

DB = "prospector_shop"
SOURCE = "shop"
PREFIX = f"{SOURCE}/def/{DB}/"
INTERVAL = 1  # seconds
USER = "prospector_e2e"
PASSWORD = "E2e-" + secrets.token_hex(8)
CHARSET, COLLATION = "utf8mb4", "utf8mb4_unicode_ci"

RACE_DB = "prospector_race"
RACE_USER = "prospector_race"
RACE_SECONDS = 20

GBK_DB = "prospector_gbk"
GBK_SOURCE = "gbk"
GBK_PREFIX = f"{GBK_SOURCE}/def/{GBK_DB}/"
GBK_USER = "prospector_gbk"


class Types:
    """COLUMN_TYPE as this server prints it: MariaDB and MySQL 5.7 keep the display width of integer
    types ("int(11)"), MySQL 8.0 does not ("int")."""

    def __init__(self, db):
        width = db.is_mariadb() or db.version.startswith("5.")
        self.int = "int(11)" if width else "int"
        self.smallint = "smallint(6)" if width else "smallint"


def table(comment=None):
    out = {"engine": "InnoDB", "charset": CHARSET, "collation": COLLATION}
    if comment:
        out["comment"] = comment
    return out


def col(ordinal, type_, nullable=False, **attrs):
    out = {"ordinal": str(ordinal), "type": type_, **attrs}
    if nullable:
        out["nullable"] = "true"
    return out


def key(*columns):
    return {"columns": ",".join(columns)}


def index(*columns):
    return {"columns": ",".join(columns), "method": "btree"}  # lower case, as in PostgreSQL


SETUP = """
CREATE TABLE household (
    id int PRIMARY KEY,
    address varchar(200) NOT NULL
);
CREATE TABLE person (
    id int PRIMARY KEY,
    name varchar(50) NOT NULL,
    age int,
    city varchar(50),
    household_id int,
    KEY person_city_idx (city)
);
CREATE TABLE visit_log (
    id bigint AUTO_INCREMENT PRIMARY KEY,
    note varchar(40)
);
"""


def steps(t):
    """(description, one SQL statement, expected rows)."""
    return [
        ("create a table",
         "CREATE TABLE social_security (id int PRIMARY KEY, person_id int NOT NULL,"
         " amount decimal(12,2))",
         [
             ("ADD", "social_security", None, None, table(), "ADDITIVE"),
             ("ADD", "social_security.id", None, None, col(1, t.int), "ADDITIVE"),
             ("ADD", "social_security.person_id", None, None, col(2, t.int), "ADDITIVE"),
             ("ADD", "social_security.amount", None, None, col(3, "decimal(12,2)", nullable=True),
              "ADDITIVE"),
             ("ADD", "social_security#PRIMARY", None, None, key("id"), "ADDITIVE"),
         ]),
        ("add a nullable column",
         "ALTER TABLE person ADD COLUMN phone varchar(20)",
         [
             ("ADD", "person.phone", None, None, col(6, "varchar(20)", nullable=True), "ADDITIVE"),
         ]),
        ("widen varchar(50) to varchar(100)",
         "ALTER TABLE person MODIFY name varchar(100) NOT NULL",
         [
             ("ALTER", "person.name", "type", "varchar(50)", "varchar(100)", "ADDITIVE"),
         ]),
        ("narrow int to smallint",
         "ALTER TABLE person MODIFY age smallint",
         [
             ("ALTER", "person.age", "type", t.int, t.smallint, "BREAKING"),
         ]),
        # Same type, same position, same table: one heuristic RENAME. The index on the column now
        # names another column key, which is an ALTER of its "columns".
        ("rename a column",
         "ALTER TABLE person CHANGE COLUMN city hometown varchar(50)",
         [
             ("RENAME", "person.hometown", "name", "city", "hometown", "BREAKING"),
             ("ALTER", "person#person_city_idx", "columns", "city", "hometown", "ADDITIVE"),
         ]),
        # A new name and a new type: too uncertain for a rename, so a DROP and an ADD.
        ("rename and retype a column",
         "ALTER TABLE person CHANGE COLUMN phone mobile varchar(30)",
         [
             ("DROP", "person.phone", None, col(6, "varchar(20)", nullable=True), None, "BREAKING"),
             ("ADD", "person.mobile", None, None, col(6, "varchar(30)", nullable=True), "ADDITIVE"),
         ]),
        # InnoDB adds an index for a foreign key that has none, named after the constraint: two
        # objects, a foreign_key and an index, at the same path. MySQL parses MATCH and ignores
        # it: its foreign keys match as PostgreSQL's MATCH SIMPLE does, and are called so.
        ("add a foreign key",
         "ALTER TABLE person ADD CONSTRAINT person_household_fk FOREIGN KEY (household_id)"
         " REFERENCES household (id)",
         [
             ("ADD", "person#person_household_fk", None, None,
              {"columns": "household_id", "ref_table": f"def/{DB}/household", "ref_columns": "id",
               "on_update": "RESTRICT", "on_delete": "RESTRICT", "match": "SIMPLE"},
              "BREAKING"),
             ("ADD", "person#person_household_fk", None, None, index("household_id"), "ADDITIVE"),
         ]),
        ("comment in Chinese",
         "ALTER TABLE person COMMENT = '人口基本信息', MODIFY name varchar(100) NOT NULL COMMENT '姓名'",
         [
             ("ALTER", "person", "comment", None, "人口基本信息", "COSMETIC"),
             ("ALTER", "person.name", "comment", None, "姓名", "COSMETIC"),
         ]),
        ("drop a table",
         "DROP TABLE social_security",
         [
             ("DROP", "social_security", None, table(), None, "BREAKING"),
             ("DROP", "social_security.id", None, col(1, t.int), None, "BREAKING"),
             ("DROP", "social_security.person_id", None, col(2, t.int), None, "BREAKING"),
             ("DROP", "social_security.amount", None, col(3, "decimal(12,2)", nullable=True), None,
              "BREAKING"),
             ("DROP", "social_security#PRIMARY", None, key("id"), None, "BREAKING"),
         ]),
    ]


# Which kinds each step's rows are about (compare_rows does not look at kinds).
STEP_KINDS = {
    "rename a column": [("column", "person.hometown"), ("index", "person#person_city_idx")],
    "add a foreign key": [("foreign_key", "person#person_household_fk"),
                          ("index", "person#person_household_fk")],
}


def agent_sources(db):
    return {SOURCE: {"driver": "mysql", "conninfo": db.conninfo(DB, USER, PASSWORD),
                     "interval": f"{INTERVAL}s", "department": "市场监督管理局",
                     "system": "企业登记系统"}}


def check_baseline(tap, w, t):
    rows = w.wait_new_history(0, timeout=60, source=SOURCE)
    if not tap.ok(rows, "the baseline reaches the history", dump_json(w.source_status(SOURCE))):
        return None
    tap.ok(rows and all(r["origin"] == "baseline" for r in rows), "baseline rows are marked baseline",
           dump_json(sorted({r["origin"] for r in rows})))
    by_path = {}
    for r in rows:
        by_path.setdefault(r["path"], []).append(r)
    for p in ("person", "person.name", "person#PRIMARY", "person#person_city_idx", "household",
              "household.address", "visit_log.id"):
        tap.ok(PREFIX + p in by_path, f"baseline adds {p}")
    db_rows = by_path.get(f"{SOURCE}/def", [])
    tap.ok(db_rows and db_rows[0]["object_kind"] == "database", "baseline: database object 'def'",
           dump_json(db_rows))
    schema = by_path.get(f"{SOURCE}/def/{DB}", [])
    tap.ok(schema and schema[0]["object_kind"] == "schema", f"baseline: {DB} is a schema",
           dump_json(schema))
    compare_rows(tap, [r for r in rows if r["path"].startswith(PREFIX + "person")], [
        ("ADD", "person", None, None, table(), "ADDITIVE"),
        ("ADD", "person.id", None, None, col(1, t.int), "ADDITIVE"),
        ("ADD", "person.name", None, None, col(2, "varchar(50)"), "ADDITIVE"),
        ("ADD", "person.age", None, None, col(3, t.int, nullable=True), "ADDITIVE"),
        ("ADD", "person.city", None, None, col(4, "varchar(50)", nullable=True), "ADDITIVE"),
        ("ADD", "person.household_id", None, None, col(5, t.int, nullable=True), "ADDITIVE"),
        ("ADD", "person#PRIMARY", None, None, key("id"), "ADDITIVE"),
        ("ADD", "person#person_city_idx", None, None, index("city"), "ADDITIVE"),
    ], "baseline: person, its columns, primary key and index, exactly", PREFIX)
    vid = [r for r in rows if r["path"] == PREFIX + "visit_log.id"]
    tap.ok(vid and '"auto_increment":"true"' in (vid[0]["after"] or "").replace(" ", ""),
           "baseline: visit_log.id is auto_increment", dump_json(vid))
    others = sorted({r["path"] for r in rows if not r["path"].startswith(f"{SOURCE}/def/{DB}")
                     and r["path"] != f"{SOURCE}/def"})
    tap.eq(others, [], "baseline: nothing outside the granted database (no information_schema)")
    return max((r["id"] for r in w.history()), default=0)


def run_steps(tap, w, db, t, last_id):
    for desc, sql, expected in steps(t):
        db.mysql(sql, db=DB)
        rows = w.wait_new_history(last_id, timeout=30)
        compare_rows(tap, rows, expected, f"{desc}: exactly the expected history rows", PREFIX)
        tap.ok(rows and all(r["origin"] == "delta" and r["source"] == SOURCE for r in rows),
               f"{desc}: rows are deltas of source {SOURCE}")
        heuristic = sorted(r["path"][len(PREFIX):] for r in rows if r.get("heuristic"))
        tap.eq(heuristic, ["person.hometown"] if desc == "rename a column" else [],
               f"{desc}: {'only the RENAME is' if desc == 'rename a column' else 'no row is'} "
               "marked heuristic")
        if desc in STEP_KINDS:
            kinds = sorted((r["object_kind"], r["path"][len(PREFIX):]) for r in rows)
            tap.eq(kinds, sorted(STEP_KINDS[desc]), f"{desc}: the rows' object kinds")
        last_id = max([last_id] + [r["id"] for r in rows])
    return last_id


def obs_rows(w, path):
    for o in w.catalog_objects(path):
        if o["path"] == path:
            return o.get("obs", {}).get("rows")
    return None


def check_statistics_not_drift(tap, w, db, last_id):
    """AUTO_INCREMENT counters and row estimates move; none of it is history."""
    values = ",".join(f"('visit {i}')" for i in range(200))
    db.mysql(f"INSERT INTO visit_log (note) VALUES {values}; "
             "INSERT INTO household VALUES (1, '杭州市上城区清波街道1号'), (2, '杭州市上城区湖滨街道8号'); "
             "INSERT INTO person (id, name, age, household_id) VALUES (1, '张伟', 44, 1), "
             "(2, '李娜', 34, 2); "
             "ANALYZE TABLE visit_log, household, person", db=DB)
    auto = db.query("SELECT AUTO_INCREMENT FROM information_schema.TABLES "
                    f"WHERE TABLE_SCHEMA = '{DB}' AND TABLE_NAME = 'visit_log'")
    tap.ok(auto and auto[0][0] and int(auto[0][0]) > 200, "the AUTO_INCREMENT counter moved",
           dump_json(auto))
    crawls = w.wait_crawls(SOURCE, 3, timeout=60)
    tap.ok(crawls >= 3, "after the INSERTs the agent crawled 3 more times", f"saw {crawls}")
    new = [r for r in w.history() if r["id"] > last_id]
    tap.ok(not new, "row estimates and AUTO_INCREMENT counters add no history rows", dump_json(new))
    rows = wait_for(lambda: (v := obs_rows(w, PREFIX + "visit_log")) and int(v) > 0 and v, 30)
    tap.ok(rows, "the catalog's row estimate of visit_log follows the INSERTs (an observation)",
           f"obs.rows = {obs_rows(w, PREFIX + 'visit_log')!r}")
    vl = w.cli_json("show", PREFIX + "visit_log")["object"]
    tap.ok(set(vl.get("attrs", {})) <= {"engine", "charset", "collation", "comment"}
           and "auto_increment" not in vl.get("obs", {}),
           "visit_log: no AUTO_INCREMENT counter among its attributes or observations",
           dump_json({"attrs": vl.get("attrs"), "obs": vl.get("obs")}))


def check_status(tap, w):
    src = w.source_status(SOURCE)
    tap.ok(src and src.get("ok") is True and not src.get("last_error"), "status: source ok",
           dump_json(src))
    tap.ok(src and src.get("driver") == "mysql" and src.get("department") == "市场监督管理局"
           and src.get("system") == "企业登记系统", "status: driver, department and system",
           dump_json(src))
    tap.ok(src and not src.get("warning"), "status: no warning (the whole database is granted)",
           dump_json(src))
    db_obj = [o for o in w.catalog_objects(f"{SOURCE}/*") if o["kind"] == "database"]
    attrs = db_obj[0].get("attrs", {}) if db_obj else {}
    tap.ok("mariadb" in (attrs.get("dbms") or "").lower() and attrs.get("dbms_version"),
           "database 'def': dbms names MariaDB, with its version", dump_json(attrs))


def check_show(tap, w, t):
    obj = w.cli_json("show", PREFIX + "person")["object"]
    names = [c.get("name") for c in obj.get("columns", [])]
    tap.eq(names, ["id", "name", "age", "hometown", "household_id", "mobile"],
           "show person: its columns, in order")
    tap.ok(obj.get("attrs", {}).get("comment") == "人口基本信息", "show person: its comment",
           dump_json(obj.get("attrs")))
    cols = {c.get("name"): c.get("attrs", {}) for c in obj.get("columns", [])}
    tap.eq({k: cols.get("name", {}).get(k) for k in ("type", "family", "length", "comment")},
           {"type": "varchar(100)", "family": "string", "length": "100", "comment": "姓名"},
           "show person: name is varchar(100), family string, length 100, commented")
    tap.eq({k: cols.get("age", {}).get(k) for k in ("type", "family", "precision")},
           {"type": t.smallint, "family": "integer", "precision": "16"},
           "show person: age is a 16-bit integer")
    fks = [(f.get("name"), f.get("columns"), f.get("ref_table"), f.get("ref_columns"))
           for f in obj.get("fk_out", [])]
    tap.eq(fks, [("person_household_fk", ["household_id"], PREFIX + "household", ["id"])],
           "show person: its outgoing foreign key")
    idx = sorted(i.get("name") for i in obj.get("indexes", []))
    tap.eq(idx, ["person_city_idx", "person_household_fk"], "show person: its indexes")
    hh = w.cli_json("show", PREFIX + "household")["object"]
    tap.eq([(f.get("name"), f.get("table")) for f in hh.get("fk_in", [])],
           [("person_household_fk", PREFIX + "person")], "show household: the foreign key into it")


def check_catalog(tap, w):
    objs = w.catalog_objects(f"{SOURCE}/*")
    by_path = {o["path"]: o for o in objs}
    person = by_path.get(PREFIX + "person")
    tap.ok(person and person.get("kind") == "table" and person.get("source") == SOURCE,
           f"catalog lists person as a table of source {SOURCE}", dump_json(person))
    tap.ok(person and person.get("key") == f"r:{DB}/person", "person's key is name-based",
           dump_json(person))
    tap.eq(sorted(p[len(PREFIX):] for p, o in by_path.items()
                  if p.startswith(PREFIX) and o["kind"] == "table"),
           ["household", "person", "visit_log"], "catalog: exactly the three tables left")
    cols = w.catalog_objects(PREFIX + "person.*")
    tap.eq(sorted(o["name"] for o in cols if o.get("kind") == "column"),
           ["age", "hometown", "household_id", "id", "mobile", "name"],
           "catalog PATTERN naming columns lists person's columns")


GBK_SETUP = """
CREATE TABLE `户籍` (
    `户号` char(12) NOT NULL PRIMARY KEY COMMENT '户籍编号',
    `地址` varchar(200) NOT NULL COMMENT '户籍地址'
) COMMENT = '户籍登记表';
CREATE TABLE `人口` (
    `编号` int NOT NULL PRIMARY KEY COMMENT '人员编号',
    `姓名` varchar(50) NOT NULL COMMENT '公民姓名',
    `户号` char(12) COMMENT '所属户号',
    `民族` varchar(20) NOT NULL DEFAULT '汉族' COMMENT '民族（默认汉族）',
    `备注` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci COMMENT '备注：UTF-8 列',
    `旧称` varchar(20) CHARACTER SET latin1 COMMENT 'latin1 列',
    KEY `人口_姓名_idx` (`姓名`),
    CONSTRAINT `人口_户号_fk` FOREIGN KEY (`户号`) REFERENCES `户籍` (`户号`)
) COMMENT = '人口基本信息表';
INSERT INTO `户籍` VALUES ('330102000001', '杭州市上城区清波街道1号');
INSERT INTO `人口` (`编号`, `姓名`, `户号`, `备注`) VALUES (1, '张伟', '330102000001', '户主');
"""


def check_gbk(tap, w, db, t):
    db.fresh_database(GBK_DB, "gbk", "gbk_chinese_ci")
    db.mysql(GBK_SETUP, db=GBK_DB)
    pw = "Gbk-" + secrets.token_hex(8)
    db.create_user(GBK_USER, pw, [f"SELECT, SHOW VIEW ON `{GBK_DB}`.*"])
    conf = w.agent_conf({GBK_SOURCE: {"driver": "mysql", "conninfo": db.conninfo(GBK_DB, GBK_USER, pw)}},
                        agent_id="gbk-agent")
    status, out = w.agent_once(conf, name="agent-gbk", timeout=90)
    tap.ok(status == 0, "gbk: --once exits 0", f"exit status {status}; agent output:\n{out[-2000:]}")
    if not tap.ok(any(r["source"] == GBK_SOURCE for r in w.history()), "gbk: the baseline arrived",
                  dump_json(w.source_status(GBK_SOURCE))):
        return

    schema = [o for o in w.catalog_objects(f"{GBK_SOURCE}/*") if o["kind"] == "schema"]
    tap.eq([(o["name"], o.get("attrs", {}).get("charset"), o.get("attrs", {}).get("collation"))
            for o in schema], [(GBK_DB, "gbk", "gbk_chinese_ci")],
           "gbk: the schema with its charset and collation")
    tables = {o["name"]: o for o in w.catalog_objects(GBK_PREFIX + "*") if o["kind"] == "table"}
    tap.eq(sorted(tables), sorted(["人口", "户籍"]), "gbk catalog: the Chinese table names")
    tap.eq({n: (o.get("attrs", {}).get("comment"), o.get("attrs", {}).get("charset"),
                o.get("attrs", {}).get("collation"), o["path"]) for n, o in tables.items()},
           {"人口": ("人口基本信息表", "gbk", "gbk_chinese_ci", GBK_PREFIX + "人口"),
            "户籍": ("户籍登记表", "gbk", "gbk_chinese_ci", GBK_PREFIX + "户籍")},
           "gbk catalog: comments, charset, collation and paths in exact UTF-8")

    obj = w.cli_json("show", GBK_PREFIX + "人口")["object"]
    cols = [(c.get("name"), c.get("attrs", {})) for c in obj.get("columns", [])]
    tap.eq([n for n, _ in cols], ["编号", "姓名", "户号", "民族", "备注", "旧称"],
           "gbk show 人口: its Chinese column names, in order")
    keep = ("type", "nullable", "default", "charset", "collation", "comment")
    got = {n: {k: a[k] for k in keep if k in a} for n, a in cols}
    tap.eq(got, {
        "编号": {"type": t.int, "comment": "人员编号"},
        "姓名": {"type": "varchar(50)", "comment": "公民姓名"},
        "户号": {"type": "char(12)", "nullable": "true", "comment": "所属户号"},
        "民族": {"type": "varchar(20)", "default": "'汉族'", "comment": "民族（默认汉族）"},
        "备注": {"type": "varchar(100)", "nullable": "true", "charset": "utf8mb4",
                 "collation": "utf8mb4_unicode_ci", "comment": "备注：UTF-8 列"},
        "旧称": {"type": "varchar(20)", "nullable": "true", "charset": "latin1",
                 "collation": "latin1_swedish_ci", "comment": "latin1 列"},
    }, "gbk show 人口: types, defaults, charsets (only where they differ) and comments, exact")
    fks = [(f.get("name"), f.get("columns"), f.get("ref_table"), f.get("ref_columns"))
           for f in obj.get("fk_out", [])]
    tap.eq(fks, [("人口_户号_fk", ["户号"], GBK_PREFIX + "户籍", ["户号"])],
           "gbk show 人口: the foreign key, by its Chinese names")
    tap.eq(sorted(i.get("name") for i in obj.get("indexes", [])), sorted(["人口_户号_fk", "人口_姓名_idx"]),
           "gbk show 人口: its indexes")
    tap.eq(obj.get("attrs", {}).get("comment"), "人口基本信息表", "gbk show 人口: its comment")

    text = w.cli("show", GBK_PREFIX + "人口")
    tap.ok(text.returncode == 0 and "公民姓名" in text.stdout and "人口基本信息表" in text.stdout
           and "\ufffd" not in text.stdout, "gbk show (text): valid UTF-8 with the Chinese comments",
           text.stderr + text.stdout[-1500:])
    hist = {r["path"]: r for r in w.history() if r["source"] == GBK_SOURCE}
    name = hist.get(GBK_PREFIX + "人口.姓名")
    tap.ok(name and name["op"] == "ADD" and '"comment":"公民姓名"' in (name["after"] or ""),
           "gbk history: the column's baseline row, path and comment in UTF-8", dump_json(name))


def check_copying_alter(tap, w, db):
    """A crawl racing `ALTER TABLE … FORCE, ALGORITHM=COPY` (what a DBA runs to rebuild a table;
    the schema does not change) must either fail, which records nothing, or see every table whole.
    MariaDB's information_schema lists a schema's tables from its directory, where a table being
    copied is briefly absent (about one crawl in 25 during back-to-back rebuilds saw no table, or
    a table without columns): a crawl that took that at face value would make the table a DROP and
    then an ADD in history. `--dump` takes the snapshot the way the agent does (settled: the
    rebuilds move the server's DDL count, so no crawl can prove the catalog at rest, and each is
    repeated until two agree); each must hold exactly the objects of the first. Two dumps run at a
    time, so that enough of them race the rebuilds in RACE_SECONDS."""
    db.fresh_database(RACE_DB)
    rows = ",".join(f"({i}, 'person {i}', 'city {i % 50}')" for i in range(1, 3001))
    db.mysql("CREATE TABLE person (id int PRIMARY KEY, name varchar(50) NOT NULL, city varchar(50),"
             " KEY person_city_idx (city));"
             " CREATE TABLE other (id int PRIMARY KEY, person_id int,"
             " CONSTRAINT other_person_fk FOREIGN KEY (person_id) REFERENCES person (id));"
             f" INSERT INTO person VALUES {rows}", db=RACE_DB)
    pw = "Race-" + secrets.token_hex(8)
    db.create_user(RACE_USER, pw, [f"SELECT, SHOW VIEW ON `{RACE_DB}`.*"])
    conf = w.write("race.conf", w.agent_conf(
        {"race": {"driver": "mysql", "conninfo": db.conninfo(RACE_DB, RACE_USER, pw)}},
        agent_id="race-agent", collector_port=free_port()))

    def dump():
        r = run([AGENT, "-c", conf, "--dump", "race"], timeout=120)
        return (parse_dump(r.stdout, "race"), r.stderr) if r.returncode == 0 else (None, r.stderr)

    ref, err = dump()
    if not tap.ok(ref, "copying ALTER: the reference crawl", err[-1000:]):
        return
    want = sorted(ref.by_key)
    stop = threading.Event()
    counts = {"alters": 0, "crawls": 0, "failed": 0}
    bad, errors = [], []

    def rebuild():
        while not stop.is_set():
            db.mysql("ALTER TABLE person FORCE, ALGORITHM=COPY", db=RACE_DB, check=False)
            counts["alters"] += 1

    def crawl(deadline):
        while time.monotonic() < deadline:
            d, err = dump()
            if d is None:
                counts["failed"] += 1
                errors.append(err.strip()[-300:])
                continue
            counts["crawls"] += 1
            got = sorted(d.by_key)
            if got != want:
                bad.append(f"missing {sorted(set(want) - set(got))}, extra {sorted(set(got) - set(want))}")

    rebuilder = threading.Thread(target=rebuild, daemon=True)
    rebuilder.start()
    deadline = time.monotonic() + RACE_SECONDS
    crawlers = [threading.Thread(target=crawl, args=(deadline,), daemon=True) for _ in range(2)]
    for c in crawlers:
        c.start()
    for c in crawlers:
        c.join(RACE_SECONDS + 150)
    stop.set()
    rebuilder.join(60)
    tap.ok(counts["crawls"] >= 10 and counts["alters"] > 0,
           f"copying ALTER: {counts['crawls']} settled crawls succeeded ({counts['failed']} failed) "
           f"during {counts['alters']} table rebuilds", "\n".join(errors[:3]))
    tap.ok(not bad, "copying ALTER: no crawl left out an object of the unchanged schema "
           f"({len(bad)} of {counts['crawls']} did)", "\n".join(bad[:5]))


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "mysql-e2e")
    db = MariaDB.from_env(w)
    t = Types(db)
    try:
        db.fresh_database(DB, CHARSET, COLLATION)
        db.mysql(SETUP, db=DB)
        db.create_user(USER, PASSWORD, [f"SELECT, SHOW VIEW ON `{DB}`.*"])
        w.start_collector()
        w.start_agent(w.agent_conf(agent_sources(db)))
        last_id = check_baseline(tap, w, t)
        if last_id is not None:  # without a baseline every later step would only time out
            last_id = run_steps(tap, w, db, t, last_id)
            check_statistics_not_drift(tap, w, db, last_id)
            check_status(tap, w)
            check_show(tap, w, t)
            check_catalog(tap, w)
        check_gbk(tap, w, db, t)
        check_copying_alter(tap, w, db)
        leaks = [k for k, v in w.leak_places().items() if PASSWORD in v]
        tap.ok(not leaks, "the password appears in no log, status, history or catalog byte",
               f"found in: {', '.join(leaks)}")
        alive = [p.name for p in w.procs if p.name in ("collector", "agent") and not p.alive()]
        tap.eq(alive, [], "collector and agent still running at the end")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
