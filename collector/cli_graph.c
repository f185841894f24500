/*
 * prospector graph: the asset relationship graph, as Graphviz dot (default) or JSON.
 *
 * Nodes are tables, views and materialized views, plus, in JSON, the columns at either end of a
 * foreign key; edges are "contains" (a table to such a column), "fk" (column to referenced column),
 * "view_dep" (view to what it reads) and "partition" (partition to its parent), as the collector
 * derived them into the edges table. The dot form draws one edge per foreign key between tables,
 * labelled with its columns, so that the picture stays readable.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cli_util.h"
#include "xmalloc.h"

const char cli_graph_help[] =
	"DESCRIPTION\n"
	"       Prints the relationship graph of the catalog: tables, views and materialized views,\n"
	"       the foreign keys between them, the views' dependencies and the partitions of\n"
	"       partitioned tables.\n"
	"\n"
	"       The dot form (Graphviz) groups the objects of each source in a cluster and draws one\n"
	"       edge per foreign key, from the referencing table to the referenced one, labelled\n"
	"       'columns → referenced columns'; view dependencies are dashed, partitions dotted.\n"
	"\n"
	"       The JSON form is {\"nodes\":[{\"id\", \"path\", \"kind\"}], \"edges\":[{\"from\", \"to\",\n"
	"       \"kind\"}]}, where an id is SOURCE:KEY. Its nodes are also the columns at either end\n"
	"       of a foreign key, its edges \"contains\" (table to such a column), \"fk\" (column to\n"
	"       referenced column), \"view_dep\" (view to what it reads) and \"partition\" (partition\n"
	"       to its parent).\n"
	"\n"
	"OPTIONS\n"
	"       --format dot|json\n"
	"              The output format; dot by default.\n"
	"       --source S\n"
	"              Only the objects of source S.\n"
	"       --json\n"
	"              The same as --format json.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector graph --source hr | dot -Tsvg > hr.svg\n"
	"       prospector graph --json | jq '.edges[] | select(.kind == \"fk\")'\n";

struct graph_opts {
	const char *format;
	const char *source;
};

static const struct cli_opt graph_options[] = {
	{ "format", true, offsetof(struct graph_opts, format) },
	{ "source", true, offsetof(struct graph_opts, source) },
	{ NULL, false, 0 },
};

/* ?1 is the source, or NULL for every source. */
#define GRAPH_IN_SOURCE(t) "(?1 IS NULL OR " t ".source = ?1)"
#define GRAPH_FK_COLUMNS \
	"WITH fk AS (SELECT source, from_key AS key FROM edges WHERE kind = 'fk'" \
	" UNION SELECT source, to_key FROM edges WHERE kind = 'fk')," \
	" cols AS (SELECT o.source, o.key, o.parent, o.path, o.kind FROM fk" \
	" JOIN objects o ON o.source = fk.source AND o.key = fk.key WHERE o.kind = 'column' AND " \
	GRAPH_IN_SOURCE("o") ")"

enum { NODE_SOURCE, NODE_KEY, NODE_PATH, NODE_KIND };

static const char graph_tables_sql[] =
	"SELECT source, key, path, kind FROM objects o WHERE kind IN ('table', 'view', 'matview') AND "
	GRAPH_IN_SOURCE("o") " ORDER BY source, path";

static const char graph_nodes_sql[] =
	GRAPH_FK_COLUMNS " SELECT * FROM (SELECT source, key, path, kind FROM objects o"
	" WHERE kind IN ('table', 'view', 'matview') AND " GRAPH_IN_SOURCE("o")
	" UNION ALL SELECT source, key, path, kind FROM cols) ORDER BY path, source, key";

enum { EDGE_SOURCE, EDGE_FROM, EDGE_TO, EDGE_KIND };

/* Only edges whose ends are in the catalog: a graph with dangling ids is no use to a reader. */
#define GRAPH_EDGES_SELECT \
	"SELECT DISTINCT e.source, e.from_key, e.to_key, e.kind FROM edges e" \
	" WHERE " GRAPH_IN_SOURCE("e") \
	" AND EXISTS (SELECT 1 FROM objects a WHERE a.source = e.source AND a.key = e.from_key)" \
	" AND EXISTS (SELECT 1 FROM objects b WHERE b.source = e.source AND b.key = e.to_key)"

static const char graph_edges_sql[] =
	GRAPH_FK_COLUMNS " SELECT * FROM (SELECT DISTINCT source, parent, key, 'contains' FROM cols"
	" WHERE parent IS NOT NULL UNION ALL " GRAPH_EDGES_SELECT
	" AND e.kind IN ('fk', 'view_dep', 'partition')) ORDER BY 4, 1, 2, 3";

static const char graph_table_edges_sql[] =
	GRAPH_EDGES_SELECT " AND e.kind IN ('view_dep', 'partition') ORDER BY 4, 1, 2, 3";

enum { FK_SOURCE, FK_TABLE, FK_REF_TABLE, FK_COLUMNS, FK_REF_COLUMNS };

static const char graph_fks_sql[] =
	"SELECT f.source, f.parent, json_extract(f.a, '$.ref_table'), json_extract(f.a, '$.columns'),"
	" json_extract(f.a, '$.ref_columns') FROM (SELECT *, CASE WHEN json_valid(attrs) THEN attrs"
	" ELSE '{}' END AS a FROM objects) f WHERE f.kind = 'foreign_key' AND " GRAPH_IN_SOURCE("f")
	" AND EXISTS (SELECT 1 FROM objects t WHERE t.source = f.source AND t.key = f.parent)"
	" AND EXISTS (SELECT 1 FROM objects r WHERE r.source = f.source AND r.key = json_extract(f.a, '$.ref_table'))"
	" ORDER BY f.source, f.path";

static int graph_query(struct cli *c, const char *sql, const char *source, sqlite3_stmt **ret_st)
{
	int r = cli_prepare(c, sql, ret_st);

	if (r == CLI_EXIT_OK && source)
		sqlite3_bind_text(*ret_st, 1, source, -1, SQLITE_TRANSIENT);
	return r;
}

/* "source:key", the id of a node in both forms. */
static void graph_id(struct buf *b, sqlite3_stmt *st, int source, int key)
{
	buf_reset(b);
	buf_addf(b, "%s:%s", cli_col_str(st, source), cli_col_str(st, key));
}

/* --- JSON ----------------------------------------------------------------------------------------- */

static int graph_json_nodes(struct cli *c, struct cli_json *j, const char *source)
{
	sqlite3_stmt *st;
	struct buf id;
	int rc;

	if (graph_query(c, graph_nodes_sql, source, &st) != CLI_EXIT_OK)
		return CLI_EXIT_ERR;
	buf_init(&id);
	cli_json_arr(j, "nodes");
	while ((rc = cli_step(c, st)) == SQLITE_ROW) {
		graph_id(&id, st, NODE_SOURCE, NODE_KEY);
		cli_json_obj(j, NULL);
		cli_json_str(j, "id", id.data);
		cli_json_col_str(j, "path", st, NODE_PATH);
		cli_json_col_str(j, "kind", st, NODE_KIND);
		cli_json_end(j);
	}
	cli_json_end(j);
	buf_free(&id);
	sqlite3_finalize(st);
	return cli_step_status(rc);
}

static int graph_json_edges(struct cli *c, struct cli_json *j, const char *source)
{
	sqlite3_stmt *st;
	struct buf id;
	int rc;

	if (graph_query(c, graph_edges_sql, source, &st) != CLI_EXIT_OK)
		return CLI_EXIT_ERR;
	buf_init(&id);
	cli_json_arr(j, "edges");
	while ((rc = cli_step(c, st)) == SQLITE_ROW) {
		cli_json_obj(j, NULL);
		graph_id(&id, st, EDGE_SOURCE, EDGE_FROM);
		cli_json_str(j, "from", id.data);
		graph_id(&id, st, EDGE_SOURCE, EDGE_TO);
		cli_json_str(j, "to", id.data);
		cli_json_col_str(j, "kind", st, EDGE_KIND);
		cli_json_end(j);
	}
	cli_json_end(j);
	buf_free(&id);
	sqlite3_finalize(st);
	return cli_step_status(rc);
}

static int graph_json(struct cli *c, const char *source)
{
	struct cli_json j;
	int r;

	cli_json_init(&j, stdout);
	cli_json_obj(&j, NULL);
	if ((r = graph_json_nodes(c, &j, source)) != CLI_EXIT_OK || (r = graph_json_edges(c, &j, source)) != CLI_EXIT_OK) {
		cli_json_abort(&j);
		return r;
	}
	cli_json_end(&j);
	return cli_json_finish(c, &j);
}

/* --- dot ------------------------------------------------------------------------------------------ */

/* A dot string literal; names may hold quotes, backslashes and newlines. */
static void graph_dot_str(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addc(b, '\\');
		if (*s == '\n')
			buf_adds(b, "\\n");
		else
			buf_addc(b, *s);
	}
	buf_addc(b, '"');
}

static void graph_dot_id(struct buf *b, sqlite3_stmt *st, int source, int key)
{
	struct buf id;

	buf_init(&id);
	graph_id(&id, st, source, key);
	graph_dot_str(b, id.data);
	buf_free(&id);
}

static const struct {
	const char *kind;
	const char *attrs;
} graph_dot_shapes[] = {
	{ "table", "shape=box" },
	{ "view", "shape=box, style=rounded" },
	{ "matview", "shape=box, style=\"rounded,bold\"" },
};

static const char *graph_dot_shape(const char *kind)
{
	for (size_t i = 0; i < CLI_LEN(graph_dot_shapes); i++)
		if (strcmp(graph_dot_shapes[i].kind, kind) == 0)
			return graph_dot_shapes[i].attrs;
	return "shape=box";
}

/* The label is the path inside the source: the cluster already names the source. */
static void graph_dot_node(struct buf *b, sqlite3_stmt *st)
{
	const char *path = cli_col_str(st, NODE_PATH), *slash = strchr(path, '/');

	buf_adds(b, "\t\t");
	graph_dot_id(b, st, NODE_SOURCE, NODE_KEY);
	buf_adds(b, " [label=");
	graph_dot_str(b, slash ? slash + 1 : path);
	buf_addf(b, ", %s];\n", graph_dot_shape(cli_col_str(st, NODE_KIND)));
}

static void graph_dot_cluster(struct buf *b, bool close_previous, const char *source)
{
	char *name = xasprintf("cluster_%s", source);

	if (close_previous)
		buf_adds(b, "\t}\n");
	buf_adds(b, "\tsubgraph ");
	graph_dot_str(b, name);
	buf_adds(b, " {\n\t\tlabel=");
	graph_dot_str(b, source);
	buf_adds(b, ";\n");
	free(name);
}

/* One cluster per source; the rows come ordered by source. */
static int graph_dot_nodes(struct cli *c, struct buf *b, const char *source)
{
	sqlite3_stmt *st;
	char *cluster = NULL;
	int rc;

	if (graph_query(c, graph_tables_sql, source, &st) != CLI_EXIT_OK)
		return CLI_EXIT_ERR;
	while ((rc = cli_step(c, st)) == SQLITE_ROW) {
		if (!cluster || strcmp(cluster, cli_col_str(st, NODE_SOURCE)) != 0) {
			graph_dot_cluster(b, cluster != NULL, cli_col_str(st, NODE_SOURCE));
			free(cluster);
			cluster = xstrdup(cli_col_str(st, NODE_SOURCE));
		}
		graph_dot_node(b, st);
	}
	if (cluster)
		buf_adds(b, "\t}\n");
	free(cluster);
	sqlite3_finalize(st);
	return cli_step_status(rc);
}

/* "dept_id → id" */
static void graph_dot_fk(struct cli *c, struct buf *b, sqlite3_stmt *st)
{
	const char *source = cli_col_str(st, FK_SOURCE);
	char *cols = cli_refs_render(c, source, cli_col_str(st, FK_COLUMNS));
	char *refs = cli_refs_render(c, source, cli_col_str(st, FK_REF_COLUMNS));
	char *label = xasprintf("%s \xe2\x86\x92 %s", cols, refs);

	buf_adds(b, "\t");
	graph_dot_id(b, st, FK_SOURCE, FK_TABLE);
	buf_adds(b, " -> ");
	graph_dot_id(b, st, FK_SOURCE, FK_REF_TABLE);
	buf_adds(b, " [label=");
	graph_dot_str(b, label);
	buf_adds(b, "];\n");
	free(label);
	free(refs);
	free(cols);
}

static int graph_dot_fks(struct cli *c, struct buf *b, const char *source)
{
	sqlite3_stmt *st;
	int rc;

	if (graph_query(c, graph_fks_sql, source, &st) != CLI_EXIT_OK)
		return CLI_EXIT_ERR;
	while ((rc = cli_step(c, st)) == SQLITE_ROW)
		graph_dot_fk(c, b, st);
	sqlite3_finalize(st);
	return cli_step_status(rc);
}

static const struct {
	const char *kind;
	const char *attrs;
} graph_dot_edge_styles[] = {
	{ "view_dep", "style=dashed" },
	{ "partition", "style=dotted, arrowhead=empty" },
};

static const char *graph_dot_edge_style(const char *kind)
{
	for (size_t i = 0; i < CLI_LEN(graph_dot_edge_styles); i++)
		if (strcmp(graph_dot_edge_styles[i].kind, kind) == 0)
			return graph_dot_edge_styles[i].attrs;
	return "style=solid";
}

static int graph_dot_edges(struct cli *c, struct buf *b, const char *source)
{
	sqlite3_stmt *st;
	int rc;

	if (graph_query(c, graph_table_edges_sql, source, &st) != CLI_EXIT_OK)
		return CLI_EXIT_ERR;
	while ((rc = cli_step(c, st)) == SQLITE_ROW) {
		buf_adds(b, "\t");
		graph_dot_id(b, st, EDGE_SOURCE, EDGE_FROM);
		buf_adds(b, " -> ");
		graph_dot_id(b, st, EDGE_SOURCE, EDGE_TO);
		buf_addf(b, " [%s];\n", graph_dot_edge_style(cli_col_str(st, EDGE_KIND)));
	}
	sqlite3_finalize(st);
	return cli_step_status(rc);
}

static int graph_dot(struct cli *c, const char *source)
{
	struct buf b;
	int r;

	buf_init(&b);
	buf_adds(&b, "digraph prospector {\n\tgraph [rankdir=LR];\n\tnode [fontsize=10];\n"
		"\tedge [fontsize=9];\n");
	if ((r = graph_dot_nodes(c, &b, source)) == CLI_EXIT_OK && (r = graph_dot_fks(c, &b, source)) == CLI_EXIT_OK &&
	    (r = graph_dot_edges(c, &b, source)) == CLI_EXIT_OK) {
		buf_adds(&b, "}\n");
		fwrite(b.data, 1, b.len, stdout);
	}
	buf_free(&b);
	return r;
}

/* --format wins over nothing, --json means json; both given must agree. */
static int graph_format(struct cli *c, const char *format, bool *ret_json)
{
	if (!format) {
		*ret_json = c->json;
		return CLI_EXIT_OK;
	}
	if (strcmp(format, "json") != 0 && strcmp(format, "dot") != 0)
		return cli_usage(c, "--format must be dot or json, not '%s'", format);
	*ret_json = strcmp(format, "json") == 0;
	if (c->json && !*ret_json)
		return cli_usage(c, "--json and --format dot contradict each other");
	return CLI_EXIT_OK;
}

int cli_graph(struct cli *c, int argc, char **argv)
{
	struct graph_opts o = { 0 };
	bool json;
	int first, r;

	if ((r = cli_parse(c, argc, argv, graph_options, &o, &first)) != CLI_EXIT_OK ||
	    (r = graph_format(c, o.format, &json)) != CLI_EXIT_OK)
		return r;
	if (first < argc)
		return cli_usage(c, "unexpected argument '%s'", argv[first]);
	if ((r = cli_open(c)) != CLI_EXIT_OK)
		return r;
	return json ? graph_json(c, o.source) : graph_dot(c, o.source);
}
