/*
 * prospector: the command-line tool for catalog maintainers and auditors (DESIGN §5).
 *
 *     prospector [--db FILE | -c collector.conf] COMMAND [ARGS] [--json]
 *
 * This file owns the command table, the global options, where the catalog is found and the
 * manuals; each command lives in its own cli_<command>.c. The catalog is opened read-only, so the
 * tool is safe beside a running collector and cannot alter what auditors rely on; probe and
 * interval open it read-write to queue commands for the collector, enroll and revoke to change the
 * enrolled keys; none of them touches the catalog's objects or history.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "conf.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#ifndef PROSPECTOR_VERSION
#define PROSPECTOR_VERSION "unknown"
#endif

#define CLI_DEFAULT_DB "/var/lib/prospector/catalog.db"

struct cli_command {
	const char *name;
	cli_handler run;
	const char *summary;
	const char *usage; /* the synopsis after "prospector [--db FILE | -c FILE] " */
	const char *help;  /* DESCRIPTION, OPTIONS, EXAMPLES */
	bool uses_db;
};

static int cli_help_cmd(struct cli *c, int argc, char **argv);

static const char cli_help_help[] =
	"DESCRIPTION\n"
	"       Prints the manual of COMMAND, or of prospector itself without one. 'prospector COMMAND\n"
	"       --help' prints the same.\n"
	"\n"
	"EXAMPLES\n"
	"       prospector help history\n";

static const struct cli_command cli_commands[] = {
	{ "status", cli_status, "show agents and the probe status of their sources",
		"status [--json]", cli_status_help, true },
	{ "catalog", cli_catalog, "list catalog objects ordered by path",
		"catalog [PATTERN] [--all] [--source S] [--kind K] [--json]", cli_catalog_help, true },
	{ "show", cli_show, "show one object: attributes, columns, constraints, indexes, relations",
		"show OBJECT [--json]", cli_show_help, true },
	{ "history", cli_history, "list recorded schema changes",
		"history [--since T] [--until T] [--source S]\n"
		"                  [--object PATTERN] [--kind K] [--severity S] [--limit N] [--json]",
		cli_history_help, true },
	{ "graph", cli_graph, "print the relationship graph (foreign keys, views, partitions)",
		"graph [--format dot|json] [--source S] [--json]", cli_graph_help, true },
	{ "probe", cli_probe, "ask the agent of a source to crawl it now",
		"probe SOURCE [--json]", cli_probe_help, true },
	{ "interval", cli_interval, "change how often a source is crawled, centrally",
		"interval SOURCE DURATION [--json]", cli_interval_help, true },
	{ "keygen", cli_keygen, "write a new CURVE key pair (collector or agent)",
		"keygen BASE [--comment TEXT] [--json]", cli_keygen_help, false },
	{ "enroll", cli_enroll, "admit an agent's public key", "enroll AGENT_ID PUBLIC_KEY [--department D] [--json]",
		cli_enroll_help, true },
	{ "agents", cli_agents, "list enrolled agent keys", "agents [--json]", cli_agents_help, true },
	{ "revoke", cli_revoke, "revoke every key of an agent", "revoke AGENT_ID [--json]", cli_revoke_help, true },
	{ "help", cli_help_cmd, "print the manual of a command", "help [COMMAND]", cli_help_help, false },
};

#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

static const char cli_main_description[] =
	"DESCRIPTION\n"
	"       prospector queries the catalog that prospector-collector keeps: the agents and their\n"
	"       probes, the living catalog of databases, schemas, tables, views, columns, constraints\n"
	"       and indexes, the relationships between them, and the append-only, hash-chained history\n"
	"       of every schema change. It opens the catalog read-only, so it is safe to run beside a\n"
	"       running collector and it never changes what auditors rely on. Only probe and interval\n"
	"       (the queue of commands the collector sends to agents) and enroll and revoke (the\n"
	"       enrolled agent keys) write.\n"
	"\n"
	"       Object paths are source/database/schema/table, with '.' before a column name and '#'\n"
	"       before a constraint or index name, e.g. hr/hr/public/employees.salary. Times are\n"
	"       printed in RFC 3339 UTC. Text output is an aligned table for people; --json prints one\n"
	"       JSON document for programs.\n";

static const char cli_main_options[] =
	"GLOBAL OPTIONS\n"
	"       --db FILE\n"
	"              The catalog database (sqlite).\n"
	"       -c, --config FILE\n"
	"              Read the catalog's location from the database key of the [collector] section\n"
	"              of the collector's configuration file.\n"
	"       --json\n"
	"              Print one JSON document on standard output instead of a table. May also follow\n"
	"              the command.\n"
	"       -h, --help\n"
	"              Print this manual; after a command, print the command's manual.\n"
	"       --version\n"
	"              Print the version and exit.\n"
	"\n"
	"       Without --db, the catalog is the database of -c's [collector] section, else\n"
	"       $PROSPECTOR_DB, else " CLI_DEFAULT_DB ".\n";

static const char cli_main_trailer[] =
	"ENVIRONMENT\n"
	"       PROSPECTOR_DB\n"
	"              The catalog database when neither --db nor -c names one.\n"
	"       LC_ALL, LC_CTYPE, LANG\n"
	"              Used to measure the display width of text (Chinese characters take two\n"
	"              columns); when they do not name a UTF-8 locale, C.UTF-8 is used.\n"
	"\n"
	"FILES\n"
	"       " CLI_DEFAULT_DB "\n"
	"              The default catalog.\n"
	"\n";

static const char cli_exit_status[] =
	"EXIT STATUS\n"
	"       0      Success.\n"
	"       1      Runtime error: the catalog cannot be opened or read, or an object does not\n"
	"              exist. The message names the file or the object.\n"
	"       2      Usage error: an unknown command or option, or a value that does not parse.\n";

static const char cli_main_examples[] =
	"\n"
	"EXAMPLES\n"
	"       prospector status\n"
	"       prospector -c /etc/prospector/collector.conf catalog 'hr/*/public/*'\n"
	"       prospector show hr/hr/public/employees\n"
	"       prospector history --since -2h --severity breaking\n"
	"       prospector graph --source hr | dot -Tsvg > hr.svg\n"
	"       prospector interval hr 15m\n"
	"       prospector catalog --json | jq -r '.objects[].path'\n";

static const struct cli_command *cli_command_lookup(const char *name)
{
	for (size_t i = 0; i < CLI_NCOMMANDS; i++)
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	return NULL;
}

static void cli_print_main_help(FILE *f)
{
	fprintf(f, "NAME\n       prospector - query the Prospector catalog, its graph and its change history\n\n");
	fprintf(f, "SYNOPSIS\n       prospector [--db FILE | -c FILE] COMMAND [ARGS] [--json]\n"
		   "       prospector help [COMMAND]\n       prospector --version\n\n");
	fprintf(f, "%s\nCOMMANDS\n", cli_main_description);
	for (size_t i = 0; i < CLI_NCOMMANDS; i++)
		fprintf(f, "       %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(f, "\n%s\n%s%s%s", cli_main_options, cli_main_trailer, cli_exit_status, cli_main_examples);
}

static void cli_print_command_help(const struct cli_command *cmd, FILE *f)
{
	fprintf(f, "NAME\n       prospector %s - %s\n\n", cmd->name, cmd->summary);
	fprintf(f, "SYNOPSIS\n       prospector [--db FILE | -c FILE] %s\n\n", cmd->usage);
	fprintf(f, "%s\n%s", cmd->help, cli_exit_status);
}

static int cli_help_cmd(struct cli *c, int argc, char **argv)
{
	const struct cli_command *cmd;
	int first, r;

	if ((r = cli_parse(c, argc, argv, NULL, NULL, &first)) != CLI_EXIT_OK)
		return r;
	if (argc - first > 1)
		return cli_usage(c, "expected at most one COMMAND");
	if (argc - first == 0) {
		cli_print_main_help(stdout);
		return CLI_EXIT_OK;
	}
	if (!(cmd = cli_command_lookup(argv[first])))
		return cli_usage(c, "no command '%s'", argv[first]);
	cli_print_command_help(cmd, stdout);
	return CLI_EXIT_OK;
}

/* --help anywhere before "--" among a command's arguments. */
static bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

struct cli_globals {
	const char *db;
	const char *conf;
	bool help, version;
};

static int cli_parse_globals(struct cli *c, int argc, char **argv, struct cli_globals *g, int *ret_first)
{
	static const struct option lo[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:h", lo, NULL)) != -1) {
		if (ch == 'd')
			g->db = optarg;
		else if (ch == 'c')
			g->conf = optarg;
		else if (ch == 'j')
			c->json = true;
		else if (ch == 'h')
			g->help = true;
		else if (ch == 'V')
			g->version = true;
		else if (ch == ':')
			return cli_usage(c, "option '%s' needs a value", argv[optind - 1]);
		else
			return cli_usage(c, "unknown option '%s'", argv[optind - 1]);
	}
	if (g->db && g->conf)
		return cli_usage(c, "--db and -c both name the catalog; give one");
	*ret_first = optind;
	return CLI_EXIT_OK;
}

static const char *cli_conf_value(const struct conf_section *s, const char *key)
{
	for (size_t i = 0; s && i < s->nentries; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return s->entries[i].value;
	return NULL;
}

/* The database key of the [collector] section, or NULL in *ret_db when the file has none. */
static int cli_conf_db(const char *path, char **ret_db)
{
	struct conf *conf = NULL;
	const char *db;
	int r = conf_load(path, &conf);

	*ret_db = NULL;
	if (r < 0)
		log_warnx("%s: cannot read the configuration: %s", path, strerror(-r));
	else if (r > 0)
		log_warnx("%s", conf->error);
	else if ((db = cli_conf_value(conf_section(conf, "collector"), "database")) && *db)
		*ret_db = xstrdup(db);
	conf_free(conf);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERR;
}

/* --db, else -c's database, else $PROSPECTOR_DB, else the default. *ret_owned is what to free. */
static int cli_db_path(struct cli *c, const struct cli_globals *g, char **ret_owned)
{
	const char *env = getenv("PROSPECTOR_DB");
	int r;

	*ret_owned = NULL;
	if (g->db) {
		c->db_path = g->db;
		return CLI_EXIT_OK;
	}
	if (g->conf && (r = cli_conf_db(g->conf, ret_owned)) != CLI_EXIT_OK)
		return r;
	c->db_path = *ret_owned ? *ret_owned : env && *env ? env : CLI_DEFAULT_DB;
	return CLI_EXIT_OK;
}

static int cli_run(struct cli *c, const struct cli_globals *g, int argc, char **argv)
{
	const struct cli_command *cmd = cli_command_lookup(argv[0]);
	char *owned = NULL;
	int r;

	if (!cmd)
		return cli_usage(c, "no command '%s'", argv[0]);
	c->cmd = cmd->name;
	if (cli_wants_help(argc, argv)) {
		cli_print_command_help(cmd, stdout);
		return CLI_EXIT_OK;
	}
	if (cmd->uses_db && (r = cli_db_path(c, g, &owned)) != CLI_EXIT_OK)
		return r;
	r = cmd->run(c, argc, argv);
	cli_close(c);
	free(owned);
	return r;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	struct cli_globals g = { 0 };
	int first = argc, r;

	log_init("prospector", true, false);
	cli_locale_init();
	c.now_ms = time_now_ms();
	if ((r = cli_parse_globals(&c, argc, argv, &g, &first)) != CLI_EXIT_OK)
		return r;
	if (g.version) {
		printf("prospector %s\n", PROSPECTOR_VERSION);
		return CLI_EXIT_OK;
	}
	if (g.help) {
		cli_print_main_help(stdout);
		return CLI_EXIT_OK;
	}
	if (first >= argc)
		return cli_usage(&c, "no COMMAND given (one of status, catalog, show, history, graph, probe, interval, help)");
	r = cli_run(&c, &g, argc - first, argv + first);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn("error writing standard output");
		return CLI_EXIT_ERR;
	}
	return r;
}
