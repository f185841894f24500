/*
 * The PostgreSQL driver (libpq): reads one database's pg_catalog into a snapshot.
 *
 * A crawl is one read-only REPEATABLE READ transaction with statement and lock timeouts, a fixed
 * search_path and fixed output settings (so that deparsed expressions read the same whoever runs
 * it), then a fixed list of bulk catalog queries, one per object family, never one per table
 * (DESIGN §3 rules 1-2). The columns are read on a second connection that imports the first one's
 * snapshot (pg_side_open), while the first reads the rest: 12 statements per crawl, BEGIN and COMMIT
 * included, whatever the size of the database (10 on one connection, when a second is refused).
 * Each query sends its rows as COPY data and builds its objects row by row as they arrive, so
 * that a database of 200,000 columns never holds a whole result set in memory.
 *
 * Keys are OIDs (DESIGN §2): "d:<datoid>", "n:<nspoid>", "r:<reloid>", "a:<reloid>:<attnum>",
 * "c:<conoid>", "i:<indexrelid>"; the queries compute them. Objects owned by extensions, system
 * schemas and temporary schemas are left out everywhere.
 *
 * The handle owns the parsed conninfo and a copy of the source's password (from the agent's secrets
 * file: the conninfo holds none); every crawl connects and disconnects. The password reaches libpq as
 * a keyword of its own, never inside a conninfo string. Without one, libpq reads ~/.pgpass (or
 * PGPASSFILE, passfile=) and ignores it, with a warning on stderr only, when others can read it:
 * that is checked here first and refused with a message that says so (pg_passfile_check). Nothing
 * here ever copies the conninfo or the password into a message.
 */
#include "driver.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "model.h"
#include "secrets.h"
#include "utf8.h"
#include "xmalloc.h"

#define PG_MIN_VERSION 120000 /* attgenerated, conparentid, indnkeyatts */
#define PG_DEFAULT_TIMEOUT 30 /* seconds, when the source sets none */
#define PG_CONNECT_TIMEOUT 10 /* seconds, when the conninfo sets none */
#define PG_MAX_TIMEOUT 86400  /* seconds; statement_timeout takes milliseconds in an int */
#define PG_STR(x) PG_STR_(x)
#define PG_STR_(x) #x

struct pg {
	PQconninfoOption *opts;
	char *password; /* from the secrets file, or NULL: libpq then looks in its password file */
	unsigned timeout;
	char *settings_sql; /* the first connection's settings statement (pg_settings) */
	char *options;      /* the second connection's startup options: the conninfo's, then pg_settings */
};

/* One crawl's state; lives on pg_crawl()'s stack. */
struct pg_crawl {
	PGconn *conn;
	PGconn *side; /* the second connection (pg_side_open), or NULL */
	struct snapshot *snap;
	char *err;
	const char *password;     /* borrowed from the handle; scrubbed from every message */
	const char *settings_sql; /* borrowed from the handle */
	const char *params[1];    /* $1 client encoding, for the settings step */
	char snapshot_id[64];     /* the first connection's exported snapshot, or "" */
	/* Every comment as "key\0text\0" in one buffer, and where each starts (by key once sorted):
	 * 200,000 comments are common, and two allocations each cost more than their text. */
	struct buf comment_text;
	uint32_t *comments;
	size_t ncomments, comments_cap;
	bool comments_sorted;
};

/* Connection parameters the driver needs. Forced ones override the conninfo: the model is UTF-8
 * whatever the server's encoding. The others apply only when the conninfo does not say. */
static const struct pg_param {
	const char *keyword;
	const char *value;
	bool force;
} pg_params[] = {
	{ "client_encoding", "UTF8", true },
	{ "application_name", "prospector-agent", false },
	{ "connect_timeout", PG_STR(PG_CONNECT_TIMEOUT), false },
	{ "keepalives_idle", "60", false },
	{ "keepalives_interval", "10", false },
	{ "keepalives_count", "3", false },
};

/* Login failures, told apart by SQLSTATE because the server words them in its own language. */
static const struct pg_state {
	const char *sqlstate;
	int code;
} pg_connect_states[] = {
	{ "28P01", DRIVER_E_AUTH },      /* invalid_password */
	{ "28000", DRIVER_E_AUTH },      /* invalid_authorization_specification: no hba entry, no role */
	{ "42501", DRIVER_E_PRIVILEGE }, /* no CONNECT privilege on the database */
	{ NULL, 0 },
};

static const struct pg_relkind {
	char relkind;
	enum obj_kind kind;
	const char *flag; /* an ATTR_BOOL attribute the relkind implies */
} pg_relkinds[] = {
	{ 'r', OBJ_TABLE, NULL },
	{ 'p', OBJ_TABLE, "partitioned" },
	{ 'f', OBJ_TABLE, "foreign" },
	{ 'v', OBJ_VIEW, NULL },
	{ 'm', OBJ_MATVIEW, NULL },
	{ 'S', OBJ_SEQUENCE, NULL },
	{ 0, 0, NULL },
};

static const struct pg_contype {
	char contype;
	enum obj_kind kind;
} pg_contypes[] = {
	{ 'p', OBJ_PRIMARY_KEY },
	{ 'u', OBJ_UNIQUE },
	{ 'c', OBJ_CHECK },
	{ 'f', OBJ_FOREIGN_KEY },
	{ 0, 0 },
};

struct pg_word {
	char code;
	const char *word;
};

static const struct pg_word pg_fk_actions[] = {
	{ 'a', "NO ACTION" }, { 'r', "RESTRICT" }, { 'c', "CASCADE" },
	{ 'n', "SET NULL" }, { 'd', "SET DEFAULT" }, { 0, NULL },
};

static const struct pg_word pg_fk_matches[] = {
	{ 'f', "FULL" }, { 'p', "PARTIAL" }, { 's', "SIMPLE" }, { 0, NULL },
};

/* How a type's atttypmod reads. */
enum pg_typmod {
	PG_MOD_NONE,
	PG_MOD_VARCHAR,   /* length = typmod - VARHDRSZ */
	PG_MOD_BITS,      /* length = typmod */
	PG_MOD_NUMERIC,   /* precision and scale packed after VARHDRSZ */
	PG_MOD_FRACTION,  /* fractional second digits = typmod */
	PG_MOD_INTERVAL,  /* fractional second digits in the low 16 bits, 0xffff = unspecified */
};

/* Type families by the base type's name. Types outside pg_catalog match only when any_schema says
 * so (extension types that live wherever they were installed). Arrays, enums and ranges are told
 * by typcategory/typtype before this table is consulted. */
static const struct pg_family {
	const char *typname;
	const char *family;
	const char *precision; /* fixed binary precision */
	enum pg_typmod mod;
	bool any_schema;
} pg_families[] = {
	{ "int2", "integer", "16", PG_MOD_NONE, false },
	{ "int4", "integer", "32", PG_MOD_NONE, false },
	{ "int8", "integer", "64", PG_MOD_NONE, false },
	{ "numeric", "decimal", NULL, PG_MOD_NUMERIC, false },
	{ "money", "decimal", NULL, PG_MOD_NONE, false },
	{ "float4", "float", "24", PG_MOD_NONE, false },
	{ "float8", "float", "53", PG_MOD_NONE, false },
	{ "bool", "boolean", NULL, PG_MOD_NONE, false },
	{ "varchar", "string", NULL, PG_MOD_VARCHAR, false },
	{ "text", "string", NULL, PG_MOD_NONE, false },
	{ "name", "string", NULL, PG_MOD_NONE, false },
	{ "citext", "string", NULL, PG_MOD_NONE, true },
	{ "bpchar", "char", NULL, PG_MOD_VARCHAR, false },
	{ "char", "char", NULL, PG_MOD_NONE, false },
	{ "bytea", "binary", NULL, PG_MOD_NONE, false },
	{ "date", "date", NULL, PG_MOD_NONE, false },
	{ "time", "time", NULL, PG_MOD_FRACTION, false },
	{ "timetz", "timetz", NULL, PG_MOD_FRACTION, false },
	{ "timestamp", "timestamp", NULL, PG_MOD_FRACTION, false },
	{ "timestamptz", "timestamptz", NULL, PG_MOD_FRACTION, false },
	{ "interval", "interval", NULL, PG_MOD_INTERVAL, false },
	{ "json", "json", NULL, PG_MOD_NONE, false },
	{ "jsonb", "json", NULL, PG_MOD_NONE, false },
	{ "uuid", "uuid", NULL, PG_MOD_NONE, false },
	{ "xml", "xml", NULL, PG_MOD_NONE, false },
	{ "bit", "bit", NULL, PG_MOD_BITS, false },
	{ "varbit", "bit", NULL, PG_MOD_BITS, false },
	{ "inet", "network", NULL, PG_MOD_NONE, false },
	{ "cidr", "network", NULL, PG_MOD_NONE, false },
	{ "macaddr", "network", NULL, PG_MOD_NONE, false },
	{ "macaddr8", "network", NULL, PG_MOD_NONE, false },
	{ "point", "geometry", NULL, PG_MOD_NONE, false },
	{ "line", "geometry", NULL, PG_MOD_NONE, false },
	{ "lseg", "geometry", NULL, PG_MOD_NONE, false },
	{ "box", "geometry", NULL, PG_MOD_NONE, false },
	{ "path", "geometry", NULL, PG_MOD_NONE, false },
	{ "polygon", "geometry", NULL, PG_MOD_NONE, false },
	{ "circle", "geometry", NULL, PG_MOD_NONE, false },
	{ "geometry", "geometry", NULL, PG_MOD_NONE, true },
	{ "geography", "geometry", NULL, PG_MOD_NONE, true },
	{ NULL, NULL, NULL, PG_MOD_NONE, false },
};

/*
 * The SQL. Every object query returns key, parent and name first, then the columns its row
 * function reads by position, then attribute columns named as the model's attributes (NULL =
 * absent; "obs:x" = observation x), which pg_set_attrs copies as they are.
 *
 * Their rows come as COPY output, CSV with a header of the column names, every value quoted and
 * NULL as nothing (pg_copy_split). In single-row mode, libpq made a result of each row, copying
 * the names of its columns into it: a fifth of the agent's time in a crawl of 245,000 rows.
 */
#define PG_COPY(query) "COPY (" query ") TO STDOUT (FORMAT csv, HEADER, FORCE_QUOTE *)"

/* Schemas we crawl: not system, not temporary (pg_temp_N, pg_toast_temp_N), not an extension's. */
#define PG_NSP_VISIBLE                                                                         \
	"n.nspname NOT IN ('pg_catalog', 'information_schema') "                               \
	"AND n.nspname !~ '^pg_(toast|temp_)' "                                                \
	"AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_namespace'::regclass " \
	"AND e.objid = n.oid AND e.deptype = 'e')"

/* Relations we crawl, as a CTE the queries below join against. */
#define PG_REL_CTE                                                                             \
	"rel AS (SELECT c.oid, c.relkind FROM pg_class c "                                     \
	"JOIN pg_namespace n ON n.oid = c.relnamespace "                                       \
	"WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND " PG_NSP_VISIBLE " "            \
	"AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass "    \
	"AND e.objid = c.oid AND e.deptype = 'e')) "

/*
 * Settings pinned for the crawl. Dates, intervals, floats and names in deparsed expressions
 * (defaults, partition bounds, view definitions) follow them. The columns query hashes every column
 * of the database: with the default work_mem of 4 MB its hash joins spill to temporary files at
 * 200,000 columns (0.9 s against 0.7 s in memory). The crawl's two connections already keep two
 * backends busy, and parallel workers on top of them took cores from the agent and from each other
 * (10,000 tables on 2 cores: a crawl of 1.71-1.75 s with them, 1.53-1.57 s without, medians of six
 * runs each). JIT compiling pays only for queries that run far longer than it takes: the relations
 * query crosses the planner's cost threshold, and EXPLAIN ANALYZE put its compiling at 77 ms of
 * 0.35 s. The first connection sets them with SET LOCAL in one statement (pg->settings_sql), the
 * second as startup options (pg->options), which cost no statement. NULL value: the source's
 * timeout, in milliseconds.
 */
static const struct pg_setting {
	const char *name;
	const char *value;
} pg_settings[] = {
	{ "statement_timeout", NULL },
	{ "lock_timeout", NULL },
	{ "work_mem", "32MB" },
	{ "search_path", "pg_catalog" },
	{ "DateStyle", "ISO, YMD" },
	{ "IntervalStyle", "postgres" },
	{ "TimeZone", "UTC" },
	{ "extra_float_digits", "1" },
	{ "max_parallel_workers_per_gather", "0" },
	{ "jit", "off" },
	{ NULL, NULL },
};

static const char pg_sql_database[] = PG_COPY(
	"SELECT 'd:' || d.oid, NULL, d.datname, "
	"pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS \"collation\", "
	"d.datctype AS ctype, shobj_description(d.oid, 'pg_database') AS comment "
	"FROM pg_database d WHERE d.datname = current_database()");

static const char pg_sql_schemas[] = PG_COPY(
	"SELECT 'n:' || n.oid, "
	"(SELECT 'd:' || d.oid FROM pg_database d WHERE d.datname = current_database()), "
	"n.nspname, pg_get_userbyid(n.nspowner) AS owner "
	"FROM pg_namespace n WHERE " PG_NSP_VISIBLE);

/*
 * A partition's parent is its partitioned table when we crawl that table; a view's dependencies are
 * the relations its _RETURN rule reads, sorted by key in byte order. Bytes are estimated from
 * relpages (table, TOAST table and their indexes), kept current by VACUUM and ANALYZE, like rows:
 * pg_total_relation_size would lock and open every table, which costs a cold backend over a second
 * on 10,000 tables and makes the whole crawl wait behind any ACCESS EXCLUSIVE lock. Expressions
 * without column references are deparsed without their relation (relid 0) so as not to open it.
 */
static const char pg_sql_relations[] = PG_COPY(
	"WITH " PG_REL_CTE ", "
	"idx AS (SELECT i.indrelid, sum(ic.relpages) AS pages FROM pg_index i "
	"JOIN pg_class ic ON ic.oid = i.indexrelid GROUP BY i.indrelid), "
	"dep AS (SELECT r.ev_class, string_agg(DISTINCT ('r:' || d.refobjid) COLLATE \"C\", chr(31) "
	"ORDER BY ('r:' || d.refobjid) COLLATE \"C\") AS refs "
	"FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid "
	"JOIN rel t ON t.oid = d.refobjid AND t.relkind <> 'S' "
	"WHERE r.rulename = '_RETURN' AND d.refclassid = 'pg_class'::regclass "
	"AND d.refobjid <> r.ev_class GROUP BY r.ev_class) "
	"SELECT 'r:' || c.oid, coalesce('r:' || p.inhparent, 'n:' || c.relnamespace), c.relname, "
	"c.relkind, CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END, "
	"CASE WHEN c.relkind <> 'S' THEN pg_get_userbyid(c.relowner) END AS owner, "
	"CASE WHEN c.relpersistence = 'u' AND c.relkind IN ('r', 'p') THEN 'true' END AS unlogged, "
	"CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key, "
	"'r:' || p.inhparent AS partition_of, "
	"CASE WHEN p.inhparent IS NOT NULL THEN pg_get_expr(c.relpartbound, 0) END AS partition_bound, "
	"fs.srvname AS foreign_server, dep.refs AS depends_on, "
	"format_type(s.seqtypid, NULL) AS type, s.seqstart AS start, s.seqincrement AS increment, "
	"s.seqmin AS min, s.seqmax AS max, CASE WHEN s.seqcycle THEN 'true' END AS cycle, "
	"CASE WHEN c.relkind = 'S' THEN (SELECT 'a:' || o.refobjid || ':' || o.refobjsubid "
	"FROM pg_depend o WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid "
	"AND o.refclassid = 'pg_class'::regclass AND o.refobjsubid > 0 AND o.deptype IN ('a', 'i') "
	"LIMIT 1) END AS owned_by, "
	"CASE WHEN c.reltuples >= 0 AND c.relkind IN ('r', 'p', 'f', 'm') "
	"THEN c.reltuples::bigint END AS \"obs:rows\", "
	"CASE WHEN c.relkind IN ('r', 'm') THEN (c.relpages + coalesce(tc.relpages, 0) "
	"+ coalesce(ti.pages, 0) + coalesce(tti.pages, 0)) * current_setting('block_size')::bigint "
	"END AS \"obs:bytes\" "
	"FROM pg_class c JOIN rel ON rel.oid = c.oid "
	"LEFT JOIN pg_inherits p ON c.relispartition AND p.inhrelid = c.oid "
	"AND p.inhparent IN (SELECT oid FROM rel) "
	"LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid "
	"LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver "
	"LEFT JOIN pg_sequence s ON s.seqrelid = c.oid "
	"LEFT JOIN dep ON dep.ev_class = c.oid "
	"LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid "
	"LEFT JOIN idx ti ON ti.indrelid = c.oid "
	"LEFT JOIN idx tti ON tti.indrelid = c.reltoastrelid");

/* Domains resolve to their base type (through domains over domains) with the first typmod met.
 * Defaults cannot refer to columns, so they are deparsed without opening their table. */
static const char pg_sql_columns[] = PG_COPY(
	"WITH RECURSIVE dom(oid, base, typmod) AS ("
	"SELECT t.oid, t.typbasetype, t.typtypmod FROM pg_type t WHERE t.typtype = 'd' "
	"UNION ALL SELECT dom.oid, b.typbasetype, CASE WHEN dom.typmod >= 0 THEN dom.typmod "
	"ELSE b.typtypmod END FROM dom JOIN pg_type b ON b.oid = dom.base AND b.typtype = 'd'), "
	"dombase AS (SELECT dom.* FROM dom JOIN pg_type b ON b.oid = dom.base AND b.typtype <> 'd'), "
	PG_REL_CTE
	"SELECT 'a:' || a.attrelid || ':' || a.attnum, 'r:' || a.attrelid, a.attname, "
	"bt.typname, bt.typnamespace = 'pg_catalog'::regnamespace, bt.typcategory, bt.typtype, "
	"CASE WHEN db.oid IS NULL THEN a.atttypmod ELSE db.typmod END, "
	"a.attnum AS ordinal, format_type(a.atttypid, a.atttypmod) AS type, "
	"CASE WHEN NOT a.attnotnull THEN 'true' END AS nullable, "
	"CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, 0) END AS \"default\", "
	"CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity, "
	"CASE WHEN a.attgenerated = 's' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated, "
	"CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS \"collation\" "
	"FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid AND rel.relkind <> 'S' "
	"JOIN pg_type t ON t.oid = a.atttypid "
	"LEFT JOIN dombase db ON db.oid = a.atttypid "
	"JOIN pg_type bt ON bt.oid = coalesce(db.base, a.atttypid) "
	"LEFT JOIN pg_attrdef ad ON a.atthasdef AND ad.adrelid = a.attrelid AND ad.adnum = a.attnum "
	"LEFT JOIN pg_collation co ON co.oid = a.attcollation "
	"WHERE a.attnum > 0 AND NOT a.attisdropped");

/* A foreign key on a table that references a partitioned table is cloned once per referenced
 * partition, on the same table; those clones are bookkeeping, the parent constraint says it all. */
static const char pg_sql_constraints[] = PG_COPY(
	"WITH " PG_REL_CTE
	"SELECT 'c:' || k.oid, 'r:' || k.conrelid, k.conname, "
	"k.contype, k.conrelid, k.conkey, k.confrelid, k.confkey, "
	"k.confupdtype, k.confdeltype, k.confmatchtype, "
	"CASE WHEN k.condeferrable THEN 'DEFERRABLE INITIALLY ' "
	"|| CASE WHEN k.condeferred THEN 'DEFERRED' ELSE 'IMMEDIATE' END END AS deferrable, "
	"CASE WHEN k.contype = 'c' THEN pg_get_constraintdef(k.oid) END AS expression "
	"FROM pg_constraint k JOIN rel ON rel.oid = k.conrelid "
	"WHERE k.contype IN ('p', 'u', 'c', 'f') AND NOT (k.contype = 'f' AND EXISTS ("
	"SELECT 1 FROM pg_constraint pk WHERE pk.oid = k.conparentid AND pk.conrelid = k.conrelid))");

/* Indexes that implement a primary key or unique constraint are that constraint, not indexes. */
static const char pg_sql_indexes[] = PG_COPY(
	"WITH " PG_REL_CTE
	"SELECT 'i:' || i.indexrelid, 'r:' || i.indrelid, ic.relname, "
	"i.indrelid, i.indnkeyatts, i.indkey, "
	"pg_get_expr(i.indexprs, i.indrelid) AS expressions, "
	"CASE WHEN i.indisunique THEN 'true' END AS \"unique\", am.amname AS method, "
	"pg_get_expr(i.indpred, i.indrelid) AS predicate "
	"FROM pg_index i JOIN rel ON rel.oid = i.indrelid "
	"JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
	"WHERE i.indislive AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
	"WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u'))");

/* Every comment at once; those on objects we do not crawl find no object and are dropped. */
static const char pg_sql_comments[] = PG_COPY(
	"SELECT CASE WHEN d.classoid = 'pg_namespace'::regclass THEN 'n:' || d.objoid "
	"WHEN d.classoid = 'pg_constraint'::regclass THEN 'c:' || d.objoid "
	"WHEN d.objsubid > 0 THEN 'a:' || d.objoid || ':' || d.objsubid "
	"WHEN c.relkind IN ('i', 'I') THEN 'i:' || d.objoid ELSE 'r:' || d.objoid END, "
	"d.description "
	"FROM pg_description d LEFT JOIN pg_class c "
	"ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid "
	"WHERE d.classoid IN ('pg_class'::regclass, 'pg_namespace'::regclass, 'pg_constraint'::regclass)");

/* Result columns read by position. */
enum { PG_KEY, PG_PARENT, PG_NAME };
enum { REL_KIND = 3, REL_DEFINITION, REL_ATTRS };
enum { COL_TYPNAME = 3, COL_SYSCAT, COL_CATEGORY, COL_TYPTYPE, COL_TYPMOD, COL_ATTRS };
enum { CON_TYPE = 3, CON_RELID, CON_KEY, CON_FRELID, CON_FKEY, CON_UPD, CON_DEL, CON_MATCH, CON_ATTRS };
enum { IDX_RELID = 3, IDX_NKEY, IDX_KEY, IDX_ATTRS };
enum { PLAIN_ATTRS = 3 };
enum { CMT_KEY, CMT_TEXT };

/* Replaces bytes that are not UTF-8 with '?', in place. Only a SQL_ASCII server sends such bytes:
 * it stores whatever it was given and converts nothing, so the driver reads it as SQL_ASCII too
 * (asking for UTF8 would make the server fail on the first such byte) and the model stays UTF-8. */
static void pg_utf8_fix(char *s)
{
	while (*s) {
		size_t n = utf8_seqlen((const unsigned char *)s);

		if (!n) {
			*s++ = '?';
			continue;
		}
		s += n;
	}
}

/* One row of a result, however it came: a line of COPY output (the object queries, pg_copy_split)
 * or a single-row result (the settings step, pg_single_row). NULL values are SQL NULLs. */
struct pg_row {
	int n;
	char **vals;
	char *const *names;
};

/* A value of a row; NULL for SQL NULL. */
static const char *pg_val(const struct pg_row *row, int col)
{
	char *v = col < row->n ? row->vals[col] : NULL;

	if (v)
		pg_utf8_fix(v);
	return v;
}

static int pg_fail(struct pg_crawl *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pg_fail(struct pg_crawl *c, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = driver_vfail(c->err, c->password, code, fmt, ap);
	va_end(ap);
	return r;
}

static const char *pg_word(const struct pg_word *t, const char *code)
{
	for (; code && t->word; t++)
		if (t->code == code[0])
			return t->word;
	return NULL;
}

static int pg_comment_cmp(const void *a, const void *b, void *text)
{
	return strcmp((const char *)text + *(const uint32_t *)a, (const char *)text + *(const uint32_t *)b);
}

/* The comment on the object with this key, or NULL. */
static const char *pg_comment_find(struct pg_crawl *c, const char *key)
{
	const char *text = c->comment_text.data;
	size_t lo = 0, hi = c->ncomments;

	if (!c->comments_sorted) {
		qsort_r(c->comments, c->ncomments, sizeof(*c->comments), pg_comment_cmp, c->comment_text.data);
		c->comments_sorted = true;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = text + c->comments[mid];
		int d = strcmp(key, k);

		if (d == 0)
			return k + strlen(k) + 1;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Comments are read first and sorted once; each object picks its own up as it is added. */
static void pg_comment_apply(struct pg_crawl *c, struct obj *o)
{
	const char *text = pg_comment_find(c, o->key);

	if (text)
		obj_set(o, "comment", text);
}

/* Every object query starts with key, parent and name. */
static struct obj *pg_obj_new(enum obj_kind kind, const struct pg_row *res)
{
	return obj_new(kind, pg_val(res, PG_KEY), pg_val(res, PG_PARENT), pg_val(res, PG_NAME));
}

static void pg_set_attrs(struct obj *o, const struct pg_row *res, int first)
{
	for (int i = first; i < res->n; i++) {
		const char *name = res->names[i], *v = pg_val(res, i);

		if (!v)
			continue;
		if (strncmp(name, "obs:", 4) == 0)
			obj_set_obs(o, name + 4, v);
		else
			obj_set(o, name, v);
	}
}

static void pg_add(struct pg_crawl *c, struct obj **o)
{
	pg_comment_apply(c, *o);
	snapshot_add(c->snap, o);
}

/*
 * Attribute numbers as column keys: list is an int2[] ("{1,2}") or an int2vector ("1 2"); entries
 * from..to-1 are kept, zeros (index expressions) skipped. Empty when nothing is left.
 */
static char *pg_attnum_refs(const char *relid, const char *list, long from, long to)
{
	struct buf b;
	long pos = 0;
	char *end;

	buf_init(&b);
	for (const char *p = list; p && *p; p = end) {
		long attnum = strtol(p, &end, 10);

		if (end == p) {
			end = (char *)p + 1;
			continue;
		}
		if (pos >= from && pos < to && attnum > 0) {
			if (b.len)
				buf_addc(&b, MODEL_REF_SEP);
			buf_addf(&b, "a:%s:%ld", relid, attnum);
		}
		pos++;
	}
	return buf_steal(&b);
}

static void pg_set_refs(struct obj *o, const char *attr, const char *relid, const char *list, long from, long to)
{
	char *refs = pg_attnum_refs(relid, list, from, to);

	if (*refs)
		obj_set(o, attr, refs);
	free(refs);
}

static int pg_row_plain(struct pg_crawl *c, const struct pg_row *res, enum obj_kind kind)
{
	struct obj *o = pg_obj_new(kind, res);

	pg_set_attrs(o, res, PLAIN_ATTRS);
	pg_add(c, &o);
	return 0;
}

static int pg_row_database(struct pg_crawl *c, const struct pg_row *res)
{
	return pg_row_plain(c, res, OBJ_DATABASE);
}

static int pg_row_schema(struct pg_crawl *c, const struct pg_row *res)
{
	return pg_row_plain(c, res, OBJ_SCHEMA);
}

static const struct pg_relkind *pg_relkind_lookup(const char *relkind)
{
	for (const struct pg_relkind *k = pg_relkinds; relkind && k->relkind; k++)
		if (k->relkind == relkind[0])
			return k;
	return NULL;
}

static int pg_row_relation(struct pg_crawl *c, const struct pg_row *res)
{
	const struct pg_relkind *rk = pg_relkind_lookup(pg_val(res, REL_KIND));
	const char *def = pg_val(res, REL_DEFINITION);
	struct obj *o;

	if (!rk)
		return pg_fail(c, DRIVER_E_QUERY, "relations: unexpected relkind for %s", pg_val(res, PG_KEY));
	o = pg_obj_new(rk->kind, res);
	if (rk->flag)
		obj_set(o, rk->flag, "true");
	if (def)
		obj_set_sha256(o, "definition_hash", def);
	pg_set_attrs(o, res, REL_ATTRS);
	pg_add(c, &o);
	return 0;
}

static const struct pg_family *pg_family_lookup(const char *typname, bool syscat)
{
	for (const struct pg_family *f = pg_families; f->typname; f++)
		if ((syscat || f->any_schema) && strcmp(f->typname, typname) == 0)
			return f;
	return NULL;
}

/* Length, precision and scale from the typmod, as the server's own typmodout functions read it.
 * Numeric scale is 11 bits, signed since PostgreSQL 15. */
static void pg_set_typmod(struct obj *o, enum pg_typmod mod, long typmod)
{
	if (typmod < 0)
		return;
	switch (mod) {
	case PG_MOD_VARCHAR:
		if (typmod >= 4)
			obj_setf(o, "length", "%ld", typmod - 4);
		break;
	case PG_MOD_BITS:
		obj_setf(o, "length", "%ld", typmod);
		break;
	case PG_MOD_NUMERIC:
		if (typmod >= 4) {
			obj_setf(o, "precision", "%ld", ((typmod - 4) >> 16) & 0xffff);
			obj_setf(o, "scale", "%ld", (((typmod - 4) & 0x7ff) ^ 1024) - 1024);
		}
		break;
	case PG_MOD_FRACTION:
		obj_setf(o, "precision", "%ld", typmod);
		break;
	case PG_MOD_INTERVAL:
		if ((typmod & 0xffff) != 0xffff)
			obj_setf(o, "precision", "%ld", typmod & 0xffff);
		break;
	case PG_MOD_NONE:
		break;
	}
}

static void pg_set_family(struct obj *o, const struct pg_row *res)
{
	const char *typname = pg_val(res, COL_TYPNAME), *category = pg_val(res, COL_CATEGORY);
	const char *typtype = pg_val(res, COL_TYPTYPE);
	const struct pg_family *f;

	if (category[0] == 'A')
		obj_set(o, "family", "array");
	else if (typtype[0] == 'e')
		obj_set(o, "family", "enum");
	else if (typtype[0] == 'r' || typtype[0] == 'm')
		obj_set(o, "family", "range");
	else if ((f = pg_family_lookup(typname, pg_val(res, COL_SYSCAT)[0] == 't'))) {
		obj_set(o, "family", f->family);
		obj_set(o, "precision", f->precision);
		pg_set_typmod(o, f->mod, strtol(pg_val(res, COL_TYPMOD), NULL, 10));
	} else
		obj_set(o, "family", "other");
}

static int pg_row_column(struct pg_crawl *c, const struct pg_row *res)
{
	struct obj *o = pg_obj_new(OBJ_COLUMN, res);

	pg_set_family(o, res);
	pg_set_attrs(o, res, COL_ATTRS);
	pg_add(c, &o);
	return 0;
}

static const struct pg_contype *pg_contype_lookup(const char *contype)
{
	for (const struct pg_contype *k = pg_contypes; contype && k->contype; k++)
		if (k->contype == contype[0])
			return k;
	return NULL;
}

static void pg_set_fk(struct obj *o, const struct pg_row *res)
{
	const char *frelid = pg_val(res, CON_FRELID);

	obj_setf(o, "ref_table", "r:%s", frelid);
	pg_set_refs(o, "ref_columns", frelid, pg_val(res, CON_FKEY), 0, INT16_MAX);
	obj_set(o, "on_update", pg_word(pg_fk_actions, pg_val(res, CON_UPD)));
	obj_set(o, "on_delete", pg_word(pg_fk_actions, pg_val(res, CON_DEL)));
	obj_set(o, "match", pg_word(pg_fk_matches, pg_val(res, CON_MATCH)));
}

static int pg_row_constraint(struct pg_crawl *c, const struct pg_row *res)
{
	const struct pg_contype *ct = pg_contype_lookup(pg_val(res, CON_TYPE));
	struct obj *o;

	if (!ct)
		return pg_fail(c, DRIVER_E_QUERY, "constraints: unexpected contype for %s", pg_val(res, PG_KEY));
	o = pg_obj_new(ct->kind, res);
	pg_set_refs(o, "columns", pg_val(res, CON_RELID), pg_val(res, CON_KEY), 0, INT16_MAX);
	if (ct->kind == OBJ_FOREIGN_KEY)
		pg_set_fk(o, res);
	pg_set_attrs(o, res, CON_ATTRS);
	pg_add(c, &o);
	return 0;
}

/* indkey lists the key columns first, then the INCLUDE columns. */
static int pg_row_index(struct pg_crawl *c, const struct pg_row *res)
{
	struct obj *o = pg_obj_new(OBJ_INDEX, res);
	const char *relid = pg_val(res, IDX_RELID), *indkey = pg_val(res, IDX_KEY);
	long nkey = strtol(pg_val(res, IDX_NKEY), NULL, 10);

	pg_set_refs(o, "columns", relid, indkey, 0, nkey);
	pg_set_refs(o, "include", relid, indkey, nkey, INT16_MAX);
	pg_set_attrs(o, res, IDX_ATTRS);
	pg_add(c, &o);
	return 0;
}

static int pg_row_comment(struct pg_crawl *c, const struct pg_row *res)
{
	const char *key = pg_val(res, CMT_KEY), *text = pg_val(res, CMT_TEXT);

	if (!key || !text)
		return 0;
	if (c->comment_text.len > UINT32_MAX - strlen(key) - strlen(text) - 2)
		return pg_fail(c, DRIVER_E_QUERY, "reading comments: more than 4 GB of them");
	xgrow(&c->comments, &c->comments_cap, c->ncomments + 1, sizeof(*c->comments));
	c->comments[c->ncomments++] = (uint32_t)c->comment_text.len;
	buf_add(&c->comment_text, key, strlen(key) + 1);
	buf_add(&c->comment_text, text, strlen(text) + 1);
	return 0;
}

static void pg_comments_free(struct pg_crawl *c)
{
	buf_free(&c->comment_text);
	free(c->comments);
}

/* The settings statement's last column: the snapshot the second connection imports. Only the
 * characters PostgreSQL's snapshot names are made of are taken, since it goes into a statement. */
static int pg_row_settings(struct pg_crawl *c, const struct pg_row *res)
{
	const char *id = pg_val(res, res->n - 1);

	if (id && strlen(id) < sizeof(c->snapshot_id) && strspn(id, "0123456789ABCDEF-") == strlen(id))
		snprintf(c->snapshot_id, sizeof(c->snapshot_id), "%s", id);
	return 0;
}

/*
 * The crawl, in phases. The transaction is set up and its snapshot exported; comments come next,
 * alone, because every object takes its own as it is made; then everything else, the side steps on
 * the second connection when there is one. That connection opens just before, so that its
 * transaction is never idle while the first reads comments (idle_in_transaction_session_timeout).
 */
enum pg_phase { PG_SETUP, PG_COMMENTS, PG_OBJECTS, PG_PHASES };

#define PG_BEGIN "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

static const struct pg_step {
	const char *what;
	const char *sql; /* NULL: the handle's settings statement */
	int (*row)(struct pg_crawl *c, const struct pg_row *res); /* NULL: rows are ignored */
	int nparams;                                         /* of pg_crawl.params */
	enum pg_phase phase;
	bool side; /* runs on the second connection when there is one */
} pg_steps[] = {
	{ "starting the transaction", PG_BEGIN, NULL, 0, PG_SETUP, false },
	{ "setting up the transaction", NULL, pg_row_settings, 1, PG_SETUP, false },
	{ "reading comments", pg_sql_comments, pg_row_comment, 0, PG_COMMENTS, false },
	{ "reading the database", pg_sql_database, pg_row_database, 0, PG_OBJECTS, false },
	{ "reading schemas", pg_sql_schemas, pg_row_schema, 0, PG_OBJECTS, false },
	{ "reading relations", pg_sql_relations, pg_row_relation, 0, PG_OBJECTS, false },
	{ "reading columns", pg_sql_columns, pg_row_column, 0, PG_OBJECTS, true },
	{ "reading constraints", pg_sql_constraints, pg_row_constraint, 0, PG_OBJECTS, false },
	{ "reading indexes", pg_sql_indexes, pg_row_index, 0, PG_OBJECTS, false },
	{ "committing", "COMMIT", NULL, 0, PG_OBJECTS, false },
};

#define PG_NSTEPS (sizeof(pg_steps) / sizeof(pg_steps[0]))

/* One connection's steps of a phase, and how far it is through them. */
struct pg_lane {
	PGconn *conn;
	const struct pg_step *steps[PG_NSTEPS];
	size_t n, next;
	bool sent;    /* steps[next] is under way */
	bool copying; /* and sends COPY data: header (its column names) once read, then rows */
	char *header;
	struct pg_row names, row; /* the header's fields; the current row's */
	size_t names_cap, row_cap;
};

/* The first line of a libpq message, without its trailing newline. */
static int pg_line_len(const char *msg)
{
	size_t n = strcspn(msg, "\n");

	return n > 400 ? 400 : (int)n;
}

static int pg_lost(struct pg_crawl *c, const struct pg_step *s, PGconn *conn)
{
	return pg_fail(c, DRIVER_E_CONNECT, "connection lost while %s: %.*s", s->what,
		       pg_line_len(PQerrorMessage(conn)), PQerrorMessage(conn));
}

static int pg_result_error(struct pg_crawl *c, const struct pg_step *s, PGconn *conn, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (PQstatus(conn) == CONNECTION_BAD)
		return pg_lost(c, s, conn);
	if (!msg)
		msg = PQresultErrorMessage(res);
	return pg_fail(c, state && strcmp(state, "42501") == 0 ? DRIVER_E_PRIVILEGE : DRIVER_E_QUERY,
		       "%s: %.*s", s->what, pg_line_len(msg), msg);
}

/*
 * Splits a line of COPY's CSV output in place into row: fields end at commas outside quotes,
 * quoted values have their doubled quotes undone, and an unquoted field is NULL when empty (every
 * value is quoted: FORCE_QUOTE *) and a column name otherwise (the header). The line ends with a
 * newline, and libpq puts a NUL after it. Values are at most as long as they were, so each is
 * rewritten where it starts and ends with a NUL written over what was read. -1: not such a line.
 */
static int pg_copy_split(char *line, size_t len, struct pg_row *row, size_t *cap)
{
	char *p = line, *end = line + len - (len && line[len - 1] == '\n');

	for (row->n = 0;; row->n++) {
		char *f = p;

		xgrow(&row->vals, cap, (size_t)row->n + 1, sizeof(*row->vals));
		if (p < end && *p == '"') {
			char *out = p;

			for (p++;; p++) {
				if (p == end)
					return -1;
				if (*p == '"' && (p + 1 == end || p[1] != '"'))
					break;
				p += *p == '"';
				*out++ = *p;
			}
			p++;
			*out = '\0';
		} else {
			while (p < end && *p != ',')
				p++;
		}
		row->vals[row->n] = f == p ? NULL : f;
		if (p == end) {
			*p = '\0';
			row->n++;
			return 0;
		}
		if (*p != ',')
			return -1;
		*p++ = '\0';
	}
}

/* One line of COPY data: the header, whose fields name the columns of the rows after it, or a row. */
static int pg_copy_line(struct pg_crawl *c, const struct pg_step *s, struct pg_lane *l, char *line, int len)
{
	struct pg_row *into = l->header ? &l->row : &l->names;

	if (pg_copy_split(line, (size_t)len, into, l->header ? &l->row_cap : &l->names_cap) != 0 ||
	    (l->header && l->row.n != l->names.n))
		return pg_fail(c, DRIVER_E_QUERY, "%s: the server sent a row that is not %d CSV fields", s->what,
			       l->names.n);
	if (!l->header) {
		for (int i = 0; i < l->names.n; i++)
			if (!l->names.vals[i])
				return pg_fail(c, DRIVER_E_QUERY, "%s: the server sent a header without a column name",
					       s->what);
		l->header = line;
		l->row.names = l->names.vals;
		return 0;
	}
	return s->row ? s->row(c, &l->row) : 0;
}

/* Reads the COPY data that has arrived; 0 when it waits for more or has ended (copying is then
 * false, and the result that ends it comes next). */
static int pg_copy_read(struct pg_crawl *c, const struct pg_step *s, struct pg_lane *l)
{
	for (;;) {
		char *line = NULL;
		int len = PQgetCopyData(l->conn, &line, 1), r;

		if (len == 0)
			return 0;
		if (len < 0) {
			PQfreemem(l->header);
			l->header = NULL;
			l->copying = false;
			return len == -1 ? 0 : pg_lost(c, s, l->conn);
		}
		r = pg_copy_line(c, s, l, line, len);
		if (line != l->header)
			PQfreemem(line);
		if (r)
			return r;
	}
}

/* A single-row result as a row. */
static int pg_single_row(struct pg_crawl *c, const struct pg_step *s, struct pg_lane *l, PGresult *res)
{
	l->row.n = PQnfields(res);
	xgrow(&l->row.vals, &l->row_cap, (size_t)l->row.n + 1, sizeof(*l->row.vals));
	xgrow(&l->names.vals, &l->names_cap, (size_t)l->row.n + 1, sizeof(*l->names.vals));
	for (int i = 0; i < l->row.n; i++) {
		l->row.vals[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
		l->names.vals[i] = PQfname(res, i);
	}
	l->row.names = l->names.vals;
	return s->row ? s->row(c, &l->row) : 0;
}

static int pg_result(struct pg_crawl *c, const struct pg_step *s, struct pg_lane *l, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_SINGLE_TUPLE)
		return pg_single_row(c, s, l, res);
	if (st == PGRES_COPY_OUT) {
		l->copying = true;
		return 0;
	}
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		return pg_result_error(c, s, l->conn, res);
	return 0;
}

/* Sends the lane's steps (single-row mode for those that are not COPY) and handles the results
 * that have arrived, up to the first that would wait for the server. On a row function's failure
 * the rest of the result is left unread: the connections are about to be closed anyway. */
static int pg_lane_advance(struct pg_crawl *c, struct pg_lane *l)
{
	while (l->next < l->n) {
		const struct pg_step *s = l->steps[l->next];
		PGresult *res;
		int r;

		if (l->copying && ((r = pg_copy_read(c, s, l)) != 0 || l->copying))
			return r;
		if (!l->sent) {
			if (!PQsendQueryParams(l->conn, s->sql ? s->sql : c->settings_sql, s->nparams, NULL,
					       c->params, NULL, NULL, 0))
				return pg_fail(c, DRIVER_E_CONNECT, "%s: %.*s", s->what,
					       pg_line_len(PQerrorMessage(l->conn)), PQerrorMessage(l->conn));
			PQsetSingleRowMode(l->conn);
			l->sent = true;
		}
		if (PQisBusy(l->conn))
			return 0;
		res = PQgetResult(l->conn);
		if (!res) {
			l->next++;
			l->sent = false;
			continue;
		}
		r = pg_result(c, s, l, res);
		PQclear(res);
		if (r)
			return r;
	}
	return 0;
}

/* Runs the lanes until each has run its last step, reading whichever connection has rows: the
 * server works on both queries at once while the agent reads one. */
static int pg_lanes_run(struct pg_crawl *c, struct pg_lane *lanes, size_t n)
{
	for (;;) {
		struct pollfd p[2];
		struct pg_lane *waiting[2];
		size_t np = 0;

		for (size_t i = 0; i < n; i++) {
			int r = pg_lane_advance(c, &lanes[i]);

			if (r)
				return r;
			if (lanes[i].next < lanes[i].n) {
				waiting[np] = &lanes[i];
				p[np++] = (struct pollfd){ .fd = PQsocket(lanes[i].conn), .events = POLLIN };
			}
		}
		if (np == 0)
			return 0;
		if (poll(p, np, -1) < 0 && errno != EINTR)
			return pg_fail(c, DRIVER_E_CONNECT, "%s: poll: %s", waiting[0]->steps[waiting[0]->next]->what,
				       strerror(errno));
		for (size_t i = 0; i < np; i++)
			if (p[i].revents && !PQconsumeInput(waiting[i]->conn))
				return pg_lost(c, waiting[i]->steps[waiting[i]->next], waiting[i]->conn);
	}
}

/* One phase of the crawl: its side steps on the second connection when there is one, the rest on the
 * first, in the order of pg_steps. */
static int pg_phase_run(struct pg_crawl *c, enum pg_phase phase)
{
	struct pg_lane lanes[2] = { { .conn = c->conn }, { .conn = c->side } };
	int r;

	for (size_t i = 0; i < PG_NSTEPS; i++) {
		struct pg_lane *l = &lanes[pg_steps[i].side && c->side];

		if (pg_steps[i].phase == phase)
			l->steps[l->n++] = &pg_steps[i];
	}
	r = pg_lanes_run(c, lanes, 2);
	for (size_t i = 0; i < 2; i++) {
		PQfreemem(lanes[i].header);
		free(lanes[i].names.vals);
		free(lanes[i].row.vals);
	}
	return r;
}

static const char *pg_opt(PQconninfoOption *opts, const char *keyword)
{
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val;
	return NULL;
}

/* The parsed conninfo plus the driver's parameters and the password, as PQconnectStartParams wants
 * them. The second connection has the first one's client encoding and pg->options. The arrays
 * borrow every string. */
static void pg_params_build(const struct pg *pg, const struct pg_crawl *side_of, const char ***ret_kw,
			    const char ***ret_val)
{
	size_t n = 0, max = sizeof(pg_params) / sizeof(pg_params[0]) + 3;
	const char **kw, **val;

	for (PQconninfoOption *o = pg->opts; o->keyword; o++)
		max++;
	kw = xcalloc(max, sizeof(*kw));
	val = xcalloc(max, sizeof(*val));
	for (size_t i = 0; i < sizeof(pg_params) / sizeof(pg_params[0]); i++) {
		if (!pg_params[i].force && pg_opt(pg->opts, pg_params[i].keyword))
			continue;
		kw[n] = pg_params[i].keyword;
		val[n++] = side_of && strcmp(pg_params[i].keyword, "client_encoding") == 0 ? side_of->params[0]
											: pg_params[i].value;
	}
	for (PQconninfoOption *o = pg->opts; o->keyword; o++) {
		if (!o->val || strcmp(o->keyword, "client_encoding") == 0 ||
		    (side_of && strcmp(o->keyword, "options") == 0))
			continue;
		kw[n] = o->keyword;
		val[n++] = o->val;
	}
	if (side_of) {
		kw[n] = "options";
		val[n++] = pg->options;
	}
	if (pg->password) {
		kw[n] = "password";
		val[n++] = pg->password;
	}
	*ret_kw = kw;
	*ret_val = val;
}

static long pg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Drives PQconnectPoll for up to secs seconds (<= 0: no limit). The driver polls instead of calling
 * PQconnectdbParams so that it can ask for verbose errors before the server answers: only they carry
 * the SQLSTATE that tells a refused login from an unreachable server in any server language.
 * Returns false on timeout.
 */
static bool pg_connect_poll(PGconn *conn, long secs)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	long deadline = secs > 0 ? pg_now_ms() + secs * 1000 : 0;

	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd p = { PQsocket(conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0 };
		long left = deadline > 0 ? deadline - pg_now_ms() : -1;
		int r;

		if (deadline > 0 && left <= 0)
			return false;
		r = poll(&p, 1, (int)left);
		if (r == 0)
			return false;
		if (r < 0 && errno != EINTR)
			return true; /* PQconnectPoll reports the socket's state */
		st = PQconnectPoll(conn);
	}
	return true;
}

/* The SQLSTATE a verbose message carries after its severity: "FATAL:  28P01: ...". */
static bool pg_message_state(const char *msg, char state[6])
{
	for (const char *p = strstr(msg, ":  "); p; p = strstr(p + 1, ":  ")) {
		const char *s = p + 3;

		if (strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5 && s[5] == ':') {
			memcpy(state, s, 5);
			state[5] = '\0';
			return true;
		}
	}
	return false;
}

static int pg_connect_code(PGconn *conn)
{
	char state[6];

	if (PQconnectionNeedsPassword(conn))
		return DRIVER_E_AUTH;
	if (!pg_message_state(PQerrorMessage(conn), state))
		return DRIVER_E_CONNECT;
	for (const struct pg_state *s = pg_connect_states; s->sqlstate; s++)
		if (strcmp(s->sqlstate, state) == 0)
			return s->code;
	return DRIVER_E_CONNECT;
}

/* The message's first line, without the SQLSTATE that verbosity put in it. */
static int pg_connect_error(struct pg_crawl *c, PGconn *conn)
{
	const char *msg = PQerrorMessage(conn);
	char state[6], line[DRIVER_ERRLEN];
	char *s;

	snprintf(line, sizeof(line), "%.*s", pg_line_len(msg), msg);
	if (pg_message_state(line, state) && (s = strstr(line, state)))
		memmove(s, s + 7, strlen(s + 7) + 1);
	if (!c->password && PQconnectionNeedsPassword(conn))
		return pg_fail(c, DRIVER_E_AUTH, "cannot connect: %s (no password is set for this source; put it in "
			       "the agent's secrets file or in ~/.pgpass, mode 0600)", line);
	return pg_fail(c, pg_connect_code(conn), "cannot connect: %s", line);
}

/* The password file libpq reads when it has no password: passfile=, PGPASSFILE, ~/.pgpass (libpq's
 * order; HOME first, then the password database, as libpq finds the home directory). NULL when there
 * is no home to look in. *ret_named: the file was named rather than found by default. */
static char *pg_passfile(const struct pg *pg, bool *ret_named)
{
	const char *named = pg_opt(pg->opts, "passfile"), *home;
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (!named || !*named)
		named = getenv("PGPASSFILE");
	*ret_named = named && *named;
	if (*ret_named)
		return xstrdup(named);
	home = getenv("HOME");
	if ((!home || !*home) && getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
		home = res->pw_dir;
	return home && *home ? xasprintf("%s/.pgpass", home) : NULL;
}

/*
 * Without a password from the secrets file libpq takes one from PGPASSWORD, which is refused here (no
 * 0600 file), or from its password file, but skips a file that its group or others can access,
 * saying so on stderr only; the login then fails as if no password existed. Such a file is refused
 * here instead, with a message that names it, and so is a file named by passfile= or PGPASSFILE
 * that cannot be read. 0, or DRIVER_E_CONFIG with err set.
 */
static int pg_passfile_check(const struct pg *pg, char *err)
{
	char why[DRIVER_ERRLEN - 100];
	bool named = false;
	char *path = pg->password ? NULL : pg_passfile(pg, &named);
	int r = path ? secrets_file_private(path, why, sizeof(why)) : 0;

	if (!pg->password && secrets_env_refused("PGPASSWORD", err, DRIVER_ERRLEN)) {
		free(path);
		return DRIVER_E_CONFIG;
	}
	if (r > 0)
		snprintf(err, DRIVER_ERRLEN, "password file %s; libpq would ignore it", why);
	else if (r < 0 && named)
		snprintf(err, DRIVER_ERRLEN, "password file %.300s: %s", path, strerror(-r));
	free(path);
	return r > 0 || (r < 0 && named) ? DRIVER_E_CONFIG : 0;
}

/* Starts a connection (the second when side_of is set); *ret_secs: how long it may take (<= 0: no
 * limit). */
static PGconn *pg_connect_start(const struct pg *pg, const struct pg_crawl *side_of, long *ret_secs)
{
	const char *timeout = pg_opt(pg->opts, "connect_timeout");
	const char **kw, **val;
	PGconn *conn;

	pg_params_build(pg, side_of, &kw, &val);
	conn = PQconnectStartParams(kw, val, 0);
	free(kw);
	free(val);
	*ret_secs = timeout ? strtol(timeout, NULL, 10) : PG_CONNECT_TIMEOUT;
	return conn;
}

static int pg_connect(struct pg *pg, struct pg_crawl *c)
{
	long secs;

	if (pg_passfile_check(pg, c->err) != 0)
		return DRIVER_E_CONFIG;
	c->conn = pg_connect_start(pg, NULL, &secs);
	if (!c->conn)
		return -ENOMEM;
	PQsetErrorVerbosity(c->conn, PQERRORS_VERBOSE);
	if (PQstatus(c->conn) != CONNECTION_BAD && !pg_connect_poll(c->conn, secs))
		return pg_fail(c, DRIVER_E_CONNECT, "cannot connect: timed out after %ld s", secs);
	if (PQstatus(c->conn) != CONNECTION_OK)
		return pg_connect_error(c, c->conn);
	PQsetErrorVerbosity(c->conn, PQERRORS_DEFAULT);
	if (PQserverVersion(c->conn) < PG_MIN_VERSION)
		return pg_fail(c, DRIVER_E_CONFIG, "server version %d is older than PostgreSQL 12",
			       PQserverVersion(c->conn));
	return 0;
}

static bool pg_exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok;
}

/*
 * The second connection reads the columns, the crawl's longest step and bound by the agent's CPU
 * (200,000 rows for 10,000 tables), while the first reads the rest and the server works on both; it
 * imports the first one's snapshot, so that both read the catalog at one moment. It is only a
 * speed-up: when it cannot be had (a connection limit, a pooler that refuses startup options), the
 * first connection reads everything. Its transaction is read-only and ends when it is closed: a
 * COMMIT would be a 13th statement against DESIGN §7's 12.
 */
static void pg_side_open(const struct pg *pg, struct pg_crawl *c)
{
	long secs;
	PGconn *conn;
	char *sql;
	bool ok;

	if (!c->snapshot_id[0])
		return;
	conn = pg_connect_start(pg, c, &secs);
	ok = conn && PQstatus(conn) != CONNECTION_BAD && pg_connect_poll(conn, secs) &&
	     PQstatus(conn) == CONNECTION_OK;
	sql = xasprintf("SET TRANSACTION SNAPSHOT '%s'", c->snapshot_id);
	ok = ok && pg_exec_ok(conn, PG_BEGIN) && pg_exec_ok(conn, sql);
	free(sql);
	if (ok)
		c->side = conn;
	else
		PQfinish(conn);
}

static const char *pg_client_encoding(PGconn *conn)
{
	const char *server = conn ? PQparameterStatus(conn, "server_encoding") : NULL;

	return server && strcmp(server, "SQL_ASCII") == 0 ? "SQL_ASCII" : "UTF8";
}

/* A setting's value: the source's timeout in milliseconds when the table has none. */
static const char *pg_setting_value(const struct pg *pg, const struct pg_setting *set, char *buf, size_t len)
{
	if (set->value)
		return set->value;
	snprintf(buf, len, "%lu", pg->timeout * 1000UL);
	return buf;
}

/* pg_settings as one statement of SET LOCALs ($1: the client encoding) that also exports the
 * transaction's snapshot, and as startup options after the conninfo's own, where a space or a
 * backslash in a value is escaped. */
static void pg_settings_build(struct pg *pg)
{
	const char *conninfo_options = pg_opt(pg->opts, "options");
	struct buf sql, opt;
	char ms[24];

	buf_init(&sql);
	buf_init(&opt);
	buf_addf(&sql, "SELECT set_config('client_encoding', $1, true)");
	if (conninfo_options)
		buf_addf(&opt, "%s", conninfo_options);
	for (const struct pg_setting *set = pg_settings; set->name; set++) {
		const char *v = pg_setting_value(pg, set, ms, sizeof(ms));

		buf_addf(&sql, ", set_config('%s', '%s', true)", set->name, v);
		buf_addf(&opt, "%s-c %s=", opt.len ? " " : "", set->name);
		for (; *v; v++) {
			if (*v == ' ' || *v == '\\')
				buf_addc(&opt, '\\');
			buf_addc(&opt, *v);
		}
	}
	buf_addf(&sql, ", pg_export_snapshot()");
	pg->settings_sql = buf_steal(&sql);
	pg->options = buf_steal(&opt);
}

static void pg_close(void *handle);

static int pg_open(const struct source_conf *conf, void **ret_handle, char *err)
{
	struct pg *pg;
	PQconninfoOption *opts;
	char *msg = NULL;

	if (!conf->conninfo) {
		snprintf(err, DRIVER_ERRLEN, "conninfo is not set");
		return DRIVER_E_CONFIG;
	}
	/* libpq's message may quote the conninfo, password included: it is not passed on. */
	opts = PQconninfoParse(conf->conninfo, &msg);
	PQfreemem(msg);
	if (!opts) {
		snprintf(err, DRIVER_ERRLEN, "conninfo is not a valid libpq connection string");
		return DRIVER_E_CONFIG;
	}
	pg = xcalloc(1, sizeof(*pg));
	pg->opts = opts;
	pg->password = conf->password ? xstrdup(conf->password) : NULL;
	pg->timeout = conf->timeout ? conf->timeout : PG_DEFAULT_TIMEOUT;
	if (pg->timeout > PG_MAX_TIMEOUT)
		pg->timeout = PG_MAX_TIMEOUT;
	pg_settings_build(pg);
	if (pg_opt(opts, "password")) {
		snprintf(err, DRIVER_ERRLEN, "conninfo must not hold a password: put it in the agent's secrets file "
			 "or in ~/.pgpass (mode 0600)");
		pg_close(pg);
		return DRIVER_E_CONFIG;
	}
	if (pg_passfile_check(pg, err) != 0) {
		pg_close(pg);
		return DRIVER_E_CONFIG;
	}
	*ret_handle = pg;
	return 0;
}

static int pg_crawl(void *handle, struct snapshot *snap, char *err)
{
	struct pg *pg = handle;
	struct pg_crawl c = { .snap = snap, .err = err, .password = pg->password, .settings_sql = pg->settings_sql };
	int r;

	buf_init(&c.comment_text);
	r = pg_connect(pg, &c);
	c.params[0] = pg_client_encoding(c.conn);
	for (enum pg_phase phase = PG_SETUP; r == 0 && phase < PG_PHASES; phase++) {
		if (phase == PG_OBJECTS)
			pg_side_open(pg, &c);
		r = pg_phase_run(&c, phase);
	}
	PQfinish(c.side);
	PQfinish(c.conn);
	pg_comments_free(&c);
	return r;
}

static void pg_close(void *handle)
{
	struct pg *pg = handle;

	if (!pg)
		return;
	PQconninfoFree(pg->opts);
	secrets_free(pg->password);
	free(pg->settings_sql);
	free(pg->options);
	free(pg);
}

const struct driver_ops driver_pg = {
	.name = "pg",
	.open = pg_open,
	.crawl = pg_crawl,
	.close = pg_close,
};
