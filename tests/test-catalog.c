/*
 * The catalog store: a first snapshot becomes the baseline (objects, edges, ADD history), deltas
 * add, alter, rename and move (a table rename or move takes its descendants' paths along) and drop,
 * observations never make history, a resync applies only the difference, a staged snapshot with the
 * wrong root or a staged part that does not decode is refused, and the history hash chain links and
 * recomputes, across a reopen too.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "diff.h"
#include "snapshot.h"
#include "tap.h"
#include "xmalloc.h"

#define AGENT "agent-1"
#define SOURCE "hr"

static char dir[] = "/tmp/prospector-test-catalog-XXXXXX";
static char dbpath[256];
static sqlite3 *ro;

/* What differs between the versions of the test schema. */
struct variant {
	const char *table_name;   /* r:10 */
	const char *dept_name;    /* a:10:2 */
	const char *email_type;   /* a:10:3, NULL: absent */
	bool view;                /* r:40 */
	const char *dept_comment; /* r:20 */
	const char *events_rows;  /* obs of r:60 */
	bool moved;               /* r:70 in schema n:2 */
	bool reclassified;        /* r:70 a view over r:10, as when a table is replaced by a view */
};

static const struct variant base = { "employees", "dept_id", NULL, true, NULL, "5", false, false };

static struct obj *add(struct snapshot *s, enum obj_kind kind, const char *key, const char *parent,
		       const char *name)
{
	struct obj *o = obj_new(kind, key, parent, name);

	return snapshot_add(s, &o);
}

static void add_column(struct snapshot *s, const char *key, const char *parent, const char *name,
		       const char *type, bool nullable)
{
	struct obj *o = add(s, OBJ_COLUMN, key, parent, name);

	obj_set(o, "type", type);
	obj_set(o, "family", strncmp(type, "character", 9) == 0 ? "string" : "integer");
	obj_set(o, "nullable", nullable ? "true" : NULL);
}

static struct snapshot *build(const struct variant *v)
{
	struct snapshot *s = snapshot_new(SOURCE);
	struct obj *o;

	add(s, OBJ_DATABASE, "d:1", NULL, "hrdb");
	add(s, OBJ_SCHEMA, "n:1", "d:1", "public");
	o = add(s, OBJ_TABLE, "r:10", "n:1", v->table_name);
	obj_set(o, "comment", "员工");
	obj_set_obs(o, "rows", "10");
	add_column(s, "a:10:1", "r:10", "id", "integer", false);
	add_column(s, "a:10:2", "r:10", v->dept_name, "integer", true);
	if (v->email_type)
		add_column(s, "a:10:3", "r:10", "email", v->email_type, true);
	o = add(s, OBJ_PRIMARY_KEY, "c:11", "r:10", "employees_pkey");
	obj_set(o, "columns", "a:10:1");
	o = add(s, OBJ_INDEX, "i:12", "r:10", "employees_dept_idx");
	obj_set(o, "columns", "a:10:2");
	o = add(s, OBJ_FOREIGN_KEY, "c:13", "r:10", "employees_dept_fk");
	obj_set(o, "columns", "a:10:2");
	obj_set(o, "ref_table", "r:20");
	obj_set(o, "ref_columns", "a:20:1");
	o = add(s, OBJ_TABLE, "r:20", "n:1", "departments");
	obj_set(o, "comment", v->dept_comment);
	add_column(s, "a:20:1", "r:20", "id", "integer", false);
	if (v->view) {
		o = add(s, OBJ_VIEW, "r:40", "n:1", "emp_view");
		obj_set(o, "depends_on", "r:10" MODEL_REF_SEP_STR "r:20");
	}
	o = add(s, OBJ_SEQUENCE, "r:50", "n:1", "employees_id_seq");
	obj_set(o, "owned_by", "a:10:1");
	o = add(s, OBJ_TABLE, "r:60", "n:1", "events");
	obj_set(o, "partitioned", "true");
	obj_set_obs(o, "rows", v->events_rows);
	o = add(s, OBJ_TABLE, "r:61", "r:60", "events_2024");
	obj_set(o, "partition_bound", "FOR VALUES FROM (2024) TO (2025)");
	if (v->moved)
		add(s, OBJ_SCHEMA, "n:2", "d:1", "archive");
	o = add(s, v->reclassified ? OBJ_VIEW : OBJ_TABLE, "r:70", v->moved ? "n:2" : "n:1", "employees2");
	obj_set(o, "depends_on", v->reclassified ? "r:10" : NULL);
	add_column(s, "a:70:1", "r:70", "x", "integer", true);
	if (snapshot_finish(s) != 0) {
		fprintf(stderr, "snapshot: %s\n", s->error);
		abort();
	}
	return s;
}

static struct catalog_batch batch(uint64_t seq)
{
	struct catalog_batch b = {
		.agent_id = AGENT, .incarnation = 1, .seq = seq, .source = SOURCE,
		.observed_ms = 1700000000000ULL + seq * 1000, .recorded_ms = 1700000000500ULL + seq * 1000,
	};

	return b;
}

static long long q_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long q_int(const char *fmt, ...)
{
	va_list ap;
	char *sql;
	sqlite3_stmt *st;
	long long v = -1;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(ro, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("# %s: %s\n", sql, sqlite3_errmsg(ro));
		sqlite3_free(sql);
		return -2;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return v;
}

/* The first column of the first row, or NULL; valid until the next call. */
static const char *q_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *q_str(const char *fmt, ...)
{
	static char *last;
	va_list ap;
	char *sql;
	sqlite3_stmt *st;

	free(last);
	last = NULL;
	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(ro, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0))
		last = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return last;
}

static int apply_diff(struct catalog *c, const struct snapshot *old, const struct snapshot *new, uint64_t seq)
{
	struct diff *d = diff_snapshots(old, new);
	struct catalog_batch b = batch(seq);
	int r = catalog_begin(c);

	if (r == 0)
		r = catalog_apply_diff(c, &b, "delta", d);
	if (r == 0)
		r = catalog_commit(c);
	else
		catalog_rollback(c);
	if (r)
		printf("# apply: %s\n", catalog_error(c));
	diff_free(d);
	return r;
}

static int apply_snapshot(struct catalog *c, const struct snapshot *s, uint64_t seq, const unsigned char *root,
			  size_t *ret_n)
{
	struct catalog_batch b = batch(seq);
	int r = catalog_begin(c);

	if (r == 0)
		r = catalog_stage_part(c, &b, s);
	if (r == 0)
		r = catalog_snapshot_end(c, &b, root, ret_n);
	if (r == 0 || r == CATALOG_E_STAGED_INVALID) {
		int cr = catalog_commit(c);

		r = cr ? cr : r;
	} else {
		catalog_rollback(c);
	}
	return r;
}

static long long history_count(void)
{
	return q_int("SELECT count(*) FROM history");
}

static const char *path_of(const char *key)
{
	return q_str("SELECT path FROM objects WHERE source = 'hr' AND key = '%s'", key);
}

static void test_open(struct catalog **ret_c)
{
	char err[512];
	struct stat st;

	snprintf(dbpath, sizeof(dbpath), "%s/catalog.db", dir);
	is_int(catalog_open(dbpath, ret_c, err, sizeof(err)), 0, "catalog opens and creates the schema");
	ok(stat(dbpath, &st) == 0 && (st.st_mode & 0777) == 0600, "the catalog file is private (0600)");
	ok(sqlite3_open_v2(dbpath, &ro, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK, "a second connection reads it");
	is_str(q_str("SELECT value FROM meta WHERE key = 'schema_version'"), "1", "schema_version is 1");
	is_str(q_str("PRAGMA journal_mode"), "wal", "the journal is WAL");
}

static void test_agents(struct catalog *c)
{
	struct catalog_source src = { .name = SOURCE, .driver = "pg", .department = "卫生局", .interval_s = 300 };
	struct catalog_source other = { .name = SOURCE, .interval_s = -1 };
	uint64_t last = 99, inc;

	catalog_begin(c);
	is_int(catalog_agent_hello(c, AGENT, 1, "0.1.0", "host1", 1000, &last), 0, "hello from a new agent");
	is_int(last, 0, "a new agent starts at seq 0");
	is_int(catalog_source_upsert(c, AGENT, &src), 0, "the agent's source is recorded");
	is_int(catalog_source_upsert(c, "agent-2", &other), CATALOG_E_SOURCE_OWNED,
	       "another agent cannot feed the same source");
	ok(strstr(catalog_error(c), AGENT) != NULL, "the message names the owner: %s", catalog_error(c));
	is_int(catalog_agent_set_seq(c, AGENT, 5, 2000), 0, "set seq");
	is_int(catalog_agent_hello(c, AGENT, 1, "0.1.0", "host1", 3000, &last), 0, "hello again, same incarnation");
	is_int(last, 5, "the same incarnation keeps its sequence");
	is_int(catalog_agent_hello(c, AGENT, 2, "0.1.1", "host1", 4000, &last), 0, "hello, new incarnation");
	is_int(last, 0, "a new incarnation restarts the sequence");
	is_int(catalog_agent_lookup(c, "nobody", &inc, &last), CATALOG_E_UNKNOWN_AGENT, "unknown agent");
	is_int(catalog_agent_hello(c, AGENT, 1, "0.1.0", "host1", 5000, &last), 0, "back to incarnation 1");
	is_int(catalog_commit(c), 0, "commit");
	is_str(q_str("SELECT department FROM sources WHERE name = 'hr'"), "卫生局", "source department stored");
	is_int(q_int("SELECT first_seen FROM agents WHERE id = 'agent-1'"), 1000, "first_seen kept");
}

static void test_baseline(struct catalog *c, struct snapshot *s)
{
	size_t n = 0;

	is_int(apply_snapshot(c, s, 1, s->root, &n), 0, "the first snapshot applies");
	is_int(n, s->nobjs, "every object is a change");
	is_int(q_int("SELECT count(*) FROM objects WHERE source = 'hr'"), s->nobjs, "every object is in the catalog");
	is_int(history_count(), s->nobjs, "one history row per object");
	is_int(q_int("SELECT count(*) FROM history WHERE origin = 'baseline' AND op = 'ADD'"), s->nobjs,
	       "all ADD rows with origin baseline");
	is_int(q_int("SELECT count(*) FROM staging"), 0, "staging is cleared");
	is_str(path_of("a:10:2"), "hr/hrdb/public/employees.dept_id", "a column's path");
	is_str(path_of("c:13"), "hr/hrdb/public/employees#employees_dept_fk", "a constraint's path");
	is_str(path_of("r:61"), "hr/hrdb/public/events/events_2024", "a partition's path");
	is_str(q_str("SELECT kind FROM objects WHERE key = 'c:13'"), "foreign_key", "kind name stored");
	is_str(q_str("SELECT json_extract(attrs, '$.depends_on') FROM objects WHERE key = 'r:40'"),
	       "r:10\x1fr:20", "REFS are stored raw in attrs JSON");
	is_str(q_str("SELECT json_extract(attrs, '$.comment') FROM objects WHERE key = 'r:10'"), "员工",
	       "attrs JSON keeps Chinese text");
	is_str(q_str("SELECT json_extract(obs, '$.rows') FROM objects WHERE key = 'r:10'"), "10", "obs JSON");
	is_int(q_int("SELECT count(*) FROM edges"), 5, "five edges");
	is_int(q_int("SELECT count(*) FROM edges WHERE kind = 'fk' AND from_key = 'a:10:2' AND to_key = 'a:20:1'"
		     " AND via = 'c:13'"), 1, "fk edge: column → referenced column, via the constraint");
	is_int(q_int("SELECT count(*) FROM edges WHERE kind = 'view_dep' AND from_key = 'r:40'"), 2,
	       "view_dep edges: view → each table");
	is_int(q_int("SELECT count(*) FROM edges WHERE kind = 'owned_by' AND from_key = 'r:50' AND to_key = 'a:10:1'"),
	       1, "owned_by edge: sequence → column");
	is_int(q_int("SELECT count(*) FROM edges WHERE kind = 'partition' AND from_key = 'r:61' AND to_key = 'r:60'"),
	       1, "partition edge: partition → partitioned table (from partition_bound)");
	ok(q_int("SELECT count(*) FROM history WHERE key = 'a:10:2' AND after LIKE '%%\"nullable\":\"true\"%%'") == 1,
	   "ADD rows carry the object summary");
	is_int(q_int("SELECT observed FROM history LIMIT 1"), 1700000001000LL, "observed = the crawl time");
}

static void test_deltas(struct catalog *c, struct snapshot **cur)
{
	struct variant v = base;
	struct snapshot *next;
	long long h0 = history_count();

	v.email_type = "character varying(100)";
	next = build(&v);
	is_int(apply_diff(c, *cur, next, 2), 0, "delta: add a column");
	snapshot_free(*cur);
	*cur = next;
	is_int(history_count(), h0 + 1, "one history row");
	is_str(q_str("SELECT op || ' ' || origin FROM history WHERE key = 'a:10:3'"), "ADD delta", "an ADD, delta");
	is_str(path_of("a:10:3"), "hr/hrdb/public/employees.email", "the new column is in the catalog");

	v.email_type = "character varying(200)";
	next = build(&v);
	is_int(apply_diff(c, *cur, next, 3), 0, "delta: alter a type");
	snapshot_free(*cur);
	*cur = next;
	is_str(q_str("SELECT field || ': ' || before || ' -> ' || after FROM history WHERE seq = 3"),
	       "type: character varying(100) -> character varying(200)", "the ALTER row");
	is_str(q_str("SELECT json_extract(attrs, '$.type') FROM objects WHERE key = 'a:10:3'"),
	       "character varying(200)", "the object has its new type");

	v.dept_name = "department_id";
	next = build(&v);
	is_int(apply_diff(c, *cur, next, 4), 0, "delta: rename a column");
	snapshot_free(*cur);
	*cur = next;
	is_str(q_str("SELECT op || ' ' || before || ' -> ' || after FROM history WHERE seq = 4"),
	       "RENAME dept_id -> department_id", "the RENAME row");
	is_str(path_of("a:10:2"), "hr/hrdb/public/employees.department_id", "the column's path follows");
	is_int(q_int("SELECT count(*) FROM edges WHERE from_key = 'a:10:2' AND kind = 'fk'"), 1,
	       "the fk edge stays (keys, not names)");

	v.table_name = "staff";
	next = build(&v);
	is_int(apply_diff(c, *cur, next, 5), 0, "delta: rename a table");
	snapshot_free(*cur);
	*cur = next;
	is_int(q_int("SELECT count(*) FROM history WHERE seq = 5"), 1, "one row: the table's RENAME");
	is_str(path_of("r:10"), "hr/hrdb/public/staff", "the table's path");
	is_str(path_of("a:10:1"), "hr/hrdb/public/staff.id", "a column's path follows the table");
	is_str(path_of("a:10:2"), "hr/hrdb/public/staff.department_id", "another column's too");
	is_str(path_of("c:13"), "hr/hrdb/public/staff#employees_dept_fk", "a constraint's too");
	is_str(path_of("i:12"), "hr/hrdb/public/staff#employees_dept_idx", "an index's too");
	is_str(path_of("r:70"), "hr/hrdb/public/employees2", "a table whose name starts alike is left alone");
	is_str(path_of("a:70:1"), "hr/hrdb/public/employees2.x", "and its column");

	v.moved = true;
	next = build(&v);
	is_int(apply_diff(c, *cur, next, 20), 0, "delta: move a table to another schema");
	is_str(q_str("SELECT parent || ' ' || path FROM objects WHERE key = 'r:70'"), "n:2 hr/hrdb/archive/employees2",
	       "its parent and path");
	is_str(path_of("a:70:1"), "hr/hrdb/archive/employees2.x", "its column's path follows");
	is_int(apply_diff(c, next, *cur, 21), 0, "delta: and back");
	snapshot_free(next);
	is_str(q_str("SELECT parent || ' ' || path FROM objects WHERE key = 'r:70'"), "n:1 hr/hrdb/public/employees2",
	       "its parent and path again");
	v.moved = false;

	/* A kind that changes takes the ALTER's longer way: the row's kind, its place and its edges. */
	v.moved = v.reclassified = true;
	next = build(&v);
	is_int(apply_diff(c, *cur, next, 22), 0, "delta: a table becomes a view in another schema");
	is_str(q_str("SELECT kind || ' ' || parent || ' ' || path FROM objects WHERE key = 'r:70'"),
	       "view n:2 hr/hrdb/archive/employees2", "its kind, parent and path");
	is_str(path_of("a:70:1"), "hr/hrdb/archive/employees2.x", "its column's path follows");
	is_str(q_str("SELECT group_concat(kind || ' ' || to_key) FROM edges WHERE via = 'r:70'"), "view_dep r:10",
	       "its edge is there");
	is_int(apply_diff(c, next, *cur, 23), 0, "delta: and back to a table");
	snapshot_free(next);
	is_str(q_str("SELECT kind || ' ' || parent || ' ' || path FROM objects WHERE key = 'r:70'"),
	       "table n:1 hr/hrdb/public/employees2", "its kind, parent and path again");
	is_int(q_int("SELECT count(*) FROM edges WHERE via = 'r:70'"), 0, "its edge is gone");
	v.moved = v.reclassified = false;

	v.email_type = NULL;
	v.view = false;
	next = build(&v);
	is_int(apply_diff(c, *cur, next, 6), 0, "delta: drop a column and a view");
	snapshot_free(*cur);
	*cur = next;
	is_int(q_int("SELECT count(*) FROM objects WHERE key IN ('a:10:3', 'r:40')"), 0, "both are gone");
	is_int(q_int("SELECT count(*) FROM history WHERE seq = 6 AND op = 'DROP' AND before IS NOT NULL"), 2,
	       "two DROP rows with the old state");
	is_str(q_str("SELECT path FROM history WHERE seq = 6 AND key = 'a:10:3'"), "hr/hrdb/public/staff.email",
	       "a DROP row has the path the object had");
	is_int(q_int("SELECT count(*) FROM edges WHERE via = 'r:40'"), 0, "the view's edges are gone");
}

static void test_obs(struct catalog *c)
{
	struct attr obs[] = { { "bytes", "8192" }, { "rows", "999" } };
	long long h0 = history_count();

	catalog_begin(c);
	is_int(catalog_apply_obs(c, SOURCE, "r:10", obs, 2), 0, "observations apply");
	is_int(catalog_apply_obs(c, SOURCE, "r:404", obs, 2), 0, "observations of an unknown key are ignored");
	catalog_commit(c);
	is_str(q_str("SELECT json_extract(obs, '$.rows') FROM objects WHERE key = 'r:10'"), "999", "rows updated");
	is_int(history_count(), h0, "observations make no history");
}

static void test_resync(struct catalog *c, struct snapshot **cur)
{
	struct variant v = base;
	struct snapshot *next;
	unsigned char bad[32] = { 1 };
	long long h0 = history_count();
	size_t n = 99;

	v.dept_name = "department_id";
	v.table_name = "staff";
	v.view = false;
	v.dept_comment = "部门";
	v.events_rows = "77";
	next = build(&v);
	is_int(apply_snapshot(c, next, 7, bad, &n), CATALOG_E_STAGED_INVALID, "a snapshot with the wrong root is refused");
	ok(strstr(catalog_error(c), "root") != NULL, "and says why: %s", catalog_error(c));
	is_int(history_count(), h0, "nothing applied");
	is_int(q_int("SELECT count(*) FROM staging"), 0, "staging cleared");

	is_int(apply_snapshot(c, next, 8, next->root, &n), 0, "a resync applies");
	is_int(n, 1, "only the difference: one change");
	is_int(history_count(), h0 + 1, "one history row");
	is_str(q_str("SELECT origin || ' ' || field || ' ' || after FROM history ORDER BY id DESC LIMIT 1"),
	       "resync comment 部门", "origin resync");
	is_str(q_str("SELECT json_extract(obs, '$.rows') FROM objects WHERE key = 'r:60'"), "77",
	       "observations refreshed without history");
	is_str(q_str("SELECT json_extract(obs, '$.rows') FROM objects WHERE key = 'r:10'"), "10",
	       "the snapshot's observations win over older ones");
	snapshot_free(*cur);
	*cur = next;
}

/* Replaces every staged part with bytes, as another connection (another version) could have. */
static void stage_overwrite(const void *bytes, size_t len)
{
	sqlite3 *rw = NULL;
	sqlite3_stmt *st = NULL;

	if (sqlite3_open(dbpath, &rw) == SQLITE_OK &&
	    sqlite3_prepare_v2(rw, "UPDATE staging SET object = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_blob(st, 1, bytes, (int)len, SQLITE_STATIC);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(rw);
}

/* A staged part that does not decode (damaged, or a row of one object as an older collector staged
 * them) refuses the snapshot like a wrong root: nothing applied, staging cleared. */
static void test_stage_corrupt(struct catalog *c, const struct snapshot *cur)
{
	struct catalog_batch b = batch(9);
	long long h0 = history_count();
	struct buf one;
	size_t n = 99;

	catalog_begin(c);
	is_int(catalog_stage_part(c, &b, cur), 0, "a snapshot staged as one part");
	is_int(q_int("SELECT count(*) FROM staging"), 0, "not visible before its commit");
	is_int(catalog_commit(c), 0, "committed");
	is_int(q_int("SELECT count(*) FROM staging"), 1, "one row");
	buf_init(&one);
	snapshot_obj_encode(cur->objs[0], &one);
	stage_overwrite(one.data, one.len);
	buf_free(&one);
	catalog_begin(c);
	is_int(catalog_snapshot_end(c, &b, cur->root, &n), CATALOG_E_STAGED_INVALID, "a part that does not decode is refused");
	ok(strstr(catalog_error(c), "corrupt") != NULL, "and says why: %s", catalog_error(c));
	is_int(catalog_commit(c), 0, "the refusal commits");
	is_int(history_count(), h0, "nothing applied");
	is_int(q_int("SELECT count(*) FROM staging"), 0, "staging cleared");
}

static void test_applied(struct catalog *c)
{
	struct catalog_batch b = batch(42);
	unsigned char d[32] = { 9, 8, 7 }, got[32];

	catalog_begin(c);
	is_int(catalog_applied_add(c, &b, d), 0, "mark applied");
	is_int(catalog_applied_lookup(c, AGENT, 1, 42, got), 0, "found");
	ok(memcmp(d, got, 32) == 0, "same digest");
	is_int(catalog_applied_lookup(c, AGENT, 2, 42, got), CATALOG_E_NOT_FOUND, "another incarnation's seq");
	catalog_rollback(c);
	is_int(q_int("SELECT count(*) FROM applied WHERE seq = 42"), 0, "rolled back");
}

/* Recomputes every row's hash from its fields and checks each row links to the one before. */
static void test_chain(const char *when)
{
	sqlite3_stmt *st;
	unsigned char prev[32] = { 0 }, h[32];
	int rows = 0, linked = 0, hashed = 0;

	sqlite3_prepare_v2(ro, "SELECT observed, recorded, agent_id, source, seq, key, kind, path, op, field, before,"
			   " after, severity, heuristic, origin, prev_hash, row_hash FROM history ORDER BY id",
			   -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct catalog_history_row r = {
			.observed = (uint64_t)sqlite3_column_int64(st, 0),
			.recorded = (uint64_t)sqlite3_column_int64(st, 1),
			.agent_id = (const char *)sqlite3_column_text(st, 2),
			.source = (const char *)sqlite3_column_text(st, 3),
			.seq = (uint64_t)sqlite3_column_int64(st, 4),
			.key = (const char *)sqlite3_column_text(st, 5),
			.kind = (const char *)sqlite3_column_text(st, 6),
			.path = (const char *)sqlite3_column_text(st, 7),
			.op = (const char *)sqlite3_column_text(st, 8),
			.field = (const char *)sqlite3_column_text(st, 9),
			.before = (const char *)sqlite3_column_text(st, 10),
			.after = (const char *)sqlite3_column_text(st, 11),
			.severity = (const char *)sqlite3_column_text(st, 12),
			.heuristic = sqlite3_column_int(st, 13) != 0,
			.origin = (const char *)sqlite3_column_text(st, 14),
		};

		rows++;
		linked += sqlite3_column_bytes(st, 15) == 32 && memcmp(sqlite3_column_blob(st, 15), prev, 32) == 0;
		catalog_history_hash(prev, &r, h);
		hashed += sqlite3_column_bytes(st, 16) == 32 && memcmp(sqlite3_column_blob(st, 16), h, 32) == 0;
		memcpy(prev, h, 32);
	}
	sqlite3_finalize(st);
	ok(rows > 0 && linked == rows, "%s: every row links to the previous one (%d rows)", when, rows);
	ok(rows > 0 && hashed == rows, "%s: every row hash recomputes", when);
}

static void test_append_only(void)
{
	ok(sqlite3_exec(ro, "UPDATE history SET after = 'x' WHERE id = 1", NULL, NULL, NULL) != SQLITE_OK,
	   "history refuses UPDATE");
	ok(sqlite3_exec(ro, "DELETE FROM history WHERE id = 1", NULL, NULL, NULL) != SQLITE_OK,
	   "history refuses DELETE");
}

static void test_reopen(struct catalog **c, struct snapshot **cur)
{
	struct variant v = base;
	struct snapshot *next;
	char err[512];

	catalog_close(*c);
	is_int(catalog_open(dbpath, c, err, sizeof(err)), 0, "reopen");
	v.dept_name = "department_id";
	v.table_name = "staff";
	v.view = false;
	v.dept_comment = "部门与科室";
	next = build(&v);
	is_int(apply_diff(*c, *cur, next, 9), 0, "a delta after reopening");
	snapshot_free(*cur);
	*cur = next;
	test_chain("after reopen");
}

/* A hand-deleted schema row leaves its descendants orphaned; the next resync repairs the catalog. */
static void test_orphans(struct catalog *c, const struct snapshot *cur)
{
	long long objects = q_int("SELECT count(*) FROM objects");
	size_t n = 0;

	ok(sqlite3_exec(ro, "DELETE FROM objects WHERE key = 'n:1'", NULL, NULL, NULL) == SQLITE_OK,
	   "a schema row deleted behind the catalog's back");
	is_int(apply_snapshot(c, cur, 10, cur->root, &n), 0, "a resync over the damaged catalog applies");
	is_int(q_int("SELECT count(*) FROM objects"), objects, "every object is back");
	is_str(path_of("a:10:2"), "hr/hrdb/public/staff.department_id", "with its path");
	is_int(q_int("SELECT count(*) FROM history WHERE seq = 10 AND op = 'ADD' AND key = 'n:1'"), 1,
	       "the schema comes back with an ADD");
	is_int(q_int("SELECT count(*) FROM history WHERE seq = 10 AND op = 'DROP'"), objects - 2,
	       "each orphan leaves with a DROP");
	is_int(q_int("SELECT count(*) FROM edges"), 3, "the edges are rebuilt (fk, owned_by, partition)");
	test_chain("after the repair");
}

static void test_schema_version(void)
{
	char path[300], err[512];
	struct catalog *c = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/future.db", dir);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
			 "INSERT INTO meta VALUES('schema_version', '2');", NULL, NULL, NULL);
	sqlite3_close(db);
	is_int(catalog_open(path, &c, err, sizeof(err)), CATALOG_E_SCHEMA, "a newer schema version is refused");
	ok(strstr(err, "schema version") != NULL, "with a message: %s", err);
	unlink(path);
}

/* A catalog made before the command queue: opening it adds the table and the columns, and opening it
 * again changes nothing. */
static long long count_in(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int collect_cmd(void *ctx, const struct catalog_command *cmd)
{
	struct buf *b = ctx;

	buf_addf(b, "%s:%d:%lld:%s;", cmd->source, cmd->kind, (long long)cmd->interval_s,
		   cmd->agent_id ? cmd->agent_id : "-");
	return 0;
}

static void test_upgrade(void)
{
	char path[300], err[512] = "";
	struct catalog *c = NULL;
	struct buf b;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/old.db", dir);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
			 "INSERT INTO meta VALUES('schema_version', '1');"
			 "CREATE TABLE sources(name TEXT PRIMARY KEY, agent_id TEXT NOT NULL, driver TEXT,"
			 " department TEXT, system TEXT, root_hash TEXT, interval_s INTEGER, last_start INTEGER,"
			 " last_end INTEGER, duration_ms INTEGER, objects INTEGER, last_error TEXT, ok INTEGER,"
			 " next_run INTEGER, last_applied INTEGER);"
			 "INSERT INTO sources(name, agent_id, interval_s) VALUES('hr', 'a1', 3600), ('crm', 'a1', 60),"
			 " ('fin', 'a2', 60);",
		     NULL, NULL, NULL);
	for (int i = 0; i < 2; i++) {
		is_int(catalog_open(path, &c, err, sizeof(err)), 0, "an older catalog opens (%d): %s", i + 1, err);
		catalog_close(c);
		c = NULL;
	}
	is_int(count_in(db, "SELECT count(*) FROM pragma_table_info('sources') WHERE name IN"
			    " ('interval_override', 'last_warning')"), 2, "the new columns were added");
	is_int(count_in(db, "SELECT count(*) FROM commands"), 0, "the command queue exists, empty");
	is_int(count_in(db, "SELECT count(*) FROM sources WHERE interval_s IS NOT NULL"), 3, "rows kept");

	sqlite3_exec(db, "UPDATE sources SET interval_override = 120 WHERE name IN ('hr', 'fin');"
			 "INSERT INTO commands(source, kind, created) VALUES('crm', 'probe_now', 1), ('x', 'reboot', 2);"
			 "INSERT INTO commands(source, kind, interval_s, created, sent) VALUES('hr', 'set_interval', 5, 3, 4)",
		     NULL, NULL, NULL);
	is_int(catalog_open(path, &c, err, sizeof(err)), 0, "opened again");
	buf_init(&b);
	is_int(catalog_commands_pending(c, collect_cmd, &b), 0, "pending commands");
	buf_addc(&b, '\0');
	is_str(b.data, "crm:0:-1:a1;x:-1:-1:-;", "unsent ones, oldest first, with the owner; an unknown kind is -1");
	b.len = 0;
	is_int(catalog_interval_overrides(c, "a1", collect_cmd, &b), 0, "overrides of a1");
	buf_addc(&b, '\0');
	is_str(b.data, "hr:1:120:a1;", "only a1's, as set_interval");
	is_int(catalog_command_sent(c, 1, 99), 0, "mark sent");
	is_int(count_in(db, "SELECT sent FROM commands WHERE id = 1"), 99, "marked");
	buf_free(&b);
	catalog_close(c);
	sqlite3_close(db);
	unlink(path);
}

/* A source keyed by name: a heuristic rename moves the object, and the edges, to the new key. */
static struct snapshot *build_named(const char *col)
{
	struct snapshot *s = snapshot_new(SOURCE);
	char key[64];
	struct obj *o;

	snprintf(key, sizeof(key), "a:shop/orders/%s", col);
	add(s, OBJ_DATABASE, "d", NULL, "def");
	add(s, OBJ_SCHEMA, "n:shop", "d", "shop");
	add(s, OBJ_TABLE, "r:shop/orders", "n:shop", "orders");
	o = add(s, OBJ_COLUMN, key, "r:shop/orders", col);
	obj_set(o, "ordinal", "2");
	obj_set(o, "type", "int(11)");
	add(s, OBJ_TABLE, "r:shop/customers", "n:shop", "customers");
	o = add(s, OBJ_COLUMN, "a:shop/customers/id", "r:shop/customers", "id");
	obj_set(o, "ordinal", "1");
	o = add(s, OBJ_FOREIGN_KEY, "c:shop/orders/fk", "r:shop/orders", "fk");
	obj_set(o, "columns", key);
	obj_set(o, "ref_table", "r:shop/customers");
	obj_set(o, "ref_columns", "a:shop/customers/id");
	if (snapshot_finish(s) != 0)
		abort();
	return s;
}

static void test_rekey(struct catalog *c)
{
	struct snapshot *a = build_named("cust"), *b = build_named("customer");

	ok(apply_diff(c, NULL, a, 900) == 0, "a name-keyed source applies");
	ok(apply_diff(c, a, b, 901) == 0, "a heuristic rename applies");
	is_int(q_int("SELECT count(*) FROM objects WHERE key = 'a:shop/orders/cust'"), 0, "the old key is gone");
	is_str(path_of("a:shop/orders/customer"), "hr/def/shop/orders.customer", "the object lives on under its new key");
	is_int(q_int("SELECT count(*) FROM edges WHERE kind = 'fk' AND from_key = 'a:shop/orders/customer'"
		     " AND to_key = 'a:shop/customers/id'"), 1, "the FK edge follows the new key");
	is_int(q_int("SELECT count(*) FROM edges WHERE 'a:shop/orders/cust' IN (from_key, to_key, via)"), 0,
	       "no edge keeps the old key");
	is_int(q_int("SELECT heuristic FROM history WHERE key = 'a:shop/orders/customer' AND op = 'RENAME'"), 1,
	       "the history row says the rename was inferred");
	snapshot_free(a);
	snapshot_free(b);
}

static void cleanup(void)
{
	static const char *const files[] = { "catalog.db", "catalog.db-wal", "catalog.db-shm", "future.db-journal" };
	char path[300];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	struct catalog *c = NULL;
	struct snapshot *cur;

	if (!mkdtemp(dir))
		skip_all("cannot create a temporary directory");
	test_open(&c);
	if (!c)
		return done_testing();
	test_agents(c);
	cur = build(&base);
	test_baseline(c, cur);
	test_deltas(c, &cur);
	test_obs(c);
	test_resync(c, &cur);
	test_stage_corrupt(c, cur);
	test_applied(c);
	test_chain("after deltas and a resync");
	test_append_only();
	test_reopen(&c, &cur);
	test_orphans(c, cur);
	test_schema_version();
	test_upgrade();
	test_rekey(c);
	snapshot_free(cur);
	catalog_close(c);
	sqlite3_close(ro);
	cleanup();
	return done_testing();
}
