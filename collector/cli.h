/*
 * The prospector CLI's command interface (DESIGN §5): the state every command shares and the
 * handler of each command.
 *
 * cli.c owns the command table, the global options and the help; each cli_<group>.c implements one
 * command, reading the collector's catalog through SQL. A handler parses its own options with
 * cli_parse (cli_util.h), opens the catalog with cli_open and returns the process exit status.
 * Probe and interval (cli_control.c) open the catalog read-write, to queue a command for the
 * collector; enroll and revoke (cli_keys.c) write the enrolled keys through the collector's own
 * catalog code.
 */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERR = 1,   /* a runtime error; the message names the file or object */
	CLI_EXIT_USAGE = 2, /* bad command line */
};

struct cli {
	const char *cmd;     /* the command being run, for messages */
	const char *db_path; /* the catalog file */
	bool json;           /* --json: one JSON document on stdout */
	uint64_t now_ms;     /* one "now" per run, so that every row is judged against the same time */
	sqlite3 *db;         /* NULL until cli_open */
	sqlite3_stmt *ref_stmt;  /* key → name lookup for REFS rendering, prepared on first use */
	sqlite3_stmt *each_stmt; /* json_each over an attrs text, prepared on first use */
};

typedef int (*cli_handler)(struct cli *c, int argc, char **argv);

/* argv[0] is the command name; the handler returns the exit status. */
int cli_status(struct cli *c, int argc, char **argv);
int cli_catalog(struct cli *c, int argc, char **argv);
int cli_show(struct cli *c, int argc, char **argv);
int cli_history(struct cli *c, int argc, char **argv);
int cli_graph(struct cli *c, int argc, char **argv);
/* The two commands that write the catalog: they queue a probe command (cli_control.c). */
int cli_probe(struct cli *c, int argc, char **argv);
int cli_interval(struct cli *c, int argc, char **argv);
/* Key management (cli_keys.c): enroll and revoke write the enrolled keys; keygen writes files. */
int cli_keygen(struct cli *c, int argc, char **argv);
int cli_enroll(struct cli *c, int argc, char **argv);
int cli_agents(struct cli *c, int argc, char **argv);
int cli_revoke(struct cli *c, int argc, char **argv);

/* The DESCRIPTION, OPTIONS and EXAMPLES sections of each command's manual; cli.c adds NAME,
 * SYNOPSIS and EXIT STATUS around them. */
extern const char cli_status_help[];
extern const char cli_catalog_help[];
extern const char cli_show_help[];
extern const char cli_history_help[];
extern const char cli_graph_help[];
extern const char cli_probe_help[];
extern const char cli_interval_help[];
extern const char cli_keygen_help[];
extern const char cli_enroll_help[];
extern const char cli_agents_help[];
extern const char cli_revoke_help[];
