#!/usr/bin/env python3
"""Synthetic schemas for the benchmarks (DESIGN §7) and the bench-smoke test: SQL on stdout.

    python3 tests/bench/gen.py {pg|mariadb} [--tables N] [--schemas S] [--prefix P]

N tables (default 10,000) spread round-robin over S schemas (PostgreSQL) or databases (MariaDB),
named P_s01 … (default prefix "bench"). Every table has 20 columns of assorted types, a primary key,
a foreign key to the table made just before it (so FKs also cross schemas), a secondary index, and
Chinese comments on the table and every column; every 10th table also gets a view. The output is
deterministic (the same arguments give the same SQL), so runs compare.

Loading speed matters at 10,000 tables: PostgreSQL gets batches of BATCH tables per transaction
(one transaction for everything would need ~60,000 locks, past the default lock table), and
comments go in the same batch; MariaDB gets table comments inline in CREATE TABLE (one statement
per table, no ALTER afterwards) and foreign key checks off while loading.
Load with `psql -v ON_ERROR_STOP=1 -f FILE` or `mariadb < FILE`. Python 3 standard library only.
"""

import argparse
import sys

BATCH = 100  # PostgreSQL tables per transaction

# (column name suffix, PostgreSQL type, MariaDB type, Chinese comment); 18 of them after id and
# parent_id, 20 columns in all.
COLUMNS = [
    ("name", "varchar(100) NOT NULL", "varchar(100) NOT NULL", "名称"),
    ("code", "varchar(32)", "varchar(32)", "编码"),
    ("id_card", "char(18)", "char(18)", "身份证号"),
    ("phone", "varchar(20)", "varchar(20)", "联系电话"),
    ("address", "text", "text", "地址"),
    ("amount", "numeric(14,2) DEFAULT 0", "decimal(14,2) DEFAULT 0", "金额（元）"),
    ("quantity", "integer NOT NULL DEFAULT 0", "int NOT NULL DEFAULT 0", "数量"),
    ("ratio", "double precision", "double", "比例"),
    ("is_valid", "boolean NOT NULL DEFAULT true", "tinyint(1) NOT NULL DEFAULT 1", "是否有效"),
    ("birth_date", "date", "date", "出生日期"),
    ("created_at", "timestamp NOT NULL DEFAULT now()",
     "datetime NOT NULL DEFAULT CURRENT_TIMESTAMP", "创建时间"),
    ("updated_at", "timestamptz", "timestamp NULL", "更新时间"),
    ("dept_code", "varchar(12)", "varchar(12)", "行政区划代码"),
    ("status", "smallint NOT NULL DEFAULT 1", "smallint NOT NULL DEFAULT 1", "状态"),
    ("remark", "varchar(500)", "varchar(500)", "备注"),
    ("version", "bigint NOT NULL DEFAULT 0", "bigint NOT NULL DEFAULT 0", "版本号"),
    ("payload", "jsonb", "longtext", "扩展信息"),
    ("checksum", "bytea", "varbinary(64)", "校验和"),
]

SUBJECTS = ["人口信息", "法人单位", "社会保障", "医疗机构", "教育学籍", "不动产登记", "企业信用",
            "交通运输", "生态环境", "公共卫生"]


def names(i, schemas, prefix):
    """(schema, table) of table i (0-based)."""
    return f"{prefix}_s{i % schemas + 1:02d}", f"t{i:05d}"


def table_comment(i):
    return f"{SUBJECTS[i % len(SUBJECTS)]}表{i:05d}"


def pg_table(i, schemas, prefix):
    schema, table = names(i, schemas, prefix)
    q = f'"{schema}"."{table}"'
    cols = ["  id bigint PRIMARY KEY", "  parent_id bigint"]
    cols += [f"  c_{name} {pg_type}" for name, pg_type, _, _ in COLUMNS]
    out = [f"CREATE TABLE {q} (\n" + ",\n".join(cols) + "\n);"]
    if i > 0:
        ps, pt = names(i - 1, schemas, prefix)
        out.append(f'ALTER TABLE {q} ADD CONSTRAINT {table}_parent_fk FOREIGN KEY (parent_id) '
                   f'REFERENCES "{ps}"."{pt}" (id);')
    out.append(f'CREATE INDEX {table}_code_idx ON {q} (c_code, c_dept_code);')
    out.append(f"COMMENT ON TABLE {q} IS '{table_comment(i)}';")
    out.append(f"COMMENT ON COLUMN {q}.id IS '主键';")
    out.append(f"COMMENT ON COLUMN {q}.parent_id IS '上级记录';")
    for name, _, _, comment in COLUMNS:
        out.append(f"COMMENT ON COLUMN {q}.c_{name} IS '{comment}';")
    if i % 10 == 0:
        out.append(f'CREATE VIEW "{schema}"."v_{table}" AS SELECT id, c_name, c_code, c_amount '
                   f'FROM {q} WHERE c_is_valid;')
        out.append(f"COMMENT ON VIEW \"{schema}\".\"v_{table}\" IS '{table_comment(i)}（有效记录）';")
    return out


def pg(args, w):
    w("SET client_encoding = 'UTF8';\nSET synchronous_commit = off;\n")
    w("BEGIN;\n")
    for s in range(args.schemas):
        w(f'CREATE SCHEMA "{args.prefix}_s{s + 1:02d}";\n')
        w(f"COMMENT ON SCHEMA \"{args.prefix}_s{s + 1:02d}\" IS '基准测试模式{s + 1}';\n")
    for i in range(args.tables):
        if i and i % BATCH == 0:
            w("COMMIT;\nBEGIN;\n")
        w("\n".join(pg_table(i, args.schemas, args.prefix)) + "\n")
    w("COMMIT;\n")


def my_table(i, schemas, prefix):
    schema, table = names(i, schemas, prefix)
    q = f"`{schema}`.`{table}`"
    cols = ["  id bigint NOT NULL PRIMARY KEY COMMENT '主键'",
            "  parent_id bigint COMMENT '上级记录'"]
    cols += [f"  c_{name} {my_type} COMMENT '{comment}'" for name, _, my_type, comment in COLUMNS]
    cols.append(f"  KEY {table}_code_idx (c_code, c_dept_code)")
    if i > 0:
        ps, pt = names(i - 1, schemas, prefix)
        cols.append(f"  CONSTRAINT {table}_parent_fk FOREIGN KEY (parent_id) "
                    f"REFERENCES `{ps}`.`{pt}` (id)")
    out = [f"CREATE TABLE {q} (\n" + ",\n".join(cols) +
           f"\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='{table_comment(i)}';"]
    if i % 10 == 0:
        out.append(f"CREATE VIEW `{schema}`.`v_{table}` AS SELECT id, c_name, c_code, c_amount "
                   f"FROM {q} WHERE c_is_valid = 1;")
    return out


def mariadb(args, w):
    w("SET NAMES utf8mb4;\nSET foreign_key_checks = 0;\nSET unique_checks = 0;\n")
    for s in range(args.schemas):
        db = f"{args.prefix}_s{s + 1:02d}"
        w(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci "
          f"COMMENT '基准测试库{s + 1}';\n")
    for i in range(args.tables):
        w("\n".join(my_table(i, args.schemas, args.prefix)) + "\n")
    w("SET foreign_key_checks = 1;\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dialect", choices=["pg", "mariadb"])
    ap.add_argument("--tables", type=int, default=10000)
    ap.add_argument("--schemas", type=int, default=10)
    ap.add_argument("--prefix", default="bench")
    args = ap.parse_args()
    if args.tables < 1 or args.schemas < 1:
        ap.error("--tables and --schemas must be at least 1")
    args.schemas = min(args.schemas, args.tables)
    out = sys.stdout
    out.reconfigure(encoding="utf-8")
    chunks = []

    def w(text):
        chunks.append(text)
        if len(chunks) >= 1000:
            out.write("".join(chunks))
            chunks.clear()

    (pg if args.dialect == "pg" else mariadb)(args, w)
    out.write("".join(chunks))


if __name__ == "__main__":
    main()
