/*
 * The generic ODBC driver (unixODBC): reads a database's catalog through the ODBC catalog functions,
 * for the DBMSes Prospector has no native driver for (Oracle, SQL Server, DB2, domestic databases)
 * and for SQLite files.
 *
 * conninfo is an ODBC connection string ("DSN=hr;", "Driver={PostgreSQL Unicode};Server=…"), given
 * to SQLDriverConnectW as it is, plus what its driver needs (odbc_connect_opts). A crawl connects,
 * asks SQLGetInfo what the DBMS is and how it names things, opens a read-only repeatable-read
 * transaction where the driver can, then calls SQLTables and SQLColumns once per schema (patterns
 * escaped with the driver's escape character) and SQLPrimaryKeys, SQLStatistics and
 * SQLForeignKeys. The ODBC spec gives those three one table each; they run catalog-wide only for a
 * driver that accepts a pattern there (probed for a DBMS we do not know) and per table otherwise:
 * psqlODBC, MariaDB Connector/ODBC and SQLite ODBC all need per-table calls (measured; see
 * odbc_dbmses[]). MySQL's and MariaDB's foreign keys come from information_schema instead, two
 * statements through the same connection: MariaDB Connector/ODBC's SQLForeignKeys misses some and
 * costs the whole server's size per call.
 *
 * Levels (issue 3): a DBMS with schemas gives database = the current catalog, schema = TABLE_SCHEM;
 * one with catalogs only (MySQL, MariaDB) gives database "def", schema = TABLE_CAT; one with neither
 * (SQLite) gives database "def" and one schema, "main". Keys are built from names (ODBC has no
 * stable ids): "d", "n:<schema>", "r:<schema>/<table>", "a:<schema>/<table>/<column>",
 * "c:<schema>/<table>/<constraint>", "i:<schema>/<table>/<index>", with '\' and '/' in a name
 * escaped as "\\" and "\/". A unique index over plain columns is a unique constraint: ODBC cannot
 * tell the two apart.
 *
 * What ODBC cannot tell (check constraints, view definitions; per DBMS comments, sequences …) is
 * named in the database's "unsupported" attribute, never guessed. Everything one DBMS or its driver
 * does differently lives in odbc_dbmses[], keyed by SQL_DBMS_NAME, down to one SQL statement for
 * what a driver's SQLColumns is known to get wrong (MariaDB Connector/ODBC).
 *
 * Every catalog call uses the wide-character (W) API. SQLWCHAR is UTF-16 in unixODBC; this file
 * converts to and from UTF-8 itself, surrogate pairs included. Two unixODBC habits need help, both
 * measured: the connection string goes narrow (UTF-8) when it is not ASCII, and the crawl runs in a
 * UTF-8 LC_CTYPE (see odbc_connect, odbc_crawl). The handle owns the connection string, which holds
 * no password (odbc_open refuses one), and a copy of the source's password from the agent's secrets
 * file: it is added as PWD={…} only to the string handed to the driver manager, in a buffer of its
 * own that is wiped after the call (secrets_odbc_conninfo). No message ever quotes the connection
 * string, and every message is scrubbed of the password before it leaves. A driver that
 * keeps logs of its own (psqlODBC, which Debian registers with CommLog=1) is told not to: an agent
 * writes no file outside its state, and those logs hold the connection string (odbc_connect_opts,
 * odbc_pins).
 */
#include "driver.h"

#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
#include <stdarg.h>
#include <stdbool.h>
#include <limits.h>
#include <locale.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "model.h"
#include "secrets.h"
#include "utf8.h"
#include "xmalloc.h"

#define ODBC_DEFAULT_TIMEOUT 30 /* seconds, catalog calls, when the source sets none */
#define ODBC_LOGIN_TIMEOUT 10   /* seconds */
#define ODBC_MAX_COLS 40        /* result columns read per row, driver-specific ones included */
#define ODBC_UNSUPPORTED 100    /* internal: the driver says it cannot do this call (HYC00, IM001) */
#define ODBC_MAX_PARAMS 500     /* '?' markers in one statement */

/* The fixed vocabulary of the database's "unsupported" attribute, in the order it is printed. */
enum odbc_missing {
	ODBC_M_CHECKS,
	ODBC_M_COMMENTS,
	ODBC_M_DEFAULTS,
	ODBC_M_FOREIGN_KEYS,
	ODBC_M_INDEXES,
	ODBC_M_PRIMARY_KEYS,
	ODBC_M_SEQUENCES,
	ODBC_M_VIEW_DEPS,
	ODBC_M_COUNT,
};

static const char *const odbc_missing_names[ODBC_M_COUNT] = {
	[ODBC_M_CHECKS] = "check_constraints",
	[ODBC_M_COMMENTS] = "comments",
	[ODBC_M_DEFAULTS] = "defaults",
	[ODBC_M_FOREIGN_KEYS] = "foreign_keys",
	[ODBC_M_INDEXES] = "indexes",
	[ODBC_M_PRIMARY_KEYS] = "primary_keys",
	[ODBC_M_SEQUENCES] = "sequences",
	[ODBC_M_VIEW_DEPS] = "view_dependencies",
};

/*
 * Types. A column's family and parameters come from the DBMS's own type names where the quirks
 * table has them (SQL types cannot tell text from varchar, or a MySQL TIMESTAMP from a DATETIME),
 * else from DATA_TYPE. The parameters mirror the native drivers: length for character, binary and
 * bit types, precision/scale for decimals, fractional-second digits for time types.
 */
enum odbc_param {
	ODBC_P_NONE,
	ODBC_P_LENGTH,      /* length = COLUMN_SIZE */
	ODBC_P_DECIMAL,     /* precision = COLUMN_SIZE, scale = DECIMAL_DIGITS */
	ODBC_P_FRACTION,    /* precision = DECIMAL_DIGITS */
	ODBC_P_FLOAT,       /* SQL_FLOAT: 24 or 53 binary digits, by COLUMN_SIZE and NUM_PREC_RADIX */
	ODBC_P_DECLARED,    /* "(n)" / "(p,s)" of the declared type in TYPE_NAME (SQLite) */
	ODBC_P_PG_LENGTH,   /* psqlODBC TYPMOD: varchar/bpchar/bit length, -1 when unspecified */
	ODBC_P_PG_NUMERIC,  /* TYPMOD less its header: precision << 16 | scale */
	ODBC_P_PG_FRACTION, /* TYPMOD as the server has it */
	ODBC_P_PG_INTERVAL, /* TYPMOD less its 4-byte header; fraction digits in the low 16 bits */
	ODBC_P_PG_VARBIT,   /* TYPMOD less 4 when it was 4 or more: ambiguous below 4 */
};

struct odbc_type {
	const char *name; /* TYPE_NAME, case-insensitive */
	long oid;         /* psqlODBC: the base type's OID, to resolve domains; 0 = none */
	const char *family;
	const char *precision; /* fixed binary precision */
	enum odbc_param param;
};

/* By DATA_TYPE, for DBMSes without a name table and names the table does not know. */
static const struct odbc_sqltype {
	SQLSMALLINT lo, hi; /* a DATA_TYPE range */
	const char *family;
	const char *precision;
	enum odbc_param param;
} odbc_sqltypes[] = {
	{ SQL_CHAR, SQL_CHAR, "char", NULL, ODBC_P_LENGTH },
	{ SQL_WCHAR, SQL_WCHAR, "char", NULL, ODBC_P_LENGTH },
	{ SQL_VARCHAR, SQL_VARCHAR, "string", NULL, ODBC_P_LENGTH },
	{ SQL_WVARCHAR, SQL_WVARCHAR, "string", NULL, ODBC_P_LENGTH },
	{ SQL_LONGVARCHAR, SQL_LONGVARCHAR, "string", NULL, ODBC_P_NONE },
	{ SQL_WLONGVARCHAR, SQL_WLONGVARCHAR, "string", NULL, ODBC_P_NONE },
	{ SQL_BINARY, SQL_BINARY, "binary", NULL, ODBC_P_LENGTH },
	{ SQL_VARBINARY, SQL_VARBINARY, "binary", NULL, ODBC_P_LENGTH },
	{ SQL_LONGVARBINARY, SQL_LONGVARBINARY, "binary", NULL, ODBC_P_NONE },
	{ SQL_BIT, SQL_BIT, "boolean", NULL, ODBC_P_NONE },
	{ SQL_TINYINT, SQL_TINYINT, "integer", "8", ODBC_P_NONE },
	{ SQL_SMALLINT, SQL_SMALLINT, "integer", "16", ODBC_P_NONE },
	{ SQL_INTEGER, SQL_INTEGER, "integer", "32", ODBC_P_NONE },
	{ SQL_BIGINT, SQL_BIGINT, "integer", "64", ODBC_P_NONE },
	{ SQL_NUMERIC, SQL_DECIMAL, "decimal", NULL, ODBC_P_DECIMAL },
	{ SQL_REAL, SQL_REAL, "float", "24", ODBC_P_NONE },
	{ SQL_DOUBLE, SQL_DOUBLE, "float", "53", ODBC_P_NONE },
	{ SQL_FLOAT, SQL_FLOAT, "float", NULL, ODBC_P_FLOAT },
	{ SQL_DATE, SQL_DATE, "date", NULL, ODBC_P_NONE },
	{ SQL_TYPE_DATE, SQL_TYPE_DATE, "date", NULL, ODBC_P_NONE },
	{ SQL_TIME, SQL_TIME, "time", NULL, ODBC_P_FRACTION },
	{ SQL_TYPE_TIME, SQL_TYPE_TIME, "time", NULL, ODBC_P_FRACTION },
	{ SQL_TIMESTAMP, SQL_TIMESTAMP, "timestamp", NULL, ODBC_P_FRACTION },
	{ SQL_TYPE_TIMESTAMP, SQL_TYPE_TIMESTAMP, "timestamp", NULL, ODBC_P_FRACTION },
	{ SQL_INTERVAL_YEAR, SQL_INTERVAL_MINUTE_TO_SECOND, "interval", NULL, ODBC_P_NONE },
	{ SQL_GUID, SQL_GUID, "uuid", NULL, ODBC_P_NONE },
	{ 0, 0, NULL, NULL, ODBC_P_NONE },
};

/* psqlODBC's TYPE_NAME is pg_type.typname; FIELD_TYPE is the base type's OID, which resolves
 * domains. Families and parameters as driver_pg gives them. */
static const struct odbc_type odbc_pg_types[] = {
	{ "int2", 21, "integer", "16", ODBC_P_NONE },
	{ "int4", 23, "integer", "32", ODBC_P_NONE },
	{ "int8", 20, "integer", "64", ODBC_P_NONE },
	{ "numeric", 1700, "decimal", NULL, ODBC_P_PG_NUMERIC },
	{ "money", 790, "decimal", NULL, ODBC_P_NONE },
	{ "float4", 700, "float", "24", ODBC_P_NONE },
	{ "float8", 701, "float", "53", ODBC_P_NONE },
	{ "bool", 16, "boolean", NULL, ODBC_P_NONE },
	{ "varchar", 1043, "string", NULL, ODBC_P_PG_LENGTH },
	{ "text", 25, "string", NULL, ODBC_P_NONE },
	{ "name", 19, "string", NULL, ODBC_P_NONE },
	{ "citext", 0, "string", NULL, ODBC_P_NONE },
	{ "bpchar", 1042, "char", NULL, ODBC_P_PG_LENGTH },
	{ "char", 18, "char", NULL, ODBC_P_NONE },
	{ "bytea", 17, "binary", NULL, ODBC_P_NONE },
	{ "date", 1082, "date", NULL, ODBC_P_NONE },
	{ "time", 1083, "time", NULL, ODBC_P_PG_FRACTION },
	{ "timetz", 1266, "timetz", NULL, ODBC_P_PG_FRACTION },
	{ "timestamp", 1114, "timestamp", NULL, ODBC_P_PG_FRACTION },
	{ "timestamptz", 1184, "timestamptz", NULL, ODBC_P_PG_FRACTION },
	{ "interval", 1186, "interval", NULL, ODBC_P_PG_INTERVAL },
	{ "json", 114, "json", NULL, ODBC_P_NONE },
	{ "jsonb", 3802, "json", NULL, ODBC_P_NONE },
	{ "uuid", 2950, "uuid", NULL, ODBC_P_NONE },
	{ "xml", 142, "xml", NULL, ODBC_P_NONE },
	{ "bit", 1560, "bit", NULL, ODBC_P_PG_LENGTH },
	{ "varbit", 1562, "bit", NULL, ODBC_P_PG_VARBIT },
	{ "inet", 869, "network", NULL, ODBC_P_NONE },
	{ "cidr", 650, "network", NULL, ODBC_P_NONE },
	{ "macaddr", 829, "network", NULL, ODBC_P_NONE },
	{ "macaddr8", 774, "network", NULL, ODBC_P_NONE },
	{ "point", 600, "geometry", NULL, ODBC_P_NONE },
	{ "line", 628, "geometry", NULL, ODBC_P_NONE },
	{ "lseg", 601, "geometry", NULL, ODBC_P_NONE },
	{ "box", 603, "geometry", NULL, ODBC_P_NONE },
	{ "path", 602, "geometry", NULL, ODBC_P_NONE },
	{ "polygon", 604, "geometry", NULL, ODBC_P_NONE },
	{ "circle", 718, "geometry", NULL, ODBC_P_NONE },
	{ "geometry", 0, "geometry", NULL, ODBC_P_NONE },
	{ "geography", 0, "geometry", NULL, ODBC_P_NONE },
	{ NULL, 0, NULL, NULL, ODBC_P_NONE },
};

/* MySQL and MariaDB TYPE_NAME, " UNSIGNED" and " ZEROFILL" taken off first. MariaDB Connector/ODBC
 * 3.1 reports no fractional digits for TIME/DATETIME/TIMESTAMP and BIT sizes in bytes, so those
 * parameters stay absent rather than wrong. */
static const struct odbc_type odbc_mysql_types[] = {
	{ "TINYINT", 0, "integer", "8", ODBC_P_NONE },
	{ "BOOL", 0, "integer", "8", ODBC_P_NONE },
	{ "BOOLEAN", 0, "integer", "8", ODBC_P_NONE },
	{ "SMALLINT", 0, "integer", "16", ODBC_P_NONE },
	{ "YEAR", 0, "integer", "16", ODBC_P_NONE },
	{ "MEDIUMINT", 0, "integer", "24", ODBC_P_NONE },
	{ "INT", 0, "integer", "32", ODBC_P_NONE },
	{ "INTEGER", 0, "integer", "32", ODBC_P_NONE },
	{ "BIGINT", 0, "integer", "64", ODBC_P_NONE },
	{ "DECIMAL", 0, "decimal", NULL, ODBC_P_DECIMAL },
	{ "NUMERIC", 0, "decimal", NULL, ODBC_P_DECIMAL },
	{ "FLOAT", 0, "float", "24", ODBC_P_NONE },
	{ "DOUBLE", 0, "float", "53", ODBC_P_NONE },
	{ "DOUBLE PRECISION", 0, "float", "53", ODBC_P_NONE },
	{ "REAL", 0, "float", "53", ODBC_P_NONE },
	{ "CHAR", 0, "char", NULL, ODBC_P_LENGTH },
	{ "VARCHAR", 0, "string", NULL, ODBC_P_LENGTH },
	{ "TINYTEXT", 0, "string", NULL, ODBC_P_NONE },
	{ "TEXT", 0, "string", NULL, ODBC_P_NONE },
	{ "MEDIUMTEXT", 0, "string", NULL, ODBC_P_NONE },
	{ "LONGTEXT", 0, "string", NULL, ODBC_P_NONE },
	{ "BINARY", 0, "binary", NULL, ODBC_P_LENGTH },
	{ "VARBINARY", 0, "binary", NULL, ODBC_P_LENGTH },
	{ "TINYBLOB", 0, "binary", NULL, ODBC_P_NONE },
	{ "BLOB", 0, "binary", NULL, ODBC_P_NONE },
	{ "MEDIUMBLOB", 0, "binary", NULL, ODBC_P_NONE },
	{ "LONGBLOB", 0, "binary", NULL, ODBC_P_NONE },
	{ "DATE", 0, "date", NULL, ODBC_P_NONE },
	{ "TIME", 0, "time", NULL, ODBC_P_FRACTION },
	{ "DATETIME", 0, "timestamp", NULL, ODBC_P_FRACTION },
	{ "TIMESTAMP", 0, "timestamptz", NULL, ODBC_P_FRACTION },
	{ "JSON", 0, "json", NULL, ODBC_P_NONE },
	{ "ENUM", 0, "enum", NULL, ODBC_P_NONE },
	{ "SET", 0, "enum", NULL, ODBC_P_NONE },
	{ "BIT", 0, "bit", NULL, ODBC_P_NONE },
	{ "UUID", 0, "uuid", NULL, ODBC_P_NONE },
	{ "INET4", 0, "network", NULL, ODBC_P_NONE },
	{ "INET6", 0, "network", NULL, ODBC_P_NONE },
	{ "GEOMETRY", 0, "geometry", NULL, ODBC_P_NONE },
	{ "POINT", 0, "geometry", NULL, ODBC_P_NONE },
	{ "LINESTRING", 0, "geometry", NULL, ODBC_P_NONE },
	{ "POLYGON", 0, "geometry", NULL, ODBC_P_NONE },
	{ "MULTIPOINT", 0, "geometry", NULL, ODBC_P_NONE },
	{ "MULTILINESTRING", 0, "geometry", NULL, ODBC_P_NONE },
	{ "MULTIPOLYGON", 0, "geometry", NULL, ODBC_P_NONE },
	{ "GEOMETRYCOLLECTION", 0, "geometry", NULL, ODBC_P_NONE },
	{ NULL, 0, NULL, NULL, ODBC_P_NONE },
};

/*
 * SQLite ODBC's TYPE_NAME is the declared type, parameters included, and its COLUMN_SIZE and
 * DECIMAL_DIGITS are not the declaration's. Names this table does not know take SQLite's own
 * affinity rules (odbc_sqlite_affinity). Every SQLite integer is stored in up to 64 bits, and every
 * SQLite float is a double, whatever the declaration says.
 */
static const struct odbc_type odbc_sqlite_types[] = {
	{ "CHAR", 0, "char", NULL, ODBC_P_DECLARED },
	{ "CHARACTER", 0, "char", NULL, ODBC_P_DECLARED },
	{ "NCHAR", 0, "char", NULL, ODBC_P_DECLARED },
	{ "NATIVE CHARACTER", 0, "char", NULL, ODBC_P_DECLARED },
	{ "VARCHAR", 0, "string", NULL, ODBC_P_DECLARED },
	{ "NVARCHAR", 0, "string", NULL, ODBC_P_DECLARED },
	{ "VARYING CHARACTER", 0, "string", NULL, ODBC_P_DECLARED },
	{ "CHARACTER VARYING", 0, "string", NULL, ODBC_P_DECLARED },
	{ "NUMERIC", 0, "decimal", NULL, ODBC_P_DECLARED },
	{ "DECIMAL", 0, "decimal", NULL, ODBC_P_DECLARED },
	{ "BOOLEAN", 0, "boolean", NULL, ODBC_P_NONE },
	{ "BOOL", 0, "boolean", NULL, ODBC_P_NONE },
	{ "DATE", 0, "date", NULL, ODBC_P_NONE },
	{ "TIME", 0, "time", NULL, ODBC_P_DECLARED },
	{ "DATETIME", 0, "timestamp", NULL, ODBC_P_DECLARED },
	{ "TIMESTAMP", 0, "timestamp", NULL, ODBC_P_DECLARED },
	{ "JSON", 0, "json", NULL, ODBC_P_NONE },
	{ NULL, 0, NULL, NULL, ODBC_P_NONE },
};

/* SQLite's type affinity (https://sqlite.org/datatype3.html §3.1): the first rule whose text the
 * declared type contains wins; none: NUMERIC. */
static const struct odbc_type odbc_sqlite_affinity[] = {
	{ "INT", 0, "integer", "64", ODBC_P_NONE },
	{ "CHAR", 0, "string", NULL, ODBC_P_DECLARED },
	{ "CLOB", 0, "string", NULL, ODBC_P_NONE },
	{ "TEXT", 0, "string", NULL, ODBC_P_NONE },
	{ "BLOB", 0, "binary", NULL, ODBC_P_NONE },
	{ "REAL", 0, "float", "53", ODBC_P_NONE },
	{ "FLOA", 0, "float", "53", ODBC_P_NONE },
	{ "DOUB", 0, "float", "53", ODBC_P_NONE },
	{ "", 0, "decimal", NULL, ODBC_P_DECLARED },
	{ NULL, 0, NULL, NULL, ODBC_P_NONE },
};

/* What the crawl does about a DBMS's comments. */
enum odbc_remarks {
	ODBC_REMARKS_READ,    /* REMARKS carry the comments */
	ODBC_REMARKS_NONE,    /* the DBMS has no comments: nothing is missing */
	ODBC_REMARKS_MISSING, /* the DBMS has comments, its driver never returns them */
	ODBC_REMARKS_PROBE,   /* unknown: "comments" is unsupported unless some REMARKS come back */
};

/* How primary keys, indexes and foreign keys are read. */
enum odbc_keys {
	ODBC_KEYS_PER_TABLE, /* measured: the driver takes one table per call */
	ODBC_KEYS_PROBE,     /* try table "%" per schema; per table unless rows come back */
};

/*
 * What each DBMS (as SQL_DBMS_NAME names it) and its usual driver do differently. The last entry
 * (name NULL) is every other DBMS.
 *
 * Key calls are per table for all three drivers measured: none takes a pattern or a null table name
 * in SQLPrimaryKeys/SQLStatistics/SQLForeignKeys (unixODBC itself refuses a null one), so 300
 * tables cost 900 calls. Measured with 300 tables each with a key, an index and a foreign key:
 * psqlODBC 13.02 1.6-2.3 s (keys 0.5 s, indexes 0.4 s, foreign keys 0.8-1.5 s; tables and columns
 * 0.05 s); SQLite ODBC 0.9998 0.03 s.
 *
 * MariaDB Connector/ODBC 3.1.15, 300 tables (a primary key, a unique key, an index and two foreign
 * keys each, one to the previous table's primary key, one to its unique key) on a server with 1,800
 * tables: SQLPrimaryKeys 0.15 s and SQLStatistics 0.09 s for all 300 (each call reads one table),
 * but SQLForeignKeys 32.8 s: each call joins KEY_COLUMN_USAGE of the whole server, so that step grows
 * with the square of the server's size (4-5 s with 600 tables). It also returned 299 of the 598
 * foreign keys: only those that reference a PRIMARY KEY, none that reference a UNIQUE key or a plain
 * index. So for MySQL and MariaDB the foreign keys come from information_schema instead
 * (odbc_mysql_fk_*): 8 ms for REFERENTIAL_CONSTRAINTS and 3 ms for KEY_COLUMN_USAGE, all 598, in the
 * words driver_mysql gives them. Keys and indexes stay per-table calls: a quarter of a second, and
 * STATISTICS would say nothing more (2 ms).
 */
static const char *const odbc_pg_system[] = { "pg_catalog", "information_schema", "pg_toast*", "pg_temp_*", NULL };
static const char *const odbc_mysql_system[] = { "mysql", "information_schema", "performance_schema", "sys", NULL };
static const char *const odbc_any_system[] = { "information_schema", "INFORMATION_SCHEMA", NULL };

/*
 * MariaDB Connector/ODBC's SQLColumns reports every TIMESTAMP and AUTO_INCREMENT column nullable, no
 * fractional-second digits and BIT sizes in bytes (MariaDB Connector/ODBC 3.1, ma_catalog.h). What it
 * gets wrong is read from the server's own catalog in one statement: schema, table, column, then
 * precision, length and nullable ("YES"/"NO"), NULL where SQLColumns is right. One scan of
 * information_schema.COLUMNS, whatever the number of tables.
 */
static const char odbc_mysql_column_fixes[] =
	"SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, "
	"CASE WHEN DATA_TYPE IN ('time', 'datetime', 'timestamp') AND DATETIME_PRECISION > 0 "
	"THEN DATETIME_PRECISION END, "
	"CASE WHEN DATA_TYPE = 'bit' THEN NUMERIC_PRECISION END, "
	"CASE WHEN DATA_TYPE = 'timestamp' OR EXTRA LIKE '%auto_increment%' THEN IS_NULLABLE END "
	"FROM information_schema.COLUMNS "
	"WHERE DATA_TYPE IN ('time', 'datetime', 'timestamp', 'bit') OR EXTRA LIKE '%auto_increment%'";

/*
 * Foreign keys from the server's catalog, for MySQL and MariaDB (see above): two statements per
 * crawl whatever the number of tables, each over the schemas crawled, "(?, ?, …)" appended with one
 * bound parameter per schema (no name ever enters the SQL text), joined here by constraint key: a
 * join of I_S views on the server is up to 100 times slower (DESIGN §3.2). The words are
 * driver_mysql's: rules as REFERENTIAL_CONSTRAINTS says them, MATCH_OPTION NONE as SIMPLE (the
 * server parses MATCH and ignores it). fk_rules rows: schema, table, constraint, then the values in
 * enum odbc_rule order; fk_columns rows: schema, table, constraint, column, its position, then the
 * referenced schema, table and column.
 */
static const char odbc_mysql_fk_rules[] =
	"SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE, "
	"CASE WHEN MATCH_OPTION = 'NONE' THEN 'SIMPLE' ELSE MATCH_OPTION END "
	"FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN ";

static const char odbc_mysql_fk_columns[] =
	"SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, ORDINAL_POSITION, "
	"REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
	"FROM information_schema.KEY_COLUMN_USAGE "
	"WHERE REFERENCED_TABLE_NAME IS NOT NULL AND TABLE_SCHEMA IN ";

static const struct odbc_dbms {
	const char *name;
	const char *const *system_schemas; /* left out; a trailing '*' matches a prefix */
	const char *system_table_prefix;   /* tables left out */
	const char *flat_schema;           /* the one schema of a DBMS without catalogs or schemas */
	const struct odbc_type *types;     /* by TYPE_NAME; NULL: by DATA_TYPE only */
	const struct odbc_type *affinity;  /* by a substring of TYPE_NAME, after types */
	bool unknown_types_other;          /* a name types does not know is "other", not DATA_TYPE's */
	const char *array_prefix;          /* TYPE_NAME of an array type starts with this */
	bool type_name_declared;           /* TYPE_NAME already carries the declared parameters */
	bool unsigned_suffix;              /* TYPE_NAME ends in " UNSIGNED" / " ZEROFILL" */
	enum odbc_remarks remarks;
	const char *view_remarks;          /* REMARKS every view carries, not a comment */
	const char *no_default;            /* COLUMN_DEF text that means there is no default */
	const char *column_fixes;          /* SQL for what the driver's SQLColumns gets wrong */
	const char *fk_rules, *fk_columns; /* SQL for foreign keys instead of SQLForeignKeys */
	const char *begin_sql;             /* SQL that opens the crawl's transaction, when needed */
	bool sequences;                    /* the DBMS has sequences, which ODBC cannot list */
	const char *ordinal_column;        /* driver column with the real ordinal */
	const char *typmod_column;         /* psqlODBC: the column's typmod */
	const char *basetype_column;       /* psqlODBC: the base type's OID */
	enum odbc_keys keys;
} odbc_dbmses[] = {
	{
		/* psqlODBC: opens a transaction for an application's statement only, its own catalog
		 * queries would each run alone, and ignores SQL_ATTR_ACCESS_MODE: begin_sql does both;
		 * REMARKS always empty; ORDINAL_POSITION counts rows across the whole result
		 * ("PHYSICAL NUMBER" is attnum); sizes of unconstrained types are invented defaults
		 * (varchar 255, numeric 28,6), TYPMOD tells them apart; bool comes as SQL_VARCHAR. */
		.name = "PostgreSQL",
		.begin_sql = "SET TRANSACTION READ ONLY",
		.system_schemas = odbc_pg_system,
		.types = odbc_pg_types,
		.unknown_types_other = true,
		.array_prefix = "_",
		.remarks = ODBC_REMARKS_MISSING,
		.sequences = true,
		.ordinal_column = "PHYSICAL NUMBER",
		.typmod_column = "TYPMOD",
		.basetype_column = "FIELD_TYPE",
		.keys = ODBC_KEYS_PER_TABLE,
	},
	{
		/* MariaDB Connector/ODBC: a view's REMARKS is "VIEW"; COLUMN_DEF "NULL" is no default;
		 * SQLColumns takes one catalog, no pattern; column_fixes for the rest; foreign keys
		 * from information_schema (see above). */
		.name = "MariaDB",
		.system_schemas = odbc_mysql_system,
		.types = odbc_mysql_types,
		.unsigned_suffix = true,
		.remarks = ODBC_REMARKS_READ,
		.view_remarks = "VIEW",
		.no_default = "NULL",
		.column_fixes = odbc_mysql_column_fixes,
		.fk_rules = odbc_mysql_fk_rules,
		.fk_columns = odbc_mysql_fk_columns,
		.sequences = true,
		.keys = ODBC_KEYS_PER_TABLE,
	},
	{
		.name = "MySQL",
		.system_schemas = odbc_mysql_system,
		.types = odbc_mysql_types,
		.unsigned_suffix = true,
		.remarks = ODBC_REMARKS_READ,
		.view_remarks = "VIEW",
		.no_default = "NULL",
		.column_fixes = odbc_mysql_column_fixes,
		.fk_rules = odbc_mysql_fk_rules,
		.fk_columns = odbc_mysql_fk_columns,
		.keys = ODBC_KEYS_PER_TABLE,
	},
	{
		/* SQLite ODBC: no catalogs, no schemas, no constraint names; COLUMN_DEF "NULL" is no
		 * default. SQLite has no comments and no sequences. */
		.name = "SQLite",
		.system_schemas = odbc_any_system,
		.system_table_prefix = "sqlite_",
		.flat_schema = "main",
		.types = odbc_sqlite_types,
		.affinity = odbc_sqlite_affinity,
		.type_name_declared = true,
		.remarks = ODBC_REMARKS_NONE,
		.no_default = "NULL",
		.keys = ODBC_KEYS_PER_TABLE,
	},
	{
		.name = NULL,
		.system_schemas = odbc_any_system,
		.flat_schema = "main",
		.remarks = ODBC_REMARKS_PROBE,
		.sequences = true,
		.keys = ODBC_KEYS_PROBE,
	},
};

/* What SQLTables' TABLE_TYPE says, and what we make of it. Other types (SYSTEM TABLE, SYSTEM VIEW,
 * SEQUENCE, SYNONYM, ALIAS, GLOBAL/LOCAL TEMPORARY) are left out. */
static const struct odbc_table_type {
	const char *type;
	enum obj_kind kind;
	bool foreign;
} odbc_table_types[] = {
	{ "TABLE", OBJ_TABLE, false },
	{ "BASE TABLE", OBJ_TABLE, false },
	{ "FOREIGN TABLE", OBJ_TABLE, true },
	{ "VIEW", OBJ_VIEW, false },
	{ "MATVIEW", OBJ_MATVIEW, false },
	{ "MATERIALIZED VIEW", OBJ_MATVIEW, false },
	{ NULL, 0, false },
};

/* SQLForeignKeys UPDATE_RULE / DELETE_RULE, as driver_pg words them. */
static const char *const odbc_fk_actions[] = {
	[SQL_CASCADE] = "CASCADE",
	[SQL_RESTRICT] = "RESTRICT",
	[SQL_SET_NULL] = "SET NULL",
	[SQL_NO_ACTION] = "NO ACTION",
	[SQL_SET_DEFAULT] = "SET DEFAULT",
};

/* SQLSTATEs, matched as prefixes in order. Connecting and reading classify differently: a timeout
 * while connecting means the server is out of reach, while reading it is a slow catalog query. */
static const struct odbc_state {
	const char *state;
	int code;
} odbc_connect_states[] = {
	{ "28", DRIVER_E_AUTH },
	{ "IM002", DRIVER_E_CONFIG }, /* no such data source, no default driver */
	{ "IM003", DRIVER_E_CONFIG }, /* the driver could not be loaded */
	{ "01000", DRIVER_E_CONFIG }, /* unixODBC "Can't open lib": the only state of a failed load */
	{ "42000", DRIVER_E_PRIVILEGE },
	{ "42501", DRIVER_E_PRIVILEGE },
	{ "08", DRIVER_E_CONNECT },
	{ "HYT", DRIVER_E_CONNECT },
	{ NULL, 0 },
}, odbc_query_states[] = {
	{ "HYC00", ODBC_UNSUPPORTED }, /* optional feature not implemented */
	{ "IM001", ODBC_UNSUPPORTED }, /* the driver does not support this function */
	{ "42000", DRIVER_E_PRIVILEGE },
	{ "42501", DRIVER_E_PRIVILEGE },
	{ "08", DRIVER_E_CONNECT },
	{ "HYT01", DRIVER_E_CONNECT },
	{ NULL, 0 },
};

/* Failed logins that a driver reports under a connection SQLSTATE (psqlODBC says 08001 for every
 * one): the server's own words, consulted when the SQLSTATE says no more than "cannot connect". */
static const struct odbc_message {
	const char *text;
	int code;
} odbc_connect_messages[] = {
	{ "authentication failed", DRIVER_E_AUTH },
	{ "no password supplied", DRIVER_E_AUTH },
	{ "pg_hba.conf", DRIVER_E_AUTH },
	{ "permission denied", DRIVER_E_PRIVILEGE },
	{ NULL, 0 },
};

/*
 * Connection options added for a driver, matched case-insensitively by a substring of the file name
 * of its library (see odbc_driver_find). Some are added unless the connection string sets them:
 * SQLite ODBC would otherwise create an empty database for a mistyped path, and a crawl of it would
 * report every table dropped. Others are added whatever it says (the driver takes a key's last
 * value): an agent writes no file outside its state, and psqlODBC's logs carry the connection
 * string, password included, when a DSN or the connection string turns them on (CommLog, Debug:
 * measured, psqlODBC 13.02; each overrides odbcinst.ini and odbc.ini). Debian registers psqlODBC with
 * CommLog=1; see odbc_pins for what that still writes.
 */
static const struct odbc_connect_opt {
	const char *library;
	const char *key;
	const char *value;
	bool force;
} odbc_connect_opts[] = {
	{ "sqlite", "NoCreat", "1", false },
	{ "psqlodbc", "CommLog", "0", true },
	{ "psqlodbc", "Debug", "0", true },
	{ NULL, NULL, NULL, false },
};

/*
 * A connection made, and refused, just before the crawl's own, for a driver whose logging a
 * connection string cannot turn off entirely. psqlODBC counts per process the connections that
 * asked for its logs on and off; SQLDisconnect takes the connection's vote back before it closes,
 * and with no vote left falls back to odbcinst.ini's CommLog for the one line it then writes
 * ("PQfinish: <address>"): with Debian's CommLog=1, a /tmp/psqlodbc_<program>_<user><pid>.log after
 * every crawl, whatever the crawl's connection string said. A login that fails keeps its vote. The
 * pin's is refused by libpq's check of its options, before any socket is opened (an option libpq
 * does not know; the socket directory that does not exist would stop a libpq that took the option
 * before the network). Each crawl leaves one "off" vote behind for the life of the process, which
 * is what it is for. Measured (psqlODBC 13.02, unixODBC 2.3.11, which keeps the driver loaded): no
 * file; without the pin, one line per crawl. A global Debug=1 in odbcinst.ini makes psqlODBC log
 * from the moment it is loaded, before any connection string: nothing here can stop that.
 */
static const struct odbc_pin {
	const char *library;
	const char *conninfo; /* after "Driver={…};" */
} odbc_pins[] = {
	{ "psqlodbc", "CommLog=0;Debug=0;Servername=/nonexistent;pqopt={prospector_pin=1};" },
	{ NULL, NULL },
};

/* The handle: the source's settings. */
struct odbc {
	char *conninfo;
	char *dsn;      /* DSN= or FILEDSN=, for messages */
	bool filedsn;   /* dsn is a FILEDSN= */
	char *driver;
	char *password; /* from the secrets file, or NULL; scrubbed from every message */
	unsigned timeout;
	const struct source_conf *conf;
};

/* How the driver's levels map to ours. */
enum odbc_level {
	ODBC_LEVEL_SCHEMA,  /* database = current catalog, schema = TABLE_SCHEM */
	ODBC_LEVEL_CATALOG, /* database "def", schema = TABLE_CAT */
	ODBC_LEVEL_FLAT,    /* database "def", one schema */
};

struct odbc_table {
	char *key;
	char *schema;      /* our schema name */
	char *name;
	char *cat, *schem; /* TABLE_CAT and TABLE_SCHEM as the driver gave them, for per-table calls */
	enum obj_kind kind;
	bool foreign;
	bool in_scope;
	char *pk_name;     /* the driver's name for the primary key; NULL when it gives none */
	char *pk_cols;     /* REFS of the key columns; NULL: no primary key */
	char **names;      /* constraint and index names taken in this table */
	size_t nnames, names_cap;
};

struct odbc_column {
	char *key;
	struct obj *obj; /* borrowed from the snapshot */
};

/*
 * Values by object key, from one of the quirks' statements: rows of schema, table and name, then up
 * to ODBC_KV_VALUES values (NULL: the statement gave none). Sorted by key once read.
 */
#define ODBC_KV_VALUES 3

struct odbc_kv {
	char *key;
	char *v[ODBC_KV_VALUES];
};

struct odbc_kvs {
	const char *prefix; /* of the keys: "a:" columns, "c:" constraints */
	struct odbc_kv *items;
	size_t n, cap;
};

/* A column's attributes as column_fixes gives them; NULL: SQLColumns is right. */
enum { ODBC_FIX_PRECISION, ODBC_FIX_LENGTH, ODBC_FIX_NULLABLE, ODBC_FIX_COUNT };

/* A foreign key's words, as fk_rules gives them, and the attributes they go to. */
enum odbc_rule { ODBC_RULE_UPDATE, ODBC_RULE_DELETE, ODBC_RULE_MATCH, ODBC_RULE_COUNT };

static const char *const odbc_rule_attrs[ODBC_RULE_COUNT] = {
	[ODBC_RULE_UPDATE] = "on_update",
	[ODBC_RULE_DELETE] = "on_delete",
	[ODBC_RULE_MATCH] = "match",
};

_Static_assert(ODBC_FIX_COUNT <= ODBC_KV_VALUES && ODBC_RULE_COUNT <= ODBC_KV_VALUES, "odbc_kv holds them");

/* One row of a key result, kept until the step has them all: results may come in any order. */
struct odbc_keyrow {
	size_t table;  /* index into tables */
	char *name;    /* constraint/index name; NULL when the driver gives none */
	long group;    /* foreign keys without a name: which one */
	long seq;
	char *column;
	bool unique;
	char *ref_schema, *ref_table, *ref_column; /* foreign keys */
	char *rule[ODBC_RULE_COUNT];
	long deferrability;
};

struct odbc_crawl {
	const struct odbc *h;
	struct snapshot *snap;
	char *err;
	SQLHENV env;
	SQLHDBC dbc;
	bool connected;
	const struct odbc_dbms *dbms;
	enum odbc_level level;
	char escape[8]; /* SQL_SEARCH_PATTERN_ESCAPE, UTF-8 */
	char *dbms_name, *dbms_version, *database;
	struct obj *db; /* borrowed from the snapshot */
	SQLUSMALLINT funcs[SQL_API_ODBC3_ALL_FUNCTIONS_SIZE];
	unsigned missing;  /* 1 << enum odbc_missing */
	bool saw_remarks;
	char **schemas;    /* schemas made, in the order made */
	size_t nschemas, schemas_cap;
	struct odbc_table *tables; /* sorted by key once read */
	size_t ntables, tables_cap;
	struct odbc_column *columns; /* sorted by key once read */
	size_t ncolumns, columns_cap;
	char *driver;                /* the driver, as a name or a path; NULL: not known */
	char *library;               /* the file name of its library; NULL: not known */
	struct odbc_kvs fixes;       /* the quirks' column_fixes */
	struct odbc_kvs fk_rules;    /* the quirks' fk_rules */
	struct odbc_keyrow *keyrows;
	size_t nkeyrows, keyrows_cap;
	long fk_group;
	unsigned long calls; /* catalog calls made */
};

/* One fetched row: v[1..n] as UTF-8, NULL for SQL NULL; x[i] is the column of extra name i. */
struct odbc_row {
	char *v[ODBC_MAX_COLS + 1];
	SQLSMALLINT n;
	SQLSMALLINT x[4];
};

enum odbc_fn {
	ODBC_FN_TABLES,
	ODBC_FN_COLUMNS,
	ODBC_FN_PRIMARY_KEYS,
	ODBC_FN_FOREIGN_KEYS,
	ODBC_FN_STATISTICS,
	ODBC_FN_SQL,
};

/* One catalog call: which function, its arguments (UTF-8; NULL = a null pointer), what to do with
 * each row, and driver-specific result columns wanted by name. */
struct odbc_call {
	enum odbc_fn fn;
	const char *arg[6];
	int (*row)(struct odbc_crawl *c, const struct odbc_row *r, void *ctx);
	void *ctx;
	const char *extra[4];
	const char *const *params; /* ODBC_FN_SQL: values of its '?' markers, bound as text */
	size_t nparams;
};

/* ---------------------------------------------------------------- UTF-8 and UTF-16 */

/* The code point at *p, advancing p; malformed UTF-8 becomes U+FFFD, one byte at a time. */
static uint32_t odbc_utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	size_t n = utf8_seqlen(s);
	uint32_t cp;

	if (n == 0) {
		*p = s + 1;
		return 0xfffd;
	}
	*p = s + n;
	if (n == 1)
		return s[0];
	cp = s[0] & (0xff >> (n + 1));
	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	return cp;
}

/* UTF-8 to NUL-terminated UTF-16; NULL stays NULL. Allocated. */
static SQLWCHAR *odbc_wide(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	SQLWCHAR *w;

	if (!s)
		return NULL;
	w = xcalloc(2 * strlen(s) + 1, sizeof(*w));
	while (*p) {
		uint32_t cp = odbc_utf8_next(&p);

		if (cp >= 0x10000) {
			cp -= 0x10000;
			w[n++] = (SQLWCHAR)(0xd800 | (cp >> 10));
			w[n++] = (SQLWCHAR)(0xdc00 | (cp & 0x3ff));
		} else {
			w[n++] = (SQLWCHAR)cp;
		}
	}
	w[n] = 0;
	return w;
}

static void odbc_put_utf8(struct buf *b, uint32_t cp)
{
	char s[4];

	if (cp < 0x80) {
		buf_addc(b, (char)cp);
		return;
	}
	if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6);
		s[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, s, 2);
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | cp >> 12);
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, s, 3);
	} else {
		s[0] = (char)(0xf0 | cp >> 18);
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, s, 4);
	}
}

/* n UTF-16 units to UTF-8; an unpaired surrogate becomes U+FFFD, a NUL ends the text. Allocated. */
static char *odbc_utf8(const SQLWCHAR *w, size_t n)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, "");
	for (size_t i = 0; i < n && w[i]; i++) {
		uint32_t u = w[i];

		if (u >= 0xd800 && u <= 0xdbff && i + 1 < n && w[i + 1] >= 0xdc00 && w[i + 1] <= 0xdfff)
			u = 0x10000 + ((u - 0xd800) << 10) + (uint32_t)(w[++i] - 0xdc00);
		else if (u >= 0xd800 && u <= 0xdfff)
			u = 0xfffd;
		odbc_put_utf8(&b, u);
	}
	return buf_steal(&b);
}

/* ---------------------------------------------------------------- connection strings */

/* The value at *s, braced ("{va;lue}", "}}" a literal brace) or running to the next ';'; false when
 * a brace is not closed. Advances *s past it. */
static bool odbc_conninfo_value(const char **s, struct buf *value)
{
	const char *p = *s;

	buf_adds(value, "");
	if (*p != '{') {
		size_t n = strcspn(p, ";");

		buf_add(value, p, n);
		*s = p + n;
		return true;
	}
	for (p++; *p && !(p[0] == '}' && p[1] != '}'); p++) {
		if (p[0] == '}')
			p++;
		buf_addc(value, *p);
	}
	if (*p != '}')
		return false;
	*s = p + 1;
	return true;
}

/*
 * Walks "key=value;key={va;lue}" calling fn (when not NULL) for each attribute. Returns false when
 * the text is not such a list.
 */
static bool odbc_conninfo_walk(const char *s, void (*fn)(struct odbc *h, const char *key, const char *value),
			       struct odbc *h)
{
	size_t nattrs = 0;
	bool good = true;

	while (good && *s) {
		const char *eq = strchr(s, '='), *semi = strchr(s, ';');
		struct buf key, value;

		if (*s == ';' || *s == ' ') {
			s++;
			continue;
		}
		if (!eq || (semi && semi < eq) || eq == s)
			return false;
		buf_init(&key);
		buf_init(&value);
		buf_add(&key, s, (size_t)(eq - s));
		while (key.len && key.data[key.len - 1] == ' ')
			key.data[--key.len] = '\0';
		s = eq + 1;
		good = odbc_conninfo_value(&s, &value);
		if (good && fn)
			fn(h, key.data, value.data);
		buf_free(&key);
		buf_free(&value);
		nattrs++;
	}
	return good && nattrs > 0;
}

static void odbc_conninfo_take(struct odbc *h, const char *key, const char *value)
{
	char **slot = NULL;

	if (strcasecmp(key, "DSN") == 0 || strcasecmp(key, "FILEDSN") == 0) {
		slot = &h->dsn;
		h->filedsn = strcasecmp(key, "FILEDSN") == 0;
	} else if (strcasecmp(key, "DRIVER") == 0) {
		slot = &h->driver;
	}
	if (!slot)
		return;
	free(*slot);
	*slot = xstrdup(value);
}

/* Whether the connection string sets key. */
static bool odbc_conninfo_has(const char *conninfo, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = conninfo; (p = strcasestr(p, key)); p += n) {
		const char *q = p + n;

		while (*q == ' ')
			q++;
		if ((p == conninfo || p[-1] == ';' || p[-1] == ' ') && *q == '=')
			return true;
	}
	return false;
}

/* The connection string as handed to the driver manager: the source's, plus the odbc_connect_opts
 * of the driver's library (NULL: none apply). */
static char *odbc_conninfo_final(const struct odbc *h, const char *library)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, h->conninfo);
	for (const struct odbc_connect_opt *o = odbc_connect_opts; library && o->library; o++) {
		if (!strcasestr(library, o->library) || (!o->force && odbc_conninfo_has(h->conninfo, o->key)))
			continue;
		if (b.len && b.data[b.len - 1] != ';')
			buf_addc(&b, ';');
		buf_addf(&b, "%s=%s;", o->key, o->value);
	}
	return buf_steal(&b);
}

/* "{value}" with '}' doubled, as a connection string braces a value. */
static void odbc_conninfo_brace(struct buf *b, const char *value)
{
	buf_addc(b, '{');
	for (const char *p = value; *p; p++) {
		if (*p == '}')
			buf_addc(b, '}');
		buf_addc(b, *p);
	}
	buf_addc(b, '}');
}

/* ---------------------------------------------------------------- messages and errors */

static int odbc_fail(struct odbc_crawl *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int odbc_fail(struct odbc_crawl *c, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = driver_vfail(c->err, c->h->password, code, fmt, ap);
	va_end(ap);
	return r;
}

struct odbc_diag {
	char state[6];
	char msg[DRIVER_ERRLEN];
};

/* The message without the "[unixODBC][Driver Manager]" style prefixes, first line only. */
static void odbc_diag_tidy(char *msg)
{
	char *p = msg;

	while (*p == '[' && strchr(p, ']'))
		p = strchr(p, ']') + 1;
	while (*p == ' ')
		p++;
	memmove(msg, p, strlen(p) + 1);
	msg[strcspn(msg, "\r\n")] = '\0';
	for (size_t n = strlen(msg); n && msg[n - 1] == ' ';)
		msg[--n] = '\0';
}

/* The handle's first diagnostic record that is not a warning (01xxx), else its first. */
static bool odbc_diag_get(SQLSMALLINT type, SQLHANDLE handle, struct odbc_diag *d)
{
	bool found = false;

	memset(d, 0, sizeof(*d));
	for (SQLSMALLINT i = 1; i < 20; i++) {
		SQLWCHAR state[6], msg[DRIVER_ERRLEN];
		SQLINTEGER native;
		SQLSMALLINT len = 0;
		char *s, *m;

		if (!SQL_SUCCEEDED(SQLGetDiagRecW(type, handle, i, state, &native, msg, DRIVER_ERRLEN, &len)))
			break;
		if (found && strncmp(d->state, "01", 2) != 0)
			break;
		s = odbc_utf8(state, 5);
		m = odbc_utf8(msg, len < DRIVER_ERRLEN ? (size_t)len : DRIVER_ERRLEN - 1);
		if (!found || strncmp(s, "01", 2) != 0) {
			snprintf(d->state, sizeof(d->state), "%s", s);
			snprintf(d->msg, sizeof(d->msg), "%s", m);
		}
		free(s);
		free(m);
		found = true;
	}
	odbc_diag_tidy(d->msg);
	return found;
}

static int odbc_state_code(const struct odbc_state *t, const char *state, int fallback)
{
	for (; t->state; t++)
		if (strncmp(state, t->state, strlen(t->state)) == 0)
			return t->code;
	return fallback;
}

/* ---------------------------------------------------------------- catalog calls */

static SQLSMALLINT odbc_len(const SQLWCHAR *w)
{
	return w ? SQL_NTS : 0;
}

static SQLRETURN odbc_exec_tables(SQLHSTMT st, SQLWCHAR **a)
{
	return SQLTablesW(st, a[0], odbc_len(a[0]), a[1], odbc_len(a[1]), a[2], odbc_len(a[2]), a[3],
			  odbc_len(a[3]));
}

static SQLRETURN odbc_exec_columns(SQLHSTMT st, SQLWCHAR **a)
{
	return SQLColumnsW(st, a[0], odbc_len(a[0]), a[1], odbc_len(a[1]), a[2], odbc_len(a[2]), a[3],
			   odbc_len(a[3]));
}

static SQLRETURN odbc_exec_primary_keys(SQLHSTMT st, SQLWCHAR **a)
{
	return SQLPrimaryKeysW(st, a[0], odbc_len(a[0]), a[1], odbc_len(a[1]), a[2], odbc_len(a[2]));
}

static SQLRETURN odbc_exec_foreign_keys(SQLHSTMT st, SQLWCHAR **a)
{
	return SQLForeignKeysW(st, a[0], odbc_len(a[0]), a[1], odbc_len(a[1]), a[2], odbc_len(a[2]), a[3],
			       odbc_len(a[3]), a[4], odbc_len(a[4]), a[5], odbc_len(a[5]));
}

static SQLRETURN odbc_exec_statistics(SQLHSTMT st, SQLWCHAR **a)
{
	return SQLStatisticsW(st, a[0], odbc_len(a[0]), a[1], odbc_len(a[1]), a[2], odbc_len(a[2]),
			      SQL_INDEX_ALL, SQL_QUICK);
}

static SQLRETURN odbc_exec_sql(SQLHSTMT st, SQLWCHAR **a)
{
	return SQLExecDirectW(st, a[0], SQL_NTS);
}

static const struct odbc_fn_def {
	const char *name;
	SQLUSMALLINT api;
	SQLSMALLINT ncols; /* standard result columns read (a statement: all it has) */
	SQLRETURN (*exec)(SQLHSTMT st, SQLWCHAR **args);
} odbc_fns[] = {
	[ODBC_FN_TABLES] = { "SQLTables", SQL_API_SQLTABLES, 5, odbc_exec_tables },
	[ODBC_FN_COLUMNS] = { "SQLColumns", SQL_API_SQLCOLUMNS, 18, odbc_exec_columns },
	[ODBC_FN_PRIMARY_KEYS] = { "SQLPrimaryKeys", SQL_API_SQLPRIMARYKEYS, 6, odbc_exec_primary_keys },
	[ODBC_FN_FOREIGN_KEYS] = { "SQLForeignKeys", SQL_API_SQLFOREIGNKEYS, 14, odbc_exec_foreign_keys },
	[ODBC_FN_STATISTICS] = { "SQLStatistics", SQL_API_SQLSTATISTICS, 13, odbc_exec_statistics },
	[ODBC_FN_SQL] = { "SQLExecDirect", SQL_API_SQLEXECDIRECT, ODBC_MAX_COLS, odbc_exec_sql },
};

static int odbc_stmt_error(struct odbc_crawl *c, SQLHSTMT st, enum odbc_fn fn)
{
	struct odbc_diag d;
	int code;

	if (!odbc_diag_get(SQL_HANDLE_STMT, st, &d))
		return odbc_fail(c, DRIVER_E_QUERY, "%s failed without a diagnostic", odbc_fns[fn].name);
	code = odbc_state_code(odbc_query_states, d.state, DRIVER_E_QUERY);
	if (code == ODBC_UNSUPPORTED)
		return code;
	return odbc_fail(c, code, "%s: %s (SQLSTATE %s)", odbc_fns[fn].name, d.msg, d.state);
}

/* One column of the current row as UTF-8 (NULL for SQL NULL), however long. */
static int odbc_get(struct odbc_crawl *c, SQLHSTMT st, SQLUSMALLINT col, enum odbc_fn fn, char **ret)
{
	SQLWCHAR part[256], *all = NULL;
	size_t n = 0, cap = 0, room = sizeof(part) / sizeof(part[0]) - 1;

	*ret = NULL;
	for (;;) {
		SQLLEN ind = 0;
		SQLRETURN rc = SQLGetData(st, col, SQL_C_WCHAR, part, sizeof(part), &ind);
		bool more;
		size_t got;

		if (rc == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(rc)) {
			free(all);
			return odbc_stmt_error(c, st, fn);
		}
		if (ind == SQL_NULL_DATA) {
			free(all);
			return 0;
		}
		more = rc == SQL_SUCCESS_WITH_INFO && (ind == SQL_NO_TOTAL || (size_t)ind > room * sizeof(SQLWCHAR));
		got = more ? room : (size_t)ind / sizeof(SQLWCHAR);
		if (!more && !all) {
			*ret = odbc_utf8(part, got);
			return 0;
		}
		xgrow(&all, &cap, n + got + 1, sizeof(*all));
		memcpy(all + n, part, got * sizeof(*all));
		n += got;
		if (!more)
			break;
	}
	*ret = odbc_utf8(all, n);
	free(all);
	return 0;
}

static void odbc_row_clear(struct odbc_row *r)
{
	for (SQLSMALLINT i = 1; i <= r->n; i++) {
		free(r->v[i]);
		r->v[i] = NULL;
	}
}

/* Where the driver-specific result columns named in call->extra are; how many columns to read. */
static SQLSMALLINT odbc_row_layout(SQLHSTMT st, const struct odbc_call *call, struct odbc_row *r)
{
	SQLSMALLINT have = 0, want = odbc_fns[call->fn].ncols;

	SQLNumResultCols(st, &have);
	for (size_t i = 0; i < 4; i++) {
		if (!call->extra[i])
			continue;
		for (SQLSMALLINT col = want + 1; col <= have && col <= ODBC_MAX_COLS && !r->x[i]; col++) {
			SQLWCHAR name[64];
			SQLSMALLINT len = 0;
			char *s;

			if (!SQL_SUCCEEDED(SQLColAttributeW(st, (SQLUSMALLINT)col, SQL_DESC_NAME, name, sizeof(name),
							    &len, NULL)))
				continue;
			s = odbc_utf8(name, (size_t)len / sizeof(SQLWCHAR));
			if (strcmp(s, call->extra[i]) == 0)
				r->x[i] = col;
			free(s);
		}
	}
	for (size_t i = 0; i < 4; i++)
		want = r->x[i] > want ? r->x[i] : want;
	return want < have ? want : have;
}

static int odbc_fetch_all(struct odbc_crawl *c, SQLHSTMT st, const struct odbc_call *call)
{
	struct odbc_row r = { 0 };
	SQLRETURN rc;
	int err = 0;

	r.n = odbc_row_layout(st, call, &r);
	if (r.n <= 0)
		return 0; /* no result set (SQLExecDirect of a statement that returns none) */
	while (err == 0 && SQL_SUCCEEDED(rc = SQLFetch(st))) {
		for (SQLSMALLINT i = 1; err == 0 && i <= r.n; i++)
			err = odbc_get(c, st, (SQLUSMALLINT)i, call->fn, &r.v[i]);
		if (err == 0)
			err = call->row(c, &r, call->ctx);
		odbc_row_clear(&r);
	}
	if (err == 0 && rc != SQL_NO_DATA)
		err = odbc_stmt_error(c, st, call->fn);
	return err;
}

/* A statement's parameters as wide text, alive until the statement has run. */
struct odbc_params {
	SQLWCHAR **w;
	SQLLEN *ind;
	size_t n;
};

/* Binds call->params to the statement's '?' markers, in order. */
static SQLRETURN odbc_params_bind(SQLHSTMT st, const struct odbc_call *call, struct odbc_params *p)
{
	SQLRETURN rc = SQL_SUCCESS;

	p->n = call->nparams;
	p->w = xcalloc(p->n + 1, sizeof(*p->w));
	p->ind = xcalloc(p->n + 1, sizeof(*p->ind));
	for (size_t i = 0; SQL_SUCCEEDED(rc) && i < p->n; i++) {
		SQLULEN len = 0;

		p->w[i] = odbc_wide(call->params[i]);
		while (p->w[i][len])
			len++;
		p->ind[i] = SQL_NTS;
		rc = SQLBindParameter(st, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT, SQL_C_WCHAR, SQL_WVARCHAR,
				      len ? len : 1, 0, p->w[i], 0, &p->ind[i]);
	}
	return rc;
}

static void odbc_params_free(struct odbc_params *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->w[i]);
	free(p->w);
	free(p->ind);
}

/* Runs one catalog call and hands each row to call->row. ODBC_UNSUPPORTED when the driver says it
 * cannot do this call. */
static int odbc_run(struct odbc_crawl *c, const struct odbc_call *call)
{
	SQLWCHAR *w[6];
	SQLHSTMT st = SQL_NULL_HSTMT;
	struct odbc_params params;
	SQLRETURN rc;
	int err;

	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &st)))
		return odbc_fail(c, DRIVER_E_CONNECT, "cannot allocate an ODBC statement");
	SQLSetStmtAttrW(st, SQL_ATTR_QUERY_TIMEOUT, (SQLPOINTER)(uintptr_t)c->h->timeout, 0);
	for (size_t i = 0; i < 6; i++)
		w[i] = odbc_wide(call->arg[i]);
	rc = odbc_params_bind(st, call, &params);
	if (SQL_SUCCEEDED(rc))
		rc = odbc_fns[call->fn].exec(st, w);
	for (size_t i = 0; i < 6; i++)
		free(w[i]);
	c->calls++;
	err = SQL_SUCCEEDED(rc) ? odbc_fetch_all(c, st, call) : odbc_stmt_error(c, st, call->fn);
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	odbc_params_free(&params);
	return err;
}

/* A result value as a number; fallback for NULL or not a number. */
static long odbc_num(const struct odbc_row *r, SQLSMALLINT col, long fallback)
{
	const char *v = col > 0 && col <= r->n ? r->v[col] : NULL;
	char *end;
	long n;

	if (!v || !*v)
		return fallback;
	n = strtol(v, &end, 10);
	return end == v ? fallback : n;
}

static const char *odbc_val(const struct odbc_row *r, SQLSMALLINT col)
{
	return col > 0 && col <= r->n ? r->v[col] : NULL;
}

/* ---------------------------------------------------------------- keys and names */

static void odbc_key_part(struct buf *b, const char *name)
{
	for (const char *p = name; *p; p++) {
		if (*p == '\\' || *p == '/')
			buf_addc(b, '\\');
		if (*p == MODEL_REF_SEP)
			buf_adds(b, "\\x1f");
		else
			buf_addc(b, *p);
	}
}

/* prefix + name parts escaped and joined by '/': "r:" "sales" "orders" gives "r:sales/orders". */
static char *odbc_key(const char *prefix, const char *a, const char *b, const char *cc)
{
	const char *parts[3] = { a, b, cc };
	struct buf k;

	buf_init(&k);
	buf_adds(&k, prefix);
	for (size_t i = 0; i < 3 && parts[i]; i++) {
		if (i)
			buf_addc(&k, '/');
		odbc_key_part(&k, parts[i]);
	}
	return buf_steal(&k);
}

/* The pattern that matches exactly name: '_' and '%' escaped with the driver's escape character,
 * when it has one. Allocated. */
static char *odbc_pattern(const struct odbc_crawl *c, const char *name)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, "");
	for (const char *p = name; *p; p++) {
		if (c->escape[0] && (*p == '_' || *p == '%' || strncmp(p, c->escape, strlen(c->escape)) == 0))
			buf_adds(&b, c->escape);
		buf_addc(&b, *p);
	}
	return buf_steal(&b);
}

static bool odbc_name_match(const char *const *names, const char *name)
{
	for (; names && *names; names++) {
		size_t n = strlen(*names);

		if ((*names)[n - 1] == '*' ? strncmp(name, *names, n - 1) == 0 : strcmp(name, *names) == 0)
			return true;
	}
	return false;
}

static bool odbc_system_schema(const struct odbc_crawl *c, const char *schema)
{
	return odbc_name_match(c->dbms->system_schemas, schema);
}

static bool odbc_system_table(const struct odbc_crawl *c, const char *table)
{
	const char *prefix = c->dbms->system_table_prefix;

	return prefix && strncmp(table, prefix, strlen(prefix)) == 0;
}

/* Our schema name for a row's TABLE_CAT and TABLE_SCHEM; NULL when there is none. */
static const char *odbc_schema_of(const struct odbc_crawl *c, const char *cat, const char *schem)
{
	const char *s = c->level == ODBC_LEVEL_SCHEMA ? schem : c->level == ODBC_LEVEL_CATALOG ? cat : NULL;

	return s && *s ? s : c->level == ODBC_LEVEL_FLAT ? c->dbms->flat_schema : NULL;
}

static int odbc_table_cmp(const void *a, const void *b)
{
	return strcmp(((const struct odbc_table *)a)->key, ((const struct odbc_table *)b)->key);
}

static struct odbc_table *odbc_table_find(struct odbc_crawl *c, const char *schema, const char *table)
{
	struct odbc_table probe;
	struct odbc_table *t;

	if (!schema || !table)
		return NULL;
	probe.key = odbc_key("r:", schema, table, NULL);
	t = bsearch(&probe, c->tables, c->ntables, sizeof(*c->tables), odbc_table_cmp);
	free(probe.key);
	return t;
}

/* Claims a constraint ("c:") or index ("i:") name in a table, so that no key is made twice: false
 * when it is taken (the first keeps it). */
static bool odbc_name_claim(struct odbc_table *t, const char *ns, const char *name)
{
	char *full = xasprintf("%s%s", ns, name);

	for (size_t i = 0; i < t->nnames; i++) {
		if (strcmp(t->names[i], full) == 0) {
			free(full);
			return false;
		}
	}
	xgrow(&t->names, &t->names_cap, t->nnames + 1, sizeof(*t->names));
	t->names[t->nnames++] = full;
	return true;
}

static int odbc_column_cmp(const void *a, const void *b)
{
	return strcmp(((const struct odbc_column *)a)->key, ((const struct odbc_column *)b)->key);
}

static struct odbc_column *odbc_column_find(struct odbc_crawl *c, const struct odbc_table *t, const char *name)
{
	struct odbc_column probe, *hit;

	if (!name)
		return NULL;
	probe.key = odbc_key("a:", t->schema, t->name, name);
	hit = bsearch(&probe, c->columns, c->ncolumns, sizeof(*c->columns), odbc_column_cmp);
	free(probe.key);
	return hit;
}

static void odbc_refs_add(struct buf *b, const char *key)
{
	if (b->len)
		buf_addc(b, MODEL_REF_SEP);
	buf_adds(b, key);
}

/* ---------------------------------------------------------------- values by key */

static int odbc_kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct odbc_kv *)a)->key, ((const struct odbc_kv *)b)->key);
}

static const struct odbc_kv *odbc_kv_find(const struct odbc_kvs *kvs, const char *key)
{
	struct odbc_kv probe = { .key = (char *)key };

	return kvs->n ? bsearch(&probe, kvs->items, kvs->n, sizeof(*kvs->items), odbc_kv_cmp) : NULL;
}

/* A quirk statement's row: schema, table and name, then the values. ctx: the odbc_kvs. */
static int odbc_row_kv(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	struct odbc_kvs *kvs = ctx;
	const char *schema = odbc_schema_of(c, odbc_val(r, 1), NULL);
	struct odbc_kv *kv;

	if (!schema || !odbc_val(r, 2) || !odbc_val(r, 3))
		return 0;
	xgrow(&kvs->items, &kvs->cap, kvs->n + 1, sizeof(*kvs->items));
	kv = &kvs->items[kvs->n++];
	kv->key = odbc_key(kvs->prefix, schema, odbc_val(r, 2), odbc_val(r, 3));
	for (SQLSMALLINT i = 0; i < ODBC_KV_VALUES; i++)
		kv->v[i] = odbc_val(r, (SQLSMALLINT)(4 + i)) ? xstrdup(odbc_val(r, (SQLSMALLINT)(4 + i))) : NULL;
	return 0;
}

static void odbc_kvs_sort(struct odbc_kvs *kvs)
{
	if (kvs->n > 1)
		qsort(kvs->items, kvs->n, sizeof(*kvs->items), odbc_kv_cmp);
}

static void odbc_kvs_free(struct odbc_kvs *kvs)
{
	for (size_t i = 0; i < kvs->n; i++) {
		free(kvs->items[i].key);
		for (int j = 0; j < ODBC_KV_VALUES; j++)
			free(kvs->items[i].v[j]);
	}
	free(kvs->items);
}

/* ---------------------------------------------------------------- connecting */

/* The library of a registered driver (the Driver= of its odbcinst.ini entry, as SQLDrivers lists
 * its attributes: "key=value" strings, each ended by a NUL). NULL when it has none. Allocated. */
static char *odbc_driver_attrs_library(const SQLWCHAR *attrs, size_t n)
{
	char *library = NULL;

	for (size_t i = 0; !library && i < n && attrs[i]; i++) {
		char *attr = odbc_utf8(attrs + i, n - i);

		if (strncasecmp(attr, "Driver=", 7) == 0)
			library = xstrdup(attr + 7);
		free(attr);
		while (i < n && attrs[i])
			i++;
	}
	return library;
}

/* Whether the driver manager knows a driver by this name; its library in *ret_library (NULL when
 * not found or not given) unless ret_library is NULL. */
static bool odbc_driver_lookup(struct odbc_crawl *c, const char *driver, char **ret_library)
{
	SQLUSMALLINT dir = SQL_FETCH_FIRST;
	SQLWCHAR desc[256], attrs[2048];
	SQLSMALLINT len, alen;
	bool found = false;

	while (!found && SQL_SUCCEEDED(SQLDriversW(c->env, dir, desc, 256, &len, attrs, 2048, &alen))) {
		char *name = odbc_utf8(desc, len < 256 ? (size_t)len : 255);

		found = strcasecmp(name, driver) == 0;
		free(name);
		dir = SQL_FETCH_NEXT;
	}
	if (ret_library)
		*ret_library = found ? odbc_driver_attrs_library(attrs, alen > 0 && alen < 2048 ? (size_t)alen : 2047)
				     : NULL;
	return found;
}

/* Whether the driver manager knows a driver by this name, or it is a library path that exists. */
static bool odbc_driver_installed(struct odbc_crawl *c, const char *driver)
{
	if (strchr(driver, '/'))
		return access(driver, R_OK) == 0;
	return odbc_driver_lookup(c, driver, NULL);
}

/* The Driver entry of a DSN as SQLDataSources gives it (unixODBC: a driver's name or a library's
 * path); NULL when there is no such DSN. Allocated. */
static char *odbc_dsn_driver(struct odbc_crawl *c, const char *dsn)
{
	SQLUSMALLINT dir = SQL_FETCH_FIRST;
	SQLWCHAR name[256], desc[1024];
	SQLSMALLINT nlen, dlen;
	char *driver = NULL;

	while (!driver && SQL_SUCCEEDED(SQLDataSourcesW(c->env, dir, name, 256, &nlen, desc, 1024, &dlen))) {
		char *n = odbc_utf8(name, nlen < 256 ? (size_t)nlen : 255);

		if (strcasecmp(n, dsn) == 0)
			driver = odbc_utf8(desc, dlen < 1024 ? (size_t)dlen : 1023);
		free(n);
		dir = SQL_FETCH_NEXT;
	}
	return driver;
}

/* The driver the connection string names (Driver=, else its DSN's) as a name or a path, and the
 * file name of its library, for odbc_connect_opts and odbc_pins. Neither is known for a FILEDSN or
 * a DSN or driver the driver manager does not know: then no option is added (the connection is
 * about to fail anyway, unless it is a FILEDSN). */
static void odbc_driver_find(struct odbc_crawl *c)
{
	const struct odbc *h = c->h;
	char *path = NULL;

	if (h->driver)
		c->driver = xstrdup(h->driver);
	else if (h->dsn && !h->filedsn)
		c->driver = odbc_dsn_driver(c, h->dsn);
	if (!c->driver)
		return;
	if (strchr(c->driver, '/'))
		path = xstrdup(c->driver);
	else
		odbc_driver_lookup(c, c->driver, &path);
	if (path)
		c->library = xstrdup(strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	free(path);
}

/* A login the driver manager could not hand to a driver: name what is missing. */
static int odbc_config_error(struct odbc_crawl *c, const struct odbc_diag *d)
{
	const struct odbc *h = c->h;

	if (h->driver && !odbc_driver_installed(c, h->driver))
		return odbc_fail(c, DRIVER_E_CONFIG, "ODBC driver '%s' is not installed", h->driver);
	if (strcmp(d->state, "IM002") == 0 && h->dsn)
		return odbc_fail(c, DRIVER_E_CONFIG, "ODBC data source '%s' not found", h->dsn);
	if (strcmp(d->state, "IM002") == 0)
		return odbc_fail(c, DRIVER_E_CONFIG, "no ODBC data source or driver named in conninfo: %s", d->msg);
	if (h->driver)
		return odbc_fail(c, DRIVER_E_CONFIG, "ODBC driver '%s' could not be loaded: %s", h->driver, d->msg);
	return odbc_fail(c, DRIVER_E_CONFIG, "the driver of ODBC data source '%s' could not be loaded: %s",
			 h->dsn ? h->dsn : "?", d->msg);
}

static int odbc_connect_error(struct odbc_crawl *c)
{
	struct odbc_diag d;
	int code;

	if (!odbc_diag_get(SQL_HANDLE_DBC, c->dbc, &d))
		return odbc_fail(c, DRIVER_E_CONNECT, "cannot connect: the driver gave no reason");
	code = odbc_state_code(odbc_connect_states, d.state, DRIVER_E_CONNECT);
	for (const struct odbc_message *m = odbc_connect_messages; code == DRIVER_E_CONNECT && m->text; m++)
		if (strcasestr(d.msg, m->text))
			code = m->code;
	if (code == DRIVER_E_CONFIG)
		return odbc_config_error(c, &d);
	return odbc_fail(c, code, "cannot connect: %s (SQLSTATE %s)", d.msg, d.state);
}

static bool odbc_ascii(const char *s)
{
	while (*s && !(*s & 0x80))
		s++;
	return !*s;
}

/*
 * The one narrow call: unixODBC 2.3 turns a wide connection string into a narrow one by keeping the
 * low byte of each character before it has loaded a driver, so a non-ASCII DSN name is never found
 * and a driver without W entry points (SQLite ODBC) gets a mangled Database= path. Narrow, the
 * UTF-8 bytes reach the DSN lookup and every driver measured (SQLite, psqlODBC) intact.
 */
static SQLRETURN odbc_driver_connect(SQLHDBC dbc, const char *conninfo)
{
	SQLWCHAR *w;
	SQLRETURN rc;

	if (!odbc_ascii(conninfo))
		return SQLDriverConnect(dbc, NULL, (SQLCHAR *)conninfo, SQL_NTS, NULL, 0, NULL, SQL_DRIVER_NOPROMPT);
	w = odbc_wide(conninfo);
	rc = SQLDriverConnectW(dbc, NULL, w, SQL_NTS, NULL, 0, NULL, SQL_DRIVER_NOPROMPT);
	sodium_memzero(w, (2 * strlen(conninfo) + 1) * sizeof(*w)); /* it may hold the password */
	free(w);
	return rc;
}

/* The odbc_pins connection of the crawl's driver, if it has one: refused, and forgotten. */
static void odbc_pin(struct odbc_crawl *c)
{
	const struct odbc_pin *p = odbc_pins;
	SQLHDBC dbc = SQL_NULL_HDBC;
	struct buf b;

	while (c->library && p->library && !strcasestr(c->library, p->library))
		p++;
	if (!c->library || !p->library || !SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, c->env, &dbc)))
		return;
	buf_init(&b);
	buf_adds(&b, "Driver=");
	odbc_conninfo_brace(&b, c->driver);
	buf_addc(&b, ';');
	buf_adds(&b, p->conninfo);
	if (SQL_SUCCEEDED(odbc_driver_connect(dbc, b.data)))
		SQLDisconnect(dbc);
	SQLFreeHandle(SQL_HANDLE_DBC, dbc);
	buf_free(&b);
}

static int odbc_connect(struct odbc_crawl *c)
{
	char *conninfo;
	SQLRETURN rc;

	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &c->env)) ||
	    !SQL_SUCCEEDED(SQLSetEnvAttr(c->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0)) ||
	    !SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, c->env, &c->dbc)))
		return odbc_fail(c, DRIVER_E_CONFIG, "cannot set up the ODBC driver manager");
	SQLSetConnectAttrW(c->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)(uintptr_t)ODBC_LOGIN_TIMEOUT, 0);
	SQLSetConnectAttrW(c->dbc, SQL_ATTR_CONNECTION_TIMEOUT, (SQLPOINTER)(uintptr_t)c->h->timeout, 0);
	odbc_driver_find(c);
	odbc_pin(c);
	conninfo = odbc_conninfo_final(c->h, c->library);
	if (c->h->password) {
		char *plain = conninfo;

		conninfo = secrets_odbc_conninfo(plain, c->h->password);
		free(plain);
	}
	rc = odbc_driver_connect(c->dbc, conninfo);
	secrets_free(conninfo);
	if (!SQL_SUCCEEDED(rc))
		return odbc_connect_error(c);
	c->connected = true;
	return 0;
}

/* ---------------------------------------------------------------- describing the DBMS */

/* A string SQLGetInfo item as UTF-8; "" when the driver has none. Allocated. */
static char *odbc_info(struct odbc_crawl *c, SQLUSMALLINT item)
{
	SQLWCHAR w[256];
	SQLSMALLINT len = 0;

	if (!SQL_SUCCEEDED(SQLGetInfoW(c->dbc, item, w, sizeof(w), &len)))
		return xstrdup("");
	return odbc_utf8(w, len > 0 && (size_t)len < sizeof(w) ? (size_t)len / sizeof(SQLWCHAR) : 255);
}

static SQLUINTEGER odbc_info_mask(struct odbc_crawl *c, SQLUSMALLINT item)
{
	SQLUINTEGER v = 0;

	SQLGetInfoW(c->dbc, item, &v, sizeof(v), NULL);
	return v;
}

static const struct odbc_dbms *odbc_dbms_lookup(const char *name)
{
	const struct odbc_dbms *d = odbc_dbmses;

	while (d->name && strcasecmp(d->name, name) != 0)
		d++;
	return d;
}

/* The database's name at the schema level: the current catalog. */
static char *odbc_current_catalog(struct odbc_crawl *c)
{
	SQLWCHAR w[256];
	SQLINTEGER len = 0;
	char *name = NULL;

	if (SQL_SUCCEEDED(SQLGetConnectAttrW(c->dbc, SQL_ATTR_CURRENT_CATALOG, w, sizeof(w), &len)) && len > 0)
		name = odbc_utf8(w, (size_t)len < sizeof(w) ? (size_t)len / sizeof(SQLWCHAR) : 255);
	if (!name || !*name) {
		free(name);
		name = odbc_info(c, SQL_DATABASE_NAME);
	}
	if (!*name) {
		free(name);
		name = xstrdup("def");
	}
	return name;
}

static enum odbc_level odbc_level_of(struct odbc_crawl *c)
{
	char *catalogs;
	bool has;

	if (odbc_info_mask(c, SQL_SCHEMA_USAGE) != 0)
		return ODBC_LEVEL_SCHEMA;
	catalogs = odbc_info(c, SQL_CATALOG_NAME);
	has = strcmp(catalogs, "Y") == 0;
	free(catalogs);
	return has ? ODBC_LEVEL_CATALOG : ODBC_LEVEL_FLAT;
}

/* What is missing whatever the driver: ODBC has no catalog function for these. */
static void odbc_missing_fixed(struct odbc_crawl *c)
{
	c->missing |= 1u << ODBC_M_CHECKS | 1u << ODBC_M_VIEW_DEPS;
	if (c->dbms->sequences)
		c->missing |= 1u << ODBC_M_SEQUENCES;
	if (c->dbms->remarks == ODBC_REMARKS_MISSING)
		c->missing |= 1u << ODBC_M_COMMENTS;
}

static int odbc_describe(struct odbc_crawl *c)
{
	char *escape;
	struct obj *o;

	c->dbms_name = odbc_info(c, SQL_DBMS_NAME);
	c->dbms_version = odbc_info(c, SQL_DBMS_VER);
	c->dbms = odbc_dbms_lookup(c->dbms_name);
	c->level = odbc_level_of(c);
	escape = odbc_info(c, SQL_SEARCH_PATTERN_ESCAPE);
	snprintf(c->escape, sizeof(c->escape), "%s", escape);
	free(escape);
	if (!SQL_SUCCEEDED(SQLGetFunctions(c->dbc, SQL_API_ODBC3_ALL_FUNCTIONS, c->funcs)))
		memset(c->funcs, 0xff, sizeof(c->funcs));
	c->database = c->level == ODBC_LEVEL_SCHEMA ? odbc_current_catalog(c) : xstrdup("def");
	odbc_missing_fixed(c);
	o = obj_new(OBJ_DATABASE, "d", NULL, c->database);
	obj_set(o, "dbms", *c->dbms_name ? c->dbms_name : NULL);
	obj_set(o, "dbms_version", *c->dbms_version ? c->dbms_version : NULL);
	c->db = snapshot_add(c->snap, &o);
	return 0;
}

/* Read-only, repeatable read, one transaction, where the driver can; a driver that cannot is
 * crawled as it comes (SQLite's only level is serializable anyway). A failing begin_sql fails the
 * crawl: it is there because the crawl would not be one transaction without it. */
static int odbc_row_ignore(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	(void)c;
	(void)r;
	(void)ctx;
	return 0;
}

static int odbc_begin(struct odbc_crawl *c)
{
	struct odbc_call call = { .fn = ODBC_FN_SQL, .row = odbc_row_ignore };
	SQLUSMALLINT capable = SQL_TC_NONE;

	SQLSetConnectAttrW(c->dbc, SQL_ATTR_ACCESS_MODE, (SQLPOINTER)SQL_MODE_READ_ONLY, 0);
	SQLGetInfoW(c->dbc, SQL_TXN_CAPABLE, &capable, sizeof(capable), NULL);
	if (capable == SQL_TC_NONE)
		return 0;
	if (odbc_info_mask(c, SQL_TXN_ISOLATION_OPTION) & SQL_TXN_REPEATABLE_READ)
		SQLSetConnectAttrW(c->dbc, SQL_ATTR_TXN_ISOLATION, (SQLPOINTER)SQL_TXN_REPEATABLE_READ, 0);
	if (!SQL_SUCCEEDED(SQLSetConnectAttrW(c->dbc, SQL_ATTR_AUTOCOMMIT, (SQLPOINTER)SQL_AUTOCOMMIT_OFF, 0)) ||
	    !c->dbms->begin_sql)
		return 0;
	call.arg[0] = c->dbms->begin_sql;
	return odbc_run(c, &call);
}

/* ---------------------------------------------------------------- schemas */

/* Makes the schema object unless it exists; rows come grouped by schema, so the last is checked first. */
static void odbc_schema_add(struct odbc_crawl *c, const char *name)
{
	struct obj *o;
	char *key;

	for (size_t i = c->nschemas; i > 0; i--)
		if (strcmp(c->schemas[i - 1], name) == 0)
			return;
	xgrow(&c->schemas, &c->schemas_cap, c->nschemas + 1, sizeof(*c->schemas));
	c->schemas[c->nschemas++] = xstrdup(name);
	key = odbc_key("n:", name, NULL, NULL);
	o = obj_new(OBJ_SCHEMA, key, "d", name);
	snapshot_add(c->snap, &o);
	free(key);
}

/* SQL_ALL_SCHEMAS / SQL_ALL_CATALOGS enumeration: one row per schema, empty ones included. */
static int odbc_row_schema(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	const char *name = odbc_schema_of(c, odbc_val(r, 1), odbc_val(r, 2));

	(void)ctx;
	if (name && !odbc_system_schema(c, name))
		odbc_schema_add(c, name);
	return 0;
}

/* Schemas come from enumeration where the driver can; tables add any it did not list. A driver
 * that cannot enumerate is not an error. */
static int odbc_read_schemas(struct odbc_crawl *c)
{
	struct odbc_call call = { .fn = ODBC_FN_TABLES, .row = odbc_row_schema };
	int r;

	if (c->level == ODBC_LEVEL_FLAT) {
		odbc_schema_add(c, c->dbms->flat_schema);
		return 0;
	}
	call.arg[0] = c->level == ODBC_LEVEL_CATALOG ? SQL_ALL_CATALOGS : "";
	call.arg[1] = c->level == ODBC_LEVEL_SCHEMA ? SQL_ALL_SCHEMAS : "";
	call.arg[2] = "";
	call.arg[3] = "";
	r = odbc_run(c, &call);
	if (r == ODBC_UNSUPPORTED || r == DRIVER_E_QUERY)
		r = 0;
	return r;
}

/* ---------------------------------------------------------------- tables */

static const struct odbc_table_type *odbc_table_type(const char *type)
{
	const struct odbc_table_type *t = odbc_table_types;

	while (type && t->type && strcasecmp(t->type, type) != 0)
		t++;
	return type && t->type ? t : NULL;
}

/* A REMARKS value as a comment, or NULL. */
static const char *odbc_remarks(struct odbc_crawl *c, const char *remarks, enum obj_kind kind)
{
	if (!remarks || !*remarks || c->dbms->remarks == ODBC_REMARKS_NONE || c->dbms->remarks == ODBC_REMARKS_MISSING)
		return NULL;
	if (kind == OBJ_VIEW && c->dbms->view_remarks && strcmp(remarks, c->dbms->view_remarks) == 0)
		return NULL;
	c->saw_remarks = true;
	return remarks;
}

/* SQLTables: TABLE_CAT, TABLE_SCHEM, TABLE_NAME, TABLE_TYPE, REMARKS. ctx: the schema asked for. */
static int odbc_row_table(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	const char *want = ctx, *name = odbc_val(r, 3);
	const char *schema = odbc_schema_of(c, odbc_val(r, 1), odbc_val(r, 2));
	const struct odbc_table_type *type = odbc_table_type(odbc_val(r, 4));
	struct odbc_table *t;
	struct obj *o;
	char *parent;

	if (!type || !schema || !name || (want && strcmp(want, schema) != 0) || odbc_system_schema(c, schema) ||
	    odbc_system_table(c, name))
		return 0;
	odbc_schema_add(c, schema);
	xgrow(&c->tables, &c->tables_cap, c->ntables + 1, sizeof(*c->tables));
	t = &c->tables[c->ntables++];
	memset(t, 0, sizeof(*t));
	t->key = odbc_key("r:", schema, name, NULL);
	t->schema = xstrdup(schema);
	t->name = xstrdup(name);
	t->cat = odbc_val(r, 1) ? xstrdup(odbc_val(r, 1)) : NULL;
	t->schem = odbc_val(r, 2) ? xstrdup(odbc_val(r, 2)) : NULL;
	t->kind = type->kind;
	t->foreign = type->foreign;
	t->in_scope = source_conf_in_scope(c->h->conf, schema, name);
	parent = odbc_key("n:", schema, NULL, NULL);
	o = obj_new(type->kind, t->key, parent, name);
	free(parent);
	if (type->foreign)
		obj_set(o, "foreign", "true");
	obj_set(o, "comment", odbc_remarks(c, odbc_val(r, 5), type->kind));
	snapshot_add(c->snap, &o);
	return 0;
}

/* The arguments that list one schema's tables (schema NULL: every schema's). */
static void odbc_scope_args(struct odbc_crawl *c, const char *schema, char **pattern, struct odbc_call *call)
{
	*pattern = schema ? odbc_pattern(c, schema) : NULL;
	if (c->level == ODBC_LEVEL_SCHEMA)
		call->arg[1] = schema ? *pattern : "%";
	else if (c->level == ODBC_LEVEL_CATALOG)
		call->arg[0] = schema ? *pattern : "%";
}

static int odbc_read_tables_of(struct odbc_crawl *c, const char *schema)
{
	struct odbc_call call = { .fn = ODBC_FN_TABLES, .row = odbc_row_table, .ctx = (void *)schema };
	char *pattern;
	int r;

	call.arg[2] = "%";
	odbc_scope_args(c, schema, &pattern, &call);
	r = odbc_run(c, &call);
	free(pattern);
	return r == ODBC_UNSUPPORTED ? odbc_fail(c, DRIVER_E_CONFIG, "the ODBC driver cannot list tables") : r;
}

/* One SQLTables call per enumerated schema (only the schema's own rows count: a pattern may match
 * more), or one for everything when the driver did not enumerate. */
static int odbc_read_tables(struct odbc_crawl *c)
{
	size_t nschemas = c->nschemas;
	int r = 0;

	if (c->level == ODBC_LEVEL_FLAT || nschemas == 0)
		r = odbc_read_tables_of(c, NULL);
	for (size_t i = 0; r == 0 && c->level != ODBC_LEVEL_FLAT && i < nschemas; i++)
		r = odbc_read_tables_of(c, c->schemas[i]);
	if (c->ntables > 1)
		qsort(c->tables, c->ntables, sizeof(*c->tables), odbc_table_cmp);
	for (size_t i = 1; r == 0 && i < c->ntables; i++)
		if (strcmp(c->tables[i - 1].key, c->tables[i].key) == 0)
			r = odbc_fail(c, DRIVER_E_QUERY, "SQLTables listed %s.%s twice", c->tables[i].schema,
				      c->tables[i].name);
	return r;
}

/* ---------------------------------------------------------------- columns */

/* SQLColumns result columns. */
enum {
	COL_CAT = 1, COL_SCHEM, COL_TABLE, COL_NAME, COL_DATA_TYPE, COL_TYPE_NAME, COL_SIZE, COL_BUFLEN,
	COL_DIGITS, COL_RADIX, COL_NULLABLE, COL_REMARKS, COL_DEFAULT, COL_SQL_TYPE, COL_DT_SUB, COL_OCTETS,
	COL_ORDINAL, COL_IS_NULLABLE,
};
enum { COLX_ORDINAL, COLX_TYPMOD, COLX_BASETYPE };

/* What a column's type row says. */
struct odbc_coltype {
	long data_type;
	char *base;         /* TYPE_NAME without a MySQL " UNSIGNED"/" ZEROFILL" suffix */
	const char *suffix; /* that suffix, or "" */
	long size, digits, radix;
	long typmod;        /* psqlODBC; LONG_MIN: not given */
	long base_oid;
	bool domain;        /* the type is a domain, known by its base type */
};

static const struct odbc_type *odbc_type_by_name(const struct odbc_type *t, const char *name)
{
	for (; t && t->name; t++)
		if (strcasecmp(t->name, name) == 0)
			return t;
	return NULL;
}

static const struct odbc_type *odbc_type_by_oid(const struct odbc_type *t, long oid)
{
	for (; t && t->name && oid > 0; t++)
		if (t->oid == oid)
			return t;
	return NULL;
}

static const struct odbc_type *odbc_type_by_affinity(const struct odbc_type *t, const char *name)
{
	for (; t && t->name; t++)
		if (strcasestr(name, t->name))
			return t;
	return NULL;
}

static const struct odbc_sqltype *odbc_sqltype(long data_type)
{
	const struct odbc_sqltype *t = odbc_sqltypes;

	while (t->family && (data_type < t->lo || data_type > t->hi))
		t++;
	return t->family ? t : NULL;
}

static void odbc_set_long(struct obj *o, const char *attr, long v)
{
	obj_setf(o, attr, "%ld", v);
}

/* "(a)" or "(a,b)" at the end of a declared type. */
static int odbc_declared(const char *name, long *a, long *b)
{
	const char *p = strchr(name, '(');

	if (!p)
		return 0;
	if (sscanf(p, "(%ld , %ld)", a, b) == 2)
		return 2;
	return sscanf(p, "(%ld)", a) == 1 ? 1 : 0;
}

static void odbc_param_declared(struct obj *o, const char *family, const char *type_name)
{
	long a = 0, b = 0;
	int n = odbc_declared(type_name, &a, &b);

	if (n == 0)
		return;
	if (strcmp(family, "decimal") == 0) {
		odbc_set_long(o, "precision", a);
		odbc_set_long(o, "scale", n == 2 ? b : 0);
	} else if (strcmp(family, "char") == 0 || strcmp(family, "string") == 0 || strcmp(family, "binary") == 0 ||
		   strcmp(family, "bit") == 0) {
		odbc_set_long(o, "length", a);
	} else {
		odbc_set_long(o, "precision", a);
	}
}

/* psqlODBC reports a typmod less its 4-byte header, except for time types and bit, and only when
 * it was 4 or more. */
static void odbc_param_pg(struct obj *o, enum odbc_param param, long tm)
{
	if (tm < 0)
		return;
	switch (param) {
	case ODBC_P_PG_LENGTH:
		odbc_set_long(o, "length", tm);
		break;
	case ODBC_P_PG_NUMERIC:
		odbc_set_long(o, "precision", (tm >> 16) & 0xffff);
		odbc_set_long(o, "scale", ((tm & 0x7ff) ^ 1024) - 1024);
		break;
	case ODBC_P_PG_FRACTION:
		odbc_set_long(o, "precision", tm);
		break;
	case ODBC_P_PG_INTERVAL:
		if (((tm + 4) & 0xffff) != 0xffff)
			odbc_set_long(o, "precision", (tm + 4) & 0xffff);
		break;
	case ODBC_P_PG_VARBIT:
		if (tm >= 4) /* below 4 the typmod was either n or n - 4: leave the length out */
			odbc_set_long(o, "length", tm + 4);
		break;
	default:
		break;
	}
}

static bool odbc_param_is_pg(enum odbc_param p)
{
	return p >= ODBC_P_PG_LENGTH;
}

/* The generic parameter a psqlODBC rule falls back to when the driver gives no TYPMOD. */
static enum odbc_param odbc_param_plain(enum odbc_param p)
{
	switch (p) {
	case ODBC_P_PG_LENGTH:
	case ODBC_P_PG_VARBIT:
		return ODBC_P_LENGTH;
	case ODBC_P_PG_NUMERIC:
		return ODBC_P_DECIMAL;
	case ODBC_P_PG_FRACTION:
	case ODBC_P_PG_INTERVAL:
		return ODBC_P_FRACTION;
	default:
		return p;
	}
}

static void odbc_set_params(struct obj *o, const char *family, enum odbc_param param, const struct odbc_coltype *t)
{
	if (odbc_param_is_pg(param) && t->typmod != LONG_MIN) {
		odbc_param_pg(o, param, t->typmod);
		return;
	}
	switch (odbc_param_plain(param)) {
	case ODBC_P_LENGTH:
		if (t->size >= 0)
			odbc_set_long(o, "length", t->size);
		break;
	case ODBC_P_DECIMAL:
		if (t->size > 0) {
			odbc_set_long(o, "precision", t->size);
			odbc_set_long(o, "scale", t->digits > 0 ? t->digits : 0);
		}
		break;
	case ODBC_P_FRACTION:
		if (t->digits >= 0)
			odbc_set_long(o, "precision", t->digits);
		break;
	case ODBC_P_FLOAT:
		obj_set(o, "precision", t->size > 0 && t->size <= (t->radix == 2 ? 24 : 7) ? "24" : "53");
		break;
	case ODBC_P_DECLARED:
		odbc_param_declared(o, family, t->base);
		break;
	default:
		break;
	}
}

/* Family and parameters: the DBMS's name table, then its affinity rules, then DATA_TYPE. */
static void odbc_set_family(struct odbc_crawl *c, struct obj *o, struct odbc_coltype *t)
{
	const struct odbc_dbms *d = c->dbms;
	const struct odbc_type *nt = NULL;
	const struct odbc_sqltype *st;
	char *bare = xstrndup(t->base, strcspn(t->base, "("));

	if (!*bare) {
		obj_set(o, "family", "other");
	} else if (d->array_prefix && strncmp(bare, d->array_prefix, strlen(d->array_prefix)) == 0) {
		obj_set(o, "family", "array");
	} else if ((nt = odbc_type_by_name(d->types, bare)) || (nt = odbc_type_by_affinity(d->affinity, bare))) {
		obj_set(o, "family", nt->family);
		obj_set(o, "precision", nt->precision);
		odbc_set_params(o, nt->family, nt->param, t);
	} else if ((nt = odbc_type_by_oid(d->types, t->base_oid))) {
		t->domain = true; /* psqlODBC: a domain, by its base type */
		obj_set(o, "family", nt->family);
		obj_set(o, "precision", nt->precision);
		odbc_set_params(o, nt->family, nt->param, t);
	} else if (!d->unknown_types_other && (st = odbc_sqltype(t->data_type))) {
		obj_set(o, "family", st->family);
		obj_set(o, "precision", st->precision);
		odbc_set_params(o, st->family, st->param, t);
	} else {
		obj_set(o, "family", "other");
	}
	free(bare);
}

/* TYPE_NAME plus the parameters the family prints ("varchar(50)", "numeric(10,2)"), unless the
 * driver gives the declared type already. */
static void odbc_set_type(struct odbc_crawl *c, struct obj *o, const struct odbc_coltype *t)
{
	const char *family = obj_get(o, "family"), *len = obj_get(o, "length");
	const char *prec = obj_get(o, "precision"), *scale = obj_get(o, "scale");
	struct buf b;

	if (c->dbms->type_name_declared || t->domain) {
		obj_set(o, "type", t->base);
		return;
	}
	buf_init(&b);
	buf_adds(&b, t->base);
	if (len)
		buf_addf(&b, "(%s)", len);
	else if (prec && scale)
		buf_addf(&b, "(%s,%s)", prec, scale);
	else if (prec && strcmp(family, "integer") != 0 && strcmp(family, "float") != 0)
		buf_addf(&b, "(%s)", prec);
	buf_adds(&b, t->suffix);
	obj_set(o, "type", b.data);
	buf_free(&b);
}

static void odbc_coltype_read(struct odbc_crawl *c, const struct odbc_row *r, struct odbc_coltype *t)
{
	const char *name = odbc_val(r, COL_TYPE_NAME) ? odbc_val(r, COL_TYPE_NAME) : "";
	static const char *const suffixes[] = { " UNSIGNED ZEROFILL", " UNSIGNED", " ZEROFILL", NULL };
	size_t n = strlen(name);

	memset(t, 0, sizeof(*t));
	t->data_type = odbc_num(r, COL_DATA_TYPE, 0);
	t->suffix = "";
	for (const char *const *s = suffixes; c->dbms->unsigned_suffix && *s && !*t->suffix; s++)
		if (n > strlen(*s) && strcasecmp(name + n - strlen(*s), *s) == 0)
			t->suffix = name + n - strlen(*s);
	t->base = xstrndup(name, n - strlen(t->suffix));
	t->size = odbc_num(r, COL_SIZE, -1);
	t->digits = odbc_num(r, COL_DIGITS, -1);
	t->radix = odbc_num(r, COL_RADIX, 10);
	t->typmod = odbc_num(r, r->x[COLX_TYPMOD], LONG_MIN);
	t->base_oid = odbc_num(r, r->x[COLX_BASETYPE], 0);
}

/* NULLABLE, with IS_NULLABLE when the driver does not know; SQL's default is nullable. */
static bool odbc_nullable(const struct odbc_row *r)
{
	long n = odbc_num(r, COL_NULLABLE, SQL_NULLABLE_UNKNOWN);
	const char *is = odbc_val(r, COL_IS_NULLABLE);

	if (n != SQL_NULLABLE_UNKNOWN)
		return n == SQL_NULLABLE;
	return !is || strcasecmp(is, "NO") != 0;
}

static void odbc_column_attrs(struct odbc_crawl *c, struct obj *o, const struct odbc_row *r)
{
	const struct odbc_kv *fix = odbc_kv_find(&c->fixes, o->key);
	const char *def = odbc_val(r, COL_DEFAULT);
	struct odbc_coltype t;

	odbc_coltype_read(c, r, &t);
	odbc_set_family(c, o, &t);
	if (fix && fix->v[ODBC_FIX_PRECISION])
		obj_set(o, "precision", fix->v[ODBC_FIX_PRECISION]);
	if (fix && fix->v[ODBC_FIX_LENGTH])
		obj_set(o, "length", fix->v[ODBC_FIX_LENGTH]);
	odbc_set_type(c, o, &t);
	if (t.suffix[0] && strcasestr(t.suffix, "UNSIGNED"))
		obj_set(o, "unsigned", "true");
	odbc_set_long(o, "ordinal", odbc_num(r, r->x[COLX_ORDINAL] ? r->x[COLX_ORDINAL] : COL_ORDINAL, 0));
	obj_set(o, "nullable", odbc_nullable(r) ? "true" : NULL);
	if (fix && fix->v[ODBC_FIX_NULLABLE])
		obj_set(o, "nullable", strcmp(fix->v[ODBC_FIX_NULLABLE], "YES") == 0 ? "true" : NULL);
	if (def && !(c->dbms->no_default && strcmp(def, c->dbms->no_default) == 0))
		obj_set(o, "default", def);
	obj_set(o, "comment", odbc_remarks(c, odbc_val(r, COL_REMARKS), OBJ_COLUMN));
	free(t.base);
}

/* SQLColumns rows of tables we did not list (indexes, sequences, system tables) are left out. */
static int odbc_row_column(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	const char *schema = odbc_schema_of(c, odbc_val(r, COL_CAT), odbc_val(r, COL_SCHEM));
	const char *want = ctx, *name = odbc_val(r, COL_NAME);
	struct odbc_table *t = odbc_table_find(c, schema, odbc_val(r, COL_TABLE));
	struct odbc_column *col;
	struct obj *o;

	if (!t || !name || (want && strcmp(want, schema) != 0))
		return 0;
	if (r->n < COL_DEFAULT)
		c->missing |= 1u << ODBC_M_DEFAULTS; /* an ODBC 2 driver: no COLUMN_DEF */
	xgrow(&c->columns, &c->columns_cap, c->ncolumns + 1, sizeof(*c->columns));
	col = &c->columns[c->ncolumns++];
	col->key = odbc_key("a:", t->schema, t->name, name);
	o = obj_new(OBJ_COLUMN, col->key, t->key, name);
	odbc_column_attrs(c, o, r);
	col->obj = snapshot_add(c->snap, &o);
	return 0;
}

static int odbc_read_columns_of(struct odbc_crawl *c, const char *schema)
{
	struct odbc_call call = { .fn = ODBC_FN_COLUMNS, .row = odbc_row_column, .ctx = (void *)schema };
	char *pattern = NULL;
	int r;

	call.extra[COLX_ORDINAL] = c->dbms->ordinal_column;
	call.extra[COLX_TYPMOD] = c->dbms->typmod_column;
	call.extra[COLX_BASETYPE] = c->dbms->basetype_column;
	call.arg[2] = "%";
	call.arg[3] = "%";
	if (c->level == ODBC_LEVEL_SCHEMA)
		call.arg[1] = pattern = odbc_pattern(c, schema);
	else if (c->level == ODBC_LEVEL_CATALOG)
		call.arg[0] = schema; /* an ordinary argument, no pattern */
	r = odbc_run(c, &call);
	free(pattern);
	return r == ODBC_UNSUPPORTED ? odbc_fail(c, DRIVER_E_CONFIG, "the ODBC driver cannot list columns") : r;
}

/* Before the columns, so that each column is made right once. */
static int odbc_read_column_fixes(struct odbc_crawl *c)
{
	struct odbc_call call = { .fn = ODBC_FN_SQL, .row = odbc_row_kv, .ctx = &c->fixes,
				  .arg = { c->dbms->column_fixes } };
	int r;

	if (!c->dbms->column_fixes)
		return 0;
	r = odbc_run(c, &call);
	odbc_kvs_sort(&c->fixes);
	return r == ODBC_UNSUPPORTED ? odbc_fail(c, DRIVER_E_QUERY, "the ODBC driver cannot run a query") : r;
}

/* One SQLColumns call per schema that has tables (SQLColumns takes a single catalog). */
static int odbc_read_columns(struct odbc_crawl *c)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < c->ntables; i++) {
		if (i > 0 && strcmp(c->tables[i - 1].schema, c->tables[i].schema) == 0)
			continue;
		r = odbc_read_columns_of(c, c->level == ODBC_LEVEL_FLAT ? NULL : c->tables[i].schema);
	}
	if (c->ncolumns > 1)
		qsort(c->columns, c->ncolumns, sizeof(*c->columns), odbc_column_cmp);
	for (size_t i = 1; r == 0 && i < c->ncolumns; i++)
		if (strcmp(c->columns[i - 1].key, c->columns[i].key) == 0)
			r = odbc_fail(c, DRIVER_E_QUERY, "SQLColumns listed column %s of %s twice",
				      c->columns[i].obj->name, c->columns[i].obj->parent);
	return r;
}

/* ---------------------------------------------------------------- keys: common */

static void odbc_keyrows_free(struct odbc_crawl *c)
{
	for (size_t i = 0; i < c->nkeyrows; i++) {
		struct odbc_keyrow *k = &c->keyrows[i];

		free(k->name);
		free(k->column);
		free(k->ref_schema);
		free(k->ref_table);
		free(k->ref_column);
		for (int j = 0; j < ODBC_RULE_COUNT; j++)
			free(k->rule[j]);
	}
	c->nkeyrows = 0;
}

static struct odbc_keyrow *odbc_keyrow_new(struct odbc_crawl *c, const struct odbc_table *t, const char *name,
					   const char *column, long seq)
{
	struct odbc_keyrow *k;

	xgrow(&c->keyrows, &c->keyrows_cap, c->nkeyrows + 1, sizeof(*c->keyrows));
	k = &c->keyrows[c->nkeyrows++];
	memset(k, 0, sizeof(*k));
	k->table = (size_t)(t - c->tables);
	k->name = name && *name ? xstrdup(name) : NULL;
	k->column = xstrdup(column);
	k->seq = seq;
	return k;
}

/* Rows by table, then name (unnamed foreign keys by their group), then sequence. */
static int odbc_keyrow_cmp(const void *a, const void *b)
{
	const struct odbc_keyrow *x = a, *y = b;
	int r;

	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if ((r = strcmp(x->name ? x->name : "", y->name ? y->name : "")) != 0)
		return r;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void odbc_keyrows_sort(struct odbc_crawl *c)
{
	if (c->nkeyrows > 1)
		qsort(c->keyrows, c->nkeyrows, sizeof(*c->keyrows), odbc_keyrow_cmp);
}

static bool odbc_keyrow_same(const struct odbc_keyrow *a, const struct odbc_keyrow *b)
{
	return a->table == b->table && a->group == b->group &&
	       strcmp(a->name ? a->name : "", b->name ? b->name : "") == 0;
}

/* The table a key row names, if we crawl it; ctx is the table of a per-table call. */
static struct odbc_table *odbc_key_table(struct odbc_crawl *c, const struct odbc_row *r, SQLSMALLINT cat,
					 void *ctx)
{
	struct odbc_table *t = ctx;
	const char *name = odbc_val(r, cat + 2);

	if (t && name && strcmp(name, t->name) == 0)
		return t;
	return t ? NULL : odbc_table_find(c, odbc_schema_of(c, odbc_val(r, cat), odbc_val(r, cat + 1)), name);
}

static bool odbc_fn_supported(struct odbc_crawl *c, enum odbc_fn fn)
{
	return SQL_FUNC_EXISTS(c->funcs, odbc_fns[fn].api) == SQL_TRUE;
}

/* Whether a table takes part in a key function's calls. */
static bool odbc_keys_wanted(const struct odbc_table *t, enum odbc_fn fn)
{
	if (!t->in_scope || t->foreign)
		return false;
	return t->kind == OBJ_TABLE || (fn == ODBC_FN_STATISTICS && t->kind == OBJ_MATVIEW);
}

/* The call for one table, or (table NULL) for the schema of tables[first] with table "%". */
static void odbc_key_args(struct odbc_call *call, const struct odbc_table *scope, const struct odbc_table *t)
{
	const char **a = call->fn == ODBC_FN_FOREIGN_KEYS ? &call->arg[3] : &call->arg[0];

	a[0] = scope->cat;
	a[1] = scope->schem;
	a[2] = t ? t->name : "%";
	call->ctx = (void *)t;
}

/* Per-table calls, for the tables of the call's function. */
static int odbc_keys_per_table(struct odbc_crawl *c, struct odbc_call *call)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < c->ntables; i++) {
		if (!odbc_keys_wanted(&c->tables[i], call->fn))
			continue;
		odbc_key_args(call, &c->tables[i], &c->tables[i]);
		r = odbc_run(c, call);
	}
	return r;
}

/* Table "%" per schema, for a driver we do not know: if the first schema's call returns rows, the
 * driver takes the pattern and the other schemas follow; if it returns none or refuses the pattern
 * (SQLite ODBC: "need table name"), every table gets its own call. */
static int odbc_keys_probe(struct odbc_crawl *c, struct odbc_call *call)
{
	bool probed = false;
	int r = 0;

	for (size_t i = 0; r == 0 && i < c->ntables; i++) {
		if (i > 0 && strcmp(c->tables[i - 1].schema, c->tables[i].schema) == 0)
			continue;
		odbc_key_args(call, &c->tables[i], NULL);
		r = odbc_run(c, call);
		if (!probed && (r == DRIVER_E_QUERY || r == ODBC_UNSUPPORTED || (r == 0 && c->nkeyrows == 0))) {
			odbc_keyrows_free(c);
			return odbc_keys_per_table(c, call);
		}
		probed = true;
	}
	return r;
}

/* Reads one key function's rows into keyrows; a driver without the function leaves what in
 * "unsupported". */
static int odbc_keys_read(struct odbc_crawl *c, struct odbc_call *call, enum odbc_missing what)
{
	int r;

	odbc_keyrows_free(c);
	if (!odbc_fn_supported(c, call->fn)) {
		c->missing |= 1u << what;
		return 0;
	}
	r = c->dbms->keys == ODBC_KEYS_PROBE ? odbc_keys_probe(c, call) : odbc_keys_per_table(c, call);
	if (r == ODBC_UNSUPPORTED) {
		odbc_keyrows_free(c);
		c->missing |= 1u << what;
		r = 0;
	}
	odbc_keyrows_sort(c);
	return r;
}

/* Column keys of keyrows[from..to) as REFS; false when a column is not one of the table's. */
static bool odbc_keyrow_refs(struct odbc_crawl *c, size_t from, size_t to, struct buf *refs)
{
	const struct odbc_table *t = &c->tables[c->keyrows[from].table];

	buf_init(refs);
	for (size_t i = from; i < to; i++) {
		struct odbc_column *col = odbc_column_find(c, t, c->keyrows[i].column);

		if (!col) {
			buf_free(refs);
			return false;
		}
		odbc_refs_add(refs, col->key);
	}
	buf_adds(refs, "");
	return true;
}

/* Emits each group of equal rows (one constraint or index) through fn. */
static void odbc_keyrows_each(struct odbc_crawl *c, void (*fn)(struct odbc_crawl *c, size_t from, size_t to))
{
	for (size_t from = 0, to; from < c->nkeyrows; from = to) {
		for (to = from + 1; to < c->nkeyrows && odbc_keyrow_same(&c->keyrows[from], &c->keyrows[to]); to++)
			;
		fn(c, from, to);
	}
}

static void odbc_constraint_add(struct odbc_table *t, enum obj_kind kind, const char *name,
				struct obj **ret)
{
	char *key = odbc_key(kind == OBJ_INDEX ? "i:" : "c:", t->schema, t->name, name);

	*ret = obj_new(kind, key, t->key, name);
	free(key);
}

/* ---------------------------------------------------------------- primary keys */

/* SQLPrimaryKeys: TABLE_CAT, TABLE_SCHEM, TABLE_NAME, COLUMN_NAME, KEY_SEQ, PK_NAME. */
static int odbc_row_primary_key(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	struct odbc_table *t = odbc_key_table(c, r, 1, ctx);

	if (t && odbc_val(r, 4))
		odbc_keyrow_new(c, t, odbc_val(r, 6), odbc_val(r, 4), odbc_num(r, 5, 0));
	return 0;
}

/* A driver that names no primary key (SQLite) gets PostgreSQL's default name for it. */
static void odbc_primary_key_emit(struct odbc_crawl *c, size_t from, size_t to)
{
	struct odbc_table *t = &c->tables[c->keyrows[from].table];
	const char *given = c->keyrows[from].name;
	char *name = given ? xstrdup(given) : xasprintf("%s_pkey", t->name);
	struct obj *o;
	struct buf refs;

	if (!odbc_keyrow_refs(c, from, to, &refs) || !odbc_name_claim(t, "c:", name)) {
		free(name);
		return;
	}
	odbc_constraint_add(t, OBJ_PRIMARY_KEY, name, &o);
	obj_set(o, "columns", refs.data);
	snapshot_add(c->snap, &o);
	t->pk_name = given ? xstrdup(given) : NULL;
	t->pk_cols = buf_steal(&refs);
	free(name);
}

static int odbc_read_primary_keys(struct odbc_crawl *c)
{
	struct odbc_call call = { .fn = ODBC_FN_PRIMARY_KEYS, .row = odbc_row_primary_key };
	int r = odbc_keys_read(c, &call, ODBC_M_PRIMARY_KEYS);

	if (r == 0)
		odbc_keyrows_each(c, odbc_primary_key_emit);
	odbc_keyrows_free(c);
	return r;
}

/* ---------------------------------------------------------------- indexes and unique constraints */

/* SQLStatistics: TABLE_CAT, TABLE_SCHEM, TABLE_NAME, NON_UNIQUE, INDEX_QUALIFIER, INDEX_NAME, TYPE,
 * ORDINAL_POSITION, COLUMN_NAME, … Table statistics rows (TYPE 0) are not indexes. */
static int odbc_row_index(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	struct odbc_table *t = odbc_key_table(c, r, 1, ctx);
	struct odbc_keyrow *k;

	if (!t || odbc_num(r, 7, SQL_TABLE_STAT) == SQL_TABLE_STAT || !odbc_val(r, 6) || !odbc_val(r, 9))
		return 0;
	k = odbc_keyrow_new(c, t, odbc_val(r, 6), odbc_val(r, 9), odbc_num(r, 8, 0));
	k->unique = odbc_num(r, 4, 1) == 0;
	return 0;
}

/* The index that implements the primary key: the same name, or (unnamed key) the same columns. */
static bool odbc_index_is_pk(const struct odbc_table *t, const char *name, const char *refs)
{
	if (!t->pk_cols)
		return false;
	return t->pk_name ? strcmp(t->pk_name, name) == 0 : strcmp(t->pk_cols, refs) == 0;
}

/* Index entries that are not columns of the table are expressions (psqlODBC prints them). */
static void odbc_index_columns(struct odbc_crawl *c, size_t from, size_t to, struct buf *cols, struct buf *exprs)
{
	const struct odbc_table *t = &c->tables[c->keyrows[from].table];

	buf_init(cols);
	buf_init(exprs);
	for (size_t i = from; i < to; i++) {
		struct odbc_column *col = odbc_column_find(c, t, c->keyrows[i].column);

		if (col) {
			odbc_refs_add(cols, col->key);
		} else {
			if (exprs->len)
				buf_adds(exprs, ", ");
			buf_adds(exprs, c->keyrows[i].column);
		}
	}
	buf_adds(cols, "");
}

/* A unique index over plain columns is a unique constraint (ODBC cannot tell the two apart, and
 * MySQL has only the index); any other index is an index. */
static void odbc_index_emit(struct odbc_crawl *c, size_t from, size_t to)
{
	struct odbc_table *t = &c->tables[c->keyrows[from].table];
	const char *name = c->keyrows[from].name;
	bool unique = c->keyrows[from].unique;
	struct buf cols, exprs;
	enum obj_kind kind;
	struct obj *o;

	odbc_index_columns(c, from, to, &cols, &exprs);
	kind = unique && !exprs.len ? OBJ_UNIQUE : OBJ_INDEX;
	if (!(kind == OBJ_UNIQUE && odbc_index_is_pk(t, name, cols.data)) &&
	    odbc_name_claim(t, kind == OBJ_INDEX ? "i:" : "c:", name)) {
		odbc_constraint_add(t, kind, name, &o);
		obj_set(o, "columns", cols.len ? cols.data : NULL);
		obj_set(o, "expressions", exprs.len ? exprs.data : NULL);
		if (o->kind == OBJ_INDEX && unique)
			obj_set(o, "unique", "true");
		snapshot_add(c->snap, &o);
	}
	buf_free(&cols);
	buf_free(&exprs);
}

static int odbc_read_indexes(struct odbc_crawl *c)
{
	struct odbc_call call = { .fn = ODBC_FN_STATISTICS, .row = odbc_row_index };
	int r = odbc_keys_read(c, &call, ODBC_M_INDEXES);

	if (r == 0)
		odbc_keyrows_each(c, odbc_index_emit);
	odbc_keyrows_free(c);
	return r;
}

/* ---------------------------------------------------------------- foreign keys */

/* An UPDATE_RULE or DELETE_RULE as a word; NULL when the driver gives none we know. Allocated. */
static char *odbc_fk_action(long rule)
{
	size_t n = sizeof(odbc_fk_actions) / sizeof(odbc_fk_actions[0]);

	return rule >= 0 && (size_t)rule < n && odbc_fk_actions[rule] ? xstrdup(odbc_fk_actions[rule]) : NULL;
}

/* SQLForeignKeys: PKTABLE_CAT, PKTABLE_SCHEM, PKTABLE_NAME, PKCOLUMN_NAME, FKTABLE_CAT,
 * FKTABLE_SCHEM, FKTABLE_NAME, FKCOLUMN_NAME, KEY_SEQ, UPDATE_RULE, DELETE_RULE, FK_NAME, PK_NAME,
 * DEFERRABILITY. Keys without a name (SQLite) are told apart by KEY_SEQ starting again at 1. */
static int odbc_row_foreign_key(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	struct odbc_table *t = odbc_key_table(c, r, 5, ctx);
	const char *ref_schema = odbc_schema_of(c, odbc_val(r, 1), odbc_val(r, 2));
	long seq = odbc_num(r, 9, 1);
	struct odbc_keyrow *k;

	if (!t || !odbc_val(r, 8) || !odbc_val(r, 3) || !odbc_val(r, 4) || !ref_schema)
		return 0;
	k = odbc_keyrow_new(c, t, odbc_val(r, 12), odbc_val(r, 8), seq);
	if (!k->name && seq <= 1)
		c->fk_group++;
	k->group = k->name ? 0 : c->fk_group;
	k->ref_schema = xstrdup(ref_schema);
	k->ref_table = xstrdup(odbc_val(r, 3));
	k->ref_column = xstrdup(odbc_val(r, 4));
	k->rule[ODBC_RULE_UPDATE] = odbc_fk_action(odbc_num(r, 10, -1));
	k->rule[ODBC_RULE_DELETE] = odbc_fk_action(odbc_num(r, 11, -1));
	k->deferrability = odbc_num(r, 14, SQL_NOT_DEFERRABLE);
	return 0;
}

/* "<table>_<col>_…_fkey", PostgreSQL's default, for a driver that names no foreign key; a second
 * one over the same columns gets "_2" and so on. */
static char *odbc_fk_name(struct odbc_crawl *c, size_t from, size_t to)
{
	struct odbc_table *t = &c->tables[c->keyrows[from].table];
	struct buf b;
	char *name;

	buf_init(&b);
	buf_adds(&b, t->name);
	for (size_t i = from; i < to; i++)
		buf_addf(&b, "_%s", c->keyrows[i].column);
	buf_adds(&b, "_fkey");
	name = xstrdup(b.data);
	for (unsigned n = 2; !odbc_name_claim(t, "c:", name); n++) {
		free(name);
		name = xasprintf("%s_%u", b.data, n);
	}
	buf_free(&b);
	return name;
}

static void odbc_fk_set(struct odbc_crawl *c, struct obj *o, size_t from, size_t to)
{
	const struct odbc_keyrow *k = &c->keyrows[from];
	char *ref_table = odbc_key("r:", k->ref_schema, k->ref_table, NULL);
	struct buf refs;

	buf_init(&refs);
	for (size_t i = from; i < to; i++) {
		char *key = odbc_key("a:", k->ref_schema, k->ref_table, c->keyrows[i].ref_column);

		odbc_refs_add(&refs, key);
		free(key);
	}
	obj_set(o, "ref_table", ref_table);
	obj_set(o, "ref_columns", refs.data);
	for (int i = 0; i < ODBC_RULE_COUNT; i++)
		obj_set(o, odbc_rule_attrs[i], k->rule[i]);
	if (k->deferrability == SQL_INITIALLY_DEFERRED)
		obj_set(o, "deferrable", "DEFERRABLE INITIALLY DEFERRED");
	else if (k->deferrability == SQL_INITIALLY_IMMEDIATE)
		obj_set(o, "deferrable", "DEFERRABLE INITIALLY IMMEDIATE");
	buf_free(&refs);
	free(ref_table);
}

/*
 * A foreign key named like a unique constraint of its table (MySQL keeps the two apart) gets
 * "c:<schema>/<table>/<name>/foreign_key", as driver_mysql keys it: keys and indexes are read first,
 * so the suffix always goes to the foreign key.
 */
static void odbc_foreign_key_emit(struct odbc_crawl *c, size_t from, size_t to)
{
	struct odbc_table *t = &c->tables[c->keyrows[from].table];
	const char *given = c->keyrows[from].name;
	char *name = given ? xstrdup(given) : odbc_fk_name(c, from, to), *key;
	struct buf cols;
	struct obj *o;

	if (!odbc_keyrow_refs(c, from, to, &cols)) {
		free(name);
		return;
	}
	key = odbc_key("c:", t->schema, t->name, name);
	if (given && !odbc_name_claim(t, "c:", given)) {
		char *suffixed = xasprintf("%s/%s", key, model_kind(OBJ_FOREIGN_KEY)->name);

		free(key);
		key = suffixed;
	}
	o = obj_new(OBJ_FOREIGN_KEY, key, t->key, name);
	obj_set(o, "columns", cols.data);
	odbc_fk_set(c, o, from, to);
	snapshot_add(c->snap, &o);
	free(key);
	free(name);
	buf_free(&cols);
}

/* fk_columns rows (see odbc_mysql_fk_columns), with the words fk_rules gave their constraint. */
static int odbc_row_fk_column(struct odbc_crawl *c, const struct odbc_row *r, void *ctx)
{
	struct odbc_table *t = odbc_table_find(c, odbc_schema_of(c, odbc_val(r, 1), NULL), odbc_val(r, 2));
	const char *ref_schema = odbc_schema_of(c, odbc_val(r, 6), NULL);
	const struct odbc_kv *rules;
	struct odbc_keyrow *k;
	char *key;

	(void)ctx;
	if (!t || !odbc_keys_wanted(t, ODBC_FN_FOREIGN_KEYS) || !odbc_val(r, 3) || !odbc_val(r, 4) || !ref_schema ||
	    !odbc_val(r, 7) || !odbc_val(r, 8))
		return 0;
	k = odbc_keyrow_new(c, t, odbc_val(r, 3), odbc_val(r, 4), odbc_num(r, 5, 0));
	k->ref_schema = xstrdup(ref_schema);
	k->ref_table = xstrdup(odbc_val(r, 7));
	k->ref_column = xstrdup(odbc_val(r, 8));
	k->deferrability = SQL_NOT_DEFERRABLE;
	key = odbc_key("c:", t->schema, t->name, odbc_val(r, 3));
	rules = odbc_kv_find(&c->fk_rules, key);
	for (int i = 0; rules && i < ODBC_RULE_COUNT; i++)
		k->rule[i] = rules->v[i] ? xstrdup(rules->v[i]) : NULL;
	free(key);
	return 0;
}

/* The schemas whose tables a key function reads, each once (tables are sorted by key, so a
 * schema's tables are together). The names are borrowed from the tables. */
static size_t odbc_key_schemas(struct odbc_crawl *c, enum odbc_fn fn, const char ***ret)
{
	size_t n = 0, cap = 0;

	*ret = NULL;
	for (size_t i = 0; i < c->ntables; i++) {
		if (!odbc_keys_wanted(&c->tables[i], fn) || (n && strcmp((*ret)[n - 1], c->tables[i].schema) == 0))
			continue;
		xgrow(ret, &cap, n + 1, sizeof(**ret));
		(*ret)[n++] = c->tables[i].schema;
	}
	return n;
}

/* One quirk statement over the schemas, ODBC_MAX_PARAMS at a time: "(?, ?, …)" after its SQL. */
static int odbc_run_schemas(struct odbc_crawl *c, const char *sql, const char **schemas, size_t n,
			    int (*row)(struct odbc_crawl *c, const struct odbc_row *r, void *ctx), void *ctx)
{
	int r = 0;

	for (size_t from = 0; r == 0 && from < n; from += ODBC_MAX_PARAMS) {
		size_t k = n - from < ODBC_MAX_PARAMS ? n - from : ODBC_MAX_PARAMS;
		struct odbc_call call = { .fn = ODBC_FN_SQL, .row = row, .ctx = ctx, .params = schemas + from,
					  .nparams = k };
		struct buf b;

		buf_init(&b);
		buf_adds(&b, sql);
		for (size_t i = 0; i < k; i++)
			buf_adds(&b, i ? ", ?" : "(?");
		buf_addc(&b, ')');
		call.arg[0] = b.data;
		r = odbc_run(c, &call);
		buf_free(&b);
	}
	return r == ODBC_UNSUPPORTED ? odbc_fail(c, DRIVER_E_QUERY, "the ODBC driver cannot run a query") : r;
}

/* The quirks' fk_rules, then fk_columns, into keyrows. */
static int odbc_foreign_keys_sql(struct odbc_crawl *c)
{
	const char **schemas;
	size_t n = odbc_key_schemas(c, ODBC_FN_FOREIGN_KEYS, &schemas);
	int r;

	odbc_keyrows_free(c);
	r = odbc_run_schemas(c, c->dbms->fk_rules, schemas, n, odbc_row_kv, &c->fk_rules);
	odbc_kvs_sort(&c->fk_rules);
	if (r == 0)
		r = odbc_run_schemas(c, c->dbms->fk_columns, schemas, n, odbc_row_fk_column, NULL);
	odbc_keyrows_sort(c);
	free(schemas);
	return r;
}

static int odbc_read_foreign_keys(struct odbc_crawl *c)
{
	struct odbc_call call = { .fn = ODBC_FN_FOREIGN_KEYS, .row = odbc_row_foreign_key };
	int r = c->dbms->fk_columns ? odbc_foreign_keys_sql(c) : odbc_keys_read(c, &call, ODBC_M_FOREIGN_KEYS);

	if (r == 0)
		odbc_keyrows_each(c, odbc_foreign_key_emit);
	odbc_keyrows_free(c);
	return r;
}

/* ---------------------------------------------------------------- the crawl */

/* The database's "unsupported": what this driver could not read from this server, sorted. */
static int odbc_finish(struct odbc_crawl *c)
{
	struct buf b;

	if (c->dbms->remarks == ODBC_REMARKS_PROBE && !c->saw_remarks)
		c->missing |= 1u << ODBC_M_COMMENTS;
	buf_init(&b);
	for (int i = 0; i < ODBC_M_COUNT; i++) {
		if (!(c->missing & (1u << i)))
			continue;
		if (b.len)
			buf_addc(&b, ',');
		buf_adds(&b, odbc_missing_names[i]);
	}
	obj_set(c->db, "unsupported", b.data);
	buf_free(&b);
	return 0;
}

static const struct odbc_step {
	int (*run)(struct odbc_crawl *c);
} odbc_steps[] = {
	{ odbc_connect },
	{ odbc_describe },
	{ odbc_begin },
	{ odbc_read_schemas },
	{ odbc_read_tables },
	{ odbc_read_column_fixes },
	{ odbc_read_columns },
	{ odbc_read_primary_keys },
	{ odbc_read_indexes },
	{ odbc_read_foreign_keys },
	{ odbc_finish },
};

static void odbc_crawl_free(struct odbc_crawl *c)
{
	if (c->connected) {
		SQLEndTran(SQL_HANDLE_DBC, c->dbc, SQL_ROLLBACK);
		SQLDisconnect(c->dbc);
	}
	if (c->dbc)
		SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
	if (c->env)
		SQLFreeHandle(SQL_HANDLE_ENV, c->env);
	for (size_t i = 0; i < c->ntables; i++) {
		struct odbc_table *t = &c->tables[i];

		free(t->key);
		free(t->schema);
		free(t->name);
		free(t->cat);
		free(t->schem);
		free(t->pk_name);
		free(t->pk_cols);
		for (size_t j = 0; j < t->nnames; j++)
			free(t->names[j]);
		free(t->names);
	}
	free(c->tables);
	for (size_t i = 0; i < c->ncolumns; i++)
		free(c->columns[i].key);
	free(c->columns);
	odbc_kvs_free(&c->fixes);
	odbc_kvs_free(&c->fk_rules);
	free(c->driver);
	free(c->library);
	for (size_t i = 0; i < c->nschemas; i++)
		free(c->schemas[i]);
	free(c->schemas);
	odbc_keyrows_free(c);
	free(c->keyrows);
	free(c->dbms_name);
	free(c->dbms_version);
	free(c->database);
}

/*
 * The crawl runs in a UTF-8 LC_CTYPE of this thread only: unixODBC converts the wide arguments of
 * catalog calls for a driver without W entry points (SQLite ODBC) to the codeset nl_langinfo()
 * reports when the connection is made, and the agent's "C" locale would make that ASCII, mangling
 * every non-ASCII table name in a per-table call.
 */
static int odbc_crawl(void *handle, struct snapshot *snap, char *err)
{
	struct odbc_crawl c = { .h = handle, .snap = snap, .err = err, .fixes = { .prefix = "a:" },
				.fk_rules = { .prefix = "c:" } };
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), saved = (locale_t)0;
	int r = 0;

	if (utf8 != (locale_t)0)
		saved = uselocale(utf8);
	for (size_t i = 0; r == 0 && i < sizeof(odbc_steps) / sizeof(odbc_steps[0]); i++)
		r = odbc_steps[i].run(&c);
	odbc_crawl_free(&c);
	if (utf8 != (locale_t)0) {
		uselocale(saved);
		freelocale(utf8);
	}
	return r < 0 || r == ODBC_UNSUPPORTED ? DRIVER_E_QUERY : r;
}

static void odbc_close(void *handle)
{
	struct odbc *h = handle;

	if (!h)
		return;
	free(h->conninfo);
	free(h->dsn);
	free(h->driver);
	secrets_free(h->password);
	free(h);
}

/* Validates only: a connection string of key=value pairs. Connecting waits for the crawl. */
static int odbc_open(const struct source_conf *conf, void **ret_handle, char *err)
{
	struct odbc *h;
	char key[64];

	if (!conf->conninfo || !*conf->conninfo) {
		snprintf(err, DRIVER_ERRLEN, "conninfo is not set");
		return DRIVER_E_CONFIG;
	}
	if (!odbc_conninfo_walk(conf->conninfo, NULL, NULL)) {
		snprintf(err, DRIVER_ERRLEN, "conninfo is not an ODBC connection string (key=value;…)");
		return DRIVER_E_CONFIG;
	}
	if (secrets_in_conninfo("odbc", conf->conninfo, key, sizeof(key))) {
		snprintf(err, DRIVER_ERRLEN, "conninfo must not hold a password (%s): put it in the agent's "
			 "secrets file, which adds it as PWD when connecting", key);
		return DRIVER_E_CONFIG;
	}
	h = xcalloc(1, sizeof(*h));
	h->conninfo = xstrdup(conf->conninfo);
	h->password = conf->password ? xstrdup(conf->password) : NULL;
	odbc_conninfo_walk(conf->conninfo, odbc_conninfo_take, h);
	h->timeout = conf->timeout ? conf->timeout : ODBC_DEFAULT_TIMEOUT;
	h->conf = conf;
	*ret_handle = h;
	return 0;
}

const struct driver_ops driver_odbc = {
	.name = "odbc",
	.open = odbc_open,
	.crawl = odbc_crawl,
	.close = odbc_close,
	/* Whether the server's catalog is transactional is the DBMS's business, not ODBC's: MariaDB's
	 * information_schema is not, and a table being rebuilt vanished from 4 of 147 crawls. */
	.settle = true,
};
