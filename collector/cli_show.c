/*
 * prospector show OBJECT: one object with everything the catalog knows around it — attributes
 * (references rendered as names), observations, and sections for its columns, constraints,
 * indexes, foreign keys out and in, view dependencies both ways and the objects it contains.
 *
 * Each section is one row of show_sections: a query bound to the object's source (?1) and key
 * (?2), and how a row prints as JSON and as text. Every query returns key, name, kind, path and
 * the attributes first, then the section's own columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

const char cli_show_help[] =
	"DESCRIPTION\n"
	"       Shows one object of the catalog. OBJECT is a path (hr/hr/public/employees,\n"
	"       hr/hr/public/employees.salary) or SOURCE:KEY (hr:r:16384).\n"
	"\n"
	"       Printed are the object's kind, source, key, parent, attributes and comment, its\n"
	"       observations (estimated rows, total bytes) and when it was first seen and last\n"
	"       changed; for a table its columns in ordinal order (name, type, nullability, default,\n"
	"       comment), its constraints and indexes, the foreign keys it holds (with the referenced\n"
	"       table's path) and those that reference it (with the referencing table's path); the\n"
	"       views it depends on and those that depend on it; and the objects it contains (a\n"
	"       schema's tables, a partitioned table's partitions). For a column, the foreign keys it\n"
	"       takes part in. References (an index's columns, a view's dependencies) are shown as\n"
	"       names: a column by its name, anything else by its path.\n"
	"\n"
	"OPTIONS\n"
	"       --json\n"
	"              Print {\"object\":{\"path\", \"source\", \"key\", \"kind\", \"name\", \"parent\",\n"
	"              \"attrs\", \"obs\", \"first_seen\", \"last_changed\", \"columns\", \"constraints\",\n"
	"              \"indexes\", \"fk_out\", \"fk_in\", \"depends_on\", \"dependents\", \"children\"}}.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector show hr/hr/public/employees\n"
	"       prospector show hr:r:16384 --json | jq '.object.columns[].name'\n";

/* attrs as valid JSON, so that json_extract never fails a whole query on one bad row */
#define SHOW_OBJECTS "(SELECT *, CASE WHEN json_valid(attrs) THEN attrs ELSE '{}' END AS a FROM objects)"
/* ?2 is one of the keys of the REFS value x */
#define SHOW_IN_REFS(x) "instr(char(31) || coalesce(" x ", '') || char(31), char(31) || ?2 || char(31)) > 0"

struct show_obj {
	char *source, *key, *kind, *name, *path, *parent_path, *attrs, *obs;
	sqlite3_int64 first_seen, last_changed;
};

enum {
	OBJ_SOURCE,
	OBJ_KEY,
	OBJ_KIND,
	OBJ_NAME,
	OBJ_PATH,
	OBJ_PARENT_PATH,
	OBJ_ATTRS,
	OBJ_OBS,
	OBJ_FIRST_SEEN,
	OBJ_LAST_CHANGED,
};

#define SHOW_OBJECT_SELECT \
	"SELECT source, key, kind, name, path," \
	" (SELECT p.path FROM objects p WHERE p.source = o.source AND p.key = o.parent)," \
	" a, CASE WHEN json_valid(obs) THEN json(obs) ELSE '{}' END, first_seen, last_changed" \
	" FROM " SHOW_OBJECTS " o"

static const char show_by_path_sql[] = SHOW_OBJECT_SELECT " WHERE path = ?1 ORDER BY source, key";
static const char show_by_key_sql[] = SHOW_OBJECT_SELECT " WHERE source = ?1 AND key = ?2";

/* Columns every section query starts with. */
enum {
	ROW_KEY,
	ROW_NAME,
	ROW_KIND,
	ROW_PATH,
	ROW_ATTRS,
	ROW_EXTRA,
};

/* --- finding the object --------------------------------------------------------------------------- */

static char *show_strdup_col(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : xstrdup(cli_col_str(st, i));
}

static void show_obj_load(struct show_obj *o, sqlite3_stmt *st)
{
	o->source = show_strdup_col(st, OBJ_SOURCE);
	o->key = show_strdup_col(st, OBJ_KEY);
	o->kind = show_strdup_col(st, OBJ_KIND);
	o->name = show_strdup_col(st, OBJ_NAME);
	o->path = show_strdup_col(st, OBJ_PATH);
	o->parent_path = show_strdup_col(st, OBJ_PARENT_PATH);
	o->attrs = show_strdup_col(st, OBJ_ATTRS);
	o->obs = show_strdup_col(st, OBJ_OBS);
	o->first_seen = sqlite3_column_int64(st, OBJ_FIRST_SEEN);
	o->last_changed = sqlite3_column_int64(st, OBJ_LAST_CHANGED);
}

static void show_obj_free(struct show_obj *o)
{
	free(o->source);
	free(o->key);
	free(o->kind);
	free(o->name);
	free(o->path);
	free(o->parent_path);
	free(o->attrs);
	free(o->obs);
}

/* PostgreSQL names a primary key and its index alike, so two objects can share a path: the first
 * is shown, and the others are named so that SOURCE:KEY can reach them. */
static void show_others(sqlite3_stmt *st, const char *path)
{
	while (sqlite3_step(st) == SQLITE_ROW)
		log_warnx("note: '%s' also names %s:%s (%s); show that one by its SOURCE:KEY", path,
			cli_col_str(st, OBJ_SOURCE), cli_col_str(st, OBJ_KEY), cli_col_str(st, OBJ_KIND));
}

/* 1 found, 0 not found, -1 after a reported error. b (?2) may be NULL. */
static int show_lookup(struct cli *c, const char *sql, const char *a, const char *b, struct show_obj *o)
{
	sqlite3_stmt *st;
	int rc;

	if (cli_prepare(c, sql, &st) != CLI_EXIT_OK)
		return -1;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
	rc = cli_step(c, st);
	if (rc == SQLITE_ROW) {
		show_obj_load(o, st);
		show_others(st, a);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A path first; SOURCE:KEY when no path matches (keys contain ':', source names do not). */
static int show_find(struct cli *c, const char *arg, struct show_obj *o)
{
	const char *colon = strchr(arg, ':');
	char *source;
	int found = show_lookup(c, show_by_path_sql, arg, NULL, o);

	if (found == 0 && colon) {
		source = xstrndup(arg, (size_t)(colon - arg));
		found = show_lookup(c, show_by_key_sql, source, colon + 1, o);
		free(source);
	}
	if (found < 0)
		return CLI_EXIT_ERR;
	if (found == 0) {
		log_warnx("no object '%s' in %s", arg, c->db_path);
		return CLI_EXIT_ERR;
	}
	return CLI_EXIT_OK;
}

/* --- sections --------------------------------------------------------------------------------------- */

struct show_section {
	const char *json_key;
	const char *title;
	const char *sql;
	void (*json_row)(struct cli *c, struct cli_json *j, sqlite3_stmt *st, const struct show_obj *o);
	const struct cli_col *cols;
	size_t ncols;
	void (*text_row)(struct cli *c, struct cli_table *t, sqlite3_stmt *st, const struct show_obj *o);
};

/* columns */

enum { COL_ORDINAL = ROW_EXTRA, COL_TYPE, COL_NULLABLE, COL_DEFAULT, COL_COMMENT };

static const char show_columns_sql[] =
	"SELECT key, name, kind, path, a, json_extract(a, '$.ordinal'), json_extract(a, '$.type'),"
	" json_extract(a, '$.nullable'), json_extract(a, '$.default'), json_extract(a, '$.comment')"
	" FROM " SHOW_OBJECTS " WHERE source = ?1 AND parent = ?2 AND kind = 'column'"
	" ORDER BY CAST(json_extract(a, '$.ordinal') AS INTEGER), name";

static bool show_true(sqlite3_stmt *st, int i)
{
	return strcmp(cli_col_str(st, i), "true") == 0;
}

static void show_column_json(struct cli *c, struct cli_json *j, sqlite3_stmt *st, const struct show_obj *o)
{
	cli_json_obj(j, NULL);
	cli_json_col_str(j, "name", st, ROW_NAME);
	cli_json_col_str(j, "key", st, ROW_KEY);
	cli_json_col_int(j, "ordinal", st, COL_ORDINAL);
	cli_json_col_str(j, "type", st, COL_TYPE);
	cli_json_bool(j, "nullable", show_true(st, COL_NULLABLE));
	cli_json_col_str(j, "default", st, COL_DEFAULT);
	cli_json_col_str(j, "comment", st, COL_COMMENT);
	cli_json_attrs(c, j, "attrs", o->source, "column", cli_col_str(st, ROW_ATTRS));
	cli_json_end(j);
}

static const struct cli_col show_column_cols[] = {
	{ "#", CLI_RIGHT, 0 },
	{ "NAME", CLI_LEFT, 0 },
	{ "TYPE", CLI_LEFT, 0 },
	{ "NULLABLE", CLI_LEFT, 0 },
	{ "DEFAULT", CLI_LEFT, 40 },
	{ "COMMENT", CLI_LEFT, 60 },
};

static void show_column_text(struct cli *c, struct cli_table *t, sqlite3_stmt *st, const struct show_obj *o)
{
	(void)c;
	(void)o;
	cli_table_cell(t, cli_col_str(st, COL_ORDINAL));
	cli_table_cell(t, cli_col_str(st, ROW_NAME));
	cli_table_cell(t, cli_col_str(st, COL_TYPE));
	cli_table_cell(t, show_true(st, COL_NULLABLE) ? "yes" : "no");
	cli_table_cell(t, cli_col_str(st, COL_DEFAULT));
	cli_table_cell(t, cli_col_str(st, COL_COMMENT));
}

/* constraints and indexes */

enum { CON_COLUMNS = ROW_EXTRA, CON_UNIQUE, CON_METHOD };

static const char show_constraints_sql[] =
	"SELECT key, name, kind, path, a, json_extract(a, '$.columns') FROM " SHOW_OBJECTS
	" WHERE source = ?1 AND parent = ?2 AND kind IN ('primary_key', 'unique', 'check', 'foreign_key')"
	" ORDER BY name";

static const char show_indexes_sql[] =
	"SELECT key, name, kind, path, a, json_extract(a, '$.columns'), json_extract(a, '$.unique'),"
	" json_extract(a, '$.method') FROM " SHOW_OBJECTS
	" WHERE source = ?1 AND parent = ?2 AND kind = 'index' ORDER BY name";

static void show_constraint_json(struct cli *c, struct cli_json *j, sqlite3_stmt *st, const struct show_obj *o)
{
	cli_json_obj(j, NULL);
	cli_json_col_str(j, "name", st, ROW_NAME);
	cli_json_col_str(j, "key", st, ROW_KEY);
	cli_json_col_str(j, "kind", st, ROW_KIND);
	cli_json_refs(c, j, "columns", o->source, cli_col_str(st, CON_COLUMNS));
	cli_json_attrs(c, j, "attrs", o->source, cli_col_str(st, ROW_KIND), cli_col_str(st, ROW_ATTRS));
	cli_json_end(j);
}

static void show_index_json(struct cli *c, struct cli_json *j, sqlite3_stmt *st, const struct show_obj *o)
{
	cli_json_obj(j, NULL);
	cli_json_col_str(j, "name", st, ROW_NAME);
	cli_json_col_str(j, "key", st, ROW_KEY);
	cli_json_refs(c, j, "columns", o->source, cli_col_str(st, CON_COLUMNS));
	cli_json_bool(j, "unique", show_true(st, CON_UNIQUE));
	cli_json_col_str(j, "method", st, CON_METHOD);
	cli_json_attrs(c, j, "attrs", o->source, "index", cli_col_str(st, ROW_ATTRS));
	cli_json_end(j);
}

static const struct cli_col show_constraint_cols[] = {
	{ "NAME", CLI_LEFT, 0 },
	{ "KIND", CLI_LEFT, 0 },
	{ "COLUMNS", CLI_LEFT, 0 },
	{ "DETAIL", CLI_LEFT, 0 },
};

static void show_refs_cell(struct cli *c, struct cli_table *t, const struct show_obj *o, sqlite3_stmt *st, int i)
{
	char *names = cli_refs_render(c, o->source, cli_col_str(st, i));

	cli_table_cell(t, names);
	free(names);
}

static void show_detail_cell(struct cli *c, struct cli_table *t, const struct show_obj *o, sqlite3_stmt *st,
	const char *const *skip)
{
	char *detail = cli_attrs_text(c, o->source, cli_col_str(st, ROW_KIND), cli_col_str(st, ROW_ATTRS), skip);

	cli_table_cell(t, detail);
	free(detail);
}

static void show_constraint_text(struct cli *c, struct cli_table *t, sqlite3_stmt *st, const struct show_obj *o)
{
	static const char *const skip[] = { "columns", NULL };

	cli_table_cell(t, cli_col_str(st, ROW_NAME));
	cli_table_cell(t, cli_col_str(st, ROW_KIND));
	show_refs_cell(c, t, o, st, CON_COLUMNS);
	show_detail_cell(c, t, o, st, skip);
}

static const struct cli_col show_index_cols[] = {
	{ "NAME", CLI_LEFT, 0 },
	{ "COLUMNS", CLI_LEFT, 0 },
	{ "UNIQUE", CLI_LEFT, 0 },
	{ "METHOD", CLI_LEFT, 0 },
	{ "DETAIL", CLI_LEFT, 0 },
};

static void show_index_text(struct cli *c, struct cli_table *t, sqlite3_stmt *st, const struct show_obj *o)
{
	static const char *const skip[] = { "columns", "unique", "method", NULL };

	cli_table_cell(t, cli_col_str(st, ROW_NAME));
	show_refs_cell(c, t, o, st, CON_COLUMNS);
	cli_table_cell(t, show_true(st, CON_UNIQUE) ? "yes" : "no");
	cli_table_cell(t, cli_col_str(st, CON_METHOD));
	show_detail_cell(c, t, o, st, skip);
}

/* foreign keys: those the object holds (a table's, or those a column takes part in) and those
 * that reference it (the table, or the column among the referenced ones) */

enum { FK_COLUMNS = ROW_EXTRA, FK_REF_COLUMNS, FK_TABLE, FK_REF_TABLE, FK_ON_DELETE, FK_ON_UPDATE };

#define SHOW_FK_SELECT \
	"SELECT key, name, kind, path, a, json_extract(a, '$.columns'), json_extract(a, '$.ref_columns')," \
	" (SELECT p.path FROM objects p WHERE p.source = f.source AND p.key = f.parent)," \
	" (SELECT p.path FROM objects p WHERE p.source = f.source AND p.key = json_extract(f.a, '$.ref_table'))," \
	" json_extract(a, '$.on_delete'), json_extract(a, '$.on_update')" \
	" FROM " SHOW_OBJECTS " f WHERE source = ?1 AND kind = 'foreign_key'"

static const char show_fk_out_sql[] =
	SHOW_FK_SELECT " AND (parent = ?2 OR " SHOW_IN_REFS("json_extract(a, '$.columns')") ") ORDER BY path";
static const char show_fk_in_sql[] =
	SHOW_FK_SELECT " AND (json_extract(a, '$.ref_table') = ?2 OR "
	SHOW_IN_REFS("json_extract(a, '$.ref_columns')") ") ORDER BY path";

static void show_fk_json(struct cli *c, struct cli_json *j, sqlite3_stmt *st, const struct show_obj *o)
{
	cli_json_obj(j, NULL);
	cli_json_col_str(j, "name", st, ROW_NAME);
	cli_json_col_str(j, "key", st, ROW_KEY);
	cli_json_col_str(j, "path", st, ROW_PATH);
	cli_json_col_str(j, "table", st, FK_TABLE);
	cli_json_refs(c, j, "columns", o->source, cli_col_str(st, FK_COLUMNS));
	cli_json_col_str(j, "ref_table", st, FK_REF_TABLE);
	cli_json_refs(c, j, "ref_columns", o->source, cli_col_str(st, FK_REF_COLUMNS));
	cli_json_col_str(j, "on_delete", st, FK_ON_DELETE);
	cli_json_col_str(j, "on_update", st, FK_ON_UPDATE);
	cli_json_end(j);
}

static const struct cli_col show_fk_out_cols[] = {
	{ "NAME", CLI_LEFT, 0 },
	{ "COLUMNS", CLI_LEFT, 0 },
	{ "REFERENCES", CLI_LEFT, 0 },
	{ "ON DELETE", CLI_LEFT, 0 },
	{ "ON UPDATE", CLI_LEFT, 0 },
};

/* "hr/hr/public/dept(id)" */
static void show_fk_target_cell(struct cli *c, struct cli_table *t, const struct show_obj *o, sqlite3_stmt *st,
	int table, int columns)
{
	char *names = cli_refs_render(c, o->source, cli_col_str(st, columns));

	cli_table_cellf(t, "%s(%s)", cli_col_str(st, table), names);
	free(names);
}

static void show_fk_out_text(struct cli *c, struct cli_table *t, sqlite3_stmt *st, const struct show_obj *o)
{
	cli_table_cell(t, cli_col_str(st, ROW_NAME));
	show_refs_cell(c, t, o, st, FK_COLUMNS);
	show_fk_target_cell(c, t, o, st, FK_REF_TABLE, FK_REF_COLUMNS);
	cli_table_cell(t, cli_col_str(st, FK_ON_DELETE));
	cli_table_cell(t, cli_col_str(st, FK_ON_UPDATE));
}

static const struct cli_col show_fk_in_cols[] = {
	{ "FROM", CLI_LEFT, 0 },
	{ "NAME", CLI_LEFT, 0 },
	{ "REFERENCED COLUMNS", CLI_LEFT, 0 },
	{ "ON DELETE", CLI_LEFT, 0 },
};

static void show_fk_in_text(struct cli *c, struct cli_table *t, sqlite3_stmt *st, const struct show_obj *o)
{
	show_fk_target_cell(c, t, o, st, FK_TABLE, FK_COLUMNS);
	cli_table_cell(t, cli_col_str(st, ROW_NAME));
	show_refs_cell(c, t, o, st, FK_REF_COLUMNS);
	cli_table_cell(t, cli_col_str(st, FK_ON_DELETE));
}

/* related objects: view dependencies both ways, contained objects */

enum { REL_COMMENT = ROW_EXTRA };

#define SHOW_EDGE_SELECT(end) \
	"SELECT DISTINCT o.key, o.name, o.kind, o.path, o.a, json_extract(o.a, '$.comment') FROM edges e" \
	" JOIN " SHOW_OBJECTS " o ON o.source = e.source AND o.key = e." end

static const char show_depends_on_sql[] =
	SHOW_EDGE_SELECT("to_key") " WHERE e.source = ?1 AND e.from_key = ?2 AND e.kind = 'view_dep' ORDER BY o.path";
static const char show_dependents_sql[] =
	SHOW_EDGE_SELECT("from_key") " WHERE e.source = ?1 AND e.to_key = ?2 AND e.kind = 'view_dep' ORDER BY o.path";
static const char show_children_sql[] =
	"SELECT key, name, kind, path, a, json_extract(a, '$.comment') FROM " SHOW_OBJECTS
	" WHERE source = ?1 AND parent = ?2"
	" AND kind NOT IN ('column', 'primary_key', 'unique', 'check', 'foreign_key', 'index') ORDER BY path";

static void show_related_json(struct cli *c, struct cli_json *j, sqlite3_stmt *st, const struct show_obj *o)
{
	(void)c;
	(void)o;
	cli_json_obj(j, NULL);
	cli_json_col_str(j, "path", st, ROW_PATH);
	cli_json_col_str(j, "kind", st, ROW_KIND);
	cli_json_col_str(j, "key", st, ROW_KEY);
	cli_json_col_str(j, "comment", st, REL_COMMENT);
	cli_json_end(j);
}

static const struct cli_col show_related_cols[] = {
	{ "PATH", CLI_LEFT, 0 },
	{ "KIND", CLI_LEFT, 0 },
	{ "COMMENT", CLI_LEFT, 60 },
};

static void show_related_text(struct cli *c, struct cli_table *t, sqlite3_stmt *st, const struct show_obj *o)
{
	(void)c;
	(void)o;
	cli_table_cell(t, cli_col_str(st, ROW_PATH));
	cli_table_cell(t, cli_col_str(st, ROW_KIND));
	cli_table_cell(t, cli_col_str(st, REL_COMMENT));
}

#define SHOW_COLS(a) a, CLI_LEN(a)

static const struct show_section show_sections[] = {
	{ "columns", "Columns", show_columns_sql, show_column_json, SHOW_COLS(show_column_cols), show_column_text },
	{ "constraints", "Constraints", show_constraints_sql, show_constraint_json, SHOW_COLS(show_constraint_cols),
		show_constraint_text },
	{ "indexes", "Indexes", show_indexes_sql, show_index_json, SHOW_COLS(show_index_cols), show_index_text },
	{ "fk_out", "Foreign keys", show_fk_out_sql, show_fk_json, SHOW_COLS(show_fk_out_cols), show_fk_out_text },
	{ "fk_in", "Referenced by", show_fk_in_sql, show_fk_json, SHOW_COLS(show_fk_in_cols), show_fk_in_text },
	{ "depends_on", "Depends on", show_depends_on_sql, show_related_json, SHOW_COLS(show_related_cols),
		show_related_text },
	{ "dependents", "Dependents", show_dependents_sql, show_related_json, SHOW_COLS(show_related_cols),
		show_related_text },
	{ "children", "Contains", show_children_sql, show_related_json, SHOW_COLS(show_related_cols),
		show_related_text },
};

static int show_section_query(struct cli *c, const struct show_section *s, const struct show_obj *o,
	sqlite3_stmt **ret_st)
{
	int r = cli_prepare(c, s->sql, ret_st);

	if (r == CLI_EXIT_OK) {
		sqlite3_bind_text(*ret_st, 1, o->source, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(*ret_st, 2, o->key, -1, SQLITE_TRANSIENT);
	}
	return r;
}

/* --- JSON ----------------------------------------------------------------------------------------- */

static int show_json_section(struct cli *c, struct cli_json *j, const struct show_section *s, const struct show_obj *o)
{
	sqlite3_stmt *st;
	int rc;

	if (show_section_query(c, s, o, &st) != CLI_EXIT_OK)
		return CLI_EXIT_ERR;
	cli_json_arr(j, s->json_key);
	while ((rc = cli_step(c, st)) == SQLITE_ROW)
		s->json_row(c, j, st, o);
	cli_json_end(j);
	sqlite3_finalize(st);
	return cli_step_status(rc);
}

static void show_json_head(struct cli *c, struct cli_json *j, const struct show_obj *o)
{
	char t[32];

	cli_json_str(j, "path", o->path);
	cli_json_str(j, "source", o->source);
	cli_json_str(j, "key", o->key);
	cli_json_str(j, "kind", o->kind);
	cli_json_str(j, "name", o->name);
	cli_json_str(j, "parent", o->parent_path);
	cli_json_attrs(c, j, "attrs", o->source, o->kind, o->attrs);
	cli_json_raw(j, "obs", o->obs);
	time_format_rfc3339((uint64_t)o->first_seen, t);
	cli_json_str(j, "first_seen", t);
	time_format_rfc3339((uint64_t)o->last_changed, t);
	cli_json_str(j, "last_changed", t);
}

static int show_json(struct cli *c, const struct show_obj *o)
{
	struct cli_json j;
	int r = CLI_EXIT_OK;

	cli_json_init(&j, stdout);
	cli_json_obj(&j, NULL);
	cli_json_obj(&j, "object");
	show_json_head(c, &j, o);
	for (size_t i = 0; r == CLI_EXIT_OK && i < CLI_LEN(show_sections); i++)
		r = show_json_section(c, &j, &show_sections[i], o);
	if (r != CLI_EXIT_OK) {
		cli_json_abort(&j);
		return r;
	}
	cli_json_end(&j);
	cli_json_end(&j);
	return cli_json_finish(c, &j);
}

/* --- text ----------------------------------------------------------------------------------------- */

static const struct cli_col show_head_cols[] = {
	{ NULL, CLI_LEFT, 0 },
	{ NULL, CLI_LEFT, 0 },
};

/* Observations are numbers; bytes read better in binary units with the exact value beside. */
static void show_text_obs(struct cli *c, struct cli_table *t, const struct show_obj *o)
{
	sqlite3_stmt *st;
	char b[32];

	if (cli_prepare(c, "SELECT key, value FROM json_each(?1) ORDER BY key", &st) != CLI_EXIT_OK)
		return;
	sqlite3_bind_text(st, 1, o->obs, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cli_table_cell(t, cli_col_str(st, 0));
		if (strcmp(cli_col_str(st, 0), "bytes") == 0)
			cli_table_cellf(t, "%s (%s)", cli_fmt_bytes(sqlite3_column_int64(st, 1), b), cli_col_str(st, 1));
		else
			cli_table_cell(t, cli_col_str(st, 1));
	}
	sqlite3_finalize(st);
}

static void show_text_head(struct cli *c, const struct show_obj *o)
{
	struct cli_table *t = cli_table_new(show_head_cols, CLI_LEN(show_head_cols));
	char b[32];

	printf("%s\n", o->path);
	cli_table_cell(t, "kind");
	cli_table_cell(t, o->kind);
	cli_table_cell(t, "source");
	cli_table_cell(t, o->source);
	cli_table_cell(t, "key");
	cli_table_cell(t, o->key);
	cli_table_cell(t, "parent");
	cli_table_cell(t, o->parent_path ? o->parent_path : "-");
	cli_table_attrs(c, t, o->source, o->kind, o->attrs);
	show_text_obs(c, t, o);
	cli_table_cell(t, "first seen");
	time_format_rfc3339((uint64_t)o->first_seen, b);
	cli_table_cell(t, b);
	cli_table_cell(t, "last changed");
	time_format_rfc3339((uint64_t)o->last_changed, b);
	cli_table_cell(t, b);
	cli_table_print(t, stdout, "  ");
	cli_table_free(t);
}

static int show_text_section(struct cli *c, const struct show_section *s, const struct show_obj *o)
{
	struct cli_table *t;
	sqlite3_stmt *st;
	int rc;

	if (show_section_query(c, s, o, &st) != CLI_EXIT_OK)
		return CLI_EXIT_ERR;
	t = cli_table_new(s->cols, s->ncols);
	while ((rc = cli_step(c, st)) == SQLITE_ROW)
		s->text_row(c, t, st, o);
	if (rc == SQLITE_DONE && cli_table_rows(t) > 0) {
		printf("\n%s:\n", s->title);
		cli_table_print(t, stdout, "  ");
	}
	cli_table_free(t);
	sqlite3_finalize(st);
	return cli_step_status(rc);
}

static int show_text(struct cli *c, const struct show_obj *o)
{
	int r = CLI_EXIT_OK;

	show_text_head(c, o);
	for (size_t i = 0; r == CLI_EXIT_OK && i < CLI_LEN(show_sections); i++)
		r = show_text_section(c, &show_sections[i], o);
	return r;
}

int cli_show(struct cli *c, int argc, char **argv)
{
	struct show_obj o = { 0 };
	int first, r;

	if ((r = cli_parse(c, argc, argv, NULL, NULL, &first)) != CLI_EXIT_OK)
		return r;
	if (argc - first != 1)
		return cli_usage(c, "expected one OBJECT (a path or SOURCE:KEY)");
	if ((r = cli_open(c)) != CLI_EXIT_OK || (r = show_find(c, argv[first], &o)) != CLI_EXIT_OK)
		return r;
	r = c->json ? show_json(c, &o) : show_text(c, &o);
	show_obj_free(&o);
	return r;
}
