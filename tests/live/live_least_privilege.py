#!/usr/bin/env python3
"""Least privilege (issue 5): the accounts the README tells operators to create are enough.

PostgreSQL: a role with LOGIN, CONNECT on the database and default_transaction_read_only, and no
grant on any table. MariaDB: an account with REFERENCES and SHOW VIEW on the schema, and no SELECT.
For each, the agent crawling as that account sees the same tables, columns, keys, indexes, foreign
keys and comments as a crawl by the administrator (the account cannot read view definitions on
MariaDB without SELECT on the view: they are compared without), and the account itself cannot
read a row of data (or, on PostgreSQL, write).
The SQL is the README's, word for word where the README gives it.
"""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import MariaDB, Postgres, Tap, World, require_binaries  # noqa: E402

DB = "prospector_least"
SCHEMA_SQL = """
CREATE TABLE person (id integer PRIMARY KEY, name varchar(50) NOT NULL, city text);
COMMENT ON TABLE person IS '人口基本信息';
COMMENT ON COLUMN person.name IS '姓名';
CREATE INDEX person_city_idx ON person (city);
CREATE TABLE address (id integer PRIMARY KEY, person_id integer REFERENCES person (id), line text);
CREATE VIEW adults AS SELECT id, name FROM person;
INSERT INTO person VALUES (1, '机密数据', 'x');
"""
MY_SCHEMA_SQL = """
CREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL COMMENT '姓名', city TEXT,
  KEY person_city_idx (city(20))) ENGINE=InnoDB COMMENT '人口基本信息';
CREATE TABLE address (id INT PRIMARY KEY, person_id INT, line TEXT,
  CONSTRAINT address_person_fk FOREIGN KEY (person_id) REFERENCES person (id)) ENGINE=InnoDB;
CREATE VIEW adults AS SELECT id, name FROM person;
INSERT INTO person VALUES (1, '机密数据', 'x');
"""


def comparable(objs, without=()):
    """What the two crawls must agree on: each object's path, kind and attributes. By key: on
    MariaDB a foreign key and the index under it share a path."""
    return {(o.path, o.kind): {k: v for k, v in o.attrs.items() if k not in without}
            for o in objs.by_key.values()}


def compare(tap, w, what, admin_conf, least_conf, source, without=()):
    s1, admin, e1 = w.dump(admin_conf, source, name=f"{source}-admin")
    s2, least, e2 = w.dump(least_conf, source, name=f"{source}-least")
    tap.ok(s1 == 0 and s2 == 0, f"{what}: both crawls succeed", e1 + e2)
    if s1 or s2:
        return
    a, b = comparable(admin, without), comparable(least, without)
    tap.ok(a == b, f"{what}: the least-privileged account sees all {len(a)} objects the administrator sees",
           {"missing": sorted(set(a) - set(b))[:5],
            "different": [(p, a[p], b[p]) for p in a if p in b and a[p] != b[p]][:3]})
    kinds = sorted({o.kind for o in least.by_key.values()})
    tap.ok({"table", "view", "column", "primary_key", "foreign_key", "index"} <= set(kinds),
           f"{what}: tables, views, columns, keys, foreign keys and indexes", kinds)


def postgres(tap, w):
    pg, why = Postgres.find()
    if not pg:
        tap.skip("PostgreSQL", why)
        return
    pg.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg.create_database(DB)
    w.cleanups.append(lambda: pg.psql(f"DROP DATABASE IF EXISTS {DB}", check=False))
    w.cleanups.append(lambda: pg.psql("DROP ROLE IF EXISTS prospector_least", check=False))
    pg.psql(SCHEMA_SQL, db=DB)
    pg.psql("DROP ROLE IF EXISTS prospector_least")
    # The README's role:
    pg.psql("CREATE ROLE prospector_least LOGIN PASSWORD 'least-Pw-7';"
            "ALTER ROLE prospector_least SET default_transaction_read_only = on;"
            f"GRANT CONNECT ON DATABASE {DB} TO prospector_least;")
    admin = w.agent_conf({"pg": {"driver": "pg", "conninfo": pg.conninfo_for(DB)}}, agent_id="pg-admin")
    least = w.agent_conf({"pg": {"driver": "pg", "conninfo": pg.tcp_conninfo(DB, "prospector_least",
                                                                             "least-Pw-7")}},
                         agent_id="pg-least")
    compare(tap, w, "PostgreSQL", admin, least, "pg")
    env = {"PGPASSWORD": "least-Pw-7"}
    r = pg.psql_as(f"host={pg.host} port={pg.port} dbname={DB} user=prospector_least",
                   "SELECT name FROM person", env)
    tap.ok(r.returncode != 0 and "permission denied" in r.stderr, "PostgreSQL: the role cannot read data",
           r.stdout + r.stderr)
    r = pg.psql_as(f"host={pg.host} port={pg.port} dbname={DB} user=prospector_least",
                   "CREATE TABLE t (x int)", env)
    tap.ok(r.returncode != 0 and ("read-only" in r.stderr or "permission denied" in r.stderr),
           "PostgreSQL: nor write", r.stderr)


def mariadb(tap, w):
    my, why = MariaDB.find(w)
    if not my:
        tap.skip("MariaDB", why)
        return
    db = my.fresh_database(DB)
    my.mysql(MY_SCHEMA_SQL, db=db)
    # The README's account:
    my.create_user("prospector_least", "least-Pw-8", grants=(f"REFERENCES, SHOW VIEW ON {db}.*",))
    my.create_user("prospector_admin", "admin-Pw-9", grants=(f"ALL ON {db}.*",))
    admin = w.agent_conf({"my": {"driver": "mysql", "conninfo": my.conninfo(db, "prospector_admin", "admin-Pw-9")}},
                         agent_id="my-admin")
    least = w.agent_conf({"my": {"driver": "mysql", "conninfo": my.conninfo(db, "prospector_least", "least-Pw-8")}},
                         agent_id="my-least")
    compare(tap, w, "MariaDB", admin, least, "my", without=("definition_hash",))
    r = my.mysql(f"SELECT name FROM {db}.person", check=False, user="prospector_least", password="least-Pw-8")
    tap.ok(r.returncode != 0 and "denied" in r.stderr, "MariaDB: the account cannot read data", r.stderr)


def main():
    tap = Tap()
    require_binaries()
    w = World(tap, "least")
    try:
        postgres(tap, w)
        mariadb(tap, w)
    finally:
        if tap.failed:
            w.dump_logs()
        w.close()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
