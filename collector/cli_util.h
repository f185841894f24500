/*
 * Helpers shared by the prospector commands: opening the catalog read-only, option parsing from a
 * table, a WHERE-clause builder that binds every user value, aligned text tables that count CJK
 * characters as two columns, a streaming JSON writer, value formatting and the rendering of REFS
 * attributes as names.
 *
 * Everything here reports a failure on stderr itself (naming the catalog file) and returns the exit
 * status for the handler to pass on, so a handler's error paths are one line each.
 */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "cli.h"

#define CLI_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- catalog access ----------------------------------------------------------------------------- */

/* Opens c->db_path read-only (query_only, one read transaction for a consistent view) and checks
 * that it is a catalog this CLI understands. CLI_EXIT_OK or CLI_EXIT_ERR. */
int cli_open(struct cli *c);
void cli_close(struct cli *c);
int cli_prepare(struct cli *c, const char *sql, sqlite3_stmt **ret_st);
/* SQLITE_ROW, SQLITE_DONE, or another code after reporting the error. */
int cli_step(struct cli *c, sqlite3_stmt *st);
/* The exit status after a step loop ended with rc: CLI_EXIT_OK for SQLITE_DONE. */
int cli_step_status(int rc);
/* Reports "prospector: FILE: message" and returns CLI_EXIT_ERR. */
int cli_fail(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports "prospector COMMAND: message" and a hint to the help, returns CLI_EXIT_USAGE. */
int cli_usage(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- options -------------------------------------------------------------------------------------- */

struct cli_opt {
	const char *name; /* long name, without the dashes */
	bool has_arg;
	size_t offset;    /* into the command's option struct: const char * with an argument, bool without */
};

/* Parses argv (argv[0] is the command) against opts, terminated by a NULL name, plus --json; the
 * operands are argv[*ret_first .. argc). CLI_EXIT_OK or CLI_EXIT_USAGE. */
int cli_parse(struct cli *c, int argc, char **argv, const struct cli_opt *opts, void *target, int *ret_first);
/* A positive decimal number for option name. CLI_EXIT_OK or CLI_EXIT_USAGE. */
int cli_parse_count(struct cli *c, const char *name, const char *s, int64_t *ret_n);

/* --- queries -------------------------------------------------------------------------------------- */

/* SQL text made only of constant fragments; user values are recorded and bound when prepared. */
struct cli_query {
	struct buf sql;
	bool where;
	struct cli_bind {
		const char *text; /* borrowed; NULL for an integer */
		int64_t i;
	} binds[32];
	size_t nbinds;
};

void cli_query_init(struct cli_query *q, const char *select);
void cli_query_free(struct cli_query *q);
/* Appends "WHERE frag" or "AND frag"; every '?' in frag is bound to value. */
void cli_query_and_text(struct cli_query *q, const char *frag, const char *value);
void cli_query_and_int(struct cli_query *q, const char *frag, int64_t value);
/* Constant text, like " ORDER BY id"; '?' in it take the integer value. */
void cli_query_add(struct cli_query *q, const char *sql);
void cli_query_add_int(struct cli_query *q, const char *sql, int64_t value);
/* path matches pattern: a glob ('*', '?', '[…]') or a literal path, either one with everything
 * below it (path followed by '.', '#' or '/'). A literal uses the path index. */
void cli_query_and_path(struct cli_query *q, const char *pattern);
int cli_query_prepare(struct cli *c, struct cli_query *q, sqlite3_stmt **ret_st);

/* --- text output ---------------------------------------------------------------------------------- */

/* LC_CTYPE from the environment, or C.UTF-8 when that is not UTF-8: the catalog is UTF-8 always. */
void cli_locale_init(void);
/* Display columns of UTF-8 text (CJK characters count two). */
size_t cli_width(const char *s);

enum cli_align {
	CLI_LEFT,
	CLI_RIGHT,
};

struct cli_col {
	const char *header; /* NULL in the first column: a table without a header line */
	enum cli_align align;
	unsigned max; /* display columns before a cell is cut with "…"; 0 = never */
};

struct cli_table;

struct cli_table *cli_table_new(const struct cli_col *cols, size_t ncols);
void cli_table_free(struct cli_table *t);
/* Appends one cell to the current row; a row is complete after ncols cells. NULL is empty. Control
 * characters are shown escaped so that a comment with a newline cannot break the table. */
void cli_table_cell(struct cli_table *t, const char *s);
void cli_table_cellf(struct cli_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t cli_table_rows(const struct cli_table *t);
/* Header and rows, columns two spaces apart, each line prefixed by indent. */
void cli_table_print(const struct cli_table *t, FILE *f, const char *indent);

/* "12.3 MiB". */
const char *cli_fmt_bytes(int64_t n, char out[32]);
/* "-" for NULL, else RFC 3339 UTC. */
const char *cli_col_time(sqlite3_stmt *st, int i, char out[32]);
/* "-" for NULL, else the value; bytes as "12.3 MiB", milliseconds as "1.2s", seconds as "5m". */
const char *cli_col_bytes(sqlite3_stmt *st, int i, char out[32]);
const char *cli_col_duration(sqlite3_stmt *st, int i, char out[32]);
const char *cli_col_interval(sqlite3_stmt *st, int i, char out[32]);
const char *cli_col_count(sqlite3_stmt *st, int i, char out[32]);
/* The column's text, or "" for NULL. */
const char *cli_col_str(sqlite3_stmt *st, int i);

/* --- JSON output ---------------------------------------------------------------------------------- */

#define CLI_JSON_DEPTH 16

/* Writes to out as it goes, so that a catalog of 200,000 columns never sits in memory twice.
 * key is the member name inside an object and NULL inside an array or at the top. */
struct cli_json {
	struct buf b;
	FILE *out;
	unsigned depth;
	bool comma[CLI_JSON_DEPTH];
	char closer[CLI_JSON_DEPTH];
};

void cli_json_init(struct cli_json *j, FILE *out);
void cli_json_obj(struct cli_json *j, const char *key);
void cli_json_arr(struct cli_json *j, const char *key);
void cli_json_end(struct cli_json *j);
void cli_json_str(struct cli_json *j, const char *key, const char *value); /* NULL gives null */
void cli_json_int(struct cli_json *j, const char *key, int64_t value);
void cli_json_bool(struct cli_json *j, const char *key, bool value);
void cli_json_null(struct cli_json *j, const char *key);
/* Already-encoded JSON. */
void cli_json_raw(struct cli_json *j, const char *key, const char *json);
/* Column i of st, null when NULL: text, integer, RFC 3339 time from unix ms, boolean from 0/1. */
void cli_json_col_str(struct cli_json *j, const char *key, sqlite3_stmt *st, int i);
void cli_json_col_int(struct cli_json *j, const char *key, sqlite3_stmt *st, int i);
void cli_json_col_time(struct cli_json *j, const char *key, sqlite3_stmt *st, int i);
void cli_json_col_bool(struct cli_json *j, const char *key, sqlite3_stmt *st, int i);
/* Closes the document with a newline and flushes. CLI_EXIT_OK or CLI_EXIT_ERR. */
int cli_json_finish(struct cli *c, struct cli_json *j);
typedef void (*cli_json_row_fn)(struct cli *c, struct cli_json *j, sqlite3_stmt *st);
/* The document of a listing command, {"NAME":[…]}: one object per row of st, written by row. */
int cli_json_rows(struct cli *c, sqlite3_stmt *st, const char *name, cli_json_row_fn row);
/* After an error: drops what is still pending, so that as little half a document as possible shows. */
void cli_json_abort(struct cli_json *j);

/* --- objects and their attributes ------------------------------------------------------------------ */

/* Renders a REFS value (keys joined by MODEL_REF_SEP) of an object of source as the agent's diff
 * does: a column by its name, anything else by its path without the source, joined by ","; an
 * unknown key as itself. Allocated. */
char *cli_refs_render(struct cli *c, const char *source, const char *refs);
/* The same as a JSON array of names. */
void cli_json_refs(struct cli *c, struct cli_json *j, const char *key, const char *source, const char *refs);
/* An object's attributes (the JSON text stored in objects.attrs) as a JSON object with REFS rendered. */
void cli_json_attrs(struct cli *c, struct cli_json *j, const char *key, const char *source,
	const char *kind, const char *attrs);
/* The same as "name=value" pairs for text output, leaving out the names in skip (NULL-terminated). */
char *cli_attrs_text(struct cli *c, const char *source, const char *kind, const char *attrs,
	const char *const *skip);
/* The kind's name as model.c spells it, for name in any case; NULL when it is no kind. */
const char *cli_kind_name(const char *name);
/* "database, schema, …": every kind, for messages. Allocated. */
char *cli_kind_names(void);
/* The same as rows of a two-column table (name, value). */
void cli_table_attrs(struct cli *c, struct cli_table *t, const char *source, const char *kind, const char *attrs);
/* A JSON object text as "name=value" pairs, sorted by name; what history shows for ADD and DROP. */
char *cli_json_pairs(struct cli *c, const char *json);
