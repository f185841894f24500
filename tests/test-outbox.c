/*
 * The outbox's unsent end: stored batches re-sequenced and split below the collector's limit
 * (wire_batch_reseq), and an outbox over its bound whose unsent changes become a snapshot
 * (outbox_upkeep), always as a gapless run of sequence numbers that decodes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "diff.h"
#include "log.h"
#include "outbox.h"
#include "snapshot.h"
#include "state.h"
#include "tap.h"
#include "wire.h"
#include "wire_batch.h"
#include "xmalloc.h"

#define NTABLES 40
#define NCOLS 25

/* NTABLES tables of NCOLS columns with long Chinese comments; `gen` changes every comment. */
static struct snapshot *make_snapshot(int gen)
{
	struct snapshot *s = snapshot_new("hr");
	struct obj *o = obj_new(OBJ_DATABASE, "d:1", NULL, "hr");
	char key[64], name[64], comment[256];

	snapshot_add(s, &o);
	o = obj_new(OBJ_SCHEMA, "n:1", "d:1", "public");
	snapshot_add(s, &o);
	for (int t = 0; t < NTABLES; t++) {
		snprintf(key, sizeof(key), "r:%d", 100 + t);
		snprintf(name, sizeof(name), "t%03d", t);
		o = obj_new(OBJ_TABLE, key, "n:1", name);
		snapshot_add(s, &o);
		for (int c = 0; c < NCOLS; c++) {
			char ckey[64];

			snprintf(ckey, sizeof(ckey), "a:%d:%d", 100 + t, c + 1);
			snprintf(name, sizeof(name), "c%02d", c);
			snprintf(comment, sizeof(comment), "第%d代：人口基础信息库的字段说明，编号%d-%d", gen, t, c);
			o = obj_new(OBJ_COLUMN, ckey, key, name);
			obj_set(o, "type", "character varying(200)");
			obj_set(o, "comment", comment);
			snapshot_add(s, &o);
		}
	}
	if (snapshot_finish(s) != 0)
		abort();
	return s;
}

/* --- wire_batch_reseq ----------------------------------------------------------------------- */

struct emitted {
	struct buf msgs[256];
	uint64_t seqs[256];
	int kinds[256];
	size_t n;
};

static int collect(void *ctx, uint64_t seq, int kind, const void *data, size_t len)
{
	struct emitted *e = ctx;

	if (e->n == 256)
		return -ENOSPC;
	buf_init(&e->msgs[e->n]);
	buf_add(&e->msgs[e->n], data, len);
	e->seqs[e->n] = seq;
	e->kinds[e->n++] = kind;
	return 0;
}

static void emitted_free(struct emitted *e)
{
	for (size_t i = 0; i < e->n; i++)
		buf_free(&e->msgs[i]);
	e->n = 0;
}


/* Checks the parts of a split: sizes, numbering, info first, root last, kinds; returns the keys of
 * their items in order, joined by spaces. */
static char *check_parts(const struct emitted *e, uint64_t seq, size_t max, Prospector__BatchKind last_kind,
			 const char *what)
{
	struct buf keys;
	bool sizes = true, numbers = true, info = true, roots = true, kinds = true, decoded = true;

	buf_init(&keys);
	for (size_t i = 0; i < e->n; i++) {
		struct wire_msg msg;
		const Prospector__Batch *b;
		bool last = i + 1 == e->n;

		sizes &= e->msgs[i].len <= max;
		if (wire_decode(e->msgs[i].data, e->msgs[i].len, &msg) != 0) {
			decoded = false;
			continue;
		}
		b = msg.env->batch;
		numbers &= b->seq == seq + i && e->seqs[i] == seq + i && b->incarnation == 77;
		info &= (i == 0) == (b->info != NULL);
		roots &= last == (bool)b->has_root_hash;
		kinds &= (int)b->kind == e->kinds[i] &&
			 b->kind == (last ? last_kind
					  : (last_kind == PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END
						     ? PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART
						     : last_kind));
		for (size_t j = 0; j < b->n_objects; j++)
			buf_addf(&keys, "%s ", b->objects[j]->key);
		for (size_t j = 0; j < b->n_changes; j++)
			buf_addf(&keys, "%s ", b->changes[j]->key);
		wire_msg_clear(&msg);
	}
	ok(decoded, "%s: every part decodes", what);
	ok(sizes, "%s: every part within %zu bytes", what, max);
	ok(numbers, "%s: parts numbered %llu on", what, (unsigned long long)seq);
	ok(info, "%s: only the first part carries the source info", what);
	ok(roots, "%s: only the last part carries the root hash", what);
	ok(kinds, "%s: part kinds", what);
	return buf_steal(&keys);
}

static char *keys_of(const struct snapshot *s)
{
	struct buf keys;

	buf_init(&keys);
	for (size_t i = 0; i < s->nobjs; i++)
		buf_addf(&keys, "%s ", s->objs[i]->key);
	return buf_steal(&keys);
}

static void test_reseq_snapshot(const struct snapshot *s)
{
	struct wire_source_info info = { .driver = "pg", .interval_s = 60, .crawled_at_ms = 1700000000000ULL };
	struct emitted one = { 0 }, parts = { 0 };
	char *want = keys_of(s), *got;

	wire_batches_emit(NULL, s, NULL, &info, 16u << 20, 77, 5, collect, &one, NULL);
	is_int(one.n, 1, "a snapshot built for a 16 MiB limit is one batch");
	ok(one.msgs[0].len > 150 * 1024, "of more than 150 KiB (%zu bytes)", one.msgs[0].len);

	is_int(wire_batch_reseq(one.msgs[0].data, one.msgs[0].len, 5, 0, collect, &parts), 1,
	       "the same number and no limit: one batch");
	ok(parts.n == 1 && parts.msgs[0].len == one.msgs[0].len &&
		   memcmp(parts.msgs[0].data, one.msgs[0].data, one.msgs[0].len) == 0,
	   "passed on byte for byte");
	emitted_free(&parts);

	ok(wire_batch_reseq(one.msgs[0].data, one.msgs[0].len, 9, 64 * 1024, collect, &parts) > 3,
	   "split below 64 KiB: several batches (%zu)", parts.n);
	got = check_parts(&parts, 9, 64 * 1024, PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END, "snapshot split");
	is_str(got, want, "the parts hold every object once, in order");
	free(got);
	emitted_free(&parts);

	is_int(wire_batch_reseq("\x08\x01\x2a\xff", 4, 1, 0, collect, &parts), -EBADMSG, "garbage is not a batch");
	is_int(parts.n, 0, "and nothing is emitted");
	free(want);
	emitted_free(&one);
}

static void test_reseq_delta(const struct snapshot *old, const struct snapshot *new)
{
	struct wire_source_info info = { .driver = "pg", .interval_s = 60 };
	struct diff *d = diff_snapshots(old, new);
	struct emitted one = { 0 }, parts = { 0 };
	struct buf want;
	char *got;

	buf_init(&want);
	for (size_t i = 0; i < d->nchanges; i++)
		buf_addf(&want, "%s ", (d->changes[i].new ? d->changes[i].new : d->changes[i].old)->key);
	wire_batches_emit(old, new, d, &info, 16u << 20, 77, 3, collect, &one, NULL);
	is_int(one.n, 1, "a delta of %zu changes is one batch", d->nchanges);
	wire_batch_reseq(one.msgs[0].data, one.msgs[0].len, 3, 64 * 1024, collect, &parts);
	ok(parts.n > 1, "split into %zu deltas", parts.n);
	got = check_parts(&parts, 3, 64 * 1024, PROSPECTOR__BATCH_KIND__BATCH_DELTA, "delta split");
	is_str(got, want.data, "the parts hold every change once, in order");
	free(got);
	buf_free(&want);
	emitted_free(&parts);
	emitted_free(&one);
	diff_free(d);
}

/* --- outbox_upkeep -------------------------------------------------------------------------- */

/* Commits the batches that take the stored snapshot of hr to s, as a crawl would. */
static void commit_crawl(struct state *st, const struct snapshot *old, const struct snapshot *s, size_t max)
{
	struct wire_source_info info = { .driver = "fixture", .interval_s = 60 };
	struct diff *d = old ? diff_snapshots(old, s) : NULL;
	struct state_outbox_target target = { .st = st, .source = s->source };

	state_begin(st);
	wire_batches_emit(old, s, d, &info, max, state_incarnation(st), state_peek_next_seq(st), state_outbox_emit,
			  &target, NULL);
	state_put_snapshot(st, s);
	state_commit(st);
	diff_free(d);
}

/* What the outbox holds, checked: contiguous seqs that match the encoded ones. */
struct outbox_view {
	uint64_t first, last, count, bytes;
	size_t objects, changes, ends;
	bool seqs_match, decodes;
	unsigned char last_root[32];
};

static int view_row(void *ctx, uint64_t seq, const void *data, size_t len)
{
	struct outbox_view *v = ctx;
	struct wire_msg msg;

	if (v->count == 0)
		v->first = seq;
	else if (seq != v->last + 1)
		v->seqs_match = false;
	v->last = seq;
	v->count++;
	v->bytes += len;
	if (wire_decode(data, len, &msg) != 0) {
		v->decodes = false;
		return 0;
	}
	v->seqs_match &= msg.env->batch->seq == seq;
	v->objects += msg.env->batch->n_objects;
	v->changes += msg.env->batch->n_changes;
	v->ends += msg.env->batch->kind == PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END;
	if (msg.env->batch->has_root_hash)
		memcpy(v->last_root, msg.env->batch->root_hash.data, 32);
	wire_msg_clear(&msg);
	return 0;
}

static struct outbox_view view(struct state *st)
{
	struct outbox_view v = { .seqs_match = true, .decodes = true };

	state_outbox_each(st, 0, 100000, view_row, &v);
	return v;
}

static void test_upkeep(const char *dir, struct snapshot *const *gens, size_t ngens)
{
	struct source_conf conf = { .name = "hr", .driver = "fixture", .interval = 60 };
	struct source *src = source_new(&conf), *sources[] = { src };
	struct outbox_bound roomy = { 1ULL << 30, 86400 }, tight = { 1, 86400 };
	struct outbox_upkeep res;
	struct outbox_view v, before;
	struct state *st;
	char err[512];

	ok(state_open(dir, &st, err, sizeof(err)) == 0, "state opens: %s", err);
	commit_crawl(st, NULL, gens[0], 1u << 20);
	for (size_t i = 1; i < ngens; i++)
		commit_crawl(st, gens[i - 1], gens[i], 1u << 20);
	before = view(st);
	ok(before.count >= ngens && before.ends == 1 && before.changes > 0, "the outbox holds a snapshot and %zu deltas",
	   ngens - 1);

	ok(outbox_upkeep(st, sources, 1, &roomy, 1, 16u << 20, &res) == 0 && res.compacted == 0 && res.split == 0,
	   "within its bound and the limit: nothing to do");
	v = view(st);
	ok(v.count == before.count && v.bytes == before.bytes, "the outbox is as it was");

	ok(outbox_upkeep(st, sources, 1, &roomy, 1, 64 * 1024, &res) == 0 && res.split > 0,
	   "a 64 KiB limit splits %zu batches", res.split);
	v = view(st);
	ok(v.decodes && v.seqs_match && v.first == 1 && v.count > before.count,
	   "rows numbered from 1 without gaps, each holding its own number (%llu rows)", (unsigned long long)v.count);
	ok(v.objects == gens[0]->nobjs && v.changes == before.changes && v.ends == 1,
	   "every object and change is still there, once");
	ok(memcmp(v.last_root, gens[ngens - 1]->root, 32) == 0, "the last root is the latest crawl's");

	/* rows up to 3 may have reached the collector: they stay; the rest become one snapshot */
	before = v;
	ok(outbox_upkeep(st, sources, 1, &tight, 4, 64 * 1024, &res) == 0 && res.compacted == 1,
	   "over its bound: the source's unsent changes are replaced");
	v = view(st);
	ok(v.decodes && v.seqs_match && v.first == 1, "still numbered from 1 without gaps");
	ok(v.changes == 0 && v.ends == 1,
	   "no deltas left: the first parts of the old snapshot (maybe sent), then one whole new snapshot");
	ok(memcmp(v.last_root, gens[ngens - 1]->root, 32) == 0, "the new snapshot is the stored one");
	ok(v.objects > gens[ngens - 1]->nobjs, "which holds every object (%zu objects in all)", v.objects);

	before = v;
	ok(outbox_upkeep(st, sources, 1, &tight, 4, 64 * 1024, &res) == 0 && res.compacted == 0,
	   "a snapshot is not replaced by itself");
	v = view(st);
	ok(v.count == before.count && v.bytes == before.bytes, "the outbox is as it was");

	ok(outbox_upkeep(st, NULL, 0, &tight, 1, 0, &res) == 0 && res.compacted == 0,
	   "a source no longer configured is left alone");
	state_close(st);
	source_free(src);
}

int main(void)
{
	char dir[] = "/tmp/test-outbox.XXXXXX", cmd[300];
	struct snapshot *gens[3];

	log_init("test-outbox", true, false);
	if (!mkdtemp(dir))
		skip_all("cannot create a temporary directory");
	for (int i = 0; i < 3; i++)
		gens[i] = make_snapshot(i);
	test_reseq_snapshot(gens[0]);
	test_reseq_delta(gens[0], gens[1]);
	test_upkeep(dir, gens, 3);
	for (int i = 0; i < 3; i++)
		snapshot_free(gens[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
	return done_testing();
}
