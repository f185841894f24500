/*
 * prospector history: the recorded schema changes, oldest first, filtered by time, source, object,
 * operation or object kind, and severity. The history table is append-only and its ids follow the
 * order of application, so ordering by id is the order in which the catalog learned of the changes.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cli_util.h"
#include "diff.h"
#include "model.h"
#include "timeutil.h"

const char cli_history_help[] =
	"DESCRIPTION\n"
	"       Lists the schema changes recorded in the catalog's append-only history, in the order\n"
	"       the collector recorded them: when the change was observed (the crawl that saw it), its\n"
	"       severity (BREAKING, ADDITIVE or COSMETIC), the operation (ADD, DROP, ALTER or RENAME),\n"
	"       the object's path, the changed field and its value before and after. For ADD and DROP,\n"
	"       the object's kind and attributes are shown instead. A rename found by matching names\n"
	"       rather than stable ids is marked (heuristic).\n"
	"\n"
	"OPTIONS\n"
	"       --since T\n"
	"              Only changes observed at T or later. T is an RFC 3339 time\n"
	"              (2026-11-21T10:31:25Z, 2026-11-21T18:31:25+08:00), a date (2026-11-21, midnight\n"
	"              UTC) or a time relative to now (-30m, -2h, -7d).\n"
	"       --until T\n"
	"              Only changes observed at T or earlier; T as for --since.\n"
	"       --source S\n"
	"              Only changes of source S.\n"
	"       --object PATTERN\n"
	"              Only changes of the objects whose path matches PATTERN, a path or a glob, and of\n"
	"              everything below them: hr/hr/public/employees includes the table's columns\n"
	"              (…/employees.salary), constraints and indexes (…/employees#…) and partitions\n"
	"              (…/employees/…). Paths are those at the time of the change.\n"
	"       --kind K\n"
	"              Only changes with operation K (ADD, DROP, ALTER, RENAME), or only changes of\n"
	"              objects of kind K (table, column, index, ...); any case.\n"
	"       --severity S\n"
	"              Only changes of severity S (BREAKING, ADDITIVE, COSMETIC); any case.\n"
	"       --limit N\n"
	"              Only the N most recent of the matching changes (still printed oldest first).\n"
	"       --json\n"
	"              Print {\"changes\":[{\"id\", \"observed\", \"recorded\", \"agent\", \"source\", \"seq\",\n"
	"              \"path\", \"key\", \"object_kind\", \"op\", \"field\", \"before\", \"after\", \"severity\",\n"
	"              \"heuristic\", \"origin\"}]}. For ADD and DROP, field is null and after or before\n"
	"              holds the object's attributes as a JSON object text.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector history --since -2h\n"
	"       prospector history --object hr/hr/public/employees --severity breaking\n"
	"       prospector history --source hr --since 2026-11-01 --until 2026-11-30T23:59:59Z\n"
	"       prospector history --kind drop --limit 20 --json\n";

struct history_opts {
	const char *since, *until, *source, *object, *kind, *severity, *limit;
};

static const struct cli_opt history_options[] = {
	{ "since", true, offsetof(struct history_opts, since) },
	{ "until", true, offsetof(struct history_opts, until) },
	{ "source", true, offsetof(struct history_opts, source) },
	{ "object", true, offsetof(struct history_opts, object) },
	{ "kind", true, offsetof(struct history_opts, kind) },
	{ "severity", true, offsetof(struct history_opts, severity) },
	{ "limit", true, offsetof(struct history_opts, limit) },
	{ NULL, false, 0 },
};

/* The options, checked and in the catalog's spelling. */
struct history_filter {
	bool has_since, has_until;
	uint64_t since, until;
	const char *op;          /* "ADD" … */
	const char *object_kind; /* "column" … */
	const char *severity;    /* "BREAKING" … */
	int64_t limit;           /* 0: all */
};

enum {
	H_ID,
	H_OBSERVED,
	H_RECORDED,
	H_AGENT,
	H_SOURCE,
	H_SEQ,
	H_KEY,
	H_KIND,
	H_PATH,
	H_OP,
	H_FIELD,
	H_BEFORE,
	H_AFTER,
	H_SEVERITY,
	H_HEURISTIC,
	H_ORIGIN,
};

static const char history_columns[] =
	"SELECT id, observed, recorded, agent_id, source, seq, key, kind, path, op, field, before, after,"
	" severity, heuristic, origin FROM history";

static int history_time(struct cli *c, const char *name, const char *s, bool *ret_has, uint64_t *ret_ms)
{
	if (!s)
		return CLI_EXIT_OK;
	if (time_parse(s, c->now_ms, ret_ms) < 0)
		return cli_usage(c, "--%s '%s' is not a time: give RFC 3339 (2026-11-21T10:31:25Z), a date "
			"(2026-11-21) or a relative time (-2h)", name, s);
	*ret_has = true;
	return CLI_EXIT_OK;
}

/* An operation, else an object kind: the two sets of names do not overlap. */
static int history_kind(struct cli *c, const char *s, struct history_filter *f)
{
	int op;

	if (!s)
		return CLI_EXIT_OK;
	if ((op = change_op_lookup(s)) >= 0)
		f->op = change_op_name((enum change_op)op);
	else if (!(f->object_kind = cli_kind_name(s)))
		return cli_usage(c, "--kind '%s' is neither an operation (ADD, DROP, ALTER, RENAME) nor an "
			"object kind (table, column, ...)", s);
	return CLI_EXIT_OK;
}

static int history_severity(struct cli *c, const char *s, struct history_filter *f)
{
	int sev;

	if (!s)
		return CLI_EXIT_OK;
	if ((sev = model_severity_lookup(s)) < 0)
		return cli_usage(c, "--severity '%s' is not one of BREAKING, ADDITIVE, COSMETIC", s);
	f->severity = model_severity_name((enum severity)sev);
	return CLI_EXIT_OK;
}

static int history_check(struct cli *c, const struct history_opts *o, struct history_filter *f)
{
	int r;

	if ((r = history_time(c, "since", o->since, &f->has_since, &f->since)) != CLI_EXIT_OK ||
	    (r = history_time(c, "until", o->until, &f->has_until, &f->until)) != CLI_EXIT_OK ||
	    (r = history_kind(c, o->kind, f)) != CLI_EXIT_OK || (r = history_severity(c, o->severity, f)) != CLI_EXIT_OK)
		return r;
	if (o->limit)
		return cli_parse_count(c, "limit", o->limit, &f->limit);
	return CLI_EXIT_OK;
}

/* The N most recent: the newest N by id, turned back into id order outside. */
static void history_query(struct cli_query *q, const struct history_opts *o, const struct history_filter *f)
{
	cli_query_init(q, f->limit ? "SELECT * FROM (" : "");
	cli_query_add(q, history_columns);
	if (f->has_since)
		cli_query_and_int(q, "observed >= ?", (int64_t)f->since);
	if (f->has_until)
		cli_query_and_int(q, "observed <= ?", (int64_t)f->until);
	if (o->source)
		cli_query_and_text(q, "source = ?", o->source);
	if (o->object)
		cli_query_and_path(q, o->object);
	if (f->op)
		cli_query_and_text(q, "op = ?", f->op);
	if (f->object_kind)
		cli_query_and_text(q, "kind = ?", f->object_kind);
	if (f->severity)
		cli_query_and_text(q, "severity = ?", f->severity);
	if (f->limit)
		cli_query_add_int(q, " ORDER BY id DESC LIMIT ?) ORDER BY id", f->limit);
	else
		cli_query_add(q, " ORDER BY id");
}

/* --- JSON ----------------------------------------------------------------------------------------- */

static void history_json_row(struct cli *c, struct cli_json *j, sqlite3_stmt *st)
{
	(void)c;
	cli_json_obj(j, NULL);
	cli_json_col_int(j, "id", st, H_ID);
	cli_json_col_time(j, "observed", st, H_OBSERVED);
	cli_json_col_time(j, "recorded", st, H_RECORDED);
	cli_json_col_str(j, "agent", st, H_AGENT);
	cli_json_col_str(j, "source", st, H_SOURCE);
	cli_json_col_int(j, "seq", st, H_SEQ);
	cli_json_col_str(j, "path", st, H_PATH);
	cli_json_col_str(j, "key", st, H_KEY);
	cli_json_col_str(j, "object_kind", st, H_KIND);
	cli_json_col_str(j, "op", st, H_OP);
	cli_json_col_str(j, "field", st, H_FIELD);
	cli_json_col_str(j, "before", st, H_BEFORE);
	cli_json_col_str(j, "after", st, H_AFTER);
	cli_json_col_str(j, "severity", st, H_SEVERITY);
	cli_json_bool(j, "heuristic", sqlite3_column_int64(st, H_HEURISTIC) != 0);
	cli_json_col_str(j, "origin", st, H_ORIGIN);
	cli_json_end(j);
}

/* --- text ----------------------------------------------------------------------------------------- */

static const struct cli_col history_cols[] = {
	{ "TIME", CLI_LEFT, 0 },
	{ "SEVERITY", CLI_LEFT, 0 },
	{ "OP", CLI_LEFT, 0 },
	{ "PATH", CLI_LEFT, 0 },
	{ "FIELD", CLI_LEFT, 0 },
	{ "CHANGE", CLI_LEFT, 0 },
};

static const char *history_value(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? "(none)" : cli_col_str(st, i);
}

/* ADD and DROP carry the object's attributes: "column nullable=true type=integer". */
static char *history_change(struct cli *c, sqlite3_stmt *st)
{
	int summary = sqlite3_column_type(st, H_FIELD) != SQLITE_NULL ? -1 :
		sqlite3_column_type(st, H_AFTER) != SQLITE_NULL ? H_AFTER : H_BEFORE;
	struct buf b;
	char *pairs;

	buf_init(&b);
	if (summary < 0) {
		buf_addf(&b, "%s \xe2\x86\x92 %s", history_value(st, H_BEFORE), history_value(st, H_AFTER));
	} else {
		pairs = cli_json_pairs(c, cli_col_str(st, summary));
		buf_addf(&b, "%s%s%s", cli_col_str(st, H_KIND), *pairs ? " " : "", pairs);
		free(pairs);
	}
	if (sqlite3_column_int64(st, H_HEURISTIC))
		buf_adds(&b, " (heuristic)");
	return buf_steal(&b);
}

static void history_text_row(struct cli *c, struct cli_table *t, sqlite3_stmt *st)
{
	char when[32], *change = history_change(c, st);

	cli_table_cell(t, cli_col_time(st, H_OBSERVED, when));
	cli_table_cell(t, cli_col_str(st, H_SEVERITY));
	cli_table_cell(t, cli_col_str(st, H_OP));
	cli_table_cell(t, cli_col_str(st, H_PATH));
	cli_table_cell(t, cli_col_str(st, H_FIELD));
	cli_table_cell(t, change);
	free(change);
}

static int history_text(struct cli *c, sqlite3_stmt *st)
{
	struct cli_table *t = cli_table_new(history_cols, CLI_LEN(history_cols));
	int rc;

	while ((rc = cli_step(c, st)) == SQLITE_ROW)
		history_text_row(c, t, st);
	if (rc == SQLITE_DONE && cli_table_rows(t) == 0)
		printf("No changes match.\n");
	else if (rc == SQLITE_DONE)
		cli_table_print(t, stdout, "");
	cli_table_free(t);
	return cli_step_status(rc);
}

int cli_history(struct cli *c, int argc, char **argv)
{
	struct history_opts o = { 0 };
	struct history_filter f = { 0 };
	struct cli_query q;
	sqlite3_stmt *st = NULL;
	int first, r;

	if ((r = cli_parse(c, argc, argv, history_options, &o, &first)) != CLI_EXIT_OK)
		return r;
	if (first < argc)
		return cli_usage(c, "unexpected argument '%s'", argv[first]);
	if ((r = history_check(c, &o, &f)) != CLI_EXIT_OK || (r = cli_open(c)) != CLI_EXIT_OK)
		return r;
	history_query(&q, &o, &f);
	if ((r = cli_query_prepare(c, &q, &st)) == CLI_EXIT_OK)
		r = c->json ? cli_json_rows(c, st, "changes", history_json_row) : history_text(c, st);
	sqlite3_finalize(st);
	cli_query_free(&q);
	return r;
}
