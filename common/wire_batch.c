#include "wire_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "xmalloc.h"

/* Room left in every batch for its envelope, source name, root hash and info. */
#define BATCH_OVERHEAD 4096

/* What the items of one batch may add up to. */
static size_t batch_item_limit(size_t max_bytes)
{
	return max_bytes > BATCH_OVERHEAD * 2 ? max_bytes - BATCH_OVERHEAD : max_bytes / 2;
}

struct wire_batches {
	Prospector__Batch **batches;
	size_t n, cap;
	size_t items;
	size_t max_bytes;
	size_t cur_bytes; /* packed size of what the last batch holds so far */
	Prospector__SourceInfo info;
	ProtobufCBinaryData root;
	unsigned char root_hash[32];
	uint64_t crawled_at;
	bool mass_drop;
	char *source;
};

static Prospector__Batch *wb_open(struct wire_batches *wb, Prospector__BatchKind kind)
{
	Prospector__Batch *b = xmalloc(sizeof(*b));

	prospector__batch__init(b);
	b->source = wb->source;
	b->kind = kind;
	b->has_crawled_at = true;
	b->crawled_at = wb->crawled_at;
	b->has_mass_drop = b->mass_drop = wb->mass_drop;
	if (wb->n == 0)
		b->info = &wb->info;
	xgrow(&wb->batches, &wb->cap, wb->n + 1, sizeof(*wb->batches));
	wb->batches[wb->n++] = b;
	wb->cur_bytes = 0;
	return b;
}

/* The batch an item of the given size goes into: the current one while it fits, else a new one. */
static Prospector__Batch *wb_batch_for(struct wire_batches *wb, Prospector__BatchKind kind, size_t item)
{
	Prospector__Batch *b = wb->n ? wb->batches[wb->n - 1] : NULL;
	size_t limit = batch_item_limit(wb->max_bytes);

	if (!b || b->kind != kind || (wb->cur_bytes && wb->cur_bytes + item + 8 > limit))
		b = wb_open(wb, kind);
	wb->cur_bytes += item + 8;
	wb->items++;
	return b;
}

static void wb_add_change(struct wire_batches *wb, const struct change *c)
{
	Prospector__Change *pc = wire_change_from_change(c);
	Prospector__Batch *b = wb_batch_for(wb, PROSPECTOR__BATCH_KIND__BATCH_DELTA,
					    prospector__change__get_packed_size(pc));

	b->changes = xreallocarray(b->changes, b->n_changes + 1, sizeof(*b->changes));
	b->changes[b->n_changes++] = pc;
}

static void wb_add_object(struct wire_batches *wb, const struct obj *o)
{
	Prospector__Object *po = wire_object_from_obj(o);
	Prospector__Batch *b = wb_batch_for(wb, PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART,
					    prospector__object__get_packed_size(po));

	b->objects = xreallocarray(b->objects, b->n_objects + 1, sizeof(*b->objects));
	b->objects[b->n_objects++] = po;
}

static void wb_add_obs(struct wire_batches *wb, const struct obj *o)
{
	Prospector__ObsUpdate *u = wire_obs_update_from_obj(o);
	Prospector__Batch *b = wb_batch_for(wb, PROSPECTOR__BATCH_KIND__BATCH_OBS,
					    prospector__obs_update__get_packed_size(u));

	b->obs = xreallocarray(b->obs, b->n_obs + 1, sizeof(*b->obs));
	b->obs[b->n_obs++] = u;
}

/* Observations of objects present in both snapshots with the same schema content. */
static void wb_add_obs_changes(struct wire_batches *wb, const struct snapshot *old, const struct snapshot *new)
{
	for (size_t i = 0; i < new->nobjs; i++) {
		const struct obj *n = new->objs[i], *o = snapshot_find(old, n->key);

		if (o && memcmp(o->hash, n->hash, sizeof(n->hash)) == 0 && !obj_obs_equal(o, n))
			wb_add_obs(wb, n);
	}
}

static struct wire_batches *wb_new(const struct snapshot *new, const struct wire_source_info *info, size_t max_bytes)
{
	struct wire_batches *wb = xcalloc(1, sizeof(*wb));

	wb->max_bytes = max_bytes;
	wb->source = xstrdup(new->source);
	wb->crawled_at = info->crawled_at_ms / 1000;
	wb->mass_drop = info->mass_drop;
	memcpy(wb->root_hash, new->root, sizeof(wb->root_hash));
	wb->root.data = wb->root_hash;
	wb->root.len = sizeof(wb->root_hash);
	prospector__source_info__init(&wb->info);
	wb->info.name = wb->source;
	wb->info.driver = (char *)info->driver;
	wb->info.department = (char *)info->department;
	wb->info.system = (char *)info->system;
	wb->info.has_interval_s = true;
	wb->info.interval_s = info->interval_s;
	wb->info.has_root_hash = true;
	wb->info.root_hash = wb->root;
	return wb;
}

struct wire_batches *wire_batches_build(const struct snapshot *old, const struct snapshot *new,
					const struct diff *d, const struct wire_source_info *info, size_t max_bytes)
{
	struct wire_batches *wb = wb_new(new, info, max_bytes);

	if (!old) {
		for (size_t i = 0; i < new->nobjs; i++)
			wb_add_object(wb, new->objs[i]);
		if (wb->n == 0)
			wb_open(wb, PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART);
		wb->batches[wb->n - 1]->kind = PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END;
	} else {
		for (size_t i = 0; i < d->nchanges; i++)
			wb_add_change(wb, &d->changes[i]);
		wb_add_obs_changes(wb, old, new);
	}
	if (wb->n) {
		wb->batches[wb->n - 1]->has_root_hash = true;
		wb->batches[wb->n - 1]->root_hash = wb->root;
	}
	return wb;
}

size_t wire_batches_count(const struct wire_batches *wb)
{
	return wb->n;
}

size_t wire_batches_items(const struct wire_batches *wb)
{
	return wb->items;
}

int wire_batches_kind(const struct wire_batches *wb, size_t i)
{
	return (int)wb->batches[i]->kind;
}

void wire_batches_encode(const struct wire_batches *wb, size_t i, uint64_t incarnation, uint64_t seq, struct buf *out)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Batch *b = wb->batches[i];

	b->incarnation = incarnation;
	b->seq = seq;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_BATCH;
	env.batch = b;
	wire_encode_envelope(&env, out);
}

static void wb_batch_free(Prospector__Batch *b)
{
	for (size_t i = 0; i < b->n_changes; i++)
		wire_change_free(b->changes[i]);
	for (size_t i = 0; i < b->n_objects; i++)
		wire_object_free(b->objects[i]);
	for (size_t i = 0; i < b->n_obs; i++)
		wire_obs_update_free(b->obs[i]);
	free(b->changes);
	free(b->objects);
	free(b->obs);
	free(b);
}

void wire_batches_free(struct wire_batches *wb)
{
	if (!wb)
		return;
	for (size_t i = 0; i < wb->n; i++)
		wb_batch_free(wb->batches[i]);
	free(wb->batches);
	free(wb->source);
	free(wb);
}

/* --- re-sequencing and splitting stored batches ------------------------------------------------ */

/* A batch's items, whichever list holds them (a batch holds one kind of item). */
struct batch_items {
	void **items;
	size_t *count;
	size_t (*packed_size)(const void *item);
};

static size_t change_size(const void *item)
{
	return prospector__change__get_packed_size(item);
}

static size_t object_size(const void *item)
{
	return prospector__object__get_packed_size(item);
}

static size_t obs_size(const void *item)
{
	return prospector__obs_update__get_packed_size(item);
}

static struct batch_items batch_items_of(Prospector__Batch *b)
{
	if (b->n_objects)
		return (struct batch_items){ (void **)b->objects, &b->n_objects, object_size };
	if (b->n_obs)
		return (struct batch_items){ (void **)b->obs, &b->n_obs, obs_size };
	return (struct batch_items){ (void **)b->changes, &b->n_changes, change_size };
}

/* Items [from, to) of the original as one batch numbered seq; the original's list is lent. */
static int reseq_emit_part(Prospector__Batch *b, struct batch_items *it, size_t from, size_t to, uint64_t seq,
			   wire_batch_emit_fn emit, void *ctx)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Batch part = *b;
	size_t total = *it->count;
	void **items = it->items;
	struct buf out;
	int r;

	part.seq = seq;
	if (from > 0)
		part.info = NULL;
	if (to < total) {
		part.has_root_hash = false;
		if (b->kind == PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END)
			part.kind = PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART;
	}
	/* the same list, narrowed: the struct copy points at the original's array */
	if (it->items == (void **)b->objects) {
		part.objects = (Prospector__Object **)items + from;
		part.n_objects = to - from;
	} else if (it->items == (void **)b->obs) {
		part.obs = (Prospector__ObsUpdate **)items + from;
		part.n_obs = to - from;
	} else {
		part.changes = (Prospector__Change **)items + from;
		part.n_changes = to - from;
	}
	env.body_case = PROSPECTOR__ENVELOPE__BODY_BATCH;
	env.batch = &part;
	buf_init(&out);
	wire_encode_envelope(&env, &out);
	r = emit(ctx, seq, (int)part.kind, out.data, out.len);
	buf_free(&out);
	return r;
}

int wire_batch_reseq(const void *data, size_t len, uint64_t seq, size_t max_bytes, wire_batch_emit_fn emit,
		     void *ctx)
{
	struct wire_msg msg;
	struct batch_items it;
	size_t limit = batch_item_limit(max_bytes), start = 0, bytes = 0;
	int r = wire_decode(data, len, &msg), n = 0;

	if (r || msg.env->body_case != PROSPECTOR__ENVELOPE__BODY_BATCH) {
		wire_msg_clear(&msg);
		return -EBADMSG;
	}
	if (msg.env->batch->seq == seq && (max_bytes == 0 || len <= max_bytes)) {
		r = emit(ctx, seq, (int)msg.env->batch->kind, data, len); /* as it is: no need to encode again */
		wire_msg_clear(&msg);
		return r ? r : 1;
	}
	it = batch_items_of(msg.env->batch);
	for (size_t i = 0; r == 0 && i < *it.count; i++) {
		size_t item = it.packed_size(it.items[i]) + 8;

		if (max_bytes && i > start && bytes + item > limit) {
			r = reseq_emit_part(msg.env->batch, &it, start, i, seq + (uint64_t)n++, emit, ctx);
			start = i;
			bytes = 0;
		}
		bytes += item;
	}
	if (r == 0)
		r = reseq_emit_part(msg.env->batch, &it, start, *it.count, seq + (uint64_t)n++, emit, ctx);
	wire_msg_clear(&msg);
	return r ? r : n;
}
