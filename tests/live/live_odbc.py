#!/usr/bin/env python3
"""The odbc driver end to end, against three real ODBC drivers: SQLite ODBC (always: a file in the
temp dir), psqlODBC (PROSPECTOR_TEST_PG) and MariaDB Connector/ODBC (PROSPECTOR_TEST_MYSQL_*).

One agent watches each database as its own source (1 s interval): "lite" (SQLite3 driver, paths
lite/def/main/…), "pgodbc" (PostgreSQL Unicode, pgodbc/DB/public/…) and "myodbc" (MariaDB Unicode,
myodbc/def/DB/…). For each: the baseline holds exactly the expected objects (kind and path), a
Chinese-named table among them, with exactly the expected attributes; then a short change sequence
(add a table, add a column, drop a column) gives exactly the expected history rows; and
`prospector status --json` and the database object's "unsupported" attribute name what the driver
could not read (ODBC has no catalog call for check constraints or view dependencies; psqlODBC
returns no comments). A part whose server or ODBC driver is missing is skipped (a failure with
PROSPECTOR_REQUIRE_LIVE=1).

Expected rows are (op, path after the source's prefix, field, before, after, severity).
"""

import os
import secrets
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MariaDB, Postgres, Tap, World, compare_rows, dump_json,  # noqa: E402
                     odbc_drivers, require_binaries, run, skip_all,
                     sqlite_odbc_conninfo)

DB = "prospector_odbc"
INTERVAL = 1
VOCABULARY = {"comments", "foreign_keys", "indexes", "check_constraints", "views",
              "view_dependencies", "sequences", "defaults", "primary_keys"}

# Portable SQL: the same statements run on all three.
SETUP = [
    "CREATE TABLE household (id integer NOT NULL PRIMARY KEY, address varchar(200) NOT NULL)",
    "CREATE TABLE person (id integer NOT NULL PRIMARY KEY, name varchar(50) NOT NULL,"
    " note varchar(100), household_id integer,"
    " CONSTRAINT person_household_fk FOREIGN KEY (household_id) REFERENCES household (id))",
    "CREATE INDEX person_name_idx ON person (name)",
    # Chinese names must survive the wide-character calls; {q} is the DBMS's identifier quote.
    "CREATE TABLE {q}户籍{q} ({q}户号{q} varchar(12) NOT NULL PRIMARY KEY, {q}地址{q} varchar(200))",
]


def col(ordinal, type_, nullable=False):
    out = {"ordinal": str(ordinal), "type": type_}
    if nullable:
        out["nullable"] = "true"
    return out


class Backend:
    """One database reached through one ODBC driver. Subclasses set the names below and know how
    to make the database and run SQL in it."""
    source = label = odbc_driver = None
    int_type = "integer"      # what the driver's TYPE_NAME says for integer
    varchar = "varchar"       # … and for varchar(n), before "(n)"
    pk_names = {}             # table -> its primary key's name as the driver reports it
    fk_name = "person_household_fk"
    int_bits = "32"           # integer's precision
    fk_index = False          # the DBMS made an index for the foreign key (InnoDB does)
    fk_rule = "NO ACTION"     # what the DBMS calls the foreign key's default ON UPDATE/DELETE
    fk_extra = {}             # what else the driver knows of a foreign key
    renumbers = False         # dropping a column renumbers the ones after it
    must_be_unsupported = {"check_constraints", "view_dependencies"}
    quote = '"'

    def __init__(self, w):
        self.w = w
        self.prefix = None
        self.conninfo = None

    def available(self):
        """None, or why this part must be skipped."""
        if self.odbc_driver not in odbc_drivers():
            return f"ODBC driver '{self.odbc_driver}' is not installed"
        return None

    def vc(self, n):
        return f"{self.varchar}({n})"

    def baseline_kinds(self):
        out = {("table", "户籍"), ("column", "户籍.户号"), ("column", "户籍.地址"),
               ("primary_key", f"户籍#{self.pk_names['户籍']}"),
               ("table", "household"), ("column", "household.id"), ("column", "household.address"),
               ("primary_key", f"household#{self.pk_names['household']}"),
               ("table", "person"), ("column", "person.id"), ("column", "person.name"),
               ("column", "person.note"), ("column", "person.household_id"),
               ("primary_key", f"person#{self.pk_names['person']}"),
               ("foreign_key", f"person#{self.fk_name}"), ("index", "person#person_name_idx")}
        if self.fk_index:
            out.add(("index", "person#person_household_fk"))
        return out

    def baseline_rows(self):
        """Every ADD row of the baseline below the schema: (path, attributes)."""
        rel = self.prefix[len(self.source) + 1:]
        rows = [
            ("household", {}), ("person", {}),
            ("household.id", col(1, self.int_type)), ("household.address", col(2, self.vc(200))),
            ("person.id", col(1, self.int_type)), ("person.name", col(2, self.vc(50))),
            ("person.note", col(3, self.vc(100), nullable=True)),
            ("person.household_id", col(4, self.int_type, nullable=True)),
            (f"household#{self.pk_names['household']}", {"columns": "id"}),
            (f"person#{self.pk_names['person']}", {"columns": "id"}),
            (f"person#{self.fk_name}", {"columns": "household_id", "ref_table": rel + "household",
                                        "ref_columns": "id", "on_update": self.fk_rule,
                                        "on_delete": self.fk_rule, **self.fk_extra}),
            ("person#person_name_idx", {"columns": "name"}),
            ("户籍", {}), ("户籍.户号", col(1, self.vc(12))),
            ("户籍.地址", col(2, self.vc(200), nullable=True)),
            (f"户籍#{self.pk_names['户籍']}", {"columns": "户号"}),
        ]
        if self.fk_index:
            rows.append(("person#person_household_fk", {"columns": "household_id"}))
        return [("ADD", p, None, None, a, "ADDITIVE") for p, a in rows]

    def steps(self):
        drop_rows = [("DROP", "person.note", None, col(3, self.vc(100), nullable=True), None,
                      "BREAKING")]
        if self.renumbers:
            drop_rows += [("ALTER", "person.household_id", "ordinal", "4", "3", "COSMETIC"),
                          ("ALTER", "person.phone", "ordinal", "5", "4", "COSMETIC")]
        return [
            ("add a table",
             "CREATE TABLE audit (id integer NOT NULL PRIMARY KEY, what varchar(40))",
             [
                 ("ADD", "audit", None, None, {}, "ADDITIVE"),
                 ("ADD", "audit.id", None, None, col(1, self.int_type), "ADDITIVE"),
                 ("ADD", "audit.what", None, None, col(2, self.vc(40), nullable=True), "ADDITIVE"),
                 ("ADD", f"audit#{self.pk_names['audit']}", None, None, {"columns": "id"},
                  "ADDITIVE"),
             ]),
            ("add a column",
             "ALTER TABLE person ADD COLUMN phone varchar(20)",
             [("ADD", "person.phone", None, None, col(5, self.vc(20), nullable=True), "ADDITIVE")]),
            ("drop a column",
             "ALTER TABLE person DROP COLUMN note",
             drop_rows),
        ]


class SQLite(Backend):
    """SQLite keeps no constraint names where ODBC can see them: the driver names keys the way
    PostgreSQL would (table_pkey, table_column_fkey). SQLite's INTEGER is 64 bits wide, and SQLite
    has no comments, so none are missing."""
    source, label, odbc_driver = "lite", "SQLite ODBC", "SQLite3"
    int_type, int_bits = "INTEGER", "64"
    pk_names = {"household": "household_pkey", "person": "person_pkey", "audit": "audit_pkey",
                "户籍": "户籍_pkey"}
    fk_name = "person_household_id_fkey"
    renumbers = True

    def available(self):
        return super().available() or (None if run(["sqlite3", "-version"]).returncode == 0
                                       else "the sqlite3 tool is not installed")

    def setup(self):
        self.file = self.w.path("odbc.db")
        self.prefix = f"{self.source}/def/main/"
        self.conninfo = sqlite_odbc_conninfo(self.file)
        for sql in SETUP:
            self.sql(sql.replace("{q}", self.quote))

    def sql(self, sql):
        # .timeout: wait for the agent's read transaction instead of failing with SQLITE_BUSY.
        r = run(["sqlite3", "-bail", "-cmd", ".timeout 20000", self.file, sql], timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"sqlite3 failed: {r.stderr.strip()}\nSQL: {sql}")


class PgODBC(Backend):
    """psqlODBC returns no comments (REMARKS stay empty) and ODBC cannot list sequences."""
    source, label, odbc_driver = "pgodbc", "psqlODBC", "PostgreSQL Unicode"
    must_be_unsupported = Backend.must_be_unsupported | {"comments", "sequences"}
    int_type = "int4"
    pk_names = {"household": "household_pkey", "person": "person_pkey", "audit": "audit_pkey",
                "户籍": "户籍_pkey"}

    def available(self):
        why = super().available()
        if why:
            return why
        self.pg, why = Postgres.find()
        if self.pg and not (self.pg.port and self.pg.password):
            return "PROSPECTOR_TEST_PG_PORT/_PASSWORD are not set (psqlODBC needs TCP)"
        return why

    def setup(self):
        self.pg.create_database(DB)
        self.w.cleanups.append(lambda: self.pg.psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)',
                                                    check=False))
        self.prefix = f"{self.source}/{DB}/public/"
        self.conninfo = self.pg.odbc_conninfo(DB)
        for sql in SETUP:
            self.sql(sql.replace("{q}", self.quote))

    def sql(self, sql):
        self.pg.psql(sql, db=DB)


class MariaODBC(Backend):
    """MariaDB Connector/ODBC spells type names in capitals. Its foreign keys are what driver mysql
    makes of them: RESTRICT by default, MATCH SIMPLE."""
    source, label, odbc_driver = "myodbc", "MariaDB Connector/ODBC", "MariaDB Unicode"
    int_type, varchar = "INT", "VARCHAR"
    pk_names = {"household": "PRIMARY", "person": "PRIMARY", "audit": "PRIMARY", "户籍": "PRIMARY"}
    quote = "`"
    fk_index = True
    fk_rule = "RESTRICT"
    fk_extra = {"match": "SIMPLE"}  # MySQL ignores MATCH: every foreign key matches as SIMPLE
    renumbers = True
    user = "prospector_odbc"

    def available(self):
        why = super().available()
        if why:
            return why
        self.db, why = MariaDB.find(self.w)
        return why

    def setup(self):
        self.db.fresh_database(DB)
        self.password = "Odbc-" + secrets.token_hex(8)
        self.db.create_user(self.user, self.password, [f"SELECT, SHOW VIEW ON `{DB}`.*"])
        self.prefix = f"{self.source}/def/{DB}/"
        self.conninfo = self.db.odbc_conninfo(DB, self.user, self.password)
        for sql in SETUP:
            self.sql(sql.replace("{q}", self.quote))

    def sql(self, sql):
        self.db.mysql(sql, db=DB)


def check_baseline(tap, w, b):
    rows = w.wait_new_history(0, timeout=60, source=b.source)
    if not tap.ok(rows, f"{b.label}: the baseline reaches the history",
                  dump_json(w.source_status(b.source))):
        return False
    tap.ok(all(r["origin"] == "baseline" for r in rows), f"{b.label}: baseline rows are baselines")
    got = {(r["object_kind"], r["path"][len(b.prefix):]) for r in rows if r["path"].startswith(b.prefix)}
    want = b.baseline_kinds()
    tap.ok(got == want, f"{b.label}: the baseline's tables, columns, keys and indexes, exactly",
           f"missing:    {sorted(want - got)}\nunexpected: {sorted(got - want)}")
    outside = sorted({(r["object_kind"], r["path"]) for r in rows
                      if not r["path"].startswith(b.prefix)})
    tap.eq([k for k, _ in outside], ["database", "schema"],
           f"{b.label}: above the tables, one database and one schema: {outside}")
    compare_rows(tap, [r for r in rows if r["path"].startswith(b.prefix)], b.baseline_rows(),
                 f"{b.label}: the baseline's rows (columns with their types, keys, indexes), exactly",
                 b.prefix)
    return True


def check_catalog(tap, w, b):
    person = [o for o in w.catalog_objects(b.prefix + "person.*") if o["kind"] == "column"]
    fams = {o["name"]: (o["attrs"].get("family"), o["attrs"].get("length"),
                        o["attrs"].get("precision")) for o in person}
    tap.eq(fams, {"id": ("integer", None, b.int_bits), "name": ("string", "50", None),
                  "household_id": ("integer", None, b.int_bits), "phone": ("string", "20", None)},
           f"{b.label}: person's columns normalised: family, length, precision")
    obj = w.cli_json("show", b.prefix + "person")["object"]
    fks = [(f.get("name"), f.get("columns"), f.get("ref_table"), f.get("ref_columns"))
           for f in obj.get("fk_out", [])]
    tap.eq(fks, [(b.fk_name, ["household_id"], b.prefix + "household", ["id"])],
           f"{b.label}: show person: its foreign key")


def check_unsupported(tap, w, b):
    st = w.source_status(b.source) or {}
    tap.ok(st.get("ok") is True and not st.get("last_error") and st.get("driver") == "odbc",
           f"{b.label}: status ok, driver odbc", dump_json(st))
    db_objs = [o for o in w.catalog_objects(f"{b.source}/*") if o["kind"] == "database"]
    attrs = db_objs[0]["attrs"] if db_objs else {}
    unsupported = attrs.get("unsupported")
    tap.ok(attrs.get("dbms") and attrs.get("dbms_version"),
           f"{b.label}: database object names the DBMS and its version", dump_json(attrs))
    tap.eq(st.get("unsupported"), unsupported,
           f"{b.label}: status --json shows the database object's 'unsupported'")
    items = (unsupported or "").split(",")
    tap.ok(unsupported and items == sorted(items) and set(items) <= VOCABULARY,
           f"{b.label}: 'unsupported' is a sorted list from the fixed vocabulary: {unsupported!r}")
    tap.ok(b.must_be_unsupported <= set(items),
           f"{b.label}: 'unsupported' names {', '.join(sorted(b.must_be_unsupported))}",
           f"got {unsupported!r}")
    tap.ok(not {"foreign_keys", "primary_keys", "indexes"} & set(items),
           f"{b.label}: keys and indexes were read, so they are not in 'unsupported'",
           f"got {unsupported!r}")
    text = w.cli("status")
    tap.ok(text.returncode == 0 and all(i in text.stdout for i in b.must_be_unsupported),
           f"{b.label}: `prospector status` shows what the driver cannot read",
           text.stdout[-1500:] + text.stderr)


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "odbc")
    try:
        backends = []
        for cls in (SQLite, PgODBC, MariaODBC):
            b = cls(w)
            why = b.available()
            if why:
                tap.skip(f"{b.label}: initial catalog and change sequence", why)
                continue
            b.setup()
            backends.append(b)
        if not backends:
            skip_all("no ODBC driver with its server is available")
        w.start_collector()
        w.start_agent(w.agent_conf({b.source: {"driver": "odbc", "conninfo": b.conninfo,
                                               "interval": f"{INTERVAL}s"} for b in backends}))
        live = [b for b in backends if check_baseline(tap, w, b)]
        last_id = w.last_history_id()
        for b in live:
            for desc, sql, expected in b.steps():
                b.sql(sql)
                rows = w.wait_new_history(last_id, timeout=30)
                compare_rows(tap, rows, expected, f"{b.label}: {desc}: exactly the expected rows",
                             b.prefix)
                tap.ok(rows and all(r["source"] == b.source and r["origin"] == "delta" for r in rows),
                       f"{b.label}: {desc}: deltas of source {b.source} only")
                last_id = max([last_id] + [r["id"] for r in rows])
        for b in live:
            check_catalog(tap, w, b)
            check_unsupported(tap, w, b)
        secrets_ = [getattr(b, "password", None) for b in live] + \
            [b.pg.password for b in live if isinstance(b, PgODBC)]
        places = w.leak_places()
        leaks = [k for k, v in places.items() for s in secrets_ if s and s in v]
        tap.ok(not leaks, "no password in any log, status, history or catalog byte",
               f"found in: {', '.join(leaks)}")
        tap.eq([p.name for p in w.procs if not p.alive()], [], "collector and agent still running")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
