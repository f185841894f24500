/*
 * Synthetic crawls for the in-process benchmarks (bench-diff, bench-collector): the finished
 * snapshot the PostgreSQL driver would make of tests/bench/gen.py's schema, built without a server
 * so that the diff and the collector can be measured at DESIGN §7's size (10,000 tables, 200,000
 * columns) on any machine.
 *
 * Tables go round-robin over the schemas; each has id and parent_id, then gen.py's typed columns
 * over and over, a primary key on id, a foreign key on parent_id to the table before it, an index,
 * Chinese comments on the table and on most columns (which ones follow the seed); every 10th table
 * has a view on it. Keys, names and attributes are spelled as agent/driver_pg.c spells them ("r:OID",
 * "a:OID:ATTNUM", "c:OID", "i:OID"). Everything is a function of the spec: the same spec gives the
 * same snapshot, byte for byte.
 *
 * synth_changed derives the next crawl from one: comments and types changed, columns added and
 * dropped, and the plan that says which, so that a benchmark can check that the diff found exactly
 * those. The rest (argument parsing, a clock, medians) is what both benchmark programs share.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diff.h"
#include "snapshot.h"

#define SYNTH_KEY_MAX 48

struct synth_spec {
	const char *source;
	size_t tables;
	size_t columns; /* per table, at least 2 (id and parent_id) */
	size_t schemas;
	uint64_t seed;
};

/* The crawl, finished. */
struct snapshot *synth_snapshot(const struct synth_spec *spec);
/* Column objects the spec makes in tables (not in views). */
size_t synth_table_columns(const struct synth_spec *spec);
/* Objects at or below table t's path (itself, its columns, keys and index). */
size_t synth_table_objects(const struct synth_spec *spec, size_t t);
/* Keys as the driver makes them; attnum counts from 1. */
void synth_table_key(size_t t, char key[SYNTH_KEY_MAX]);
void synth_column_key(size_t t, size_t attnum, char key[SYNTH_KEY_MAX]);
const char *synth_database_key(void);
void synth_schema_key(size_t s, char key[SYNTH_KEY_MAX]);
/* source/database/schema/table, as `prospector history --object` takes it. Allocated. */
char *synth_table_path(const struct synth_spec *spec, size_t t);

enum synth_op {
	SYNTH_COMMENT, /* a column's comment rewritten (or written where it had none) */
	SYNTH_TYPE,    /* a column's type widened to character varying(4000) */
	SYNTH_ADD,     /* a text column added at the end of a table */
	SYNTH_DROP,    /* a column no key, index or view uses, dropped */
	SYNTH_OP_COUNT
};

struct synth_edit {
	char key[SYNTH_KEY_MAX];
	enum synth_op op;
	size_t table, attnum;
};

/* What synth_changed did, sorted by key. */
struct synth_plan {
	struct synth_edit *edits;
	size_t n;
	size_t count[SYNTH_OP_COUNT];
};

/*
 * The next crawl of old (made by synth_snapshot from spec): nchanges edits on distinct columns,
 * one in ten a drop, one in ten an add, two in ten a type change, the rest comment changes. NULL
 * when spec has too few columns for that many. The plan is filled; free it with synth_plan_free.
 */
struct snapshot *synth_changed(const struct synth_spec *spec, const struct snapshot *old, size_t nchanges,
			       struct synth_plan *ret_plan);
void synth_plan_free(struct synth_plan *plan);
/*
 * True when d holds exactly one change per edit of the plan and nothing else: an ADD or a DROP for
 * the added and dropped columns, an ALTER of one row naming the field for the others. Otherwise
 * false, with the first difference in why.
 */
bool synth_plan_check(const struct synth_plan *plan, const struct diff *d, char *why, size_t whylen);

/* --- what both benchmark programs share ----------------------------------------------------------- */

/* A --name N option; values are counts, so they must be positive unless zero_ok. */
struct synth_opt {
	const char *name;
	size_t *value;
	bool zero_ok;
};

/* A --dir style option taking text. */
struct synth_text_opt {
	const char *name;
	const char **value;
};

/* Parses argv against both tables (text may be NULL); false after printing usage to stderr. */
bool synth_args(int argc, char **argv, const struct synth_opt *opts, const struct synth_text_opt *text,
		const char *usage);
/* A monotonic clock in milliseconds, with fractions. */
double synth_now_ms(void);
/* The median of n values; sorts them. */
double synth_median(double *v, size_t n);
