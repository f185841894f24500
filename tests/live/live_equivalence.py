#!/usr/bin/env python3
"""Same catalog from every driver: one schema, two ways in.

The same schema (a Chinese-named table, single and composite primary keys, unique constraints,
single and composite foreign keys, integer/decimal/float/string/char/date/timestamp/binary and
DBMS-specific types, nullable and not, Chinese column names) is created in PostgreSQL and read with
`prospector-agent --dump` through driver pg and through psqlODBC (driver odbc), and in MariaDB
through driver mysql and through MariaDB Connector/ODBC. The two dumps of each pair must agree on:

- the paths of the database, schemas and tables (pg: SRC/DB/public/T both ways; MariaDB:
  SRC/def/DB/T both ways);
- per table, the columns as (name, family, length, precision, scale, nullable, ordinal);
- the primary key's columns, in order; each unique constraint's columns; each foreign key's
  (columns, referenced table, referenced columns).

Every difference is named in the TAP diagnostics: which table, which column or key, what each
driver said. A pair whose server or ODBC driver is missing is skipped (a failure with
PROSPECTOR_REQUIRE_LIVE=1).
"""

import os
import secrets
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MariaDB, Postgres, Tap, World, dump_json, free_port,  # noqa: E402
                     odbc_drivers, require_binaries, required, skip_all)

DB = "prospector_equiv"
USER = "prospector_equiv"

PG_SCHEMA = """
CREATE TABLE "户籍" (
    "户号"          char(12) PRIMARY KEY,
    "地址"          varchar(200) NOT NULL,
    district_code   char(6) NOT NULL,
    registered_on   date
);
CREATE TABLE person (
    id              bigint PRIMARY KEY,
    id_card_no      char(18) NOT NULL,
    "姓名"          varchar(50) NOT NULL,
    age             smallint,
    height_cm       integer NOT NULL,
    weight_kg       numeric(5,1),
    score           real,
    ratio           double precision NOT NULL,
    note            text,
    born            date NOT NULL,
    updated_at      timestamp(3),
    "户号"          char(12),
    CONSTRAINT person_id_card_uq UNIQUE (id_card_no),
    CONSTRAINT person_name_born_uq UNIQUE ("姓名", born),
    CONSTRAINT person_hukou_fk FOREIGN KEY ("户号") REFERENCES "户籍" ("户号")
);
CREATE INDEX person_age_idx ON person (age);
CREATE TABLE payment (
    person_id       bigint NOT NULL,
    month           char(6) NOT NULL,
    amount          numeric(12,2) NOT NULL,
    paid_at         timestamp(0),
    confirmed       boolean NOT NULL DEFAULT false,
    receipt         bytea,
    receipt_id      uuid,
    details         jsonb,
    received_at     timestamptz(6),
    PRIMARY KEY (person_id, month),
    CONSTRAINT payment_person_fk FOREIGN KEY (person_id) REFERENCES person (id) ON DELETE CASCADE
);
CREATE TABLE payment_item (
    person_id       bigint NOT NULL,
    month           char(6) NOT NULL,
    line            smallint NOT NULL,
    "金额"          numeric(10,2) NOT NULL,
    PRIMARY KEY (person_id, month, line),
    CONSTRAINT item_payment_fk FOREIGN KEY (person_id, month) REFERENCES payment (person_id, month)
);
-- A dropped column leaves a gap in the ordinals (attnum): memo is column 6, there is no 5.
ALTER TABLE payment_item ADD COLUMN scratch integer;
ALTER TABLE payment_item DROP COLUMN scratch;
ALTER TABLE payment_item ADD COLUMN memo varchar(30);
-- Types ODBC has no SQL type for, and unconstrained ones psqlODBC gives invented sizes.
CREATE TABLE "杂项" (
    id              integer PRIMARY KEY,
    code            varchar,
    amount_any      numeric,
    tags            text[],
    span            interval,
    addr            inet,
    at_time         time(2),
    bits            bit(8),
    flag            boolean
);
"""

MY_SCHEMA = """
CREATE TABLE `户籍` (
    `户号`          char(12) PRIMARY KEY,
    `地址`          varchar(200) NOT NULL,
    district_code   char(6) NOT NULL,
    registered_on   date
);
CREATE TABLE person (
    id              bigint PRIMARY KEY,
    id_card_no      char(18) NOT NULL,
    `姓名`          varchar(50) NOT NULL,
    age             smallint,
    height_cm       int NOT NULL,
    weight_kg       decimal(5,1),
    score           float,
    ratio           double NOT NULL,
    note            text,
    born            date NOT NULL,
    updated_at      datetime(3),
    `户号`          char(12),
    CONSTRAINT person_id_card_uq UNIQUE (id_card_no),
    CONSTRAINT person_name_born_uq UNIQUE (`姓名`, born),
    CONSTRAINT person_hukou_fk FOREIGN KEY (`户号`) REFERENCES `户籍` (`户号`)
);
CREATE INDEX person_age_idx ON person (age);
CREATE TABLE payment (
    person_id       bigint NOT NULL,
    month           char(6) NOT NULL,
    amount          decimal(12,2) NOT NULL,
    paid_at         datetime,
    confirmed       tinyint(1) NOT NULL DEFAULT 0,
    receipt         varbinary(64),
    flags           bit(8),
    kind            enum('pension', 'medical'),
    tiny            tinyint unsigned,
    mid             mediumint,
    received_at     timestamp(6) NULL,
    PRIMARY KEY (person_id, month),
    CONSTRAINT payment_person_fk FOREIGN KEY (person_id) REFERENCES person (id) ON DELETE CASCADE
);
CREATE TABLE payment_item (
    person_id       bigint NOT NULL,
    month           char(6) NOT NULL,
    line            smallint NOT NULL,
    `金额`          decimal(10,2) NOT NULL,
    PRIMARY KEY (person_id, month, line),
    CONSTRAINT item_payment_fk FOREIGN KEY (person_id, month) REFERENCES payment (person_id, month)
);
"""

COLUMN_FIELDS = ("family", "length", "precision", "scale", "nullable", "ordinal")


def facts(dump, source):
    """What must agree, from one dump: {"levels": [...], "tables": {relpath: {...}}}."""
    strip = source + "/"
    rel = lambda p: p[len(strip):] if p.startswith(strip) else p  # noqa: E731
    levels = sorted((o.kind, rel(o.path)) for o in dump.values() if o.kind in ("database", "schema"))
    tables = {}
    for t in dump.values():
        if t.kind != "table":
            continue
        cols = {}
        for c in dump.children(t, "column"):
            a = c.attrs
            cols[c.name] = (a.get("family"), a.get("length"), a.get("precision"), a.get("scale"),
                            a.get("nullable") == "true", a.get("ordinal"))
        pk = [tuple(dump.ref_names(k, "columns")) for k in dump.children(t, "primary_key")]
        uniques = sorted(tuple(dump.ref_names(k, "columns")) for k in dump.children(t, "unique"))
        fks = sorted((tuple(dump.ref_names(k, "columns")),
                      ",".join(dump.ref_paths(k, "ref_table", strip)),
                      tuple(dump.ref_names(k, "ref_columns")))
                     for k in dump.children(t, "foreign_key"))
        unsigned = sorted(c.name for c in dump.children(t, "column") if c.attrs.get("unsigned"))
        tables[rel(t.path)] = {"columns": cols, "pk": pk, "unique": uniques, "fk": fks,
                               "unsigned": unsigned}
    return {"levels": levels, "tables": tables}


def fmt_col(v):
    return "absent" if v is None else "(" + ", ".join(
        f"{f}={x}" for f, x in zip(COLUMN_FIELDS, v) if x not in (None, False)) + ")"


def compare(tap, label, a_name, a, b_name, b):
    """Asserts that facts a and b agree, naming each difference."""
    tap.eq(b["levels"], a["levels"], f"{label}: the same database and schema paths")
    ta, tb = set(a["tables"]), set(b["tables"])
    tap.ok(ta == tb, f"{label}: the same tables ({len(ta)} via {a_name})",
           f"only via {a_name}: {sorted(ta - tb)}\nonly via {b_name}: {sorted(tb - ta)}")
    for t in sorted(ta & tb):
        x, y = a["tables"][t], b["tables"][t]
        diffs = []
        def by_ordinal(n):
            ordinal = (x["columns"].get(n) or y["columns"][n])[5]
            return (int(ordinal) if ordinal and ordinal.isdigit() else 1 << 30, n)
        for c in sorted(set(x["columns"]) | set(y["columns"]), key=by_ordinal):
            cx, cy = x["columns"].get(c), y["columns"].get(c)
            if cx != cy:
                diffs.append(f"column {c}: {a_name} {fmt_col(cx)}, {b_name} {fmt_col(cy)}")
        tap.ok(not diffs, f"{label}: {t}: the same {len(x['columns'])} columns "
                          "(name, family, length, precision, scale, nullable, ordinal)", "\n".join(diffs))
        for what, desc in (("pk", "primary key columns"), ("unique", "unique constraints' columns"),
                           ("fk", "foreign keys (columns, referenced table, referenced columns)"),
                           ("unsigned", "unsigned columns")):
            tap.ok(x[what] == y[what], f"{label}: {t}: the same {desc}",
                   f"{a_name}: {x[what]!r}\n{b_name}: {y[what]!r}")


def run_pair(tap, w, label, sources, a, b):
    """Dumps sources a and b (names in sources) and compares them; returns their facts."""
    conf = w.agent_conf(sources, agent_id=f"equiv-{a}", collector_port=free_port())
    out = {}
    for name in (a, b):
        status, dump, err = w.dump(conf, name, name=f"dump-{name}")
        if not tap.ok(status == 0 and dump, f"{label}: --dump {name} ({sources[name]['driver']})",
                      f"exit {status}: {err.strip()[-1500:]}"):
            return None
        out[name] = facts(dump, name)
    compare(tap, label, a, out[a], b, out[b])
    return out


def check_expected(tap, label, f, table, column, want):
    """One column's normalised type as this schema declares it, so that the drivers do not agree
    on something wrong."""
    got = f["tables"].get(table, {}).get("columns", {}).get(column)
    tap.eq(got, want, f"{label}: {table}.{column} is {fmt_col(want)}")


def find_pg():
    if "PostgreSQL Unicode" not in odbc_drivers():
        return None, "psqlODBC (PostgreSQL Unicode) not installed"
    return Postgres.find()


def find_my(w):
    if "MariaDB Unicode" not in odbc_drivers():
        return None, "MariaDB ODBC (MariaDB Unicode) not installed"
    return MariaDB.find(w)


def pg_pair(tap, w, pg):
    pg.create_database(DB)
    w.cleanups.append(lambda: pg.psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', check=False))
    pg.psql(PG_SCHEMA, db=DB)
    sources = {"pgnative": {"driver": "pg", "conninfo": pg.conninfo_for(DB)},
               "pgodbc": {"driver": "odbc", "conninfo": pg.odbc_conninfo(DB)}}
    out = run_pair(tap, w, "PostgreSQL", sources, "pgnative", "pgodbc")
    if out:
        f = out["pgnative"]
        tap.ok(("schema", f"{DB}/public") in f["levels"], f"PostgreSQL: tables under {DB}/public",
               dump_json(f["levels"]))
        p = f"{DB}/public/"
        check_expected(tap, "PostgreSQL", f, p + "person", "weight_kg",
                       ("decimal", None, "5", "1", True, "6"))
        check_expected(tap, "PostgreSQL", f, p + "person", "note", ("string", None, None, None, True, "9"))
        check_expected(tap, "PostgreSQL", f, p + "户籍", "户号", ("char", "12", None, None, False, "1"))
        check_expected(tap, "PostgreSQL", f, p + "payment_item", "memo",
                       ("string", "30", None, None, True, "6"))
        for col, want in (("code", ("string", None, None, None, True, "2")),
                          ("amount_any", ("decimal", None, None, None, True, "3")),
                          ("tags", ("array", None, None, None, True, "4")),
                          ("span", ("interval", None, None, None, True, "5")),
                          ("addr", ("network", None, None, None, True, "6")),
                          ("at_time", ("time", None, "2", None, True, "7")),
                          ("bits", ("bit", "8", None, None, True, "8")),
                          ("flag", ("boolean", None, None, None, True, "9"))):
            check_expected(tap, "PostgreSQL", f, p + "杂项", col, want)


def my_pair(tap, w, db):
    db.fresh_database(DB)
    db.mysql(MY_SCHEMA, db=DB)
    pw = "Equiv-" + secrets.token_hex(8)
    db.create_user(USER, pw, [f"SELECT, SHOW VIEW ON `{DB}`.*"])
    sources = {"mynative": {"driver": "mysql", "conninfo": db.conninfo(DB, USER, pw)},
               "myodbc": {"driver": "odbc", "conninfo": db.odbc_conninfo(DB, USER, pw)}}
    out = run_pair(tap, w, "MariaDB", sources, "mynative", "myodbc")
    if out:
        f = out["mynative"]
        tap.ok(("database", "def") in f["levels"] and ("schema", f"def/{DB}") in f["levels"],
               f"MariaDB: database def, schema {DB}", dump_json(f["levels"]))
        p = f"def/{DB}/"
        check_expected(tap, "MariaDB", f, p + "person", "score", ("float", None, "24", None, True, "7"))
        check_expected(tap, "MariaDB", f, p + "person", "note", ("string", None, None, None, True, "9"))
        for col, want in (("confirmed", ("integer", None, "8", None, False, "5")),  # tinyint(1)
                          ("receipt", ("binary", "64", None, None, True, "6")),
                          ("flags", ("bit", "8", None, None, True, "7")),
                          ("kind", ("enum", None, None, None, True, "8")),
                          ("tiny", ("integer", None, "8", None, True, "9")),
                          ("mid", ("integer", None, "24", None, True, "10")),
                          ("paid_at", ("timestamp", None, None, None, True, "4")),
                          ("received_at", ("timestamptz", None, "6", None, True, "11"))):
            check_expected(tap, "MariaDB", f, p + "payment", col, want)
        tap.eq(f["tables"].get(p + "payment", {}).get("unsigned"), ["tiny"],
               "MariaDB: payment.tiny is the one unsigned column")


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "equiv")
    try:
        pairs = [("PostgreSQL: pg and psqlODBC agree", find_pg(), pg_pair),
                 ("MariaDB: mysql and MariaDB ODBC agree", find_my(w), my_pair)]
        if not any(server for _, (server, _), _ in pairs) and not required():
            skip_all("; ".join(why for _, (_, why), _ in pairs))
        for desc, (server, why), run_pair_on in pairs:
            if server:
                run_pair_on(tap, w, server)
            else:
                tap.skip(desc, why)
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        tap.ok(False, f"unexpected error: {e}", traceback.format_exc())
    finally:
        w.close()
    tap.done()


if __name__ == "__main__":
    main()
