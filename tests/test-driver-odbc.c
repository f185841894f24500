/*
 * The ODBC driver against real ODBC drivers. The SQLite part always runs (SQLite ODBC needs no
 * server); the PostgreSQL part (psqlODBC) needs PROSPECTOR_TEST_PG and PROSPECTOR_TEST_PG_PORT/
 * _PASSWORD (psqlODBC logs in over TCP), the MariaDB part (MariaDB Connector/ODBC)
 * PROSPECTOR_TEST_MYSQL_PASSWORD_FILE and _PORT or _SOCKET; each is skipped with a TAP "# SKIP" line
 * when its server is not there, unless PROSPECTOR_REQUIRE_LIVE=1 makes that a failure.
 *
 * Each part creates a schema (tables, primary, foreign and unique keys, plain and unique indexes, a
 * view, Chinese names and comments where the DBMS has comments, names with '_' and '/' in them),
 * crawls it and checks every object and every attribute exactly, the database's "unsupported" list
 * included. Then the failures: an unknown DSN, a driver that is not installed or cannot be loaded,
 * a refused login (the password never in the message), an unreachable server, no CONNECT
 * privilege. The PostgreSQL part also crawls the same database with driver_pg and compares tables,
 * columns (type family and parameters, nullability, ordinal, default), keys and foreign keys by
 * path (issue 3, item 5), and checks that a crawl through psqlODBC leaves no log file, through
 * Driver= or a DSN that turns the logs on. The MariaDB part compares the foreign keys that MariaDB
 * Connector/ODBC's SQLForeignKeys leaves out (to a UNIQUE key, a composite one, a plain index)
 * with what driver_mysql reads, attribute for attribute.
 *
 * The driver manager reads drivers from a private copy of odbcinst.ini for the whole run (see
 * sysini_setup) and the DSN tests set ODBCINI. The log checks run this program again in a child
 * process ("--crawl", "--connect"): psqlODBC keeps its logging state per process. Set
 * PROSPECTOR_TEST_DUMP=1 to print each crawled snapshot as TAP comments.
 */
#include <dirent.h>
#include <pwd.h>
#include <sql.h>
#include <sqlite3.h>
#include <sqlext.h>
#include <sqlucode.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "driver.h"
#include "fixture.h"
#include "snapshot.h"
#include "driver-test.h"
#include "tap.h"
#include "xmalloc.h"

#define SEP MODEL_REF_SEP_STR

static char tmpdir[256];

/* ---------------------------------------------------------------- helpers */

/* UTF-8 to UTF-16, for the setup statements (names in Chinese and beyond the BMP). */
static SQLWCHAR *wide(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	SQLWCHAR *w = xcalloc(strlen(s) + 1, sizeof(*w));
	size_t n = 0;

	while (*p) {
		uint32_t cp = *p;
		int more = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;

		cp &= more ? 0x3f >> more : 0x7f;
		for (p++; more-- > 0 && *p; p++)
			cp = cp << 6 | (*p & 0x3f);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			w[n++] = (SQLWCHAR)(0xd800 | cp >> 10);
			w[n++] = (SQLWCHAR)(0xdc00 | (cp & 0x3ff));
		} else {
			w[n++] = (SQLWCHAR)cp;
		}
	}
	return w;
}

static void diag_print(SQLSMALLINT type, SQLHANDLE h)
{
	SQLCHAR state[6], msg[512];
	SQLINTEGER native;
	SQLSMALLINT len;

	for (SQLSMALLINT i = 1; SQL_SUCCEEDED(SQLGetDiagRec(type, h, i, state, &native, msg, sizeof(msg), &len)); i++)
		printf("#   %s %s\n", state, msg);
}

struct conn {
	SQLHENV env;
	SQLHDBC dbc;
};

static bool conn_open(struct conn *c, const char *conninfo)
{
	SQLWCHAR *w = wide(conninfo);
	SQLRETURN rc;

	SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &c->env);
	SQLSetEnvAttr(c->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
	SQLAllocHandle(SQL_HANDLE_DBC, c->env, &c->dbc);
	rc = SQLDriverConnectW(c->dbc, NULL, w, SQL_NTS, NULL, 0, NULL, SQL_DRIVER_NOPROMPT);
	free(w);
	if (!SQL_SUCCEEDED(rc))
		diag_print(SQL_HANDLE_DBC, c->dbc);
	return SQL_SUCCEEDED(rc);
}

static void conn_close(struct conn *c)
{
	SQLDisconnect(c->dbc);
	SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
	SQLFreeHandle(SQL_HANDLE_ENV, c->env);
}

static bool conn_exec_ok(struct conn *c, const char *sql)
{
	SQLHSTMT st;
	SQLWCHAR *w = wide(sql);
	SQLRETURN rc;

	SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &st);
	rc = SQLExecDirectW(st, w, SQL_NTS);
	free(w);
	if (!SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA) {
		printf("# %s\n", sql);
		diag_print(SQL_HANDLE_STMT, st);
	}
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	return SQL_SUCCEEDED(rc) || rc == SQL_NO_DATA;
}

static void conn_exec(struct conn *c, const char *sql)
{
	if (!conn_exec_ok(c, sql)) {
		printf("Bail out! setup statement failed\n");
		exit(1);
	}
}

static void exec_all(const char *conninfo, const char *const *sql, size_t n)
{
	struct conn c;

	if (!conn_open(&c, conninfo)) {
		printf("Bail out! cannot connect for the setup\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		conn_exec(&c, sql[i]);
	conn_close(&c);
}

static void dump(const struct snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!getenv("PROSPECTOR_TEST_DUMP"))
		return;
	f = open_memstream(&buf, &len);
	fixture_write(s, f);
	fclose(f);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		printf("# %s\n", line);
	free(buf);
}

static int crawl_pw(const char *conninfo, const char *password, struct snapshot **ret_snap, char *err)
{
	struct source_conf conf = { .name = "t", .driver = "odbc", .conninfo = (char *)conninfo,
				    .password = (char *)password, .timeout = 20 };

	return driver_test_crawl(&conf, ret_snap, err);
}

/* The end of the value at s: {braced} ("}}" a literal brace) or up to ';'; copied unescaped. */
static const char *value_take(const char *s, struct buf *value)
{
	if (*s != '{') {
		buf_add(value, s, strcspn(s, ";"));
		return s + strcspn(s, ";");
	}
	for (s++; *s && !(s[0] == '}' && s[1] != '}'); s++) {
		if (s[0] == '}')
			s++;
		buf_addc(value, *s);
	}
	return *s ? s + 1 : s;
}

/* Moves the first Pwd= attribute out of conninfo (in place) into *ret_password (allocated), as a
 * source's conninfo and secrets file hold them; the tests' own connections keep it inline. */
static void pwd_split(char *conninfo, char **ret_password)
{
	*ret_password = NULL;
	for (char *p = conninfo; *p; p += strcspn(p, ";"), p += *p == ';') {
		struct buf value;
		const char *end;

		if (strncasecmp(p, "pwd=", 4) != 0)
			continue;
		buf_init(&value);
		end = value_take(p + 4, &value);
		*ret_password = buf_steal(&value);
		memmove(p, end + (*end == ';'), strlen(end + (*end == ';')) + 1);
		return;
	}
}

/* A crawl of a source whose conninfo is conninfo less its Pwd=, and whose secrets file gives that. */
static int crawl(const char *conninfo, struct snapshot **ret_snap, char *err)
{
	char *plain = xstrdup(conninfo), *password;
	int r;

	pwd_split(plain, &password);
	r = crawl_pw(plain, password, ret_snap, err);
	free(plain);
	free(password);
	return r;
}

/* Skips one part: a passing "# SKIP" line, or a failure when live servers are required. */
static void skip_part(const char *what, const char *why)
{
	const char *req = getenv("PROSPECTOR_REQUIRE_LIVE");

	if (req && strcmp(req, "1") == 0)
		ok(0, "%s: required but %s", what, why);
	else
		ok(1, "%s # SKIP %s", what, why);
}

/*
 * Expected objects. attrs lists every attribute, "name=value" separated by tabs; '|' in a value
 * stands for MODEL_REF_SEP. check_exact insists that each object has exactly those attributes and
 * that no other object matches the filter.
 */
struct want {
	const char *kind;
	const char *key;
	const char *parent;
	const char *name;
	const char *attrs;
};

/* '@' in a want's key, parent, name or attributes stands for this (a database named per run). */
static const char *want_at;

static char *expand(const char *s)
{
	struct buf b;

	if (!s)
		return NULL;
	buf_init(&b);
	buf_adds(&b, "");
	for (const char *p = s; *p; p++) {
		if (*p == '@' && want_at)
			buf_adds(&b, want_at);
		else
			buf_addc(&b, *p);
	}
	return buf_steal(&b);
}

static void print_attrs(const struct obj *o)
{
	for (size_t i = 0; i < o->nattrs; i++)
		printf("#     %s = %s\n", obj_attr(o, i).name, obj_attr(o, i).value);
}

static void check_want(const struct snapshot *s, const struct want *want)
{
	char *key = expand(want->key), *parent = expand(want->parent), *name = expand(want->name);
	struct want wx = { want->kind, key, parent, name, NULL }, *w = &wx;
	const struct obj *o = snapshot_find(s, w->key);
	char *attrs = expand(want->attrs), *save = NULL;
	size_t n = 0;
	bool good;

	if (!ok(o != NULL, "%s %s exists", w->kind, w->key))
		goto out;
	good = strcmp(model_kind(o->kind)->name, w->kind) == 0 && (!w->name || strcmp(o->name, w->name) == 0) &&
	       ((!o->parent && !w->parent) || (o->parent && w->parent && strcmp(o->parent, w->parent) == 0));
	for (char *pair = strtok_r(attrs, "\t", &save); pair; pair = strtok_r(NULL, "\t", &save), n++) {
		char *eq = strchr(pair, '='), *value;
		const char *got;

		if (!eq)
			continue;
		*eq = '\0';
		value = eq + 1;
		for (char *p = value; *p; p++)
			if (*p == '|')
				*p = MODEL_REF_SEP;
		got = obj_get(o, pair);
		if (!got || strcmp(got, value) != 0) {
			printf("#   %s: got '%s', expected '%s'\n", pair, got ? got : "(absent)", value);
			good = false;
		}
	}
	if (n != o->nattrs) {
		printf("#   %u attributes, expected %zu\n", o->nattrs, n);
		good = false;
	}
	if (!ok(good, "%s %s: kind, parent, name and attributes", w->kind, w->key))
		print_attrs(o);
out:
	free(attrs);
	free(key);
	free(parent);
	free(name);
}

static void check_exact(const struct snapshot *s, const struct want *w, size_t n,
			bool (*filter)(const struct obj *o, const void *arg), const void *arg)
{
	size_t extra = 0;

	for (size_t i = 0; i < n; i++)
		check_want(s, &w[i]);
	for (size_t i = 0; i < s->nobjs; i++) {
		bool listed = false;

		if (filter && !filter(s->objs[i], arg))
			continue;
		for (size_t j = 0; j < n && !listed; j++) {
			char *key = expand(w[j].key);

			listed = strcmp(key, s->objs[i]->key) == 0;
			free(key);
		}
		if (!listed) {
			printf("#   unexpected %s %s\n", model_kind(s->objs[i]->kind)->name, s->objs[i]->key);
			extra++;
		}
	}
	is_int(extra, 0, "no object beyond the expected ones");
}

#define CHECK_EXACT(s, w, filter, arg) check_exact(s, w, sizeof(w) / sizeof(w[0]), filter, arg)

static void check_error(const char *conninfo, int want, const char *contains, const char *secret, const char *what)
{
	char err[DRIVER_ERRLEN];
	int r = crawl(conninfo, NULL, err);

	is_int(r, want, "%s: code (%s)", what, err);
	if (contains)
		ok(strstr(err, contains) != NULL, "%s: message names it", what);
	if (secret)
		ok(!strstr(err, secret), "%s: the password is not in the message", what);
}

/* ---------------------------------------------------------------- SQLite */

static const char *const sqlite_sql[] = {
	"CREATE TABLE customers (id INTEGER PRIMARY KEY, name varchar(50) NOT NULL, email text UNIQUE,"
	" balance numeric(10,2) DEFAULT 0, created timestamp DEFAULT CURRENT_TIMESTAMP, flag boolean)",
	"CREATE TABLE orders (id integer NOT NULL PRIMARY KEY,"
	" cust integer REFERENCES customers(id) ON DELETE CASCADE, amount real, note char(10))",
	"CREATE TABLE order_lines (order_id int, line int, body blob, PRIMARY KEY (order_id, line),"
	" CONSTRAINT lines_order_fk FOREIGN KEY (order_id) REFERENCES orders(id) ON UPDATE SET NULL)",
	"CREATE INDEX orders_cust ON orders(cust)",
	"CREATE UNIQUE INDEX customers_name_email ON customers(name, email)",
	"CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 100",
	"CREATE TABLE \"用户表\" (\"编号\" int PRIMARY KEY, \"姓名\" varchar(20) NOT NULL, \"备注\" text, \"表情😀\" int)",
	"CREATE INDEX \"用户_姓名\" ON \"用户表\" (\"姓名\")",
	"CREATE TABLE a_b (x int)",
	"CREATE TABLE axb (y int)",
	"CREATE TABLE \"sl/ash\" (\"back\\slash\" int)",
	"INSERT INTO customers (name, email) VALUES ('a', 'a@x')",
	"ANALYZE",
};

static const struct want sqlite_want[] = {
	{ "database", "d", NULL, "def",
	  "dbms=SQLite\tdbms_version=*\tunsupported=check_constraints,view_dependencies" },
	{ "schema", "n:main", "d", "main", "" },
	{ "table", "r:main/customers", "n:main", "customers", "" },
	{ "column", "a:main/customers/id", "r:main/customers", "id",
	  "ordinal=1\ttype=INTEGER\tfamily=integer\tprecision=64\tnullable=true" },
	{ "column", "a:main/customers/name", "r:main/customers", "name",
	  "ordinal=2\ttype=varchar(50)\tfamily=string\tlength=50" },
	{ "column", "a:main/customers/email", "r:main/customers", "email",
	  "ordinal=3\ttype=TEXT\tfamily=string\tnullable=true" },
	{ "column", "a:main/customers/balance", "r:main/customers", "balance",
	  "ordinal=4\ttype=numeric(10,2)\tfamily=decimal\tprecision=10\tscale=2\tnullable=true\tdefault=0" },
	{ "column", "a:main/customers/created", "r:main/customers", "created",
	  "ordinal=5\ttype=timestamp\tfamily=timestamp\tnullable=true\tdefault=CURRENT_TIMESTAMP" },
	{ "column", "a:main/customers/flag", "r:main/customers", "flag",
	  "ordinal=6\ttype=boolean\tfamily=boolean\tnullable=true" },
	{ "primary_key", "c:main/customers/customers_pkey", "r:main/customers", "customers_pkey",
	  "columns=a:main/customers/id" },
	{ "unique", "c:main/customers/sqlite_autoindex_customers_1", "r:main/customers",
	  "sqlite_autoindex_customers_1", "columns=a:main/customers/email" },
	{ "unique", "c:main/customers/customers_name_email", "r:main/customers", "customers_name_email",
	  "columns=a:main/customers/name|a:main/customers/email" },
	{ "table", "r:main/orders", "n:main", "orders", "" },
	{ "column", "a:main/orders/id", "r:main/orders", "id",
	  "ordinal=1\ttype=INTEGER\tfamily=integer\tprecision=64" },
	{ "column", "a:main/orders/cust", "r:main/orders", "cust",
	  "ordinal=2\ttype=INTEGER\tfamily=integer\tprecision=64\tnullable=true" },
	{ "column", "a:main/orders/amount", "r:main/orders", "amount",
	  "ordinal=3\ttype=REAL\tfamily=float\tprecision=53\tnullable=true" },
	{ "column", "a:main/orders/note", "r:main/orders", "note",
	  "ordinal=4\ttype=char(10)\tfamily=char\tlength=10\tnullable=true" },
	{ "primary_key", "c:main/orders/orders_pkey", "r:main/orders", "orders_pkey", "columns=a:main/orders/id" },
	{ "index", "i:main/orders/orders_cust", "r:main/orders", "orders_cust", "columns=a:main/orders/cust" },
	{ "foreign_key", "c:main/orders/orders_cust_fkey", "r:main/orders", "orders_cust_fkey",
	  "columns=a:main/orders/cust\tref_table=r:main/customers\tref_columns=a:main/customers/id\t"
	  "on_update=NO ACTION\ton_delete=CASCADE" },
	{ "table", "r:main/order_lines", "n:main", "order_lines", "" },
	{ "column", "a:main/order_lines/order_id", "r:main/order_lines", "order_id",
	  "ordinal=1\ttype=INT\tfamily=integer\tprecision=64\tnullable=true" },
	{ "column", "a:main/order_lines/line", "r:main/order_lines", "line",
	  "ordinal=2\ttype=INT\tfamily=integer\tprecision=64\tnullable=true" },
	{ "column", "a:main/order_lines/body", "r:main/order_lines", "body",
	  "ordinal=3\ttype=BLOB\tfamily=binary\tnullable=true" },
	{ "primary_key", "c:main/order_lines/order_lines_pkey", "r:main/order_lines", "order_lines_pkey",
	  "columns=a:main/order_lines/order_id|a:main/order_lines/line" },
	{ "foreign_key", "c:main/order_lines/order_lines_order_id_fkey", "r:main/order_lines",
	  "order_lines_order_id_fkey",
	  "columns=a:main/order_lines/order_id\tref_table=r:main/orders\tref_columns=a:main/orders/id\t"
	  "on_update=SET NULL\ton_delete=NO ACTION" },
	{ "view", "r:main/big_orders", "n:main", "big_orders", "" },
	{ "column", "a:main/big_orders/id", "r:main/big_orders", "id",
	  "ordinal=1\ttype=INTEGER\tfamily=integer\tprecision=64\tnullable=true" },
	{ "column", "a:main/big_orders/amount", "r:main/big_orders", "amount",
	  "ordinal=2\ttype=REAL\tfamily=float\tprecision=53\tnullable=true" },
	{ "table", "r:main/用户表", "n:main", "用户表", "" },
	{ "column", "a:main/用户表/编号", "r:main/用户表", "编号",
	  "ordinal=1\ttype=INT\tfamily=integer\tprecision=64\tnullable=true" },
	{ "column", "a:main/用户表/姓名", "r:main/用户表", "姓名",
	  "ordinal=2\ttype=varchar(20)\tfamily=string\tlength=20" },
	{ "column", "a:main/用户表/备注", "r:main/用户表", "备注",
	  "ordinal=3\ttype=TEXT\tfamily=string\tnullable=true" },
	{ "column", "a:main/用户表/表情😀", "r:main/用户表", "表情😀",
	  "ordinal=4\ttype=INT\tfamily=integer\tprecision=64\tnullable=true" },
	{ "primary_key", "c:main/用户表/用户表_pkey", "r:main/用户表", "用户表_pkey", "columns=a:main/用户表/编号" },
	{ "index", "i:main/用户表/用户_姓名", "r:main/用户表", "用户_姓名", "columns=a:main/用户表/姓名" },
	{ "table", "r:main/a_b", "n:main", "a_b", "" },
	{ "column", "a:main/a_b/x", "r:main/a_b", "x", "ordinal=1\ttype=INT\tfamily=integer\tprecision=64\tnullable=true" },
	{ "table", "r:main/axb", "n:main", "axb", "" },
	{ "column", "a:main/axb/y", "r:main/axb", "y", "ordinal=1\ttype=INT\tfamily=integer\tprecision=64\tnullable=true" },
	{ "table", "r:main/sl\\/ash", "n:main", "sl/ash", "" },
	{ "column", "a:main/sl\\/ash/back\\\\slash", "r:main/sl\\/ash", "back\\slash",
	  "ordinal=1\ttype=INT\tfamily=integer\tprecision=64\tnullable=true" },
};

/* The database's dbms_version is whatever the library says: checked apart, not exactly. */
static void fix_version(struct snapshot *s)
{
	struct obj *db = snapshot_find(s, "d");

	if (db && obj_get(db, "dbms_version"))
		obj_set(db, "dbms_version", "*");
}

static void check_sqlite_dsn(const char *db)
{
	char *ini = xasprintf("%s/odbc.ini", tmpdir), err[DRIVER_ERRLEN];
	FILE *f = fopen(ini, "w");
	struct snapshot *s = NULL;
	int r;

	fprintf(f, "[prospector_测试]\nDriver = SQLite3\nDatabase = %s\n", db);
	fclose(f);
	setenv("ODBCINI", ini, 1);
	r = crawl("DSN=prospector_测试;", &s, err);
	ok(r == 0 && snapshot_find(s, "r:main/用户表"), "a DSN with a Chinese name, from ODBCINI, crawls: %s", err);
	snapshot_free(s);
	check_error("DSN=prospector_no_such_dsn;", DRIVER_E_CONFIG, "ODBC data source 'prospector_no_such_dsn' not found",
		    NULL, "unknown DSN");
	unsetenv("ODBCINI");
	free(ini);
}

/* Where psqlODBC writes its logs in this run (see sysini_line). */
static char pglogdir[300];

/*
 * A line of the system's odbcinst.ini as our copy has it. psqlODBC reads its global logging settings
 * from the section named after itself ("PostgreSQL Unicode" or "PostgreSQL ANSI", whatever the
 * driver's registered name): there, CommLog=1 as Debian has it (so that the test sees what Debian
 * does everywhere), Debug=0 (a global Debug=1 makes psqlODBC log from the moment it is loaded:
 * nothing a connection can do about it), and the logs in a directory of our own (psqlODBC ignores
 * TMPDIR; without Logdir it writes to /tmp).
 */
static void sysini_line(FILE *out, const char *line, bool *in_pg)
{
	static const char *const dropped[] = { "CommLog", "Debug", "Logdir", NULL };

	if (line[0] == '[')
		*in_pg = strncmp(line, "[PostgreSQL Unicode]", 20) == 0 || strncmp(line, "[PostgreSQL ANSI]", 17) == 0;
	for (const char *const *d = dropped; *in_pg && line[0] != '[' && *d; d++)
		if (strncasecmp(line, *d, strlen(*d)) == 0 && strchr(" =", line[strlen(*d)]))
			return;
	fputs(line, out);
	if (*in_pg && line[0] == '[')
		fprintf(out, "CommLog = 1\nDebug = 0\nLogdir = %s\n", pglogdir);
}

/*
 * The driver manager reads drivers from our own odbcinst.ini for the whole run: the system's, with
 * psqlODBC's logs set up as sysini_line says, plus a driver whose library is gone. unixODBC caches
 * the driver list it read first, and psqlODBC reads its settings when it is loaded, so this has to
 * be in place before any connection. False when there is no system file to start from.
 */
static bool sysini_setup(void)
{
	const char *sys = getenv("ODBCSYSINI");
	char *from = xasprintf("%s/odbcinst.ini", sys ? sys : "/etc"), *dir = xasprintf("%s/sysini", tmpdir);
	char *to = xasprintf("%s/odbcinst.ini", dir), line[1024];
	FILE *in = fopen(from, "r"), *out;
	bool done = false, in_pg = false;

	snprintf(pglogdir, sizeof(pglogdir), "%s/pglog", tmpdir);
	if (in && mkdir(dir, 0700) == 0 && mkdir(pglogdir, 0700) == 0 && (out = fopen(to, "w"))) {
		while (fgets(line, sizeof(line), in))
			sysini_line(out, line, &in_pg);
		fprintf(out, "\n[Prospector Broken]\nDriver = %s/libmissing.so\n", dir);
		fclose(out);
		setenv("ODBCSYSINI", dir, 1);
		done = true;
	}
	if (in)
		fclose(in);
	free(from);
	free(to);
	free(dir);
	return done;
}

/* A driver registered in odbcinst.ini whose library is gone: "could not be loaded", not "not
 * installed". */
static void check_broken_driver(bool sysini)
{
	if (!sysini) {
		ok(1, "registered driver without its library # SKIP no odbcinst.ini to copy");
		return;
	}
	check_error("Driver={Prospector Broken};", DRIVER_E_CONFIG, "ODBC driver 'Prospector Broken' could not be loaded",
		    NULL, "registered driver without its library");
}

static void check_sqlite_errors(void)
{
	char *ci, *path, err[DRIVER_ERRLEN];
	struct stat st;
	int r;

	check_error("Driver={Prospector No Such Driver};Database=/tmp/x.db;", DRIVER_E_CONFIG,
		    "ODBC driver 'Prospector No Such Driver' is not installed", NULL, "driver not installed");
	check_error("Driver=/nonexistent/libnothing.so;PWD=Sw0rdfish-Secret;", DRIVER_E_CONFIG,
		    "ODBC driver '/nonexistent/libnothing.so' is not installed", "Sw0rdfish", "driver library missing");
	check_error("", DRIVER_E_CONFIG, "conninfo is not set", NULL, "empty conninfo");
	check_error("just words PWD Sw0rdfish-Secret", DRIVER_E_CONFIG, "not an ODBC connection string", "Sw0rdfish",
		    "not key=value");
	check_error("Driver={SQLite3;PWD=Sw0rdfish-Secret", DRIVER_E_CONFIG, "not an ODBC connection string",
		    "Sw0rdfish", "unterminated brace");
	check_error("Driver=SQLite3;Database=/nonexistent/dir/x.db;", DRIVER_E_CONNECT, NULL, NULL,
		    "SQLite file in a missing directory");
	r = crawl_pw("DSN=hr;UID=u;PWD={Sw0rdfish-Secret};", NULL, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "a password in conninfo is refused: %s", err);
	ok(!strstr(err, "Sw0rdfish") && strstr(err, "secrets file"), "the message says where it belongs, not what it is");
	r = crawl_pw("Driver=SQLite3; Password = x;", NULL, NULL, err);
	is_int(r, DRIVER_E_CONFIG, "Password= too, in any case and spacing: %s", err);
	path = xasprintf("%s/never-created.db", tmpdir);
	ci = xasprintf("Driver=SQLite3;Database=%s;", path);
	r = crawl(ci, NULL, err);
	is_int(r, DRIVER_E_CONNECT, "a missing SQLite file is DRIVER_E_CONNECT: %s", err);
	ok(stat(path, &st) != 0, "and the crawl did not create it (NoCreat)");
	free(ci);
	free(path);
}

static void check_sqlite_scope(const char *ci)
{
	struct source_conf conf = { .name = "t", .driver = "odbc", .conninfo = (char *)ci, .timeout = 20,
				    .exclude = "main.orders" };
	char err[DRIVER_ERRLEN];
	struct snapshot *s = NULL;
	int r = driver_test_crawl(&conf, &s, err);

	/* the source drops out-of-scope tables; the driver only skips their key calls */
	ok(r == 0 && snapshot_find(s, "r:main/orders") && !snapshot_find(s, "c:main/orders/orders_pkey") &&
		   snapshot_find(s, "c:main/customers/customers_pkey"),
	   "out-of-scope tables get no key calls: %s", err);
	snapshot_free(s);
}

/* Through the sqlite3 library: SQLite ODBC mangles characters beyond the BMP in statement text
 * (it reads SQLWCHAR as UCS-2), though it reports them right in catalog results. */
static void sqlite_setup(const char *db)
{
	sqlite3 *h;
	char *msg = NULL;

	if (sqlite3_open(db, &h) != SQLITE_OK) {
		printf("Bail out! sqlite3_open %s\n", db);
		exit(1);
	}
	for (size_t i = 0; i < sizeof(sqlite_sql) / sizeof(sqlite_sql[0]); i++) {
		if (sqlite3_exec(h, sqlite_sql[i], NULL, NULL, &msg) != SQLITE_OK) {
			printf("# %s\nBail out! %s\n", sqlite_sql[i], msg);
			exit(1);
		}
	}
	sqlite3_close(h);
}

static void part_sqlite(bool sysini)
{
	char *db = xasprintf("%s/test.db", tmpdir), *ci = xasprintf("Driver=SQLite3;Database=%s;", db);
	char err[DRIVER_ERRLEN];
	struct snapshot *s = NULL;
	int r;

	sqlite_setup(db);
	r = crawl(ci, &s, err);
	if (!ok(r == 0, "SQLite: crawl: %s", err))
		return;
	dump(s);
	ok(strncmp(obj_get(snapshot_find(s, "d"), "dbms_version"), "3.", 2) == 0, "SQLite: dbms_version");
	fix_version(s);
	CHECK_EXACT(s, sqlite_want, NULL, NULL);
	snapshot_free(s);
	check_sqlite_scope(ci);
	check_sqlite_dsn(db);
	check_sqlite_errors();
	check_broken_driver(sysini);
	free(ci);
	free(db);
}

/* ---------------------------------------------------------------- PostgreSQL */

static char pgdb[64];

static const char *const pg_sql[] = {
	"CREATE SCHEMA \"Sales Dept\"",
	"CREATE SCHEMA a_b",
	"CREATE SCHEMA axb",
	"CREATE SCHEMA empty_one",
	"CREATE TABLE a_b.t (x int)",
	"CREATE TABLE axb.t (y int)",
	"CREATE DOMAIN \"Sales Dept\".email AS varchar(200)",
	"CREATE TABLE \"Sales Dept\".customers ("
	" id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name varchar(50) NOT NULL,"
	" email \"Sales Dept\".email CONSTRAINT customers_email_key UNIQUE,"
	" balance numeric(10,2) DEFAULT 0 CHECK (balance >= 0), created timestamptz(3) NOT NULL DEFAULT now(),"
	" tags int[], note text, flag boolean, ratio real, big bigint, at time(2), uid uuid, doc jsonb,"
	" n numeric, vc varchar, letter char(3), iv interval(3), ts timestamp, small smallint, raw bytea,"
	" addr inet, x xml)",
	"COMMENT ON TABLE \"Sales Dept\".customers IS '客户'",
	"COMMENT ON COLUMN \"Sales Dept\".customers.name IS '名字'",
	"CREATE TABLE \"Sales Dept\".orders (id bigserial PRIMARY KEY,"
	" customer_id integer NOT NULL CONSTRAINT orders_customer_fk"
	"  REFERENCES \"Sales Dept\".customers (id) ON DELETE CASCADE,"
	" amount float8, placed date)",
	"CREATE TABLE \"Sales Dept\".order_lines (order_id bigint, line int, body text,"
	" PRIMARY KEY (order_id, line), CONSTRAINT lines_order_fk FOREIGN KEY (order_id)"
	" REFERENCES \"Sales Dept\".orders (id) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED)",
	"CREATE INDEX orders_customer ON \"Sales Dept\".orders (customer_id)",
	"CREATE TABLE \"Sales Dept\".contacts (email \"Sales Dept\".email"
	" CONSTRAINT contacts_email_fk REFERENCES \"Sales Dept\".customers (email))",
	"CREATE UNIQUE INDEX customers_lower_name ON \"Sales Dept\".customers (lower(name))",
	"CREATE VIEW \"Sales Dept\".big_orders AS SELECT id, amount FROM \"Sales Dept\".orders WHERE amount > 100",
	"CREATE MATERIALIZED VIEW \"Sales Dept\".totals AS SELECT customer_id, sum(amount) AS total"
	" FROM \"Sales Dept\".orders GROUP BY customer_id",
	"CREATE INDEX totals_customer ON \"Sales Dept\".totals (customer_id)",
	"CREATE TABLE \"用户表\" (\"姓名\" varchar(20) NOT NULL, \"备注\" text)",
	"COMMENT ON TABLE \"用户表\" IS '人员信息'",
	"CREATE TABLE scratch (a int, gone int, b int)",
	"ALTER TABLE scratch DROP COLUMN gone",
};

static const struct want pg_want[] = {
	{ "database", "d", NULL, NULL,
	  "dbms=PostgreSQL\tdbms_version=*\tunsupported=check_constraints,comments,sequences,view_dependencies" },
	{ "column", "a:Sales Dept/big_orders/amount", "r:Sales Dept/big_orders", "amount",
	  "family=float\tnullable=true\tordinal=2\tprecision=53\ttype=float8" },
	{ "column", "a:Sales Dept/big_orders/id", "r:Sales Dept/big_orders", "id",
	  "family=integer\tnullable=true\tordinal=1\tprecision=64\ttype=int8" },
	{ "table", "r:Sales Dept/contacts", "n:Sales Dept", "contacts", "" },
	{ "column", "a:Sales Dept/contacts/email", "r:Sales Dept/contacts", "email",
	  "family=string\tlength=200\tnullable=true\tordinal=1\ttype=email" },
	{ "foreign_key", "c:Sales Dept/contacts/contacts_email_fk", "r:Sales Dept/contacts", "contacts_email_fk",
	  "columns=a:Sales Dept/contacts/email\ton_delete=NO ACTION\ton_update=NO ACTION\t"
	  "ref_columns=a:Sales Dept/customers/email\tref_table=r:Sales Dept/customers" },
	{ "column", "a:Sales Dept/customers/addr", "r:Sales Dept/customers", "addr",
	  "family=network\tnullable=true\tordinal=21\ttype=inet" },
	{ "column", "a:Sales Dept/customers/at", "r:Sales Dept/customers", "at",
	  "family=time\tnullable=true\tordinal=11\tprecision=2\ttype=time(2)" },
	{ "column", "a:Sales Dept/customers/balance", "r:Sales Dept/customers", "balance",
	  "default=0\tfamily=decimal\tnullable=true\tordinal=4\tprecision=10\tscale=2\ttype=numeric(10,2)" },
	{ "column", "a:Sales Dept/customers/big", "r:Sales Dept/customers", "big",
	  "family=integer\tnullable=true\tordinal=10\tprecision=64\ttype=int8" },
	{ "column", "a:Sales Dept/customers/created", "r:Sales Dept/customers", "created",
	  "default=now()\tfamily=timestamptz\tordinal=5\tprecision=3\ttype=timestamptz(3)" },
	{ "column", "a:Sales Dept/customers/doc", "r:Sales Dept/customers", "doc",
	  "family=json\tnullable=true\tordinal=13\ttype=jsonb" },
	{ "column", "a:Sales Dept/customers/email", "r:Sales Dept/customers", "email",
	  "family=string\tlength=200\tnullable=true\tordinal=3\ttype=email" },
	{ "column", "a:Sales Dept/customers/flag", "r:Sales Dept/customers", "flag",
	  "family=boolean\tnullable=true\tordinal=8\ttype=bool" },
	{ "column", "a:Sales Dept/customers/id", "r:Sales Dept/customers", "id",
	  "family=integer\tordinal=1\tprecision=32\ttype=int4" },
	{ "column", "a:Sales Dept/customers/iv", "r:Sales Dept/customers", "iv",
	  "family=interval\tnullable=true\tordinal=17\tprecision=3\ttype=interval(3)" },
	{ "column", "a:Sales Dept/customers/letter", "r:Sales Dept/customers", "letter",
	  "family=char\tlength=3\tnullable=true\tordinal=16\ttype=bpchar(3)" },
	{ "column", "a:Sales Dept/customers/n", "r:Sales Dept/customers", "n",
	  "family=decimal\tnullable=true\tordinal=14\ttype=numeric" },
	{ "column", "a:Sales Dept/customers/name", "r:Sales Dept/customers", "name",
	  "family=string\tlength=50\tordinal=2\ttype=varchar(50)" },
	{ "column", "a:Sales Dept/customers/note", "r:Sales Dept/customers", "note",
	  "family=string\tnullable=true\tordinal=7\ttype=text" },
	{ "column", "a:Sales Dept/customers/ratio", "r:Sales Dept/customers", "ratio",
	  "family=float\tnullable=true\tordinal=9\tprecision=24\ttype=float4" },
	{ "column", "a:Sales Dept/customers/raw", "r:Sales Dept/customers", "raw",
	  "family=binary\tnullable=true\tordinal=20\ttype=bytea" },
	{ "column", "a:Sales Dept/customers/small", "r:Sales Dept/customers", "small",
	  "family=integer\tnullable=true\tordinal=19\tprecision=16\ttype=int2" },
	{ "column", "a:Sales Dept/customers/tags", "r:Sales Dept/customers", "tags",
	  "family=array\tnullable=true\tordinal=6\ttype=_int4" },
	{ "column", "a:Sales Dept/customers/ts", "r:Sales Dept/customers", "ts",
	  "family=timestamp\tnullable=true\tordinal=18\ttype=timestamp" },
	{ "column", "a:Sales Dept/customers/uid", "r:Sales Dept/customers", "uid",
	  "family=uuid\tnullable=true\tordinal=12\ttype=uuid" },
	{ "column", "a:Sales Dept/customers/vc", "r:Sales Dept/customers", "vc",
	  "family=string\tnullable=true\tordinal=15\ttype=varchar" },
	{ "column", "a:Sales Dept/customers/x", "r:Sales Dept/customers", "x",
	  "family=xml\tnullable=true\tordinal=22\ttype=xml" },
	{ "column", "a:Sales Dept/order_lines/body", "r:Sales Dept/order_lines", "body",
	  "family=string\tnullable=true\tordinal=3\ttype=text" },
	{ "column", "a:Sales Dept/order_lines/line", "r:Sales Dept/order_lines", "line",
	  "family=integer\tordinal=2\tprecision=32\ttype=int4" },
	{ "column", "a:Sales Dept/order_lines/order_id", "r:Sales Dept/order_lines", "order_id",
	  "family=integer\tordinal=1\tprecision=64\ttype=int8" },
	{ "column", "a:Sales Dept/orders/amount", "r:Sales Dept/orders", "amount",
	  "family=float\tnullable=true\tordinal=3\tprecision=53\ttype=float8" },
	{ "column", "a:Sales Dept/orders/customer_id", "r:Sales Dept/orders", "customer_id",
	  "family=integer\tordinal=2\tprecision=32\ttype=int4" },
	{ "column", "a:Sales Dept/orders/id", "r:Sales Dept/orders", "id",
	  "default=nextval('\"Sales Dept\".orders_id_seq'::regclass)\tfamily=integer\tordinal=1\tprecision=64\ttype=int8" },
	{ "column", "a:Sales Dept/orders/placed", "r:Sales Dept/orders", "placed",
	  "family=date\tnullable=true\tordinal=4\ttype=date" },
	{ "column", "a:Sales Dept/totals/customer_id", "r:Sales Dept/totals", "customer_id",
	  "family=integer\tnullable=true\tordinal=1\tprecision=32\ttype=int4" },
	{ "column", "a:Sales Dept/totals/total", "r:Sales Dept/totals", "total",
	  "family=float\tnullable=true\tordinal=2\tprecision=53\ttype=float8" },
	{ "column", "a:a_b/t/x", "r:a_b/t", "x",
	  "family=integer\tnullable=true\tordinal=1\tprecision=32\ttype=int4" },
	{ "column", "a:axb/t/y", "r:axb/t", "y",
	  "family=integer\tnullable=true\tordinal=1\tprecision=32\ttype=int4" },
	{ "column", "a:public/scratch/a", "r:public/scratch", "a",
	  "family=integer\tnullable=true\tordinal=1\tprecision=32\ttype=int4" },
	{ "column", "a:public/scratch/b", "r:public/scratch", "b",
	  "family=integer\tnullable=true\tordinal=3\tprecision=32\ttype=int4" },
	{ "column", "a:public/用户表/备注", "r:public/用户表", "备注",
	  "family=string\tnullable=true\tordinal=2\ttype=text" },
	{ "column", "a:public/用户表/姓名", "r:public/用户表", "姓名",
	  "family=string\tlength=20\tordinal=1\ttype=varchar(20)" },
	{ "unique", "c:Sales Dept/customers/customers_email_key", "r:Sales Dept/customers", "customers_email_key",
	  "columns=a:Sales Dept/customers/email" },
	{ "primary_key", "c:Sales Dept/customers/customers_pkey", "r:Sales Dept/customers", "customers_pkey",
	  "columns=a:Sales Dept/customers/id" },
	{ "foreign_key", "c:Sales Dept/order_lines/lines_order_fk", "r:Sales Dept/order_lines", "lines_order_fk",
	  "columns=a:Sales Dept/order_lines/order_id\tdeferrable=DEFERRABLE INITIALLY DEFERRED\ton_delete=NO ACTION\ton_update=CASCADE\tref_columns=a:Sales Dept/orders/id\tref_table=r:Sales Dept/orders" },
	{ "primary_key", "c:Sales Dept/order_lines/order_lines_pkey", "r:Sales Dept/order_lines", "order_lines_pkey",
	  "columns=a:Sales Dept/order_lines/order_id|a:Sales Dept/order_lines/line" },
	{ "foreign_key", "c:Sales Dept/orders/orders_customer_fk", "r:Sales Dept/orders", "orders_customer_fk",
	  "columns=a:Sales Dept/orders/customer_id\ton_delete=CASCADE\ton_update=NO ACTION\tref_columns=a:Sales Dept/customers/id\tref_table=r:Sales Dept/customers" },
	{ "primary_key", "c:Sales Dept/orders/orders_pkey", "r:Sales Dept/orders", "orders_pkey",
	  "columns=a:Sales Dept/orders/id" },
	{ "index", "i:Sales Dept/customers/customers_lower_name", "r:Sales Dept/customers", "customers_lower_name",
	  "expressions=lower(name::text)\tunique=true" },
	{ "index", "i:Sales Dept/orders/orders_customer", "r:Sales Dept/orders", "orders_customer",
	  "columns=a:Sales Dept/orders/customer_id" },
	{ "index", "i:Sales Dept/totals/totals_customer", "r:Sales Dept/totals", "totals_customer",
	  "columns=a:Sales Dept/totals/customer_id" },
	{ "schema", "n:Sales Dept", "d", "Sales Dept",
	  "" },
	{ "schema", "n:a_b", "d", "a_b",
	  "" },
	{ "schema", "n:axb", "d", "axb",
	  "" },
	{ "schema", "n:empty_one", "d", "empty_one",
	  "" },
	{ "schema", "n:public", "d", "public",
	  "" },
	{ "view", "r:Sales Dept/big_orders", "n:Sales Dept", "big_orders",
	  "" },
	{ "table", "r:Sales Dept/customers", "n:Sales Dept", "customers",
	  "" },
	{ "table", "r:Sales Dept/order_lines", "n:Sales Dept", "order_lines",
	  "" },
	{ "table", "r:Sales Dept/orders", "n:Sales Dept", "orders",
	  "" },
	{ "matview", "r:Sales Dept/totals", "n:Sales Dept", "totals",
	  "" },
	{ "table", "r:a_b/t", "n:a_b", "t",
	  "" },
	{ "table", "r:axb/t", "n:axb", "t",
	  "" },
	{ "table", "r:public/scratch", "n:public", "scratch",
	  "" },
	{ "table", "r:public/用户表", "n:public", "用户表",
	  "" },
};

static char *pg_conninfo(const char *db, const char *user, const char *password)
{
	return xasprintf("Driver={PostgreSQL Unicode};Server=%s;Port=%s;Database=%s;Uid=%s;Pwd=%s;",
			 getenv("PROSPECTOR_TEST_PG_HOST") ? getenv("PROSPECTOR_TEST_PG_HOST") : "127.0.0.1",
			 getenv("PROSPECTOR_TEST_PG_PORT"), db, user, password);
}

/* A snapshot's objects of the kinds both drivers read, by path. */
static const struct obj *by_path(const struct snapshot *s, const char *path)
{
	const struct obj *found = NULL;
	struct buf tmp;

	buf_init(&tmp);
	for (size_t i = 0; !found && i < s->nobjs; i++)
		if (strcmp(obj_path(s->objs[i], &tmp), path) == 0)
			found = s->objs[i];
	buf_free(&tmp);
	return found;
}

static bool equiv_kind(enum obj_kind k)
{
	return k != OBJ_DATABASE && k != OBJ_SCHEMA && k != OBJ_CHECK && k != OBJ_SEQUENCE;
}

/* Attributes compared; REFS rendered as names, since the drivers' keys differ. */
static const char *const equiv_attrs[] = {
	"family", "length", "precision", "scale", "unsigned", "nullable", "ordinal", "default",
	"columns", "ref_table", "ref_columns", "on_update", "on_delete", "deferrable", "unique", NULL,
};

static char *rendered(const struct snapshot *s, const struct obj *o, const char *attr)
{
	const struct attr_def *d = model_attr_def(o->kind, attr);
	const char *v = obj_get(o, attr);

	if (!v)
		return NULL;
	return d && d->type == ATTR_REFS ? snapshot_render_refs(s, v) : xstrdup(v);
}

static bool equiv_obj(const struct snapshot *a, const struct obj *x, const struct snapshot *b, const struct obj *y)
{
	bool same = x->kind == y->kind;

	for (const char *const *attr = equiv_attrs; *attr; attr++) {
		char *u = rendered(a, x, *attr), *v = rendered(b, y, *attr);

		if ((u || v) && (!u || !v || strcmp(u, v) != 0)) {
			printf("#   %s %s: pg '%s', odbc '%s'\n", driver_test_path(x), *attr, u ? u : "(absent)", v ? v : "(absent)");
			same = false;
		}
		free(u);
		free(v);
	}
	return same;
}

/* The same database through driver_pg and through psqlODBC (issue 3, item 5). */
static void check_pg_equivalence(const struct snapshot *odbc)
{
	char *ci = xasprintf("%s dbname=%s", getenv("PROSPECTOR_TEST_PG"), pgdb), err[DRIVER_ERRLEN];
	struct source_conf conf = { .name = "t", .driver = "pg", .conninfo = ci, .timeout = 20 };
	const struct driver_ops *pg = driver_lookup("pg");
	struct snapshot *s = snapshot_new("t");
	size_t differ = 0, missing = 0;
	void *h = NULL;
	int r;

	err[0] = '\0';
	r = pg->open(&conf, &h, err);
	if (r == 0)
		r = pg->crawl(h, s, err);
	pg->close(h);
	if (!ok(r == 0 && snapshot_finish(s) == 0, "PostgreSQL: driver_pg crawls the same database: %s", err))
		goto out;
	for (size_t i = 0; i < s->nobjs; i++) {
		const struct obj *x = s->objs[i], *y = by_path(odbc, driver_test_path(x));

		if (!equiv_kind(x->kind))
			continue;
		if (!y) {
			printf("#   only through pg: %s %s\n", model_kind(x->kind)->name, driver_test_path(x));
			missing++;
		} else if (!equiv_obj(s, x, odbc, y)) {
			differ++;
		}
	}
	for (size_t i = 0; i < odbc->nobjs; i++) {
		if (equiv_kind(odbc->objs[i]->kind) && !by_path(s, driver_test_path(odbc->objs[i]))) {
			printf("#   only through odbc: %s\n", driver_test_path(odbc->objs[i]));
			missing++;
		}
	}
	is_int(missing, 0, "PostgreSQL: pg and odbc see the same tables, columns, keys and indexes");
	is_int(differ, 0, "PostgreSQL: with the same types, nullability, defaults and key columns");
out:
	snapshot_free(s);
	free(ci);
}

#define BRACE_PW "Br}ace;{Pw= x}}"

/* A password that needs ODBC's braces ('}' doubled; ';', '{', '=' and a space inside), given by the
 * secrets file, reaches psqlODBC intact. */
static void check_pg_brace_password(const char *admin)
{
	char *ci, *sql, err[DRIVER_ERRLEN];
	struct conn c;
	int r;

	if (!conn_open(&c, admin))
		return;
	conn_exec_ok(&c, "DROP ROLE IF EXISTS prospector_odbc_brace");
	conn_exec(&c, "CREATE ROLE prospector_odbc_brace LOGIN PASSWORD '" BRACE_PW "'");
	sql = xasprintf("GRANT CONNECT ON DATABASE %s TO prospector_odbc_brace", pgdb);
	conn_exec(&c, sql);
	free(sql);
	ci = xasprintf("Driver={PostgreSQL Unicode};Server=%s;Port=%s;Database=%s;Uid=prospector_odbc_brace;",
		       getenv("PROSPECTOR_TEST_PG_HOST") ? getenv("PROSPECTOR_TEST_PG_HOST") : "127.0.0.1",
		       getenv("PROSPECTOR_TEST_PG_PORT"), pgdb);
	r = crawl_pw(ci, BRACE_PW, NULL, err);
	is_int(r, 0, "PostgreSQL: a password with } ; { = and a space, from the secrets file: %s", err);
	r = crawl_pw(ci, "Br}ace;{Pw= x}", NULL, err);
	is_int(r, DRIVER_E_AUTH, "PostgreSQL: one brace fewer is another password: %s", err);
	ok(!strstr(err, "Br}ace"), "PostgreSQL: and the message does not hold it");
	free(ci);
	sql = xasprintf("REVOKE ALL ON DATABASE %s FROM prospector_odbc_brace", pgdb);
	conn_exec(&c, sql);
	free(sql);
	conn_exec(&c, "DROP ROLE prospector_odbc_brace");
	conn_close(&c);
}

static void check_pg_errors(const char *admin)
{
	char *ci, *sql;
	struct conn c;

	ci = pg_conninfo(pgdb, "postgres", "Wr0ng-Staple-Secret");
	check_error(ci, DRIVER_E_AUTH, "password authentication failed", "Wr0ng-Staple-Secret",
		    "PostgreSQL: wrong password");
	free(ci);
	ci = xasprintf("Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=1;Database=x;Uid=x;Pwd=Sw0rdfish-Secret;");
	check_error(ci, DRIVER_E_CONNECT, NULL, "Sw0rdfish", "PostgreSQL: nobody listening");
	free(ci);
	if (!conn_open(&c, admin))
		return;
	conn_exec_ok(&c, "DROP ROLE IF EXISTS prospector_odbc_noconn");
	conn_exec(&c, "CREATE ROLE prospector_odbc_noconn LOGIN PASSWORD 'No-Conn-Pass-1'");
	sql = xasprintf("REVOKE CONNECT ON DATABASE %s FROM PUBLIC", pgdb);
	conn_exec(&c, sql);
	free(sql);
	ci = pg_conninfo(pgdb, "prospector_odbc_noconn", "No-Conn-Pass-1");
	check_error(ci, DRIVER_E_PRIVILEGE, "permission denied", "No-Conn-Pass-1", "PostgreSQL: no CONNECT privilege");
	free(ci);
	sql = xasprintf("REVOKE ALL ON DATABASE %s FROM prospector_odbc_noconn", pgdb);
	conn_exec(&c, sql);
	free(sql);
	conn_exec(&c, "DROP ROLE prospector_odbc_noconn");
	conn_close(&c);
}

/*
 * psqlODBC's log files for process pid in dir: psqlodbc_[<program>_]<user><pid>.log (CommLog) and
 * mylog_[<program>_]<user><pid>.log (Debug), each named in a TAP comment.
 */
static time_t test_started;

/* A log file this run may have written: an older one is another process's that had the same pid
 * (a container's pids repeat from run to run). */
static bool pglog_recent(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	bool recent = stat(p, &st) == 0 && st.st_mtime >= test_started;

	free(p);
	return recent;
}

static size_t pglog_files(const char *dir, pid_t pid)
{
	const struct passwd *pw = getpwuid(getuid());
	char *suffix = xasprintf("%s%ld.log", pw ? pw->pw_name : "", (long)pid);
	size_t n = 0, slen = strlen(suffix);
	DIR *d = opendir(dir);
	const struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0 ||
		    (strncmp(e->d_name, "psqlodbc_", 9) != 0 && strncmp(e->d_name, "mylog_", 6) != 0) ||
		    !pglog_recent(dir, e->d_name))
			continue;
		printf("#   %s/%s\n", dir, e->d_name);
		n++;
	}
	if (d)
		closedir(d);
	free(suffix);
	return n;
}

#define CHILD_CONNINFO "PROSPECTOR_TEST_ODBC_CHILD"

/* This program's path, for the child processes: argv[0] when it has a '/' (under valgrind,
 * /proc/self/exe is valgrind). */
static const char *self_path = "/proc/self/exe";

/* This program again, as `mode` with conninfo: psqlODBC keeps its logging state per process, and
 * this one has connections of its own. Returns the child's pid; *ret_ok: it exited 0. */
static pid_t child_run(const char *mode, const char *conninfo, bool *ret_ok)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setenv(CHILD_CONNINFO, conninfo, 1);
		execl(self_path, "test-driver-odbc", mode, (char *)NULL);
		_exit(127);
	}
	*ret_ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	return pid;
}

/* The child's side: "--crawl" crawls through the driver, "--connect" only connects, as any ODBC
 * program would. */
static int child_main(const char *mode)
{
	const char *ci = getenv(CHILD_CONNINFO);
	char err[DRIVER_ERRLEN];
	struct conn c;

	if (!ci)
		return 2;
	if (strcmp(mode, "--connect") == 0) {
		if (!conn_open(&c, ci))
			return 1;
		conn_close(&c);
		return 0;
	}
	if (crawl(ci, NULL, err) != 0) {
		printf("#   child crawl: %s\n", err);
		return 1;
	}
	return 0;
}

/* A crawl in a process of its own leaves no psqlODBC log, in Logdir or in /tmp. */
static void check_no_pglog(const char *conninfo, const char *what)
{
	bool ran;
	pid_t pid = child_run("--crawl", conninfo, &ran);

	ok(ran, "psqlODBC logs: %s: the crawl succeeds", what);
	is_int(pglog_files(pglogdir, pid) + pglog_files("/tmp", pid), 0, "psqlODBC logs: %s: no log file", what);
}

/*
 * No driver log (issue 3): with CommLog=1 in odbcinst.ini as Debian registers psqlODBC, through
 * Driver=, through a connection string that asks for the logs, and through a DSN that does. First
 * a plain connection that asks for them, to show that the check sees a log where there is one.
 */
static void check_pg_logs(bool sysini, const char *ci)
{
	char *ini = xasprintf("%s/pg-odbc.ini", tmpdir), *loud = xasprintf("%sCommLog=1;Debug=1;", ci);
	FILE *f;
	bool ran;
	pid_t pid;

	if (!sysini) {
		ok(1, "psqlODBC logs # SKIP no odbcinst.ini to copy");
		goto out;
	}
	pid = child_run("--connect", loud, &ran);
	ok(ran && pglog_files(pglogdir, pid) > 0, "psqlODBC logs: a plain connection that asks for them writes them");
	check_no_pglog(ci, "Driver=");
	check_no_pglog(loud, "CommLog=1;Debug=1 in the connection string");
	f = fopen(ini, "w");
	fprintf(f, "[prospector_pg]\nDriver = PostgreSQL Unicode\nServername = %s\nPort = %s\nDatabase = %s\n"
		"Username = postgres\nPassword = %s\nCommLog = 1\nDebug = 1\n",
		getenv("PROSPECTOR_TEST_PG_HOST") ? getenv("PROSPECTOR_TEST_PG_HOST") : "127.0.0.1",
		getenv("PROSPECTOR_TEST_PG_PORT"), pgdb, driver_test_password("PROSPECTOR_TEST_PG_PASSWORD_FILE"));
	fclose(f);
	setenv("ODBCINI", ini, 1);
	check_no_pglog("DSN=prospector_pg;", "a DSN with CommLog=1 and Debug=1");
	unsetenv("ODBCINI");
out:
	free(loud);
	free(ini);
}

static void part_pg(bool sysini)
{
	const char *port = getenv("PROSPECTOR_TEST_PG_PORT"), *pw = driver_test_password("PROSPECTOR_TEST_PG_PASSWORD_FILE");
	char *admin, *ci, *sql, err[DRIVER_ERRLEN];
	struct snapshot *s = NULL;
	struct conn c;
	int r;

	if (!port || !pw || !getenv("PROSPECTOR_TEST_PG")) {
		skip_part("PostgreSQL through psqlODBC", "PROSPECTOR_TEST_PG, _PORT and _PASSWORD are not all set");
		return;
	}
	snprintf(pgdb, sizeof(pgdb), "prospector_odbc_%ld", (long)getpid());
	admin = pg_conninfo("postgres", "postgres", pw);
	if (!conn_open(&c, admin)) {
		printf("Bail out! cannot connect to PostgreSQL through psqlODBC\n");
		exit(1);
	}
	sql = xasprintf("DROP DATABASE IF EXISTS %s", pgdb);
	conn_exec(&c, sql);
	free(sql);
	sql = xasprintf("CREATE DATABASE %s ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", pgdb);
	conn_exec(&c, sql);
	free(sql);
	ci = pg_conninfo(pgdb, "postgres", pw);
	exec_all(ci, pg_sql, sizeof(pg_sql) / sizeof(pg_sql[0]));
	r = crawl(ci, &s, err);
	if (ok(r == 0, "PostgreSQL: crawl: %s", err)) {
		dump(s);
		ok(strncmp(obj_get(snapshot_find(s, "d"), "dbms_version"), "1", 1) == 0, "PostgreSQL: dbms_version");
		is_str(snapshot_find(s, "d")->name, pgdb, "PostgreSQL: the database is the current catalog");
		check_pg_equivalence(s);
		fix_version(s);
		CHECK_EXACT(s, pg_want, NULL, NULL);
	}
	snapshot_free(s);
	check_pg_logs(sysini, ci);
	check_pg_errors(admin);
	check_pg_brace_password(admin);
	sql = xasprintf("DROP DATABASE %s", pgdb);
	conn_exec_ok(&c, sql);
	free(sql);
	conn_close(&c);
	free(ci);
	free(admin);
}

/* ---------------------------------------------------------------- MariaDB */

static char mydb[64];

/* Statements with "@" in them get the test database's name there. */
static const char *const my_sql[] = {
	"CREATE DATABASE `@` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
	"CREATE TABLE `@`.customers (id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
	" name varchar(50) NOT NULL COMMENT '名字', email varchar(200) UNIQUE, balance decimal(10,2) DEFAULT 0,"
	" created datetime NOT NULL DEFAULT CURRENT_TIMESTAMP, flag tinyint(1), big bigint unsigned, f float,"
	" d double, c char(3), tx text, bl blob, bn binary(4), da date, y year, e enum('a','b'), j json,"
	" CHECK (balance >= 0)) COMMENT '客户'",
	"CREATE TABLE `@`.orders (id bigint PRIMARY KEY, customer_id int unsigned NOT NULL, amount double,"
	" CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES `@`.customers (id) ON DELETE CASCADE)",
	"CREATE TABLE `@`.order_lines (order_id bigint, line int, body text, PRIMARY KEY (order_id, line),"
	" CONSTRAINT lines_order_fk FOREIGN KEY (order_id) REFERENCES `@`.orders (id) ON UPDATE CASCADE)",
	"CREATE INDEX orders_amount ON `@`.orders (amount)",
	"CREATE UNIQUE INDEX customers_name_c ON `@`.customers (name, c)",
	"CREATE VIEW `@`.big_orders AS SELECT id, amount FROM `@`.orders WHERE amount > 100",
	"CREATE TABLE `@`.`用户表` (`编号` int PRIMARY KEY, `姓名` varchar(20) NOT NULL COMMENT '姓名列', `备注` text)"
	" COMMENT '人员信息'",
	"CREATE TABLE `@`.events (id int AUTO_INCREMENT PRIMARY KEY, flags bit(8), updated datetime(3),"
	" stamp timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), at time(2), gone timestamp NULL)",
	"CREATE DATABASE `@_a_b`",
	"CREATE TABLE `@_a_b`.t (x int PRIMARY KEY)",
	"CREATE DATABASE `@_axb`",
	"CREATE TABLE `@_axb`.t (y int)",
	/* foreign keys MariaDB Connector/ODBC's SQLForeignKeys leaves out: to a UNIQUE key, to a
	 * composite one, to a plain index; and one named like a unique key of its table */
	"CREATE DATABASE `fk_@` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
	"CREATE TABLE `fk_@`.contacts (id int PRIMARY KEY, email varchar(200), nm varchar(50), cc char(3),"
	" amount double, alt varchar(200), UNIQUE KEY contacts_alt (alt),"
	" CONSTRAINT contacts_email_fk FOREIGN KEY (email) REFERENCES `@`.customers (email)"
	"  ON UPDATE CASCADE ON DELETE SET NULL,"
	" CONSTRAINT contacts_name_fk FOREIGN KEY (nm, cc) REFERENCES `@`.customers (name, c),"
	" CONSTRAINT contacts_amount_fk FOREIGN KEY (amount) REFERENCES `@`.orders (amount),"
	" CONSTRAINT contacts_alt FOREIGN KEY (alt) REFERENCES `@`.customers (email))",
	"CREATE TABLE `fk_@`.own (id int PRIMARY KEY, code varchar(20) UNIQUE, parent varchar(20),"
	" CONSTRAINT own_parent_fk FOREIGN KEY (parent) REFERENCES `fk_@`.own (code) ON DELETE SET NULL)",
};

static const struct want my_fk_want[] = {
	{ "foreign_key", "c:fk_@/contacts/contacts_email_fk", "r:fk_@/contacts", "contacts_email_fk",
	  "columns=a:fk_@/contacts/email\tref_table=r:@/customers\tref_columns=a:@/customers/email\t"
	  "on_update=CASCADE\ton_delete=SET NULL\tmatch=SIMPLE" },
	{ "foreign_key", "c:fk_@/contacts/contacts_name_fk", "r:fk_@/contacts", "contacts_name_fk",
	  "columns=a:fk_@/contacts/nm|a:fk_@/contacts/cc\tref_table=r:@/customers\t"
	  "ref_columns=a:@/customers/name|a:@/customers/c\ton_update=RESTRICT\ton_delete=RESTRICT\tmatch=SIMPLE" },
	{ "foreign_key", "c:fk_@/contacts/contacts_amount_fk", "r:fk_@/contacts", "contacts_amount_fk",
	  "columns=a:fk_@/contacts/amount\tref_table=r:@/orders\tref_columns=a:@/orders/amount\t"
	  "on_update=RESTRICT\ton_delete=RESTRICT\tmatch=SIMPLE" },
	{ "foreign_key", "c:fk_@/contacts/contacts_alt/foreign_key", "r:fk_@/contacts", "contacts_alt",
	  "columns=a:fk_@/contacts/alt\tref_table=r:@/customers\tref_columns=a:@/customers/email\t"
	  "on_update=RESTRICT\ton_delete=RESTRICT\tmatch=SIMPLE" },
	{ "foreign_key", "c:fk_@/own/own_parent_fk", "r:fk_@/own", "own_parent_fk",
	  "columns=a:fk_@/own/parent\tref_table=r:fk_@/own\tref_columns=a:fk_@/own/code\t"
	  "on_update=RESTRICT\ton_delete=SET NULL\tmatch=SIMPLE" },
};

static const struct want my_want[] = {
	{ "database", "d", NULL, "def", "dbms=MariaDB\tdbms_version=*\tunsupported=check_constraints,sequences,view_dependencies" },
	/* what MariaDB Connector/ODBC's SQLColumns gets wrong, put right by the column_fixes query */
	{ "table", "r:@/events", "n:@", "events", "" },
	{ "column", "a:@/events/id", "r:@/events", "id", "family=integer\tordinal=1\tprecision=32\ttype=INT" },
	{ "column", "a:@/events/flags", "r:@/events", "flags",
	  "family=bit\tlength=8\tnullable=true\tordinal=2\ttype=BIT(8)" },
	{ "column", "a:@/events/updated", "r:@/events", "updated",
	  "family=timestamp\tprecision=3\tnullable=true\tordinal=3\ttype=DATETIME(3)" },
	{ "column", "a:@/events/stamp", "r:@/events", "stamp",
	  "family=timestamptz\tprecision=6\tordinal=4\ttype=TIMESTAMP(6)\tdefault=current_timestamp(6)" },
	{ "column", "a:@/events/at", "r:@/events", "at", "family=time\tprecision=2\tnullable=true\tordinal=5\ttype=TIME(2)" },
	{ "column", "a:@/events/gone", "r:@/events", "gone", "family=timestamptz\tnullable=true\tordinal=6\ttype=TIMESTAMP" },
	{ "primary_key", "c:@/events/PRIMARY", "r:@/events", "PRIMARY", "columns=a:@/events/id" },
	{ "column", "a:@/big_orders/amount", "r:@/big_orders", "amount",
	  "family=float\tnullable=true\tordinal=2\tprecision=53\ttype=DOUBLE" },
	{ "column", "a:@/big_orders/id", "r:@/big_orders", "id",
	  "family=integer\tordinal=1\tprecision=64\ttype=BIGINT" },
	{ "column", "a:@/customers/balance", "r:@/customers", "balance",
	  "default=0.00\tfamily=decimal\tnullable=true\tordinal=4\tprecision=10\tscale=2\ttype=DECIMAL(10,2)" },
	{ "column", "a:@/customers/big", "r:@/customers", "big",
	  "family=integer\tnullable=true\tordinal=7\tprecision=64\ttype=BIGINT UNSIGNED\tunsigned=true" },
	{ "column", "a:@/customers/bl", "r:@/customers", "bl",
	  "family=binary\tnullable=true\tordinal=12\ttype=BLOB" },
	{ "column", "a:@/customers/bn", "r:@/customers", "bn",
	  "family=binary\tlength=4\tnullable=true\tordinal=13\ttype=BINARY(4)" },
	{ "column", "a:@/customers/c", "r:@/customers", "c",
	  "family=char\tlength=3\tnullable=true\tordinal=10\ttype=CHAR(3)" },
	{ "column", "a:@/customers/created", "r:@/customers", "created",
	  "default=current_timestamp()\tfamily=timestamp\tordinal=5\ttype=DATETIME" },
	{ "column", "a:@/customers/d", "r:@/customers", "d",
	  "family=float\tnullable=true\tordinal=9\tprecision=53\ttype=DOUBLE" },
	{ "column", "a:@/customers/da", "r:@/customers", "da",
	  "family=date\tnullable=true\tordinal=14\ttype=DATE" },
	{ "column", "a:@/customers/e", "r:@/customers", "e",
	  "family=enum\tnullable=true\tordinal=16\ttype=ENUM" },
	{ "column", "a:@/customers/email", "r:@/customers", "email",
	  "family=string\tlength=200\tnullable=true\tordinal=3\ttype=VARCHAR(200)" },
	{ "column", "a:@/customers/f", "r:@/customers", "f",
	  "family=float\tnullable=true\tordinal=8\tprecision=24\ttype=FLOAT" },
	{ "column", "a:@/customers/flag", "r:@/customers", "flag",
	  "family=integer\tnullable=true\tordinal=6\tprecision=8\ttype=TINYINT" },
	{ "column", "a:@/customers/id", "r:@/customers", "id",
	  "family=integer\tordinal=1\tprecision=32\ttype=INT UNSIGNED\tunsigned=true" },
	{ "column", "a:@/customers/j", "r:@/customers", "j",
	  "family=string\tnullable=true\tordinal=17\ttype=LONGTEXT" },
	{ "column", "a:@/customers/name", "r:@/customers", "name",
	  "comment=名字\tfamily=string\tlength=50\tordinal=2\ttype=VARCHAR(50)" },
	{ "column", "a:@/customers/tx", "r:@/customers", "tx",
	  "family=string\tnullable=true\tordinal=11\ttype=TEXT" },
	{ "column", "a:@/customers/y", "r:@/customers", "y",
	  "family=integer\tnullable=true\tordinal=15\tprecision=16\ttype=YEAR" },
	{ "column", "a:@/order_lines/body", "r:@/order_lines", "body",
	  "family=string\tnullable=true\tordinal=3\ttype=TEXT" },
	{ "column", "a:@/order_lines/line", "r:@/order_lines", "line",
	  "family=integer\tordinal=2\tprecision=32\ttype=INT" },
	{ "column", "a:@/order_lines/order_id", "r:@/order_lines", "order_id",
	  "family=integer\tordinal=1\tprecision=64\ttype=BIGINT" },
	{ "column", "a:@/orders/amount", "r:@/orders", "amount",
	  "family=float\tnullable=true\tordinal=3\tprecision=53\ttype=DOUBLE" },
	{ "column", "a:@/orders/customer_id", "r:@/orders", "customer_id",
	  "family=integer\tordinal=2\tprecision=32\ttype=INT UNSIGNED\tunsigned=true" },
	{ "column", "a:@/orders/id", "r:@/orders", "id",
	  "family=integer\tordinal=1\tprecision=64\ttype=BIGINT" },
	{ "column", "a:@/用户表/备注", "r:@/用户表", "备注",
	  "family=string\tnullable=true\tordinal=3\ttype=TEXT" },
	{ "column", "a:@/用户表/姓名", "r:@/用户表", "姓名",
	  "comment=姓名列\tfamily=string\tlength=20\tordinal=2\ttype=VARCHAR(20)" },
	{ "column", "a:@/用户表/编号", "r:@/用户表", "编号",
	  "family=integer\tordinal=1\tprecision=32\ttype=INT" },
	{ "column", "a:@_a_b/t/x", "r:@_a_b/t", "x",
	  "family=integer\tordinal=1\tprecision=32\ttype=INT" },
	{ "column", "a:@_axb/t/y", "r:@_axb/t", "y",
	  "family=integer\tnullable=true\tordinal=1\tprecision=32\ttype=INT" },
	{ "primary_key", "c:@/customers/PRIMARY", "r:@/customers", "PRIMARY",
	  "columns=a:@/customers/id" },
	{ "unique", "c:@/customers/customers_name_c", "r:@/customers", "customers_name_c",
	  "columns=a:@/customers/name|a:@/customers/c" },
	{ "unique", "c:@/customers/email", "r:@/customers", "email",
	  "columns=a:@/customers/email" },
	{ "primary_key", "c:@/order_lines/PRIMARY", "r:@/order_lines", "PRIMARY",
	  "columns=a:@/order_lines/order_id|a:@/order_lines/line" },
	{ "foreign_key", "c:@/order_lines/lines_order_fk", "r:@/order_lines", "lines_order_fk",
	  "columns=a:@/order_lines/order_id\ton_delete=RESTRICT\ton_update=CASCADE\tmatch=SIMPLE\t"
	  "ref_columns=a:@/orders/id\tref_table=r:@/orders" },
	{ "primary_key", "c:@/orders/PRIMARY", "r:@/orders", "PRIMARY",
	  "columns=a:@/orders/id" },
	{ "foreign_key", "c:@/orders/orders_customer_fk", "r:@/orders", "orders_customer_fk",
	  "columns=a:@/orders/customer_id\ton_delete=CASCADE\ton_update=RESTRICT\tmatch=SIMPLE\t"
	  "ref_columns=a:@/customers/id\tref_table=r:@/customers" },
	{ "primary_key", "c:@/用户表/PRIMARY", "r:@/用户表", "PRIMARY",
	  "columns=a:@/用户表/编号" },
	{ "primary_key", "c:@_a_b/t/PRIMARY", "r:@_a_b/t", "PRIMARY",
	  "columns=a:@_a_b/t/x" },
	{ "index", "i:@/orders/orders_amount", "r:@/orders", "orders_amount",
	  "columns=a:@/orders/amount" },
	{ "index", "i:@/orders/orders_customer_fk", "r:@/orders", "orders_customer_fk",
	  "columns=a:@/orders/customer_id" },
	{ "schema", "n:@", "d", "@",
	  "" },
	{ "schema", "n:@_a_b", "d", "@_a_b",
	  "" },
	{ "schema", "n:@_axb", "d", "@_axb",
	  "" },
	{ "view", "r:@/big_orders", "n:@", "big_orders",
	  "" },
	{ "table", "r:@/customers", "n:@", "customers",
	  "comment=客户" },
	{ "table", "r:@/order_lines", "n:@", "order_lines",
	  "" },
	{ "table", "r:@/orders", "n:@", "orders",
	  "" },
	{ "table", "r:@/用户表", "n:@", "用户表",
	  "comment=人员信息" },
	{ "table", "r:@_a_b/t", "n:@_a_b", "t",
	  "" },
	{ "table", "r:@_axb/t", "n:@_axb", "t",
	  "" },
};

static char *my_conninfo(const char *password)
{
	const char *port = getenv("PROSPECTOR_TEST_MYSQL_PORT"), *user = getenv("PROSPECTOR_TEST_MYSQL_USER");

	if (port && *port)
		return xasprintf("Driver={MariaDB Unicode};Server=%s;Port=%s;Uid=%s;Pwd=%s;",
				 getenv("PROSPECTOR_TEST_MYSQL_HOST") ? getenv("PROSPECTOR_TEST_MYSQL_HOST") : "127.0.0.1",
				 port, user ? user : "root", password);
	return xasprintf("Driver={MariaDB Unicode};Socket=%s;Uid=%s;Pwd=%s;", getenv("PROSPECTOR_TEST_MYSQL_SOCKET"),
			 user ? user : "root", password);
}

/* "@" in a statement stands for the test database's name. */
static char *my_stmt(const char *sql)
{
	char *out = xmalloc(strlen(sql) * 4 + 64), *o = out;

	for (const char *p = sql; *p; p++) {
		if (*p == '@')
			o += sprintf(o, "%s", mydb);
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

static void my_exec_all(struct conn *c, const char *const *sql, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *stmt = my_stmt(sql[i]);

		conn_exec(c, stmt);
		free(stmt);
	}
}

/* The foreign keys of the test's fk_ database. */
static bool my_fk_mine(const struct obj *o, const void *arg)
{
	char *prefix = xasprintf("c:fk_%s/", mydb);
	bool mine = o->kind == OBJ_FOREIGN_KEY && strncmp(o->key, prefix, strlen(prefix)) == 0;

	(void)arg;
	free(prefix);
	return mine;
}

/* Whether two objects have the same kind, parent, name and attributes, naming what differs. */
static bool same_obj(const struct obj *x, const struct obj *y)
{
	bool same = x->kind == y->kind && strcmp(x->name, y->name) == 0 && x->nattrs == y->nattrs &&
		    ((!x->parent && !y->parent) || (x->parent && y->parent && strcmp(x->parent, y->parent) == 0));

	for (size_t i = 0; i < x->nattrs; i++) {
		const char *v = obj_get(y, obj_attr(x, i).name);

		if (!v || strcmp(v, obj_attr(x, i).value) != 0) {
			printf("#   %s %s: mysql '%s', odbc '%s'\n", x->key, obj_attr(x, i).name, obj_attr(x, i).value,
			       v ? v : "(absent)");
			same = false;
		}
	}
	if (x->nattrs != y->nattrs)
		printf("#   %s: mysql %u attributes, odbc %u\n", x->key, x->nattrs, y->nattrs);
	return same;
}

/* The foreign keys of the fk_ database through driver_mysql: the same objects, attribute for
 * attribute (DESIGN: the same catalog from every driver). */
static void check_my_fk_native(const struct snapshot *odbc)
{
	const struct driver_ops *my = driver_lookup("mysql");
	struct source_conf conf = { .name = "t", .driver = "mysql", .conninfo = getenv("PROSPECTOR_TEST_MYSQL"),
				    .timeout = 20 };
	struct snapshot *s = snapshot_new("t");
	size_t nnative = 0, nodbc = 0, differ = 0;
	char err[DRIVER_ERRLEN] = "";
	void *h = NULL;
	int r;

	if (!my || !conf.conninfo) {
		skip_part("MariaDB: foreign keys as driver_mysql reads them", "no mysql driver or PROSPECTOR_TEST_MYSQL");
		snapshot_free(s);
		return;
	}
	r = my->open(&conf, &h, err);
	if (r == 0)
		r = my->crawl(h, s, err);
	my->close(h);
	if (ok(r == 0 && snapshot_finish(s) == 0, "MariaDB: driver_mysql crawls the same server: %s", err)) {
		for (size_t i = 0; i < s->nobjs; i++) {
			const struct obj *x = s->objs[i], *y = snapshot_find(odbc, x->key);

			if (!my_fk_mine(x, NULL))
				continue;
			nnative++;
			if (!y)
				printf("#   only through mysql: %s\n", x->key);
			differ += !y || !same_obj(x, y);
		}
		for (size_t i = 0; i < odbc->nobjs; i++)
			nodbc += my_fk_mine(odbc->objs[i], NULL);
		is_int(nnative, sizeof(my_fk_want) / sizeof(my_fk_want[0]), "MariaDB: driver_mysql sees every foreign key");
		is_int(nodbc, nnative, "MariaDB: odbc sees as many foreign keys as driver_mysql");
		is_int(differ, 0, "MariaDB: each exactly as driver_mysql has it (key, name, every attribute)");
	}
	snapshot_free(s);
}

/* Objects in the test's three databases: the server has others (other suites run beside us). */
static bool my_mine(const struct obj *o, const void *arg)
{
	const char *k = strchr(o->key, ':');
	size_t n = strlen(mydb);

	(void)arg;
	return k && strncmp(k + 1, mydb, n) == 0 && (k[n + 1] == '/' || k[n + 1] == '_' || !k[n + 1]);
}

/* The same through MariaDB Connector/ODBC, as a user of our own on the admin's connection's server. */
static void check_my_brace_password(struct conn *c, const char *admin_ci)
{
	char *ci = xstrdup(admin_ci), *pw, *user, *at, err[DRIVER_ERRLEN];
	int r;

	pwd_split(ci, &pw);
	free(pw);
	user = strstr(ci, "Uid=");
	at = user ? strchr(user, ';') : NULL;
	if (!at) {
		ok(0, "MariaDB: the admin's connection string names a Uid");
		free(ci);
		return;
	}
	memmove(user, at + 1, strlen(at + 1) + 1);
	user = xasprintf("%sUid=prospector_odbc_brace;", ci);
	conn_exec_ok(c, "DROP USER IF EXISTS 'prospector_odbc_brace'@'%'");
	conn_exec(c, "CREATE USER 'prospector_odbc_brace'@'%' IDENTIFIED BY '" BRACE_PW "'");
	conn_exec(c, "CREATE USER IF NOT EXISTS 'prospector_odbc_brace'@'localhost' IDENTIFIED BY '" BRACE_PW "'");
	r = crawl_pw(user, BRACE_PW, NULL, err);
	is_int(r, 0, "MariaDB: a password with } ; { = and a space, from the secrets file: %s", err);
	r = crawl_pw(user, "Br}ace;{Pw= x}", NULL, err);
	is_int(r, DRIVER_E_AUTH, "MariaDB: one brace fewer is another password: %s", err);
	ok(!strstr(err, "Br}ace"), "MariaDB: and the message does not hold it");
	conn_exec(c, "DROP USER 'prospector_odbc_brace'@'%'");
	conn_exec(c, "DROP USER 'prospector_odbc_brace'@'localhost'");
	free(user);
	free(ci);
}

static void part_mariadb(void)
{
	const char *pw = driver_test_password("PROSPECTOR_TEST_MYSQL_PASSWORD_FILE");
	static const char *const drop[] = { "DROP DATABASE IF EXISTS `fk_@`", "DROP DATABASE IF EXISTS `@`",
					    "DROP DATABASE IF EXISTS `@_a_b`", "DROP DATABASE IF EXISTS `@_axb`" };
	char *ci, *bad, err[DRIVER_ERRLEN];
	struct snapshot *s = NULL;
	struct conn c;
	int r;

	if (!pw || !(getenv("PROSPECTOR_TEST_MYSQL_PORT") || getenv("PROSPECTOR_TEST_MYSQL_SOCKET"))) {
		skip_part("MariaDB through MariaDB Connector/ODBC",
			  "PROSPECTOR_TEST_MYSQL_PASSWORD_FILE and _PORT or _SOCKET are not set");
		return;
	}
	snprintf(mydb, sizeof(mydb), "podbc_%ld", (long)getpid());
	ci = my_conninfo(pw);
	if (!conn_open(&c, ci)) {
		printf("Bail out! cannot connect to MariaDB through MariaDB Connector/ODBC\n");
		exit(1);
	}
	my_exec_all(&c, drop, sizeof(drop) / sizeof(drop[0]));
	my_exec_all(&c, my_sql, sizeof(my_sql) / sizeof(my_sql[0]));
	r = crawl(ci, &s, err);
	if (ok(r == 0, "MariaDB: crawl: %s", err)) {
		dump(s);
		ok(strncmp(obj_get(snapshot_find(s, "d"), "dbms_version"), "1", 1) == 0, "MariaDB: dbms_version");
		fix_version(s);
		want_at = mydb;
		CHECK_EXACT(s, my_want, my_mine, NULL);
		CHECK_EXACT(s, my_fk_want, my_fk_mine, NULL);
		want_at = NULL;
		check_my_fk_native(s);
	}
	snapshot_free(s);
	bad = my_conninfo("Wr0ng-Staple-Secret");
	check_error(bad, DRIVER_E_AUTH, "Access denied", "Wr0ng-Staple-Secret", "MariaDB: wrong password");
	free(bad);
	check_error("Driver={MariaDB Unicode};Server=127.0.0.1;Port=1;Uid=x;Pwd=Sw0rdfish-Secret;", DRIVER_E_CONNECT,
		    NULL, "Sw0rdfish", "MariaDB: nobody listening");
	check_my_brace_password(&c, ci);
	my_exec_all(&c, drop, sizeof(drop) / sizeof(drop[0]));
	conn_close(&c);
	free(ci);
}

/* ---------------------------------------------------------------- main */

/* At exit, so that a bail-out leaves nothing behind either. */
static void tmpdir_remove(void)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	free(cmd);
}

int main(int argc, char **argv)
{
	bool sysini;

	if (argc == 2)
		return child_main(argv[1]);
	test_started = time(NULL) - 1;
	if (strchr(argv[0], '/'))
		self_path = argv[0];
	snprintf(tmpdir, sizeof(tmpdir), "%s/prospector-odbc-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	atexit(tmpdir_remove);
	sysini = sysini_setup();
	part_sqlite(sysini);
	part_pg(sysini);
	part_mariadb();
	return done_testing();
}
