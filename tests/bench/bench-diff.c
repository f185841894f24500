/*
 * bench-diff: DESIGN §7's "diff of two 200k-column snapshots ≤ 150 ms", measured in process on
 * synth's crawl (tests/bench/synth.h), no database needed.
 *
 *   bench-diff [--tables 10000] [--columns 20] [--changes 1000] [--runs 5] [--seed 1]
 *
 * Builds the crawl, an identical second crawl and a changed one (--changes edits), then times, each
 * as the median of --runs:
 *   diff_ms            diff_snapshots(old, changed)
 *   diff_unchanged_ms  diff_snapshots(old, identical): what every quiet interval costs the agent
 *   batches_build_ms   wire_batches_emit of the changed diff (built and encoded) at the agent's default batch size
 * Every run checks that the diff found exactly the edits made and the identical crawl nothing; any
 * difference exits 1, so that a tiny run is a smoke test of the diff too. One JSON object on stdout
 * ("columns" counts table columns, tables × --columns; "objects" everything, views included),
 * progress on stderr.
 */
#include <stdio.h>
#include <stdlib.h>

#include "diff.h"
#include "snapshot.h"
#include "synth.h"
#include "wire_batch.h"

/* agent/config.c's default max_batch_bytes; the collector's default allows more, and the agent
 * sends the smaller of the two. */
#define BENCH_AGENT_MAX_BATCH (1024 * 1024)

static const char usage[] =
	"usage: bench-diff [--tables N] [--columns C] [--changes K] [--runs R] [--seed S]\n"
	"  Times diff_snapshots and wire_batches_build on a synthetic PostgreSQL crawl of N tables x C\n"
	"  columns (default 10000 x 20) against a copy with K changes (default 1000) and against an\n"
	"  identical copy; medians of R runs (default 5). Prints one JSON object.\n";

struct crawls {
	struct snapshot *old, *same, *changed;
	struct synth_plan plan;
};

struct figures {
	double diff_ms, unchanged_ms, build_ms;
	size_t batches;
};

static bool crawls_build(const struct synth_spec *spec, size_t nchanges, struct crawls *c)
{
	double t0 = synth_now_ms();

	c->old = synth_snapshot(spec);
	c->same = synth_snapshot(spec);
	c->changed = synth_changed(spec, c->old, nchanges, &c->plan);
	if (!c->changed) {
		fprintf(stderr, "bench-diff: %zu changes do not fit: too few columns that no key, index or view uses\n",
			nchanges);
		return false;
	}
	fprintf(stderr, "bench-diff: built three crawls of %zu objects in %.0f ms\n", c->old->nobjs,
		synth_now_ms() - t0);
	return true;
}

static void crawls_free(struct crawls *c)
{
	snapshot_free(c->old);
	snapshot_free(c->same);
	snapshot_free(c->changed);
	synth_plan_free(&c->plan);
}

static int count_emit(void *ctx, uint64_t seq, int kind, const void *data, size_t len)
{
	(void)ctx, (void)seq, (void)kind, (void)data, (void)len;
	return 0;
}

/* One timed run of each figure, checked. */
static bool run_once(const struct crawls *c, double *diff_ms, double *unchanged_ms, double *build_ms,
		     size_t *ret_batches)
{
	struct wire_source_info info = { .driver = "pg", .interval_s = 300, .crawled_at_ms = 1700000000000ULL };
	double t0 = synth_now_ms();
	struct diff *d = diff_snapshots(c->old, c->changed), *u;
	double t1 = synth_now_ms();
	struct wire_batches_count count;
	char why[256];
	double t2;
	bool ok;

	wire_batches_emit(c->old, c->changed, d, &info, BENCH_AGENT_MAX_BATCH, 1, 1, count_emit, NULL, &count);
	t2 = synth_now_ms();
	ok = synth_plan_check(&c->plan, d, why, sizeof(why));

	u = diff_snapshots(c->old, c->same);
	*unchanged_ms = synth_now_ms() - t2;
	*diff_ms = t1 - t0;
	*build_ms = t2 - t1;
	*ret_batches = count.batches;
	if (!ok)
		fprintf(stderr, "bench-diff: the diff is not what was changed: %s\n", why);
	if (u->nchanges) {
		fprintf(stderr, "bench-diff: the diff of two identical crawls has %zu changes\n", u->nchanges);
		ok = false;
	}
	diff_free(d);
	diff_free(u);
	return ok;
}

static bool measure(const struct crawls *c, size_t runs, struct figures *f)
{
	double *diff = calloc(runs, sizeof(*diff)), *unchanged = calloc(runs, sizeof(*unchanged));
	double *build = calloc(runs, sizeof(*build));
	bool ok = diff && unchanged && build;

	for (size_t i = 0; ok && i < runs; i++) {
		ok = run_once(c, &diff[i], &unchanged[i], &build[i], &f->batches);
		fprintf(stderr, "bench-diff: run %zu: diff %.1f ms, unchanged %.1f ms, batches %.1f ms\n", i + 1,
			diff[i], unchanged[i], build[i]);
	}
	f->diff_ms = synth_median(diff, runs);
	f->unchanged_ms = synth_median(unchanged, runs);
	f->build_ms = synth_median(build, runs);
	free(diff);
	free(unchanged);
	free(build);
	return ok;
}

static void print_json(const struct synth_spec *spec, const struct crawls *c, size_t runs, const struct figures *f)
{
	printf("{\"tables\":%zu,\"columns\":%zu,\"objects\":%zu,\"changes\":%zu,\"comment_changes\":%zu,"
	       "\"type_changes\":%zu,\"added_columns\":%zu,\"dropped_columns\":%zu,\"runs\":%zu,"
	       "\"diff_ms\":%.2f,\"diff_unchanged_ms\":%.2f,\"batches_build_ms\":%.2f,\"batches\":%zu}\n",
	       spec->tables, synth_table_columns(spec), c->old->nobjs, c->plan.n, c->plan.count[SYNTH_COMMENT],
	       c->plan.count[SYNTH_TYPE], c->plan.count[SYNTH_ADD], c->plan.count[SYNTH_DROP], runs, f->diff_ms,
	       f->unchanged_ms, f->build_ms, f->batches);
}

int main(int argc, char **argv)
{
	size_t tables = 10000, columns = 20, changes = 1000, runs = 5, seed = 1;
	const struct synth_opt opts[] = {
		{ "tables", &tables, false }, { "columns", &columns, false }, { "changes", &changes, true },
		{ "runs", &runs, false }, { "seed", &seed, true }, { NULL, NULL, false },
	};
	struct synth_spec spec;
	struct crawls c = { 0 };
	struct figures f = { 0 };
	bool ok;

	if (!synth_args(argc, argv, opts, NULL, usage) || columns < 2) {
		fprintf(stderr, "%s", columns < 2 ? "bench-diff: --columns must be at least 2\n" : "");
		return 2;
	}
	spec = (struct synth_spec){ "bench", tables, columns, tables < 10 ? tables : 10, seed };
	if (!crawls_build(&spec, changes, &c)) {
		crawls_free(&c);
		return 2;
	}
	ok = measure(&c, runs, &f);
	if (ok)
		print_json(&spec, &c, runs, &f);
	crawls_free(&c);
	return ok ? 0 : 1;
}
