/*
 * prospector probe / prospector interval: central control of the probes (issue 4).
 *
 * These are the only commands that write the catalog, and they write only the queue the collector
 * reads: one row in the commands table (and, for interval, sources.interval_override). The
 * collector sends the row to the agent that owns the source, marks it sent, and repeats every
 * interval override whenever that agent says HELLO again, so an override outlives restarts of the
 * agent and of the collector. Objects and history stay out of reach: those tables are written by
 * the collector alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_util.h"
#include "conf.h"

#define CONTROL_SCHEMA_VERSION "1"

const char cli_probe_help[] =
	"DESCRIPTION\n"
	"       Asks the agent that owns SOURCE to crawl it now, whatever its interval. The request\n"
	"       is queued in the catalog; the collector sends it to the agent within a second when the\n"
	"       agent is connected, or when it next connects. The crawl's result shows in 'prospector\n"
	"       status' (last end) and its changes in 'prospector history'.\n"
	"\n"
	"       This command and 'interval' open the catalog read-write, to queue the request only.\n"
	"\n"
	"OPTIONS\n"
	"       --json\n"
	"              Print {\"command\":{\"id\", \"source\", \"agent\", \"kind\":\"probe_now\",\n"
	"              \"interval_s\":null, \"created\"}}.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector probe hr\n";

const char cli_interval_help[] =
	"DESCRIPTION\n"
	"       Sets how often the agent that owns SOURCE crawls it, overriding the interval of the\n"
	"       agent's configuration. DURATION is a number with an optional unit s, m, h or d\n"
	"       (\"90s\", \"5m\", \"1h\"); it must be at least one second. The override is kept by the\n"
	"       collector and sent to the agent now (within a second, or when it next connects) and\n"
	"       again whenever the agent reconnects running at another interval, so that it survives\n"
	"       restarts of both. The agent also crawls the source once right away. 'prospector\n"
	"       status' shows the interval the agent reports.\n"
	"\n"
	"OPTIONS\n"
	"       --json\n"
	"              Print {\"command\":{\"id\", \"source\", \"agent\", \"kind\":\"set_interval\",\n"
	"              \"interval_s\", \"created\"}}.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector interval hr 15m\n"
	"       prospector interval crm 2h --json\n";

/* The queued request. interval_s 0: none. */
struct control_req {
	const char *source;
	const char *kind;
	unsigned interval_s;
};

static int control_exec(struct cli *c, const char *sql)
{
	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return cli_fail(c, "cannot write the catalog: %s", sqlite3_errmsg(c->db));
	return CLI_EXIT_OK;
}

/* A single-row query's first column as text into out ("" when no row). */
static int control_value(struct cli *c, const char *sql, const char *arg, char *out, size_t outlen)
{
	sqlite3_stmt *st;
	int rc, r;

	out[0] = '\0';
	if ((r = cli_prepare(c, sql, &st)) != CLI_EXIT_OK)
		return r;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	rc = cli_step(c, st);
	if (rc == SQLITE_ROW)
		snprintf(out, outlen, "%s", cli_col_str(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CLI_EXIT_OK : CLI_EXIT_ERR;
}

/* Read-write, without creating: the catalog is the collector's, and a typo must not make a new one. */
static int control_open(struct cli *c)
{
	struct stat sb;
	char version[32];
	int r;

	if (stat(c->db_path, &sb) < 0)
		return cli_fail(c, "cannot open the catalog: %s", strerror(errno));
	if (sqlite3_open_v2(c->db_path, &c->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return cli_fail(c, "cannot open the catalog: %s", c->db ? sqlite3_errmsg(c->db) : "out of memory");
	sqlite3_busy_timeout(c->db, 5000);
	if ((r = control_value(c, "SELECT value FROM meta WHERE key = 'schema_version'", NULL, version,
			       sizeof(version))) != CLI_EXIT_OK)
		return r;
	if (strcmp(version, CONTROL_SCHEMA_VERSION) != 0)
		return cli_fail(c, "not a Prospector catalog of schema version %s", CONTROL_SCHEMA_VERSION);
	if ((r = control_value(c, "SELECT count(*) FROM pragma_table_info('sources')"
			       " WHERE name = 'interval_override'", NULL, version, sizeof(version))) != CLI_EXIT_OK)
		return r;
	if (strcmp(version, "1") != 0)
		return cli_fail(c, "the catalog has no command queue yet: start the new prospector-collector"
			       " once to upgrade it");
	return CLI_EXIT_OK;
}

static int control_insert(struct cli *c, const struct control_req *req, int64_t *ret_id)
{
	sqlite3_stmt *st;
	int r;

	if ((r = cli_prepare(c, "INSERT INTO commands(source, kind, interval_s, created) VALUES(?1, ?2, ?3, ?4)",
			     &st)) != CLI_EXIT_OK)
		return r;
	sqlite3_bind_text(st, 1, req->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, req->kind, -1, SQLITE_STATIC);
	if (req->interval_s)
		sqlite3_bind_int64(st, 3, req->interval_s);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)c->now_ms);
	r = cli_step_status(cli_step(c, st));
	sqlite3_finalize(st);
	*ret_id = sqlite3_last_insert_rowid(c->db);
	if (r != CLI_EXIT_OK || !req->interval_s)
		return r;
	if ((r = cli_prepare(c, "UPDATE sources SET interval_override = ?2 WHERE name = ?1", &st)) != CLI_EXIT_OK)
		return r;
	sqlite3_bind_text(st, 1, req->source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, req->interval_s);
	r = cli_step_status(cli_step(c, st));
	sqlite3_finalize(st);
	return r;
}

/* One write transaction: the source is checked and the request queued atomically. */
static int control_queue(struct cli *c, const struct control_req *req, char *agent, size_t agentlen,
			 int64_t *ret_id)
{
	int r;

	if ((r = control_exec(c, "BEGIN IMMEDIATE")) != CLI_EXIT_OK)
		return r;
	r = control_value(c, "SELECT agent_id FROM sources WHERE name = ?1", req->source, agent, agentlen);
	if (r == CLI_EXIT_OK && !agent[0])
		r = cli_fail(c, "no source '%s' in the catalog (see 'prospector status')", req->source);
	if (r == CLI_EXIT_OK)
		r = control_insert(c, req, ret_id);
	if (r == CLI_EXIT_OK)
		return control_exec(c, "COMMIT");
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static void control_json_created(struct cli *c, struct cli_json *j, int64_t id)
{
	sqlite3_stmt *st;

	if (cli_prepare(c, "SELECT created FROM commands WHERE id = ?1", &st) != CLI_EXIT_OK)
		return;
	sqlite3_bind_int64(st, 1, id);
	if (cli_step(c, st) == SQLITE_ROW)
		cli_json_col_time(j, "created", st, 0);
	sqlite3_finalize(st);
}

static int control_print(struct cli *c, const struct control_req *req, const char *agent, int64_t id)
{
	struct cli_json j;

	if (!c->json) {
		if (req->interval_s)
			printf("queued: set the interval of source %s to %us (agent %s, command %lld)\n", req->source,
			       req->interval_s, agent, (long long)id);
		else
			printf("queued: probe source %s now (agent %s, command %lld)\n", req->source, agent,
			       (long long)id);
		return CLI_EXIT_OK;
	}
	cli_json_init(&j, stdout);
	cli_json_obj(&j, NULL);
	cli_json_obj(&j, "command");
	cli_json_int(&j, "id", id);
	cli_json_str(&j, "source", req->source);
	cli_json_str(&j, "agent", agent);
	cli_json_str(&j, "kind", req->kind);
	if (req->interval_s)
		cli_json_int(&j, "interval_s", req->interval_s);
	else
		cli_json_null(&j, "interval_s");
	control_json_created(c, &j, id);
	cli_json_end(&j);
	cli_json_end(&j);
	return cli_json_finish(c, &j);
}

static int control_run(struct cli *c, const struct control_req *req)
{
	char agent[256];
	int64_t id = 0;
	int r;

	if ((r = control_open(c)) != CLI_EXIT_OK)
		return r;
	if ((r = control_queue(c, req, agent, sizeof(agent), &id)) != CLI_EXIT_OK)
		return r;
	return control_print(c, req, agent, id);
}

int cli_probe(struct cli *c, int argc, char **argv)
{
	struct control_req req = { .kind = "probe_now" };
	int first, r;

	if ((r = cli_parse(c, argc, argv, NULL, NULL, &first)) != CLI_EXIT_OK)
		return r;
	if (argc - first != 1)
		return cli_usage(c, "expected one SOURCE");
	req.source = argv[first];
	return control_run(c, &req);
}

int cli_interval(struct cli *c, int argc, char **argv)
{
	struct control_req req = { .kind = "set_interval" };
	int first, r;

	if ((r = cli_parse(c, argc, argv, NULL, NULL, &first)) != CLI_EXIT_OK)
		return r;
	if (argc - first != 2)
		return cli_usage(c, "expected SOURCE and DURATION");
	req.source = argv[first];
	if (conf_parse_duration(argv[first + 1], &req.interval_s) != 0 || req.interval_s == 0)
		return cli_usage(c, "'%s' is not a duration of at least one second (like 90s, 5m, 1h)",
				 argv[first + 1]);
	return control_run(c, &req);
}
