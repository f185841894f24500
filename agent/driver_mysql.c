/*
 * The MySQL/MariaDB driver (MariaDB Connector/C or libmysqlclient): reads a server's
 * information_schema into a snapshot.
 *
 * A crawl is one consistent-snapshot, read-only REPEATABLE READ transaction with statement and
 * metadata-lock timeouts, then each information_schema view read once, in full, and joined here
 * by hash lookups on names: never one query per table, and never a join of I_S views on the
 * server, which MariaDB answers up to 100 times slower (DESIGN §3.2). Every such view opens every
 * table, so none is read that adds nothing: 15 statements per crawl on MariaDB, SET, START,
 * COMMIT and the two that prove the catalog did not move (my_sql_ddl_before) included, whatever the
 * size of the server (MySQL 8.0.16+: 15, with TABLE_CONSTRAINTS for the tables of its checks and
 * VIEW_TABLE_USAGE; MySQL 5.7: 12). Rows are streamed (mysql_use_result).
 *
 * The views differ by server and version (MariaDB vs MySQL 5.7/8.0: CHECK_CONSTRAINTS, schema
 * comments, functional index parts, view dependencies, the statement timeout variable); each step
 * carries a table of SQL variants keyed by server kind and version range, and a view a server
 * does not have is named in the database's "unsupported" attribute instead of guessed at.
 *
 * MySQL has no schemas inside a database: the snapshot's one database object is "def" (I_S's only
 * catalog) and each MySQL database is a schema. Keys are names joined by '/', each escaped:
 * "d", "n:<schema>", "r:<schema>/<table>", "a:<schema>/<table>/<column>", "c:…/<constraint>"
 * (PRIMARY for the primary key), "i:…/<index>". Every UNIQUE index is a unique constraint.
 *
 * A user who sees a schema only in part (table or column grants, or privileges through roles and
 * PUBLIC, which information_schema does not show) gets that schema marked partial, so that the
 * tables it cannot see are not reported as dropped (DESIGN §3.3).
 *
 * The handle owns the parsed conninfo and a copy of the source's password (from the agent's secrets
 * file; the conninfo may hold none), which goes to mysql_real_connect as its own argument. Without
 * it the password comes from the option file, which must be private to its owner (my_option_check:
 * the client library reads a world-readable one without a word). Every crawl connects and
 * disconnects. The connection asks for utf8mb4, so GBK, latin1 and utf8mb4 catalogs all arrive as
 * UTF-8. Nothing here copies the conninfo or a password into a message.
 */
#include "driver.h"

#include <errno.h>
#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "model.h"
#include "secrets.h"
#include "utf8.h"
#include "xmalloc.h"

#define MY_DEFAULT_TIMEOUT 30  /* seconds, when the source sets none */
#define MY_CONNECT_TIMEOUT 10  /* seconds, when the conninfo sets none */
#define MY_MAX_TIMEOUT 86400   /* seconds */
#define MY_READ_MARGIN 30      /* seconds a read may wait beyond the statement timeout */
#define MY_VERSION(a, b, c) ((a) * 10000UL + (b) * 100UL + (c))

enum my_flavor {
	MY_ANY,
	MY_MYSQL,
	MY_MARIADB,
};

/* What a server cannot tell us, for the database's "unsupported" attribute. */
enum {
	MY_UNSUP_CHECKS = 1 << 0,
	MY_UNSUP_SEQUENCES = 1 << 1,
	MY_UNSUP_VIEW_DEPS = 1 << 2,
};

/* Sorted by word: the attribute is a sorted list. */
static const struct my_word {
	unsigned bit;
	const char *word;
} my_unsupported_words[] = {
	{ MY_UNSUP_CHECKS, "check_constraints" },
	{ MY_UNSUP_SEQUENCES, "sequences" },
	{ MY_UNSUP_VIEW_DEPS, "view_dependencies" },
	{ 0, NULL },
};

/* The parsed conninfo. */
struct my_conninfo {
	char *host, *socket, *user, *database, *option_file, *option_group;
	unsigned port, connect_timeout;
};

enum my_key_type { MY_KEY_STR, MY_KEY_UINT };

/* The conninfo keys. database only picks the connection's default database: the crawl reads
 * every database the user can see. Passwords belong in option_file or the secrets file, not here. */
static const struct my_key {
	const char *key;
	size_t offset;
	enum my_key_type type;
	unsigned max;
} my_keys[] = {
	{ "host", offsetof(struct my_conninfo, host), MY_KEY_STR, 0 },
	{ "port", offsetof(struct my_conninfo, port), MY_KEY_UINT, 65535 },
	{ "socket", offsetof(struct my_conninfo, socket), MY_KEY_STR, 0 },
	{ "user", offsetof(struct my_conninfo, user), MY_KEY_STR, 0 },
	{ "database", offsetof(struct my_conninfo, database), MY_KEY_STR, 0 },
	{ "option_file", offsetof(struct my_conninfo, option_file), MY_KEY_STR, 0 },
	{ "option_group", offsetof(struct my_conninfo, option_group), MY_KEY_STR, 0 },
	{ "connect_timeout", offsetof(struct my_conninfo, connect_timeout), MY_KEY_UINT, 3600 },
	{ NULL, 0, 0, 0 },
};

struct my {
	struct my_conninfo ci;
	char *password; /* from the secrets file, or NULL: the option file's, if any */
	unsigned timeout;
	bool quiet; /* the last crawl proved that no DDL ran while it read (my_quiet) */
};

/* A string-keyed hash table (open addressing); values borrowed. An object's own key is borrowed too
 * (snapshot_add put it where it stays); other keys, aliases and marks, are copied into the map's
 * arena. Copied with a malloc each, 93,000 keys of a 10,000-table crawl took 5 MB. */
struct my_slot {
	const char *key;
	void *val;
};

struct my_map {
	struct my_slot *slots;
	size_t cap, n;
	struct arena keys;
};

/* One crawl's state; lives on my_crawl()'s stack. */
struct my_crawl {
	MYSQL *conn;
	struct snapshot *snap;
	char *err;
	const char *password; /* borrowed from the handle; scrubbed from every message */
	unsigned timeout;
	enum my_flavor flavor;
	unsigned long version;
	struct obj *db;
	/* Objects by key, plus aliases: "uk:", "fk:", "ck:" + table key tail + name for constraints
	 * by kind, "ckn:<schema>/<name>" for MySQL's schema-wide check names, "json:" + column key,
	 * the privileges: "tp:"/"cp:" + table (table/column grants), "sg:" + schema, and "seen:" +
	 * schema/table for what TABLES lists in a crawled schema with a type the crawl leaves out. */
	struct my_map map;
	char **schema_grants; /* SCHEMA_PRIVILEGES patterns ('_' and '%' are wildcards) */
	size_t nschema_grants, schema_grants_cap;
	bool global_grant, role_active;
	unsigned unsupported;
	char unstable[300]; /* why this crawl saw the catalog in motion (DRIVER_E_UNSTABLE), or "" */
	/* The server's clock (unix seconds) and DDL statement count when the crawl began (marked), and
	 * whether its last statement found both unmoved (quiet): see my_sql_ddl_before. */
	long long since;
	unsigned long long ddl;
	bool marked, quiet;
	/* The tables and views COLUMNS listed columns for (my_check_columns). */
	const struct obj **with_columns;
	size_t nwith_columns, with_columns_cap;
	/* The table of the step's previous row (my_row_of): its schema and name, and the object. */
	char *row_schema, *row_table;
	struct obj *row_obj;
};

static char my_mark; /* the value of a map entry that only records presence */

/* A step's SQL for one kind of server: the first entry whose kind and [min, max) version range
 * match is used. A NULL sql means that server has no such view: the step is skipped and its
 * unsupported bits recorded. */
struct my_sql {
	enum my_flavor flavor;
	unsigned long min, max; /* max 0: no upper bound */
	const char *sql;
	unsigned unsupported;
};

#define MY_SYSTEM_SCHEMAS "('mysql', 'information_schema', 'performance_schema', 'sys')"

/* CURRENT_USER() is user@host; the privilege views name grantees as 'user'@'host'. The host is
 * what follows the last '@' (a user name may contain one, a host may not). */
#define MY_CU "CURRENT_USER()"
#define MY_CU_HOST "SUBSTRING_INDEX(" MY_CU ", '@', -1)"
#define MY_GRANTEE                                                                          \
	"CONCAT('''', SUBSTRING(" MY_CU ", 1, CHAR_LENGTH(" MY_CU ") - CHAR_LENGTH(" MY_CU_HOST \
	") - 1), '''@''', " MY_CU_HOST ", '''')"

/* The settings, formatted with the timeout in seconds (twice). */
static const struct my_sql my_sql_settings[] = {
	{ MY_MARIADB, MY_VERSION(10, 1, 1), 0,
	  "SET NAMES utf8mb4, SESSION max_statement_time = %u, SESSION lock_wait_timeout = %u", 0 },
	{ MY_MYSQL, MY_VERSION(5, 7, 8), 0,
	  "SET NAMES utf8mb4, SESSION max_execution_time = %u000, SESSION lock_wait_timeout = %u", 0 },
	{ MY_ANY, 0, 0, "SET NAMES utf8mb4, SESSION lock_wait_timeout = %u", 0 },
};

static const struct my_sql my_sql_isolation[] = {
	{ MY_ANY, 0, 0, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", 0 },
};

static const struct my_sql my_sql_start[] = {
	{ MY_ANY, 0, 0, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", 0 },
};

/*
 * information_schema is read view by view, each at its own moment, so a crawl that differs from the
 * last snapshot is normally repeated until two agree (driver_ops.settle). On MariaDB a crawl can
 * instead prove that nothing moved while it read, for the price of one more read of TABLES:
 *   - no DDL statement began: the server's count of them (GLOBAL_STATUS, which sums every live
 *     session's counters, so a statement is counted as it starts) is the same before and after;
 *   - none that began earlier (say, one that waited for a metadata lock) finished meanwhile: no
 *     table's CREATE_TIME is at or after the second the crawl began. MariaDB gives an InnoDB table
 *     the time its .frm file last changed, and every DDL on a table rewrites or renames that file.
 * A DDL on a view, or a metadata-only change to a MyISAM or Aria table (these keep their
 * CREATE_TIME), that had begun before the crawl and finished during it is not seen by either. The
 * checks of my_check_listed and my_check_columns still catch its half-seen tables; what remains is
 * a change reported one cycle late, never a table dropped and added again.
 * Temporary tables are not in the catalog: their counters are left out. ('_' is a LIKE wildcard
 * here too; no other variable's name fits.)
 */
#define MY_DDL_COUNT                                                                                         \
	"SELECT SUM(CAST(VARIABLE_VALUE AS UNSIGNED)) FROM information_schema.GLOBAL_STATUS "                \
	"WHERE (VARIABLE_NAME LIKE 'COM_ALTER_%' OR VARIABLE_NAME LIKE 'COM_CREATE_%' "                 \
	"OR VARIABLE_NAME LIKE 'COM_DROP_%' OR VARIABLE_NAME LIKE 'COM_RENAME_%' "                      \
	"OR VARIABLE_NAME LIKE 'COM_GRANT%' OR VARIABLE_NAME LIKE 'COM_REVOKE%' "                          \
	"OR VARIABLE_NAME IN ('COM_TRUNCATE', 'COM_OPTIMIZE', 'COM_REPAIR', 'COM_INSTALL_PLUGIN', "          \
	"'COM_UNINSTALL_PLUGIN')) AND VARIABLE_NAME NOT LIKE '%TEMPORARY%'"
static const struct my_sql my_sql_ddl_before[] = {
	{ MY_MARIADB, MY_VERSION(10, 1, 2), 0, "SELECT UNIX_TIMESTAMP(), (" MY_DDL_COUNT ")", 0 },
	{ MY_ANY, 0, 0, NULL, 0 },
};

/* Formatted with the second the crawl began; CREATE_TIME compared in UTC, where no hour repeats. */
static const struct my_sql my_sql_ddl_after[] = {
	{ MY_MARIADB, MY_VERSION(10, 1, 2), 0,
	  "SET STATEMENT time_zone = '+00:00' FOR SELECT (" MY_DDL_COUNT "), "
	  "(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS " "
	  "AND CREATE_TIME >= FROM_UNIXTIME(%lld))", 0 },
	{ MY_ANY, 0, 0, NULL, 0 },
};

static const struct my_sql my_sql_commit[] = {
	{ MY_ANY, 0, 0, "COMMIT", 0 },
};

/* The current user's own grants, one view after the other (a UNION, not a join), and whether a
 * role is active. Columns: kind (u s t c r), schema, table, privilege. */
#define MY_PRIV_SELECT(kind, cols, view)                                                    \
	"SELECT '" kind "', " cols ", PRIVILEGE_TYPE FROM information_schema." view " "     \
	"WHERE GRANTEE = " MY_GRANTEE
#define MY_PRIV_GRANTS                                                                      \
	MY_PRIV_SELECT("u", "NULL, NULL", "USER_PRIVILEGES") " UNION ALL "                  \
	MY_PRIV_SELECT("s", "TABLE_SCHEMA, NULL", "SCHEMA_PRIVILEGES") " UNION ALL "        \
	MY_PRIV_SELECT("t", "TABLE_SCHEMA, TABLE_NAME", "TABLE_PRIVILEGES") " UNION ALL "   \
	MY_PRIV_SELECT("c", "TABLE_SCHEMA, TABLE_NAME", "COLUMN_PRIVILEGES")

static const struct my_sql my_sql_privileges[] = {
	{ MY_MARIADB, MY_VERSION(10, 0, 5), 0,
	  MY_PRIV_GRANTS " UNION ALL SELECT 'r', CURRENT_ROLE(), NULL, NULL", 0 },
	{ MY_MYSQL, MY_VERSION(8, 0, 0), 0,
	  MY_PRIV_GRANTS " UNION ALL SELECT 'r', NULLIF(CURRENT_ROLE(), 'NONE'), NULL, NULL", 0 },
	{ MY_ANY, 0, 0, MY_PRIV_GRANTS, 0 },
};

static const struct my_sql my_sql_schemata[] = {
	{ MY_MARIADB, MY_VERSION(10, 5, 0), 0,
	  "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME, SCHEMA_COMMENT "
	  "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN " MY_SYSTEM_SCHEMAS, 0 },
	{ MY_ANY, 0, 0,
	  "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME, NULL "
	  "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN " MY_SYSTEM_SCHEMAS, 0 },
};

static const struct my_sql my_sql_tables[] = {
	{ MY_ANY, 0, 0,
	  "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH, "
	  "TABLE_COLLATION, TABLE_COMMENT, CREATE_OPTIONS "
	  "FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS, 0 },
};

/* MySQL's CHECK_CONSTRAINTS names no table (check names are unique per schema there): this says
 * which table each check is on. MariaDB's does name it, and everything else here comes from
 * STATISTICS, KEY_COLUMN_USAGE and REFERENTIAL_CONSTRAINTS: one view fewer to read, and each I_S
 * view opens every table. */
static const struct my_sql my_sql_table_constraints[] = {
	{ MY_MYSQL, MY_VERSION(8, 0, 16), 0,
	  "SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE "
	  "FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_TYPE = 'CHECK' "
	  "AND TABLE_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS, 0 },
	{ MY_ANY, 0, 0, NULL, 0 },
};

/* MariaDB has had the view since 10.2.22 and 10.3.10, with LEVEL since 10.5.10; MySQL since
 * 8.0.16, without TABLE_NAME (check names are unique per schema there). MySQL before 8.0.16
 * parses CHECK and ignores it: there is nothing to miss. */
#define MY_CHECK_FROM "FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS
static const struct my_sql my_sql_checks[] = {
	{ MY_MARIADB, MY_VERSION(10, 5, 10), 0,
	  "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE, LEVEL " MY_CHECK_FROM, 0 },
	{ MY_MARIADB, MY_VERSION(10, 3, 10), 0,
	  "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE, NULL " MY_CHECK_FROM, 0 },
	{ MY_MARIADB, MY_VERSION(10, 2, 22), MY_VERSION(10, 3, 0),
	  "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE, NULL " MY_CHECK_FROM, 0 },
	{ MY_MARIADB, 0, 0, NULL, MY_UNSUP_CHECKS },
	{ MY_MYSQL, MY_VERSION(8, 0, 16), 0,
	  "SELECT CONSTRAINT_SCHEMA, NULL, CONSTRAINT_NAME, CHECK_CLAUSE, NULL " MY_CHECK_FROM, 0 },
	{ MY_ANY, 0, 0, NULL, 0 },
};

/* GENERATION_EXPRESSION: MySQL 5.7.6, MariaDB 10.2.5. */
#define MY_COLUMNS_SELECT                                                                        \
	"SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, " \
	"DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_SET_NAME, "    \
	"COLLATION_NAME, COLUMN_TYPE, EXTRA, COLUMN_COMMENT, "
#define MY_COLUMNS_FROM "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS
static const struct my_sql my_sql_columns[] = {
	{ MY_MARIADB, MY_VERSION(10, 2, 5), 0, MY_COLUMNS_SELECT "GENERATION_EXPRESSION " MY_COLUMNS_FROM, 0 },
	{ MY_MYSQL, MY_VERSION(5, 7, 6), 0, MY_COLUMNS_SELECT "GENERATION_EXPRESSION " MY_COLUMNS_FROM, 0 },
	{ MY_ANY, 0, 0, MY_COLUMNS_SELECT "NULL " MY_COLUMNS_FROM, 0 },
};

/* Ordered so that each index's parts arrive in order. EXPRESSION (functional key parts): MySQL
 * 8.0.13. */
#define MY_STATISTICS_SELECT                                                                    \
	"SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, " \
	"INDEX_TYPE, INDEX_COMMENT, "
#define MY_STATISTICS_FROM                                                                      \
	"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS " "   \
	"ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
static const struct my_sql my_sql_statistics[] = {
	{ MY_MYSQL, MY_VERSION(8, 0, 13), 0, MY_STATISTICS_SELECT "EXPRESSION " MY_STATISTICS_FROM, 0 },
	{ MY_ANY, 0, 0, MY_STATISTICS_SELECT "NULL " MY_STATISTICS_FROM, 0 },
};

/* Foreign key columns only, in order; primary and unique keys come from STATISTICS. */
static const struct my_sql my_sql_key_columns[] = {
	{ MY_ANY, 0, 0,
	  "SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, "
	  "REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
	  "WHERE REFERENCED_TABLE_NAME IS NOT NULL AND TABLE_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS " "
	  "ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION", 0 },
};

static const struct my_sql my_sql_references[] = {
	{ MY_ANY, 0, 0,
	  "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE, MATCH_OPTION "
	  "FROM information_schema.REFERENTIAL_CONSTRAINTS "
	  "WHERE CONSTRAINT_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS, 0 },
};

static const struct my_sql my_sql_views[] = {
	{ MY_ANY, 0, 0,
	  "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, DEFINER FROM information_schema.VIEWS "
	  "WHERE TABLE_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS, 0 },
};

static const struct my_sql my_sql_view_usage[] = {
	{ MY_MYSQL, MY_VERSION(8, 0, 13), 0,
	  "SELECT VIEW_SCHEMA, VIEW_NAME, TABLE_SCHEMA, TABLE_NAME "
	  "FROM information_schema.VIEW_TABLE_USAGE WHERE VIEW_SCHEMA NOT IN " MY_SYSTEM_SCHEMAS, 0 },
	{ MY_ANY, 0, 0, NULL, MY_UNSUP_VIEW_DEPS },
};

/* Result columns, by position. */
enum { PRIV_KIND, PRIV_SCHEMA, PRIV_TABLE, PRIV_TYPE };
enum { SCH_NAME, SCH_CHARSET, SCH_COLLATION, SCH_COMMENT };
enum { TAB_SCHEMA, TAB_NAME, TAB_TYPE, TAB_ENGINE, TAB_ROWS, TAB_DATA, TAB_INDEX, TAB_COLLATION,
       TAB_COMMENT, TAB_OPTIONS };
enum { TC_SCHEMA, TC_TABLE, TC_NAME, TC_TYPE };
enum { CK_SCHEMA, CK_TABLE, CK_NAME, CK_CLAUSE, CK_LEVEL };
enum { COL_SCHEMA, COL_TABLE, COL_NAME, COL_ORDINAL, COL_DEFAULT, COL_NULLABLE, COL_DATA_TYPE,
       COL_CHAR_LEN, COL_NUM_PREC, COL_NUM_SCALE, COL_CHARSET, COL_COLLATION, COL_TYPE, COL_EXTRA,
       COL_COMMENT, COL_GENERATED };
enum { ST_SCHEMA, ST_TABLE, ST_INDEX, ST_NON_UNIQUE, ST_SEQ, ST_COLUMN, ST_SUB_PART, ST_TYPE,
       ST_COMMENT, ST_EXPRESSION };
enum { KCU_SCHEMA, KCU_TABLE, KCU_NAME, KCU_COLUMN, KCU_REF_SCHEMA, KCU_REF_TABLE, KCU_REF_COLUMN };
enum { RC_SCHEMA, RC_TABLE, RC_NAME, RC_UPDATE, RC_DELETE, RC_MATCH };
enum { VW_SCHEMA, VW_NAME, VW_DEFINITION, VW_DEFINER };
enum { VTU_SCHEMA, VTU_NAME, VTU_TABLE_SCHEMA, VTU_TABLE };

/* TABLE_TYPE values we crawl. MariaDB lists its sequences as tables. */
static const struct my_table_type {
	const char *type;
	enum obj_kind kind;
} my_table_types[] = {
	{ "BASE TABLE", OBJ_TABLE },
	{ "SYSTEM VERSIONED", OBJ_TABLE },
	{ "VIEW", OBJ_VIEW },
	{ "SEQUENCE", OBJ_SEQUENCE },
	{ NULL, 0 },
};

/* CONSTRAINT_TYPE values, with the alias prefix that finds a constraint by kind and name. */
static const struct my_constraint_type {
	const char *type;
	enum obj_kind kind;
	const char *alias;
} my_constraint_types[] = {
	{ "PRIMARY KEY", OBJ_PRIMARY_KEY, "uk:" },
	{ "UNIQUE", OBJ_UNIQUE, "uk:" },
	{ "FOREIGN KEY", OBJ_FOREIGN_KEY, "fk:" },
	{ "CHECK", OBJ_CHECK, "ck:" },
	{ NULL, 0, NULL },
};

/* Privileges that make a table visible (the server's TABLE_ACLS). Held on a whole schema or
 * globally, they show every table in it; anything less shows only part. */
static const char *const my_table_privileges[] = {
	"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "GRANT OPTION", "REFERENCES",
	"INDEX", "ALTER", "CREATE VIEW", "SHOW VIEW", "TRIGGER", "DELETE HISTORY", NULL,
};

/* How a type's parameters read. */
enum my_param {
	MY_P_NONE,
	MY_P_CHARS,    /* length = CHARACTER_MAXIMUM_LENGTH (characters; bytes for binary) */
	MY_P_NUMERIC,  /* precision and scale */
	MY_P_FRACTION, /* fractional second digits, when COLUMN_TYPE declares them */
	MY_P_BITS,     /* length = NUMERIC_PRECISION */
};

/* Type families by DATA_TYPE. MariaDB's JSON is a LONGTEXT with a json_valid() check, told
 * apart by that check (my_row_check). */
static const struct my_type {
	const char *data_type;
	const char *family;
	const char *precision; /* fixed binary precision */
	enum my_param param;
} my_types[] = {
	{ "tinyint", "integer", "8", MY_P_NONE },
	{ "smallint", "integer", "16", MY_P_NONE },
	{ "mediumint", "integer", "24", MY_P_NONE },
	{ "int", "integer", "32", MY_P_NONE },
	{ "integer", "integer", "32", MY_P_NONE },
	{ "bigint", "integer", "64", MY_P_NONE },
	{ "year", "integer", "16", MY_P_NONE },
	{ "decimal", "decimal", NULL, MY_P_NUMERIC },
	{ "numeric", "decimal", NULL, MY_P_NUMERIC },
	{ "float", "float", "24", MY_P_NONE },
	{ "double", "float", "53", MY_P_NONE },
	{ "real", "float", "53", MY_P_NONE },
	{ "char", "char", NULL, MY_P_CHARS },
	{ "varchar", "string", NULL, MY_P_CHARS },
	{ "tinytext", "string", NULL, MY_P_NONE },
	{ "text", "string", NULL, MY_P_NONE },
	{ "mediumtext", "string", NULL, MY_P_NONE },
	{ "longtext", "string", NULL, MY_P_NONE },
	{ "binary", "binary", NULL, MY_P_CHARS },
	{ "varbinary", "binary", NULL, MY_P_CHARS },
	{ "tinyblob", "binary", NULL, MY_P_NONE },
	{ "blob", "binary", NULL, MY_P_NONE },
	{ "mediumblob", "binary", NULL, MY_P_NONE },
	{ "longblob", "binary", NULL, MY_P_NONE },
	{ "date", "date", NULL, MY_P_NONE },
	{ "time", "time", NULL, MY_P_FRACTION },
	{ "datetime", "timestamp", NULL, MY_P_FRACTION },
	{ "timestamp", "timestamptz", NULL, MY_P_FRACTION },
	{ "json", "json", NULL, MY_P_NONE },
	{ "enum", "enum", NULL, MY_P_NONE },
	{ "set", "enum", NULL, MY_P_NONE },
	{ "bit", "bit", NULL, MY_P_BITS },
	{ "uuid", "uuid", NULL, MY_P_NONE },
	{ "inet4", "network", NULL, MY_P_NONE },
	{ "inet6", "network", NULL, MY_P_NONE },
	{ "geometry", "geometry", NULL, MY_P_NONE },
	{ "point", "geometry", NULL, MY_P_NONE },
	{ "linestring", "geometry", NULL, MY_P_NONE },
	{ "polygon", "geometry", NULL, MY_P_NONE },
	{ "multipoint", "geometry", NULL, MY_P_NONE },
	{ "multilinestring", "geometry", NULL, MY_P_NONE },
	{ "multipolygon", "geometry", NULL, MY_P_NONE },
	{ "geometrycollection", "geometry", NULL, MY_P_NONE },
	{ "geomcollection", "geometry", NULL, MY_P_NONE },
	{ NULL, NULL, NULL, MY_P_NONE },
};

/* Error classes by server or client error number; everything else is DRIVER_E_QUERY. */
static const struct my_errcode {
	unsigned errnum;
	int code;
} my_errcodes[] = {
	{ ER_ACCESS_DENIED_ERROR, DRIVER_E_AUTH },             /* 1045 */
	{ 1698, DRIVER_E_AUTH },                               /* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
	{ ER_HOST_NOT_PRIVILEGED, DRIVER_E_AUTH },             /* 1130: host may not log in */
	{ 1862, DRIVER_E_AUTH },                               /* password expired */
	{ ER_DBACCESS_DENIED_ERROR, DRIVER_E_PRIVILEGE },      /* 1044 */
	{ ER_TABLEACCESS_DENIED_ERROR, DRIVER_E_PRIVILEGE },   /* 1142 */
	{ ER_COLUMNACCESS_DENIED_ERROR, DRIVER_E_PRIVILEGE },  /* 1143 */
	{ ER_SPECIFIC_ACCESS_DENIED_ERROR, DRIVER_E_PRIVILEGE }, /* 1227 */
	{ ER_BAD_DB_ERROR, DRIVER_E_CONFIG },                  /* 1049: no such database */
	{ CR_AUTH_PLUGIN_CANNOT_LOAD, DRIVER_E_CONFIG },       /* 2059 */
	{ ER_CON_COUNT_ERROR, DRIVER_E_CONNECT },              /* 1040: too many connections */
	{ ER_HOST_IS_BLOCKED, DRIVER_E_CONNECT },              /* 1129 */
	{ ER_SERVER_SHUTDOWN, DRIVER_E_CONNECT },              /* 1053 */
	{ CR_SOCKET_CREATE_ERROR, DRIVER_E_CONNECT },          /* 2001 */
	{ CR_CONNECTION_ERROR, DRIVER_E_CONNECT },             /* 2002 */
	{ CR_CONN_HOST_ERROR, DRIVER_E_CONNECT },              /* 2003 */
	{ CR_IPSOCK_ERROR, DRIVER_E_CONNECT },                 /* 2004 */
	{ CR_UNKNOWN_HOST, DRIVER_E_CONNECT },                 /* 2005 */
	{ CR_SERVER_GONE_ERROR, DRIVER_E_CONNECT },            /* 2006 */
	{ CR_SERVER_HANDSHAKE_ERR, DRIVER_E_CONNECT },         /* 2012 */
	{ CR_SERVER_LOST, DRIVER_E_CONNECT },                  /* 2013 */
	{ CR_SSL_CONNECTION_ERROR, DRIVER_E_CONNECT },         /* 2026 */
	{ CR_SERVER_LOST_EXTENDED, DRIVER_E_CONNECT },         /* 2055 */
	{ 0, 0 },
};

static uint64_t my_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot holding key, or the empty slot where it would go. The table is never full. */
static struct my_slot *my_map_slot(const struct my_map *m, const char *key)
{
	size_t i = my_hash(key) & (m->cap - 1);

	while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static void *my_map_get(const struct my_map *m, const char *key)
{
	return m->cap ? my_map_slot(m, key)->val : NULL;
}

static void my_map_grow(struct my_map *m)
{
	struct my_map bigger = { .slots = xcalloc(m->cap ? m->cap * 2 : 1024, sizeof(struct my_slot)),
				 .cap = m->cap ? m->cap * 2 : 1024 };

	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*my_map_slot(&bigger, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = bigger.slots;
	m->cap = bigger.cap;
}

/* Sets (replacing) key's value; lasting says that key outlives the map, which then keeps no copy. */
static void my_map_set(struct my_map *m, const char *key, void *val, bool lasting)
{
	struct my_slot *s;

	if ((m->n + 1) * 10 >= m->cap * 7)
		my_map_grow(m);
	s = my_map_slot(m, key);
	if (!s->key) {
		s->key = lasting ? key : strcpy(arena_alloc(&m->keys, strlen(key) + 1, 1), key);
		m->n++;
	}
	s->val = val;
}

static void my_map_put(struct my_map *m, const char *key, void *val)
{
	my_map_set(m, key, val, false);
}

static void my_map_free(struct my_map *m)
{
	free(m->slots);
	arena_free(&m->keys);
}

static int my_fail(struct my_crawl *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int my_fail(struct my_crawl *c, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = driver_vfail(c->err, c->password, code, fmt, ap);
	va_end(ap);
	return r;
}

static int my_error_code(unsigned errnum)
{
	for (const struct my_errcode *e = my_errcodes; e->errnum; e++)
		if (e->errnum == errnum)
			return e->code;
	return DRIVER_E_QUERY;
}

/* The connection's last error, classified, with what we were doing. */
static int my_error(struct my_crawl *c, const char *what)
{
	unsigned errnum = mysql_errno(c->conn);

	return my_fail(c, errnum ? my_error_code(errnum) : DRIVER_E_QUERY, "%s: %s (error %u)", what,
		       errnum ? mysql_error(c->conn) : "no answer from the server", errnum);
}

/* Replaces bytes that are not UTF-8 with '?', in place. The connection is utf8mb4, so only a
 * server that stored bytes it was never told the encoding of can send them. */
static void my_utf8_fix(char *s)
{
	while (*s) {
		size_t n = (unsigned char)*s < 0x80 ? 1 : utf8_seqlen((const unsigned char *)s);

		if (!n) {
			*s++ = '?';
			continue;
		}
		s += n;
	}
}

/* Appends a name to a key, '\' and '/' escaped (and MODEL_REF_SEP, which a key never holds). Runs
 * of other bytes go in whole: a key is made for nearly every row the crawl reads. */
static void my_key_add(struct buf *b, const char *name)
{
	static const char special[] = { '\\', '/', MODEL_REF_SEP, '\0' };

	for (;;) {
		size_t n = strcspn(name, special);

		buf_add(b, name, n);
		name += n;
		if (!*name)
			return;
		if (*name == MODEL_REF_SEP) {
			buf_adds(b, "\\x1f");
		} else {
			buf_addc(b, '\\');
			buf_addc(b, *name);
		}
		name++;
	}
}

/* prefix + names joined by '/', up to three (NULL ends the list early). Allocated. */
static char *my_key(const char *prefix, const char *a, const char *b, const char *c)
{
	const char *names[] = { a, b, c };
	size_t len = strlen(prefix) + 3;
	struct buf k;

	for (size_t i = 0; i < 3 && names[i]; i++)
		len += strlen(names[i]);
	buf_init(&k);
	xgrow(&k.data, &k.cap, len, 1); /* one allocation, unless a name needs escapes */
	buf_adds(&k, prefix);
	for (size_t i = 0; i < 3 && names[i]; i++) {
		if (i)
			buf_addc(&k, '/');
		my_key_add(&k, names[i]);
	}
	return buf_steal(&k);
}

/* The object with key prefix + names, or NULL. */
static struct obj *my_find(struct my_crawl *c, const char *prefix, const char *a, const char *b,
			   const char *n)
{
	char *key = my_key(prefix, a, b, n);
	struct obj *o = my_map_get(&c->map, key);

	free(key);
	return o;
}

static void my_mark_put(struct my_crawl *c, const char *prefix, const char *a, const char *b, const char *n)
{
	char *key = my_key(prefix, a, b, n);

	my_map_put(&c->map, key, &my_mark);
	free(key);
}

static bool my_marked(struct my_crawl *c, const char *prefix, const char *a, const char *b, const char *n)
{
	return my_find(c, prefix, a, b, n) != NULL;
}

/* Adds an object to the snapshot and, unless it is a column (nothing looks columns up), to the
 * map; returns it, borrowed (the snapshot owns it and keeps it where it is, so it can still be
 * changed until the snapshot is finished). */
static struct obj *my_add(struct my_crawl *c, struct obj *o)
{
	struct obj *added = snapshot_add(c->snap, &o);

	if (added->kind != OBJ_COLUMN)
		my_map_set(&c->map, added->key, added, true);
	return added;
}

static struct obj *my_obj_new(struct my_crawl *c, enum obj_kind kind, char *key, const struct obj *parent,
			      const char *name)
{
	struct obj *o = obj_new(kind, key, parent->key, name);

	free(key);
	return my_add(c, o);
}

/* Sets an attribute to a non-empty value; NULL and "" leave it absent. */
static void my_set(struct obj *o, const char *attr, const char *value)
{
	if (value && *value)
		obj_set(o, attr, value);
}

/* Appends value to a list attribute, sep between entries. */
static void my_append(struct obj *o, const char *attr, const char *sep, const char *value)
{
	const char *old = obj_get(o, attr);
	char *v;

	if (!old) {
		obj_set(o, attr, value);
		return;
	}
	v = xasprintf("%s%s%s", old, sep, value);
	obj_set(o, attr, v);
	free(v);
}

static bool my_word_in(const char *const *words, const char *w)
{
	for (; w && *words; words++)
		if (strcmp(*words, w) == 0)
			return true;
	return false;
}

/* The character set a collation belongs to: its name up to the first '_' (no character set
 * name holds one), or the whole name ("binary"). Allocated. */
static char *my_charset_of(const char *collation)
{
	return xstrndup(collation, strcspn(collation, "_"));
}

/* The character after s's first; a malformed byte counts as one. */
static const char *my_utf8_next(const char *s)
{
	size_t n = utf8_seqlen((const unsigned char *)s);

	return s + (n ? n : 1);
}

/* Like SQL LIKE with '\' escapes, case-sensitive as database names are: the patterns of
 * schema-level grants ("shop\_%"). '_' matches one character. */
static bool my_like(const char *p, const char *s)
{
	for (; *p; p++) {
		if (*p == '%') {
			for (; *s; s = my_utf8_next(s))
				if (my_like(p + 1, s))
					return true;
			return my_like(p + 1, s);
		}
		if (!*s)
			return false;
		if (*p == '_') {
			s = my_utf8_next(s);
			continue;
		}
		if (*p == '\\' && p[1])
			p++;
		if (*p != *s)
			return false;
		s++;
	}
	return *s == '\0';
}

/*
 * Row functions, one per step. Each gets the row with every value UTF-8 (NULL for SQL NULL) and
 * finds the objects it extends by key in the map; rows about objects the crawl did not make
 * (system schemas, sequences' columns, tables the user cannot see) are skipped.
 */

static int my_row_privilege(struct my_crawl *c, MYSQL_ROW row)
{
	const char *kind = row[PRIV_KIND], *schema = row[PRIV_SCHEMA], *table = row[PRIV_TABLE];
	bool visible = my_word_in(my_table_privileges, row[PRIV_TYPE]);

	if (kind[0] == 'r') {
		c->role_active = schema != NULL;
	} else if (kind[0] == 'u') {
		c->global_grant = c->global_grant || visible;
	} else if (kind[0] == 's' && visible && schema) {
		xgrow(&c->schema_grants, &c->schema_grants_cap, c->nschema_grants + 1, sizeof(char *));
		c->schema_grants[c->nschema_grants++] = xstrdup(schema);
	} else if ((kind[0] == 't' || kind[0] == 'c') && schema && table) {
		my_mark_put(c, "sg:", schema, NULL, NULL);
		if (kind[0] == 'c')
			my_mark_put(c, "cp:", schema, table, NULL);
		else if (visible)
			my_mark_put(c, "tp:", schema, table, NULL);
	}
	return 0;
}

static bool my_schema_covered(const struct my_crawl *c, const char *schema)
{
	if (c->global_grant)
		return true;
	for (size_t i = 0; i < c->nschema_grants; i++)
		if (my_like(c->schema_grants[i], schema))
			return true;
	return false;
}

/* A schema the user holds no schema-wide privilege on is seen in part: the tables it shows are
 * those granted one by one (or through roles and PUBLIC, which the privilege views leave out). */
static void my_schema_partial(struct my_crawl *c, const struct obj *schema)
{
	char reason[256];

	if (my_schema_covered(c, schema->name))
		return;
	if (my_marked(c, "sg:", schema->name, NULL, NULL))
		snprintf(reason, sizeof(reason), "schema %.100s: visible only through table grants", schema->name);
	else
		snprintf(reason, sizeof(reason), "schema %.100s: no schema-wide privilege%s, contents may be incomplete",
			 schema->name, c->role_active ? " of the user's own (roles are not readable)" : "");
	snapshot_mark_partial(c->snap, schema->key, reason);
}

static int my_row_schema(struct my_crawl *c, MYSQL_ROW row)
{
	struct obj *o = my_obj_new(c, OBJ_SCHEMA, my_key("n:", row[SCH_NAME], NULL, NULL), c->db, row[SCH_NAME]);

	my_set(o, "charset", row[SCH_CHARSET]);
	my_set(o, "collation", row[SCH_COLLATION]);
	my_set(o, "comment", row[SCH_COMMENT]);
	my_schema_partial(c, o);
	return 0;
}

static const struct my_table_type *my_table_type_lookup(const char *type)
{
	for (const struct my_table_type *t = my_table_types; type && t->type; t++)
		if (strcmp(t->type, type) == 0)
			return t;
	return NULL;
}

/* A table whose columns the user sees through column grants only shows those columns. */
static void my_table_partial(struct my_crawl *c, const struct obj *schema, const struct obj *t)
{
	char reason[256];

	if (my_schema_covered(c, schema->name) || !my_marked(c, "cp:", schema->name, t->name, NULL) ||
	    my_marked(c, "tp:", schema->name, t->name, NULL))
		return;
	snprintf(reason, sizeof(reason), "table %.100s.%.100s: visible only through column grants",
		 schema->name, t->name);
	snapshot_mark_partial(c->snap, t->key, reason);
}

static void my_set_table_attrs(struct obj *o, MYSQL_ROW row)
{
	char *charset;

	my_set(o, "engine", row[TAB_ENGINE]);
	/* Without an engine the comment holds the error that kept the server from opening it. */
	if (row[TAB_ENGINE])
		my_set(o, "comment", row[TAB_COMMENT]);
	if (row[TAB_COLLATION]) {
		charset = my_charset_of(row[TAB_COLLATION]);
		obj_set(o, "charset", charset);
		obj_set(o, "collation", row[TAB_COLLATION]);
		free(charset);
	}
	if (row[TAB_OPTIONS] && strstr(row[TAB_OPTIONS], "partitioned"))
		obj_set(o, "partitioned", "true");
	if (row[TAB_ROWS])
		obj_set_obs(o, "rows", row[TAB_ROWS]);
	if (row[TAB_DATA] && row[TAB_INDEX]) {
		char bytes[24];

		snprintf(bytes, sizeof(bytes), "%llu",
			 strtoull(row[TAB_DATA], NULL, 10) + strtoull(row[TAB_INDEX], NULL, 10));
		obj_set_obs(o, "bytes", bytes);
	}
}

/*
 * information_schema is not transactional: each view is read at its own moment, and a copying ALTER
 * TABLE hides the table for a moment while it swaps the copy in. These checks catch a crawl that
 * saw a table in one view and not in another, so that it is repeated instead of reporting a drop.
 */
static void my_unstable(struct my_crawl *c, const char *what, const char *schema, const char *table)
{
	if (!c->unstable[0])
		snprintf(c->unstable, sizeof(c->unstable), "%s %.100s.%.100s", what, schema, table);
}

/* A table some view lists must be in TABLES: crawled, or marked "seen:" (a type the crawl leaves out). */
static void my_check_listed(struct my_crawl *c, const char *view, const char *schema, const char *table)
{
	char what[80];

	if (!my_find(c, "r:", schema, table, NULL) && !my_marked(c, "seen:", schema, table, NULL) &&
	    my_find(c, "n:", schema, NULL, NULL)) {
		snprintf(what, sizeof(what), "%s lists, TABLES does not list,", view);
		my_unstable(c, what, schema, table);
	}
}

static void my_row_forget(struct my_crawl *c)
{
	free(c->row_schema);
	free(c->row_table);
	c->row_schema = c->row_table = NULL;
	c->row_obj = NULL;
}

/*
 * The crawled table or view a row of COLUMNS, STATISTICS or KEY_COLUMN_USAGE is about, or NULL, and
 * *ret_first (if not NULL): whether the step's previous row was about another. Those views list a
 * table's rows together, so the lookup and my_check_listed are done on its first row only (COLUMNS
 * has some 20 a table). Rows in another order would only make it slower.
 */
static struct obj *my_row_of(struct my_crawl *c, const char *view, const char *schema, const char *table,
			     bool *ret_first)
{
	bool first = !c->row_schema || strcmp(c->row_table, table) != 0 || strcmp(c->row_schema, schema) != 0;

	if (ret_first)
		*ret_first = first;
	if (first) {
		my_row_forget(c);
		c->row_schema = xstrdup(schema);
		c->row_table = xstrdup(table);
		c->row_obj = my_find(c, "r:", schema, table, NULL);
		my_check_listed(c, view, schema, table);
	}
	return c->row_obj;
}

static int my_ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;

	return x < y ? -1 : x > y;
}

/* Every table has columns; one without was being rebuilt when COLUMNS was read. Views are left
 * out (a view over a dropped table has no columns for good), and so are tables the server could
 * not open (no engine): they would fail every crawl. */
static void my_check_columns(struct my_crawl *c)
{
	qsort(c->with_columns, c->nwith_columns, sizeof(*c->with_columns), my_ptr_cmp);
	for (size_t i = 0; i < c->snap->nobjs && !c->unstable[0]; i++) {
		const struct obj *t = c->snap->objs[i];
		const struct obj *schema = my_map_get(&c->map, t->parent ? t->parent : "");

		if (t->kind == OBJ_TABLE && obj_get(t, "engine") && schema &&
		    !bsearch(&t, c->with_columns, c->nwith_columns, sizeof(*c->with_columns), my_ptr_cmp))
			my_unstable(c, "COLUMNS has no columns for", schema->name, t->name);
	}
}

static int my_row_table(struct my_crawl *c, MYSQL_ROW row)
{
	const struct my_table_type *type = my_table_type_lookup(row[TAB_TYPE]);
	struct obj *schema = my_find(c, "n:", row[TAB_SCHEMA], NULL, NULL), *o;

	if (schema && !type)
		my_mark_put(c, "seen:", row[TAB_SCHEMA], row[TAB_NAME], NULL);
	if (!type || !schema)
		return 0;
	o = my_obj_new(c, type->kind, my_key("r:", row[TAB_SCHEMA], row[TAB_NAME], NULL), schema, row[TAB_NAME]);
	/* MariaDB's sequences: no view describes them, and one query per sequence is not an option. */
	if (type->kind == OBJ_SEQUENCE)
		c->unsupported |= MY_UNSUP_SEQUENCES;
	if (type->kind == OBJ_TABLE)
		my_set_table_attrs(o, row);
	my_table_partial(c, schema, o);
	return 0;
}

static const struct my_constraint_type *my_constraint_type_lookup(const char *type)
{
	for (const struct my_constraint_type *t = my_constraint_types; type && t->type; t++)
		if (strcmp(t->type, type) == 0)
			return t;
	return NULL;
}

/*
 * The constraint of this kind and name on a table, made when first met; NULL when the table is
 * not crawled. Its key is "c:<schema>/<table>/<name>", with "/<kind>" after it when a constraint
 * of another kind already holds that name: MariaDB names a column's CHECK after the column, like
 * the column's UNIQUE index. Keys are read first, then foreign keys, then checks, so the suffix
 * always goes to the same one and a new check never changes a unique key's key.
 */
static struct obj *my_constraint(struct my_crawl *c, const struct my_constraint_type *ct, const char *schema,
				 const char *table, const char *name)
{
	char *akey = my_key(ct->alias, schema, table, name), *key;
	struct obj *o = my_map_get(&c->map, akey), *t;

	if (o || !(t = my_find(c, "r:", schema, table, NULL)) || t->kind != OBJ_TABLE) {
		free(akey);
		return o;
	}
	key = my_key("c:", schema, table, name);
	if (my_map_get(&c->map, key)) {
		char *suffixed = xasprintf("%s/%s", key, model_kind(ct->kind)->name);

		free(key);
		key = suffixed;
	}
	o = my_obj_new(c, ct->kind, key, t, name);
	my_map_put(&c->map, akey, o);
	free(akey);
	return o;
}

static int my_row_table_constraint(struct my_crawl *c, MYSQL_ROW row)
{
	const struct my_constraint_type *ct = my_constraint_type_lookup(row[TC_TYPE]);
	struct obj *o;
	char *key;

	if (!ct || ct->kind != OBJ_CHECK || !(o = my_constraint(c, ct, row[TC_SCHEMA], row[TC_TABLE], row[TC_NAME])))
		return 0;
	key = my_key("ckn:", row[TC_SCHEMA], row[TC_NAME], NULL);
	my_map_put(&c->map, key, o);
	free(key);
	return 0;
}

/* MariaDB's column-level checks are named after their column; the one MariaDB adds to a JSON
 * column (a LONGTEXT underneath) is json_valid(`column`). */
static void my_check_column(struct my_crawl *c, struct obj *o, MYSQL_ROW row)
{
	const char *name = row[CK_NAME];
	struct buf want;
	char *col;

	if (row[CK_LEVEL] && strcmp(row[CK_LEVEL], "Column") == 0) {
		col = my_key("a:", row[CK_SCHEMA], row[CK_TABLE], name);
		obj_set(o, "columns", col);
		free(col);
	}
	buf_init(&want);
	buf_adds(&want, "json_valid(`");
	for (const char *p = name; *p; p++) {
		if (*p == '`')
			buf_addc(&want, '`');
		buf_addc(&want, *p);
	}
	buf_adds(&want, "`)");
	if (row[CK_CLAUSE] && strcmp(row[CK_CLAUSE], want.data) == 0)
		my_mark_put(c, "json:", row[CK_SCHEMA], row[CK_TABLE], name);
	buf_free(&want);
}

static int my_row_check(struct my_crawl *c, MYSQL_ROW row)
{
	const char *schema = row[CK_SCHEMA], *table = row[CK_TABLE], *name = row[CK_NAME];
	struct obj *o = table ? my_constraint(c, my_constraint_type_lookup("CHECK"), schema, table, name)
			      : my_find(c, "ckn:", schema, name, NULL);

	if (!o)
		return 0;
	my_set(o, "expression", row[CK_CLAUSE]);
	if (table)
		my_check_column(c, o, row);
	return 0;
}

static const struct my_type *my_type_lookup(const char *data_type)
{
	for (const struct my_type *t = my_types; data_type && t->data_type; t++)
		if (strcasecmp(t->data_type, data_type) == 0)
			return t;
	return NULL;
}

static void my_set_params(struct obj *o, enum my_param param, MYSQL_ROW row)
{
	const char *paren = strchr(row[COL_TYPE] ? row[COL_TYPE] : "", '(');

	switch (param) {
	case MY_P_CHARS:
		my_set(o, "length", row[COL_CHAR_LEN]);
		break;
	case MY_P_NUMERIC:
		my_set(o, "precision", row[COL_NUM_PREC]);
		my_set(o, "scale", row[COL_NUM_SCALE]);
		break;
	case MY_P_FRACTION:
		if (paren)
			obj_setf(o, "precision", "%ld", strtol(paren + 1, NULL, 10));
		break;
	case MY_P_BITS:
		my_set(o, "length", row[COL_NUM_PREC]);
		break;
	case MY_P_NONE:
		break;
	}
}

static bool my_numeric_family(const char *family)
{
	return strcmp(family, "integer") == 0 || strcmp(family, "decimal") == 0 || strcmp(family, "float") == 0;
}

static void my_set_family(struct my_crawl *c, struct obj *o, MYSQL_ROW row)
{
	const struct my_type *t = my_type_lookup(row[COL_DATA_TYPE]);

	if (!t) {
		obj_set(o, "family", "other");
		return;
	}
	if (strcmp(t->data_type, "longtext") == 0 &&
	    my_marked(c, "json:", row[COL_SCHEMA], row[COL_TABLE], row[COL_NAME])) {
		obj_set(o, "family", "json");
		return;
	}
	obj_set(o, "family", t->family);
	obj_set(o, "precision", t->precision);
	my_set_params(o, t->param, row);
	if (my_numeric_family(t->family) && row[COL_TYPE] && strstr(row[COL_TYPE], " unsigned"))
		obj_set(o, "unsigned", "true");
}

/* EXTRA: "auto_increment", "on update current_timestamp()" (MySQL 8: "DEFAULT_GENERATED on update
 * CURRENT_TIMESTAMP"), "VIRTUAL GENERATED", "STORED GENERATED". */
static void my_set_extra(struct obj *o, MYSQL_ROW row)
{
	const char *extra = row[COL_EXTRA] ? row[COL_EXTRA] : "";
	const char *update = strcasestr(extra, "on update ");

	if (strcasestr(extra, "auto_increment"))
		obj_set(o, "auto_increment", "true");
	if (update)
		obj_set(o, "on_update", update + strlen("on update "));
	if (strcasestr(extra, "VIRTUAL GENERATED") || strcasestr(extra, "STORED GENERATED"))
		my_set(o, "generated", row[COL_GENERATED]);
}

/* As the server prints it. MariaDB 10.2.7+ prints defaults as expressions: strings quoted, and
 * "NULL" for a column that defaults to NULL, which is no default at all. */
static void my_set_default(struct my_crawl *c, struct obj *o, MYSQL_ROW row)
{
	const char *def = row[COL_DEFAULT];

	if (!def || obj_get(o, "generated"))
		return;
	if (c->flavor == MY_MARIADB && c->version >= MY_VERSION(10, 2, 7) && strcmp(def, "NULL") == 0)
		return;
	obj_set(o, "default", def);
}

/* Only where they differ from the table's defaults (a view's: its schema's), so that a change of
 * a table's default character set does not touch every column. */
static void my_set_collation(struct my_crawl *c, struct obj *o, const struct obj *t, MYSQL_ROW row)
{
	const struct obj *ref = t->kind == OBJ_TABLE ? t : my_map_get(&c->map, t->parent);
	const char *collation = ref ? obj_get(ref, "collation") : NULL;
	const char *charset = ref ? obj_get(ref, "charset") : NULL;

	if (row[COL_COLLATION] && (!collation || strcmp(collation, row[COL_COLLATION]) != 0))
		obj_set(o, "collation", row[COL_COLLATION]);
	if (row[COL_CHARSET] && (!charset || strcmp(charset, row[COL_CHARSET]) != 0))
		obj_set(o, "charset", row[COL_CHARSET]);
}

static int my_row_column(struct my_crawl *c, MYSQL_ROW row)
{
	bool first;
	struct obj *t = my_row_of(c, "COLUMNS", row[COL_SCHEMA], row[COL_TABLE], &first), *o;

	if (!t || (t->kind != OBJ_TABLE && t->kind != OBJ_VIEW))
		return 0;
	if (first) {
		xgrow(&c->with_columns, &c->with_columns_cap, c->nwith_columns + 1, sizeof(*c->with_columns));
		c->with_columns[c->nwith_columns++] = t;
	}
	o = my_obj_new(c, OBJ_COLUMN, my_key("a:", row[COL_SCHEMA], row[COL_TABLE], row[COL_NAME]), t,
		       row[COL_NAME]);
	obj_set(o, "ordinal", row[COL_ORDINAL]);
	obj_set(o, "type", row[COL_TYPE]);
	my_set_family(c, o, row);
	if (row[COL_NULLABLE] && strcmp(row[COL_NULLABLE], "YES") == 0)
		obj_set(o, "nullable", "true");
	my_set_extra(o, row);
	my_set_default(c, o, row);
	my_set_collation(c, o, t, row);
	my_set(o, "comment", row[COL_COMMENT]);
	return 0;
}

/* A unique index is the primary key or a unique constraint. */
static struct obj *my_unique(struct my_crawl *c, MYSQL_ROW row)
{
	const char *type = strcmp(row[ST_INDEX], "PRIMARY") == 0 ? "PRIMARY KEY" : "UNIQUE";

	return my_constraint(c, my_constraint_type_lookup(type), row[ST_SCHEMA], row[ST_TABLE], row[ST_INDEX]);
}

/* An index of table t (NULL: not crawled). */
static struct obj *my_index(struct my_crawl *c, struct obj *t, MYSQL_ROW row)
{
	struct obj *o = my_find(c, "i:", row[ST_SCHEMA], row[ST_TABLE], row[ST_INDEX]);
	char *method;

	if (o || !t || t->kind != OBJ_TABLE)
		return o;
	o = my_obj_new(c, OBJ_INDEX, my_key("i:", row[ST_SCHEMA], row[ST_TABLE], row[ST_INDEX]), t, row[ST_INDEX]);
	if (row[ST_TYPE]) {
		method = xstrdup(row[ST_TYPE]);
		for (char *p = method; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		obj_set(o, "method", method);
		free(method);
	}
	return o;
}

/* Prefix lengths by key part ("10,": the first part's first 10 characters, the whole second),
 * present only when some part is a prefix. Parts arrive in order. */
static void my_set_prefix(struct obj *o, MYSQL_ROW row)
{
	const char *sub = row[ST_SUB_PART], *old = obj_get(o, "prefix_lengths");
	long seq = strtol(row[ST_SEQ], NULL, 10);
	struct buf b;

	if (!sub && !old)
		return;
	buf_init(&b);
	if (old) {
		buf_adds(&b, old);
		buf_addc(&b, ',');
	} else {
		for (long i = 1; i < seq; i++)
			buf_addc(&b, ',');
	}
	if (sub)
		buf_adds(&b, sub);
	obj_set(o, "prefix_lengths", b.data);
	buf_free(&b);
}

static int my_row_index(struct my_crawl *c, MYSQL_ROW row)
{
	struct obj *t = my_row_of(c, "STATISTICS", row[ST_SCHEMA], row[ST_TABLE], NULL);
	struct obj *o = strcmp(row[ST_NON_UNIQUE], "0") == 0 ? my_unique(c, row) : my_index(c, t, row);
	char *col;

	if (!o)
		return 0;
	if (row[ST_COLUMN]) {
		col = my_key("a:", row[ST_SCHEMA], row[ST_TABLE], row[ST_COLUMN]);
		my_append(o, "columns", MODEL_REF_SEP_STR, col);
		free(col);
	}
	if (row[ST_EXPRESSION])
		my_append(o, "expressions", ", ", row[ST_EXPRESSION]);
	my_set_prefix(o, row);
	if (strcmp(row[ST_SEQ], "1") == 0)
		my_set(o, "comment", row[ST_COMMENT]);
	return 0;
}

static struct obj *my_foreign_key(struct my_crawl *c, const char *schema, const char *table, const char *name)
{
	return my_constraint(c, my_constraint_type_lookup("FOREIGN KEY"), schema, table, name);
}

static int my_row_key_column(struct my_crawl *c, MYSQL_ROW row)
{
	struct obj *o;
	char *key;

	/* Before the foreign key: a table TABLES did not list gets none, and would go unnoticed. */
	my_row_of(c, "KEY_COLUMN_USAGE", row[KCU_SCHEMA], row[KCU_TABLE], NULL);
	o = my_foreign_key(c, row[KCU_SCHEMA], row[KCU_TABLE], row[KCU_NAME]);
	if (!o || !row[KCU_REF_SCHEMA] || !row[KCU_REF_COLUMN])
		return 0;
	/* The referenced table must be there too, unless its schema is out of sight or seen in part. */
	if (my_find(c, "n:", row[KCU_REF_SCHEMA], NULL, NULL) && my_schema_covered(c, row[KCU_REF_SCHEMA]))
		my_check_listed(c, "a foreign key references, and", row[KCU_REF_SCHEMA], row[KCU_REF_TABLE]);
	key = my_key("a:", row[KCU_SCHEMA], row[KCU_TABLE], row[KCU_COLUMN]);
	my_append(o, "columns", MODEL_REF_SEP_STR, key);
	free(key);
	key = my_key("a:", row[KCU_REF_SCHEMA], row[KCU_REF_TABLE], row[KCU_REF_COLUMN]);
	my_append(o, "ref_columns", MODEL_REF_SEP_STR, key);
	free(key);
	key = my_key("r:", row[KCU_REF_SCHEMA], row[KCU_REF_TABLE], NULL);
	obj_set(o, "ref_table", key);
	free(key);
	return 0;
}

/* MATCH_OPTION is always NONE: the server parses MATCH and ignores it, matching as SIMPLE. */
static int my_row_reference(struct my_crawl *c, MYSQL_ROW row)
{
	struct obj *o = my_foreign_key(c, row[RC_SCHEMA], row[RC_TABLE], row[RC_NAME]);
	const char *match = row[RC_MATCH];

	if (!o)
		return 0;
	my_set(o, "on_update", row[RC_UPDATE]);
	my_set(o, "on_delete", row[RC_DELETE]);
	my_set(o, "match", match && strcmp(match, "NONE") == 0 ? "SIMPLE" : match);
	return 0;
}

/* A view's definition is empty to a user who may not SHOW VIEW it: then it has no hash. */
static int my_row_view(struct my_crawl *c, MYSQL_ROW row)
{
	struct obj *o = my_find(c, "r:", row[VW_SCHEMA], row[VW_NAME], NULL);

	if (!o || o->kind != OBJ_VIEW)
		return 0;
	if (row[VW_DEFINITION] && *row[VW_DEFINITION])
		obj_set_sha256(o, "definition_hash", row[VW_DEFINITION]);
	my_set(o, "owner", row[VW_DEFINER]);
	return 0;
}

static int my_row_view_usage(struct my_crawl *c, MYSQL_ROW row)
{
	struct obj *o = my_find(c, "r:", row[VTU_SCHEMA], row[VTU_NAME], NULL);
	char *ref;

	if (!o || o->kind != OBJ_VIEW)
		return 0;
	ref = my_key("r:", row[VTU_TABLE_SCHEMA], row[VTU_TABLE], NULL);
	my_append(o, "depends_on", MODEL_REF_SEP_STR, ref);
	free(ref);
	return 0;
}

static int my_row_ddl_before(struct my_crawl *c, MYSQL_ROW row)
{
	c->marked = row[0] && row[1];
	if (c->marked) {
		c->since = strtoll(row[0], NULL, 10);
		c->ddl = strtoull(row[1], NULL, 10);
	}
	return 0;
}

static int my_row_ddl_after(struct my_crawl *c, MYSQL_ROW row)
{
	c->quiet = row[0] && row[1] && strtoull(row[0], NULL, 10) == c->ddl && strcmp(row[1], "0") == 0;
	return 0;
}

/* A step's SQL as a format: the statement to run, or NULL to skip the step. */
static char *my_format_timeouts(const struct my_crawl *c, const char *sql)
{
	return xasprintf(sql, c->timeout, c->timeout);
}

static char *my_format_since(const struct my_crawl *c, const char *sql)
{
	return c->marked ? xasprintf(sql, c->since) : NULL;
}

/* The crawl, in order. Privileges before schemas (partial visibility); schemas before tables
 * before everything on a table; keys, then foreign keys, then checks (my_constraint); checks
 * before columns (MariaDB's JSON columns). */
static const struct my_step {
	const char *what;
	const struct my_sql *sql;
	size_t nsql;
	int (*row)(struct my_crawl *c, MYSQL_ROW row); /* NULL: no rows */
	char *(*format)(const struct my_crawl *c, const char *sql); /* NULL: sql is not a format */
} my_steps[] = {
#define MY_STEP(what, sql, row, format) { what, sql, sizeof(sql) / sizeof(sql[0]), row, format }
	MY_STEP("setting up the session", my_sql_settings, NULL, my_format_timeouts),
	MY_STEP("setting the isolation level", my_sql_isolation, NULL, NULL),
	MY_STEP("starting the transaction", my_sql_start, NULL, NULL),
	MY_STEP("reading the DDL count", my_sql_ddl_before, my_row_ddl_before, NULL),
	MY_STEP("reading privileges", my_sql_privileges, my_row_privilege, NULL),
	MY_STEP("reading SCHEMATA", my_sql_schemata, my_row_schema, NULL),
	MY_STEP("reading TABLES", my_sql_tables, my_row_table, NULL),
	MY_STEP("reading STATISTICS", my_sql_statistics, my_row_index, NULL),
	MY_STEP("reading KEY_COLUMN_USAGE", my_sql_key_columns, my_row_key_column, NULL),
	MY_STEP("reading REFERENTIAL_CONSTRAINTS", my_sql_references, my_row_reference, NULL),
	MY_STEP("reading TABLE_CONSTRAINTS", my_sql_table_constraints, my_row_table_constraint, NULL),
	MY_STEP("reading CHECK_CONSTRAINTS", my_sql_checks, my_row_check, NULL),
	MY_STEP("reading COLUMNS", my_sql_columns, my_row_column, NULL),
	MY_STEP("reading VIEWS", my_sql_views, my_row_view, NULL),
	MY_STEP("reading VIEW_TABLE_USAGE", my_sql_view_usage, my_row_view_usage, NULL),
	MY_STEP("checking that no DDL ran", my_sql_ddl_after, my_row_ddl_after, my_format_since),
	MY_STEP("committing", my_sql_commit, NULL, NULL),
#undef MY_STEP
};

static const struct my_sql *my_sql_pick(const struct my_crawl *c, const struct my_sql *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((v[i].flavor == MY_ANY || v[i].flavor == c->flavor) && c->version >= v[i].min &&
		    (!v[i].max || c->version < v[i].max))
			return &v[i];
	return NULL;
}

/* Runs one statement, streaming its rows to the step's row function. */
static int my_query(struct my_crawl *c, const struct my_step *s, const char *sql)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned nfields;
	int r = 0;

	if (mysql_real_query(c->conn, sql, strlen(sql)) != 0)
		return my_error(c, s->what);
	res = mysql_use_result(c->conn);
	if (!res)
		return mysql_field_count(c->conn) ? my_error(c, s->what) : 0;
	nfields = mysql_num_fields(res);
	while (r == 0 && (row = mysql_fetch_row(res))) {
		for (unsigned i = 0; i < nfields; i++)
			if (row[i])
				my_utf8_fix(row[i]);
		if (s->row)
			r = s->row(c, row);
	}
	if (r == 0 && mysql_errno(c->conn))
		r = my_error(c, s->what);
	mysql_free_result(res);
	return r;
}

static int my_step_run(struct my_crawl *c, const struct my_step *s)
{
	const struct my_sql *q = my_sql_pick(c, s->sql, s->nsql);
	char *sql;
	int r;

	if (!q || !q->sql) {
		c->unsupported |= q ? q->unsupported : 0;
		return 0;
	}
	my_row_forget(c);
	if (!s->format)
		return my_query(c, s, q->sql);
	sql = s->format(c, q->sql);
	if (!sql)
		return 0;
	r = my_query(c, s, sql);
	free(sql);
	return r;
}

static int my_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A view's dependencies, sorted by key in byte order and without repeats, like pg's. */
static void my_sort_refs(struct obj *o, const char *attr)
{
	char *list = xstrdup(obj_get(o, attr)), **refs = NULL, *save = NULL;
	size_t n = 0, cap = 0;
	struct buf b;

	for (char *r = strtok_r(list, MODEL_REF_SEP_STR, &save); r; r = strtok_r(NULL, MODEL_REF_SEP_STR, &save)) {
		xgrow(&refs, &cap, n + 1, sizeof(*refs));
		refs[n++] = r;
	}
	qsort(refs, n, sizeof(*refs), my_strcmp);
	buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(refs[i], refs[i - 1]) == 0)
			continue;
		if (b.len)
			buf_addc(&b, MODEL_REF_SEP);
		buf_adds(&b, refs[i]);
	}
	obj_set(o, attr, b.data ? b.data : "");
	buf_free(&b);
	free(refs);
	free(list);
}

static void my_finish(struct my_crawl *c)
{
	struct buf b;

	for (size_t i = 0; i < c->snap->nobjs; i++)
		if (c->snap->objs[i]->kind == OBJ_VIEW && obj_get(c->snap->objs[i], "depends_on"))
			my_sort_refs(c->snap->objs[i], "depends_on");
	buf_init(&b);
	for (const struct my_word *w = my_unsupported_words; w->word; w++) {
		if (!(c->unsupported & w->bit))
			continue;
		if (b.len)
			buf_addc(&b, ',');
		buf_adds(&b, w->word);
	}
	if (b.len)
		obj_set(c->db, "unsupported", b.data);
	buf_free(&b);
}

/* What the server is, from its handshake: "10.11.6-MariaDB-0+deb12u1" (Oracle's client library
 * shows MariaDB's old "5.5.5-" prefix), "8.0.36". */
static int my_server(struct my_crawl *c)
{
	const char *info = mysql_get_server_info(c->conn);
	unsigned a = 0, b = 0, d = 0;

	if (!info)
		info = "";
	c->flavor = strstr(info, "MariaDB") ? MY_MARIADB : MY_MYSQL;
	if (c->flavor == MY_MARIADB && strncmp(info, "5.5.5-", 6) == 0)
		info += 6;
	if (sscanf(info, "%u.%u.%u", &a, &b, &d) < 2)
		return my_fail(c, DRIVER_E_CONFIG, "cannot read the server version \"%.64s\"", info);
	c->version = MY_VERSION(a, b, d);
	if (c->version < MY_VERSION(5, 5, 3))
		return my_fail(c, DRIVER_E_CONFIG, "server version %.64s is older than MySQL 5.5.3 (no utf8mb4)", info);
	c->db = my_add(c, obj_new(OBJ_DATABASE, "d", NULL, "def"));
	obj_set(c->db, "dbms", c->flavor == MY_MARIADB ? "MariaDB" : "MySQL");
	obj_set(c->db, "dbms_version", info);
	return 0;
}

/* Options from the option file are applied by mysql_real_connect, after these: they win. The
 * character set is set again with SET NAMES in case one of them named another. */
static void my_options(const struct my *my, MYSQL *conn)
{
	unsigned connect = my->ci.connect_timeout, rw = my->timeout + MY_READ_MARGIN, no = 0;

	mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (connect)
		mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect);
	mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	mysql_options(conn, MYSQL_OPT_LOCAL_INFILE, &no);
	mysql_options4(conn, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "prospector-agent");
	if (my->ci.option_file)
		mysql_options(conn, MYSQL_READ_DEFAULT_FILE, my->ci.option_file);
	if (my->ci.option_file || my->ci.option_group)
		mysql_options(conn, MYSQL_READ_DEFAULT_GROUP, my->ci.option_group ? my->ci.option_group : "client");
}

/* The option file the client library takes a password from: option_file, or with option_group alone
 * the user's ~/.my.cnf (the system-wide files are world-readable by design and hold no passwords).
 * NULL: none. *ret_named: named by the conninfo, so it must exist. */
static char *my_option_path(const struct my *my, bool *ret_named)
{
	const char *home = getenv("HOME");

	*ret_named = my->ci.option_file != NULL;
	if (my->ci.option_file)
		return xstrdup(my->ci.option_file);
	return my->ci.option_group && home && *home ? xasprintf("%s/.my.cnf", home) : NULL;
}

/* An option file its group or others can access is refused, named, with its mode: it may hold the
 * password, and the client library would read it without a word. So is MYSQL_PWD, which the client
 * library reads when it has no password. 0, or DRIVER_E_CONFIG with err. */
static int my_option_check(const struct my *my, char *err)
{
	char why[DRIVER_ERRLEN - 100];
	bool named;
	char *path = my_option_path(my, &named);
	int r = path ? secrets_file_private(path, why, sizeof(why)) : 0;

	if (!my->password && secrets_env_refused("MYSQL_PWD", err, DRIVER_ERRLEN)) {
		free(path);
		return DRIVER_E_CONFIG;
	}
	if (r == 0 && named && access(path, R_OK) != 0)
		r = -errno;
	if (r > 0)
		snprintf(err, DRIVER_ERRLEN, "option file %s", why);
	else if (r < 0 && named)
		snprintf(err, DRIVER_ERRLEN, "option_file %.200s is not readable: %s", path, strerror(-r));
	free(path);
	return r > 0 || (r < 0 && named) ? DRIVER_E_CONFIG : 0;
}

static int my_connect(const struct my *my, struct my_crawl *c)
{
	const struct my_conninfo *ci = &my->ci;

	if (my_option_check(my, c->err) != 0)
		return DRIVER_E_CONFIG;
	c->conn = mysql_init(NULL);
	if (!c->conn)
		return -ENOMEM;
	my_options(my, c->conn);
	if (!mysql_real_connect(c->conn, ci->host, ci->user, my->password, ci->database, ci->port, ci->socket, 0))
		return my_error(c, "cannot connect");
	return my_server(c);
}

static const struct my_key *my_key_lookup(const char *key, size_t len)
{
	for (const struct my_key *k = my_keys; k->key; k++)
		if (strlen(k->key) == len && strncmp(k->key, key, len) == 0)
			return k;
	return NULL;
}

/* Takes value. Numbers are checked, never echoed. */
static int my_conninfo_set(struct my_conninfo *ci, const struct my_key *k, char *value, char *err)
{
	void *field = (char *)ci + k->offset;
	char *end;
	unsigned long n;

	if (k->type == MY_KEY_STR) {
		free(*(char **)field);
		*(char **)field = *value ? value : NULL;
		if (!*value)
			free(value);
		return 0;
	}
	n = strtoul(value, &end, 10);
	if (!*value || *end || value[0] == '-' || n > k->max) {
		free(value);
		snprintf(err, DRIVER_ERRLEN, "conninfo: %s must be a number from 0 to %u", k->key, k->max);
		return DRIVER_E_CONFIG;
	}
	*(unsigned *)field = (unsigned)n;
	free(value);
	return 0;
}

/* A value: bare up to white space, or in single quotes; '\' escapes the next character. NULL
 * when a quote is not closed. */
static char *my_conninfo_value(const char **sp)
{
	const char *s = *sp;
	bool quoted = *s == '\'';
	struct buf b;

	buf_init(&b);
	s += quoted;
	while (*s && (quoted ? *s != '\'' : !strchr(" \t\r\n", *s))) {
		if (*s == '\\' && s[1])
			s++;
		buf_addc(&b, *s++);
	}
	if (quoted && *s != '\'') {
		buf_free(&b);
		return NULL;
	}
	*sp = s + quoted;
	return buf_steal(&b);
}

static void my_conninfo_unknown(const char *key, size_t len, char *err)
{
	struct buf known;

	buf_init(&known);
	for (const struct my_key *k = my_keys; k->key; k++)
		buf_addf(&known, "%s%s", known.len ? ", " : "", k->key);
	snprintf(err, DRIVER_ERRLEN, "conninfo: unknown key \"%.*s\" (known: %s)", (int)(len > 64 ? 64 : len), key,
		 known.data);
	buf_free(&known);
}

/* "key=value key='quoted value'", like libpq's. Messages name keys, never values. */
static int my_conninfo_parse(const char *conninfo, struct my_conninfo *ci, char *err)
{
	static const char word[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
	const char *s = conninfo;

	while (*(s += strspn(s, " \t\r\n"))) {
		const char *key = s;
		size_t len = strspn(s, word);
		const struct my_key *k;
		char *value;

		s += len;
		s += strspn(s, " \t");
		if (!len || *s != '=') {
			snprintf(err, DRIVER_ERRLEN, "conninfo: expected key=value at byte %zu", (size_t)(key - conninfo));
			return DRIVER_E_CONFIG;
		}
		s++;
		s += strspn(s, " \t");
		if (!(value = my_conninfo_value(&s))) {
			snprintf(err, DRIVER_ERRLEN, "conninfo: the value of %.*s lacks its closing quote", (int)len, key);
			return DRIVER_E_CONFIG;
		}
		if (!(k = my_key_lookup(key, len))) {
			free(value);
			my_conninfo_unknown(key, len, err);
			return DRIVER_E_CONFIG;
		}
		if (my_conninfo_set(ci, k, value, err) != 0)
			return DRIVER_E_CONFIG;
	}
	return 0;
}

static void my_close(void *handle)
{
	struct my *my = handle;

	if (!my)
		return;
	for (const struct my_key *k = my_keys; k->key; k++) {
		char **field = (char **)((char *)&my->ci + k->offset);

		if (k->type != MY_KEY_STR || !*field)
			continue;
		sodium_memzero(*field, strlen(*field));
		free(*field);
	}
	secrets_free(my->password);
	free(my);
}

static int my_open(const struct source_conf *conf, void **ret_handle, char *err)
{
	struct my *my;
	char key[64];

	if (!conf->conninfo) {
		snprintf(err, DRIVER_ERRLEN, "conninfo is not set");
		return DRIVER_E_CONFIG;
	}
	if (secrets_in_conninfo("mysql", conf->conninfo, key, sizeof(key))) {
		snprintf(err, DRIVER_ERRLEN, "conninfo must not hold a password (%s): put it in the agent's "
			 "secrets file or in the option_file (mode 0600)", key);
		return DRIVER_E_CONFIG;
	}
	my = xcalloc(1, sizeof(*my));
	my->ci.connect_timeout = MY_CONNECT_TIMEOUT;
	my->password = conf->password ? xstrdup(conf->password) : NULL;
	if (my_conninfo_parse(conf->conninfo, &my->ci, err) != 0 || my_option_check(my, err) != 0) {
		my_close(my);
		return DRIVER_E_CONFIG;
	}
	my->timeout = conf->timeout ? conf->timeout : MY_DEFAULT_TIMEOUT;
	if (my->timeout > MY_MAX_TIMEOUT)
		my->timeout = MY_MAX_TIMEOUT;
	*ret_handle = my;
	return 0;
}

static void my_crawl_free(struct my_crawl *c)
{
	if (c->conn)
		mysql_close(c->conn);
	my_map_free(&c->map);
	free(c->with_columns);
	my_row_forget(c);
	for (size_t i = 0; i < c->nschema_grants; i++)
		free(c->schema_grants[i]);
	free(c->schema_grants);
}

static int my_crawl(void *handle, struct snapshot *snap, char *err)
{
	struct my *my = handle;
	struct my_crawl c = { .snap = snap, .err = err, .password = my->password, .timeout = my->timeout };
	int r = my_connect(my, &c);

	for (size_t i = 0; r == 0 && i < sizeof(my_steps) / sizeof(my_steps[0]); i++)
		r = my_step_run(&c, &my_steps[i]);
	if (r == 0)
		my_check_columns(&c);
	if (r == 0 && c.unstable[0])
		r = my_fail(&c, DRIVER_E_UNSTABLE, "the catalog changed during the crawl: %s", c.unstable);
	if (r == 0)
		my_finish(&c);
	my->quiet = r == 0 && c.quiet;
	my_crawl_free(&c);
	return r;
}

static bool my_quiet(void *handle)
{
	return ((const struct my *)handle)->quiet;
}

const struct driver_ops driver_mysql = {
	.name = "mysql",
	.open = my_open,
	.crawl = my_crawl,
	.close = my_close,
	.settle = true,
	.quiet = my_quiet,
};
