/*
 * The diff engine: two finished snapshots of one source in, the list of changes out.
 *
 * Both snapshots are sorted by key, so the diff is a merge walk. Objects present only in the new
 * snapshot are ADDs, only in the old one DROPs, in both with a different content hash ALTERs, whose
 * rows say field by field what changed; a changed name is a RENAME row. Severity follows the kind
 * table in model.c and the type rules in diff.c (DESIGN §2). Observations never produce changes.
 *
 * Changes borrow objects from the two snapshots, which must outlive the diff.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "model.h"
#include "snapshot.h"

enum change_op {
	CHANGE_ADD,
	CHANGE_DROP,
	CHANGE_ALTER,
	CHANGE_RENAME, /* only in rows */
};

struct change_row {
	enum change_op op;
	char *field;  /* NULL for ADD and DROP rows */
	char *before; /* NULL: absent */
	char *after;
	enum severity sev;
	bool heuristic;
};

struct change {
	enum change_op op;
	const struct obj *old; /* NULL for ADD */
	const struct obj *new; /* NULL for DROP */
	char *path;            /* the object's, new or dropped ("" if it has none): what changes are sorted by */
	struct change_row *rows;
	size_t nrows, rows_cap;
};

struct diff {
	struct change *changes; /* in path order: a parent right before its children */
	size_t nchanges, cap;
};

struct diff *diff_new(void);
void diff_free(struct diff *d);
/* old may be NULL (everything is ADDed). */
struct diff *diff_snapshots(const struct snapshot *old, const struct snapshot *new);
/* The object's attributes as a JSON object, REFS rendered with snap; what ADD and DROP rows carry. */
char *diff_obj_summary(const struct obj *o, const struct snapshot *snap);
const char *change_op_name(enum change_op op);
int change_op_lookup(const char *name);
