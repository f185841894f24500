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

/*
 * The batch being filled. A batch goes out (encoded, numbered, handed to emit and freed) as soon as
 * the next item does not fit, so one batch at a time is held: built all at once, the batches of a
 * first crawl of 10,000 tables were a second copy of the snapshot, some 200 MB.
 */
struct wire_batcher {
	Prospector__Batch *cur;
	size_t cur_bytes; /* packed size of what cur holds so far */
	size_t max_bytes;
	uint64_t incarnation, seq; /* seq: the number the next batch gets */
	wire_batch_emit_fn emit;
	void *ctx;
	int err;                   /* emit's first error; nothing is emitted after it */
	struct wire_batches_count *count;
	Prospector__SourceInfo info;
	ProtobufCBinaryData root;
	unsigned char root_hash[32];
	uint64_t crawled_at;
	bool mass_drop;
	const char *source;
	struct buf path;    /* where a leaf's path is joined (obj_path) */
	struct buf item;    /* the object being added, encoded (pb_object) */
	struct buf objects; /* the current snapshot batch's objects, encoded as its field 6 */
};

/*
 * A first crawl's batches hold every object of the snapshot (245,000 for 10,000 tables). They are
 * encoded here straight from the snapshot, field by field in the order protobuf-c packs them, so
 * that the bytes are those prospector__envelope__pack gives (tests/test-wire compares them). Through
 * protobuf-c, each object was first made a message and then walked three times (its size, the
 * batch's size, the packing): 150 of the 180-270 ms it took to store them.
 */
enum { PB_VARINT = 0, PB_LEN = 2 };

static void pb_tag(struct buf *b, unsigned field, unsigned type)
{
	buf_add_varint(b, (uint64_t)field << 3 | type);
}

static void pb_uint(struct buf *b, unsigned field, uint64_t v)
{
	pb_tag(b, field, PB_VARINT);
	buf_add_varint(b, v);
}

static void pb_bytes(struct buf *b, unsigned field, const void *data, size_t len)
{
	pb_tag(b, field, PB_LEN);
	buf_add_varint(b, len);
	buf_add(b, data, len);
}

/* protobuf-c packs a NULL required string as an empty one. */
static void pb_str(struct buf *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s ? s : "", s ? strlen(s) : 0);
}

static size_t pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >>= 7)
		n++;
	return n;
}

static void pb_attrs(struct buf *b, unsigned field, const struct obj *o, obj_attr_fn at, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct attr a = at(o, i);
		size_t nl = strlen(a.name), vl = a.value ? strlen(a.value) : 0;

		pb_tag(b, field, PB_LEN);
		buf_add_varint(b, 2 + pb_varint_len(nl) + nl + pb_varint_len(vl) + vl);
		pb_bytes(b, 1, a.name, nl);
		pb_bytes(b, 2, a.value ? a.value : "", vl);
	}
}

/* An Object message (prospector.proto), without its own tag and length. */
static void pb_object(struct buf *b, const struct obj *o, struct buf *tmp)
{
	buf_reset(b);
	pb_uint(b, 1, o->kind);
	pb_str(b, 2, o->key);
	if (o->parent)
		pb_str(b, 3, o->parent);
	pb_str(b, 4, o->name);
	pb_str(b, 5, obj_path(o, tmp));
	pb_attrs(b, 6, o, obj_attr, o->nattrs);
	pb_attrs(b, 7, o, obj_ob, o->nobs);
	pb_bytes(b, 8, o->hash, sizeof(o->hash));
}

/* The Batch fields that come after its objects. */
static void pb_batch_tail(struct buf *b, const Prospector__Batch *batch)
{
	if (batch->has_root_hash)
		pb_bytes(b, 8, batch->root_hash.data, batch->root_hash.len);
	if (batch->has_crawled_at)
		pb_uint(b, 9, batch->crawled_at);
	if (batch->info) {
		size_t n = prospector__source_info__get_packed_size(batch->info);

		pb_tag(b, 10, PB_LEN);
		buf_add_varint(b, n);
		b->len += prospector__source_info__pack(batch->info, (uint8_t *)buf_room(b, n));
		b->data[b->len] = '\0';
	}
	if (batch->has_mass_drop)
		pb_uint(b, 11, batch->mass_drop);
}

/* The Envelope of a snapshot batch whose objects are already encoded. */
static void pb_snapshot_envelope(struct buf *out, const Prospector__Batch *batch, const struct buf *objects)
{
	struct buf head, tail;

	buf_init(&head);
	buf_init(&tail);
	pb_uint(&head, 1, batch->incarnation);
	pb_uint(&head, 2, batch->seq);
	pb_str(&head, 3, batch->source);
	pb_uint(&head, 4, (uint64_t)batch->kind);
	pb_batch_tail(&tail, batch);
	pb_uint(out, 1, WIRE_PROTOCOL);
	pb_tag(out, 5, PB_LEN);
	buf_add_varint(out, head.len + objects->len + tail.len);
	buf_add(out, head.data, head.len);
	buf_add(out, objects->data, objects->len);
	buf_add(out, tail.data, tail.len);
	buf_free(&head);
	buf_free(&tail);
}

static void wb_batch_free(Prospector__Batch *b)
{
	for (size_t i = 0; i < b->n_changes; i++)
		wire_change_free(b->changes[i]);
	for (size_t i = 0; i < b->n_obs; i++)
		wire_obs_update_free(b->obs[i]);
	free(b->changes);
	free(b->objects);
	free(b->obs);
	free(b);
}

/* Encodes, numbers and emits the current batch; last gives it the root hash (and ends a snapshot). */
static void wb_flush(struct wire_batcher *wb, bool last)
{
	Prospector__Envelope env = PROSPECTOR__ENVELOPE__INIT;
	Prospector__Batch *b = wb->cur;
	struct buf out;

	if (!b)
		return;
	if (last) {
		if (b->kind == PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART)
			b->kind = PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_END;
		b->has_root_hash = true;
		b->root_hash = wb->root;
	}
	b->incarnation = wb->incarnation;
	b->seq = wb->seq;
	env.body_case = PROSPECTOR__ENVELOPE__BODY_BATCH;
	env.batch = b;
	buf_init(&out);
	if (b->kind == PROSPECTOR__BATCH_KIND__BATCH_DELTA || b->kind == PROSPECTOR__BATCH_KIND__BATCH_OBS)
		wire_encode_envelope(&env, &out);
	else
		pb_snapshot_envelope(&out, b, &wb->objects);
	buf_reset(&wb->objects);
	if (wb->err == 0)
		wb->err = wb->emit(wb->ctx, wb->seq, (int)b->kind, out.data, out.len);
	buf_free(&out);
	wb->seq++;
	wb->count->batches++;
	wb_batch_free(b);
	wb->cur = NULL;
}

static Prospector__Batch *wb_open(struct wire_batcher *wb, Prospector__BatchKind kind)
{
	Prospector__Batch *b = xmalloc(sizeof(*b));

	wb_flush(wb, false);
	prospector__batch__init(b);
	b->source = (char *)wb->source;
	b->kind = kind;
	b->has_crawled_at = true;
	b->crawled_at = wb->crawled_at;
	b->has_mass_drop = b->mass_drop = wb->mass_drop;
	if (wb->count->batches == 0)
		b->info = &wb->info;
	wb->cur = b;
	wb->cur_bytes = 0;
	return b;
}

/* The batch an item of the given size goes into: the current one while it fits, else a new one. */
static Prospector__Batch *wb_batch_for(struct wire_batcher *wb, Prospector__BatchKind kind, size_t item)
{
	Prospector__Batch *b = wb->cur;
	size_t limit = batch_item_limit(wb->max_bytes);

	if (!b || b->kind != kind || (wb->cur_bytes && wb->cur_bytes + item + 8 > limit))
		b = wb_open(wb, kind);
	wb->cur_bytes += item + 8;
	wb->count->items++;
	return b;
}

static void wb_add_change(struct wire_batcher *wb, const struct change *c)
{
	Prospector__Change *pc = wire_change_from_change(c);
	Prospector__Batch *b = wb_batch_for(wb, PROSPECTOR__BATCH_KIND__BATCH_DELTA,
					    prospector__change__get_packed_size(pc));

	b->changes = xreallocarray(b->changes, b->n_changes + 1, sizeof(*b->changes));
	b->changes[b->n_changes++] = pc;
}

static void wb_add_object(struct wire_batcher *wb, const struct obj *o)
{
	pb_object(&wb->item, o, &wb->path);
	wb_batch_for(wb, PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART, wb->item.len);
	pb_bytes(&wb->objects, 6, wb->item.data, wb->item.len);
}

static void wb_add_obs(struct wire_batcher *wb, const struct obj *o)
{
	Prospector__ObsUpdate *u = wire_obs_update_from_obj(o);
	Prospector__Batch *b = wb_batch_for(wb, PROSPECTOR__BATCH_KIND__BATCH_OBS,
					    prospector__obs_update__get_packed_size(u));

	b->obs = xreallocarray(b->obs, b->n_obs + 1, sizeof(*b->obs));
	b->obs[b->n_obs++] = u;
}

/* Observations of objects present in both snapshots with the same schema content. */
static void wb_add_obs_changes(struct wire_batcher *wb, const struct snapshot *old, const struct snapshot *new)
{
	for (size_t i = 0; i < new->nobjs && wb->err == 0; i++) {
		const struct obj *n = new->objs[i], *o = snapshot_find(old, n->key);

		if (o && memcmp(o->hash, n->hash, sizeof(n->hash)) == 0 && !obj_obs_equal(o, n))
			wb_add_obs(wb, n);
	}
}

static void wb_init(struct wire_batcher *wb, const struct snapshot *new, const struct wire_source_info *info)
{
	wb->source = new->source;
	buf_init(&wb->path);
	buf_init(&wb->item);
	buf_init(&wb->objects);
	wb->crawled_at = info->crawled_at_ms / 1000;
	wb->mass_drop = info->mass_drop;
	memcpy(wb->root_hash, new->root, sizeof(wb->root_hash));
	wb->root.data = wb->root_hash;
	wb->root.len = sizeof(wb->root_hash);
	prospector__source_info__init(&wb->info);
	wb->info.name = (char *)wb->source;
	wb->info.driver = (char *)info->driver;
	wb->info.department = (char *)info->department;
	wb->info.system = (char *)info->system;
	wb->info.has_interval_s = true;
	wb->info.interval_s = info->interval_s;
	wb->info.has_root_hash = true;
	wb->info.root_hash = wb->root;
}

int wire_batches_emit(const struct snapshot *old, const struct snapshot *new, const struct diff *d,
		      const struct wire_source_info *info, size_t max_bytes, uint64_t incarnation, uint64_t seq,
		      wire_batch_emit_fn emit, void *ctx, struct wire_batches_count *ret_count)
{
	struct wire_batches_count count = { 0 };
	struct wire_batcher wb = {
		.max_bytes = max_bytes, .incarnation = incarnation, .seq = seq, .emit = emit, .ctx = ctx, .count = &count,
	};

	wb_init(&wb, new, info);
	if (!old) {
		for (size_t i = 0; i < new->nobjs && wb.err == 0; i++)
			wb_add_object(&wb, new->objs[i]);
		if (wb.count->batches == 0 && !wb.cur)
			wb_open(&wb, PROSPECTOR__BATCH_KIND__BATCH_SNAPSHOT_PART);
	} else {
		for (size_t i = 0; i < d->nchanges && wb.err == 0; i++)
			wb_add_change(&wb, &d->changes[i]);
		wb_add_obs_changes(&wb, old, new);
	}
	wb_flush(&wb, true);
	buf_free(&wb.path);
	buf_free(&wb.item);
	buf_free(&wb.objects);
	if (ret_count)
		*ret_count = count;
	return wb.err;
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
