#include "outbox.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "timeutil.h"
#include "wire_batch.h"
#include "xmalloc.h"

/* One pass: what the scan found and what the rewrite did. */
struct pass {
	struct state *st;
	struct source *const *sources;
	size_t nsources;
	const struct outbox_bound *bound;
	size_t max_batch;
	int64_t now;
	bool over_age;
	const struct source **compact; /* sources whose unsent changes become a snapshot */
	size_t ncompact, cap;
	struct outbox_upkeep *res;
};

static struct source *pass_source(const struct pass *p, const char *name)
{
	for (size_t i = 0; i < p->nsources; i++)
		if (strcmp(p->sources[i]->conf->name, name) == 0)
			return p->sources[i];
	return NULL;
}

static bool pass_compacts(const struct pass *p, const char *name)
{
	for (size_t i = 0; i < p->ncompact; i++)
		if (strcmp(p->compact[i]->conf->name, name) == 0)
			return true;
	return false;
}

/* A source is a candidate when it has unsent changes, is still configured (its snapshot means
 * something) and has a stored snapshot to send instead. */
static int pass_scan_source(void *ctx, const struct state_source_usage *u)
{
	struct pass *p = ctx;
	struct source *src = pass_source(p, u->source);

	if (u->oldest < p->now - (int64_t)p->bound->max_age_s * 1000)
		p->over_age = true;
	if (!u->has_changes || !src || state_snapshot_time(p->st, u->source) == 0)
		return 0;
	xgrow(&p->compact, &p->cap, p->ncompact + 1, sizeof(*p->compact));
	p->compact[p->ncompact++] = src;
	return 0;
}

static int rewrite_row(void *ctx, const struct state_row *row)
{
	struct pass *p = ctx;
	struct state_outbox_target rw = { p->st, row->source, row->created };
	int n;

	if (pass_compacts(p, row->source))
		return 0;
	n = wire_batch_reseq(row->data, row->len, state_peek_next_seq(p->st), p->max_batch, state_outbox_emit, &rw);
	if (n == -EBADMSG) {
		log_warnx("outbox batch %" PRIu64 " of source %s does not decode; keeping it as it is", row->seq,
			  row->source);
		return state_outbox_emit(&rw, state_peek_next_seq(p->st), row->kind, row->data, row->len);
	}
	if (n > 1)
		p->res->split++;
	return n < 0 ? n : 0;
}

/* The source's stored snapshot, as the batches of a first crawl. */
static int append_snapshot(struct pass *p, const struct source *src)
{
	struct snapshot *snap = NULL;
	struct wire_source_info info = source_wire_info(src, (uint64_t)state_snapshot_time(p->st, src->conf->name));
	struct state_outbox_target target = { .st = p->st, .source = src->conf->name };
	int r = state_load_snapshot(p->st, src->conf->name, NULL, &snap);

	if (r || !snap)
		return r ? r : -EIO;
	r = wire_batches_emit(NULL, snap, NULL, &info, p->max_batch, state_incarnation(p->st),
			      state_peek_next_seq(p->st), state_outbox_emit, &target, NULL);
	snapshot_free(snap);
	return r;
}

static int pass_rewrite(struct pass *p, uint64_t from)
{
	int r = state_outbox_detach(p->st, from);

	if (r == 0)
		r = state_outbox_detached_each(p->st, rewrite_row, p);
	for (size_t i = 0; r == 0 && i < p->ncompact; i++)
		r = append_snapshot(p, p->compact[i]);
	return r;
}

static void pass_report(const struct pass *p, uint64_t before, const struct outbox_bound *bound)
{
	for (size_t i = 0; i < p->ncompact; i++)
		log_warnx("outbox over its bound (%" PRIu64 " bytes, limit %" PRIu64 ", oldest unsent batch %s): the "
			  "unsent changes of source %s were replaced by a full snapshot",
			  before, bound->max_bytes, p->over_age ? "too old" : "within age", p->compact[i]->conf->name);
	if (p->res->split)
		log_info("outbox: split %zu batches larger than the collector's limit of %zu bytes", p->res->split,
			 p->max_batch);
	if (p->ncompact && p->res->bytes > bound->max_bytes)
		log_warnx("outbox still holds %" PRIu64 " bytes, over its bound of %" PRIu64 ": the full snapshots "
			  "themselves are that large; they stay until the collector takes them",
			  p->res->bytes, bound->max_bytes);
}

int outbox_upkeep(struct state *st, struct source *const *sources, size_t nsources, const struct outbox_bound *bound,
		  uint64_t from, size_t max_batch_bytes, struct outbox_upkeep *ret)
{
	struct pass p = {
		.st = st, .sources = sources, .nsources = nsources, .bound = bound, .max_batch = max_batch_bytes,
		.now = (int64_t)time_now_ms(), .res = ret,
	};
	uint64_t batches = 0, before = 0, oversized = 0;
	int r = state_begin(st);

	memset(ret, 0, sizeof(*ret));
	if (r == 0)
		r = state_outbox_depth(st, &batches, &before);
	if (r == 0)
		r = state_outbox_sources(st, from, pass_scan_source, &p);
	if (r == 0 && before <= bound->max_bytes && !p.over_age)
		p.ncompact = 0; /* within its bound: nothing is replaced */
	if (r == 0 && max_batch_bytes)
		r = state_outbox_larger_than(st, from, max_batch_bytes, &oversized);
	if (r == 0 && (p.ncompact || oversized))
		r = pass_rewrite(&p, from);
	if (r == 0 && (p.ncompact || oversized))
		r = state_commit(st);
	else
		state_rollback(st);
	if (r == 0)
		r = state_outbox_depth(st, &batches, &ret->bytes);
	if (r == 0) {
		ret->compacted = p.ncompact;
		pass_report(&p, before, bound);
	}
	free(p.compact);
	return r < 0 ? r : (r ? -EIO : 0);
}
