/*
 * prospector catalog: the catalog's objects ordered by path. By default only the objects a
 * catalog maintainer browses (databases, schemas, tables, views, materialized views, sequences);
 * columns, constraints and indexes with --all, --kind, or a pattern that names them.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"

const char cli_catalog_help[] =
	"DESCRIPTION\n"
	"       Lists the objects of the catalog ordered by path: by default databases, schemas,\n"
	"       tables, views, materialized views and sequences, with the estimated row count and\n"
	"       total size of tables and each object's comment.\n"
	"\n"
	"       PATTERN selects objects by path. It is a glob ('*' matches any text including '/',\n"
	"       '?' one character, '[...]' a set) or a plain path; either way the objects below a\n"
	"       match are listed too, so 'hr' lists the whole source hr and hr/hr/public/employees\n"
	"       that table. When the last part of PATTERN contains '.' or '#', it names columns,\n"
	"       constraints or indexes, and those are listed as well.\n"
	"\n"
	"OPTIONS\n"
	"       --all\n"
	"              List every kind of object, columns, constraints and indexes included.\n"
	"       --source S\n"
	"              Only objects of source S.\n"
	"       --kind K\n"
	"              Only objects of kind K: database, schema, table, view, matview, column,\n"
	"              primary_key, unique, check, foreign_key, index or sequence.\n"
	"       --json\n"
	"              Print {\"objects\":[{\"path\", \"source\", \"key\", \"kind\", \"name\", \"attrs\":{...},\n"
	"              \"obs\":{...}}]}. Reference attributes (an index's columns, a view's\n"
	"              dependencies) are rendered as names.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector catalog\n"
	"       prospector catalog 'hr/*/public/*'\n"
	"       prospector catalog 'hr/hr/public/employees.*'\n"
	"       prospector catalog --source hr --kind column --json\n";

struct catalog_opts {
	bool all;
	const char *source;
	const char *kind;
};

static const struct cli_opt catalog_options[] = {
	{ "all", false, offsetof(struct catalog_opts, all) },
	{ "source", true, offsetof(struct catalog_opts, source) },
	{ "kind", true, offsetof(struct catalog_opts, kind) },
	{ NULL, false, 0 },
};

enum {
	CAT_SOURCE,
	CAT_KEY,
	CAT_KIND,
	CAT_NAME,
	CAT_PATH,
	CAT_ATTRS,
	CAT_OBS,
	CAT_TYPE,
	CAT_ROWS,
	CAT_BYTES,
	CAT_COMMENT,
};

/* Malformed attrs or obs read as empty rather than failing the listing. */
static const char catalog_sql[] =
	"SELECT source, key, kind, name, path, a, o, json_extract(a, '$.type'), json_extract(o, '$.rows'),"
	" json_extract(o, '$.bytes'), json_extract(a, '$.comment') FROM (SELECT *,"
	" CASE WHEN json_valid(attrs) THEN attrs ELSE '{}' END AS a,"
	" CASE WHEN json_valid(obs) THEN json(obs) ELSE '{}' END AS o FROM objects)";

static const char catalog_default_kinds[] =
	"kind IN ('database', 'schema', 'table', 'view', 'matview', 'sequence')";

/* "…/employees.*" or "…/employees#*" names what is inside a table. */
static bool catalog_names_members(const char *pattern)
{
	const char *last = strrchr(pattern, '/');

	return strpbrk(last ? last + 1 : pattern, ".#") != NULL;
}

static void catalog_filters(struct cli_query *q, const struct catalog_opts *o, const char *pattern)
{
	if (pattern)
		cli_query_and_path(q, pattern);
	if (o->source)
		cli_query_and_text(q, "source = ?", o->source);
	if (o->kind)
		cli_query_and_text(q, "kind = ?", o->kind);
	else if (!o->all && !(pattern && catalog_names_members(pattern)))
		cli_query_and_text(q, catalog_default_kinds, NULL);
	cli_query_add(q, " ORDER BY path, source, key");
}

static void catalog_json_row(struct cli *c, struct cli_json *j, sqlite3_stmt *st)
{
	cli_json_obj(j, NULL);
	cli_json_col_str(j, "path", st, CAT_PATH);
	cli_json_col_str(j, "source", st, CAT_SOURCE);
	cli_json_col_str(j, "key", st, CAT_KEY);
	cli_json_col_str(j, "kind", st, CAT_KIND);
	cli_json_col_str(j, "name", st, CAT_NAME);
	cli_json_attrs(c, j, "attrs", cli_col_str(st, CAT_SOURCE), cli_col_str(st, CAT_KIND), cli_col_str(st, CAT_ATTRS));
	cli_json_raw(j, "obs", cli_col_str(st, CAT_OBS));
	cli_json_end(j);
}

static const struct cli_col catalog_cols[] = {
	{ "PATH", CLI_LEFT, 0 },
	{ "KIND", CLI_LEFT, 0 },
	{ "TYPE", CLI_LEFT, 0 },
	{ "ROWS", CLI_RIGHT, 0 },
	{ "SIZE", CLI_RIGHT, 0 },
	{ "COMMENT", CLI_LEFT, 60 },
};

static void catalog_text_row(struct cli_table *t, sqlite3_stmt *st)
{
	char rows[32], bytes[32];
	bool sized = sqlite3_column_type(st, CAT_ROWS) != SQLITE_NULL || sqlite3_column_type(st, CAT_BYTES) != SQLITE_NULL;

	cli_table_cell(t, cli_col_str(st, CAT_PATH));
	cli_table_cell(t, cli_col_str(st, CAT_KIND));
	cli_table_cell(t, cli_col_str(st, CAT_TYPE));
	cli_table_cell(t, sized ? cli_col_count(st, CAT_ROWS, rows) : "");
	cli_table_cell(t, sized ? cli_col_bytes(st, CAT_BYTES, bytes) : "");
	cli_table_cell(t, cli_col_str(st, CAT_COMMENT));
}

static int catalog_text(struct cli *c, sqlite3_stmt *st)
{
	struct cli_table *t = cli_table_new(catalog_cols, CLI_LEN(catalog_cols));
	int rc;

	while ((rc = cli_step(c, st)) == SQLITE_ROW)
		catalog_text_row(t, st);
	if (rc == SQLITE_DONE && cli_table_rows(t) == 0)
		printf("No objects match.\n");
	else if (rc == SQLITE_DONE)
		cli_table_print(t, stdout, "");
	cli_table_free(t);
	return cli_step_status(rc);
}

static int catalog_check(struct cli *c, struct catalog_opts *o, int nargs)
{
	const char *kind = o->kind ? cli_kind_name(o->kind) : NULL;
	char *kinds;

	if (nargs > 1)
		return cli_usage(c, "expected at most one PATTERN");
	if (!o->kind)
		return CLI_EXIT_OK;
	if (kind) {
		o->kind = kind;
		return CLI_EXIT_OK;
	}
	kinds = cli_kind_names();
	cli_usage(c, "unknown kind '%s'; --kind takes one of %s", o->kind, kinds);
	free(kinds);
	return CLI_EXIT_USAGE;
}

int cli_catalog(struct cli *c, int argc, char **argv)
{
	struct catalog_opts o = { 0 };
	struct cli_query q;
	sqlite3_stmt *st = NULL;
	int first, r;

	if ((r = cli_parse(c, argc, argv, catalog_options, &o, &first)) != CLI_EXIT_OK ||
	    (r = catalog_check(c, &o, argc - first)) != CLI_EXIT_OK || (r = cli_open(c)) != CLI_EXIT_OK)
		return r;
	cli_query_init(&q, catalog_sql);
	catalog_filters(&q, &o, first < argc ? argv[first] : NULL);
	if ((r = cli_query_prepare(c, &q, &st)) == CLI_EXIT_OK)
		r = c->json ? cli_json_rows(c, st, "objects", catalog_json_row) : catalog_text(c, st);
	sqlite3_finalize(st);
	cli_query_free(&q);
	return r;
}
