/*
 * prospector status: every agent that has connected and the probe status of each of its sources,
 * as the last heartbeat and the last applied crawl left them in the catalog. An agent is "silent"
 * when it has not been heard from for silent_factor (default three) times the longest interval of
 * its sources: by then it has missed at least two crawls of every source, which one slow crawl
 * cannot explain. A source is "stale" when its agent no longer lists it, or when its last
 * successful crawl is older than stale_after (a database gone for good): its objects and history
 * stay in the catalog, marked by this state, never dropped. Both settings are the collector's
 * (collector.conf), which it records in the catalog's meta table for readers like this one.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_util.h"

#define STATUS_SILENT_FACTOR 3           /* when the collector has not recorded its own */
#define STATUS_STALE_AFTER_S (7 * 86400)

/* The collector's policy, and the time now. */
struct status_ctx {
	struct cli *c;
	int64_t now_ms;
	int64_t stale_after_ms;
	int64_t silent_factor;
};

const char cli_status_help[] =
	"DESCRIPTION\n"
	"       Lists every agent known to the collector and, for each of its sources (probes), the\n"
	"       result of the last crawl: ok; partial (the crawl succeeded but saw only part of the\n"
	"       source, and the warning says which part: nothing there is reported as dropped); or\n"
	"       error, with the last error. Also what the driver cannot read from that database\n"
	"       (CANNOT READ: comments, foreign_keys, …), when the last crawl ended (RFC 3339 UTC),\n"
	"       how long it took, how many objects it found, the crawl interval and the next\n"
	"       scheduled run. For the agent: its host, version, when it was last heard from, its\n"
	"       outbox depth (batches not yet acknowledged) and its resident memory.\n"
	"\n"
	"       An agent is marked silent when its last heartbeat is older than silent_factor\n"
	"       (collector.conf, default 3) times the longest interval of its sources. A source is\n"
	"       stale when its agent no longer lists it, or when its last successful crawl is older\n"
	"       than stale_after (collector.conf, default 7d), as when its database is gone for good.\n"
	"       A stale source's objects and history stay in the catalog.\n"
	"\n"
	"OPTIONS\n"
	"       --json\n"
	"              Print {\"agents\":[{\"id\", \"incarnation\", \"last_seq\", \"version\", \"hostname\",\n"
	"              \"first_seen\", \"last_seen\", \"silent\", \"outbox_depth\", \"rss_bytes\",\n"
	"              \"sources\":[{\"name\", \"driver\", \"department\", \"system\", \"state\" (ok,\n"
	"              partial, error, pending or stale), \"ok\", \"last_ok\", \"configured\", \"last_error\",\n"
	"              \"warning\", \"unsupported\", \"last_start\", \"last_end\", \"duration_ms\", \"objects\",\n"
	"              \"interval_s\", \"next_run\", \"root_hash\"}]}]}; times are RFC 3339 strings, unknown\n"
	"              values null.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector status\n"
	"       prospector status --json | jq '.agents[] | select(.silent) | .id'\n";

enum {
	AGENT_ID,
	AGENT_INCARNATION,
	AGENT_LAST_SEQ,
	AGENT_VERSION,
	AGENT_HOSTNAME,
	AGENT_FIRST_SEEN,
	AGENT_LAST_SEEN,
	AGENT_OUTBOX,
	AGENT_RSS,
	AGENT_MAX_INTERVAL,
};

/* Sources whose agent row is missing still show, under their agent id. */
static const char status_agents_sql[] =
	"SELECT ids.id, a.incarnation, a.last_seq, a.version, a.hostname, a.first_seen, a.last_seen,"
	" a.outbox_depth, a.rss_bytes,"
	" (SELECT max(s.interval_s) FROM sources s WHERE s.agent_id = ids.id)"
	" FROM (SELECT id FROM agents UNION SELECT agent_id FROM sources) ids"
	" LEFT JOIN agents a ON a.id = ids.id ORDER BY ids.id";

enum {
	SRC_NAME,
	SRC_DRIVER,
	SRC_DEPARTMENT,
	SRC_SYSTEM,
	SRC_OK,
	SRC_LAST_ERROR,
	SRC_LAST_START,
	SRC_LAST_END,
	SRC_DURATION,
	SRC_OBJECTS,
	SRC_INTERVAL,
	SRC_NEXT_RUN,
	SRC_ROOT_HASH,
	SRC_AGENT,
	SRC_WARNING,
	SRC_UNSUPPORTED,
	SRC_LAST_OK,
	SRC_CONFIGURED,
};

static const char status_sources_sql[] =
	"SELECT name, driver, department, system, ok, last_error, last_start, last_end, duration_ms,"
	" objects, interval_s, next_run, root_hash, agent_id, last_warning,"
	" (SELECT json_extract(o.attrs, '$.unsupported') FROM objects o"
	"  WHERE o.source = sources.name AND o.kind = 'database' LIMIT 1),"
	" last_ok, COALESCE(configured, 1)"
	" FROM sources WHERE agent_id = ?1 ORDER BY name";

static int64_t status_meta(struct cli *c, const char *key, int64_t fallback)
{
	sqlite3_stmt *st = NULL;
	int64_t v = fallback;

	if (cli_prepare(c, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1", &st) != CLI_EXIT_OK)
		return fallback;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Never heard from counts as silent: nothing shows that the agent is alive. */
static bool status_silent(const struct status_ctx *s, sqlite3_stmt *agent)
{
	int64_t seen = sqlite3_column_int64(agent, AGENT_LAST_SEEN);
	int64_t interval_ms = sqlite3_column_int64(agent, AGENT_MAX_INTERVAL) * 1000;

	if (sqlite3_column_type(agent, AGENT_LAST_SEEN) == SQLITE_NULL)
		return true;
	if (interval_ms <= 0)
		return false;
	return s->now_ms - seen > s->silent_factor * interval_ms;
}

static bool status_stale(const struct status_ctx *s, sqlite3_stmt *src)
{
	if (!sqlite3_column_int64(src, SRC_CONFIGURED))
		return true;
	return sqlite3_column_type(src, SRC_LAST_OK) != SQLITE_NULL &&
	       s->now_ms - sqlite3_column_int64(src, SRC_LAST_OK) > s->stale_after_ms;
}

/* Stale comes first: a source whose database is gone fails every crawl, and "error" alone would not
 * say that it has done so for days. */
static const char *status_probe(const struct status_ctx *s, sqlite3_stmt *src)
{
	if (status_stale(s, src))
		return "stale";
	if (sqlite3_column_type(src, SRC_OK) == SQLITE_NULL)
		return "pending";
	if (!sqlite3_column_int64(src, SRC_OK))
		return "error";
	return sqlite3_column_type(src, SRC_WARNING) == SQLITE_NULL ? "ok" : "partial";
}

/* --- JSON ----------------------------------------------------------------------------------------- */

static void status_json_source(const struct status_ctx *s, struct cli_json *j, sqlite3_stmt *src)
{
	cli_json_obj(j, NULL);
	cli_json_col_str(j, "name", src, SRC_NAME);
	cli_json_col_str(j, "driver", src, SRC_DRIVER);
	cli_json_col_str(j, "department", src, SRC_DEPARTMENT);
	cli_json_col_str(j, "system", src, SRC_SYSTEM);
	cli_json_str(j, "state", status_probe(s, src));
	cli_json_col_bool(j, "ok", src, SRC_OK);
	cli_json_col_time(j, "last_ok", src, SRC_LAST_OK);
	cli_json_col_bool(j, "configured", src, SRC_CONFIGURED);
	cli_json_col_str(j, "last_error", src, SRC_LAST_ERROR);
	cli_json_col_str(j, "warning", src, SRC_WARNING);
	cli_json_col_str(j, "unsupported", src, SRC_UNSUPPORTED);
	cli_json_col_time(j, "last_start", src, SRC_LAST_START);
	cli_json_col_time(j, "last_end", src, SRC_LAST_END);
	cli_json_col_int(j, "duration_ms", src, SRC_DURATION);
	cli_json_col_int(j, "objects", src, SRC_OBJECTS);
	cli_json_col_int(j, "interval_s", src, SRC_INTERVAL);
	cli_json_col_time(j, "next_run", src, SRC_NEXT_RUN);
	cli_json_col_str(j, "root_hash", src, SRC_ROOT_HASH);
	cli_json_end(j);
}

static int status_json_agent(const struct status_ctx *s, struct cli_json *j, sqlite3_stmt *agent,
			     sqlite3_stmt *src)
{
	int rc;

	cli_json_obj(j, NULL);
	cli_json_col_str(j, "id", agent, AGENT_ID);
	cli_json_col_int(j, "incarnation", agent, AGENT_INCARNATION);
	cli_json_col_int(j, "last_seq", agent, AGENT_LAST_SEQ);
	cli_json_col_str(j, "version", agent, AGENT_VERSION);
	cli_json_col_str(j, "hostname", agent, AGENT_HOSTNAME);
	cli_json_col_time(j, "first_seen", agent, AGENT_FIRST_SEEN);
	cli_json_col_time(j, "last_seen", agent, AGENT_LAST_SEEN);
	cli_json_bool(j, "silent", status_silent(s, agent));
	cli_json_col_int(j, "outbox_depth", agent, AGENT_OUTBOX);
	cli_json_col_int(j, "rss_bytes", agent, AGENT_RSS);
	cli_json_arr(j, "sources");
	sqlite3_reset(src);
	sqlite3_bind_text(src, 1, cli_col_str(agent, AGENT_ID), -1, SQLITE_TRANSIENT);
	while ((rc = cli_step(s->c, src)) == SQLITE_ROW)
		status_json_source(s, j, src);
	cli_json_end(j);
	cli_json_end(j);
	return cli_step_status(rc);
}

static int status_json(const struct status_ctx *s, sqlite3_stmt *agents, sqlite3_stmt *src)
{
	struct cli *c = s->c;
	struct cli_json j;
	int rc = SQLITE_DONE, r = CLI_EXIT_OK;

	cli_json_init(&j, stdout);
	cli_json_obj(&j, NULL);
	cli_json_arr(&j, "agents");
	while (r == CLI_EXIT_OK && (rc = cli_step(c, agents)) == SQLITE_ROW)
		r = status_json_agent(s, &j, agents, src);
	if (r == CLI_EXIT_OK)
		r = cli_step_status(rc);
	if (r != CLI_EXIT_OK) {
		cli_json_abort(&j);
		return r;
	}
	cli_json_end(&j);
	cli_json_end(&j);
	return cli_json_finish(c, &j);
}

/* --- text ----------------------------------------------------------------------------------------- */

static const struct cli_col status_agent_cols[] = {
	{ "AGENT", CLI_LEFT, 0 },
	{ "HOST", CLI_LEFT, 0 },
	{ "VERSION", CLI_LEFT, 0 },
	{ "LAST SEEN", CLI_LEFT, 0 },
	{ "STATE", CLI_LEFT, 0 },
	{ "OUTBOX", CLI_RIGHT, 0 },
	{ "RSS", CLI_RIGHT, 0 },
};

static const struct cli_col status_source_cols[] = {
	{ "SOURCE", CLI_LEFT, 0 },
	{ "AGENT", CLI_LEFT, 0 },
	{ "DRIVER", CLI_LEFT, 0 },
	{ "STATUS", CLI_LEFT, 0 },
	{ "LAST CRAWL", CLI_LEFT, 0 },
	{ "DURATION", CLI_RIGHT, 0 },
	{ "OBJECTS", CLI_RIGHT, 0 },
	{ "INTERVAL", CLI_RIGHT, 0 },
	{ "NEXT RUN", CLI_LEFT, 0 },
	{ "DEPARTMENT", CLI_LEFT, 24 },
	{ "SYSTEM", CLI_LEFT, 24 },
	{ "CANNOT READ", CLI_LEFT, 40 },
	{ "PROBLEM", CLI_LEFT, 60 },
};

static void status_text_agent(const struct status_ctx *s, struct cli_table *t, sqlite3_stmt *agent)
{
	char b1[32], b2[32], b3[32];

	cli_table_cell(t, cli_col_str(agent, AGENT_ID));
	cli_table_cell(t, cli_col_str(agent, AGENT_HOSTNAME));
	cli_table_cell(t, cli_col_str(agent, AGENT_VERSION));
	cli_table_cell(t, cli_col_time(agent, AGENT_LAST_SEEN, b1));
	cli_table_cell(t, status_silent(s, agent) ? "silent" : "ok");
	cli_table_cell(t, cli_col_count(agent, AGENT_OUTBOX, b2));
	cli_table_cell(t, cli_col_bytes(agent, AGENT_RSS, b3));
}

/* What is wrong with a source, in a few words. */
static const char *status_problem(const struct status_ctx *s, sqlite3_stmt *src, char *buf, size_t len)
{
	char when[32];

	if (!sqlite3_column_int64(src, SRC_CONFIGURED))
		return "no longer configured on its agent";
	if (status_stale(s, src)) {
		snprintf(buf, len, "no successful crawl since %s%s%s", cli_col_time(src, SRC_LAST_OK, when),
			 sqlite3_column_type(src, SRC_LAST_ERROR) != SQLITE_NULL ? ": " : "",
			 sqlite3_column_type(src, SRC_LAST_ERROR) != SQLITE_NULL ? cli_col_str(src, SRC_LAST_ERROR) : "");
		return buf;
	}
	return sqlite3_column_type(src, SRC_LAST_ERROR) != SQLITE_NULL ? cli_col_str(src, SRC_LAST_ERROR)
								       : cli_col_str(src, SRC_WARNING);
}

static void status_text_source(const struct status_ctx *s, struct cli_table *t, sqlite3_stmt *src)
{
	char b[5][32], problem[1024];

	cli_table_cell(t, cli_col_str(src, SRC_NAME));
	cli_table_cell(t, cli_col_str(src, SRC_AGENT));
	cli_table_cell(t, cli_col_str(src, SRC_DRIVER));
	cli_table_cell(t, status_probe(s, src));
	cli_table_cell(t, cli_col_time(src, SRC_LAST_END, b[0]));
	cli_table_cell(t, cli_col_duration(src, SRC_DURATION, b[1]));
	cli_table_cell(t, cli_col_count(src, SRC_OBJECTS, b[2]));
	cli_table_cell(t, cli_col_interval(src, SRC_INTERVAL, b[3]));
	cli_table_cell(t, cli_col_time(src, SRC_NEXT_RUN, b[4]));
	cli_table_cell(t, cli_col_str(src, SRC_DEPARTMENT));
	cli_table_cell(t, cli_col_str(src, SRC_SYSTEM));
	cli_table_cell(t, cli_col_str(src, SRC_UNSUPPORTED));
	cli_table_cell(t, status_problem(s, src, problem, sizeof(problem)));
}

static int status_text_sources(const struct status_ctx *s, struct cli_table *t, sqlite3_stmt *agent,
			       sqlite3_stmt *src)
{
	int rc;

	sqlite3_reset(src);
	sqlite3_bind_text(src, 1, cli_col_str(agent, AGENT_ID), -1, SQLITE_TRANSIENT);
	while ((rc = cli_step(s->c, src)) == SQLITE_ROW)
		status_text_source(s, t, src);
	return cli_step_status(rc);
}

static int status_text(const struct status_ctx *s, sqlite3_stmt *agents, sqlite3_stmt *src)
{
	struct cli *c = s->c;
	struct cli_table *at = cli_table_new(status_agent_cols, sizeof(status_agent_cols) / sizeof(status_agent_cols[0]));
	struct cli_table *st = cli_table_new(status_source_cols, sizeof(status_source_cols) / sizeof(status_source_cols[0]));
	int rc = SQLITE_DONE, r = CLI_EXIT_OK;

	while (r == CLI_EXIT_OK && (rc = cli_step(c, agents)) == SQLITE_ROW) {
		status_text_agent(s, at, agents);
		r = status_text_sources(s, st, agents, src);
	}
	if (r == CLI_EXIT_OK)
		r = cli_step_status(rc);
	if (r == CLI_EXIT_OK && cli_table_rows(at) == 0)
		printf("No agent has connected to this collector yet.\n");
	if (r == CLI_EXIT_OK && cli_table_rows(at) > 0) {
		cli_table_print(at, stdout, "");
		printf("\n");
		cli_table_print(st, stdout, "");
	}
	cli_table_free(at);
	cli_table_free(st);
	return r;
}

int cli_status(struct cli *c, int argc, char **argv)
{
	sqlite3_stmt *agents = NULL, *src = NULL;
	int first, r;

	if ((r = cli_parse(c, argc, argv, NULL, NULL, &first)) != CLI_EXIT_OK)
		return r;
	if (first < argc)
		return cli_usage(c, "unexpected argument '%s'", argv[first]);
	if ((r = cli_open(c)) != CLI_EXIT_OK)
		return r;
	struct status_ctx s = {
		.c = c,
		.now_ms = (int64_t)c->now_ms,
		.stale_after_ms = status_meta(c, "stale_after_s", STATUS_STALE_AFTER_S) * 1000,
		.silent_factor = status_meta(c, "silent_factor", STATUS_SILENT_FACTOR),
	};

	if ((r = cli_prepare(c, status_agents_sql, &agents)) == CLI_EXIT_OK &&
	    (r = cli_prepare(c, status_sources_sql, &src)) == CLI_EXIT_OK)
		r = c->json ? status_json(&s, agents, src) : status_text(&s, agents, src);
	sqlite3_finalize(agents);
	sqlite3_finalize(src);
	return r;
}
