/*
 * Key management (DESIGN §3.6): keygen writes a CURVE key pair; enroll admits an agent's public
 * key, agents lists the enrolled keys, revoke withdraws every key of an agent. enroll and revoke
 * write the catalog through the collector's own catalog code (so that the table and its rules live
 * in one place) and may run before the collector first started: the catalog is created then, mode
 * 0600. The collector consults the keys on every handshake and, for revocation, on every message.
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "cli_util.h"
#include "keys.h"

const char cli_keygen_help[] =
	"DESCRIPTION\n"
	"       Generates a CURVE key pair and writes BASE.key (both halves, mode 0600) and BASE.pub\n"
	"       (the public half, mode 0644); prints the public key. Existing files are never\n"
	"       overwritten. The collector needs one pair (curve_secret_key in collector.conf); each\n"
	"       agent needs its own (curve_secret_key in agent.conf), and its public key is enrolled\n"
	"       at the collector with 'prospector enroll'. Agents are given the collector's BASE.pub\n"
	"       (collector_public_key).\n"
	"\n"
	"OPTIONS\n"
	"       --comment TEXT\n"
	"              A note written into both files, like the agent's id.\n"
	"       --json\n"
	"              Print {\"public_key\", \"key_file\", \"public_file\"}.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector keygen /etc/prospector/collector\n"
	"       prospector keygen /etc/prospector/agent --comment health-bureau-01\n";

const char cli_enroll_help[] =
	"DESCRIPTION\n"
	"       Admits an agent: connections whose CURVE key is PUBLIC_KEY are the agent AGENT_ID,\n"
	"       whatever their messages claim. PUBLIC_KEY is the key itself (40 characters of Z85) or\n"
	"       the agent's .pub file. A key belongs to one agent; a revoked key is never admitted\n"
	"       again. An agent may hold more than one key while it changes keys. Creates the catalog\n"
	"       when it does not exist yet.\n"
	"\n"
	"OPTIONS\n"
	"       --department D\n"
	"              The department that runs the agent, shown by 'prospector agents'.\n"
	"       --json\n"
	"              Print {\"agent\", \"public_key\", \"department\"}.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector enroll health-bureau-01 /tmp/agent.pub --department 'Health Bureau'\n";

const char cli_agents_help[] =
	"DESCRIPTION\n"
	"       Lists the enrolled keys: the agent, the public key, the department, when it was\n"
	"       enrolled and, for a revoked key, when it was revoked; and when the agent was last\n"
	"       heard from.\n"
	"\n"
	"OPTIONS\n"
	"       --json\n"
	"              Print {\"keys\":[{\"agent\", \"public_key\", \"department\", \"enrolled\", \"revoked\",\n"
	"              \"last_seen\"}]}.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector agents\n";

const char cli_revoke_help[] =
	"DESCRIPTION\n"
	"       Revokes every key of AGENT_ID. The collector refuses the agent's next message, on\n"
	"       connections already open too, and every later handshake. Its catalog objects and\n"
	"       history stay. Exits 1 when the agent has no key that is not revoked already.\n"
	"\n"
	"OPTIONS\n"
	"       --json\n"
	"              Print {\"agent\", \"revoked\": N}.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector revoke health-bureau-01\n";

struct keygen_opts {
	const char *comment;
};

int cli_keygen(struct cli *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "comment", true, offsetof(struct keygen_opts, comment) },
		{ NULL, false, 0 },
	};
	struct keygen_opts o = { 0 };
	struct curve_key k;
	char err[512], key_file[1024], pub_file[1024];
	struct cli_json j;
	int first, r;

	if ((r = cli_parse(c, argc, argv, opts, &o, &first)) != CLI_EXIT_OK)
		return r;
	if (argc - first != 1)
		return cli_usage(c, "expected BASE, the path the key files are named after");
	if (keys_generate(&k) < 0)
		return cli_fail(c, "cannot generate a CURVE key: libzmq lacks CURVE support");
	r = keys_write(argv[first], &k, o.comment, err, sizeof(err));
	keys_wipe(&k);
	if (r < 0) {
		fprintf(stderr, "prospector keygen: %s\n", err);
		return CLI_EXIT_ERR;
	}
	snprintf(key_file, sizeof(key_file), "%s.key", argv[first]);
	snprintf(pub_file, sizeof(pub_file), "%s.pub", argv[first]);
	if (!c->json) {
		printf("wrote %s (secret, 0600) and %s\npublic key: %s\n", key_file, pub_file, k.public_key);
		return CLI_EXIT_OK;
	}
	cli_json_init(&j, stdout);
	cli_json_obj(&j, NULL);
	cli_json_str(&j, "public_key", k.public_key);
	cli_json_str(&j, "key_file", key_file);
	cli_json_str(&j, "public_file", pub_file);
	cli_json_end(&j);
	return cli_json_finish(c, &j);
}

/* The catalog, read-write, created when missing: enrollment comes before the first start. */
static int keys_open(struct cli *c, struct catalog **ret_cat)
{
	char err[600];

	if (catalog_open(c->db_path, ret_cat, err, sizeof(err)) != 0) {
		fprintf(stderr, "prospector %s: %s\n", c->cmd, err);
		return CLI_EXIT_ERR;
	}
	return CLI_EXIT_OK;
}

/* One write in one transaction, and the catalog's message when it fails. */
static int keys_write_catalog(struct cli *c, struct catalog *cat, int r)
{
	if (r == 0 && catalog_commit(cat) == 0)
		return CLI_EXIT_OK;
	fprintf(stderr, "prospector %s: %s: %s\n", c->cmd, c->db_path, catalog_error(cat));
	catalog_rollback(cat);
	return CLI_EXIT_ERR;
}

struct enroll_opts {
	const char *department;
};

int cli_enroll(struct cli *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "department", true, offsetof(struct enroll_opts, department) },
		{ NULL, false, 0 },
	};
	struct enroll_opts o = { 0 };
	char key[KEY_Z85_LEN + 1], err[512];
	struct catalog *cat;
	struct cli_json j;
	int first, r;

	if ((r = cli_parse(c, argc, argv, opts, &o, &first)) != CLI_EXIT_OK)
		return r;
	if (argc - first != 2)
		return cli_usage(c, "expected AGENT_ID and PUBLIC_KEY (the key, or the agent's .pub file)");
	if (keys_load_public(argv[first + 1], key, err, sizeof(err)) != 0)
		return cli_usage(c, "'%s' is neither a public key (40 characters of Z85) nor a key file: %s",
				 argv[first + 1], err);
	if ((r = keys_open(c, &cat)) != CLI_EXIT_OK)
		return r;
	r = catalog_begin(cat);
	r = keys_write_catalog(c, cat, r ? r : catalog_key_enroll(cat, argv[first], key, o.department, c->now_ms));
	catalog_close(cat);
	if (r != CLI_EXIT_OK || !c->json) {
		if (r == CLI_EXIT_OK)
			printf("enrolled agent %s with key %s\n", argv[first], key);
		return r;
	}
	cli_json_init(&j, stdout);
	cli_json_obj(&j, NULL);
	cli_json_str(&j, "agent", argv[first]);
	cli_json_str(&j, "public_key", key);
	cli_json_str(&j, "department", o.department);
	cli_json_end(&j);
	return cli_json_finish(c, &j);
}

int cli_revoke(struct cli *c, int argc, char **argv)
{
	struct catalog *cat;
	struct cli_json j;
	int first, r, count = 0;

	if ((r = cli_parse(c, argc, argv, NULL, NULL, &first)) != CLI_EXIT_OK)
		return r;
	if (argc - first != 1)
		return cli_usage(c, "expected AGENT_ID");
	if ((r = keys_open(c, &cat)) != CLI_EXIT_OK)
		return r;
	r = catalog_begin(cat);
	r = keys_write_catalog(c, cat, r ? r : catalog_key_revoke(cat, argv[first], c->now_ms, &count));
	catalog_close(cat);
	if (r != CLI_EXIT_OK)
		return r;
	if (count == 0) {
		fprintf(stderr, "prospector revoke: agent '%s' has no key to revoke (see 'prospector agents')\n",
			argv[first]);
		return CLI_EXIT_ERR;
	}
	if (!c->json) {
		printf("revoked %d key%s of agent %s\n", count, count == 1 ? "" : "s", argv[first]);
		return CLI_EXIT_OK;
	}
	cli_json_init(&j, stdout);
	cli_json_obj(&j, NULL);
	cli_json_str(&j, "agent", argv[first]);
	cli_json_int(&j, "revoked", count);
	cli_json_end(&j);
	return cli_json_finish(c, &j);
}

enum { K_AGENT, K_KEY, K_DEPARTMENT, K_ENROLLED, K_REVOKED, K_LAST_SEEN };

static const char agents_sql[] =
	"SELECT k.agent_id, k.public_key, k.department, k.enrolled, k.revoked, a.last_seen"
	" FROM agent_keys k LEFT JOIN agents a ON a.id = k.agent_id ORDER BY k.agent_id, k.enrolled";

static void agents_json_row(struct cli *c, struct cli_json *j, sqlite3_stmt *st)
{
	(void)c;
	cli_json_obj(j, NULL);
	cli_json_col_str(j, "agent", st, K_AGENT);
	cli_json_col_str(j, "public_key", st, K_KEY);
	cli_json_col_str(j, "department", st, K_DEPARTMENT);
	cli_json_col_time(j, "enrolled", st, K_ENROLLED);
	cli_json_col_time(j, "revoked", st, K_REVOKED);
	cli_json_col_time(j, "last_seen", st, K_LAST_SEEN);
	cli_json_end(j);
}

static const struct cli_col agents_cols[] = {
	{ "AGENT", CLI_LEFT, 0 },     { "PUBLIC KEY", CLI_LEFT, 0 }, { "DEPARTMENT", CLI_LEFT, 24 },
	{ "ENROLLED", CLI_LEFT, 0 },  { "REVOKED", CLI_LEFT, 0 },    { "LAST SEEN", CLI_LEFT, 0 },
};

static int agents_text(struct cli *c, sqlite3_stmt *st)
{
	struct cli_table *t = cli_table_new(agents_cols, CLI_LEN(agents_cols));
	char b[3][32];
	int rc;

	while ((rc = cli_step(c, st)) == SQLITE_ROW) {
		cli_table_cell(t, cli_col_str(st, K_AGENT));
		cli_table_cell(t, cli_col_str(st, K_KEY));
		cli_table_cell(t, cli_col_str(st, K_DEPARTMENT));
		cli_table_cell(t, cli_col_time(st, K_ENROLLED, b[0]));
		cli_table_cell(t, cli_col_time(st, K_REVOKED, b[1]));
		cli_table_cell(t, cli_col_time(st, K_LAST_SEEN, b[2]));
	}
	if (rc == SQLITE_DONE && cli_table_rows(t) == 0)
		printf("No agent is enrolled. Enroll one with 'prospector enroll AGENT_ID PUBLIC_KEY'.\n");
	else if (rc == SQLITE_DONE)
		cli_table_print(t, stdout, "");
	cli_table_free(t);
	return cli_step_status(rc);
}

int cli_agents(struct cli *c, int argc, char **argv)
{
	sqlite3_stmt *st = NULL;
	int first, r;

	if ((r = cli_parse(c, argc, argv, NULL, NULL, &first)) != CLI_EXIT_OK)
		return r;
	if (first < argc)
		return cli_usage(c, "unexpected argument '%s'", argv[first]);
	if ((r = cli_open(c)) != CLI_EXIT_OK)
		return r;
	if ((r = cli_prepare(c, agents_sql, &st)) != CLI_EXIT_OK)
		return r;
	r = c->json ? cli_json_rows(c, st, "keys", agents_json_row) : agents_text(c, st);
	sqlite3_finalize(st);
	return r;
}
