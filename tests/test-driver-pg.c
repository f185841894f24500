/*
 * The PostgreSQL driver against a live server: a fresh database holding every kind of object the
 * model knows, crawled and checked attribute by attribute, then the failure classes (bad conninfo,
 * wrong password, unreachable server, no CONNECT privilege, no catalog privilege) and a column
 * rename that must keep its key. Needs PROSPECTOR_TEST_PG (a superuser's libpq conninfo); the
 * wrong-password check also needs PROSPECTOR_TEST_PG_PORT (TCP on 127.0.0.1 with password auth).
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "driver.h"
#include "snapshot.h"
#include "driver-test.h"
#include "tap.h"
#include "utf8.h"
#include "xmalloc.h"

#define SEP MODEL_REF_SEP_STR
#define LONG_NAME "A Very Long Mixed Case Name That Fills All Sixty-Three Bytes!!!"

static const char *base;
static char dbname[64];

/* The schema under test. Every statement must succeed; the file bails out otherwise. */
static const char *const schema_sql[] = {
	"CREATE SCHEMA \"Sales Dept\"",
	"COMMENT ON SCHEMA \"Sales Dept\" IS '销售部'",
	"CREATE TYPE \"Sales Dept\".mood AS ENUM ('sad', 'ok', 'happy')",
	"CREATE DOMAIN \"Sales Dept\".email AS varchar(200) CHECK (VALUE LIKE '%@%')",
	"CREATE DOMAIN \"Sales Dept\".work_email AS \"Sales Dept\".email",
	"CREATE TABLE \"Sales Dept\".customers ("
	" id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" name varchar(50) NOT NULL,"
	" email \"Sales Dept\".email CONSTRAINT customers_email_key UNIQUE,"
	" balance numeric(10,2) DEFAULT 0 CONSTRAINT balance_positive CHECK (balance >= 0),"
	" created timestamptz(3) NOT NULL DEFAULT now(),"
	" tags int[],"
	" mood \"Sales Dept\".mood,"
	" name_upper text GENERATED ALWAYS AS (upper(name)) STORED,"
	" \"Quoted \"\"Col\"\"\" text,"
	" office \"Sales Dept\".work_email,"
	" flags bit(8), ratio real, big bigint, small smallint, at time(2), span interval,"
	" doc jsonb, uid uuid, addr inet, raw bytea, active boolean, born date, letter char(3),"
	" iv interval(3), n numeric, vc varchar)",
	"COMMENT ON TABLE \"Sales Dept\".customers IS '客户'",
	"COMMENT ON CONSTRAINT balance_positive ON \"Sales Dept\".customers IS '余额非负'",
	"CREATE TABLE \"Sales Dept\".orders ("
	" id bigserial PRIMARY KEY,"
	" customer_id integer NOT NULL CONSTRAINT orders_customer_fk"
	"  REFERENCES \"Sales Dept\".customers (id) ON DELETE CASCADE,"
	" amount float8, placed date, note char(10))",
	"CREATE TABLE \"Sales Dept\".order_notes (order_id bigint, line int, body text,"
	" PRIMARY KEY (order_id, line),"
	" CONSTRAINT notes_order_fk FOREIGN KEY (order_id) REFERENCES \"Sales Dept\".orders (id)"
	"  MATCH FULL ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED)",
	"CREATE INDEX orders_customer ON \"Sales Dept\".orders (customer_id)",
	"COMMENT ON INDEX \"Sales Dept\".orders_customer IS '按客户'",
	"CREATE UNIQUE INDEX customers_lower_name ON \"Sales Dept\".customers (lower(name))",
	"CREATE INDEX orders_big ON \"Sales Dept\".orders USING btree (amount) INCLUDE (placed)"
	" WHERE amount > 100",
	"CREATE VIEW \"Sales Dept\".big_orders AS SELECT o.id, c.name FROM \"Sales Dept\".orders o"
	" JOIN \"Sales Dept\".customers c ON c.id = o.customer_id WHERE o.amount > 100",
	"CREATE MATERIALIZED VIEW \"Sales Dept\".order_totals AS SELECT customer_id, sum(amount) AS total"
	" FROM \"Sales Dept\".orders GROUP BY customer_id",
	"CREATE SEQUENCE \"Sales Dept\".ticket_seq AS integer START 100 INCREMENT 5 MINVALUE 100"
	" MAXVALUE 100000 CYCLE",
	"CREATE TABLE \"Sales Dept\".tickets (no integer DEFAULT nextval('\"Sales Dept\".ticket_seq'))",
	"ALTER SEQUENCE \"Sales Dept\".ticket_seq OWNED BY \"Sales Dept\".tickets.no",
	"CREATE TABLE events (id bigint NOT NULL, at timestamp NOT NULL, payload jsonb,"
	" PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
	"CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
	"CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
	"CREATE TABLE event_refs (event_id bigint, event_at timestamp,"
	" CONSTRAINT event_refs_fk FOREIGN KEY (event_id, event_at) REFERENCES events)",
	"CREATE UNLOGGED TABLE scratch (k text, gone int)",
	"ALTER TABLE scratch DROP COLUMN gone",
	"CREATE TABLE \"用户表\" (\"姓名\" varchar(20) NOT NULL, \"备注\" text)",
	"COMMENT ON TABLE \"用户表\" IS '人员信息'",
	"COMMENT ON COLUMN \"用户表\".\"姓名\" IS '姓名列'",
	"CREATE TABLE \"" LONG_NAME "\" (x int)",
	/* COPY's CSV: separators, quotes, a newline and a backslash in values */
	"CREATE TABLE csv_edges (q text DEFAULT 'x,\"y\"')",
	"COMMENT ON COLUMN csv_edges.q IS E'\"a\",\"\"b\n\\\\c,'",
	"INSERT INTO \"Sales Dept\".customers (name, email) VALUES ('a', 'a@x'), ('b', 'b@x'), ('c', 'c@x')",
	"ANALYZE \"Sales Dept\".customers",
};

static _Noreturn void bail(const char *what, PGconn *conn)
{
	printf("Bail out! %s: %s\n", what, conn ? PQerrorMessage(conn) : "");
	exit(1);
}

static void db_notice(void *arg, const char *msg)
{
	(void)arg;
	printf("# %s", msg);
}

static PGconn *db_connect(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
		bail("connect", conn);
	PQsetNoticeProcessor(conn, db_notice, NULL);
	return conn;
}

static void db_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		printf("# %s\n", sql);
		bail("statement failed", conn);
	}
	PQclear(res);
}

static bool db_execf_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok;
}

/* The first value of a query with up to two text parameters; NULL when there is no row. */
static char *db_value(PGconn *conn, const char *sql, const char *p1, const char *p2)
{
	const char *params[2] = { p1, p2 };
	PGresult *res = PQexecParams(conn, sql, p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	char *v = NULL;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		printf("# %s\n", sql);
		bail("query failed", conn);
	}
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static char *key_rel(PGconn *conn, const char *rel)
{
	return db_value(conn, "SELECT 'r:' || $1::regclass::oid", rel, NULL);
}

static char *key_att(PGconn *conn, const char *rel, const char *att)
{
	return db_value(conn, "SELECT 'a:' || attrelid || ':' || attnum FROM pg_attribute "
			      "WHERE attrelid = $1::regclass AND attname = $2", rel, att);
}

static char *key_con(PGconn *conn, const char *rel, const char *con)
{
	return db_value(conn, "SELECT 'c:' || oid FROM pg_constraint "
			      "WHERE conrelid = $1::regclass AND conname = $2", rel, con);
}

static char *key_idx(PGconn *conn, const char *idx)
{
	return db_value(conn, "SELECT 'i:' || $1::regclass::oid", idx, NULL);
}

static char *key_nsp(PGconn *conn, const char *nsp)
{
	return db_value(conn, "SELECT 'n:' || oid FROM pg_namespace WHERE nspname = $1", nsp, NULL);
}

static const char *attr(const struct snapshot *s, const char *key, const char *name)
{
	const struct obj *o = snapshot_find(s, key);

	return o ? obj_get(o, name) : "<no such object>";
}

static const char *obs(const struct snapshot *s, const char *key, const char *name)
{
	const struct obj *o = snapshot_find(s, key);

	return o ? obj_get_obs(o, name) : "<no such object>";
}

static void is_obj(const struct snapshot *s, const char *key, enum obj_kind kind, const char *parent,
		   const char *path)
{
	const struct obj *o = snapshot_find(s, key);
	const char *label = path ? path : "?";

	if (!ok(o, "object %s (%s) exists", key, label))
		return;
	is_str(model_kind(o->kind)->name, model_kind(kind)->name, "%s: kind", label);
	is_str(o->parent, parent, "%s: parent", label);
	is_str(driver_test_path(o), path, "%s: path", label);
}

static size_t children(const struct snapshot *s, const char *parent, enum obj_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nobjs; i++)
		n += s->objs[i]->kind == kind && s->objs[i]->parent && strcmp(s->objs[i]->parent, parent) == 0;
	return n;
}

static bool has_name(const struct snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->nobjs; i++)
		if (strcmp(s->objs[i]->name, name) == 0)
			return true;
	return false;
}

static char *conninfo_for(const char *extra)
{
	return xasprintf("%s dbname=%s %s", base, dbname, extra);
}

/* One open + crawl + finish with the driver found in the registry; password as the secrets file
 * gives it (NULL: none). */
static int crawl_pw(const char *conninfo, const char *password, unsigned timeout, struct snapshot **ret_snap,
		    char *err)
{
	struct source_conf conf = { .name = "t", .driver = "pg", .conninfo = (char *)conninfo,
				    .password = (char *)password, .timeout = timeout };

	return driver_test_crawl(&conf, ret_snap, err);
}

static int crawl(const char *conninfo, unsigned timeout, struct snapshot **ret_snap, char *err)
{
	return crawl_pw(conninfo, NULL, timeout, ret_snap, err);
}

/* The expected path of an object, "t/<database>/<rest>"; valid until the eighth call after. */
static const char *path(const char *rest)
{
	static char ring[8][512];
	static unsigned next;
	char *p = ring[next++ % 8];

	snprintf(p, sizeof(ring[0]), "t/%s%s%s", dbname, *rest ? "/" : "", rest);
	return p;
}

static void check_database(PGconn *conn, const struct snapshot *s)
{
	char *db = db_value(conn, "SELECT 'd:' || oid FROM pg_database WHERE datname = current_database()", NULL, NULL);
	char *sales = key_nsp(conn, "Sales Dept"), *pub = key_nsp(conn, "public");
	char *owner = db_value(conn, "SELECT current_user", NULL, NULL);

	is_obj(s, db, OBJ_DATABASE, NULL, path(""));
	is_str(attr(s, db, "encoding"), "UTF8", "database encoding");
	is_str(attr(s, db, "collation"), "C", "database collation");
	is_str(attr(s, db, "ctype"), "C", "database ctype");
	is_str(attr(s, db, "comment"), "测试库", "database comment from pg_shdescription");
	is_obj(s, sales, OBJ_SCHEMA, db, path("Sales Dept"));
	is_str(attr(s, sales, "owner"), owner, "schema owner");
	is_str(attr(s, sales, "comment"), "销售部", "schema comment");
	is_obj(s, pub, OBJ_SCHEMA, db, path("public"));
	is_int(snapshot_count(s, OBJ_SCHEMA), 2, "only public and Sales Dept: no system, toast or temp schema");
	ok(!has_name(s, "pg_catalog") && !has_name(s, "information_schema") && !has_name(s, "pg_class"),
	   "no system objects");
	free(db);
	free(sales);
	free(pub);
	free(owner);
}

/* Expected column attributes: name, type, family, length, precision, scale, nullable. */
static const struct col_want {
	const char *name, *type, *family, *length, *precision, *scale, *nullable;
} customer_cols[] = {
	{ "id", "integer", "integer", NULL, "32", NULL, NULL },
	{ "name", "character varying(50)", "string", "50", NULL, NULL, NULL },
	{ "email", "\"Sales Dept\".email", "string", "200", NULL, NULL, "true" },
	{ "balance", "numeric(10,2)", "decimal", NULL, "10", "2", "true" },
	{ "created", "timestamp(3) with time zone", "timestamptz", NULL, "3", NULL, NULL },
	{ "tags", "integer[]", "array", NULL, NULL, NULL, "true" },
	{ "mood", "\"Sales Dept\".mood", "enum", NULL, NULL, NULL, "true" },
	{ "name_upper", "text", "string", NULL, NULL, NULL, "true" },
	{ "Quoted \"Col\"", "text", "string", NULL, NULL, NULL, "true" },
	{ "office", "\"Sales Dept\".work_email", "string", "200", NULL, NULL, "true" },
	{ "flags", "bit(8)", "bit", "8", NULL, NULL, "true" },
	{ "ratio", "real", "float", NULL, "24", NULL, "true" },
	{ "big", "bigint", "integer", NULL, "64", NULL, "true" },
	{ "small", "smallint", "integer", NULL, "16", NULL, "true" },
	{ "at", "time(2) without time zone", "time", NULL, "2", NULL, "true" },
	{ "span", "interval", "interval", NULL, NULL, NULL, "true" },
	{ "doc", "jsonb", "json", NULL, NULL, NULL, "true" },
	{ "uid", "uuid", "uuid", NULL, NULL, NULL, "true" },
	{ "addr", "inet", "network", NULL, NULL, NULL, "true" },
	{ "raw", "bytea", "binary", NULL, NULL, NULL, "true" },
	{ "active", "boolean", "boolean", NULL, NULL, NULL, "true" },
	{ "born", "date", "date", NULL, NULL, NULL, "true" },
	{ "letter", "character(3)", "char", "3", NULL, NULL, "true" },
	{ "iv", "interval(3)", "interval", NULL, "3", NULL, "true" },
	{ "n", "numeric", "decimal", NULL, NULL, NULL, "true" },
	{ "vc", "character varying", "string", NULL, NULL, NULL, "true" },
};

static void check_customers(PGconn *conn, const struct snapshot *s)
{
	const char *rel = "\"Sales Dept\".customers";
	char *t = key_rel(conn, rel), *nsp = key_nsp(conn, "Sales Dept");
	char *k;

	is_obj(s, t, OBJ_TABLE, nsp, path("Sales Dept/customers"));
	is_str(attr(s, t, "comment"), "客户", "table comment");
	is_str(attr(s, t, "partitioned"), NULL, "plain table is not partitioned");
	is_str(obs(s, t, "rows"), "3", "rows observed after ANALYZE");
	ok(obs(s, t, "bytes") && atol(obs(s, t, "bytes")) > 0, "bytes observed");
	for (size_t i = 0; i < sizeof(customer_cols) / sizeof(customer_cols[0]); i++) {
		const struct col_want *w = &customer_cols[i];
		char *p = xasprintf("Sales Dept/customers.%s", w->name);

		k = key_att(conn, rel, w->name);
		is_obj(s, k, OBJ_COLUMN, t, path(p));
		is_str(attr(s, k, "type"), w->type, "%s: type", w->name);
		is_str(attr(s, k, "family"), w->family, "%s: family", w->name);
		is_str(attr(s, k, "length"), w->length, "%s: length", w->name);
		is_str(attr(s, k, "precision"), w->precision, "%s: precision", w->name);
		is_str(attr(s, k, "scale"), w->scale, "%s: scale", w->name);
		is_str(attr(s, k, "nullable"), w->nullable, "%s: nullable", w->name);
		free(k);
		free(p);
	}
	k = key_att(conn, rel, "id");
	is_str(attr(s, k, "ordinal"), "1", "id: ordinal");
	is_str(attr(s, k, "identity"), "always", "id: identity");
	is_str(attr(s, k, "default"), NULL, "id: identity has no default");
	free(k);
	k = key_att(conn, rel, "balance");
	is_str(attr(s, k, "default"), "0", "balance: default");
	is_str(attr(s, k, "ordinal"), "4", "balance: ordinal");
	free(k);
	k = key_att(conn, rel, "created");
	is_str(attr(s, k, "default"), "now()", "created: default");
	free(k);
	k = key_att(conn, rel, "name_upper");
	is_str(attr(s, k, "generated"), "upper((name)::text)", "name_upper: generated expression");
	is_str(attr(s, k, "default"), NULL, "name_upper: a generated column has no default");
	free(k);
	free(t);
	free(nsp);
}

static void check_constraints(PGconn *conn, const struct snapshot *s)
{
	const char *cust = "\"Sales Dept\".customers", *ord = "\"Sales Dept\".orders";
	const char *notes = "\"Sales Dept\".order_notes";
	char *t = key_rel(conn, cust), *o = key_rel(conn, ord), *n = key_rel(conn, notes);
	char *id = key_att(conn, cust, "id"), *email = key_att(conn, cust, "email");
	char *bal = key_att(conn, cust, "balance"), *cid = key_att(conn, ord, "customer_id");
	char *oid = key_att(conn, ord, "id"), *nid = key_att(conn, notes, "order_id");
	char *nline = key_att(conn, notes, "line");
	char *k, *want;

	k = key_con(conn, cust, "customers_pkey");
	is_obj(s, k, OBJ_PRIMARY_KEY, t, path("Sales Dept/customers#customers_pkey"));
	is_str(attr(s, k, "columns"), id, "primary key columns");
	free(k);
	k = key_idx(conn, "\"Sales Dept\".customers_pkey");
	ok(!snapshot_find(s, k), "the primary key's index is not an index object");
	free(k);
	k = key_con(conn, notes, "order_notes_pkey");
	want = xasprintf("%s" SEP "%s", nid, nline);
	is_str(attr(s, k, "columns"), want, "composite primary key columns in conkey order");
	free(want);
	free(k);
	k = key_con(conn, cust, "customers_email_key");
	is_obj(s, k, OBJ_UNIQUE, t, path("Sales Dept/customers#customers_email_key"));
	is_str(attr(s, k, "columns"), email, "unique columns");
	is_str(attr(s, k, "deferrable"), NULL, "not deferrable");
	free(k);
	k = key_con(conn, cust, "balance_positive");
	is_obj(s, k, OBJ_CHECK, t, path("Sales Dept/customers#balance_positive"));
	is_str(attr(s, k, "expression"), "CHECK ((balance >= (0)::numeric))", "check expression");
	is_str(attr(s, k, "columns"), bal, "check columns");
	is_str(attr(s, k, "comment"), "余额非负", "constraint comment");
	free(k);
	k = key_con(conn, ord, "orders_customer_fk");
	is_obj(s, k, OBJ_FOREIGN_KEY, o, path("Sales Dept/orders#orders_customer_fk"));
	is_str(attr(s, k, "columns"), cid, "fk columns");
	is_str(attr(s, k, "ref_table"), t, "fk ref_table");
	is_str(attr(s, k, "ref_columns"), id, "fk ref_columns");
	is_str(attr(s, k, "on_delete"), "CASCADE", "fk on_delete");
	is_str(attr(s, k, "on_update"), "NO ACTION", "fk on_update");
	is_str(attr(s, k, "match"), "SIMPLE", "fk match");
	is_str(attr(s, k, "deferrable"), NULL, "fk not deferrable");
	free(k);
	k = key_con(conn, notes, "notes_order_fk");
	is_str(attr(s, k, "ref_columns"), oid, "second fk ref_columns");
	is_str(attr(s, k, "on_update"), "SET NULL", "second fk on_update");
	is_str(attr(s, k, "on_delete"), "NO ACTION", "second fk on_delete");
	is_str(attr(s, k, "match"), "FULL", "second fk match");
	is_str(attr(s, k, "deferrable"), "DEFERRABLE INITIALLY DEFERRED", "second fk deferrable");
	free(k);
	free(t), free(o), free(n), free(id), free(email), free(bal), free(cid), free(oid), free(nid), free(nline);
}

static void check_indexes(PGconn *conn, const struct snapshot *s)
{
	const char *cust = "\"Sales Dept\".customers", *ord = "\"Sales Dept\".orders";
	char *t = key_rel(conn, cust), *o = key_rel(conn, ord);
	char *cid = key_att(conn, ord, "customer_id"), *amount = key_att(conn, ord, "amount");
	char *placed = key_att(conn, ord, "placed");
	char *k;

	k = key_idx(conn, "\"Sales Dept\".orders_customer");
	is_obj(s, k, OBJ_INDEX, o, path("Sales Dept/orders#orders_customer"));
	is_str(attr(s, k, "columns"), cid, "index columns");
	is_str(attr(s, k, "method"), "btree", "index method");
	is_str(attr(s, k, "unique"), NULL, "plain index not unique");
	is_str(attr(s, k, "comment"), "按客户", "index comment");
	free(k);
	k = key_idx(conn, "\"Sales Dept\".customers_lower_name");
	is_obj(s, k, OBJ_INDEX, t, path("Sales Dept/customers#customers_lower_name"));
	is_str(attr(s, k, "unique"), "true", "unique index");
	is_str(attr(s, k, "expressions"), "lower((name)::text)", "expression index");
	is_str(attr(s, k, "columns"), NULL, "expression index has no plain columns");
	free(k);
	k = key_idx(conn, "\"Sales Dept\".orders_big");
	is_str(attr(s, k, "columns"), amount, "partial index key columns only");
	is_str(attr(s, k, "include"), placed, "partial index INCLUDE columns");
	is_str(attr(s, k, "predicate"), "(amount > (100)::double precision)", "partial index predicate");
	free(k);
	free(t), free(o), free(cid), free(amount), free(placed);
}

static char *viewdef_hash(PGconn *conn, const char *rel)
{
	return db_value(conn, "SELECT encode(sha256(convert_to(pg_get_viewdef($1::regclass), 'UTF8')), 'hex')",
			rel, NULL);
}

static void check_views(PGconn *conn, const struct snapshot *s)
{
	char *nsp = key_nsp(conn, "Sales Dept");
	char *c = key_rel(conn, "\"Sales Dept\".customers"), *o = key_rel(conn, "\"Sales Dept\".orders");
	char *v = key_rel(conn, "\"Sales Dept\".big_orders"), *m = key_rel(conn, "\"Sales Dept\".order_totals");
	char *h, *want;

	is_obj(s, v, OBJ_VIEW, nsp, path("Sales Dept/big_orders"));
	h = viewdef_hash(conn, "\"Sales Dept\".big_orders");
	is_str(attr(s, v, "definition_hash"), h, "view definition_hash");
	free(h);
	want = strcmp(c, o) < 0 ? xasprintf("%s" SEP "%s", c, o) : xasprintf("%s" SEP "%s", o, c);
	is_str(attr(s, v, "depends_on"), want, "view depends_on, sorted by key");
	free(want);
	free(c);
	c = key_att(conn, "\"Sales Dept\".big_orders", "name");
	is_str(attr(s, c, "type"), "character varying(50)", "view column type");
	is_obj(s, m, OBJ_MATVIEW, nsp, path("Sales Dept/order_totals"));
	is_str(attr(s, m, "depends_on"), o, "matview depends_on");
	h = viewdef_hash(conn, "\"Sales Dept\".order_totals");
	is_str(attr(s, m, "definition_hash"), h, "matview definition_hash");
	ok(obs(s, m, "bytes") != NULL, "matview bytes observed");
	free(h), free(nsp), free(c), free(o), free(v), free(m);
}

static void check_sequences(PGconn *conn, const struct snapshot *s)
{
	char *nsp = key_nsp(conn, "Sales Dept");
	char *q = key_rel(conn, "\"Sales Dept\".ticket_seq"), *no = key_att(conn, "\"Sales Dept\".tickets", "no");
	char *idseq = key_rel(conn, "\"Sales Dept\".customers_id_seq");
	char *id = key_att(conn, "\"Sales Dept\".customers", "id");
	char *serial = key_rel(conn, "\"Sales Dept\".orders_id_seq");
	char *oid = key_att(conn, "\"Sales Dept\".orders", "id");

	is_obj(s, q, OBJ_SEQUENCE, nsp, path("Sales Dept/ticket_seq"));
	is_str(attr(s, q, "type"), "integer", "sequence type");
	is_str(attr(s, q, "start"), "100", "sequence start");
	is_str(attr(s, q, "increment"), "5", "sequence increment");
	is_str(attr(s, q, "min"), "100", "sequence min");
	is_str(attr(s, q, "max"), "100000", "sequence max");
	is_str(attr(s, q, "cycle"), "true", "sequence cycle");
	is_str(attr(s, q, "owned_by"), no, "sequence owned_by");
	is_str(attr(s, q, "owner"), NULL, "sequence has no owner attribute (not in the model)");
	is_str(attr(s, serial, "type"), "bigint", "bigserial sequence type");
	is_str(attr(s, serial, "owned_by"), oid, "bigserial sequence owned_by");
	is_str(attr(s, serial, "cycle"), NULL, "no cycle");
	is_str(attr(s, idseq, "owned_by"), id, "identity sequence owned_by");
	free(nsp), free(q), free(no), free(idseq), free(id), free(serial), free(oid);
}

static void check_public(PGconn *conn, const struct snapshot *s)
{
	char *pub = key_nsp(conn, "public");
	char *ev = key_rel(conn, "public.events"), *p = key_rel(conn, "public.events_2024"), *sc = key_rel(conn, "public.scratch");
	char *u = key_rel(conn, "public.\"用户表\""), *n = key_att(conn, "public.\"用户表\"", "姓名");
	char *l = key_rel(conn, "public.\"" LONG_NAME "\""), *pc = key_att(conn, "public.events_2024", "at");

	is_obj(s, ev, OBJ_TABLE, pub, path("public/events"));
	is_str(attr(s, ev, "partitioned"), "true", "partitioned");
	is_str(attr(s, ev, "partition_key"), "RANGE (at)", "partition_key");
	is_obj(s, p, OBJ_TABLE, ev, path("public/events/events_2024"));
	is_str(attr(s, p, "partition_of"), ev, "partition_of");
	is_str(attr(s, p, "partition_bound"),
	       "FOR VALUES FROM ('2024-01-01 00:00:00') TO ('2025-01-01 00:00:00')", "partition_bound");
	is_str(attr(s, p, "partitioned"), NULL, "a partition is not partitioned");
	is_obj(s, pc, OBJ_COLUMN, p, path("public/events/events_2024.at"));
	is_obj(s, sc, OBJ_TABLE, pub, path("public/scratch"));
	is_str(attr(s, sc, "unlogged"), "true", "unlogged");
	is_str(attr(s, ev, "unlogged"), NULL, "logged");
	is_int(children(s, sc, OBJ_COLUMN), 1, "dropped columns are left out");
	is_str(obs(s, p, "rows"), NULL, "never analyzed: no rows observation");
	is_obj(s, u, OBJ_TABLE, pub, path("public/用户表"));
	is_str(attr(s, u, "comment"), "人员信息", "Chinese table comment");
	is_obj(s, n, OBJ_COLUMN, u, path("public/用户表.姓名"));
	is_str(attr(s, n, "comment"), "姓名列", "Chinese column comment");
	is_str(attr(s, n, "length"), "20", "varchar(20) length");
	is_int(strlen(LONG_NAME), 63, "long name is 63 bytes");
	is_obj(s, l, OBJ_TABLE, pub, path("public/" LONG_NAME));
	free(pub), free(ev), free(p), free(sc), free(u), free(n), free(l), free(pc);
	n = key_att(conn, "public.csv_edges", "q");
	is_str(attr(s, n, "comment"), "\"a\",\"\"b\n\\c,", "a comment with quotes, commas, a newline and a backslash");
	is_str(attr(s, n, "default"), "'x,\"y\"'::text", "a default with a comma and quotes");
	free(n);
}

/* Constraints on and to partitions: each partition has its own primary key; a foreign key to a
 * partitioned table is one constraint, not one per referenced partition. */
static void check_partition_constraints(PGconn *conn, const struct snapshot *s)
{
	char *ev = key_rel(conn, "public.events"), *p = key_rel(conn, "public.events_2024");
	char *refs = key_rel(conn, "public.event_refs"), *fk = key_con(conn, "public.event_refs", "event_refs_fk");
	char *pk = key_con(conn, "public.events_2024", "events_2024_pkey");
	char *id = key_att(conn, "public.events", "id"), *at = key_att(conn, "public.events", "at");
	char *want = xasprintf("%s" SEP "%s", id, at);

	is_int(children(s, ev, OBJ_PRIMARY_KEY), 1, "partitioned table has its primary key");
	is_obj(s, pk, OBJ_PRIMARY_KEY, p, path("public/events/events_2024#events_2024_pkey"));
	is_int(children(s, refs, OBJ_FOREIGN_KEY), 1, "one foreign key to a partitioned table");
	is_str(attr(s, fk, "ref_table"), ev, "it references the partitioned table");
	is_str(attr(s, fk, "ref_columns"), want, "with its key columns");
	free(ev), free(p), free(refs), free(fk), free(pk), free(id), free(at), free(want);
}

static bool extension_available(PGconn *conn, const char *name)
{
	char *v = db_value(conn, "SELECT 1 FROM pg_available_extensions WHERE name = $1", name, NULL);

	free(v);
	return v != NULL;
}

/* Optional pieces: an extension's own view must not show; a foreign table must, flagged. */
static void setup_optional(PGconn *conn, bool *ret_ext, bool *ret_fdw)
{
	*ret_ext = extension_available(conn, "pg_stat_statements");
	if (*ret_ext)
		db_exec(conn, "CREATE EXTENSION pg_stat_statements");
	*ret_fdw = extension_available(conn, "file_fdw");
	if (*ret_fdw) {
		db_exec(conn, "CREATE EXTENSION file_fdw");
		db_exec(conn, "CREATE SERVER files FOREIGN DATA WRAPPER file_fdw");
		db_exec(conn, "CREATE FOREIGN TABLE ext_data (a int, b text) SERVER files "
			      "OPTIONS (filename '/dev/null')");
	}
}

static void check_optional(PGconn *conn, const struct snapshot *s, bool ext, bool fdw)
{
	char *f;

	if (ext)
		ok(!has_name(s, "pg_stat_statements") && !has_name(s, "pg_stat_statements_info"),
		   "extension-owned views are left out");
	else
		ok(1, "extension-owned views are left out # SKIP pg_stat_statements not installed");
	if (!fdw) {
		ok(1, "foreign table # SKIP file_fdw not installed");
		return;
	}
	f = key_rel(conn, "public.ext_data");
	is_str(attr(s, f, "foreign"), "true", "foreign table flagged");
	is_str(attr(s, f, "foreign_server"), "files", "foreign_server");
	free(f);
}

static void check_bad_conninfo(void)
{
	char err[DRIVER_ERRLEN];
	int r = crawl("host=localhost password=Sw0rdfish-Secret =oops", 5, NULL, err);

	is_int(r, DRIVER_E_CONFIG, "malformed conninfo is a config error");
	ok(!strstr(err, "Sw0rdfish"), "config error does not quote the password: %s", err);
	r = crawl("host=localhost bogus_option=1 password=Sw0rdfish-Secret", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "unknown conninfo option is a config error");
	ok(!strstr(err, "Sw0rdfish"), "config error does not quote the password");
	r = crawl("host=localhost password=Sw0rdfish-Secret", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "a password in conninfo is refused: %s", err);
	ok(!strstr(err, "Sw0rdfish") && strstr(err, "secrets file"), "the message says where it belongs, not what it is");
	r = crawl("postgresql://u:Sw0rdfish-Secret@localhost/x", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "a password in a URI is refused: %s", err);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/*
 * libpq's password file, used when the secrets file gives no password: readable by others it is
 * refused at open (libpq would ignore it, saying so on stderr only), private it works; a passfile=
 * that does not exist is refused; so is PGPASSWORD; with no password anywhere the message says where
 * one goes.
 */
static void check_passfile(const char *host, const char *port)
{
	char pass[] = "/tmp/test-driver-pg-pass.XXXXXX", err[DRIVER_ERRLEN], *ci, *line, *named;
	char *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	int fd = mkstemp(pass), r;

	close(fd);
	line = xasprintf("%s:%s:*:prospector_test_pw:Right-Horse-Battery\n", host, port);
	write_file(pass, line, 0644);
	setenv("PGPASSFILE", pass, 1);
	ci = xasprintf("host=%s port=%s dbname=%s user=prospector_test_pw connect_timeout=5", host, port, dbname);
	r = crawl(ci, 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "PGPASSFILE readable by others is refused: %s", err);
	ok(strstr(err, pass) && strstr(err, "mode 0644: readable by others; chmod 600 it"),
	   "the message names it and its mode");
	r = crawl_pw(ci, "Right-Horse-Battery", 5, NULL, err);
	is_int(r, 0, "with a password from the secrets file, libpq's password file is not looked at: %s", err);
	chmod(pass, 0600);
	r = crawl(ci, 5, NULL, err);
	is_int(r, 0, "PGPASSFILE at 0600 gives the password: %s", err);
	unlink(pass);
	r = crawl(ci, 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "a PGPASSFILE that does not exist is refused: %s", err);
	unsetenv("PGPASSFILE");
	named = xasprintf("%s passfile=/nonexistent/pgpass", ci);
	r = crawl(named, 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "a passfile= that does not exist is refused: %s", err);
	setenv("HOME", "/nonexistent", 1);
	setenv("PGPASSWORD", "Right-Horse-Battery", 1);
	r = crawl(ci, 5, NULL, err);
	ok(r == DRIVER_E_CONFIG && strstr(err, "PGPASSWORD is set") && !strstr(err, "Right-Horse"),
	   "PGPASSWORD is refused, not used: %s", err);
	r = crawl_pw(ci, "Right-Horse-Battery", 5, NULL, err);
	is_int(r, 0, "unless the secrets file gives the password: %s", err);
	unsetenv("PGPASSWORD");
	r = crawl(ci, 5, NULL, err);
	is_int(r, DRIVER_E_AUTH, "no password anywhere is DRIVER_E_AUTH: %s", err);
	ok(strstr(err, "no password") && strstr(err, "secrets file"), "the message says where a password goes");
	if (home)
		setenv("HOME", home, 1);
	free(home);
	free(named);
	free(line);
	free(ci);
}

static void check_wrong_password(PGconn *conn)
{
	const char *port = getenv("PROSPECTOR_TEST_PG_PORT"), *host = getenv("PROSPECTOR_TEST_PG_HOST");
	char err[DRIVER_ERRLEN], *ci;
	int r;

	if (!port) {
		ok(1, "wrong password # SKIP PROSPECTOR_TEST_PG_PORT not set");
		return;
	}
	db_exec(conn, "DROP ROLE IF EXISTS prospector_test_pw");
	db_exec(conn, "CREATE ROLE prospector_test_pw LOGIN PASSWORD 'Right-Horse-Battery'");
	if (!host)
		host = "127.0.0.1";
	ci = xasprintf("host=%s port=%s dbname=%s user=prospector_test_pw connect_timeout=5", host, port, dbname);
	r = crawl_pw(ci, "Wr0ng-Staple-Secret", 5, NULL, err);
	if (r == 0) {
		ok(1, "wrong password # SKIP the server trusts TCP logins");
	} else {
		is_int(r, DRIVER_E_AUTH, "wrong password is DRIVER_E_AUTH: %s", err);
		ok(!strstr(err, "Wr0ng-Staple-Secret"), "the password is not in the message");
	}
	r = crawl_pw(ci, "Right-Horse-Battery", 5, NULL, err);
	is_int(r, 0, "the right password, from the secrets file, crawls over TCP: %s", err);
	free(ci);
	if (r == 0)
		check_passfile(host, port);
	db_exec(conn, "DROP ROLE prospector_test_pw");
}

/* A listening socket nobody answers on: the connect succeeds, the startup reply never comes. */
static int silent_listener(int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static void check_unreachable(void)
{
	char err[DRIVER_ERRLEN], *ci;
	int port = 0, fd, r;

	r = crawl("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=5", 5, NULL, err);
	is_int(r, DRIVER_E_CONNECT, "refused connection is DRIVER_E_CONNECT: %s", err);
	fd = silent_listener(&port);
	if (!ok(fd >= 0, "silent listener"))
		return;
	ci = xasprintf("host=127.0.0.1 port=%d dbname=x user=x connect_timeout=1", port);
	r = crawl(ci, 5, NULL, err);
	is_int(r, DRIVER_E_CONNECT, "a server that never answers times out as DRIVER_E_CONNECT: %s", err);
	free(ci);
	close(fd);
}

/* Roles without CONNECT, and with CONNECT but without a catalog table, fail cleanly. */
static void check_privileges(PGconn *conn)
{
	char err[DRIVER_ERRLEN], *sql, *ci;
	int r;

	db_exec(conn, "DROP ROLE IF EXISTS prospector_test_noconn");
	db_exec(conn, "CREATE ROLE prospector_test_noconn LOGIN PASSWORD 'No-Conn-Pass-1'");
	sql = xasprintf("REVOKE CONNECT ON DATABASE %s FROM PUBLIC", dbname);
	db_exec(conn, sql);
	free(sql);
	ci = conninfo_for("user=prospector_test_noconn");
	r = crawl(ci, 5, NULL, err);
	is_int(r, DRIVER_E_PRIVILEGE, "no CONNECT privilege is DRIVER_E_PRIVILEGE: %s", err);
	sql = xasprintf("GRANT CONNECT ON DATABASE %s TO prospector_test_noconn", dbname);
	db_exec(conn, sql);
	free(sql);
	r = crawl(ci, 5, NULL, err);
	is_int(r, 0, "an unprivileged role with CONNECT can crawl: %s", err);
	db_exec(conn, "REVOKE SELECT ON pg_catalog.pg_attrdef FROM PUBLIC");
	r = crawl(ci, 5, NULL, err);
	is_int(r, DRIVER_E_PRIVILEGE, "no access to a catalog table is DRIVER_E_PRIVILEGE: %s", err);
	ok(strstr(err, "permission denied") != NULL, "message says why");
	db_exec(conn, "GRANT SELECT ON pg_catalog.pg_attrdef TO PUBLIC");
	free(ci);
	sql = xasprintf("REVOKE ALL ON DATABASE %s FROM prospector_test_noconn", dbname);
	db_exec(conn, sql);
	free(sql);
	db_exec(conn, "DROP ROLE prospector_test_noconn");
}

/*
 * The columns are read on a second connection that imports the first one's snapshot. A role that may
 * hold one connection at a time crawls on one, and one connection or two, the snapshot is the same;
 * so it is when the conninfo has startup options of its own, which the second connection keeps.
 */
static void check_connections(PGconn *conn)
{
	char err[DRIVER_ERRLEN], *grant = xasprintf("GRANT CONNECT ON DATABASE %s TO prospector_test_one", dbname);
	char *revoke = xasprintf("REVOKE ALL ON DATABASE %s FROM prospector_test_one", dbname);
	char *ci = conninfo_for("user=prospector_test_one");
	char *ci_opts = conninfo_for("user=prospector_test_one options='-c geqo=off -c work_mem=8MB'");
	struct snapshot *two = NULL, *one = NULL, *opts = NULL;
	int r;

	db_exec(conn, "DROP ROLE IF EXISTS prospector_test_one");
	db_exec(conn, "CREATE ROLE prospector_test_one LOGIN");
	db_exec(conn, grant);
	r = crawl(ci, 5, &two, err);
	is_int(r, 0, "a role without a connection limit crawls: %s", err);
	r = crawl(ci_opts, 5, &opts, err);
	is_int(r, 0, "a conninfo with options of its own crawls: %s", err);
	db_exec(conn, "ALTER ROLE prospector_test_one CONNECTION LIMIT 1");
	r = crawl(ci, 5, &one, err);
	is_int(r, 0, "a role limited to one connection crawls on one: %s", err);
	if (ok(one && two && opts, "three snapshots to compare")) {
		ok(two->nobjs > 20, "the crawl found the fixture (%zu objects)", two->nobjs);
		is_int(one->nobjs, two->nobjs, "one connection or two: as many objects");
		ok(memcmp(one->root, two->root, sizeof(one->root)) == 0, "one connection or two: the same root hash");
		ok(memcmp(opts->root, two->root, sizeof(opts->root)) == 0, "the conninfo's options: the same root hash");
	}
	snapshot_free(one);
	snapshot_free(two);
	snapshot_free(opts);
	db_exec(conn, revoke);
	db_exec(conn, "DROP ROLE prospector_test_one");
	free(grant);
	free(revoke);
	free(ci);
	free(ci_opts);
}

/* A table locked by someone else: the crawl gives up after its timeout, it does not hang. */
static void check_lock_timeout(const char *ci)
{
	char err[DRIVER_ERRLEN];
	PGconn *locker = db_connect(ci);
	int r;

	db_exec(locker, "BEGIN");
	db_exec(locker, "LOCK TABLE \"Sales Dept\".orders IN ACCESS EXCLUSIVE MODE");
	r = crawl(ci, 1, NULL, err);
	is_int(r, DRIVER_E_QUERY, "a lock held elsewhere ends the crawl as DRIVER_E_QUERY: %s", err);
	ok(strstr(err, "timeout") != NULL, "the message names the timeout");
	db_exec(locker, "ROLLBACK");
	PQfinish(locker);
}

static void check_rename(PGconn *conn, const struct snapshot *before)
{
	char *k = key_att(conn, "\"Sales Dept\".customers", "name");
	char *t = key_rel(conn, "\"Sales Dept\".customers");
	char err[DRIVER_ERRLEN], *ci = conninfo_for("");
	struct snapshot *after = NULL;
	int r;

	db_exec(conn, "ALTER TABLE \"Sales Dept\".customers RENAME COLUMN name TO full_name");
	r = crawl(ci, 5, &after, err);
	if (!ok(r == 0, "crawl after rename: %s", err))
		goto out;
	is_str(snapshot_find(after, k) ? snapshot_find(after, k)->name : NULL, "full_name",
	       "renamed column keeps its key");
	is_str(attr(after, k, "type"), attr(before, k, "type"), "renamed column keeps its type");
	is_int(after->nobjs, before->nobjs, "same number of objects after the rename");
	is_str(snapshot_find(after, t) ? driver_test_path(snapshot_find(after, t)) : NULL,
	       driver_test_path(snapshot_find(before, t)), "table path unchanged");
out:
	snapshot_free(after);
	free(ci);
	free(k);
	free(t);
}

/* A SQL_ASCII database passes bytes through unconverted; the snapshot must still be UTF-8. */
static void check_sql_ascii(PGconn *admin)
{
	char err[DRIVER_ERRLEN], *sql, *ci, name[80];
	struct snapshot *s = NULL;
	PGconn *conn;
	int r;

	snprintf(name, sizeof(name), "%s_ascii", dbname);
	sql = xasprintf("CREATE DATABASE %s ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
			"TEMPLATE template0", name);
	db_exec(admin, sql);
	free(sql);
	ci = xasprintf("%s dbname=%s", base, name);
	conn = db_connect(ci);
	db_exec(conn, "CREATE TABLE \"bad\xff\xfename\" (x int)");
	PQfinish(conn);
	r = crawl(ci, 5, &s, err);
	if (ok(r == 0, "crawl of a SQL_ASCII database: %s", err)) {
		bool valid = true;

		for (size_t i = 0; i < s->nobjs; i++)
			valid = valid && utf8_valid(s->objs[i]->name) && utf8_valid(driver_test_path(s->objs[i]));
		ok(valid, "all names are UTF-8");
		ok(has_name(s, "bad??name"), "invalid bytes are replaced");
	}
	snapshot_free(s);
	free(ci);
	sql = xasprintf("DROP DATABASE %s", name);
	db_exec(admin, sql);
	free(sql);
}

/* PROSPECTOR_TEST_DUMP=1 prints the crawled snapshot as TAP comments, for debugging. */
static void dump(const struct snapshot *s)
{
	if (!getenv("PROSPECTOR_TEST_DUMP"))
		return;
	for (size_t i = 0; i < s->nobjs; i++) {
		const struct obj *o = s->objs[i];

		printf("# %s %s %s\n", model_kind(o->kind)->name, o->key, driver_test_path(o));
		for (size_t j = 0; j < o->nattrs; j++)
			printf("#   %s = %s\n", obj_attr(o, j).name, obj_attr(o, j).value);
		for (size_t j = 0; j < o->nobs; j++)
			printf("#   obs %s = %s\n", obj_ob(o, j).name, obj_ob(o, j).value);
	}
}

static void run(PGconn *admin)
{
	char err[DRIVER_ERRLEN], *ci = conninfo_for(""), *sql;
	struct snapshot *s = NULL;
	bool ext, fdw;
	PGconn *conn;
	int r;

	conn = db_connect(ci);
	for (size_t i = 0; i < sizeof(schema_sql) / sizeof(schema_sql[0]); i++)
		db_exec(conn, schema_sql[i]);
	sql = xasprintf("COMMENT ON DATABASE %s IS '测试库'", dbname);
	db_exec(conn, sql);
	free(sql);
	setup_optional(conn, &ext, &fdw);
	/* Expected deparsed text must be produced under the driver's own settings. */
	db_exec(conn, "SET search_path = pg_catalog");
	r = crawl(ci, 10, &s, err);
	if (!ok(r == 0, "crawl: %s", err))
		bail("crawl failed", NULL);
	dump(s);
	check_database(conn, s);
	check_customers(conn, s);
	check_constraints(conn, s);
	check_indexes(conn, s);
	check_views(conn, s);
	check_sequences(conn, s);
	check_public(conn, s);
	check_partition_constraints(conn, s);
	check_optional(conn, s, ext, fdw);
	check_bad_conninfo();
	check_wrong_password(conn);
	check_unreachable();
	check_privileges(conn);
	check_connections(conn);
	check_lock_timeout(ci);
	check_rename(conn, s);
	check_sql_ascii(admin);
	snapshot_free(s);
	PQfinish(conn);
	free(ci);
}

int main(void)
{
	PGconn *admin;
	char *sql;

	base = getenv("PROSPECTOR_TEST_PG");
	if (!base || !*base)
		skip_all("PROSPECTOR_TEST_PG is not set");
	admin = db_connect(base);
	snprintf(dbname, sizeof(dbname), "prospector_test_driver_%ld", (long)getpid());
	sql = xasprintf("DROP DATABASE IF EXISTS %s", dbname);
	db_exec(admin, sql);
	free(sql);
	sql = xasprintf("CREATE DATABASE %s ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
			dbname);
	db_exec(admin, sql);
	free(sql);
	run(admin);
	sql = xasprintf("DROP DATABASE %s", dbname);
	if (!db_execf_ok(admin, sql))
		printf("# could not drop %s: %s", dbname, PQerrorMessage(admin));
	free(sql);
	PQfinish(admin);
	return done_testing();
}
