/*
 * The golden diff driver: `test-diff OLD NEW` loads two fixture files as snapshots of source "src",
 * diffs them and prints every change row in a stable text form that tests/run-golden.sh compares
 * with the case's .out file. An empty OLD file makes every object an ADD.
 */
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "diff.h"
#include "fixture.h"

static struct snapshot *load(const char *path)
{
	struct snapshot *s;
	char err[512];
	int r = fixture_load(path, "src", &s, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "test-diff: %s: cannot read\n", path);
		exit(2);
	}
	if (r > 0 || snapshot_finish(s) != 0) {
		fprintf(stderr, "test-diff: %s\n", r > 0 ? err : s->error);
		exit(2);
	}
	return s;
}

static void print_value(const char *v)
{
	struct buf b;

	buf_init(&b);
	buf_add_json_str(&b, v);
	fputs(b.data, stdout);
	buf_free(&b);
}

static void print_change(const struct change *c)
{
	const struct obj *o = c->new ? c->new : c->old;

	printf("%s %s %s\n", o->key, model_kind(o->kind)->name, c->path);
	for (size_t i = 0; i < c->nrows; i++) {
		const struct change_row *r = &c->rows[i];

		printf("  %s %s %s ", change_op_name(r->op), model_severity_name(r->sev), r->field ? r->field : "-");
		print_value(r->before);
		fputs(" -> ", stdout);
		print_value(r->after);
		fputs(r->heuristic ? " (heuristic)\n" : "\n", stdout);
	}
}

int main(int argc, char **argv)
{
	struct snapshot *old, *new;
	struct diff *d;

	if (argc != 3) {
		fprintf(stderr, "usage: test-diff OLD NEW\n");
		return 2;
	}
	old = load(argv[1]);
	new = load(argv[2]);
	d = diff_snapshots(old, new);
	for (size_t i = 0; i < d->nchanges; i++)
		print_change(&d->changes[i]);
	if (d->nchanges == 0)
		printf("no changes\n");
	diff_free(d);
	snapshot_free(old);
	snapshot_free(new);
	return 0;
}
