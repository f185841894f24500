/*
 * The MySQL/MariaDB driver against a live server: fresh databases holding every kind of object
 * and every type family, crawled and checked attribute by attribute; a GBK database written by a
 * GBK client and a latin1 table whose Chinese and accented text must arrive as exact UTF-8; the
 * failure classes (bad conninfo, wrong password, nothing listening, a server that never answers,
 * no privilege on the default database); a user who sees a schema only through table and column
 * grants (partial) and a database it has no privilege on (absent); the number of statements
 * per crawl, read from the general log, the same for 3 and for 30 tables; and the proof that the
 * catalog did not move during a crawl (driver_ops.quiet): given at rest, refused while another
 * session runs DDL and when a table was altered in the second the crawl began.
 *
 * Needs PROSPECTOR_TEST_MYSQL (a conninfo of the driver for an administrator, set by
 * tests/lib/mariadb.sh) and, for the test's own connections, PROSPECTOR_TEST_MYSQL_SOCKET or
 * _HOST/_PORT, _USER and _PASSWORD.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <mysql.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "driver.h"
#include "snapshot.h"
#include "driver-test.h"
#include "tap.h"
#include "utf8.h"
#include "xmalloc.h"

#define SEP MODEL_REF_SEP_STR
/* 64 characters, MySQL's longest identifier. */
#define LONG_NAME "A_Very_Long_Mixed_Case_Name_That_Fills_All_Sixty_Four_Characters"

static const char *base;
static char shop[64], gbk[64], part[64], hidden[64], wild[64], roled[64], counted[64], churn[64];
static char user_p[64], user_c[64], role[64];

/* The main schema (database "shop"). */
static const char *const shop_sql[] = {
	"CREATE TABLE customers ("
	" id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" email varchar(100) NOT NULL UNIQUE COMMENT '电子邮件',"
	" name varchar(50) NOT NULL DEFAULT 'anon',"
	" balance decimal(10,2) NOT NULL DEFAULT 0.00,"
	" created datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
	" updated timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,"
	" tiny tinyint, small smallint, medium mediumint, big bigint unsigned, flag tinyint(1),"
	" ratio float, amount double, yr year, born date, at time(2), plain_time time,"
	" kind enum('a','b') DEFAULT 'a', tags set('x','y'), doc json, bits bit(8),"
	" note text, long_note mediumtext, raw blob, fixed char(3), bin binary(4), vbin varbinary(16),"
	" pt point, uid uuid, addr inet6,"
	" code varchar(10) CHARACTER SET latin1 COLLATE latin1_bin,"
	" exact varchar(10) COLLATE utf8mb4_bin,"
	" full_name varchar(200) AS (concat(name, ' <', email, '>')) VIRTUAL,"
	" name_len int AS (char_length(name)) STORED,"
	" CONSTRAINT balance_positive CHECK (balance >= 0),"
	" KEY name_prefix (name(10)),"
	" KEY name_created (name, created),"
	" UNIQUE KEY name_born (name, born),"
	" KEY big_idx (big) COMMENT '大数索引'"
	") ENGINE=InnoDB COMMENT '客户表'",
	"CREATE TABLE orders ("
	" id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" customer_id int unsigned,"
	" placed date,"
	" CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)"
	"  ON DELETE CASCADE ON UPDATE SET NULL)",
	"CREATE TABLE order_lines (order_id bigint NOT NULL, line int NOT NULL, qty int DEFAULT 1,"
	" PRIMARY KEY (order_id, line),"
	" CONSTRAINT lines_order_fk FOREIGN KEY (order_id) REFERENCES orders (id))",
	"CREATE TABLE line_refs (a bigint, b int,"
	" CONSTRAINT line_refs_fk FOREIGN KEY (a, b) REFERENCES order_lines (order_id, line))",
	"CREATE VIEW big_customers AS SELECT id, email FROM customers WHERE balance > 100",
	"CREATE TABLE contacts (email varchar(100) UNIQUE CHECK (email LIKE '%@%'))",
	"CREATE TABLE `Order Items` (`Quoted \"Col\"` int, `it's` varchar(5), `MixedCase` int)",
	"CREATE TABLE `path/to\\x` (v int)",
	"CREATE TABLE `用户表` (`姓名` varchar(20) NOT NULL COMMENT '姓名列', `备注` text) COMMENT '人员信息'",
	"CREATE TABLE `" LONG_NAME "` (`" LONG_NAME "` int) ENGINE=MyISAM",
	"CREATE SEQUENCE ticket_seq",
	"INSERT INTO customers (email, name) VALUES ('a@x', 'a'), ('b@x', 'b'), ('c@x', 'c')",
	"ANALYZE TABLE customers",
};

/* The GBK database, written by a client that speaks GBK: CREATE TABLE `用户表` (`编号` int
 * PRIMARY KEY, `姓名` varchar(20) NOT NULL COMMENT '姓名列', `性别` enum('男','女') DEFAULT '男',
 * `地址` varchar(50) CHARACTER SET gb2312 COMMENT '地址列') COMMENT '人员信息表', in GBK bytes. */
static const char gbk_table_sql[] =
	"CREATE TABLE `\xd3\xc3\xbb\xa7\xb1\xed` (`\xb1\xe0\xba\xc5` int PRIMARY KEY, "
	"`\xd0\xd5\xc3\xfb` varchar(20) NOT NULL COMMENT '\xd0\xd5\xc3\xfb\xc1\xd0', "
	"`\xd0\xd4\xb1\xf0` enum('\xc4\xd0','\xc5\xae') DEFAULT '\xc4\xd0', "
	"`\xb5\xd8\xd6\xb7` varchar(50) CHARACTER SET gb2312 COMMENT '\xb5\xd8\xd6\xb7\xc1\xd0') "
	"COMMENT '\xc8\xcb\xd4\xb1\xd0\xc5\xcf\xa2\xb1\xed'";

/* The same names in UTF-8, byte by byte. */
#define U8_USERS "\xe7\x94\xa8\xe6\x88\xb7\xe8\xa1\xa8"                   /* 用户表 */
#define U8_NUMBER "\xe7\xbc\x96\xe5\x8f\xb7"                              /* 编号 */
#define U8_NAME "\xe5\xa7\x93\xe5\x90\x8d"                                /* 姓名 */
#define U8_NAME_COL "\xe5\xa7\x93\xe5\x90\x8d\xe5\x88\x97"                /* 姓名列 */
#define U8_SEX "\xe6\x80\xa7\xe5\x88\xab"                                 /* 性别 */
#define U8_MALE "\xe7\x94\xb7"                                            /* 男 */
#define U8_FEMALE "\xe5\xa5\xb3"                                          /* 女 */
#define U8_ADDR "\xe5\x9c\xb0\xe5\x9d\x80"                                /* 地址 */
#define U8_ADDR_COL "\xe5\x9c\xb0\xe5\x9d\x80\xe5\x88\x97"                /* 地址列 */
#define U8_PEOPLE "\xe4\xba\xba\xe5\x91\x98\xe4\xbf\xa1\xe6\x81\xaf\xe8\xa1\xa8" /* 人员信息表 */

/* A latin1 table written by a latin1 client: 'café' and 'Prüfung' in latin1 bytes. */
static const char latin1_table_sql[] =
	"CREATE TABLE latin (name varchar(10) DEFAULT 'caf\xe9', note text COMMENT 'Pr\xfc" "fung') "
	"CHARACTER SET latin1 COMMENT 'Tabelle f\xfcr Caf\xe9'";

static _Noreturn void bail(const char *what, MYSQL *conn)
{
	printf("Bail out! %s: %s\n", what, conn ? mysql_error(conn) : "");
	exit(1);
}

static MYSQL *db_connect(const char *database)
{
	const char *sock = getenv("PROSPECTOR_TEST_MYSQL_SOCKET"), *host = getenv("PROSPECTOR_TEST_MYSQL_HOST");
	const char *port = getenv("PROSPECTOR_TEST_MYSQL_PORT"), *user = getenv("PROSPECTOR_TEST_MYSQL_USER");
	MYSQL *conn = mysql_init(NULL);

	mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (!mysql_real_connect(conn, sock ? NULL : host, user ? user : "root",
				driver_test_password("PROSPECTOR_TEST_MYSQL_PASSWORD_FILE"), database, port && !sock ? atoi(port) : 0,
				sock, 0))
		bail("connect", conn);
	return conn;
}

static void db_exec(MYSQL *conn, const char *sql)
{
	MYSQL_RES *res;

	if (mysql_query(conn, sql) != 0) {
		printf("# %s\n", sql);
		bail("statement failed", conn);
	}
	res = mysql_store_result(conn);
	mysql_free_result(res);
}

static void db_execf(MYSQL *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void db_execf(MYSQL *conn, const char *fmt, ...)
{
	va_list ap;
	char sql[1024];

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	db_exec(conn, sql);
}

/* The first value of a query; NULL when there is no row or it is NULL. */
static char *db_value(MYSQL *conn, const char *sql)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	char *v = NULL;

	if (mysql_query(conn, sql) != 0 || !(res = mysql_store_result(conn))) {
		printf("# %s\n", sql);
		bail("query failed", conn);
	}
	if ((row = mysql_fetch_row(res)) && row[0])
		v = xstrdup(row[0]);
	mysql_free_result(res);
	return v;
}

/* A key the way the model spells it: prefix + names joined by '/', '\' and '/' escaped. */
static const char *key(const char *prefix, const char *a, const char *b, const char *c)
{
	static char ring[64][512];
	static unsigned next;
	const char *names[] = { a, b, c };
	char *k = ring[next++ % 64], *p = k + strlen(strcpy(k, prefix));

	for (size_t i = 0; i < 3 && names[i]; i++) {
		if (i)
			*p++ = '/';
		for (const char *s = names[i]; *s; s++) {
			if (*s == '/' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
	}
	*p = '\0';
	return k;
}

static const char *attr(const struct snapshot *s, const char *k, const char *name)
{
	const struct obj *o = snapshot_find(s, k);

	return o ? obj_get(o, name) : "<no such object>";
}

static const char *obs(const struct snapshot *s, const char *k, const char *name)
{
	const struct obj *o = snapshot_find(s, k);

	return o ? obj_get_obs(o, name) : "<no such object>";
}

/* The expected path of an object, "t/def/<rest>"; valid until the eighth call after. */
static const char *path(const char *rest)
{
	static char ring[8][512];
	static unsigned next;
	char *p = ring[next++ % 8];

	snprintf(p, sizeof(ring[0]), "t/def%s%s", *rest ? "/" : "", rest);
	return p;
}

static const char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *pathf(const char *fmt, ...)
{
	char rest[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	return path(rest);
}

static void is_obj(const struct snapshot *s, const char *k, enum obj_kind kind, const char *parent,
		   const char *p)
{
	const struct obj *o = snapshot_find(s, k);
	const char *label = p ? p : "?";

	if (!ok(o, "object %s exists", k))
		return;
	is_str(model_kind(o->kind)->name, model_kind(kind)->name, "%s: kind", label);
	is_str(o->parent, parent, "%s: parent", label);
	is_str(driver_test_path(o), p, "%s: path", label);
}

static bool has_schema(const struct snapshot *s, const char *name)
{
	return snapshot_find(s, key("n:", name, NULL, NULL)) != NULL;
}

static size_t children(const struct snapshot *s, const char *parent, enum obj_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nobjs; i++)
		n += s->objs[i]->kind == kind && s->objs[i]->parent && strcmp(s->objs[i]->parent, parent) == 0;
	return n;
}

static const char *partial_reason(const struct snapshot *s, const char *k)
{
	for (size_t i = 0; i < s->npartial; i++)
		if (strcmp(s->partial[i].key, k) == 0)
			return s->partial[i].reason;
	return NULL;
}

/* PROSPECTOR_TEST_DUMP=1 prints the crawled objects of the test's databases as TAP comments. */
static void dump(const struct snapshot *s)
{
	if (!getenv("PROSPECTOR_TEST_DUMP"))
		return;
	for (size_t i = 0; i < s->nobjs; i++) {
		const struct obj *o = s->objs[i];

		if (!strstr(o->key, shop) && !strstr(o->key, gbk) && strcmp(o->key, "d") != 0)
			continue;
		printf("# %s %s %s\n", model_kind(o->kind)->name, o->key, driver_test_path(o));
		for (size_t j = 0; j < o->nattrs; j++)
			printf("#   %s = %s\n", obj_attr(o, j).name, obj_attr(o, j).value);
		for (size_t j = 0; j < o->nobs; j++)
			printf("#   obs %s = %s\n", obj_ob(o, j).name, obj_ob(o, j).value);
	}
}

/* One open + crawl + finish with the driver found in the registry; password as the secrets file
 * gives it (NULL: none). */
static int crawl_pw(const char *conninfo, const char *password, unsigned timeout, struct snapshot **ret_snap,
		    char *err)
{
	struct source_conf conf = { .name = "t", .driver = "mysql", .conninfo = (char *)conninfo,
				    .password = (char *)password, .timeout = timeout };

	return driver_test_crawl(&conf, ret_snap, err);
}

static int crawl(const char *conninfo, unsigned timeout, struct snapshot **ret_snap, char *err)
{
	return crawl_pw(conninfo, NULL, timeout, ret_snap, err);
}

static void check_database(MYSQL *conn, const struct snapshot *s)
{
	char *version = db_value(conn, "SELECT VERSION()");
	const char *n = key("n:", shop, NULL, NULL);

	is_obj(s, "d", OBJ_DATABASE, NULL, path(""));
	is_str(snapshot_find(s, "d") ? snapshot_find(s, "d")->name : NULL, "def", "the database is def");
	is_str(attr(s, "d", "dbms"), "MariaDB", "dbms");
	is_str(attr(s, "d", "dbms_version"), version, "dbms_version is VERSION()");
	is_str(attr(s, "d", "unsupported"), "sequences,view_dependencies",
	       "unsupported: MariaDB has no VIEW_TABLE_USAGE and no view of sequences");
	is_obj(s, n, OBJ_SCHEMA, "d", path(shop));
	is_str(attr(s, n, "charset"), "utf8mb4", "schema charset");
	is_str(attr(s, n, "collation"), "utf8mb4_general_ci", "schema collation");
	is_str(attr(s, n, "comment"), "商店", "schema comment (MariaDB 10.5+)");
	ok(!has_schema(s, "mysql") && !has_schema(s, "information_schema") &&
	   !has_schema(s, "performance_schema") && !has_schema(s, "sys"), "no system schemas");
	is_int(s->npartial, 0, "an administrator sees everything: nothing partial");
	free(version);
}

/* Expected column attributes. */
static const struct col_want {
	const char *name, *ordinal, *type, *family, *length, *precision, *scale, *is_unsigned, *nullable,
		*def;
} customer_cols[] = {
	{ "id", "1", "int(10) unsigned", "integer", NULL, "32", NULL, "true", NULL, NULL },
	{ "email", "2", "varchar(100)", "string", "100", NULL, NULL, NULL, NULL, NULL },
	{ "name", "3", "varchar(50)", "string", "50", NULL, NULL, NULL, NULL, "'anon'" },
	{ "balance", "4", "decimal(10,2)", "decimal", NULL, "10", "2", NULL, NULL, "0.00" },
	{ "created", "5", "datetime(3)", "timestamp", NULL, "3", NULL, NULL, NULL, "current_timestamp(3)" },
	{ "updated", "6", "timestamp", "timestamptz", NULL, NULL, NULL, NULL, NULL, "current_timestamp()" },
	{ "tiny", "7", "tinyint(4)", "integer", NULL, "8", NULL, NULL, "true", NULL },
	{ "small", "8", "smallint(6)", "integer", NULL, "16", NULL, NULL, "true", NULL },
	{ "medium", "9", "mediumint(9)", "integer", NULL, "24", NULL, NULL, "true", NULL },
	{ "big", "10", "bigint(20) unsigned", "integer", NULL, "64", NULL, "true", "true", NULL },
	{ "flag", "11", "tinyint(1)", "integer", NULL, "8", NULL, NULL, "true", NULL },
	{ "ratio", "12", "float", "float", NULL, "24", NULL, NULL, "true", NULL },
	{ "amount", "13", "double", "float", NULL, "53", NULL, NULL, "true", NULL },
	{ "yr", "14", "year(4)", "integer", NULL, "16", NULL, NULL, "true", NULL },
	{ "born", "15", "date", "date", NULL, NULL, NULL, NULL, "true", NULL },
	{ "at", "16", "time(2)", "time", NULL, "2", NULL, NULL, "true", NULL },
	{ "plain_time", "17", "time", "time", NULL, NULL, NULL, NULL, "true", NULL },
	{ "kind", "18", "enum('a','b')", "enum", NULL, NULL, NULL, NULL, "true", "'a'" },
	{ "tags", "19", "set('x','y')", "enum", NULL, NULL, NULL, NULL, "true", NULL },
	{ "doc", "20", "longtext", "json", NULL, NULL, NULL, NULL, "true", NULL },
	{ "bits", "21", "bit(8)", "bit", "8", NULL, NULL, NULL, "true", NULL },
	{ "note", "22", "text", "string", NULL, NULL, NULL, NULL, "true", NULL },
	{ "long_note", "23", "mediumtext", "string", NULL, NULL, NULL, NULL, "true", NULL },
	{ "raw", "24", "blob", "binary", NULL, NULL, NULL, NULL, "true", NULL },
	{ "fixed", "25", "char(3)", "char", "3", NULL, NULL, NULL, "true", NULL },
	{ "bin", "26", "binary(4)", "binary", "4", NULL, NULL, NULL, "true", NULL },
	{ "vbin", "27", "varbinary(16)", "binary", "16", NULL, NULL, NULL, "true", NULL },
	{ "pt", "28", "point", "geometry", NULL, NULL, NULL, NULL, "true", NULL },
	{ "uid", "29", "uuid", "uuid", NULL, NULL, NULL, NULL, "true", NULL },
	{ "addr", "30", "inet6", "network", NULL, NULL, NULL, NULL, "true", NULL },
	{ "code", "31", "varchar(10)", "string", "10", NULL, NULL, NULL, "true", NULL },
	{ "exact", "32", "varchar(10)", "string", "10", NULL, NULL, NULL, "true", NULL },
	{ "full_name", "33", "varchar(200)", "string", "200", NULL, NULL, NULL, "true", NULL },
	{ "name_len", "34", "int(11)", "integer", NULL, "32", NULL, NULL, "true", NULL },
};

static void check_customer_columns(const struct snapshot *s)
{
	char t[512];

	snprintf(t, sizeof(t), "%s", key("r:", shop, "customers", NULL));

	for (size_t i = 0; i < sizeof(customer_cols) / sizeof(customer_cols[0]); i++) {
		const struct col_want *w = &customer_cols[i];
		const char *k = key("a:", shop, "customers", w->name);

		is_obj(s, k, OBJ_COLUMN, t, pathf("%s/customers.%s", shop, w->name));
		is_str(attr(s, k, "ordinal"), w->ordinal, "%s: ordinal", w->name);
		is_str(attr(s, k, "type"), w->type, "%s: type", w->name);
		is_str(attr(s, k, "family"), w->family, "%s: family", w->name);
		is_str(attr(s, k, "length"), w->length, "%s: length", w->name);
		is_str(attr(s, k, "precision"), w->precision, "%s: precision", w->name);
		is_str(attr(s, k, "scale"), w->scale, "%s: scale", w->name);
		is_str(attr(s, k, "unsigned"), w->is_unsigned, "%s: unsigned", w->name);
		is_str(attr(s, k, "nullable"), w->nullable, "%s: nullable", w->name);
		is_str(attr(s, k, "default"), w->def, "%s: default", w->name);
	}
	is_int(children(s, t, OBJ_COLUMN), sizeof(customer_cols) / sizeof(customer_cols[0]),
	       "customers has exactly its columns");
}

static void check_customers(const struct snapshot *s)
{
	const char *t = key("r:", shop, "customers", NULL);

	is_obj(s, t, OBJ_TABLE, key("n:", shop, NULL, NULL), pathf("%s/customers", shop));
	is_str(attr(s, t, "comment"), "客户表", "table comment");
	is_str(attr(s, t, "engine"), "InnoDB", "engine");
	is_str(attr(s, t, "collation"), "utf8mb4_general_ci", "table collation");
	is_str(attr(s, t, "charset"), "utf8mb4", "table charset, from the collation");
	ok(obs(s, t, "rows") != NULL, "rows observed");
	ok(obs(s, t, "bytes") && atol(obs(s, t, "bytes")) > 0, "bytes observed");
	ok(!attr(s, t, "auto_increment") && !attr(s, t, "rows"), "no counters or statistics among the attributes");
	check_customer_columns(s);
	is_str(attr(s, key("a:", shop, "customers", "id"), "auto_increment"), "true", "id: auto_increment");
	is_str(attr(s, key("a:", shop, "customers", "email"), "comment"), "电子邮件", "email: Chinese comment");
	is_str(attr(s, key("a:", shop, "customers", "updated"), "on_update"), "current_timestamp()",
	       "updated: ON UPDATE CURRENT_TIMESTAMP");
	is_str(attr(s, key("a:", shop, "customers", "created"), "on_update"), NULL, "created: no on_update");
	is_str(attr(s, key("a:", shop, "customers", "full_name"), "generated"), "concat(`name`,' <',`email`,'>')",
	       "full_name: VIRTUAL generated expression");
	is_str(attr(s, key("a:", shop, "customers", "name_len"), "generated"), "char_length(`name`)",
	       "name_len: STORED generated expression");
	is_str(attr(s, key("a:", shop, "customers", "code"), "charset"), "latin1", "code: charset differs");
	is_str(attr(s, key("a:", shop, "customers", "code"), "collation"), "latin1_bin", "code: collation differs");
	is_str(attr(s, key("a:", shop, "customers", "exact"), "charset"), NULL, "exact: same charset as the table");
	is_str(attr(s, key("a:", shop, "customers", "exact"), "collation"), "utf8mb4_bin", "exact: collation differs");
	is_str(attr(s, key("a:", shop, "customers", "name"), "collation"), NULL, "name: table collation, not repeated");
	is_str(attr(s, key("a:", shop, "customers", "name"), "charset"), NULL, "name: table charset, not repeated");
}

static void check_keys(const struct snapshot *s)
{
	const char *t = key("r:", shop, "customers", NULL), *k;
	char want[512];

	k = key("c:", shop, "customers", "PRIMARY");
	is_obj(s, k, OBJ_PRIMARY_KEY, t, pathf("%s/customers#PRIMARY", shop));
	is_str(attr(s, k, "columns"), key("a:", shop, "customers", "id"), "primary key columns");
	k = key("c:", shop, "customers", "email");
	is_obj(s, k, OBJ_UNIQUE, t, pathf("%s/customers#email", shop));
	is_str(attr(s, k, "columns"), key("a:", shop, "customers", "email"), "unique columns");
	k = key("c:", shop, "customers", "name_born");
	is_obj(s, k, OBJ_UNIQUE, t, pathf("%s/customers#name_born", shop));
	snprintf(want, sizeof(want), "%s" SEP "%s", key("a:", shop, "customers", "name"),
		 key("a:", shop, "customers", "born"));
	is_str(attr(s, k, "columns"), want, "two-column unique key, in order");
	ok(!snapshot_find(s, key("i:", shop, "customers", "name_born")), "a unique index is not also an index");
	k = key("c:", shop, "customers", "balance_positive");
	is_obj(s, k, OBJ_CHECK, t, pathf("%s/customers#balance_positive", shop));
	is_str(attr(s, k, "expression"), "`balance` >= 0", "check expression");
	/* MariaDB's JSON column check, named after the column. */
	k = key("c:", shop, "customers", "doc");
	is_obj(s, k, OBJ_CHECK, t, pathf("%s/customers#doc", shop));
	is_str(attr(s, k, "expression"), "json_valid(`doc`)", "JSON check expression");
	is_str(attr(s, k, "columns"), key("a:", shop, "customers", "doc"), "column-level check names its column");
	is_int(children(s, t, OBJ_CHECK), 2, "two checks on customers");
	is_int(children(s, t, OBJ_UNIQUE), 2, "two unique keys on customers");
	is_int(children(s, t, OBJ_PRIMARY_KEY), 1, "one primary key");
	/* A column's UNIQUE and its CHECK share the column's name: the check gets the longer key. */
	t = key("r:", shop, "contacts", NULL);
	is_obj(s, key("c:", shop, "contacts", "email"), OBJ_UNIQUE, t, pathf("%s/contacts#email", shop));
	k = key("c:", shop, "contacts", "email/check");
	ok(strstr(k, "email\\/check") != NULL, "an escaped name cannot collide with the suffixed key");
	snprintf(want, sizeof(want), "%s/check", key("c:", shop, "contacts", "email"));
	is_obj(s, want, OBJ_CHECK, t, pathf("%s/contacts#email", shop));
	is_str(attr(s, want, "expression"), "`email` like '%@%'", "the check sharing the name");
}

static void check_indexes(const struct snapshot *s)
{
	const char *t = key("r:", shop, "customers", NULL), *k;
	char want[512];

	k = key("i:", shop, "customers", "name_prefix");
	is_obj(s, k, OBJ_INDEX, t, pathf("%s/customers#name_prefix", shop));
	is_str(attr(s, k, "columns"), key("a:", shop, "customers", "name"), "prefix index column");
	is_str(attr(s, k, "prefix_lengths"), "10", "prefix length");
	is_str(attr(s, k, "method"), "btree", "method");
	is_str(attr(s, k, "unique"), NULL, "indexes are never unique");
	k = key("i:", shop, "customers", "name_created");
	snprintf(want, sizeof(want), "%s" SEP "%s", key("a:", shop, "customers", "name"),
		 key("a:", shop, "customers", "created"));
	is_str(attr(s, k, "columns"), want, "multi-column index, in order");
	is_str(attr(s, k, "prefix_lengths"), NULL, "no prefix, no prefix_lengths");
	k = key("i:", shop, "customers", "big_idx");
	is_str(attr(s, k, "comment"), "大数索引", "index comment");
	is_int(children(s, t, OBJ_INDEX), 3, "three plain indexes on customers");
	k = key("i:", shop, "orders", "orders_customer_fk");
	is_obj(s, k, OBJ_INDEX, key("r:", shop, "orders", NULL), pathf("%s/orders#orders_customer_fk", shop));
	is_str(attr(s, k, "columns"), key("a:", shop, "orders", "customer_id"), "the index a FK made is an index");
}

static void check_foreign_keys(const struct snapshot *s)
{
	const char *k = key("c:", shop, "orders", "orders_customer_fk");
	char want[512];

	is_obj(s, k, OBJ_FOREIGN_KEY, key("r:", shop, "orders", NULL), pathf("%s/orders#orders_customer_fk", shop));
	is_str(attr(s, k, "columns"), key("a:", shop, "orders", "customer_id"), "fk columns");
	is_str(attr(s, k, "ref_table"), key("r:", shop, "customers", NULL), "fk ref_table");
	is_str(attr(s, k, "ref_columns"), key("a:", shop, "customers", "id"), "fk ref_columns");
	is_str(attr(s, k, "on_delete"), "CASCADE", "on_delete");
	is_str(attr(s, k, "on_update"), "SET NULL", "on_update");
	is_str(attr(s, k, "match"), "SIMPLE", "match");
	k = key("c:", shop, "order_lines", "lines_order_fk");
	is_str(attr(s, k, "on_delete"), "RESTRICT", "default on_delete as the server says");
	k = key("c:", shop, "line_refs", "line_refs_fk");
	snprintf(want, sizeof(want), "%s" SEP "%s", key("a:", shop, "line_refs", "a"), key("a:", shop, "line_refs", "b"));
	is_str(attr(s, k, "columns"), want, "two-column fk columns, in order");
	snprintf(want, sizeof(want), "%s" SEP "%s", key("a:", shop, "order_lines", "order_id"),
		 key("a:", shop, "order_lines", "line"));
	is_str(attr(s, k, "ref_columns"), want, "two-column fk ref_columns, in order");
	snprintf(want, sizeof(want), "%s" SEP "%s", key("a:", shop, "order_lines", "order_id"),
		 key("a:", shop, "order_lines", "line"));
	is_str(attr(s, key("c:", shop, "order_lines", "PRIMARY"), "columns"), want, "composite primary key");
}

static void check_views(MYSQL *conn, const struct snapshot *s)
{
	const char *k = key("r:", shop, "big_customers", NULL);
	char sql[256], *def, *owner;

	snprintf(sql, sizeof(sql), "SELECT VIEW_DEFINITION FROM information_schema.VIEWS "
				   "WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = 'big_customers'", shop);
	def = db_value(conn, sql);
	owner = db_value(conn, "SELECT CURRENT_USER()");
	if (!def)
		bail("no view definition", conn);
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];

	crypto_hash_sha256(h, (const unsigned char *)def, strlen(def));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	is_obj(s, k, OBJ_VIEW, key("n:", shop, NULL, NULL), pathf("%s/big_customers", shop));
	is_str(attr(s, k, "definition_hash"), hex, "view definition_hash is the SHA-256 of VIEW_DEFINITION");
	is_str(attr(s, k, "owner"), owner, "view owner is its definer");
	is_str(attr(s, k, "depends_on"), NULL, "no depends_on on MariaDB");
	is_str(attr(s, k, "comment"), NULL, "views have no comment");
	ok(obs(s, k, "rows") == NULL, "views have no row estimate");
	is_str(attr(s, key("a:", shop, "big_customers", "email"), "type"), "varchar(100)", "view column");
	free(def);
	free(owner);
}

static void check_names(const struct snapshot *s)
{
	const char *n = key("n:", shop, NULL, NULL), *k;

	k = key("r:", shop, "Order Items", NULL);
	is_obj(s, k, OBJ_TABLE, n, pathf("%s/Order Items", shop));
	is_obj(s, key("a:", shop, "Order Items", "Quoted \"Col\""), OBJ_COLUMN, k,
	       pathf("%s/Order Items.Quoted \"Col\"", shop));
	is_obj(s, key("a:", shop, "Order Items", "it's"), OBJ_COLUMN, k, pathf("%s/Order Items.it's", shop));
	is_obj(s, key("a:", shop, "Order Items", "MixedCase"), OBJ_COLUMN, k, pathf("%s/Order Items.MixedCase", shop));
	k = key("r:", shop, "path/to\\x", NULL);
	ok(strstr(k, "path\\/to\\\\x") != NULL, "the key escapes '/' and '\\': %s", k);
	is_obj(s, k, OBJ_TABLE, n, pathf("%s/path/to\\x", shop));
	k = key("r:", shop, "用户表", NULL);
	is_obj(s, k, OBJ_TABLE, n, pathf("%s/用户表", shop));
	is_str(attr(s, k, "comment"), "人员信息", "Chinese table comment");
	is_obj(s, key("a:", shop, "用户表", "姓名"), OBJ_COLUMN, k, pathf("%s/用户表.姓名", shop));
	is_str(attr(s, key("a:", shop, "用户表", "姓名"), "comment"), "姓名列", "Chinese column comment");
	is_int(strlen(LONG_NAME), 64, "the long name has 64 characters");
	k = key("r:", shop, LONG_NAME, NULL);
	is_obj(s, k, OBJ_TABLE, n, pathf("%s/" LONG_NAME, shop));
	is_str(attr(s, k, "engine"), "MyISAM", "MyISAM engine");
	is_obj(s, key("a:", shop, LONG_NAME, LONG_NAME), OBJ_COLUMN, k, pathf("%s/" LONG_NAME "." LONG_NAME, shop));
	k = key("r:", shop, "ticket_seq", NULL);
	is_obj(s, k, OBJ_SEQUENCE, n, pathf("%s/ticket_seq", shop));
	is_int(children(s, k, OBJ_COLUMN), 0, "a sequence has no columns");
}

/* Every byte of the GBK and latin1 text must arrive as the UTF-8 of the same characters. */
static void check_charsets(const struct snapshot *s)
{
	const char *n = key("n:", gbk, NULL, NULL), *t = key("r:", gbk, U8_USERS, NULL), *k;

	is_str(attr(s, n, "charset"), "gbk", "GBK schema charset");
	is_str(attr(s, n, "collation"), "gbk_chinese_ci", "GBK schema collation");
	is_obj(s, t, OBJ_TABLE, n, pathf("%s/" U8_USERS, gbk));
	is_str(attr(s, t, "comment"), U8_PEOPLE, "GBK table comment arrives as UTF-8");
	is_str(attr(s, t, "charset"), "gbk", "GBK table charset");
	k = key("a:", gbk, U8_USERS, U8_NAME);
	is_obj(s, k, OBJ_COLUMN, t, pathf("%s/" U8_USERS "." U8_NAME, gbk));
	is_str(attr(s, k, "comment"), U8_NAME_COL, "GBK column comment arrives as UTF-8");
	is_str(attr(s, k, "charset"), NULL, "GBK column: table charset, not repeated");
	k = key("a:", gbk, U8_USERS, U8_SEX);
	is_str(attr(s, k, "type"), "enum('" U8_MALE "','" U8_FEMALE "')", "GBK enum values arrive as UTF-8");
	is_str(attr(s, k, "default"), "'" U8_MALE "'", "GBK default arrives as UTF-8");
	k = key("a:", gbk, U8_USERS, U8_ADDR);
	is_str(attr(s, k, "charset"), "gb2312", "gb2312 column charset");
	is_str(attr(s, k, "collation"), "gb2312_chinese_ci", "gb2312 column collation");
	is_str(attr(s, k, "comment"), U8_ADDR_COL, "gb2312 column comment arrives as UTF-8");
	is_str(attr(s, key("c:", gbk, U8_USERS, "PRIMARY"), "columns"), key("a:", gbk, U8_USERS, U8_NUMBER),
	       "GBK primary key column");
	t = key("r:", gbk, "latin", NULL);
	is_str(attr(s, t, "charset"), "latin1", "latin1 table charset");
	is_str(attr(s, t, "comment"), "Tabelle f\xc3\xbcr Caf\xc3\xa9", "latin1 table comment arrives as UTF-8");
	is_str(attr(s, key("a:", gbk, "latin", "name"), "default"), "'caf\xc3\xa9'", "latin1 default arrives as UTF-8");
	is_str(attr(s, key("a:", gbk, "latin", "note"), "comment"), "Pr\xc3\xbc" "fung",
	       "latin1 column comment arrives as UTF-8");
	for (size_t i = 0; i < s->nobjs; i++)
		if (!utf8_valid(s->objs[i]->name) || !utf8_valid(driver_test_path(s->objs[i])))
			ok(0, "not UTF-8: %s", s->objs[i]->key);
}

static void setup_gbk(MYSQL *admin)
{
	MYSQL *conn;

	db_execf(admin, "CREATE DATABASE `%s` CHARACTER SET gbk", gbk);
	conn = db_connect(gbk);
	db_exec(conn, "SET NAMES gbk");
	db_exec(conn, gbk_table_sql);
	db_exec(conn, "SET NAMES latin1");
	db_exec(conn, latin1_table_sql);
	mysql_close(conn);
}

static void check_bad_conninfo(void)
{
	char err[DRIVER_ERRLEN];
	int r;

	r = crawl("host=localhost password=Sw0rdfish-Secret =oops", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "malformed conninfo is a config error: %s", err);
	ok(!strstr(err, "Sw0rdfish"), "config error does not quote the password");
	r = crawl("host=localhost bogus_option=1 user=Sw0rdfish-Secret", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "unknown conninfo key is a config error");
	ok(strstr(err, "bogus_option") != NULL, "the message names the key: %s", err);
	ok(!strstr(err, "Sw0rdfish"), "and no value");
	r = crawl("user='Sw0rdfish-Secret", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "unterminated quote is a config error: %s", err);
	ok(!strstr(err, "Sw0rdfish"), "and does not quote the value");
	r = crawl("port=99999", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "port out of range is a config error: %s", err);
	r = crawl("host=localhost user=x password='Sw0rdfish-Secret'", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "a password in conninfo is refused: %s", err);
	ok(!strstr(err, "Sw0rdfish") && strstr(err, "secrets file") && strstr(err, "option_file"),
	   "the message says where it belongs, not what it is");
	r = crawl("host=localhost PassWord=Sw0rdfish-Secret", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "in any case: %s", err);
	r = crawl("socket=/nonexistent/x.sock option_file=/nonexistent/my.cnf", 5, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "unreadable option_file is a config error: %s", err);
	r = crawl("", 5, NULL, err);
	ok(r != DRIVER_E_CONFIG, "an empty conninfo is valid (the client library's defaults): %s", err);
}

static int write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return chmod(path, mode);
}

/* An option file its group or others can read is refused at open (so -n reports it), named with its
 * mode; so is ~/.my.cnf when option_group alone makes the client library read it, and MYSQL_PWD. */
static void check_option_file_mode(void)
{
	char path[] = "/tmp/test-driver-mysql-opt.XXXXXX", home[] = "/tmp/test-driver-mysql-home.XXXXXX";
	char err[DRIVER_ERRLEN], *ci, *mycnf, *old_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	const struct driver_ops *drv = driver_lookup("mysql");
	struct source_conf conf = { .name = "t", .driver = "mysql", .timeout = 5 };
	int fd = mkstemp(path);
	void *h = NULL;
	int r;

	if (fd >= 0)
		close(fd);
	if (write_text(path, "[client]\npassword=Sw0rdfish-Secret\n", 0644) != 0 || !mkdtemp(home))
		bail("option file", NULL);
	ci = xasprintf("socket=/nonexistent/x.sock option_file=%s", path);
	conf.conninfo = ci;
	r = drv->open(&conf, &h, err);
	is_int(r, DRIVER_E_CONFIG, "an option_file readable by others is refused at open: %s", err);
	ok(strstr(err, path) && strstr(err, "mode 0644: readable by others; chmod 600 it"),
	   "the message names it and its mode");
	ok(!strstr(err, "Sw0rdfish"), "and nothing from it");
	chmod(path, 0640);
	r = drv->open(&conf, &h, err);
	ok(r == DRIVER_E_CONFIG && strstr(err, "mode 0640: readable by its group"), "0640 too: %s", err);
	chmod(path, 0600);
	r = drv->open(&conf, &h, err);
	is_int(r, 0, "0600 will do: %s", err);
	drv->close(h);
	h = NULL;
	mycnf = xasprintf("%s/.my.cnf", home);
	if (write_text(mycnf, "[client]\npassword=Sw0rdfish-Secret\n", 0604) != 0)
		bail("~/.my.cnf", NULL);
	setenv("HOME", home, 1);
	conf.conninfo = "socket=/nonexistent/x.sock option_group=client";
	r = drv->open(&conf, &h, err);
	ok(r == DRIVER_E_CONFIG && strstr(err, mycnf) && strstr(err, "readable by others"),
	   "option_group alone: a ~/.my.cnf readable by others is refused: %s", err);
	conf.conninfo = "socket=/nonexistent/x.sock";
	r = drv->open(&conf, &h, err);
	is_int(r, 0, "without option_group the client library reads no option file: %s", err);
	drv->close(h);
	h = NULL;
	setenv("MYSQL_PWD", "Sw0rdfish-Secret", 1);
	r = drv->open(&conf, &h, err);
	ok(r == DRIVER_E_CONFIG && strstr(err, "MYSQL_PWD is set") && !strstr(err, "Sw0rdfish"),
	   "MYSQL_PWD is refused, not used: %s", err);
	conf.password = "Sw0rdfish-Secret";
	r = drv->open(&conf, &h, err);
	is_int(r, 0, "unless the secrets file gives the password: %s", err);
	drv->close(h);
	unsetenv("MYSQL_PWD");
	if (old_home)
		setenv("HOME", old_home, 1);
	unlink(mycnf);
	rmdir(home);
	unlink(path);
	free(mycnf);
	free(old_home);
	free(ci);
}

static void check_wrong_password(void)
{
	const char *port = getenv("PROSPECTOR_TEST_MYSQL_PORT"), *host = getenv("PROSPECTOR_TEST_MYSQL_HOST");
	const char *pw = driver_test_password("PROSPECTOR_TEST_MYSQL_PASSWORD_FILE");
	char err[DRIVER_ERRLEN], ci[512];
	struct snapshot *s = NULL;
	int r;

	if (!port || !pw) {
		ok(1, "wrong password # SKIP PROSPECTOR_TEST_MYSQL_PORT or _PASSWORD not set");
		return;
	}
	snprintf(ci, sizeof(ci), "host=%s port=%s user=root connect_timeout=5", host ? host : "127.0.0.1", port);
	r = crawl_pw(ci, "Wr0ng-Staple-Secret", 5, NULL, err);
	is_int(r, DRIVER_E_AUTH, "wrong password is DRIVER_E_AUTH: %s", err);
	ok(!strstr(err, "Wr0ng-Staple-Secret"), "the password is not in the message");
	/* The right password, from the secrets file, over TCP. */
	snprintf(ci, sizeof(ci), "host = %s port = %s user = 'root' database=%s", host ? host : "127.0.0.1", port, shop);
	r = crawl_pw(ci, pw, 5, &s, err);
	is_int(r, 0, "the right password, from the secrets file, crawls over TCP: %s", err);
	ok(s && has_schema(s, gbk), "database= only picks the default: other databases are crawled too");
	snapshot_free(s);
}

/* A listening socket nobody answers on: the connect succeeds, the handshake never comes. */
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
	char err[DRIVER_ERRLEN], ci[256];
	int port = 0, fd, r;
	time_t start;

	r = crawl("host=127.0.0.1 port=1 user=x connect_timeout=5", 5, NULL, err);
	is_int(r, DRIVER_E_CONNECT, "refused connection is DRIVER_E_CONNECT: %s", err);
	r = crawl("socket=/nonexistent/mysqld.sock user=x", 5, NULL, err);
	is_int(r, DRIVER_E_CONNECT, "missing socket is DRIVER_E_CONNECT: %s", err);
	fd = silent_listener(&port);
	if (!ok(fd >= 0, "silent listener"))
		return;
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d user=x connect_timeout=1", port);
	start = time(NULL);
	r = crawl(ci, 2, NULL, err);
	is_int(r, DRIVER_E_CONNECT, "a server that never answers is DRIVER_E_CONNECT: %s", err);
	ok(time(NULL) - start < 60, "and the crawl gives up (%ld s)", (long)(time(NULL) - start));
	close(fd);
}

/* The partial user: table grants on two tables of `part`, a column grant on a third, nothing on
 * `hidden`. It logs in with an option file and a group of its own. */
static void setup_partial(MYSQL *admin, char *ret_optfile, size_t size)
{
	FILE *f;
	int fd;

	db_execf(admin, "CREATE DATABASE `%s`", part);
	db_execf(admin, "CREATE TABLE `%s`.t1 (a int PRIMARY KEY, b int)", part);
	db_execf(admin, "CREATE TABLE `%s`.t2 (a int)", part);
	db_execf(admin, "CREATE TABLE `%s`.t3 (a int, secret int)", part);
	db_execf(admin, "CREATE TABLE `%s`.t4 (a int)", part);
	db_execf(admin, "CREATE DATABASE `%s`", hidden);
	db_execf(admin, "CREATE TABLE `%s`.h (a int)", hidden);
	db_execf(admin, "CREATE USER '%s'@'%%' IDENTIFIED BY 'Part-Pass-1'", user_p);
	db_execf(admin, "GRANT SELECT ON `%s`.t1 TO '%s'@'%%'", part, user_p);
	db_execf(admin, "GRANT INSERT ON `%s`.t2 TO '%s'@'%%'", part, user_p);
	db_execf(admin, "GRANT SELECT (a) ON `%s`.t3 TO '%s'@'%%'", part, user_p);
	/* A schema-wide grant through a pattern ('_' escaped, '%' a wildcard), and one through a
	 * default role, which the privilege views do not show. */
	db_execf(admin, "CREATE DATABASE `%s`", wild);
	db_execf(admin, "CREATE TABLE `%s`.w (a int)", wild);
	db_execf(admin, "GRANT SELECT ON `%.*s\\_wil%%`.* TO '%s'@'%%'", (int)(strchr(wild, '_') - wild), wild,
		 user_p);
	db_execf(admin, "CREATE DATABASE `%s`", roled);
	db_execf(admin, "CREATE TABLE `%s`.r (a int)", roled);
	db_execf(admin, "CREATE ROLE '%s'", role);
	db_execf(admin, "GRANT SELECT ON `%s`.* TO '%s'", roled, role);
	db_execf(admin, "GRANT '%s' TO '%s'@'%%'", role, user_p);
	db_execf(admin, "SET DEFAULT ROLE '%s' FOR '%s'@'%%'", role, user_p);
	snprintf(ret_optfile, size, "%s/prospector-my-%ld.cnf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		 (long)getpid());
	fd = open(ret_optfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		bail("option file", NULL);
	fprintf(f, "[client]\nuser=nobody-here\n[prospector]\nuser=%s\npassword=Part-Pass-1\n", user_p);
	fclose(f);
}

static void check_partial(MYSQL *admin)
{
	const char *port = getenv("PROSPECTOR_TEST_MYSQL_PORT"), *host = getenv("PROSPECTOR_TEST_MYSQL_HOST");
	char err[DRIVER_ERRLEN], ci[512], optfile[256];
	struct snapshot *s = NULL;
	const char *n = key("n:", part, NULL, NULL), *reason;
	int r;

	if (!port) {
		ok(1, "partial visibility # SKIP PROSPECTOR_TEST_MYSQL_PORT not set");
		return;
	}
	setup_partial(admin, optfile, sizeof(optfile));
	snprintf(ci, sizeof(ci), "host=%s port=%s option_file=%s option_group=prospector",
		 host ? host : "127.0.0.1", port, optfile);
	r = crawl(ci, 10, &s, err);
	if (!ok(r == 0, "the partial user crawls: %s", err))
		goto out;
	ok(has_schema(s, part), "the partly granted schema is there");
	ok(!has_schema(s, hidden), "a database without any privilege does not appear");
	ok(!has_schema(s, shop), "nor does any other database");
	ok(snapshot_find(s, key("r:", part, "t1", NULL)) && snapshot_find(s, key("r:", part, "t2", NULL)),
	   "the granted tables are there");
	ok(!snapshot_find(s, key("r:", part, "t4", NULL)), "the table without a grant is simply absent");
	reason = partial_reason(s, n);
	ok(reason != NULL, "the schema is marked partial");
	ok(reason && strstr(reason, part) && strstr(reason, "table grants"), "reason: %s", reason ? reason : "");
	ok(snapshot_find(s, key("a:", part, "t3", "a")) && !snapshot_find(s, key("a:", part, "t3", "secret")),
	   "a column grant shows that column only");
	reason = partial_reason(s, key("r:", part, "t3", NULL));
	ok(reason && strstr(reason, "column grants"), "that table is marked partial: %s", reason ? reason : "");
	ok(!partial_reason(s, key("r:", part, "t1", NULL)), "a table-level grant shows the whole table");
	is_str(attr(s, key("c:", part, "t1", "PRIMARY"), "columns"), key("a:", part, "t1", "a"),
	       "keys of granted tables are read");
	ok(snapshot_find(s, key("r:", wild, "w", NULL)), "a schema granted through a pattern is there");
	ok(!partial_reason(s, key("n:", wild, NULL, NULL)), "and complete: the pattern covers it");
	ok(snapshot_find(s, key("r:", roled, "r", NULL)), "a schema granted through a default role is there");
	reason = partial_reason(s, key("n:", roled, NULL, NULL));
	ok(reason && strstr(reason, "roles"), "and marked partial, since roles are not readable: %s",
	   reason ? reason : "");
	snapshot_free(s);
	/* The default database is one the user may not use: the login itself is refused. */
	snprintf(ci, sizeof(ci), "host=%s port=%s option_file=%s option_group=prospector database=%s",
		 host ? host : "127.0.0.1", port, optfile, hidden);
	r = crawl(ci, 10, NULL, err);
	is_int(r, DRIVER_E_PRIVILEGE, "no privilege on the default database is DRIVER_E_PRIVILEGE: %s", err);
out:
	unlink(optfile);
	db_execf(admin, "DROP USER '%s'@'%%'", user_p);
	db_execf(admin, "DROP ROLE '%s'", role);
}

/* Statements the counting user ran, from the general log. */
static long count_statements(MYSQL *admin)
{
	char sql[256], *v;
	long n;

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM mysql.general_log WHERE command_type = 'Query' "
				   "AND user_host LIKE '%s[%%'", user_c);
	v = db_value(admin, sql);
	n = v ? atol(v) : -1;
	free(v);
	return n;
}

static void print_statements(MYSQL *admin)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT LEFT(CONVERT(argument USING utf8mb4), 100) FROM mysql.general_log "
				   "WHERE command_type = 'Query' AND user_host LIKE '%s[%%' ORDER BY event_time", user_c);
	if (mysql_query(admin, sql) != 0 || !(res = mysql_store_result(admin)))
		return;
	while ((row = mysql_fetch_row(res)))
		printf("#   %s\n", row[0] ? row[0] : "");
	mysql_free_result(res);
}

/* One crawl by the counting user, with the general log on: the statements it ran. */
static long counted_crawl(MYSQL *admin, const char *ci, bool show)
{
	char err[DRIVER_ERRLEN];
	long before, after;
	int r;

	before = count_statements(admin);
	r = crawl_pw(ci, "Count-Pass-1", 30, NULL, err);
	ok(r == 0, "counted crawl: %s", err);
	after = count_statements(admin);
	if (show)
		print_statements(admin);
	return after - before;
}

static void add_tables(MYSQL *admin, int from, int to)
{
	for (int i = from; i < to; i++)
		db_execf(admin, "CREATE TABLE `%s`.t%d (id int PRIMARY KEY, v varchar(10), "
				"w int, KEY (v), CONSTRAINT c%d CHECK (w > 0))", counted, i, i);
}

static void check_statement_count(MYSQL *admin)
{
	const char *port = getenv("PROSPECTOR_TEST_MYSQL_PORT"), *host = getenv("PROSPECTOR_TEST_MYSQL_HOST");
	char ci[512];
	long n3, n30;

	if (!port) {
		ok(1, "statement count # SKIP PROSPECTOR_TEST_MYSQL_PORT not set");
		return;
	}
	db_execf(admin, "CREATE DATABASE `%s`", counted);
	db_execf(admin, "CREATE USER '%s'@'%%' IDENTIFIED BY 'Count-Pass-1'", user_c);
	db_execf(admin, "GRANT SELECT ON *.* TO '%s'@'%%'", user_c);
	snprintf(ci, sizeof(ci), "host=%s port=%s user=%s", host ? host : "127.0.0.1", port, user_c);
	db_exec(admin, "SET GLOBAL log_output = 'TABLE'");
	db_exec(admin, "SET GLOBAL general_log = 1");
	add_tables(admin, 0, 3);
	n3 = counted_crawl(admin, ci, true);
	add_tables(admin, 3, 30);
	n30 = counted_crawl(admin, ci, false);
	db_exec(admin, "SET GLOBAL general_log = 0");
	db_exec(admin, "TRUNCATE mysql.general_log");
	is_int(n3, 15, "a crawl over 3 tables is 15 statements");
	is_int(n30, n3, "a crawl over 30 tables is as many");
	db_execf(admin, "DROP USER '%s'@'%%'", user_c);
}

/* One crawl through the registry, keeping the handle to ask whether it proved the catalog at rest. */
static bool crawl_quiet(int *ret_r, char *err)
{
	struct source_conf conf = { .name = "t", .driver = "mysql", .conninfo = (char *)base, .timeout = 30 };
	const struct driver_ops *drv = driver_lookup("mysql");
	struct snapshot *snap = snapshot_new("t");
	void *h = NULL;
	bool quiet;

	*ret_r = drv->open(&conf, &h, err);
	if (*ret_r == 0)
		*ret_r = drv->crawl(h, snap, err);
	quiet = *ret_r == 0 && drv->quiet(h);
	if (h)
		drv->close(h);
	snapshot_free(snap);
	return quiet;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The server's clock, in seconds, with its fraction. */
static double server_clock(MYSQL *admin)
{
	char *v = db_value(admin, "SELECT UNIX_TIMESTAMP(NOW(6))");
	double t = v ? strtod(v, NULL) : 0;

	free(v);
	return t;
}

/* Other suites share the server and their DDL counts too: a quiet crawl is one of a few tries. */
static void check_quiet_at_rest(MYSQL *admin)
{
	char err[DRIVER_ERRLEN] = "";
	bool quiet = false;
	int r = 0, tries;

	/* The second of this test's own CREATE TABLE counts as moving (check_quiet_after_alter). */
	pause_ms((long)((1.05 - (server_clock(admin) - (long)server_clock(admin))) * 1000));
	for (tries = 1; tries <= 20 && !quiet && r == 0; tries++) {
		quiet = crawl_quiet(&r, err);
		if (!quiet)
			pause_ms(200);
	}
	ok(quiet, "quiet: a crawl of the server at rest proves it (crawls: %d) %s", tries - 1, err);
}

struct churn {
	pthread_mutex_t lock;
	bool stop;
	long statements;
};

/* CREATE and DROP a table, over and over, until told to stop. */
static void *churn_run(void *arg)
{
	struct churn *ch = arg;
	MYSQL *conn;
	bool stop = false;

	mysql_thread_init();
	conn = db_connect(churn);
	for (long i = 0; !stop; i++) {
		db_execf(conn, i % 2 ? "DROP TABLE c" : "CREATE TABLE c (id int PRIMARY KEY)");
		pthread_mutex_lock(&ch->lock);
		ch->statements++;
		stop = ch->stop;
		pthread_mutex_unlock(&ch->lock);
	}
	mysql_close(conn);
	mysql_thread_end();
	return NULL;
}

static long churn_statements(struct churn *ch)
{
	long n;

	pthread_mutex_lock(&ch->lock);
	n = ch->statements;
	pthread_mutex_unlock(&ch->lock);
	return n;
}

static void check_quiet_under_ddl(void)
{
	struct churn ch = { .lock = PTHREAD_MUTEX_INITIALIZER };
	char err[DRIVER_ERRLEN] = "";
	pthread_t t;
	long before;
	bool quiet;
	int r;

	if (pthread_create(&t, NULL, churn_run, &ch) != 0)
		bail("pthread_create", NULL);
	while (churn_statements(&ch) < 2)
		pause_ms(5);
	/* Most such crawls fail on their own checks (DRIVER_E_UNSTABLE); one that does not must not
	 * claim the catalog was at rest either. */
	for (int i = 0; i < 3; i++) {
		before = churn_statements(&ch);
		quiet = crawl_quiet(&r, err);
		ok((r == 0 || r == DRIVER_E_UNSTABLE) && !quiet,
		   "quiet: refused while another session runs DDL (%ld statements during the crawl, which %s)",
		   churn_statements(&ch) - before, r ? err : "succeeded");
	}
	pthread_mutex_lock(&ch.lock);
	ch.stop = true;
	pthread_mutex_unlock(&ch.lock);
	pthread_join(t, NULL);
}

/* A DDL that began before the crawl, as one waiting for a metadata lock would, and ended during it
 * leaves the DDL count as it was: only the table's CREATE_TIME tells. Its one-second resolution
 * makes a table altered in the crawl's first second count as well, which this can time exactly. */
static void check_quiet_after_alter(MYSQL *admin)
{
	char err[DRIVER_ERRLEN] = "";
	bool quiet = true, timed = false;
	int r = 0;

	for (int i = 0; i < 10 && !timed && r == 0; i++) {
		double t0 = server_clock(admin);

		if (t0 - (long)t0 > 0.3) {
			pause_ms((long)((1.02 - (t0 - (long)t0)) * 1000));
			t0 = server_clock(admin);
		}
		db_execf(admin, "ALTER TABLE `%s`.a COMMENT = 'v%d'", churn, i);
		quiet = crawl_quiet(&r, err);
		timed = (long)server_clock(admin) == (long)t0;
	}
	if (!timed)
		ok(1, "quiet after an ALTER # SKIP no ALTER and crawl fitted in one second of the server's clock");
	else
		ok(r == 0 && !quiet, "quiet: refused when a table was altered in the second the crawl began %s", err);
}

static void check_quiet(MYSQL *admin)
{
	db_execf(admin, "CREATE DATABASE `%s`", churn);
	db_execf(admin, "CREATE TABLE `%s`.a (id int PRIMARY KEY) ENGINE = InnoDB", churn);
	check_quiet_at_rest(admin);
	check_quiet_under_ddl();
	check_quiet_after_alter(admin);
}

static void run(MYSQL *admin)
{
	char err[DRIVER_ERRLEN];
	struct snapshot *s = NULL;
	MYSQL *conn;
	int r;

	db_execf(admin, "CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci COMMENT '商店'", shop);
	conn = db_connect(shop);
	for (size_t i = 0; i < sizeof(shop_sql) / sizeof(shop_sql[0]); i++)
		db_exec(conn, shop_sql[i]);
	setup_gbk(admin);
	r = crawl(base, 30, &s, err);
	if (!ok(r == 0, "crawl: %s", err))
		bail("crawl failed", NULL);
	dump(s);
	check_database(conn, s);
	check_customers(s);
	check_keys(s);
	check_indexes(s);
	check_foreign_keys(s);
	check_views(conn, s);
	check_names(s);
	check_charsets(s);
	snapshot_free(s);
	check_bad_conninfo();
	check_option_file_mode();
	check_wrong_password();
	check_unreachable();
	check_partial(admin);
	check_statement_count(admin);
	check_quiet(admin);
	mysql_close(conn);
}

int main(void)
{
	const char *dbs[] = { shop, gbk, part, hidden, wild, roled, counted, churn };
	MYSQL *admin;
	long pid = (long)getpid();

	base = getenv("PROSPECTOR_TEST_MYSQL");
	if (!base || !*base)
		skip_all("PROSPECTOR_TEST_MYSQL is not set");
	snprintf(shop, sizeof(shop), "pt%ld_shop", pid);
	snprintf(gbk, sizeof(gbk), "pt%ld_gbk", pid);
	snprintf(part, sizeof(part), "pt%ld_part", pid);
	snprintf(hidden, sizeof(hidden), "pt%ld_hidden", pid);
	snprintf(wild, sizeof(wild), "pt%ld_wild", pid);
	snprintf(roled, sizeof(roled), "pt%ld_roled", pid);
	snprintf(counted, sizeof(counted), "pt%ld_counted", pid);
	snprintf(churn, sizeof(churn), "pt%ld_churn", pid);
	snprintf(role, sizeof(role), "pt%ld_r", pid);
	snprintf(user_p, sizeof(user_p), "pt%ld_p", pid);
	snprintf(user_c, sizeof(user_c), "pt%ld_c", pid);
	admin = db_connect(NULL);
	run(admin);
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		db_execf(admin, "DROP DATABASE IF EXISTS `%s`", dbs[i]);
	mysql_close(admin);
	return done_testing();
}
